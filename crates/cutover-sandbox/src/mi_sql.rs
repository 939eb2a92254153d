//! The Managed Instance's SQL side, on its own TDS port: its logins and server roles, the databases
//! restored on it with their users (as a restore brings them, SIDs included), the catalog views a
//! client reads (`sys.server_principals`, `sys.sql_logins`, `sys.server_role_members`,
//! `[db].sys.database_principals`, through `principals`) and the statements that manage logins
//! (`login_ddl`: CREATE LOGIN ... HASHED, SID and FROM EXTERNAL PROVIDER, a duplicate name or SID
//! refused, FROM WINDOWS refused as Managed Instance does). A SQL login created with a hash logs in
//! with the password that hash was made from. Anything else gets a SQL Server style error.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use super::instance::LoginSpec;
use super::login_ddl::{self, Done};
use super::principals::{Principals, password_matches};
use super::sql;
use super::sql_select;
use super::tds::{LoginError, Reply, Request, Session, SqlBackend};

#[derive(Debug, Default)]
struct MiState {
    principals: Principals,
    databases: Vec<String>,
}

/// The instance's SQL endpoint. `admins` are the logins of its administrator (server admin, sysadmin).
pub struct ManagedInstanceSql {
    server_name: String,
    admins: Vec<LoginSpec>,
    state: Mutex<MiState>,
}

fn error(number: u32, message: impl Into<String>) -> Reply {
    Reply::Error {
        number,
        state: 1,
        class: 16,
        message: message.into(),
    }
}

impl ManagedInstanceSql {
    pub fn new(server_name: &str, admins: Vec<LoginSpec>) -> Self {
        ManagedInstanceSql {
            server_name: server_name.into(),
            admins,
            state: Mutex::new(MiState {
                principals: Principals::with_fixed_roles(),
                databases: Vec::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MiState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A database restored on the instance with its users `(name, type, sid)`, as in its backup.
    pub fn add_restored_database(&self, name: &str, users: &[(String, char, Vec<u8>)]) {
        let mut st = self.lock();
        if !st.databases.iter().any(|d| d.eq_ignore_ascii_case(name)) {
            st.databases.push(name.to_string());
        }
        for (user, kind, sid) in users {
            st.principals.add_user(name, user, *kind, sid.clone());
        }
    }

    /// A copy of the principals (for tests that look at the server from outside).
    pub fn principals(&self) -> Principals {
        self.lock().principals.clone()
    }

    /// Serves the instance on 127.0.0.1 (ephemeral port): its address and the serving task.
    pub async fn serve(
        self: Arc<Self>,
    ) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
        let server = super::tds::server::TdsServer::bind(self).await?;
        let addr = server.local_addr();
        Ok((addr, tokio::spawn(server.serve())))
    }

    fn may_manage(&self, st: &MiState, user: &str) -> bool {
        if self
            .admins
            .iter()
            .any(|a| a.user.eq_ignore_ascii_case(user) && a.sysadmin)
        {
            return true;
        }
        let Some(id) = st.principals.login(user).map(|l| l.principal_id) else {
            return false;
        };
        st.principals.role_members.iter().any(|(r, m)| {
            *m == id
                && st.principals.server.iter().any(|p| {
                    p.principal_id == *r && (p.name == "sysadmin" || p.name == "securityadmin")
                })
        })
    }

    fn run_one(&self, session: &mut Session, tokens: &[sql::Token], originals: &[String]) -> Reply {
        // Session options clients send after login (pytds, tsql): accepted, no effect here.
        if matches!(tokens.first(), Some(sql::Token::Word(w)) if w == "SET")
            && tokens.len() >= 3
            && !matches!(tokens.get(1), Some(sql::Token::Var(_)))
        {
            return Reply::Done {
                rows_affected: None,
            };
        }
        let mut st = self.lock();
        if let Some(sel) = sql_select::parse_select(tokens, originals) {
            let dbs = st.databases.clone();
            let exists = |db: &str| {
                dbs.iter().any(|d| d.eq_ignore_ascii_case(db)) || db.eq_ignore_ascii_case("master")
            };
            if let Some(r) = st.principals.answer(&sel, exists) {
                return r.unwrap_or_else(|(n, m)| error(n, m));
            }
        }
        let manage = self.may_manage(&st, &session.user);
        let database = session.database.clone();
        match login_ddl::run(
            &mut st.principals,
            tokens,
            originals,
            manage,
            &database,
            true,
        ) {
            Some(Ok(Done::Changed)) => Reply::Done {
                rows_affected: None,
            },
            Some(Ok(Done::Use(db))) => {
                if db.eq_ignore_ascii_case("master")
                    || st.databases.iter().any(|d| d.eq_ignore_ascii_case(&db))
                {
                    session.database = db;
                    Reply::Done {
                        rows_affected: None,
                    }
                } else {
                    error(
                        911,
                        format!(
                            "Database '{db}' does not exist. Make sure that the name is entered correctly."
                        ),
                    )
                }
            }
            Some(Err((n, m))) => error(n, m),
            None => Reply::Error {
                number: 102,
                state: 1,
                class: 15,
                message: format!(
                    "Incorrect syntax near '{}'. (The sandbox's Managed Instance answers logins and principals only.)",
                    originals.first().map(String::as_str).unwrap_or("")
                ),
            },
        }
    }
}

#[async_trait::async_trait]
impl SqlBackend for ManagedInstanceSql {
    fn server_name(&self) -> String {
        self.server_name.clone()
    }

    fn login(&self, user: &str, password: &str, database: &str) -> Result<Session, LoginError> {
        let failed = || LoginError {
            message: format!("Login failed for user '{user}'."),
        };
        let st = self.lock();
        let admin = self
            .admins
            .iter()
            .any(|a| a.user.eq_ignore_ascii_case(user) && a.password == password);
        let by_hash = st.principals.login(user).is_some_and(|l| {
            l.kind == 'S'
                && !l.is_disabled
                && l.password_hash
                    .as_deref()
                    .is_some_and(|h| password_matches(h, password))
        });
        if !admin && !by_hash {
            return Err(failed());
        }
        let database = if database.is_empty() {
            "master"
        } else {
            database
        };
        if !database.eq_ignore_ascii_case("master")
            && !st
                .databases
                .iter()
                .any(|d| d.eq_ignore_ascii_case(database))
        {
            return Err(LoginError {
                message: format!(
                    "Cannot open database \"{database}\" requested by the login. The login failed. Login failed for user '{user}'."
                ),
            });
        }
        Ok(Session {
            user: user.to_string(),
            database: database.to_string(),
        })
    }

    async fn execute(&self, session: &mut Session, request: Request) -> Vec<Reply> {
        let (tokens, originals) = match sql::tokenize(&request.sql) {
            Ok(t) => t,
            Err(e) => {
                return vec![error(
                    105,
                    format!(
                        "Unclosed quotation mark after the character string '{}'.",
                        e.near
                    ),
                )];
            }
        };
        let mut out = Vec::new();
        for (t, o) in sql::statements(tokens, originals) {
            let r = self.run_one(session, &t, &o);
            let failed = matches!(r, Reply::Error { .. });
            out.push(r);
            if failed {
                break;
            }
        }
        if out.is_empty() {
            out.push(Reply::Done {
                rows_affected: None,
            });
        }
        out
    }
}
