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
/// there; `source` (when it was read) tells which source login each user belonged to. A user whose
/// SID is no source login's was orphaned on the source already: the migration did not orphan it,
/// and it is said as information, not as a warning.
pub fn orphaned_users(
    users: &[DatabaseUser],
    target: &TargetLogins,
    source: Option<&LoginInventory>,
    map: &EntraMapping,
) -> Vec<OrphanedUser> {
    let empty = LoginInventory::default();
    let known = source.is_some();
    let source = source.unwrap_or(&empty);
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
            let already = known && source_login.is_none();
            OrphanedUser {
                database: u.database.clone(),
                user: u.name.clone(),
                finding: LoginFinding {
                    code: codes::ORPHANED_USER,
                    severity: if already {
                        Severity::Info
                    } else {
                        Severity::Warning
                    },
                    subject: format!("{}.{}", u.database, u.name),
                    message: if already {
                        format!(
                            "the user [{}] of database [{}] (SID {}) has no login on the target, as on the source already (no source login has its SID): the migration did not orphan it",
                            u.name, u.database, u.sid
                        )
                    } else {
                        format!(
                            "the user [{}] of database [{}] (SID {}) has no login on the target",
                            u.name, u.database, u.sid
                        )
                    },
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
        let o = orphaned_users(&users, &target, Some(&inv), &map);
        assert_eq!(o.len(), 2);
        assert_eq!(
            o[0].remap.as_ref().unwrap().sql(),
            "USE [Sales]; ALTER USER [app] WITH LOGIN = [app@contoso.com]"
        );
        assert_eq!(o[1].user, "ghost");
        assert!(o[1].remap.is_none() && o[1].finding.fix.contains("drop the user"));
        // No source login has the ghost's SID: orphaned on the source already (information), and
        // a warning when the source's logins were not read.
        assert_eq!(o[1].finding.severity, Severity::Info);
        assert!(o[1].finding.message.contains("as on the source already"));
        assert_eq!(o[0].finding.severity, Severity::Warning);
        let unread = orphaned_users(&users, &target, None, &map);
        assert_eq!(unread[1].finding.severity, Severity::Warning);
    }
}
