//! What to do with each source login, given what the target already has: create it (SQL login with
//! its SID and hash, or a mapped Windows principal from the external provider), nothing (it exists
//! with the same SID: a resumed or repeated migration), or a finding (a login of that name with
//! another SID, a SID used by another name, an unmapped Windows login). An existing login is never
//! altered except to add the server roles and the disabled state it is missing, so planning again
//! after a partial run finishes the work and a complete run plans nothing.

use serde::Serialize;

use super::finding::{LoginFinding, Severity, codes};
use super::inventory::{LoginInventory, LoginKind, Sid, SourceLogin};
use super::mapping::EntraMapping;
use super::statements::{self, SqlStatement};

/// A login that exists on the target (`sys.server_principals` there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetLogin {
    pub name: String,
    pub sid: Sid,
    pub disabled: bool,
    pub server_roles: Vec<String>,
}

/// The target's logins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetLogins(pub Vec<TargetLogin>);

impl TargetLogins {
    /// Login names compare case-insensitively (the instance's default collation is CI).
    pub fn by_name(&self, name: &str) -> Option<&TargetLogin> {
        self.0
            .iter()
            .find(|l| l.name.to_lowercase() == name.to_lowercase())
    }
    pub fn by_sid(&self, sid: &Sid) -> Option<&TargetLogin> {
        self.0.iter().find(|l| &l.sid == sid)
    }
}

/// The decision for one login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginAction {
    /// Not on the target: these statements create it (then roles, then DISABLE if disabled).
    Create { statements: Vec<SqlStatement> },
    /// On the target with the same SID (or, for an Entra principal, the same name): these
    /// statements add what it lacks (usually none).
    Exists { statements: Vec<SqlStatement> },
    /// Left alone, with a finding saying why and what to do.
    Skip { finding: LoginFinding },
    /// Cannot be migrated as is: conflict on the target, no hash, a SID of the wrong length.
    Conflict { finding: LoginFinding },
}

impl LoginAction {
    pub fn statements(&self) -> &[SqlStatement] {
        match self {
            LoginAction::Create { statements } | LoginAction::Exists { statements } => statements,
            _ => &[],
        }
    }
    pub fn finding(&self) -> Option<&LoginFinding> {
        match self {
            LoginAction::Skip { finding } | LoginAction::Conflict { finding } => Some(finding),
            _ => None,
        }
    }
    pub fn label(&self) -> &'static str {
        match self {
            LoginAction::Create { .. } => "create",
            LoginAction::Exists { .. } => "exists",
            LoginAction::Skip { .. } => "skip",
            LoginAction::Conflict { .. } => "conflict",
        }
    }
}

/// One login's plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginPlan {
    /// The login on the source.
    pub source: String,
    pub kind: &'static str,
    /// Its name on the target (the Entra name for a mapped Windows login).
    pub target: String,
    pub sid: Sid,
    pub used_by: Vec<String>,
    pub action: LoginAction,
}

impl Serialize for LoginPlan {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let shown: Vec<&str> = self.action.statements().iter().map(|x| x.shown()).collect();
        let mut st = s.serialize_struct("LoginPlan", 7)?;
        st.serialize_field("login", &self.source)?;
        st.serialize_field("kind", self.kind)?;
        st.serialize_field("target", &self.target)?;
        st.serialize_field("sid", &self.sid)?;
        st.serialize_field("used_by", &self.used_by)?;
        st.serialize_field("action", self.action.label())?;
        st.serialize_field("statements", &shown)?;
        st.serialize_field("finding", &self.action.finding())?;
        st.end()
    }
}

fn catch_up(
    login: &SourceLogin,
    target_name: &str,
    have: Option<&TargetLogin>,
) -> Vec<SqlStatement> {
    let mut out = Vec::new();
    for role in &login.server_roles {
        if role.eq_ignore_ascii_case("public") {
            continue;
        }
        let present =
            have.is_some_and(|t| t.server_roles.iter().any(|r| r.eq_ignore_ascii_case(role)));
        if !present {
            out.push(statements::add_role_member(role, target_name));
        }
    }
    if login.disabled && !have.is_some_and(|t| t.disabled) {
        out.push(statements::disable_login(target_name));
    }
    out
}

fn conflict_other_sid(login: &SourceLogin, name: &str, target: &TargetLogin) -> LoginFinding {
    LoginFinding {
        code: codes::LOGIN_SID_CONFLICT,
        severity: Severity::Error,
        subject: login.name.clone(),
        message: format!(
            "the login [{name}] exists on the target with SID {} but has SID {} on the source; it was not changed, and the database users mapped to the source SID ({}) would be orphaned",
            target.sid,
            login.sid,
            if login.used_by.is_empty() {
                "none in the selected databases".to_string()
            } else {
                login.used_by.join(", ")
            }
        ),
        fix: format!(
            "if the target login is not in use, drop it (DROP LOGIN [{}]) and run `cutover logins migrate` again; otherwise keep it and after the cutover map the users to it with ALTER USER [user] WITH LOGIN = [{}]",
            name.replace(']', "]]"),
            name.replace(']', "]]")
        ),
    }
}

