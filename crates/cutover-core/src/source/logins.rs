//! Logins over a SQL connection (the source's, or the Managed Instance's with the same options):
//! reading the catalog views (`sys.server_principals`, `sys.sql_logins`, `sys.server_role_members`,
//! each database's `sys.database_principals`) into the `logins` types, and applying a login plan
//! statement by statement. The views are read whole and joined here (a few hundred rows at most),
//! so the queries stay plain SELECTs of documented columns. A password hash is read into a
//! `PasswordHash` and leaves only inside the CREATE LOGIN sent to the target.

use std::collections::HashMap;

use tiberius::Row;

use super::client::SourceClient;
use super::error::SourceError;
use super::queries::RowError;
use super::quote::quote_ident;
use crate::logins::inventory::{LoginKind, PasswordHash, Sid, SqlLoginDetails, is_system_login};
use crate::logins::{
    DatabaseUser, LoginAction, LoginInventory, LoginPlan, SourceLogin, TargetLogin, TargetLogins,
};
use crate::model::LoginStatus;

/// Every server principal (logins and roles; filtered in [`build_inventory`]).
pub const SERVER_PRINCIPALS: &str = "SELECT p.name, p.principal_id, p.sid, p.type, p.is_disabled, \
p.default_database_name, p.default_language_name FROM sys.server_principals p";

/// The SQL logins' password settings and hashes (joined to SERVER_PRINCIPALS by principal_id).
pub const SQL_LOGINS: &str = "SELECT l.principal_id, l.password_hash, l.is_policy_checked, \
l.is_expiration_checked FROM sys.sql_logins l";

/// Server role memberships.
pub const SERVER_ROLE_MEMBERS: &str =
    "SELECT rm.role_principal_id, rm.member_principal_id FROM sys.server_role_members rm";

/// One database's principals: `{db}` is the QUOTENAME-quoted name (a three-part name cannot be a
/// parameter).
pub const DATABASE_PRINCIPALS: &str =
    "SELECT dp.name, dp.principal_id, dp.type, dp.sid FROM {db}.sys.database_principals dp";

fn bad(column: &'static str, detail: impl std::fmt::Display) -> RowError {
    RowError {
        column,
        detail: detail.to_string(),
    }
}

fn text(row: &Row, c: &'static str) -> Result<Option<String>, RowError> {
    row.try_get::<&str, _>(c)
        .map(|v| v.map(str::to_string))
        .map_err(|e| bad(c, e))
}

fn bytes(row: &Row, c: &'static str) -> Result<Option<Vec<u8>>, RowError> {
    row.try_get::<&[u8], _>(c)
        .map(|v| v.map(<[u8]>::to_vec))
        .map_err(|e| bad(c, e))
}

fn int(row: &Row, c: &'static str) -> Result<i64, RowError> {
    if let Ok(Some(v)) = row.try_get::<i32, _>(c) {
        return Ok(i64::from(v));
    }
    row.try_get::<i64, _>(c)
        .map_err(|e| bad(c, e))?
        .ok_or_else(|| bad(c, "is NULL"))
}

fn flag(row: &Row, c: &'static str) -> Result<bool, RowError> {
    if let Ok(v) = row.try_get::<bool, _>(c) {
        return Ok(v.unwrap_or(false));
    }
    Ok(int(row, c)? != 0)
}

/// A `sys.server_principals` row.
#[derive(Debug, Clone)]
pub struct PrincipalRow {
    pub name: String,
    pub principal_id: i64,
    pub sid: Vec<u8>,
    pub kind: String,
    pub disabled: bool,
    pub default_database: Option<String>,
    pub default_language: Option<String>,
}

/// A `sys.sql_logins` row (the hash redacted in `Debug`).
#[derive(Debug, Clone)]
pub struct SqlLoginRow {
    pub principal_id: i64,
    pub hash: Option<PasswordHash>,
    pub policy: bool,
    pub expiration: bool,
}

