//! Server and database principals, as SQL Server keeps them: the rows of `sys.server_principals`,
//! `sys.sql_logins` (with the password hash SQL Server 2012+ stores: 0x0200, a 4-byte salt, then
//! SHA-512 of the UTF-16LE password and the salt), `sys.server_role_members` and a database's
//! `sys.database_principals`, with the documented columns and types. Shared by the source SQL Server
//! (`instance`) and the Managed Instance's SQL side (`mi_sql`), which answer these views from it;
//! `login_ddl` changes it (CREATE LOGIN, ALTER SERVER ROLE, ALTER LOGIN, ALTER USER).

use sha2::{Digest, Sha512};

use super::sql_select::{Asks, Item, Select};
use super::tds::{Column, ColumnType, Reply, Value};

/// A row of `sys.server_principals` (and of `sys.sql_logins` for type `S`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerPrincipal {
    pub principal_id: i64,
    pub name: String,
    pub sid: Vec<u8>,
    /// S SQL login, U Windows login, G Windows group, R server role, C certificate-mapped login,
    /// E external (Entra) login, X external group.
    pub kind: char,
    pub is_disabled: bool,
    pub default_database: Option<String>,
    pub default_language: Option<String>,
    pub password_hash: Option<Vec<u8>>,
    pub is_policy_checked: bool,
    pub is_expiration_checked: bool,
    pub is_fixed_role: bool,
}

/// A row of a database's `sys.database_principals`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabasePrincipal {
    pub principal_id: i64,
    pub name: String,
    /// S SQL user, U Windows user, G Windows group, E/X external, R role.
    pub kind: char,
    pub sid: Option<Vec<u8>>,
    pub default_schema: Option<String>,
}

/// The principals of one server and of its databases.
#[derive(Debug, Clone, Default)]
pub struct Principals {
    pub server: Vec<ServerPrincipal>,
    /// (role_principal_id, member_principal_id)
    pub role_members: Vec<(i64, i64)>,
    /// (database, principal)
    pub database: Vec<(String, DatabasePrincipal)>,
}

/// SQL Server's password hash (2012+): 0x0200, the salt, SHA-512(UTF-16LE(password) + salt).
pub fn password_hash(password: &str, salt: [u8; 4]) -> Vec<u8> {
    let mut h = Sha512::new();
    let utf16: Vec<u8> = password.encode_utf16().flat_map(u16::to_le_bytes).collect();
    h.update(&utf16);
    h.update(salt);
    let mut out = vec![0x02, 0x00];
    out.extend_from_slice(&salt);
    out.extend_from_slice(&h.finalize());
    out
}

/// Whether `password` matches a stored 0x0200 hash.
pub fn password_matches(hash: &[u8], password: &str) -> bool {
    match hash {
        [0x02, 0x00, a, b, c, d, ..] if hash.len() == 70 => {
            password_hash(password, [*a, *b, *c, *d]) == hash
        }
        _ => false,
    }
}

/// A deterministic 16-byte SID for a SQL login (SQL Server makes a random GUID-like one).
pub fn sql_sid(seed: &str) -> Vec<u8> {
    Sha512::digest(format!("sql-login\0{seed}").as_bytes())[..16].to_vec()
}

/// A deterministic Windows SID `S-1-5-21-a-b-c-rid` (28 bytes) for a domain account.
pub fn windows_sid(seed: &str, rid: u32) -> Vec<u8> {
    let d = Sha512::digest(format!("domain\0{seed}").as_bytes());
    let mut out = vec![1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0];
    out.extend_from_slice(&d[..12]);
    out.extend_from_slice(&rid.to_le_bytes());
    out
}

impl Principals {
    /// The server roles and system logins every instance has.
    pub fn with_fixed_roles() -> Principals {
        let role = |id: i64, name: &str| ServerPrincipal {
            principal_id: id,
            name: name.into(),
            sid: vec![id as u8],
            kind: 'R',
            is_disabled: false,
            default_database: None,
            default_language: None,
            password_hash: None,
            is_policy_checked: false,
            is_expiration_checked: false,
            is_fixed_role: id != 2,
        };
        Principals {
            server: vec![
                role(2, "public"),
                role(3, "sysadmin"),
                role(4, "securityadmin"),
                role(5, "serveradmin"),
                role(6, "setupadmin"),
                role(7, "processadmin"),
                role(8, "diskadmin"),
                role(9, "dbcreator"),
                role(10, "bulkadmin"),
            ],
            role_members: Vec::new(),
            database: Vec::new(),
        }
    }