fn plan_one(login: &SourceLogin, target: &TargetLogins, map: &EntraMapping) -> LoginPlan {
    let mut plan = LoginPlan {
        source: login.name.clone(),
        kind: login.kind.label(),
        target: login.name.clone(),
        sid: login.sid.clone(),
        used_by: login.used_by.clone(),
        action: LoginAction::Exists { statements: vec![] },
    };
    plan.action = match &login.kind {
        LoginKind::Sql(_) => match (target.by_name(&login.name), target.by_sid(&login.sid)) {
            (Some(t), _) if t.sid == login.sid => LoginAction::Exists {
                statements: catch_up(login, &t.name, Some(t)),
            },
            (Some(t), _) => LoginAction::Conflict {
                finding: conflict_other_sid(login, &t.name, t),
            },
            (None, Some(other)) => LoginAction::Conflict {
                finding: LoginFinding {
                    code: codes::LOGIN_SID_IN_USE,
                    severity: Severity::Error,
                    subject: login.name.clone(),
                    message: format!(
                        "the SID {} of the source login [{}] is already used on the target by the login [{}]",
                        login.sid, login.name, other.name
                    ),
                    fix: format!(
                        "the source login was probably renamed: rename the target login (ALTER LOGIN [{}] WITH NAME = [{}]) or drop it, then run `cutover logins migrate` again",
                        other.name.replace(']', "]]"),
                        login.name.replace(']', "]]")
                    ),
                },
            },
            (None, None) => match statements::create_sql_login(login) {
                Ok(create) => {
                    let mut statements = vec![create];
                    statements.extend(catch_up(login, &login.name, None));
                    LoginAction::Create { statements }
                }
                Err(e) => LoginAction::Conflict {
                    finding: LoginFinding {
                        code: codes::LOGIN_FAILED,
                        severity: Severity::Error,
                        subject: login.name.clone(),
                        message: e.to_string(),
                        fix: "create the login on the target by hand, then run `cutover logins migrate` again".into(),
                    },
                },
            },
        },
        LoginKind::WindowsLogin | LoginKind::WindowsGroup => match map.entra_for(&login.name) {
            None => LoginAction::Skip {
                finding: LoginFinding {
                    code: codes::WINDOWS_LOGIN_UNMAPPED,
                    severity: Severity::Warning,
                    subject: login.name.clone(),
                    message: format!(
                        "the {} [{}] has no equivalent on Managed Instance and no Entra mapping; it was not created{}",
                        login.kind.label(),
                        login.name,
                        if login.used_by.is_empty() { String::new() } else { format!(" (used by {})", login.used_by.join(", ")) }
                    ),
                    fix: format!(
                        "add to the configuration file: [[logins.map]] windows = \"{}\" entra = \"<user, group or app in Microsoft Entra>\" (or --map '{}=<entra name>'), then run `cutover logins migrate` again",
                        login.name.replace('\\', "\\\\"),
                        login.name
                    ),
                },
            },
            Some(entra) => {
                plan.target = entra.to_string();
                match target.by_name(entra) {
                    Some(t) => LoginAction::Exists {
                        statements: catch_up(login, &t.name, Some(t)),
                    },
                    None => {
                        let mut statements = vec![statements::create_external_login(
                            entra,
                            login.default_database.as_deref(),
                        )];
                        statements.extend(catch_up(login, entra, None));
                        LoginAction::Create { statements }
                    }
                }
            }
        },
        LoginKind::External => match target.by_name(&login.name) {
            Some(t) => LoginAction::Exists {
                statements: catch_up(login, &t.name, Some(t)),
            },
            None => {
                let mut statements = vec![statements::create_external_login(
                    &login.name,
                    login.default_database.as_deref(),
                )];
                statements.extend(catch_up(login, &login.name, None));
                LoginAction::Create { statements }
            }
        },
    };
    plan
}