/// A `sys.database_principals` row.
#[derive(Debug, Clone)]
pub struct DatabasePrincipalRow {
    pub name: String,
    pub principal_id: i64,
    pub kind: String,
    pub sid: Option<Vec<u8>>,
}

fn principal(row: &Row) -> Result<PrincipalRow, RowError> {
    Ok(PrincipalRow {
        name: text(row, "name")?.ok_or_else(|| bad("name", "is NULL"))?,
        principal_id: int(row, "principal_id")?,
        sid: bytes(row, "sid")?.unwrap_or_default(),
        kind: text(row, "type")?.unwrap_or_default().trim().to_uppercase(),
        disabled: flag(row, "is_disabled")?,
        default_database: text(row, "default_database_name")?,
        default_language: text(row, "default_language_name")?,
    })
}

fn sql_login(row: &Row) -> Result<SqlLoginRow, RowError> {
    Ok(SqlLoginRow {
        principal_id: int(row, "principal_id")?,
        hash: bytes(row, "password_hash")?.map(PasswordHash::new),
        policy: flag(row, "is_policy_checked")?,
        expiration: flag(row, "is_expiration_checked")?,
    })
}

fn database_principal(row: &Row) -> Result<DatabasePrincipalRow, RowError> {
    Ok(DatabasePrincipalRow {
        name: text(row, "name")?.ok_or_else(|| bad("name", "is NULL"))?,
        principal_id: int(row, "principal_id")?,
        kind: text(row, "type")?.unwrap_or_default().trim().to_uppercase(),
        sid: bytes(row, "sid")?,
    })
}

const LOGIN_TYPES: [&str; 5] = ["S", "U", "G", "E", "X"];

fn roles_of(principals: &[PrincipalRow], members: &[(i64, i64)]) -> HashMap<i64, Vec<String>> {
    let names: HashMap<i64, &str> = principals
        .iter()
        .filter(|p| p.kind == "R")
        .map(|p| (p.principal_id, p.name.as_str()))
        .collect();
    let mut out: HashMap<i64, Vec<String>> = HashMap::new();
    for (role, member) in members {
        if let Some(n) = names.get(role) {
            out.entry(*member).or_default().push(n.to_string());
        }
    }
    for v in out.values_mut() {
        v.sort();
    }
    out
}

/// Joins the views' rows into the inventory: logins of types S, U, G, E, X (the server's own
/// principals left out), their roles, and the users (principal_id > 4: not dbo, guest,
/// INFORMATION_SCHEMA, sys) of the databases, linked by SID.
pub fn build_inventory(
    principals: &[PrincipalRow],
    sql_logins: &[SqlLoginRow],
    members: &[(i64, i64)],
    users: &[(String, DatabasePrincipalRow)],
) -> LoginInventory {
    let roles = roles_of(principals, members);
    let mut logins: Vec<SourceLogin> = principals
        .iter()
        .filter(|p| LOGIN_TYPES.contains(&p.kind.as_str()))
        .filter(|p| !is_system_login(&p.name, p.principal_id))
        .map(|p| {
            let kind = match p.kind.as_str() {
                "S" => {
                    let l = sql_logins.iter().find(|l| l.principal_id == p.principal_id);
                    LoginKind::Sql(SqlLoginDetails {
                        password_hash: l.and_then(|l| l.hash.clone()),
                        check_policy: l.is_some_and(|l| l.policy),
                        check_expiration: l.is_some_and(|l| l.expiration),
                    })
                }
                "U" => LoginKind::WindowsLogin,
                "G" => LoginKind::WindowsGroup,
                _ => LoginKind::External,
            };
            SourceLogin {
                name: p.name.clone(),
                sid: Sid(p.sid.clone()),
                kind,
                default_database: p.default_database.clone(),
                default_language: p.default_language.clone(),
                disabled: p.disabled,
                server_roles: roles.get(&p.principal_id).cloned().unwrap_or_default(),
                used_by: Vec::new(),
            }
        })
        .collect();
    logins.sort_by_key(|l| l.name.to_lowercase());
    let mut inv = LoginInventory {
        logins,
        users: database_users(users),
    };
    inv.link_users();
    inv
}

