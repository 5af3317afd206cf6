//! Per-caller rate limits: a token bucket per calling system (`sub`), with a rate
//! and a burst configurable per agency.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

/// Calls a caller may make: `per_second` on average, up to `burst` at once.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: f64,
}

impl RateLimit {
    pub fn new(per_second: f64, burst: f64) -> Result<RateLimit, String> {
        if !(per_second.is_finite() && per_second > 0.0) {
            return Err(format!(
                "a rate must be a positive number of calls per second, not {per_second}"
            ));
        }
        if !(burst.is_finite() && burst >= 1.0) {
            return Err(format!("a burst must be at least 1 call, not {burst}"));
        }
        Ok(RateLimit { per_second, burst })
    }

    /// This limit shared by `replicas` that each admit on their own: each
    /// admits its share, so that together they admit no more than it.
    pub fn share(self, replicas: u32) -> RateLimit {
        let replicas = f64::from(replicas.max(1));
        RateLimit {
            per_second: self.per_second / replicas,
            burst: (self.burst / replicas).max(1.0),
        }
    }

    /// The same limit as GCRA states it, in microseconds: the interval one
    /// call takes up, and how far ahead of now the next call may be booked.
    pub fn gcra(self) -> Gcra {
        let interval = 1e6 / self.per_second;
        Gcra {
            interval: interval.ceil() as i64,
            tolerance: (interval * (self.burst - 1.0)).floor() as i64,
        }
    }
}

/// A rate limit as the generic cell rate algorithm keeps it: per caller,
/// only the time its next call is due (its theoretical arrival time). The
/// shared store runs the same rule (see `store/rate.lua`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gcra {
    pub interval: i64,
    pub tolerance: i64,
}

impl Gcra {
    /// Admits a call at `now` (microseconds) given the caller's due time
    /// (`None`: no call for long), returning the new due time, or the
    /// microseconds to wait.
    pub fn admit(self, due: Option<i64>, now: i64) -> Result<i64, i64> {
        let due = due.unwrap_or(now).max(now);
        let wait = due - self.tolerance - now;
        if wait > 0 {
            return Err(wait);
        }
        Ok(due + self.interval)
    }
}

/// `RATE` or `RATE/BURST` (calls per second; the burst defaults to twice the rate).
impl FromStr for RateLimit {
    type Err = String;

    fn from_str(text: &str) -> Result<RateLimit, String> {
        let number = |part: &str| {
            part.trim()
                .parse::<f64>()
                .map_err(|_| format!("{text:?} is not RATE or RATE/BURST (calls per second)"))
        };
        match text.split_once('/') {
            Some((rate, burst)) => RateLimit::new(number(rate)?, number(burst)?),
            None => {
                let rate = number(text)?;
                RateLimit::new(rate, (rate * 2.0).max(1.0))
            }
        }
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.per_second, self.burst)
    }
}

/// The limit of one agency: `AGENCY=RATE[/BURST]`.
#[derive(Clone, Debug, PartialEq)]
pub struct AgencyRateLimit {
    pub agency: String,
    pub limit: RateLimit,
}

impl FromStr for AgencyRateLimit {
    type Err = String;

    fn from_str(text: &str) -> Result<AgencyRateLimit, String> {
        let (agency, limit) = text
            .split_once('=')
            .ok_or_else(|| format!("{text:?} is not AGENCY=RATE[/BURST]"))?;
        let agency = agency.trim();
        if agency.is_empty() {
            return Err(format!("{text:?} names no agency"));
        }
        Ok(AgencyRateLimit {
            agency: agency.to_owned(),
            limit: limit.parse()?,
        })
    }
}

/// One caller's bucket. Time is passed in, so the rule is a pure function.
#[derive(Clone, Copy, Debug)]
pub struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl Bucket {
    pub fn full(limit: RateLimit, now: Instant) -> Bucket {
        Bucket {
            tokens: limit.burst,
            updated: now,
        }
    }

    /// Takes one call's token, or says how long until one is there.
    pub fn take(&mut self, limit: RateLimit, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * limit.per_second).min(limit.burst);
        self.updated = now.max(self.updated);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - self.tokens) / limit.per_second,
            ))
        }
    }

    /// Whether the bucket has refilled, so forgetting it changes nothing.
    fn is_full(&self, limit: RateLimit, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens + elapsed * limit.per_second >= limit.burst
    }
}

/// Buckets remembered before full ones are forgotten.
const REMEMBERED_CALLERS: usize = 100_000;

/// Every caller's bucket, under the limit of its agency (or the default).
#[derive(Debug)]
pub struct RateLimits {
    default: RateLimit,
    agencies: HashMap<String, RateLimit>,
    buckets: HashMap<String, (Bucket, RateLimit)>,
}

impl RateLimits {
    pub fn new(default: RateLimit, agencies: &[AgencyRateLimit]) -> RateLimits {
        RateLimits {
            default,
            agencies: agencies
                .iter()
                .map(|a| (a.agency.clone(), a.limit))
                .collect(),
            buckets: HashMap::new(),
        }
    }

    /// The same limits, each shared by `replicas` (see [`RateLimit::share`]).
    pub fn shared_by(&self, replicas: u32) -> RateLimits {
        RateLimits {
            default: self.default.share(replicas),
            agencies: self
                .agencies
                .iter()
                .map(|(agency, limit)| (agency.clone(), limit.share(replicas)))
                .collect(),
            buckets: HashMap::new(),
        }
    }

    pub fn limit_of(&self, agency: &str) -> RateLimit {
        self.agencies.get(agency).copied().unwrap_or(self.default)
    }