    pub fn next_server_id(&self) -> i64 {
        self.server
            .iter()
            .map(|p| p.principal_id)
            .max()
            .unwrap_or(256)
            .max(256)
            + 1
    }

    pub fn login(&self, name: &str) -> Option<&ServerPrincipal> {
        self.server
            .iter()
            .find(|p| p.kind != 'R' && p.name.to_lowercase() == name.to_lowercase())
    }

    pub fn role(&self, name: &str) -> Option<&ServerPrincipal> {
        self.server
            .iter()
            .find(|p| p.kind == 'R' && p.name.to_lowercase() == name.to_lowercase())
    }

    /// Adds a login (with membership in `roles`), returning its principal_id.
    pub fn add_login(&mut self, mut p: ServerPrincipal, roles: &[&str]) -> i64 {
        p.principal_id = self.next_server_id();
        let id = p.principal_id;
        self.server.push(p);
        for r in roles {
            if let Some(role) = self.role(r).map(|r| r.principal_id) {
                self.role_members.push((role, id));
            }
        }
        id
    }

    /// Adds a user to a database (the fixed principals dbo, guest, INFORMATION_SCHEMA, sys and
    /// the public role come first, as in every database).
    pub fn add_user(&mut self, database: &str, name: &str, kind: char, sid: Vec<u8>) {
        if !self.database.iter().any(|(d, _)| d == database) {
            let fixed = [
                (0, "public", 'R', None),
                (1, "dbo", 'S', Some(vec![1u8])),
                (2, "guest", 'S', Some(vec![0u8])),
                (3, "INFORMATION_SCHEMA", 'S', None),
                (4, "sys", 'S', None),
            ];
            for (id, n, k, s) in fixed {
                self.database.push((
                    database.to_string(),
                    DatabasePrincipal {
                        principal_id: id,
                        name: n.into(),
                        kind: k,
                        sid: s,
                        default_schema: (k != 'R').then(|| "dbo".to_string()),
                    },
                ));
            }
        }
        let id = self
            .database
            .iter()
            .filter(|(d, _)| d == database)
            .map(|(_, p)| p.principal_id)
            .max()
            .unwrap_or(4)
            .max(4)
            + 1;
        self.database.push((
            database.to_string(),
            DatabasePrincipal {
                principal_id: id,
                name: name.into(),
                kind,
                sid: Some(sid),
                default_schema: Some("dbo".into()),
            },
        ));
    }
}

/// A column's type and how to read it from a row.
type ColumnOf<R> = (ColumnType, fn(&R) -> Value);
/// An output column and how to read it from a row.
type OutputOf<R> = (Column, fn(&R) -> Value);

fn bit(b: bool) -> Value {
    Value::Int(i64::from(b))
}

fn opt_str(s: &Option<String>) -> Value {
    s.clone().map(Value::Str).unwrap_or(Value::Null)
}

/// The type and value of a `sys.server_principals` / `sys.sql_logins` column, `None` if the view
/// has no such column. `sql_logins` adds the password columns.
fn server_column(name: &str, sql_logins: bool) -> Option<ColumnOf<ServerPrincipal>> {
    let a: ColumnOf<ServerPrincipal> = match name {
        "name" => (ColumnType::NVarChar(128), |p| Value::Str(p.name.clone())),
        "principal_id" => (ColumnType::Int, |p| Value::Int(p.principal_id)),
        "sid" => (ColumnType::VarBinary(85), |p| Value::Bytes(p.sid.clone())),
        "type" => (ColumnType::VarChar(1), |p| Value::Str(p.kind.to_string())),
        "type_desc" => (ColumnType::NVarChar(60), |p| {
            Value::Str(
                match p.kind {
                    'S' => "SQL_LOGIN",
                    'U' => "WINDOWS_LOGIN",
                    'G' => "WINDOWS_GROUP",
                    'R' => "SERVER_ROLE",
                    'C' => "CERTIFICATE_MAPPED_LOGIN",
                    'E' => "EXTERNAL_LOGIN",
                    'X' => "EXTERNAL_GROUP",
                    _ => "ASYMMETRIC_KEY_MAPPED_LOGIN",
                }
                .into(),
            )
        }),
        "is_disabled" => (ColumnType::Bit, |p| bit(p.is_disabled)),
        "default_database_name" => (ColumnType::NVarChar(128), |p| opt_str(&p.default_database)),
        "default_language_name" => (ColumnType::NVarChar(128), |p| opt_str(&p.default_language)),
        "is_fixed_role" => (ColumnType::Bit, |p| bit(p.is_fixed_role)),
        "password_hash" if sql_logins => (ColumnType::VarBinary(256), |p| {
            p.password_hash
                .clone()
                .map(Value::Bytes)
                .unwrap_or(Value::Null)
        }),
        "is_policy_checked" if sql_logins => (ColumnType::Bit, |p| bit(p.is_policy_checked)),
        "is_expiration_checked" if sql_logins => {
            (ColumnType::Bit, |p| bit(p.is_expiration_checked))
        }
        _ => return None,
    };
    Some(a)
}

