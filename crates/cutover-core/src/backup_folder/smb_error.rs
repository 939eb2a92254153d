//! Why a share cannot be read, in the operator's words: [`SmbFailure`] names the server, the share
//! (and the path) and says what to do, for each failure DMS's connection test tells apart: name
//! not resolved, port closed or filtered, logon failure, account locked or disabled, access denied
//! on the share vs on a folder, share not found, path not found, signing refused, an SMB1-only server. A share that requires encryption is read
//! encrypted (SMB 3.x; see crates/smb2/PATCHED.md). Built from the `smb2` crate's errors (their NT status); the password is
//! never part of a message.

use std::io;

use smb2::ErrorKind;
use smb2::types::status::NtStatus;

/// What went wrong, with where (`server`: `host:port`; `share`; `path` inside the share).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmbFailure {
    #[error(
        "{server}: the server name does not resolve ({detail}); check the name (or give its IP address) and this machine's DNS"
    )]
    NameNotResolved { server: String, detail: String },
    #[error(
        "{server}: nothing answers on this port ({detail}); check the port (445 unless the address says otherwise), that the file server runs, and that no firewall between here and there blocks it (Azure file shares: outbound 445 is often blocked by ISPs and corporate networks)"
    )]
    PortClosed { server: String, detail: String },
    #[error(
        "{server}: logon failure for {user}: the user name or password is wrong (the password comes from ${password_env}); check both, and the domain (DOMAIN\\user; AZURE\\<storage account> with the account key for an Azure file share)"
    )]
    LogonFailure {
        server: String,
        user: String,
        password_env: String,
    },
    #[error(
        "{server}: the account {user} cannot sign in ({status}: locked out, disabled, expired or its password must change); ask the domain administrator to unlock or renew it"
    )]
    AccountUnusable {
        server: String,
        user: String,
        status: String,
    },
    #[error(
        "\\\\{host}\\{share}: no such share on the server; check the share name (the part after the server)"
    )]
    ShareNotFound { host: String, share: String },
    #[error(
        "\\\\{host}\\{share}: access denied to the share for {user}; give this user read permission on the share (share permissions and NTFS) or use an account that has it (cutover encrypts when the share requires it, so this is the account's right, not encryption)"
    )]
    ShareDenied {
        host: String,
        share: String,
        user: String,
    },
    #[error(
        "{unc}: access denied to this folder or file for {user}; give the user read (list folder, read data) permission on it"
    )]
    PathDenied { unc: String, user: String },
    #[error("{unc}: not found on the share; check the folder's path inside the share")]
    PathNotFound { unc: String },
    #[error(
        "{unc}: still being written (another program holds it open without sharing it: SQL Server writing a backup); cutover reads it when the writer is done"
    )]
    StillBeingWritten { unc: String },
    #[error(
        "{server}: message signing failed ({detail}); the server or something between refused or altered signed messages: check the server's signing settings"
    )]
    Signing { server: String, detail: String },
    #[error(
        "{server}: the server does not speak SMB 2.1 or newer ({detail}); cutover never uses SMB1: enable SMB2/3 on the server (Windows since 2008 R2, Samba since 3.6 have it)"
    )]
    Smb1Only { server: String, detail: String },
    #[error(
        "{server}: the server offered a guest session instead of signing in {user}; the password is probably wrong (Samba maps bad passwords to guest)"
    )]
    Guest { server: String, user: String },
    #[error("{server}: the connection was lost ({detail}); cutover retries")]
    ConnectionLost { server: String, detail: String },
    #[error("{server}: {detail}")]
    Other { server: String, detail: String },
}

impl SmbFailure {
    /// The `io::ErrorKind` this failure is given to the `BackupFolder`'s callers (so that a
    /// missing file is `NotFound`, a denied one `PermissionDenied`, a held one `ResourceBusy`).
    pub fn io_kind(&self) -> io::ErrorKind {
        match self {
            SmbFailure::PathNotFound { .. } | SmbFailure::ShareNotFound { .. } => {
                io::ErrorKind::NotFound
            }
            SmbFailure::PathDenied { .. }
            | SmbFailure::ShareDenied { .. }
            | SmbFailure::LogonFailure { .. }
            | SmbFailure::AccountUnusable { .. }
            | SmbFailure::Guest { .. } => io::ErrorKind::PermissionDenied,
            SmbFailure::StillBeingWritten { .. } => io::ErrorKind::ResourceBusy,
            SmbFailure::PortClosed { .. } | SmbFailure::NameNotResolved { .. } => {
                io::ErrorKind::ConnectionRefused
            }
            SmbFailure::ConnectionLost { .. } => io::ErrorKind::ConnectionAborted,
            _ => io::ErrorKind::Other,
        }
    }

    /// `true` for failures of the connection or the sign-in (nothing on the share can be read),
    /// as opposed to one path's.
    pub fn is_connection(&self) -> bool {
        !matches!(
            self,
            SmbFailure::PathDenied { .. }
                | SmbFailure::PathNotFound { .. }
                | SmbFailure::StillBeingWritten { .. }
        )
    }

    pub fn into_io(self) -> io::Error {
        io::Error::new(self.io_kind(), self)
    }
}

/// Where the failure happened, for the mapping.
pub(crate) struct Context<'a> {
    pub server: &'a str,
    pub host: &'a str,
    pub share: &'a str,
    pub user: &'a str,
    pub password_env: &'a str,
}

