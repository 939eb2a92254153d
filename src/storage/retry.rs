//! Retrying transient storage failures: exponential backoff with full jitter, honouring Retry-After;
//! authorization and other final refusals are returned at once.

use std::future::Future;
use std::time::Duration;

use super::error::StorageError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all (the first try included).
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
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
    loop {
        attempt += 1;
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if e.is_transient() && attempt < policy.max_attempts => {
                let d = policy.delay(attempt, e.retry_after());
                on_retry(attempt, d, &e);
                tokio::time::sleep(d).await;
            }
            Err(e) if e.is_transient() => {
                return Err(StorageError::GaveUp {
                    target: target.to_string(),
                    attempts: attempt,
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
}
