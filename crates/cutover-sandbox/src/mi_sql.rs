//! The Managed Instance's SQL side, on its own TDS port: its logins and server roles, the databases
//! restored on it with their users (as a restore brings them, SIDs included), the catalog views a
//! client reads (`sys.server_principals`, `sys.sql_logins`, `sys.server_role_members`,
//! `[db].sys.database_principals`, through `principals`) and the statements that manage logins
//! (`login_ddl`: CREATE LOGIN ... HASHED, SID and FROM EXTERNAL PROVIDER, a duplicate name or SID
//! refused, FROM WINDOWS refused as Managed Instance does). A SQL login created with a hash logs in
//! with the password that hash was made from. Its catalog (`mi_catalog`): sys.databases with the
//! databases LRS restores (RESTORING, then ONLINE after completion: `set_lrs` takes the LRS
//! service's view), sys.server_resource_stats (tier, storage), SERVERPROPERTY and
//! IS_SRVROLEMEMBER, and master.sys.certificates with the TDE certificates uploaded through ARM
//! (`set_certificates`). Anything else gets a SQL Server style error.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use super::arm::LrsDatabase;
use super::instance::LoginSpec;
use super::login_ddl::{self, Done};
use super::mi_catalog::{self, InstanceShape, MiDatabase};
use super::principals::{Principals, password_matches};
use super::sql;
use super::sql_select;
use super::tds::{LoginError, Reply, Request, Session, SqlBackend};

#[derive(Debug, Default)]
struct MiState {
    principals: Principals,
    databases: Vec<String>,
    /// The databases created on the instance (not by LRS), with their catalog facts.
    own: Vec<MiDatabase>,
    /// User database ids in order of first sight (id = 5 + index).
    ids: Vec<String>,
    shape: InstanceShape,
    /// The LRS databases whose users (from their backups) are in `principals` already.
    materialized: Vec<String>,
}

/// What LRS restores or restored on the instance now (the sandbox's LRS service).
pub type LrsView = Arc<dyn Fn() -> Vec<LrsDatabase> + Send + Sync>;

/// The users a restored database brings (as its backup holds them): `(name, type, sid)`.
pub type RestoredUsers = Arc<dyn Fn(&str) -> Vec<(String, char, Vec<u8>)> + Send + Sync>;

/// The TDE certificates uploaded to the instance through ARM (the sandbox's ARM side).
pub type CertificatesView = Arc<dyn Fn() -> Vec<mi_catalog::CertificateRow> + Send + Sync>;

/// The fixed server roles IS_SRVROLEMEMBER knows (a Managed Instance has the same ones).
const FIXED_ROLES: &[&str] = &[
    "sysadmin",
    "securityadmin",
    "serveradmin",
    "setupadmin",
    "processadmin",
    "diskadmin",
    "dbcreator",
    "bulkadmin",
    "public",
];

