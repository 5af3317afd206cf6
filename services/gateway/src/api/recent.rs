//! Recent answers of the aggregated views. Callers asking the same view at the
//! same time share one fetch from the backends, and a complete answer is reused
//! for a short while (`--view-max-age`): a profile read by many agencies at once
//! costs the backends one set of calls, not one per caller. Answers with a
//! section missing are not reused, so a backend that comes back shows at once.
//! The answers kept are bounded in number and in bytes (the oldest go first),
//! and a write through the gateway drops the answers it may have changed.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures::future::{BoxFuture, FutureExt, Shared};
use tonic::Status;

type Fetch<T> = Shared<BoxFuture<'static, Result<T, Status>>>;

/// How much the answers kept may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub entries: usize,
    pub bytes: usize,
}

struct Entry<T> {
    started: Instant,
    answer: Fetch<T>,
    /// The answer's encoded size, once it is complete and kept.
    bytes: usize,
}

struct Kept<T> {
    entries: HashMap<String, Entry<T>>,
    bytes: usize,
}

impl<T> Kept<T> {
    fn remove(&mut self, key: &str) {
        if let Some(entry) = self.entries.remove(key) {
            self.bytes -= entry.bytes;
        }
    }

    /// Drops old answers, then the oldest, until `bounds` hold with room for
    /// one more entry of `room` bytes.
    fn make_room(&mut self, bounds: Bounds, max_age: Duration, room: usize) {
        let over = |kept: &Kept<T>| {
            kept.entries.len() >= bounds.entries || kept.bytes + room > bounds.bytes
        };
        if over(self) {
            let old: Vec<String> = self
                .entries
                .iter()
                .filter(|(_, e)| e.started.elapsed() >= max_age && e.answer.peek().is_some())
                .map(|(key, _)| key.clone())
                .collect();
            for key in old {
                self.remove(&key);
            }
        }
        while over(self) {
            let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.started)
                .map(|(key, _)| key.clone())
            else {
                return;
            };
            self.remove(&oldest);
        }
    }
}

pub struct RecentAnswers<T: Clone> {
    max_age: Duration,
    bounds: Bounds,
    /// An answer's size in bytes.
    size: fn(&T) -> usize,
    kept: Mutex<Kept<T>>,
}

