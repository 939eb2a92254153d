//! Source errors: each names the server and says what to check.

use std::time::Duration;

/// Why talking to the source SQL Server failed.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(
        "--plaintext (no TLS) is only allowed for a loopback test server such as the sandbox, not for {server}: \
         remove --plaintext (TLS is the default), or add --trust-server-certificate for a self-signed certificate"
    )]
    PlaintextNotLoopback { server: String },
    #[error(
        "cannot resolve the host name of SQL Server {server}: {detail}; check the name (DNS) or give an IP address"
    )]
    Resolve { server: String, detail: String },
    #[error(
        "cannot connect to SQL Server {server} ({addr}): {detail}; check that the server runs, that TCP/IP is \
         enabled for the instance and that a firewall lets port {port} through"
    )]
    Connect {
        server: String,
        addr: String,
        port: u16,
        detail: String,
    },
    #[error(
        "SQL Server {server} did not answer within {} ({step}); check the address and port, or that nothing \
         but SQL Server listens there",
        duration_words(*.after)
    )]
    Timeout {
        server: String,
        step: &'static str,
        after: Duration,
    },
    #[error(
        "the SQL Server Browser on {server} (UDP {port}) gave no port for instance {instance:?}: {detail}; \
         check that the SQL Server Browser service runs and UDP {port} is open, or give the port: HOST,PORT"
    )]
    Browser {
        server: String,
        instance: String,
        port: u16,
        detail: String,
    },
    #[error("TLS with SQL Server {server} failed: {problem}")]
    Tls {
        server: String,
        problem: super::tls::TlsProblem,
    },
    #[error(
        "SQL Server {server} does not offer encryption (its pre-login answer refused TLS, which cutover requires): \
         configure a certificate for the instance (SQL Server Configuration Manager, Force Encryption), or, \
         for a loopback test server such as `cutover sandbox`, add --plaintext"
    )]
    EncryptionNotOffered { server: String },
    #[error("cannot sign in to {server} with Microsoft Entra ID: {message}")]
    EntraToken { server: String, message: String },
    #[error(
        "login to SQL Server {server} as {login} failed: {message} (check the login name and password, and that SQL Server authentication is enabled)"
    )]
    LoginFailed {
        server: String,
        login: String,
        message: String,
    },
    #[error(
        "SQL Server {server} answered something that is not TDS, or broke the protocol: {detail}; check that the address is a SQL Server"
    )]
    Protocol { server: String, detail: String },
    #[error("SQL Server {server} closed the connection: {detail}")]
    Io { server: String, detail: String },
    #[error("SQL Server {server}: error {number}, {message}{}", fix.map(|f| format!(" ({f})")).unwrap_or_default())]
    Server {
        server: String,
        number: u32,
        message: String,
        fix: Option<&'static str>,
    },
    #[error("SQL Server {server}: unexpected answer to {what}: {detail}")]
    Unexpected {
        server: String,
        what: &'static str,
        detail: String,
    },
    #[error("{0}")]
    Other(String),
}

impl SourceError {
    /// SQL Server's error number, for server errors.
    pub fn number(&self) -> Option<u32> {
        match self {
            SourceError::Server { number, .. } => Some(*number),
            _ => None,
        }
    }
}

/// A duration as an operator reads it: "300 ms" below a second, "1.5 s", "30 s".
pub fn duration_words(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// What to do about the server errors cutover's statements can meet.
pub fn server_error_fix(number: u32) -> Option<&'static str> {
    Some(match number {
        262 | 5011 | 229 | 230 => {
            "the login lacks the permission: DMS and cutover need a sysadmin login on the source"
        }
        911 => "the database does not exist on the source or the name is wrong",
        927 | 5052 => {
            "the database is restoring (a tail-log backup WITH NORECOVERY was already taken)"
        }
        4208 => {
            "online migration needs the FULL recovery model: ALTER DATABASE ... SET RECOVERY FULL, then take a full backup"
        }
        4214 => "take a full backup of the database first, then log backups",
        3201 | 3013 => {
            "the SQL Server service account cannot write to that path: check the backup folder path as the server sees it and its permissions"
        }
        3101 => {
            "other sessions use the database: stop traffic first (READ_ONLY or RESTRICTED_USER WITH ROLLBACK IMMEDIATE)"
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_under_a_second_are_shown_in_milliseconds() {
        assert_eq!(duration_words(Duration::from_millis(300)), "300 ms");
        assert_eq!(duration_words(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(duration_words(Duration::from_secs(30)), "30 s");
        let e = SourceError::Timeout {
            server: "sql01".into(),
            step: "waiting for the server's answer",
            after: Duration::from_millis(250),
        };
        assert!(e.to_string().contains("within 250 ms"), "{e}");
        assert!(!e.to_string().contains("0 s"), "{e}");
    }
}