fn database_column(name: &str) -> Option<ColumnOf<DatabasePrincipal>> {
    let a: ColumnOf<DatabasePrincipal> = match name {
        "name" => (ColumnType::NVarChar(128), |p| Value::Str(p.name.clone())),
        "principal_id" => (ColumnType::Int, |p| Value::Int(p.principal_id)),
        "type" => (ColumnType::VarChar(1), |p| Value::Str(p.kind.to_string())),
        "sid" => (ColumnType::VarBinary(85), |p| {
            p.sid.clone().map(Value::Bytes).unwrap_or(Value::Null)
        }),
        "default_schema_name" => (ColumnType::NVarChar(128), |p| opt_str(&p.default_schema)),
        _ => return None,
    };
    Some(a)
}

/// Why a principals SELECT cannot be answered, as SQL Server's error (number, message).
pub type SelectError = (u32, String);

fn columns_of<R>(
    items: &[Item],
    lookup: impl Fn(&str) -> Option<ColumnOf<R>>,
) -> Result<Vec<OutputOf<R>>, SelectError> {
    items
        .iter()
        .map(|i| match &i.asks {
            Asks::Column(c) => lookup(c)
                .map(|(ty, f)| {
                    (
                        Column {
                            name: i.name.clone(),
                            ty,
                        },
                        f,
                    )
                })
                .ok_or_else(|| (207, format!("Invalid column name '{c}'."))),
            _ => Err((207, format!("Invalid column name '{}'.", i.name))),
        })
        .collect()
}

fn reply<R>(cols: Vec<OutputOf<R>>, rows: &[&R]) -> Reply {
    Reply::Rows {
        rows: rows
            .iter()
            .map(|r| cols.iter().map(|(_, f)| f(r)).collect())
            .collect(),
        columns: cols.into_iter().map(|(c, _)| c).collect(),
    }
}

impl Principals {
    /// Answers a SELECT on one of the principal views; `None` if it reads none of them. Filters are
    /// not evaluated here: a WHERE on these views is refused rather than answered wrongly.
    /// `database_exists` says whether a `[db].sys.database_principals` names a database.
    pub fn answer(
        &self,
        sel: &Select,
        database_exists: impl Fn(&str) -> bool,
    ) -> Option<Result<Reply, SelectError>> {
        let view = if sel.reads("sys.sql_logins") {
            "sql_logins"
        } else if sel.reads("sys.server_principals") {
            "server_principals"
        } else if sel.reads("sys.server_role_members") {
            "server_role_members"
        } else if sel.database_of("sys.database_principals").is_some() {
            "database_principals"
        } else {
            return None;
        };
        if !sel.filter.is_empty() || sel.from.len() != 1 {
            return Some(Err((
                102,
                format!(
                    "The cutover sandbox answers sys.{view} without WHERE or JOIN; filter the rows in the client."
                ),
            )));
        }
        Some(self.answer_view(view, sel, database_exists))
    }