/// The users of databases that can map to a login.
pub fn database_users(rows: &[(String, DatabasePrincipalRow)]) -> Vec<DatabaseUser> {
    rows.iter()
        .filter(|(_, u)| u.principal_id > 4 && LOGIN_TYPES.contains(&u.kind.as_str()))
        .filter_map(|(db, u)| {
            u.sid
                .as_ref()
                .filter(|s| !s.is_empty())
                .map(|s| DatabaseUser {
                    database: db.clone(),
                    name: u.name.clone(),
                    sid: Sid(s.clone()),
                })
        })
        .collect()
}

/// The target's logins as the plan needs them.
pub fn build_target(principals: &[PrincipalRow], members: &[(i64, i64)]) -> TargetLogins {
    let roles = roles_of(principals, members);
    TargetLogins(
        principals
            .iter()
            .filter(|p| p.kind != "R")
            .map(|p| TargetLogin {
                name: p.name.clone(),
                sid: Sid(p.sid.clone()),
                disabled: p.disabled,
                server_roles: roles.get(&p.principal_id).cloned().unwrap_or_default(),
            })
            .collect(),
    )
}

/// What happened to one login.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LoginOutcome {
    #[serde(flatten)]
    pub plan: LoginPlan,
    #[serde(flatten)]
    pub status: LoginStatus,
    /// The statements sent (as shown: no hash).
    pub sent: Vec<String>,
}

impl SourceClient {
    fn unexpected(&self, what: &'static str, e: RowError) -> SourceError {
        SourceError::Unexpected {
            server: self.label().to_string(),
            what,
            detail: e.to_string(),
        }
    }

