//! [`DiscoveryError`]: a discovery call that failed, said with what to do (no rights: which role
//! to ask for; not found: how to list what exists; an answer of another shape).

use crate::arm::ArmError;

/// A failed discovery call.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DiscoveryError {
    /// 403: the credential may not read there (a partial right: the caller reports it and goes on).
    #[error(
        "{op} {scope}: no rights ({code}): {message}; ask for the Reader role there, or pick another subscription (`cutover azure subscriptions`)"
    )]
    Forbidden {
        op: &'static str,
        scope: String,
        code: String,
        message: String,
    },
    /// 404: the subscription, group or resource does not exist for this credential.
    #[error(
        "{op} {scope}: not found ({code}): {message}; check the ID (`cutover azure subscriptions` lists the subscriptions this credential sees)"
    )]
    NotFound {
        op: &'static str,
        scope: String,
        code: String,
        message: String,
    },
    /// The answer is not what the published contract says.
    #[error("{op} {subject}: {message}")]
    Shape {
        op: &'static str,
        subject: String,
        message: String,
    },
    /// Any other ARM failure (network, token, throttled past the retries, 5xx, 400).
    #[error("{0}")]
    Arm(ArmError),
}

impl DiscoveryError {
    /// True for a missing right (the caller shows it as a finding and goes on).
    pub fn is_forbidden(&self) -> bool {
        matches!(self, DiscoveryError::Forbidden { .. })
    }
}