impl<T: Clone + Send + Sync + 'static> RecentAnswers<T> {
    pub fn new(max_age: Duration, bounds: Bounds, size: fn(&T) -> usize) -> RecentAnswers<T> {
        RecentAnswers {
            max_age,
            bounds,
            size,
            kept: Mutex::new(Kept {
                entries: HashMap::new(),
                bytes: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Kept<T>> {
        match self.kept.lock() {
            Ok(kept) => kept,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// How many answers are kept, and their bytes.
    #[cfg(test)]
    pub fn held(&self) -> (usize, usize) {
        let kept = self.lock();
        (kept.entries.len(), kept.bytes)
    }

    /// Drops every answer whose key `touched` says a write may have changed.
    pub fn forget(&self, touched: impl Fn(&str) -> bool) {
        let mut kept = self.lock();
        let keys: Vec<String> = kept
            .entries
            .keys()
            .filter(|k| touched(k))
            .cloned()
            .collect();
        for key in keys {
            kept.remove(&key);
        }
    }

    /// The answer for `key`: the one being fetched, or a complete one younger
    /// than the maximum age, or else what `fetch` gets now.
    pub async fn get<F>(
        &self,
        key: String,
        complete: impl Fn(&T) -> bool,
        fetch: impl FnOnce() -> F,
    ) -> Result<T, Status>
    where
        F: Future<Output = Result<T, Status>> + Send + 'static,
    {
        if self.max_age.is_zero() {
            return fetch().await;
        }
        let (shared, fetched) = {
            let mut kept = self.lock();
            let reusable = kept.entries.get(&key).filter(|e| match e.answer.peek() {
                // Being fetched: join it.
                None => true,
                Some(Ok(done)) => e.started.elapsed() < self.max_age && complete(done),
                Some(Err(_)) => false,
            });
            match reusable {
                Some(entry) => (entry.answer.clone(), false),
                None => {
                    kept.remove(&key);
                    kept.make_room(self.bounds, self.max_age, 0);
                    let answer = fetch().boxed().shared();
                    let entry = Entry {
                        started: Instant::now(),
                        answer: answer.clone(),
                        bytes: 0,
                    };
                    kept.entries.insert(key.clone(), entry);
                    (answer, true)
                }
            }
        };
        let answer = shared.clone().await;
        if fetched {
            self.weigh(&key, &shared, &answer, &complete);
        }
        answer
    }

    /// Counts a fetched answer's bytes against the bounds, or drops it when
    /// it will not be reused (a refusal, a part missing, too large to keep).
    fn weigh(
        &self,
        key: &str,
        fetch: &Fetch<T>,
        answer: &Result<T, Status>,
        complete: &impl Fn(&T) -> bool,
    ) {
        let mut kept = self.lock();
        if !kept
            .entries
            .get(key)
            .is_some_and(|e| e.answer.ptr_eq(fetch))
        {
            // Forgotten or replaced meanwhile.
            return;
        }
        let bytes = match answer {
            Ok(done) if complete(done) => (self.size)(done),
            _ => {
                kept.remove(key);
                return;
            }
        };
        if bytes > self.bounds.bytes {
            kept.remove(key);
            return;
        }
        kept.remove(key);
        kept.make_room(self.bounds, self.max_age, bytes);
        kept.bytes += bytes;
        kept.entries.insert(
            key.to_owned(),
            Entry {
                started: Instant::now(),
                answer: fetch.clone(),
                bytes,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const ROOMY: Bounds = Bounds {
        entries: 100,
        bytes: 1_000,
    };

    fn one_byte(_: &u32) -> usize {
        1
    }

    fn counting(
        fetches: &Arc<AtomicUsize>,
        answer: Result<u32, Status>,
    ) -> impl FnOnce() -> BoxFuture<'static, Result<u32, Status>> + use<> {
        let fetches = Arc::clone(fetches);
        move || {
            async move {
                fetches.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                answer
            }
            .boxed()
        }
    }

    #[tokio::test]
    async fn callers_at_once_share_one_fetch_and_complete_answers_are_reused() {
        let recent = Arc::new(RecentAnswers::new(Duration::from_secs(60), ROOMY, one_byte));
        let fetches = Arc::new(AtomicUsize::new(0));
        let callers: Vec<_> = (0..10)
            .map(|_| {
                let recent = Arc::clone(&recent);
                let fetch = counting(&fetches, Ok(7));
                tokio::spawn(async move { recent.get("a".into(), |_| true, fetch).await })
            })
            .collect();
        for caller in callers {
            assert_eq!(caller.await.unwrap().unwrap(), 7);
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        let again = recent
            .get("a".into(), |_| true, counting(&fetches, Ok(8)))
            .await;
        assert_eq!(again.unwrap(), 7);
        let other = recent
            .get("b".into(), |_| true, counting(&fetches, Ok(9)))
            .await;
        assert_eq!(other.unwrap(), 9);
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn refusals_incomplete_and_old_answers_are_fetched_again() {
        let fetches = Arc::new(AtomicUsize::new(0));
        let recent = RecentAnswers::new(Duration::from_secs(60), ROOMY, one_byte);
        let refused = recent
            .get(
                "a".into(),
                |_| true,
                counting(&fetches, Err(Status::not_found("x"))),
            )
            .await;
        assert!(refused.is_err());
        assert_eq!(
            recent
                .get("a".into(), |_| true, counting(&fetches, Ok(1)))
                .await
                .unwrap(),
            1
        );
        assert_eq!(fetches.load(Ordering::SeqCst), 2);

        let incomplete = |answer: &u32| *answer != 0;
        recent
            .get("b".into(), incomplete, counting(&fetches, Ok(0)))
            .await
            .unwrap();
        assert_eq!(
            recent
                .get("b".into(), incomplete, counting(&fetches, Ok(5)))
                .await
                .unwrap(),
            5
        );
        assert_eq!(fetches.load(Ordering::SeqCst), 4);

        let brief = RecentAnswers::new(Duration::from_millis(30), ROOMY, one_byte);
        brief
            .get("c".into(), |_| true, counting(&fetches, Ok(1)))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert_eq!(
            brief
                .get("c".into(), |_| true, counting(&fetches, Ok(2)))
                .await
                .unwrap(),
            2
        );

        let off = RecentAnswers::new(Duration::ZERO, ROOMY, one_byte);
        off.get("d".into(), |_| true, counting(&fetches, Ok(1)))
            .await
            .unwrap();
        assert_eq!(
            off.get("d".into(), |_| true, counting(&fetches, Ok(2)))
                .await
                .unwrap(),
            2
        );
    }

    #[tokio::test]
    async fn the_oldest_answers_go_when_entries_or_bytes_run_out() {
        let fetches = Arc::new(AtomicUsize::new(0));
        let bounds = Bounds {
            entries: 3,
            bytes: 25,
        };
        let recent = RecentAnswers::new(Duration::from_secs(60), bounds, |n: &u32| *n as usize);
        for (key, size) in [("a", 5), ("b", 5), ("c", 5), ("d", 5)] {
            recent
                .get(key.into(), |_| true, counting(&fetches, Ok(size)))
                .await
                .unwrap();
        }
        // Three entries at most: "a", the oldest, went.
        assert_eq!(recent.held(), (3, 15));
        recent
            .get("e".into(), |_| true, counting(&fetches, Ok(20)))
            .await
            .unwrap();
        // 20 more bytes fit only with two of the others gone.
        assert_eq!(recent.held(), (2, 25));
        // Too large to keep at all: answered, not kept.
        recent
            .get("f".into(), |_| true, counting(&fetches, Ok(30)))
            .await
            .unwrap();
        assert_eq!(recent.held(), (2, 25));
        let before = fetches.load(Ordering::SeqCst);
        recent
            .get("e".into(), |_| true, counting(&fetches, Ok(0)))
            .await
            .unwrap();
        assert_eq!(fetches.load(Ordering::SeqCst), before, "e is still kept");
    }

    #[tokio::test]
    async fn a_forgotten_answer_is_fetched_again() {
        let fetches = Arc::new(AtomicUsize::new(0));
        let recent = RecentAnswers::new(Duration::from_secs(60), ROOMY, one_byte);
        for key in ["613633100|t", "613633200|t"] {
            recent
                .get(key.into(), |_| true, counting(&fetches, Ok(1)))
                .await
                .unwrap();
        }
        recent.forget(|key| key.starts_with("613633100"));
        assert_eq!(recent.held(), (1, 1));
        let again = recent
            .get("613633100|t".into(), |_| true, counting(&fetches, Ok(2)))
            .await;
        assert_eq!(again.unwrap(), 2);
        let kept = recent
            .get("613633200|t".into(), |_| true, counting(&fetches, Ok(3)))
            .await;
        assert_eq!(kept.unwrap(), 1);
    }
}