    async fn principal_rows(
        &mut self,
    ) -> Result<(Vec<PrincipalRow>, Vec<(i64, i64)>), SourceError> {
        let rows = self.rows(SERVER_PRINCIPALS, &[]).await?;
        let principals = rows
            .iter()
            .map(principal)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.unexpected("sys.server_principals", e))?;
        let rows = self.rows(SERVER_ROLE_MEMBERS, &[]).await?;
        let members = rows
            .iter()
            .map(|r| Ok((int(r, "role_principal_id")?, int(r, "member_principal_id")?)))
            .collect::<Result<Vec<_>, RowError>>()
            .map_err(|e| self.unexpected("sys.server_role_members", e))?;
        Ok((principals, members))
    }

    /// The users of one database (`sys.database_principals`), the fixed ones left out.
    pub async fn database_users(
        &mut self,
        database: &str,
    ) -> Result<Vec<DatabaseUser>, SourceError> {
        let sql = DATABASE_PRINCIPALS.replace("{db}", &quote_ident(database));
        let rows = self.rows(&sql, &[]).await?;
        let users = rows
            .iter()
            .map(|r| database_principal(r).map(|u| (database.to_string(), u)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.unexpected("sys.database_principals", e))?;
        Ok(database_users(&users))
    }

    /// The source's logins and the users of `databases` mapped to them.
    pub async fn login_inventory(
        &mut self,
        databases: &[String],
    ) -> Result<LoginInventory, SourceError> {
        let (principals, members) = self.principal_rows().await?;
        let rows = self.rows(SQL_LOGINS, &[]).await?;
        let sql_logins = rows
            .iter()
            .map(sql_login)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.unexpected("sys.sql_logins", e))?;
        let mut users = Vec::new();
        for db in databases {
            let sql = DATABASE_PRINCIPALS.replace("{db}", &quote_ident(db));
            let rows = self.rows(&sql, &[]).await?;
            for r in &rows {
                users.push((
                    db.clone(),
                    database_principal(r)
                        .map_err(|e| self.unexpected("sys.database_principals", e))?,
                ));
            }
        }
        Ok(build_inventory(&principals, &sql_logins, &members, &users))
    }

    /// The logins that exist on this server (the target), with their roles.
    pub async fn target_logins(&mut self) -> Result<TargetLogins, SourceError> {
        let (principals, members) = self.principal_rows().await?;
        Ok(build_target(&principals, &members))
    }

    /// Sends each plan's statements in order; a login whose statement fails is `Failed` with the
    /// server's message (hash removed) and the next login goes on. Planned against the target's
    /// current logins, so running it again only does what is left.
    pub async fn apply_login_plans(&mut self, plans: Vec<LoginPlan>) -> Vec<LoginOutcome> {
        let mut out = Vec::with_capacity(plans.len());
        for plan in plans {
            let mut sent = Vec::new();
            let mut failure = None;
            for s in plan.action.statements() {
                match self.execute(s.sql(), &[]).await {
                    Ok(()) => sent.push(s.shown().to_string()),
                    Err(e) => {
                        failure = Some(format!("{}: {}", s.shown(), s.scrub(&e.to_string())));
                        break;
                    }
                }
            }
            let status = match (&plan.action, failure) {
                (_, Some(reason)) => LoginStatus::Failed { reason },
                (LoginAction::Create { .. }, None) => LoginStatus::Created,
                (LoginAction::Exists { .. }, None) => LoginStatus::Exists,
                (LoginAction::Skip { finding }, None) => LoginStatus::Skipped {
                    reason: format!("{} ({})", finding.message, finding.fix),
                },
                (LoginAction::Conflict { finding }, None) => LoginStatus::Failed {
                    reason: format!("{} ({})", finding.message, finding.fix),
                },
            };
            out.push(LoginOutcome { plan, status, sent });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, id: i64, kind: &str) -> PrincipalRow {
        PrincipalRow {
            name: name.into(),
            principal_id: id,
            sid: vec![id as u8; 16],
            kind: kind.into(),
            disabled: false,
            default_database: Some("master".into()),
            default_language: None,
        }
    }

    #[test]
    fn joins_the_views_into_an_inventory() {
        let principals = vec![
            p("sa", 1, "S"),
            p("sysadmin", 3, "R"),
            p("public", 2, "R"),
            p("##MS_x##", 257, "C"),
            p("NT AUTHORITY\\SYSTEM", 258, "U"),
            p("app", 259, "S"),
            p("CONTOSO\\DBAs", 260, "G"),
        ];
        let sql_logins = vec![SqlLoginRow {
            principal_id: 259,
            hash: Some(PasswordHash::new(vec![2, 0, 1])),
            policy: true,
            expiration: true,
        }];
        let users = vec![
            (
                "Sales".to_string(),
                DatabasePrincipalRow {
                    name: "dbo".into(),
                    principal_id: 1,
                    kind: "S".into(),
                    sid: Some(vec![1]),
                },
            ),
            (
                "Sales".to_string(),
                DatabasePrincipalRow {
                    name: "app".into(),
                    principal_id: 5,
                    kind: "S".into(),
                    sid: Some(vec![3; 16]),
                },
            ),
            (
                "Sales".to_string(),
                DatabasePrincipalRow {
                    name: "role".into(),
                    principal_id: 6,
                    kind: "R".into(),
                    sid: Some(vec![9]),
                },
            ),
        ];
        let mut principals2 = principals.clone();
        principals2[5].sid = vec![3; 16];
        let inv = build_inventory(&principals2, &sql_logins, &[(3, 260), (2, 259)], &users);
        let names: Vec<&str> = inv.logins.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["app", "CONTOSO\\DBAs"]);
        assert!(
            matches!(&inv.logins[0].kind, LoginKind::Sql(d) if d.check_expiration && d.password_hash.is_some())
        );
        assert_eq!(inv.logins[0].used_by, ["Sales.app"]);
        assert_eq!(inv.logins[0].server_roles, ["public"]);
        assert_eq!(inv.logins[1].server_roles, ["sysadmin"]);
        assert_eq!(inv.users.len(), 1);
        let target = build_target(&principals, &[(3, 1)]);
        assert_eq!(target.by_name("SA").unwrap().server_roles, ["sysadmin"]);
        assert!(target.by_name("sysadmin").is_none());
    }
}
