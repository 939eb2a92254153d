//! The sandbox's SQL Server: a stateful instance (databases, recovery models, access modes, msdb
//! backup history) that writes real backup files with the project's writer into the backup folder.
//! It answers SELECTs by what they ask for (`answers`: server properties, `sys.databases`, msdb's
//! backup history, `sys.filegroups`), the statements that change state (ALTER DATABASE, BACKUP) and
//! a few a person types into `tsql`; everything else gets a SQL Server-style error. Served over TDS by `tds::server`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use time::PrimitiveDateTime;

mod answers;
mod tde;

use super::sql::{self, AlterOption, Operand, Statement, Token};
use super::sql_select;
use super::tds::{Column, ColumnType, LoginError, Reply, Request, Session, SqlBackend, Value};
use cutover_backup::writer::{MediaSpec, Payload, SetSpec, guid_from, write_backup};
use cutover_backup::{BackupType, Lsn};

/// A login of the instance.
#[derive(Debug, Clone)]
pub struct LoginSpec {
    pub user: String,
    pub password: String,
    pub sysadmin: bool,
}

/// A user database to create.
#[derive(Debug, Clone)]
pub struct DatabaseSpec {
    pub name: String,
    /// "FULL", "SIMPLE" or "BULK_LOGGED".
    pub recovery_model: String,
    /// Bytes of data pages in a full backup.
    pub data_bytes: u64,
    /// Bytes of log in each log backup.
    pub log_bytes: u64,
    /// Backups WITH CHECKSUM (the server default for this database's jobs).
    pub checksums: bool,
    pub tde: bool,
    pub memory_optimized: bool,
    pub filestream: bool,
    /// Log backups written at start, after the full.
    pub initial_logs: usize,
}

impl DatabaseSpec {
    pub fn new(name: &str) -> Self {
        DatabaseSpec {
            name: name.into(),
            recovery_model: "FULL".into(),
            data_bytes: 256 * 1024,
            log_bytes: 32 * 1024,
            checksums: true,
            tde: false,
            memory_optimized: false,
            filestream: false,
            initial_logs: 2,
        }
    }
}

/// How the instance starts.
#[derive(Debug, Clone)]
pub struct InstanceOptions {
    /// The backup folder: each database's backups go to `<backup_dir>/<database folder>/`.
    pub backup_dir: PathBuf,
    /// SERVERPROPERTY('ServerName').
    pub server_name: String,
    pub logins: Vec<LoginSpec>,
    pub databases: Vec<DatabaseSpec>,
}

/// An error as SQL Server raises it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlError {
    pub number: u32,
    pub class: u8,
    pub message: String,
}

impl SqlError {
    fn new(number: u32, class: u8, message: impl Into<String>) -> Self {
        SqlError {
            number,
            class,
            message: message.into(),
        }
    }
    fn reply(&self) -> Reply {
        Reply::Error {
            number: self.number,
            state: 1,
            class: self.class,
            message: self.message.clone(),
        }
    }
}

#[derive(Debug, Clone)]
struct Db {
    spec: DatabaseSpec,
    id: i32,
    state: &'static str,
    read_only: bool,
    user_access: &'static str,
    recovery_model: String,
    created: PrimitiveDateTime,
    /// The next log block: every backup moves the log forward.
    next_block: u32,
    /// CheckpointLSN of the newest full (the base of logs and diffs).
    full_checkpoint: Option<Lsn>,
    /// FirstLSN of the newest full, the start of the first log after it.
    full_first: Option<Lsn>,
    /// LastLSN of the newest log backup (the next log starts there).
    log_end: Option<Lsn>,
    files_written: u32,
}

#[derive(Debug, Clone)]
struct HistoryRow {
    backup_set_id: i64,
    database_name: String,
    letter: char,
    first: Lsn,
    last: Lsn,
    checkpoint: Lsn,
    database_backup: Lsn,
    checksums: bool,
    copy_only: bool,
    start: PrimitiveDateTime,
    finish: PrimitiveDateTime,
    size: u64,
    device: String,
}

#[derive(Debug, Default)]
struct State {
    dbs: Vec<Db>,
    history: Vec<HistoryRow>,
    /// Logins, server roles and database users (`sample_logins`), answered by `principals`.
    principals: super::principals::Principals,
    /// Certificates in master: a system one and, when a database uses TDE, the one encrypting
    /// its database encryption key (`tde`).
    certificates: Vec<super::tde::ServerCertificate>,
    /// The ENCRYPTION BY PASSWORD texts BACKUP CERTIFICATE received (for tests that look for
    /// them where they must not be).
    certificate_passwords: Vec<String>,
}