/// The plan of every login of the inventory, in its order.
pub fn plan_logins(
    inventory: &LoginInventory,
    target: &TargetLogins,
    map: &EntraMapping,
) -> Vec<LoginPlan> {
    inventory
        .logins
        .iter()
        .map(|l| plan_one(l, target, map))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::inventory::{PasswordHash, SqlLoginDetails};
    use super::super::mapping::EntraMap;
    use super::*;

    fn sid(n: u8) -> Sid {
        Sid(vec![n; 16])
    }

    fn sql(name: &str, n: u8) -> SourceLogin {
        SourceLogin {
            name: name.into(),
            sid: sid(n),
            kind: LoginKind::Sql(SqlLoginDetails {
                password_hash: Some(PasswordHash::new(vec![2, 0, 0xAA, 0xBB])),
                check_policy: true,
                check_expiration: false,
            }),
            default_database: Some("master".into()),
            default_language: None,
            disabled: false,
            server_roles: vec!["public".into(), "dbcreator".into()],
            used_by: vec!["Sales.app".into()],
        }
    }

    fn windows(name: &str) -> SourceLogin {
        SourceLogin {
            kind: LoginKind::WindowsLogin,
            sid: Sid(vec![1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 9]),
            server_roles: vec![],
            ..sql(name, 0)
        }
    }

    fn target(name: &str, n: u8, roles: &[&str], disabled: bool) -> TargetLogin {
        TargetLogin {
            name: name.into(),
            sid: sid(n),
            disabled,
            server_roles: roles.iter().map(|r| r.to_string()).collect(),
        }
    }

    fn inv(logins: Vec<SourceLogin>) -> LoginInventory {
        LoginInventory {
            logins,
            users: vec![],
        }
    }

    fn map() -> EntraMapping {
        EntraMapping::new(
            vec![EntraMap {
                windows: "CONTOSO\\app".into(),
                entra: "app@contoso.com".into(),
            }],
            "test",
        )
        .unwrap()
    }

    fn shown(a: &LoginAction) -> Vec<&str> {
        a.statements().iter().map(|s| s.shown()).collect()
    }

    #[test]
    fn a_missing_sql_login_is_created_with_its_roles_and_state() {
        let mut l = sql("app", 1);
        l.disabled = true;
        let p = plan_logins(&inv(vec![l]), &TargetLogins::default(), &map());
        assert_eq!(p[0].action.label(), "create");
        let s = shown(&p[0].action);
        assert!(
            s[0].starts_with("CREATE LOGIN [app] WITH PASSWORD = <hash> HASHED, SID = 0x0101"),
            "{s:?}"
        );
        assert_eq!(
            &s[1..],
            [
                "ALTER SERVER ROLE [dbcreator] ADD MEMBER [app]",
                "ALTER LOGIN [app] DISABLE"
            ]
        );
    }

    #[test]
    fn same_sid_is_a_no_op_and_a_partial_run_is_finished() {
        let done = TargetLogins(vec![target("APP", 1, &["dbcreator"], false)]);
        let p = plan_logins(&inv(vec![sql("app", 1)]), &done, &map());
        assert_eq!(p[0].action, LoginAction::Exists { statements: vec![] });
        // Created but the role was not added yet (interrupted run): only the role is planned.
        let half = TargetLogins(vec![target("app", 1, &[], false)]);
        let p = plan_logins(&inv(vec![sql("app", 1)]), &half, &map());
        assert_eq!(
            shown(&p[0].action),
            ["ALTER SERVER ROLE [dbcreator] ADD MEMBER [app]"]
        );
        assert_eq!(p[0].action.label(), "exists");
    }

    #[test]
    fn another_sid_is_a_finding_naming_both_and_nothing_is_sent() {
        let t = TargetLogins(vec![target("app", 9, &[], false)]);
        let p = plan_logins(&inv(vec![sql("app", 1)]), &t, &map());
        let f = p[0].action.finding().unwrap();
        assert_eq!(f.code, codes::LOGIN_SID_CONFLICT);
        assert!(
            f.message.contains(&sid(9).hex()) && f.message.contains(&sid(1).hex()),
            "{}",
            f.message
        );
        assert!(f.message.contains("Sales.app") && f.fix.contains("DROP LOGIN [app]"));
        assert!(p[0].action.statements().is_empty());
        // The SID taken by another name.
        let t = TargetLogins(vec![target("renamed", 1, &[], false)]);
        let p = plan_logins(&inv(vec![sql("app", 1)]), &t, &map());
        assert_eq!(p[0].action.finding().unwrap().code, codes::LOGIN_SID_IN_USE);
    }

    #[test]
    fn windows_logins_are_mapped_or_skipped_with_what_to_do() {
        let p = plan_logins(
            &inv(vec![windows("contoso\\APP"), windows("CONTOSO\\batch")]),
            &TargetLogins::default(),
            &map(),
        );
        assert_eq!(p[0].target, "app@contoso.com");
        assert_eq!(
            shown(&p[0].action),
            ["CREATE LOGIN [app@contoso.com] FROM EXTERNAL PROVIDER"]
        );
        let f = p[1].action.finding().unwrap();
        assert_eq!(
            (p[1].action.label(), f.code),
            ("skip", codes::WINDOWS_LOGIN_UNMAPPED)
        );
        assert!(
            f.fix
                .contains("[[logins.map]] windows = \"CONTOSO\\\\batch\""),
            "{}",
            f.fix
        );
        // Mapped and already there: nothing to do.
        let t = TargetLogins(vec![TargetLogin {
            name: "app@contoso.com".into(),
            sid: Sid(vec![3; 16]),
            disabled: false,
            server_roles: vec![],
        }]);
        let p = plan_logins(&inv(vec![windows("CONTOSO\\app")]), &t, &map());
        assert_eq!(p[0].action, LoginAction::Exists { statements: vec![] });
    }

    #[test]
    fn json_shows_statements_without_the_hash() {
        let p = plan_logins(&inv(vec![sql("app", 1)]), &TargetLogins::default(), &map());
        let json = serde_json::to_string(&p).unwrap();
        assert!(
            json.contains("<hash> HASHED") && !json.contains("AABB"),
            "{json}"
        );
        assert!(json.contains("\"action\":\"create\""));
    }
}
