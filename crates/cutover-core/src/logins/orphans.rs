//! Orphaned users after a database's cutover: database users whose SID matches no login on the
//! target. For a user whose source login was migrated under a name that exists on the target (a
//! Windows login now an Entra principal, a conflicting SID kept), the fix is `ALTER USER ... WITH
//! LOGIN`; otherwise the finding says to create the login or drop the user.

use serde::Serialize;

use super::finding::{LoginFinding, Severity, codes};
use super::inventory::{DatabaseUser, LoginInventory};
use super::mapping::EntraMapping;
use super::plan::TargetLogins;
use super::statements::{SqlStatement, alter_user_with_login};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrphanedUser {
    pub database: String,
    pub user: String,
    pub finding: LoginFinding,
    /// The statement that maps it to its login, when that login is on the target.
    #[serde(serialize_with = "shown_opt")]
    pub remap: Option<SqlStatement>,
}

fn shown_opt<S: serde::Serializer>(v: &Option<SqlStatement>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(x) => s.serialize_some(x.shown()),
        None => s.serialize_none(),
    }
}

/// The target database's users (`users`, read on the target after cutover) that have no login
/// there; `source` tells which source login each user belonged to.
pub fn orphaned_users(
    users: &[DatabaseUser],
    target: &TargetLogins,
    source: &LoginInventory,
    map: &EntraMapping,
) -> Vec<OrphanedUser> {
    users
        .iter()
        .filter(|u| target.by_sid(&u.sid).is_none())
        .map(|u| {
            let source_login = source.login_by_sid(&u.sid);
            let target_name = source_login.map(|l| {
                map.entra_for(&l.name)
                    .map(str::to_string)
                    .unwrap_or_else(|| l.name.clone())
            });
            let on_target = target_name
                .as_deref()
                .and_then(|n| target.by_name(n))
                .map(|t| t.name.clone());
            let remap = on_target
                .as_deref()
                .map(|l| alter_user_with_login(&u.database, &u.name, l));
            let fix = match (&remap, &source_login) {
                (Some(s), _) => format!("map it to its login: {}", s.shown()),
                (None, Some(l)) => format!(
                    "migrate its login [{}] (cutover logins migrate), then map the user with ALTER USER [{}] WITH LOGIN = [<login>]",
                    l.name, u.name
                ),
                (None, None) => format!(
                    "its SID {} belongs to no source login: create a login for it and run ALTER USER [{}] WITH LOGIN = [<login>], or drop the user",
                    u.sid, u.name
                ),
            };
            OrphanedUser {
                database: u.database.clone(),
                user: u.name.clone(),
                finding: LoginFinding {
                    code: codes::ORPHANED_USER,
                    severity: Severity::Warning,
                    subject: format!("{}.{}", u.database, u.name),
                    message: format!(
                        "the user [{}] of database [{}] (SID {}) has no login on the target",
                        u.name, u.database, u.sid
                    ),
                    fix,
                },
                remap,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::inventory::{LoginKind, Sid, SourceLogin};
    use super::super::mapping::EntraMap;
    use super::super::plan::TargetLogin;
    use super::*;

    #[test]
    fn orphans_are_found_and_remapped_when_their_login_is_there() {
        let win = SourceLogin {
            name: "CONTOSO\\app".into(),
            sid: Sid(vec![1, 5, 9]),
            kind: LoginKind::WindowsLogin,
            default_database: None,
            default_language: None,
            disabled: false,
            server_roles: vec![],
            used_by: vec![],
        };
        let inv = LoginInventory {
            logins: vec![win],
            users: vec![],
        };
        let map = EntraMapping::new(
            vec![EntraMap {
                windows: "CONTOSO\\app".into(),
                entra: "app@contoso.com".into(),
            }],
            "t",
        )
        .unwrap();
        let target = TargetLogins(vec![
            TargetLogin {
                name: "app@contoso.com".into(),
                sid: Sid(vec![7; 16]),
                disabled: false,
                server_roles: vec![],
            },
            TargetLogin {
                name: "ok".into(),
                sid: Sid(vec![2; 16]),
                disabled: false,
                server_roles: vec![],
            },
        ]);
        let users = vec![
            DatabaseUser {
                database: "Sales".into(),
                name: "app".into(),
                sid: Sid(vec![1, 5, 9]),
            },
            DatabaseUser {
                database: "Sales".into(),
                name: "fine".into(),
                sid: Sid(vec![2; 16]),
            },
            DatabaseUser {
                database: "Sales".into(),
                name: "ghost".into(),
                sid: Sid(vec![4; 16]),
            },
        ];
        let o = orphaned_users(&users, &target, &inv, &map);
        assert_eq!(o.len(), 2);
        assert_eq!(
            o[0].remap.as_ref().unwrap().sql(),
            "USE [Sales]; ALTER USER [app] WITH LOGIN = [app@contoso.com]"
        );
        assert_eq!(o[1].user, "ghost");
        assert!(o[1].remap.is_none() && o[1].finding.fix.contains("drop the user"));
    }
}