/// A failure while connecting and signing in (before any share).
pub(crate) fn connect_failure(cx: &Context<'_>, e: &smb2::Error) -> SmbFailure {
    let server = cx.server.to_string();
    let detail = e.to_string();
    if let Some(status) = e.status() {
        if status == NtStatus::LOGON_FAILURE {
            return SmbFailure::LogonFailure {
                server,
                user: cx.user.to_string(),
                password_env: cx.password_env.to_string(),
            };
        }
        if e.kind() == ErrorKind::AuthRequired {
            return SmbFailure::AccountUnusable {
                server,
                user: cx.user.to_string(),
                status: status.to_string(),
            };
        }
        if status == NtStatus::NOT_SUPPORTED || status == NtStatus::INVALID_PARAMETER {
            return SmbFailure::Smb1Only { server, detail };
        }
    }
    match e {
        smb2::Error::Auth { .. } => SmbFailure::LogonFailure {
            server,
            user: cx.user.to_string(),
            password_env: cx.password_env.to_string(),
        },
        smb2::Error::GuestSessionRefused { .. } => SmbFailure::Guest {
            server,
            user: cx.user.to_string(),
        },
        smb2::Error::SignatureInvalid { .. } => SmbFailure::Signing { server, detail },
        smb2::Error::Timeout => SmbFailure::PortClosed {
            server,
            detail: "no answer: filtered by a firewall?".into(),
        },
        smb2::Error::ConnectFailed { .. } | smb2::Error::Io(_) => {
            SmbFailure::PortClosed { server, detail }
        }
        // The server closed the connection or answered the SMB2 negotiate with something else:
        // what an SMB1-only server does.
        smb2::Error::Disconnected | smb2::Error::InvalidData { .. } => {
            SmbFailure::Smb1Only { server, detail }
        }
        _ => SmbFailure::Other { server, detail },
    }
}

/// A failure connecting to the share (tree connect).
pub(crate) fn share_failure(cx: &Context<'_>, e: &smb2::Error) -> SmbFailure {
    let (host, share) = (cx.host.to_string(), cx.share.to_string());
    match e.status() {
        Some(s) if s == NtStatus::BAD_NETWORK_NAME => SmbFailure::ShareNotFound { host, share },
        Some(s) if s == NtStatus::ACCESS_DENIED => SmbFailure::ShareDenied {
            host,
            share,
            user: cx.user.to_string(),
        },
        _ => connect_failure(cx, e),
    }
}

/// A failure on a path of the share (`unc`: the path as the operator writes it).
pub(crate) fn path_failure(cx: &Context<'_>, unc: &str, e: &smb2::Error) -> SmbFailure {
    match e.kind() {
        ErrorKind::NotFound | ErrorKind::NotADirectory => SmbFailure::PathNotFound {
            unc: unc.to_string(),
        },
        ErrorKind::AccessDenied => SmbFailure::PathDenied {
            unc: unc.to_string(),
            user: cx.user.to_string(),
        },
        ErrorKind::SharingViolation => SmbFailure::StillBeingWritten {
            unc: unc.to_string(),
        },
        ErrorKind::ConnectionLost | ErrorKind::SessionExpired | ErrorKind::TimedOut => {
            SmbFailure::ConnectionLost {
                server: cx.server.to_string(),
                detail: e.to_string(),
            }
        }
        _ => SmbFailure::Other {
            server: cx.server.to_string(),
            detail: format!("{unc}: {e}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx() -> Context<'static> {
        Context {
            server: "fs01:445",
            host: "fs01",
            share: "backups",
            user: r"CORP\svc",
            password_env: "SMB_PASSWORD",
        }
    }

    fn proto(status: NtStatus) -> smb2::Error {
        smb2::Error::Protocol {
            status,
            command: smb2::types::Command::SessionSetup,
        }
    }

    #[test]
    fn each_status_gets_its_own_message() {
        let m = connect_failure(&cx(), &proto(NtStatus::LOGON_FAILURE)).to_string();
        assert!(
            m.contains("logon failure for CORP\\svc") && m.contains("$SMB_PASSWORD"),
            "{m}"
        );
        let m = connect_failure(&cx(), &proto(NtStatus::ACCOUNT_LOCKED_OUT));
        assert!(matches!(m, SmbFailure::AccountUnusable { .. }), "{m}");
        let m = share_failure(&cx(), &proto(NtStatus::BAD_NETWORK_NAME));
        assert_eq!(m.to_string().split(':').next(), Some(r"\\fs01\backups"));
        assert!(matches!(m, SmbFailure::ShareNotFound { .. }));
        let m = share_failure(&cx(), &proto(NtStatus::ACCESS_DENIED));
        assert!(matches!(m, SmbFailure::ShareDenied { .. }));
        let m = path_failure(
            &cx(),
            r"\\fs01\backups\x",
            &proto(NtStatus::SHARING_VIOLATION),
        );
        assert_eq!(m.io_kind(), io::ErrorKind::ResourceBusy);
        assert!(!m.is_connection());
        let m = path_failure(&cx(), r"\\fs01\backups\x", &proto(NtStatus::ACCESS_DENIED));
        assert!(matches!(m, SmbFailure::PathDenied { .. }));
        let m = path_failure(
            &cx(),
            r"\\fs01\backups\x",
            &proto(NtStatus::OBJECT_PATH_NOT_FOUND),
        );
        assert_eq!(m.io_kind(), io::ErrorKind::NotFound);
    }
}
