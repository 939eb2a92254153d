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
    /// No HTTP answer: the connection could not be made, or broke. Retried with backoff when the
    /// endpoint answered before in this run; a first contact that fails is reported after a quick
    /// second try (a typo in the URL must not take minutes to surface).
    #[error("{target}: {}: {endpoint} ({detail}); {}", cause.describe(), cause.advice(*reached_before))]
    Network {
        target: String,
        /// `host:port` the request went to.
        endpoint: String,
        cause: NetCause,
        /// The innermost error's own words (e.g. "Connection refused (os error 111)").
        detail: String,
        /// The endpoint answered an earlier request of this run.
        reached_before: bool,
    },
    /// Request timeouts, 408/429/5xx: retried with backoff.
    #[error("{target}: temporary failure ({what})")]
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
    /// The local file changed (or shrank) while it was read: it is uploaded again once stable.
    #[error(
        "{path}: the file changed while it was uploaded ({what}); it is uploaded again once it is stable (cutover run and upload do so by themselves)"
    )]
    Changed { path: String, what: String },
    /// The file is held open by its writer without sharing it (SQL Server writing a backup on a
    /// share: `STATUS_SHARING_VIOLATION`): still being written; the uploader waits for it.
    #[error(
        "{path}: still being written (its writer holds it open without sharing it); uploaded once the writer closes it"
    )]
    Busy { path: String },
    /// The backup folder did not answer (an SMB share's connection dropped, its server restarting):
    /// retried with backoff; blocks already staged are kept and the upload resumes after them.
    #[error(
        "{path}: the backup folder did not answer ({detail}); retried until it does (staged blocks are kept)"
    )]
    SourceUnavailable { path: String, detail: String },
    /// A local problem: the file could not be read, or data did not verify.
    #[error("{0}")]
    Local(String),
    /// Retries exhausted: the last transient error.
    #[error("{target}: gave up after {attempts} attempts over {} s; last error: {last}", seconds.round())]
    GaveUp {
        target: String,
        attempts: u32,
        /// From the first attempt to the last failure.
        seconds: f64,
        last: String,
    },
}

impl StorageError {
    /// Worth trying again: a temporary refusal, or a network failure.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StorageError::Transient { .. }
                | StorageError::Network { .. }
                | StorageError::SourceUnavailable { .. }
        )
    }

    /// A connection to an endpoint that never answered in this run could not be made: after a
    /// quick second try this is reported, not retried for minutes.
    pub fn is_first_contact_failure(&self) -> bool {
        matches!(
            self,
            StorageError::Network {
                cause,
                reached_before: false,
                ..
            } if cause.is_connect_phase()
        )
    }

    /// Another attempt later may succeed (the uploader's caller re-queues the file): temporary
    /// failures, network failures of an endpoint that answered before, and retries run out.
    pub fn may_succeed_later(&self) -> bool {
        match self {
            StorageError::Network { .. } => !self.is_first_contact_failure(),
            StorageError::Transient { .. }
            | StorageError::GaveUp { .. }
            | StorageError::Changed { .. }
            | StorageError::Busy { .. }
            | StorageError::SourceUnavailable { .. } => true,
            _ => false,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            StorageError::Transient { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Why a request got no HTTP answer, in the operator's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetCause {
    /// Nothing listens on the port (or a firewall rejects the connection).
    Refused,
    /// The host name does not resolve.
    NameNotFound,
    /// The TLS handshake failed (certificate not trusted, wrong name, expired, or not TLS at all).
    Tls,
    /// Connecting or answering took too long.
    Timeout,
    /// The connection was made, then dropped.
    Dropped,
    /// No route to the host or network.
    Unreachable,
    /// Any other connection failure.
    Connect,
}

impl NetCause {
    pub fn describe(self) -> &'static str {
        match self {
            NetCause::Refused => "connection refused",
            NetCause::NameNotFound => "host name not found",
            NetCause::Tls => "TLS handshake failed",
            NetCause::Timeout => "timed out",
            NetCause::Dropped => "connection dropped",
            NetCause::Unreachable => "host unreachable",
            NetCause::Connect => "cannot connect",
        }
    }

    /// What the operator should check (and whether cutover keeps trying).
    pub fn advice(self, reached_before: bool) -> &'static str {
        match (self, reached_before) {
            (NetCause::Dropped, _) | (_, true) => {
                "the endpoint answered before: cutover keeps retrying until it is back"
            }
            (NetCause::Refused, false) => {
                "nothing accepts connections there: check the host and port of the storage URL and that the service (or emulator) is running"
            }
            (NetCause::NameNotFound, false) => {
                "check the storage account name in the URL and this machine's DNS"
            }
            (NetCause::Tls, false) => {
                "check that the URL is the storage account's https endpoint and that a proxy or firewall is not intercepting TLS"
            }
            (NetCause::Timeout, false) | (NetCause::Unreachable, false) => {
                "check the network path to the storage account (firewall, proxy, private endpoint DNS)"
            }
            (NetCause::Connect, false) => {
                "check the storage URL and the network path to the storage account"
            }
        }
    }

    /// A failure to establish the connection (not one that broke an established connection).
    pub fn is_connect_phase(self) -> bool {
        !matches!(self, NetCause::Dropped)
    }
}

