//! What the source has: its logins (SQL logins with SID and password hash, Windows logins and
//! groups), their server roles and state, and the database users of the selected databases mapped to
//! each login by SID.

use serde::Serialize;

/// A security identifier (`varbinary(85)`), shown as `0x` and upper-case hex like SQL Server.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sid(pub Vec<u8>);

impl Sid {
    pub fn hex(&self) -> String {
        hex_literal(&self.0)
    }
}

impl std::fmt::Display for Sid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.hex())
    }
}

impl std::fmt::Debug for Sid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.hex())
    }
}

impl Serialize for Sid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.hex())
    }
}

/// `0x` followed by upper-case hex digits (a T-SQL binary literal).
pub fn hex_literal(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(2 + bytes.len() * 2);
    s.push_str("0x");
    for b in bytes {
        s.push_str(&format!("{b:02X}"));
    }
    s
}

/// A SQL login's password hash (`sys.sql_logins.password_hash`). A secret: `Debug` shows only its
/// length, it has no `Serialize`, and its bytes leave only through [`PasswordHash::expose_hex`],
/// which the statement builder calls.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(Vec<u8>);

impl PasswordHash {
    pub fn new(bytes: Vec<u8>) -> Self {
        PasswordHash(bytes)
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The hash as a binary literal, for `CREATE LOGIN ... WITH PASSWORD = 0x... HASHED` only.
    pub fn expose_hex(&self) -> String {
        hex_literal(&self.0)
    }
    /// The algorithm version SQL Server writes first: 0x0200 (SHA-512, 2012+) or 0x0100 (SHA-1).
    pub fn version(&self) -> Option<u16> {
        match self.0.as_slice() {
            [a, b, ..] => Some(u16::from_be_bytes([*a, *b])),
            _ => None,
        }
    }
}

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PasswordHash(<redacted, {} bytes>)", self.0.len())
    }
}

/// What only a SQL login has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SqlLoginDetails {
    /// `None` when the login has no password (NULL hash): it cannot be recreated with HASHED.
    #[serde(skip)]
    pub password_hash: Option<PasswordHash>,
    pub check_policy: bool,
    pub check_expiration: bool,
}

/// The kind of a server principal (`sys.server_principals.type`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LoginKind {
    /// `S`
    Sql(SqlLoginDetails),
    /// `U`
    WindowsLogin,
    /// `G`
    WindowsGroup,
    /// `E` / `X`: already an Entra principal (a source that is itself an Azure SQL instance).
    External,
}

impl LoginKind {
    pub fn label(&self) -> &'static str {
        match self {
            LoginKind::Sql(_) => "SQL login",
            LoginKind::WindowsLogin => "Windows login",
            LoginKind::WindowsGroup => "Windows group",
            LoginKind::External => "Entra principal",
        }
    }
    pub fn is_windows(&self) -> bool {
        matches!(self, LoginKind::WindowsLogin | LoginKind::WindowsGroup)
    }
}

/// One login of the source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceLogin {
    pub name: String,
    pub sid: Sid,
    #[serde(flatten)]
    pub kind: LoginKind,
    pub default_database: Option<String>,
    pub default_language: Option<String>,
    pub disabled: bool,
    /// Server roles it is a member of (`public` left out: every login is).
    pub server_roles: Vec<String>,
    /// `database.user` of the selected databases' users mapped to it by SID.
    pub used_by: Vec<String>,
}

/// A database user of a selected database (`sys.database_principals`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DatabaseUser {
    pub database: String,
    pub name: String,
    pub sid: Sid,
}

/// The source's logins and the users that need them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LoginInventory {
    pub logins: Vec<SourceLogin>,
    pub users: Vec<DatabaseUser>,
}

/// Principals that are the server's own and never migrated: `sa`, certificate-mapped `##MS_...##`
/// logins, `NT AUTHORITY\...`, `NT SERVICE\...`, `BUILTIN\...`.
pub fn is_system_login(name: &str, principal_id: i64) -> bool {
    let upper = name.to_uppercase();
    principal_id == 1
        || (name.starts_with("##") && name.ends_with("##"))
        || upper.starts_with("NT AUTHORITY\\")
        || upper.starts_with("NT SERVICE\\")
        || upper.starts_with("BUILTIN\\")
}

impl LoginInventory {
    /// Fills each login's `used_by` from the users (by SID), sorted.
    pub fn link_users(&mut self) {
        for login in &mut self.logins {
            let mut used: Vec<String> = self
                .users
                .iter()
                .filter(|u| u.sid == login.sid)
                .map(|u| format!("{}.{}", u.database, u.name))
                .collect();
            used.sort();
            used.dedup();
            login.used_by = used;
        }
    }

    /// The login a user's SID belongs to on the source.
    pub fn login_by_sid(&self, sid: &Sid) -> Option<&SourceLogin> {
        self.logins.iter().find(|l| &l.sid == sid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_redacted_and_not_serialized() {
        let hash = PasswordHash::new(vec![0x02, 0x00, 0xAB, 0xCD, 0xEF]);
        assert_eq!(format!("{hash:?}"), "PasswordHash(<redacted, 5 bytes>)");
        let login = SourceLogin {
            name: "app".into(),
            sid: Sid(vec![1, 2]),
            kind: LoginKind::Sql(SqlLoginDetails {
                password_hash: Some(hash.clone()),
                check_policy: true,
                check_expiration: false,
            }),
            default_database: Some("master".into()),
            default_language: None,
            disabled: false,
            server_roles: vec![],
            used_by: vec![],
        };
        let debug = format!("{login:?}");
        let json = serde_json::to_string(&login).unwrap();
        for shown in [&debug, &json] {
            assert!(
                !shown.contains("ABCDEF") && !shown.contains("abcdef"),
                "{shown}"
            );
        }
        assert!(json.contains("\"sid\":\"0x0102\"") && json.contains("\"kind\":\"sql\""));
        assert_eq!(hash.expose_hex(), "0x0200ABCDEF");
        assert_eq!(hash.version(), Some(0x0200));
    }

    #[test]
    fn system_logins_are_recognised() {
        assert!(is_system_login("sa", 1));
        assert!(is_system_login("renamed_sa", 1));
        assert!(is_system_login("##MS_PolicyEventProcessingLogin##", 256));
        assert!(is_system_login("NT AUTHORITY\\SYSTEM", 259));
        assert!(is_system_login("nt service\\MSSQLSERVER", 260));
        assert!(!is_system_login("CONTOSO\\app", 270));
        assert!(!is_system_login("##half", 270));
    }

    #[test]
    fn users_are_linked_by_sid() {
        let mut inv = LoginInventory {
            logins: vec![SourceLogin {
                name: "app".into(),
                sid: Sid(vec![7]),
                kind: LoginKind::WindowsLogin,
                default_database: None,
                default_language: None,
                disabled: false,
                server_roles: vec![],
                used_by: vec![],
            }],
            users: vec![
                DatabaseUser {
                    database: "Sales".into(),
                    name: "app_user".into(),
                    sid: Sid(vec![7]),
                },
                DatabaseUser {
                    database: "Sales".into(),
                    name: "other".into(),
                    sid: Sid(vec![8]),
                },
            ],
        };
        inv.link_users();
        assert_eq!(inv.logins[0].used_by, vec!["Sales.app_user".to_string()]);
    }
}
