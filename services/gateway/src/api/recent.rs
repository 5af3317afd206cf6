//! Recent answers of the aggregated views. Callers asking the same view at the
//! same time share one fan-out to the backends, and a complete answer is reused
//! for a short while (`--view-max-age`): a profile read by many agencies at once
//! costs the backends one set of calls, not one per caller. Answers with a
//! section missing are not reused, so a backend that comes back shows at once.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::future::{BoxFuture, FutureExt, Shared};
use tonic::Status;

type Fetch<T> = Shared<BoxFuture<'static, Result<T, Status>>>;

/// Answers remembered at most (views can be tens of kilobytes each).
const REMEMBERED: usize = 1_000;

pub struct RecentAnswers<T: Clone> {
    max_age: Duration,
    answers: Mutex<HashMap<String, (Instant, Fetch<T>)>>,
}

impl<T: Clone + Send + Sync + 'static> RecentAnswers<T> {
    pub fn new(max_age: Duration) -> RecentAnswers<T> {
        RecentAnswers {
            max_age,
            answers: Mutex::default(),
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
        let shared = {
            let mut answers = match self.answers.lock() {
                Ok(answers) => answers,
                Err(poisoned) => poisoned.into_inner(),
            };
            let reusable = answers.get(&key).filter(|(started, answer)| {
                match answer.peek() {
                    // Being fetched: join it.
                    None => true,
                    Some(Ok(done)) => started.elapsed() < self.max_age && complete(done),
                    Some(Err(_)) => false,
                }
            });
            match reusable {
                Some((_, answer)) => answer.clone(),
                None => {
                    if answers.len() >= REMEMBERED {
                        let max_age = self.max_age;
                        answers.retain(|_, (started, _)| started.elapsed() < max_age);
                        if answers.len() >= REMEMBERED {
                            answers.clear();
                        }
                    }
                    let answer = fetch().boxed().shared();
                    answers.insert(key, (Instant::now(), answer.clone()));
                    answer
                }
            }
        };
        shared.await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

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
        let recent = Arc::new(RecentAnswers::new(Duration::from_secs(60)));
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
        let recent = RecentAnswers::new(Duration::from_secs(60));
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

        let brief = RecentAnswers::new(Duration::from_millis(30));
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

        let off = RecentAnswers::new(Duration::ZERO);
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
}
