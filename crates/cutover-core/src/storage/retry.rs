//! Retrying transient storage failures: exponential backoff with full jitter, honouring Retry-After;
//! authorization and other final refusals are returned at once. An endpoint that never answered in
//! this run (connection refused, name not found, TLS) gets one quick second try, then its error is
//! returned as it is: a typo in the URL is reported in a second, while an endpoint that worked
//! before is retried through an outage.

use std::future::Future;
use std::time::Duration;

use super::error::StorageError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all (the first try included).
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// Attempts in all when the endpoint never answered in this run (a first contact).
    pub first_contact_attempts: u32,
    /// The wait before the second try of a first contact.
    pub first_contact_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            first_contact_attempts: 2,
            first_contact_delay: Duration::from_millis(300),
        }
    }
}

impl RetryPolicy {
    /// The delay before attempt `attempt + 1` (attempt counts from 1): full jitter over an exponential
    /// ceiling, or the service's Retry-After when it gave one (never less).
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let ceiling = exp.min(self.max_delay);
        let jittered = ceiling.mul_f64(rand::random::<f64>().clamp(0.1, 1.0));
        match retry_after {
            Some(ra) => ra.max(jittered.min(Duration::from_secs(1))),
            None => jittered,
        }
    }
}

/// Runs `op` until it succeeds, fails for good, or attempts run out. `on_retry(attempt, delay, error)`
/// is called before each wait (for progress events and logs).
pub async fn with_retries<T, F, Fut>(
    policy: &RetryPolicy,
    target: &str,
    mut on_retry: impl FnMut(u32, Duration, &StorageError),
    mut op: F,
) -> Result<T, StorageError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StorageError>>,
{
    let mut attempt = 0u32;
    let started = tokio::time::Instant::now();
    loop {
        attempt += 1;
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if e.is_first_contact_failure() => {
                if attempt >= policy.first_contact_attempts.min(policy.max_attempts) {
                    return Err(e);
                }
                let d = policy.first_contact_delay;
                on_retry(attempt, d, &e);
                tokio::time::sleep(d).await;
            }
            Err(e) if e.is_transient() && attempt < policy.max_attempts => {
                let d = policy.delay(attempt, e.retry_after());
                on_retry(attempt, d, &e);
                tokio::time::sleep(d).await;
            }
            Err(e) if e.is_transient() => {
                return Err(StorageError::GaveUp {
                    target: target.to_string(),
                    attempts: attempt,
                    seconds: started.elapsed().as_secs_f64(),
                    last: e.to_string(),
                });
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn transient(ra: Option<Duration>) -> StorageError {
        StorageError::Transient {
            target: "t".into(),
            what: "HTTP 503".into(),
            retry_after: ra,
        }
    }

    #[test]
    fn delays_grow_are_capped_and_honour_retry_after() {
        let p = RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            ..RetryPolicy::default()
        };
        for _ in 0..50 {
            assert!(p.delay(1, None) <= Duration::from_millis(100));
            assert!(p.delay(10, None) <= Duration::from_secs(1));
            assert!(p.delay(1, Some(Duration::from_secs(3))) >= Duration::from_secs(3));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retries_transient_then_succeeds_and_stops_on_auth() {
        let calls = AtomicU32::new(0);
        let p = RetryPolicy::default();
        let mut retries = 0;
        let r = with_retries(
            &p,
            "t",
            |_, _, _| retries += 1,
            || async {
                if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                    Err(transient(None))
                } else {
                    Ok(7)
                }
            },
        )
        .await;
        assert_eq!(r.ok(), Some(7));
        assert_eq!(retries, 2);

        let calls = AtomicU32::new(0);
        let r: Result<(), _> = with_retries(
            &p,
            "t",
            |_, _, _| {},
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(StorageError::Auth {
                    target: "t".into(),
                    status: 403,
                    code: None,
                    hint: String::new(),
                })
            },
        )
        .await;
        assert!(matches!(r, Err(StorageError::Auth { .. })));
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "auth errors are not retried"
        );

        let r: Result<(), _> = with_retries(
            &RetryPolicy {
                max_attempts: 3,
                ..p
            },
            "t",
            |_, _, _| {},
            || async { Err(transient(Some(Duration::from_secs(2)))) },
        )
        .await;
        assert!(matches!(r, Err(StorageError::GaveUp { attempts: 3, .. })));
    }

    fn refused(reached_before: bool) -> StorageError {
        StorageError::Network {
            target: "t".into(),
            endpoint: "127.0.0.1:9".into(),
            cause: crate::storage::error::NetCause::Refused,
            detail: "Connection refused".into(),
            reached_before,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_first_contact_fails_after_one_quick_retry_a_known_endpoint_is_ridden_out() {
        let p = RetryPolicy::default();
        let calls = AtomicU32::new(0);
        let started = tokio::time::Instant::now();
        let r: Result<(), _> = with_retries(
            &p,
            "t",
            |_, _, _| {},
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(refused(false))
            },
        )
        .await;
        assert!(
            matches!(&r, Err(e) if e.is_first_contact_failure()),
            "returned as it is, not as GaveUp: {r:?}"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert!(started.elapsed() < Duration::from_secs(1));

        let calls = AtomicU32::new(0);
        let r: Result<(), _> = with_retries(
            &p,
            "t",
            |_, _, _| {},
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(refused(true))
            },
        )
        .await;
        assert_eq!(calls.load(Ordering::SeqCst), p.max_attempts);
        let text = r.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(text.contains("gave up after 10 attempts over"), "{text}");
        assert!(text.contains("127.0.0.1:9"), "{text}");
    }
}
