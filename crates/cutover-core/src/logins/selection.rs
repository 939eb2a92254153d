//! Which source logins a run migrates (`[logins] select`): by default those the migrated
//! databases' users map to (by SID), `["*"]` every login of the source (the server's own left
//! out), or the logins named. A name the source does not have is said, not ignored.

use super::inventory::{LoginInventory, SourceLogin};

/// The logins a run migrates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum LoginSelection {
    /// The logins the users of the migrated databases map to.
    #[default]
    UsedByDatabases,
    /// Every login of the source (system principals excepted).
    All,
    /// These logins (names compare case-insensitively).
    Names(Vec<String>),
}

impl LoginSelection {
    /// From `[logins] select`: absent = used by the databases, `["*"]` = all, else the names.
    pub fn from_config(select: Option<&[String]>) -> Result<Self, String> {
        match select {
            None => Ok(LoginSelection::UsedByDatabases),
            Some([one]) if one == "*" => Ok(LoginSelection::All),
            Some(names) => {
                if names.iter().any(|n| n == "*") {
                    return Err("[logins] select: \"*\" (every login) cannot be combined with names; write select = [\"*\"] or list the logins".into());
                }
                if let Some(i) = names.iter().position(|n| n.trim().is_empty()) {
                    return Err(format!(
                        "[logins] select: entry {} is empty; give the login as `cutover logins list` shows it",
                        i + 1
                    ));
                }
                Ok(LoginSelection::Names(names.to_vec()))
            }
        }
    }

    /// The selected logins of the inventory, in its order, and the names selected that the
    /// source does not have.
    pub fn pick<'a>(&self, inv: &'a LoginInventory) -> (Vec<&'a SourceLogin>, Vec<String>) {
        match self {
            LoginSelection::All => (inv.logins.iter().collect(), vec![]),
            LoginSelection::UsedByDatabases => (
                inv.logins
                    .iter()
                    .filter(|l| !l.used_by.is_empty())
                    .collect(),
                vec![],
            ),
            LoginSelection::Names(names) => {
                let picked = inv
                    .logins
                    .iter()
                    .filter(|l| names.iter().any(|n| n.eq_ignore_ascii_case(&l.name)))
                    .collect();
                let missing = names
                    .iter()
                    .filter(|n| !inv.logins.iter().any(|l| l.name.eq_ignore_ascii_case(n)))
                    .cloned()
                    .collect();
                (picked, missing)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::inventory::{LoginKind, Sid};
    use super::*;

    fn login(name: &str, used: bool) -> SourceLogin {
        SourceLogin {
            name: name.into(),
            sid: Sid(vec![1]),
            kind: LoginKind::WindowsLogin,
            default_database: None,
            default_language: None,
            disabled: false,
            server_roles: vec![],
            used_by: if used { vec!["Sales.u".into()] } else { vec![] },
        }
    }

    #[test]
    fn default_all_and_names() {
        let inv = LoginInventory {
            logins: vec![login("a", true), login("b", false)],
            users: vec![],
        };
        let names = |s: &LoginSelection| {
            let (p, m) = s.pick(&inv);
            (p.iter().map(|l| l.name.clone()).collect::<Vec<_>>(), m)
        };
        let d = LoginSelection::from_config(None).unwrap();
        assert_eq!(names(&d), (vec!["a".to_string()], vec![]));
        let all = LoginSelection::from_config(Some(&["*".into()])).unwrap();
        assert_eq!(names(&all).0, ["a", "b"]);
        let some = LoginSelection::from_config(Some(&["B".into(), "zz".into()])).unwrap();
        assert_eq!(
            names(&some),
            (vec!["b".to_string()], vec!["zz".to_string()])
        );
        assert!(LoginSelection::from_config(Some(&["*".into(), "a".into()])).is_err());
        assert!(LoginSelection::from_config(Some(&[" ".into()])).is_err());
    }
}