    fn answer_view(
        &self,
        view: &str,
        sel: &Select,
        database_exists: impl Fn(&str) -> bool,
    ) -> Result<Reply, SelectError> {
        match view {
            "sql_logins" | "server_principals" => {
                let logins = view == "sql_logins";
                let cols = columns_of(&sel.items, |c| server_column(c, logins))?;
                let rows: Vec<&ServerPrincipal> = self
                    .server
                    .iter()
                    .filter(|p| !logins || p.kind == 'S')
                    .collect();
                Ok(reply(cols, &rows))
            }
            "server_role_members" => {
                let cols = columns_of(&sel.items, |c| {
                    let a: ColumnOf<(i64, i64)> = match c {
                        "role_principal_id" => (ColumnType::Int, |r| Value::Int(r.0)),
                        "member_principal_id" => (ColumnType::Int, |r| Value::Int(r.1)),
                        _ => return None,
                    };
                    Some(a)
                })?;
                let rows: Vec<&(i64, i64)> = self.role_members.iter().collect();
                Ok(reply(cols, &rows))
            }
            _ => {
                let db = sel
                    .database_of("sys.database_principals")
                    .unwrap_or_default();
                if !database_exists(&db) {
                    return Err((
                        911,
                        format!(
                            "Database '{db}' does not exist. Make sure that the name is entered correctly."
                        ),
                    ));
                }
                let cols = columns_of(&sel.items, database_column)?;
                let rows: Vec<&DatabasePrincipal> = self
                    .database
                    .iter()
                    .filter(|(d, _)| d.to_lowercase() == db.to_lowercase())
                    .map(|(_, p)| p)
                    .collect();
                Ok(reply(cols, &rows))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(p: &Principals, sql: &str) -> Result<Reply, SelectError> {
        let (t, o) = crate::sql::tokenize(sql).unwrap();
        let sel = crate::sql_select::parse_select(&t, &o).unwrap();
        p.answer(&sel, |db| db == "Sales").unwrap()
    }

    #[test]
    fn answers_the_views_with_their_columns_and_refuses_the_rest() {
        let mut p = Principals::with_fixed_roles();
        let mut l = ServerPrincipal {
            principal_id: 0,
            name: "app".into(),
            sid: vec![7; 16],
            kind: 'S',
            is_disabled: true,
            default_database: None,
            default_language: None,
            password_hash: Some(password_hash("x", [1, 1, 1, 1])),
            is_policy_checked: true,
            is_expiration_checked: false,
            is_fixed_role: false,
        };
        p.add_login(l.clone(), &["sysadmin"]);
        l.name = "CONTOSO\\g".into();
        l.kind = 'G';
        l.sid = vec![1, 5];
        p.add_login(l, &[]);
        p.add_user("Sales", "app", 'S', vec![7; 16]);
        let Reply::Rows { columns, rows } = ask(
            &p,
            "SELECT l.name, l.sid, l.password_hash FROM sys.sql_logins l",
        )
        .unwrap() else {
            panic!("rows expected")
        };
        assert_eq!(columns[1].ty, ColumnType::VarBinary(85));
        assert_eq!(rows.len(), 1, "only SQL logins in sys.sql_logins");
        assert_eq!(rows[0][1], Value::Bytes(vec![7; 16]));
        let Reply::Rows { rows, .. } =
            ask(&p, "SELECT name, type FROM sys.server_principals").unwrap()
        else {
            panic!("rows expected")
        };
        assert_eq!(rows.len(), 11, "9 roles and 2 logins");
        let Reply::Rows { rows, .. } = ask(
            &p,
            "SELECT role_principal_id, member_principal_id FROM sys.server_role_members",
        )
        .unwrap() else {
            panic!("rows expected")
        };
        assert_eq!(rows, vec![vec![Value::Int(3), Value::Int(257)]]);
        let Reply::Rows { rows, .. } = ask(
            &p,
            "SELECT dp.name, dp.sid FROM [Sales].sys.database_principals dp",
        )
        .unwrap() else {
            panic!("rows expected")
        };
        assert_eq!(
            rows.len(),
            6,
            "public, dbo, guest, INFORMATION_SCHEMA, sys and app"
        );
        // A column the view does not have, password_hash outside sys.sql_logins, a WHERE, a missing
        // database: SQL Server's errors, never a made-up answer.
        assert_eq!(
            ask(&p, "SELECT nope FROM sys.server_principals")
                .unwrap_err()
                .0,
            207
        );
        assert_eq!(
            ask(&p, "SELECT password_hash FROM sys.server_principals")
                .unwrap_err()
                .0,
            207
        );
        assert_eq!(
            ask(
                &p,
                "SELECT name FROM sys.server_principals WHERE type = 'S'"
            )
            .unwrap_err()
            .0,
            102
        );
        assert_eq!(
            ask(&p, "SELECT name FROM [Gone].sys.database_principals")
                .unwrap_err()
                .0,
            911
        );
    }

    #[test]
    fn hashes_like_sql_server_and_checks_passwords() {
        let h = password_hash("Pa55word!", [1, 2, 3, 4]);
        assert_eq!(h.len(), 70);
        assert_eq!(&h[..6], &[2, 0, 1, 2, 3, 4]);
        assert!(password_matches(&h, "Pa55word!"));
        assert!(!password_matches(&h, "pa55word!"));
        assert!(!password_matches(&h[..69], "Pa55word!"));
        assert_eq!(sql_sid("a").len(), 16);
        assert_eq!(windows_sid("a", 1001).len(), 28);
    }
}