    /// Admits one call of `subject` (of `agency`), or says how long to wait.
    pub fn admit(&mut self, subject: &str, agency: &str, now: Instant) -> Result<(), Duration> {
        let limit = self.limit_of(agency);
        if let Some((bucket, _)) = self.buckets.get_mut(subject) {
            return bucket.take(limit, now);
        }
        if self.buckets.len() >= REMEMBERED_CALLERS {
            self.buckets
                .retain(|_, (bucket, limit)| !bucket.is_full(*limit, now));
        }
        let mut bucket = Bucket::full(limit, now);
        let admitted = bucket.take(limit, now);
        self.buckets.insert(subject.to_owned(), (bucket, limit));
        admitted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn limit(rate: f64, burst: f64) -> RateLimit {
        RateLimit::new(rate, burst).unwrap()
    }

    #[test]
    fn parses_rates() {
        assert_eq!("10".parse::<RateLimit>(), Ok(limit(10.0, 20.0)));
        assert_eq!("0.5".parse::<RateLimit>(), Ok(limit(0.5, 1.0)));
        assert_eq!("100/5".parse::<RateLimit>(), Ok(limit(100.0, 5.0)));
        assert!("0".parse::<RateLimit>().is_err());
        assert!("fast".parse::<RateLimit>().is_err());
        assert!("10/0".parse::<RateLimit>().is_err());
        assert_eq!(
            "kazyna = 50/10".parse::<AgencyRateLimit>(),
            Ok(AgencyRateLimit {
                agency: "kazyna".into(),
                limit: limit(50.0, 10.0)
            })
        );
        assert!("=5".parse::<AgencyRateLimit>().is_err());
        assert!("kazyna".parse::<AgencyRateLimit>().is_err());
    }

    #[test]
    fn a_burst_then_the_rate() {
        let limit = limit(10.0, 3.0);
        let start = Instant::now();
        let mut bucket = Bucket::full(limit, start);
        for _ in 0..3 {
            assert_eq!(bucket.take(limit, start), Ok(()));
        }
        let wait = bucket.take(limit, start).unwrap_err();
        assert_eq!(wait, Duration::from_millis(100));
        // Half a token later: still refused, and told to wait the other half.
        let later = start + Duration::from_millis(50);
        assert_eq!(bucket.take(limit, later), Err(Duration::from_millis(50)));
        assert_eq!(
            bucket.take(limit, start + Duration::from_millis(100)),
            Ok(())
        );
    }

    #[test]
    fn callers_have_their_own_buckets_and_agencies_their_limits() {
        let agencies = [AgencyRateLimit {
            agency: "statistics".into(),
            limit: limit(1.0, 5.0),
        }];
        let mut limits = RateLimits::new(limit(1.0, 1.0), &agencies);
        let now = Instant::now();
        assert!(limits.admit("budget-office", "finance", now).is_ok());
        assert!(limits.admit("budget-office", "finance", now).is_err());
        // Another caller of the same agency is not affected.
        assert!(limits.admit("treasury", "finance", now).is_ok());
        for _ in 0..5 {
            assert!(limits.admit("census", "statistics", now).is_ok());
        }
        assert!(limits.admit("census", "statistics", now).is_err());
    }

    #[test]
    fn a_limit_is_shared_by_replicas() {
        assert_eq!(limit(30.0, 9.0).share(3), limit(10.0, 3.0));
        assert_eq!(limit(30.0, 2.0).share(3).burst, 1.0);
        assert_eq!(limit(30.0, 9.0).share(0), limit(30.0, 9.0));
    }

    #[test]
    fn gcra_admits_the_burst_then_the_rate() {
        let gcra = limit(10.0, 3.0).gcra();
        assert_eq!(
            gcra,
            Gcra {
                interval: 100_000,
                tolerance: 200_000
            }
        );
        let mut due = None;
        for _ in 0..3 {
            due = Some(gcra.admit(due, 0).unwrap());
        }
        assert_eq!(gcra.admit(due, 0), Err(100_000));
        assert_eq!(gcra.admit(due, 50_000), Err(50_000));
        assert!(gcra.admit(due, 100_000).is_ok());
    }

    proptest! {
        /// GCRA, like the bucket, never admits more than the burst plus what
        /// the rate allowed since the first call.
        #[test]
        fn gcra_never_more_than_burst_plus_rate(
            rate in 1u32..1000,
            burst in 1u32..100,
            gaps in proptest::collection::vec(0i64..20_000, 1..300),
        ) {
            let gcra = limit(f64::from(rate), f64::from(burst)).gcra();
            let (mut now, mut due, mut admitted) = (0i64, None, 0u64);
            for gap in gaps {
                now += gap;
                if let Ok(next) = gcra.admit(due, now) {
                    due = Some(next);
                    admitted += 1;
                }
            }
            let allowed = f64::from(burst) + now as f64 / 1e6 * f64::from(rate);
            prop_assert!(admitted as f64 <= allowed + 1e-9, "{admitted} > {allowed}");
        }

        /// Over any schedule of calls, no more are admitted than the burst plus
        /// what the rate refilled.
        #[test]
        fn never_more_than_burst_plus_rate(
            rate in 1u32..1000,
            burst in 1u32..100,
            gaps in proptest::collection::vec(0u64..20_000, 1..300),
        ) {
            let limit = limit(f64::from(rate), f64::from(burst));
            let start = Instant::now();
            let mut bucket = Bucket::full(limit, start);
            let mut now = start;
            let mut admitted = 0u64;
            for gap in gaps {
                now += Duration::from_micros(gap);
                if bucket.take(limit, now).is_ok() {
                    admitted += 1;
                }
            }
            let elapsed = now.duration_since(start).as_secs_f64();
            let allowed = f64::from(burst) + elapsed * f64::from(rate);
            prop_assert!(admitted as f64 <= allowed + 1e-9, "{admitted} > {allowed}");
        }
    }
}
