//! Storage errors, classified for the retry loop and worded for the operator.

use std::time::Duration;

/// What went wrong talking to Blob Storage. Messages never include a SAS or key.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StorageError {
    /// 401/403: wrong key, expired or insufficient SAS, missing RBAC role. Never retried.
    #[error("{target}: access denied (HTTP {status}{}): {hint}", code.as_deref().map(|c| format!(", {c}")).unwrap_or_default())]
    Auth {
        target: String,
        status: u16,
        code: Option<String>,
        hint: String,
    },
    /// The container does not exist.
    #[error(
        "{target}: the container does not exist; create it (az storage container create) or check the URL"
    )]
    ContainerNotFound { target: String },
    /// Timeouts, dropped connections, 408/429/5xx: retried with backoff.
    #[error("{target}: temporary failure ({what}); retrying")]
    Transient {
        target: String,
        what: String,
        retry_after: Option<Duration>,
    },
    /// Any other refusal by the service (4xx that cannot succeed on retry).
    #[error("{target}: refused by the storage service (HTTP {status}{}): {message}", code.as_deref().map(|c| format!(", {c}")).unwrap_or_default())]
    Refused {
        target: String,
        status: u16,
        code: Option<String>,
        message: String,
    },
    /// A local problem: the file could not be read, or data did not verify.
    #[error("{0}")]
    Local(String),
    /// Retries exhausted: the last transient error.
    #[error("{target}: gave up after {attempts} attempts: {last}")]
    GaveUp {
        target: String,
        attempts: u32,
        last: String,
    },
}

impl StorageError {
    pub fn is_transient(&self) -> bool {
        matches!(self, StorageError::Transient { .. })
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            StorageError::Transient { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// The hint shown for an authorization failure.
pub fn auth_hint(code: Option<&str>) -> String {
    match code {
        Some("AuthenticationFailed") => "the signature does not match: check the account key, or that the SAS token was copied whole and has not expired".into(),
        Some("AuthorizationPermissionMismatch") => "the SAS or identity lacks a permission this operation needs (uploading needs write, create and list; an Azure AD identity needs the Storage Blob Data Contributor role)".into(),
        Some("AuthorizationFailure") => "the request is not authorized: the storage firewall may block this address, or the identity lacks a role".into(),
        Some("AuthorizationResourceTypeMismatch") | Some("AuthorizationServiceMismatch") => "the SAS is for another resource type or service: generate a container SAS for the Blob service".into(),
        _ => "check the credential: account key, SAS token (permissions and expiry) or Azure AD role".into(),
    }
}

/// Classifies an HTTP status (with its service error code and Retry-After) into a `StorageError`.
pub fn from_status(
    target: &str,
    status: u16,
    code: Option<String>,
    message: String,
    retry_after: Option<Duration>,
) -> StorageError {
    let target = target.to_string();
    match status {
        401 | 403 => StorageError::Auth {
            hint: auth_hint(code.as_deref()),
            target,
            status,
            code,
        },
        404 if code.as_deref() == Some("ContainerNotFound") => {
            StorageError::ContainerNotFound { target }
        }
        408 | 429 | 500..=599 => StorageError::Transient {
            what: format!(
                "HTTP {status}{}",
                code.map(|c| format!(" {c}")).unwrap_or_default()
            ),
            target,
            retry_after,
        },
        _ => StorageError::Refused {
            target,
            status,
            code,
            message,
        },
    }
}

/// Parses a Retry-After value: seconds, or an HTTP date (then relative to now).
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs.min(600)));
    }
    let fmt = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let at = time::PrimitiveDateTime::parse(v, &fmt).ok()?.assume_utc();
    let d = at - time::OffsetDateTime::now_utc();
    Some(Duration::from_secs_f64(
        d.as_seconds_f64().clamp(0.0, 600.0),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        assert!(matches!(
            from_status(
                "x",
                403,
                Some("AuthenticationFailed".into()),
                String::new(),
                None
            ),
            StorageError::Auth { .. }
        ));
        assert!(
            from_status("x", 503, None, String::new(), Some(Duration::from_secs(2))).is_transient()
        );
        assert_eq!(
            from_status("x", 429, None, String::new(), Some(Duration::from_secs(2))).retry_after(),
            Some(Duration::from_secs(2))
        );
        assert!(matches!(
            from_status(
                "x",
                404,
                Some("ContainerNotFound".into()),
                String::new(),
                None
            ),
            StorageError::ContainerNotFound { .. }
        ));
        assert!(matches!(
            from_status(
                "x",
                400,
                Some("InvalidBlockList".into()),
                String::new(),
                None
            ),
            StorageError::Refused { .. }
        ));
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