/// Reads an error's `source()` chain: the cause in the operator's words and the innermost message.
/// `None` when nothing in the chain is a network failure.
pub fn network_cause(e: &(dyn std::error::Error + 'static)) -> Option<(NetCause, String)> {
    use std::io::ErrorKind as K;
    let mut cause: Option<NetCause> = None;
    let mut connect = false;
    let mut detail = String::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        // reqwest's own message carries the request URL (and so a SAS): never read or kept.
        let is_reqwest = err.downcast_ref::<reqwest::Error>().is_some();
        let text = if is_reqwest {
            String::new()
        } else {
            err.to_string()
        };
        let lower = text.to_ascii_lowercase();
        if !text.is_empty() {
            detail = text;
        }
        let found = if let Some(io) = err.downcast_ref::<std::io::Error>() {
            match io.kind() {
                K::ConnectionRefused => Some(NetCause::Refused),
                K::TimedOut => Some(NetCause::Timeout),
                K::ConnectionReset
                | K::ConnectionAborted
                | K::BrokenPipe
                | K::UnexpectedEof
                | K::NotConnected => Some(NetCause::Dropped),
                K::HostUnreachable | K::NetworkUnreachable | K::AddrNotAvailable => {
                    Some(NetCause::Unreachable)
                }
                _ => None,
            }
        } else if let Some(r) = err.downcast_ref::<reqwest::Error>() {
            connect |= r.is_connect();
            if r.is_timeout() {
                Some(NetCause::Timeout)
            } else if r.is_body() || r.is_request() && !r.is_connect() {
                Some(NetCause::Dropped)
            } else {
                None
            }
        } else {
            None
        };
        // Words only for what has no error type of its own here (resolver, TLS library).
        let worded = if lower.contains("dns error")
            || lower.contains("failed to lookup address")
            || lower.contains("name or service not known")
            || lower.contains("nodename nor servname")
            || lower.contains("no such host")
        {
            Some(NetCause::NameNotFound)
        } else if [
            "certificate",
            "tls",
            "handshake",
            "invalid peer",
            "peer is incompatible",
            "peer misbehaved",
            "fatal alert",
            // TLS spoken to a port that does not speak it (an http:// service).
            "corrupt message",
        ]
        .iter()
        .any(|w| lower.contains(w))
        {
            Some(NetCause::Tls)
        } else {
            None
        };
        // The deepest specific cause wins, except that a resolver or TLS failure names itself.
        cause = match (worded, found) {
            (Some(w), _) => Some(w),
            (None, Some(f)) => Some(f),
            (None, None) => cause,
        };
        cur = err.source();
    }
    match cause {
        // The certificate problem in the words the source's TLS errors use (unknown CA, name
        // mismatch, expired, self-signed).
        Some(NetCause::Tls) => {
            let problem = crate::source::tls::TlsProblem::from_library(&detail);
            Some((NetCause::Tls, format!("{}: {detail}", problem.kind())))
        }
        Some(c) => Some((c, detail)),
        None if connect => Some((NetCause::Connect, detail)),
        None => None,
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

    /// An error with a message and a source, like the layers reqwest and hyper wrap around the
    /// operating system's error.
    #[derive(Debug)]
    struct Layer(&'static str, Box<dyn std::error::Error + Send + Sync>);
    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&*self.1)
        }
    }

    fn io(kind: std::io::ErrorKind, m: &str) -> Box<dyn std::error::Error + Send + Sync> {
        Box::new(std::io::Error::new(kind, m.to_string()))
    }

    #[test]
    fn network_causes_are_read_from_the_source_chain() {
        let refused = Layer(
            "client error (Connect)",
            io(
                std::io::ErrorKind::ConnectionRefused,
                "Connection refused (os error 111)",
            ),
        );
        assert_eq!(
            network_cause(&refused),
            Some((
                NetCause::Refused,
                "Connection refused (os error 111)".to_string()
            ))
        );
        let dns = Layer(
            "client error (Connect)",
            Box::new(Layer(
                "dns error",
                io(
                    std::io::ErrorKind::Other,
                    "failed to lookup address information: Name or service not known",
                ),
            )),
        );
        assert_eq!(
            network_cause(&dns).map(|c| c.0),
            Some(NetCause::NameNotFound)
        );
        let tls = Layer(
            "client error (Connect)",
            io(
                std::io::ErrorKind::InvalidData,
                "invalid peer certificate: UnknownIssuer",
            ),
        );
        assert_eq!(
            network_cause(&tls),
            Some((
                NetCause::Tls,
                "unknown CA: invalid peer certificate: UnknownIssuer".to_string()
            ))
        );
        let not_tls = Layer(
            "client error (Connect)",
            io(
                std::io::ErrorKind::InvalidData,
                "received corrupt message of type InvalidContentType",
            ),
        );
        assert_eq!(network_cause(&not_tls).map(|c| c.0), Some(NetCause::Tls));
        let reset = Layer(
            "connection error",
            io(std::io::ErrorKind::ConnectionReset, "reset by peer"),
        );
        assert_eq!(network_cause(&reset).map(|c| c.0), Some(NetCause::Dropped));
        let other = Layer("bad header", io(std::io::ErrorKind::InvalidInput, "x"));
        assert_eq!(network_cause(&other), None);
    }

    #[test]
    fn a_network_error_names_the_endpoint_and_what_to_check() {
        let e = |reached_before| StorageError::Network {
            target: "Sales/full.bak".into(),
            endpoint: "127.0.0.1:10000".into(),
            cause: NetCause::Refused,
            detail: "Connection refused (os error 111)".into(),
            reached_before,
        };
        let first = e(false);
        let text = first.to_string();
        assert!(
            text.contains("connection refused: 127.0.0.1:10000"),
            "{text}"
        );
        assert!(text.contains("check the host and port"), "{text}");
        assert!(first.is_first_contact_failure() && !first.may_succeed_later());
        let later = e(true);
        assert!(later.to_string().contains("keeps retrying"), "{later}");
        assert!(!later.is_first_contact_failure() && later.may_succeed_later());
        let changed = StorageError::Changed {
            path: "/b/full.bak".into(),
            what: "its modification time moved".into(),
        };
        assert!(changed.may_succeed_later() && !changed.is_transient());
        let denied = from_status("x", 403, None, String::new(), None);
        assert!(!denied.may_succeed_later());
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