/// The instance's SQL endpoint. `admins` are the logins of its administrator (server admin, sysadmin).
pub struct ManagedInstanceSql {
    server_name: String,
    admins: Vec<LoginSpec>,
    state: Mutex<MiState>,
    lrs: Mutex<Option<LrsView>>,
    certificates: Mutex<Option<CertificatesView>>,
    /// The instance's Microsoft Entra administrator (`None`: Entra logins refused).
    entra_admin: Mutex<Option<String>>,
    restored_users: Mutex<Option<RestoredUsers>>,
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
                ..Default::default()
            }),
            lrs: Mutex::new(None),
            certificates: Mutex::new(None),
            entra_admin: Mutex::new(None),
            restored_users: Mutex::new(None),
        }
    }

    /// Where sys.databases reads the databases LRS restores (RESTORING, ONLINE after completion).
    pub fn set_lrs(&self, view: LrsView) {
        if let Ok(mut l) = self.lrs.lock() {
            *l = Some(view);
        }
    }

    /// The instance's Microsoft Entra administrator (ManagedInstanceAdministrators: a sysadmin):
    /// an Entra access token logs in as it. Like the sandbox's ARM, which takes any bearer token,
    /// the token's signature and claims are not checked (the sandbox has no Entra ID): any
    /// non-empty token is the administrator's.
    pub fn set_entra_admin(&self, login: &str) {
        if let Ok(mut a) = self.entra_admin.lock() {
            *a = Some(login.to_string());
        }
    }

    fn entra_admin(&self) -> Option<String> {
        self.entra_admin.lock().ok().and_then(|a| a.clone())
    }

    /// The instance's administrators: its SQL admin logins, and its Entra administrator.
    fn is_admin(&self, user: &str) -> bool {
        self.admins
            .iter()
            .any(|a| a.user.eq_ignore_ascii_case(user) && a.sysadmin)
            || self
                .entra_admin()
                .is_some_and(|a| a.eq_ignore_ascii_case(user))
    }

    /// Where master.sys.certificates reads the TDE certificates uploaded through ARM.
    pub fn set_certificates(&self, view: CertificatesView) {
        if let Ok(mut c) = self.certificates.lock() {
            *c = Some(view);
        }
    }

    /// Where a database LRS completed gets its users from (the users its backup holds): they
    /// appear in its sys.database_principals once it is ONLINE, with the source's SIDs.
    pub fn set_restored_users(&self, users: RestoredUsers) {
        if let Ok(mut u) = self.restored_users.lock() {
            *u = Some(users);
        }
    }

    /// The databases LRS brought ONLINE since the last look get their users.
    fn materialize(&self, lrs: &[LrsDatabase], st: &mut MiState) {
        let Some(users) = self.restored_users.lock().ok().and_then(|u| u.clone()) else {
            return;
        };
        for d in lrs.iter().filter(|d| d.state == "ONLINE") {
            if st
                .materialized
                .iter()
                .any(|m| m.eq_ignore_ascii_case(&d.name))
            {
                continue;
            }
            st.materialized.push(d.name.clone());
            for (user, kind, sid) in users(&d.name) {
                st.principals.add_user(&d.name, &user, kind, sid);
            }
        }
    }

    /// The instance's tier, size and collation (default: General Purpose, Gen5, 4 vCores, 256 GB).
    pub fn set_shape(&self, shape: InstanceShape) {
        self.lock().shape = shape;
    }

    /// A database created on the instance outside LRS (ONLINE): its name is taken.
    pub fn add_database(&self, db: MiDatabase) {
        let mut st = self.lock();
        if !st
            .databases
            .iter()
            .any(|d| d.eq_ignore_ascii_case(&db.name))
        {
            st.databases.push(db.name.clone());
        }
        st.own.retain(|d| !d.name.eq_ignore_ascii_case(&db.name));
        st.own.push(db);
    }

    /// Whether a database of this name exists on the instance outside LRS.
    pub fn has_own_database(&self, name: &str) -> bool {
        self.lock()
            .databases
            .iter()
            .any(|d| d.eq_ignore_ascii_case(name))
    }

    /// How many databases were created on the instance outside LRS.
    pub fn own_database_count(&self) -> usize {
        self.lock().databases.len()
    }

    fn lrs_databases(&self) -> Vec<LrsDatabase> {
        let view = self.lrs.lock().ok().and_then(|l| l.clone());
        view.map(|v| v()).unwrap_or_default()
    }

    /// Whether `user` is a member of `role` (`None`: no such role).
    fn member_of(&self, st: &MiState, user: &str, role: &str) -> Option<bool> {
        let role = role.to_lowercase();
        if !FIXED_ROLES.contains(&role.as_str())
            && !st
                .principals
                .server
                .iter()
                .any(|p| p.kind == 'R' && p.name.eq_ignore_ascii_case(&role))
        {
            return None;
        }
        if role == "public" {
            return Some(true);
        }
        if role == "sysadmin" && self.is_admin(user) {
            return Some(true);
        }
        let Some(id) = st.principals.login(user).map(|l| l.principal_id) else {
            return Some(false);
        };
        Some(st.principals.role_members.iter().any(|(r, m)| {
            *m == id
                && st
                    .principals
                    .server
                    .iter()
                    .any(|p| p.principal_id == *r && p.name.eq_ignore_ascii_case(&role))
        }))
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
        if self.is_admin(user) {
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
        // LRS's view first, before this instance's lock (LRS asks this instance under its own).
        let lrs = self.lrs_databases();
        let certificates = self
            .certificates
            .lock()
            .ok()
            .and_then(|c| c.clone())
            .map(|v| v())
            .unwrap_or_default();
        let mut st = self.lock();
        self.materialize(&lrs, &mut st);
        if let Some(sel) = sql_select::parse_select(tokens, originals) {
            let member = |role: &str| self.member_of(&st, &session.user, role);
            let facts = mi_catalog::ServerFacts {
                server_name: &self.server_name,
                shape: &st.shape,
                login: &session.user,
                member_of: &member,
            };
            if let Some(r) = mi_catalog::answer_server(&sel, &facts) {
                return r;
            }
            if let Some(r) = mi_catalog::answer_certificates(&sel, &certificates) {
                return r.unwrap_or_else(|(n, m)| error(n, m));
            }
            let MiState {
                own, ids, shape, ..
            } = &mut *st;
            let rows = mi_catalog::database_rows(own, &lrs, ids, shape);
            let used: u64 = rows.iter().map(|r| r.size_bytes).sum();
            let resources = mi_catalog::ResourceRow {
                shape: shape.clone(),
                used_mb_hundredths: i128::from(shape.base_used_mb) * 100
                    + i128::from(used) * 100 / (1 << 20),
                end: time::OffsetDateTime::now_utc(),
                name: self.server_name.clone(),
            };
            if let Some(r) = mi_catalog::answer_view(&sel, &rows, &resources) {
                return r.unwrap_or_else(|(n, m)| error(n, m));
            }
            let dbs = st.databases.clone();
            let online = |db: &str| {
                lrs.iter()
                    .any(|d| d.state == "ONLINE" && d.name.eq_ignore_ascii_case(db))
            };
            let exists = |db: &str| {
                dbs.iter().any(|d| d.eq_ignore_ascii_case(db))
                    || db.eq_ignore_ascii_case("master")
                    || online(db)
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
                    || lrs
                        .iter()
                        .any(|d| d.state == "ONLINE" && d.name.eq_ignore_ascii_case(&db))
                {
                    session.database = db;
                    Reply::Done {
                        rows_affected: None,
                    }
                } else if lrs.iter().any(|d| d.name.eq_ignore_ascii_case(&db)) {
                    error(
                        927,
                        format!(
                            "Database '{db}' cannot be opened. It is in the middle of a restore."
                        ),
                    )
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

impl ManagedInstanceSql {
    /// A session of `user` in `database` ("" = master), which must exist (LRS's once ONLINE).
    fn session_for(
        &self,
        user: &str,
        database: &str,
        lrs: &[LrsDatabase],
    ) -> Result<Session, LoginError> {
        let st = self.lock();
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
            && !lrs
                .iter()
                .any(|d| d.state == "ONLINE" && d.name.eq_ignore_ascii_case(database))
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
        let lrs = self.lrs_databases();
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
        drop(st);
        self.session_for(user, database, &lrs)
    }

    fn login_token(&self, token: &str, database: &str) -> Result<Session, LoginError> {
        let Some(admin) = self.entra_admin().filter(|_| !token.trim().is_empty()) else {
            return Err(LoginError {
                message: "Login failed for user '<token-identified principal>'.".into(),
            });
        };
        let lrs = self.lrs_databases();
        self.session_for(&admin, database, &lrs)
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