/// The instance. Cheap to share (`Arc`); all state behind one lock, never held across an await.
pub struct SqlInstance {
    opts: InstanceOptions,
    state: Mutex<State>,
    /// The server's time zone: local time minus UTC, minutes. Its clock functions and the dates it
    /// writes (backup headers, msdb) are in local time, as SQL Server's are.
    utc_offset_minutes: i32,
}

/// VLF sequence of the synthetic log (per database id, so two databases never share LSNs).
fn vlf(id: i32) -> u32 {
    30 + id as u32
}

fn now() -> PrimitiveDateTime {
    let n = time::OffsetDateTime::now_utc();
    PrimitiveDateTime::new(n.date(), n.time().replace_nanosecond(0).unwrap_or(n.time()))
}

/// The folder of a database's backups under the backup dir (path separators replaced).
pub fn database_folder(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c == '/' || c == '\\' || c == '\0' {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// The deterministic GUID of `name` (a database or a backup path) in database `id`.
fn family_guid(name: &str, id: i32) -> String {
    guid_from(&format!("{name}\0{id}"))
}

const SYSTEM_DATABASES: [&str; 4] = ["master", "tempdb", "model", "msdb"];

impl SqlInstance {
    /// Creates the databases and writes each one's initial full backup and log backups (a SIMPLE
    /// database gets a full only) into the backup folder.
    pub fn new(opts: InstanceOptions) -> Result<SqlInstance, SqlError> {
        SqlInstance::in_time_zone(opts, 0)
    }

    /// [`SqlInstance::new`] for a server whose clock runs `utc_offset_minutes` from UTC (e.g. -300 at
    /// UTC-5): its backups carry that local time, `SYSDATETIMEOFFSET()` and `GETDATE()` answer it.
    pub fn in_time_zone(
        opts: InstanceOptions,
        utc_offset_minutes: i32,
    ) -> Result<SqlInstance, SqlError> {
        std::fs::create_dir_all(&opts.backup_dir).map_err(|e| {
            SqlError::new(
                3201,
                16,
                format!(
                    "Cannot open backup device '{}'. {e}",
                    opts.backup_dir.display()
                ),
            )
        })?;
        let created = now() - time::Duration::days(30);
        let mut state = State::default();
        for (i, spec) in opts.databases.iter().enumerate() {
            state.dbs.push(Db {
                id: 5 + i as i32,
                state: "ONLINE",
                read_only: false,
                user_access: "MULTI_USER",
                recovery_model: spec.recovery_model.to_uppercase(),
                created,
                next_block: 100,
                full_checkpoint: None,
                full_first: None,
                log_end: None,
                files_written: 0,
                spec: spec.clone(),
            });
        }
        let names: Vec<String> = opts.databases.iter().map(|d| d.name.clone()).collect();
        state.principals = super::sample_logins::source_estate(&names, &opts.logins);
        let cert = |name: &str, subject: &str| {
            super::tde::ServerCertificate::create(name, subject)
                .map_err(|e| SqlError::new(15468, 16, format!("CREATE CERTIFICATE {name}: {e}")))
        };
        // Made only for an estate with TDE (an RSA key takes a moment): the system certificate
        // without a private key beside it, as master lists it.
        if opts.databases.iter().any(|d| d.tde) {
            state.certificates.push(cert(
                "##MS_SQLResourceSigningCertificate##",
                "MS_SQLResourceSigningCertificate",
            )?);
            state
                .certificates
                .push(cert("TDE_Cert", "TDE certificate of the cutover sandbox")?);
        }
        let inst = SqlInstance {
            opts,
            state: Mutex::new(state),
            utc_offset_minutes,
        };
        let specs = inst.opts.databases.clone();
        for spec in &specs {
            inst.backup_now(&spec.name, false)?;
            if !spec.recovery_model.eq_ignore_ascii_case("SIMPLE") {
                for _ in 0..spec.initial_logs {
                    inst.backup_now(&spec.name, true)?;
                }
            }
        }
        Ok(inst)
    }

    pub fn backup_dir(&self) -> &Path {
        &self.opts.backup_dir
    }

    /// The folder a database's scheduled backups go to.
    pub fn database_dir(&self, name: &str) -> PathBuf {
        self.opts.backup_dir.join(database_folder(name))
    }

    /// User database names.
    /// The users of a database `(name, type, sid)`, as its backups carry them (the fixed ones left
    /// out).
    pub fn database_users(&self, name: &str) -> Vec<(String, char, Vec<u8>)> {
        self.lock()
            .principals
            .database
            .iter()
            .filter(|(d, _)| d.eq_ignore_ascii_case(name))
            // The fixed ones (dbo, guest, ...) every database has: `add_user` makes them.
            .filter(|(_, u)| u.kind != 'R' && u.principal_id > 4)
            .filter_map(|(_, u)| u.sid.clone().map(|sid| (u.name.clone(), u.kind, sid)))
            .collect()
    }

    pub fn database_names(&self) -> Vec<String> {
        self.lock()
            .dbs
            .iter()
            .map(|d| d.spec.name.clone())
            .collect()
    }

    /// "ONLINE" or "RESTORING" (after a tail-log backup WITH NORECOVERY).
    pub fn database_state(&self, name: &str) -> Option<String> {
        self.lock()
            .dbs
            .iter()
            .find(|d| d.spec.name == name)
            .map(|d| d.state.to_string())
    }

    /// Whether the database is read-only (after SET READ_ONLY).
    pub fn database_read_only(&self, name: &str) -> Option<bool> {
        self.lock()
            .dbs
            .iter()
            .find(|d| d.spec.name == name)
            .map(|d| d.read_only)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-changed in a way that matters
        // for a test server; keep serving.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A scheduled backup job: writes the next full (or log) backup of `name` into its folder, WITH
    /// CHECKSUM as the database's spec says. Returns the file written.
    pub fn backup_now(&self, name: &str, log: bool) -> Result<PathBuf, SqlError> {
        let (folder, file) = {
            let st = self.lock();
            let db = st
                .dbs
                .iter()
                .find(|d| d.spec.name == name)
                .ok_or_else(|| db_missing(name))?;
            let n = db.files_written + 1;
            let ext = if log { "trn" } else { "bak" };
            let kind = if log { "LOG" } else { "FULL" };
            (
                self.database_dir(name),
                format!("{}_{kind}_{n:04}.{ext}", database_folder(name)),
            )
        };
        std::fs::create_dir_all(&folder)
            .map_err(|e| device_error(&folder.to_string_lossy(), &e))?;
        let path = folder.join(file);
        let checksums = {
            let st = self.lock();
            st.dbs
                .iter()
                .find(|d| d.spec.name == name)
                .is_some_and(|d| d.spec.checksums)
        };
        self.write(name, log, &path, checksums, false, false)?;
        Ok(path)
    }

    /// Writes one backup of `name` to `path` and records it in msdb. `norecovery` leaves the database
    /// RESTORING (tail-log backup).
    fn write(
        &self,
        name: &str,
        log: bool,
        path: &Path,
        checksums: bool,
        copy_only: bool,
        norecovery: bool,
    ) -> Result<u64, SqlError> {
        let mut st = self.lock();
        let server = self.opts.server_name.clone();
        let tde_thumbprint = st
            .certificates
            .iter()
            .find(|c| !c.name.starts_with("##"))
            .map(|c| c.thumbprint);
        let db = st
            .dbs
            .iter_mut()
            .find(|d| d.spec.name == name)
            .ok_or_else(|| db_missing(name))?;
        if db.state != "ONLINE" {
            return Err(SqlError::new(
                927,
                14,
                format!("Database '{name}' cannot be opened. It is in the middle of a restore."),
            ));
        }
        if log && db.recovery_model == "SIMPLE" {
            return Err(SqlError::new(
                4208,
                16,
                "The statement BACKUP LOG is not allowed while the recovery model is SIMPLE. Use BACKUP DATABASE or change the recovery model using ALTER DATABASE.",
            ));
        }
        if log && db.full_checkpoint.is_none() {
            return Err(SqlError::new(
                4214,
                16,
                "BACKUP LOG cannot be performed because there is no current database backup.",
            ));
        }
        let v = vlf(db.id);
        let start = now() + time::Duration::minutes(i64::from(self.utc_offset_minutes));
        let mut spec = SetSpec {
            database_name: name.to_string(),
            server_name: server,
            backup_type: if log {
                BackupType::Log
            } else {
                BackupType::Full
            },
            first_lsn: Lsn::ZERO,
            last_lsn: Lsn::ZERO,
            checkpoint_lsn: Lsn::ZERO,
            database_backup_lsn: db.full_checkpoint.unwrap_or(Lsn::ZERO),
            differential_base_lsn: Lsn::ZERO,
            differential_base_guid: String::new(),
            checksums,
            copy_only,
            version: (16, 0, 4135),
            database_version: 957,
            compatibility_level: 160,
            created: Some(db.created),
            start: Some(start),
            finish: Some(start),
            collation: "SQL_Latin1_General_CP1_CI_AS".into(),
            family_guid: family_guid(name, db.id),
            data_bytes: if log {
                db.spec.log_bytes
            } else {
                db.spec.data_bytes
            },
            payload: Payload::Pages,
            tde_thumbprint: tde_thumbprint.filter(|_| db.spec.tde),
        };
        let (first, last) = if log {
            let first = db.log_end.or(db.full_first).unwrap_or(Lsn::new(v, 100, 1));
            let last = Lsn::new(v, db.next_block.max(first.block) + 100, 1);
            spec.checkpoint_lsn = db.full_checkpoint.unwrap_or(Lsn::ZERO);
            (first, last)
        } else {
            let first = Lsn::new(v, db.next_block, 1);
            spec.checkpoint_lsn = first;
            spec.database_backup_lsn = db.full_checkpoint.unwrap_or(Lsn::ZERO);
            (first, Lsn::new(v, db.next_block + 20, 1))
        };
        spec.first_lsn = first;
        spec.last_lsn = last;
        let media = MediaSpec {
            media_set_guid: family_guid(&path.to_string_lossy(), db.id),
            family_count: 1,
            family_sequence: 1,
            media_date: Some(start),
        };
        write_backup(path, &media, std::slice::from_ref(&spec))
            .map_err(|e| device_error(&path.to_string_lossy(), &e))?;
        let size = spec.backup_size();
        db.files_written += 1;
        db.next_block = last.block + 10;
        if log {
            if !copy_only {
                db.log_end = Some(last);
            }
        } else if !copy_only {
            db.full_checkpoint = Some(first);
            db.full_first = Some(first);
            db.log_end = None;
        }
        if norecovery {
            db.state = "RESTORING";
        }
        let row = HistoryRow {
            backup_set_id: st.history.len() as i64 + 1,
            database_name: name.to_string(),
            letter: if log { 'L' } else { 'D' },
            first,
            last,
            checkpoint: spec.checkpoint_lsn,
            database_backup: spec.database_backup_lsn,
            checksums,
            copy_only,
            start,
            finish: start,
            size,
            device: path.to_string_lossy().into_owned(),
        };
        st.history.push(row);
        Ok(size.div_ceil(8192))
    }

    fn is_sysadmin(&self, user: &str) -> bool {
        self.opts
            .logins
            .iter()
            .any(|l| l.user.eq_ignore_ascii_case(user) && l.sysadmin)
    }

    fn run(
        &self,
        session: &mut Session,
        tokens: &[Token],
        originals: &[String],
        req: &Request,
    ) -> Vec<Reply> {
        let result = self.run_one(session, tokens, originals, req);
        match result {
            Ok(r) => r,
            Err(e) => vec![e.reply()],
        }
    }

    fn run_one(
        &self,
        session: &Session,
        tokens: &[Token],
        originals: &[String],
        req: &Request,
    ) -> Result<Vec<Reply>, SqlError> {
        if sql::matches_query(tokens, "SELECT @@VERSION") {
            return Ok(vec![Reply::Rows {
                columns: vec![col("", ColumnType::NVarChar(300))],
                rows: vec![vec![Value::Str(format!(
                    "Microsoft SQL Server 2022 (RTM-CU12) - 16.0.4135.4 (X64) (cutover sandbox {})",
                    self.opts.server_name
                ))]],
            }]);
        }
        // Session options clients send after login (tsql, pytds): accepted, no effect here.
        if tokens
            .first()
            .is_some_and(|t| matches!(t, Token::Word(w) if w == "SET"))
            && tokens.len() >= 3
            && !matches!(tokens.get(1), Some(Token::Var(_)))
        {
            return Ok(vec![Reply::Done {
                rows_affected: None,
            }]);
        }
        if let Some(sel) = sql::parse_clock_select(tokens, originals) {
            return Ok(vec![Reply::Rows {
                columns: vec![col(&sel.column, ColumnType::Int)],
                rows: vec![vec![Value::Int(i64::from(
                    sel.utc_offset_factor * self.utc_offset_minutes,
                ))]],
            }]);
        }
        if let Some(sel) = sql_select::parse_select(tokens, originals)
            && let Some(reply) = self.answer_select(session, &sel, req)?
        {
            return Ok(vec![reply]);
        }
        if let Some(r) = self.backup_certificate(self.is_sysadmin(&session.user), tokens, originals)
        {
            return r;
        }
        match sql::parse_statement(tokens, originals) {
            Some(Statement::Alter { database, option }) => self.alter(session, &database, option),
            Some(Statement::Backup {
                log,
                database,
                disk,
                options,
            }) => {
                let database = operand(req, &database)?;
                let disk = operand(req, &disk)?;
                self.backup_statement(session, log, &database, &disk, &options)
            }
            None => Err(SqlError::new(
                102,
                15,
                format!(
                    "Incorrect syntax near '{}'. (The cutover sandbox answers only the statements cutover sends.)",
                    originals.first().map(String::as_str).unwrap_or("")
                ),
            )),
        }
    }

    fn alter(
        &self,
        session: &Session,
        name: &str,
        option: AlterOption,
    ) -> Result<Vec<Reply>, SqlError> {
        let denied = || {
            SqlError::new(
                5011,
                14,
                format!(
                    "User does not have permission to alter database '{name}', the database does not exist, or the database is not in a state that allows access checks."
                ),
            )
        };
        if !self.is_sysadmin(&session.user) {
            return Err(denied());
        }
        let mut st = self.lock();
        let db = st
            .dbs
            .iter_mut()
            .find(|d| d.spec.name.eq_ignore_ascii_case(name))
            .ok_or_else(denied)?;
        if db.state == "RESTORING" {
            return Err(SqlError::new(
                5052,
                16,
                "ALTER DATABASE is not permitted while a database is in the Restoring state.",
            ));
        }
        match option {
            AlterOption::ReadOnly => db.read_only = true,
            AlterOption::ReadWrite => db.read_only = false,
            AlterOption::SingleUser => db.user_access = "SINGLE_USER",
            AlterOption::RestrictedUser => db.user_access = "RESTRICTED_USER",
            AlterOption::MultiUser => db.user_access = "MULTI_USER",
            AlterOption::Recovery(m) => {
                // Switching to SIMPLE breaks the log chain: the next log needs a new full first.
                if m == "SIMPLE" {
                    db.full_checkpoint = None;
                    db.full_first = None;
                    db.log_end = None;
                }
                db.recovery_model = m;
            }
        }
        Ok(vec![Reply::Done {
            rows_affected: None,
        }])
    }

    fn backup_statement(
        &self,
        session: &Session,
        log: bool,
        name: &str,
        disk: &str,
        options: &[String],
    ) -> Result<Vec<Reply>, SqlError> {
        let what = if log { "LOG" } else { "DATABASE" };
        let terminating = SqlError::new(
            3013,
            16,
            format!("BACKUP {what} is terminating abnormally."),
        );
        if !self.is_sysadmin(&session.user) {
            return Err(SqlError::new(
                262,
                14,
                format!("BACKUP {what} permission denied in database '{name}'."),
            ));
        }
        let known = [
            "NORECOVERY",
            "CHECKSUM",
            "NO_CHECKSUM",
            "INIT",
            "NOINIT",
            "FORMAT",
            "COPY_ONLY",
            "STATS",
            "NAME",
            "DESCRIPTION",
            "NO_COMPRESSION",
            "COMPRESSION",
            "SKIP",
            "NOSKIP",
        ];
        if let Some(o) = options.iter().find(|o| !known.contains(&o.as_str())) {
            return Err(SqlError::new(
                102,
                15,
                format!("Incorrect syntax near '{o}'."),
            ));
        }
        if options.iter().any(|o| o == "COMPRESSION") {
            return Err(SqlError::new(
                3013,
                16,
                "BACKUP ... WITH COMPRESSION is not emulated by the cutover sandbox; leave COMPRESSION out.",
            ));
        }
        let real = {
            let st = self.lock();
            st.dbs
                .iter()
                .find(|d| d.spec.name.eq_ignore_ascii_case(name))
                .map(|d| d.spec.name.clone())
        };
        let Some(real) = real else {
            return Err(SqlError::new(
                911,
                16,
                format!(
                    "Database '{name}' does not exist. Make sure that the name is entered correctly."
                ),
            ));
        };
        let path = PathBuf::from(disk);
        let parent_ok = path.parent().is_some_and(|p| p.is_dir());
        if !parent_ok || path.is_dir() {
            return Ok(vec![
                SqlError::new(
                    3201,
                    16,
                    format!(
                        "Cannot open backup device '{disk}'. Operating system error 3(The system cannot find the path specified.)."
                    ),
                )
                .reply(),
                terminating.reply(),
            ]);
        }
        let init = options.iter().any(|o| o == "INIT" || o == "FORMAT");
        if path.exists() && !init {
            return Ok(vec![
                SqlError::new(
                    3013,
                    16,
                    format!(
                        "'{disk}' already holds a backup: the cutover sandbox does not append backup sets (WITH NOINIT); use WITH INIT or a new file name."
                    ),
                )
                .reply(),
            ]);
        }
        let checksums = options.iter().any(|o| o == "CHECKSUM");
        let norecovery = options.iter().any(|o| o == "NORECOVERY");
        let copy_only = options.iter().any(|o| o == "COPY_ONLY");
        match self.write(&real, log, &path, checksums, copy_only, norecovery) {
            Ok(pages) => Ok(vec![
                Reply::Info {
                    number: 4035,
                    message: format!(
                        "Processed {pages} pages for database '{real}', file '{real}{}' on file 1.",
                        if log { "_log" } else { "" }
                    ),
                },
                Reply::Info {
                    number: 3014,
                    message: format!(
                        "BACKUP {} successfully processed {pages} pages in 0.010 seconds ({:.3} MB/sec).",
                        if log { "LOG" } else { "DATABASE" },
                        pages as f64 * 8192.0 / 1e6 / 0.01
                    ),
                },
                Reply::Done {
                    rows_affected: None,
                },
            ]),
            Err(e) => Ok(vec![e.reply(), terminating.reply()]),
        }
    }
}

fn col(name: &str, ty: ColumnType) -> Column {
    Column {
        name: name.into(),
        ty,
    }
}

fn db_missing(name: &str) -> SqlError {
    SqlError::new(
        911,
        16,
        format!("Database '{name}' does not exist. Make sure that the name is entered correctly."),
    )
}

fn device_error(path: &str, e: &std::io::Error) -> SqlError {
    SqlError::new(
        3201,
        16,
        format!("Cannot open backup device '{path}'. Operating system error: {e}."),
    )
}

fn param(req: &Request, name: &str) -> Option<Value> {
    let n = name.trim_start_matches('@');
    req.params
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(n))
        .map(|p| p.value.clone())
}

fn operand(req: &Request, o: &Operand) -> Result<String, SqlError> {
    match o {
        Operand::Literal(s) => Ok(s.clone()),
        Operand::Var(v) => match param(req, v) {
            Some(Value::Str(s)) => Ok(s),
            Some(_) => Err(SqlError::new(
                257,
                16,
                format!("Implicit conversion of {v} to nvarchar is not allowed here."),
            )),
            None => Err(SqlError::new(
                137,
                15,
                format!("Must declare the scalar variable \"{v}\"."),
            )),
        },
    }
}

#[async_trait::async_trait]
impl SqlBackend for SqlInstance {
    fn server_name(&self) -> String {
        self.opts.server_name.clone()
    }

    fn login(&self, user: &str, password: &str, database: &str) -> Result<Session, LoginError> {
        let ok = self
            .opts
            .logins
            .iter()
            .any(|l| l.user.eq_ignore_ascii_case(user) && l.password == password);
        if !ok {
            return Err(LoginError {
                message: format!("Login failed for user '{user}'."),
            });
        }
        let database = if database.is_empty() {
            "master"
        } else {
            database
        };
        let exists = SYSTEM_DATABASES.contains(&database.to_lowercase().as_str())
            || self
                .lock()
                .dbs
                .iter()
                .any(|d| d.spec.name.eq_ignore_ascii_case(database));
        if !exists {
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
                return vec![
                    SqlError::new(
                        105,
                        15,
                        format!(
                            "Unclosed quotation mark after the character string '{}'.",
                            e.near
                        ),
                    )
                    .reply(),
                ];
            }
        };
        let mut out = Vec::new();
        for (t, o) in sql::statements(tokens, originals) {
            // BACKUP writes small files synchronously: the sandbox's backups are a few hundred KiB.
            out.extend(self.run(session, &t, &o, &request));
        }
        if out.is_empty() {
            out.push(Reply::Done {
                rows_affected: None,
            });
        }
        out
    }
}
