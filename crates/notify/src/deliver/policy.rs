//! The retry policy: exponential backoff with full jitter (the delay
//! before attempt n+1 is uniform in [0, min(max, initial × 2ⁿ⁻¹)], which
//! spreads retries of many deliveries that failed together), a server's
//! `Retry-After` taken as given, and a maximum age after which a delivery
//! is given up as expired.

use std::time::Duration;

use super::send::Outcome;
use super::store::{AttemptRecord, DeliveryStatus};

/// When and how long to retry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// A delivery not sent this long after it was queued expires.
    pub max_age: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
            max_age: Duration::from_secs(24 * 3600),
        }
    }
}

impl RetryPolicy {
    /// The upper bound of the delay after `attempts` failed attempts.
    pub fn backoff_cap(&self, attempts: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(31));
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }

    /// A delay drawn uniformly from [0, cap] (full jitter).
    pub fn backoff(&self, attempts: u32) -> Duration {
        let cap = self.backoff_cap(attempts).as_millis() as u64;
        Duration::from_millis(fastrand::u64(0..=cap))
    }

    /// Whether a delivery created at `created_at_ms` is too old at `now_ms`.
    pub fn is_expired(&self, created_at_ms: i64, now_ms: i64) -> bool {
        now_ms.saturating_sub(created_at_ms) > self.max_age.as_millis() as i64
    }

    /// What to record after attempt number `attempts` ended in `outcome`.
    pub fn decide(
        &self,
        outcome: &Outcome,
        attempts: u32,
        created_at_ms: i64,
        now_ms: i64,
    ) -> AttemptRecord {
        match outcome {
            Outcome::Sent { code } => AttemptRecord {
                status: DeliveryStatus::Sent,
                next_attempt_at_ms: None,
                response_code: *code,
                error: None,
            },
            Outcome::Failed { code, error } => AttemptRecord {
                status: DeliveryStatus::Failed,
                next_attempt_at_ms: None,
                response_code: *code,
                error: Some(error.clone()),
            },
            Outcome::Retry {
                code,
                error,
                retry_after,
            } => {
                let delay = retry_after.unwrap_or_else(|| self.backoff(attempts));
                let next = now_ms.saturating_add(delay.as_millis() as i64);
                if self.is_expired(created_at_ms, next) {
                    AttemptRecord {
                        status: DeliveryStatus::Expired,
                        next_attempt_at_ms: None,
                        response_code: *code,
                        error: Some(format!(
                            "{error}; gave up: the next attempt would be past the maximum age"
                        )),
                    }
                } else {
                    AttemptRecord {
                        status: DeliveryStatus::Pending,
                        next_attempt_at_ms: Some(next),
                        response_code: *code,
                        error: Some(error.clone()),
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_the_cap_with_jitter_below_it() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.backoff_cap(1), Duration::from_secs(1));
        assert_eq!(policy.backoff_cap(2), Duration::from_secs(2));
        assert_eq!(policy.backoff_cap(5), Duration::from_secs(16));
        assert_eq!(policy.backoff_cap(30), Duration::from_secs(300));
        assert_eq!(policy.backoff_cap(u32::MAX), Duration::from_secs(300));
        let draws: Vec<Duration> = (0..200).map(|_| policy.backoff(4)).collect();
        assert!(draws.iter().all(|d| *d <= Duration::from_secs(8)));
        // Full jitter: the draws spread over the range, not one value.
        let low = draws
            .iter()
            .filter(|d| **d < Duration::from_secs(4))
            .count();
        assert!((40..160).contains(&low), "{low} of 200 below half");
    }

    #[test]
    fn decisions() {
        let policy = RetryPolicy::default();
        let retry = Outcome::Retry {
            code: Some(429),
            error: "429".into(),
            retry_after: Some(Duration::from_secs(7)),
        };
        let record = policy.decide(&retry, 1, 0, 1_000);
        assert_eq!(record.status, DeliveryStatus::Pending);
        assert_eq!(record.next_attempt_at_ms, Some(8_000));
        let day = 24 * 3600 * 1000;
        let record = policy.decide(&retry, 9, 0, day - 1_000);
        assert_eq!(record.status, DeliveryStatus::Expired);
        let failed = Outcome::Failed {
            code: Some(400),
            error: "bad".into(),
        };
        assert_eq!(
            policy.decide(&failed, 1, 0, 0).status,
            DeliveryStatus::Failed
        );
        let sent = Outcome::Sent { code: Some(200) };
        assert_eq!(policy.decide(&sent, 3, 0, 0).status, DeliveryStatus::Sent);
    }
}
