//! A finding about one login or database user: a stable code, a severity, what is wrong (naming the
//! login, both SIDs where they differ) and what to do. Never carries a password hash.

use serde::Serialize;

pub use crate::model::Severity;

/// Stable codes (scripts match on them).
pub mod codes {
    /// A login of that name exists on the target with another SID: not overwritten.
    pub const LOGIN_SID_CONFLICT: &str = "LOGIN_SID_CONFLICT";
    /// The SID is already used on the target by a login of another name.
    pub const LOGIN_SID_IN_USE: &str = "LOGIN_SID_IN_USE";
    /// A Windows login or group with no `[[logins.map]]` entry: Managed Instance has no Windows logins.
    pub const WINDOWS_LOGIN_UNMAPPED: &str = "WINDOWS_LOGIN_UNMAPPED";
    /// A login whose statement failed on the target.
    pub const LOGIN_FAILED: &str = "LOGIN_FAILED";
    /// A database user whose SID matches no login on the target.
    pub const ORPHANED_USER: &str = "ORPHANED_USER";
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoginFinding {
    pub code: &'static str,
    pub severity: Severity,
    /// The login (or `database.user` for an orphaned user).
    pub subject: String,
    pub message: String,
    pub fix: String,
}
