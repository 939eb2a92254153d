//! `cutover source databases|history|check`: the source SQL Server, for scripts and for checking a
//! connection. Options come from flags, then the environment (secrets), then `--config FILE`.

use std::path::PathBuf;

use crate::catalog::{self, Finding, ScanOptions, Severity};
use crate::config::ConfigFile;
use crate::config::SourceFlags;
use crate::source::{SourceClient, SourceError, SourceOptions, crosscheck};

use super::inspect::ellipsize;

#[derive(Debug, Clone, clap::Args)]
pub struct SourceConnArgs {
    /// Configuration file whose [source] section is used for options not given as flags.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// HOST, HOST,PORT or HOST\INSTANCE.
    #[arg(long, value_name = "SERVER")]
    pub server: Option<String>,
    /// SQL login name.
    #[arg(long)]
    pub user: Option<String>,
    /// Environment variable holding the password [default: CUTOVER_SOURCE_PASSWORD].
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
    /// Authenticate with an Azure AD access token held in this environment variable.
    #[arg(long, value_name = "VAR")]
    pub aad_token_env: Option<String>,
    /// Accept the server's certificate without validating it (self-signed: man-in-the-middle risk).
    #[arg(long)]
    pub trust_server_certificate: bool,
    /// PEM file of the CA that issued the server's certificate (or the self-signed certificate
    /// itself), trusted on top of the system's roots.
    #[arg(long, value_name = "PATH")]
    pub ca_file: Option<PathBuf>,
    /// No TLS at all: only for loopback test servers such as `cutover sandbox`.
    #[arg(long)]
    pub plaintext: bool,
    /// Seconds for connect, TLS and login.
    #[arg(long, value_name = "SECONDS")]
    pub connect_timeout: Option<u64>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum SourceCommand {
    /// List the user databases: state, recovery model, size, TDE, In-Memory OLTP, last backups.
    Databases {
        #[command(flatten)]
        conn: SourceConnArgs,
    },
    /// msdb's backup history of one database (type, LSNs, checksums, copy-only, file, dates).
    History {
        #[command(flatten)]
        conn: SourceConnArgs,
        /// The database.
        database: String,
    },
    /// Compare the source with the backup folder: msdb backups missing from the folder, SIMPLE
    /// recovery, TDE, In-Memory OLTP, FILESTREAM, sysadmin.
    Check {
        #[command(flatten)]
        conn: SourceConnArgs,
        /// The backup folder.
        #[arg(long, value_name = "DIR")]
        backups: PathBuf,
        /// Only these databases (default: every user database).
        #[arg(long = "database", value_name = "DB")]
        databases: Vec<String>,
    },
}

/// Builds the connection options: flag > environment (`CUTOVER_SOURCE_*`) > config file; errors
/// name the flag or key.
pub fn source_options(a: &SourceConnArgs) -> Result<(SourceOptions, Vec<String>), String> {
    let file = match &a.config {
        Some(p) => ConfigFile::load(p).map_err(|e| e.to_string())?,
        None => ConfigFile::default(),
    };
    let flags = SourceFlags {
        server: a.server.clone(),
        user: a.user.clone(),
        password_env: a.password_env.clone(),
        aad_token_env: a.aad_token_env.clone(),
        trust_server_certificate: a.trust_server_certificate,
        plaintext: a.plaintext,
        connect_timeout: a.connect_timeout,
        ca_file: a.ca_file.clone(),
    };
    // The environment's layer (CUTOVER_SOURCE_SERVER, CUTOVER_SOURCE_USER) over the file, as for
    // `cutover run`; the flags win over both.
    let layered = crate::config::layers::Layers::file(&file)?
        .environment(|v| std::env::var(v).ok())?
        .finish()?;
    crate::config::source_options(&layered.file.source.unwrap_or_default(), &flags)
}

pub fn run(c: &SourceCommand) -> i32 {
    let conn = match c {
        SourceCommand::Databases { conn } => conn,
        SourceCommand::History { conn, .. } => conn,
        SourceCommand::Check { conn, .. } => conn,
    };
    let (opts, warnings) = match source_options(conn) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    let Some(rt) = super::runtime(false) else {
        return 2;
    };
    let r = rt.block_on(async {
        let mut client = SourceClient::connect(&opts).await?;
        let code = match c {
            SourceCommand::Databases { conn } => databases(&mut client, conn.json).await,
            SourceCommand::History { conn, database } => {
                history(&mut client, database, conn.json).await
            }
            SourceCommand::Check {
                conn,
                backups,
                databases,
            } => check(&mut client, backups, databases, conn.json).await,
        };
        client.close().await;
        code
    });
    match r {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

/// Prints `v` as pretty JSON (exit code 0), for the commands that read a SQL connection.
pub(super) fn print_json<T: serde::Serialize>(v: &T) -> Result<i32, SourceError> {
    serde_json::to_string_pretty(v)
        .map(|s| {
            println!("{s}");
            0
        })
        .map_err(|e| SourceError::Other(format!("cannot format JSON: {e}")))
}

async fn databases(client: &mut SourceClient, json: bool) -> Result<i32, SourceError> {
    let info = client.server_info().await?;
    let dbs = client.databases().await?;
    if json {
        return print_json(&serde_json::json!({ "server": info, "databases": dbs }));
    }
    println!(
        "{} (SQL Server {}, {}), login {}{}",
        info.server_name,
        info.product_version,
        info.edition,
        info.login_name,
        if info.is_sysadmin {
            " (sysadmin)"
        } else {
            " (NOT sysadmin)"
        }
    );
    println!(
        "{:<24} {:<9} {:<11} {:>10} {:<4} {:<16}",
        "DATABASE", "STATE", "RECOVERY", "SIZE", "TDE", "LAST LOG BACKUP"
    );
    for d in &dbs {
        println!(
            "{:<24} {:<9} {:<11} {:>10} {:<4} {:<16}",
            ellipsize(&d.name, 24),
            ellipsize(&d.state, 9),
            d.recovery_model,
            humansize::format_size(d.size_bytes, humansize::BINARY),
            if d.is_encrypted { "yes" } else { "no" },
            d.last_log_backup
                .as_deref()
                .map(|s| s.replace('T', " ").chars().take(16).collect::<String>())
                .unwrap_or_else(|| "never".into())
        );
    }
    Ok(0)
}

async fn history(
    client: &mut SourceClient,
    database: &str,
    json: bool,
) -> Result<i32, SourceError> {
    let rows = client.backup_history(database).await?;
    if json {
        return print_json(&rows);
    }
    if rows.is_empty() {
        println!("msdb has no backup history for {database}");
        return Ok(0);
    }
    println!(
        "{:<4} {:<19} {:>20} {:>20} {:<2} DEVICE",
        "TYPE", "START", "FIRST LSN", "LAST LSN", "KC"
    );
    for h in &rows {
        println!(
            "{:<4} {:<19} {:>20} {:>20} {}{} {}",
            h.backup_type,
            h.start.as_deref().unwrap_or("").replace('T', " "),
            h.first_lsn,
            h.last_lsn,
            if h.has_checksums { 'K' } else { '-' },
            if h.is_copy_only { 'C' } else { '-' },
            h.device
        );
    }
    println!("KC: K checksums, C copy-only");
    Ok(0)
}

async fn check(
    client: &mut SourceClient,
    backups: &std::path::Path,
    only: &[String],
    json: bool,
) -> Result<i32, SourceError> {
    let scan = catalog::scan_folder(backups, &ScanOptions::default())
        .map_err(|e| SourceError::Other(e.to_string()))?;
    let report = catalog::check(&scan);
    let info = client.server_info().await?;
    let dbs = client.databases().await?;
    for name in only {
        if !dbs.iter().any(|d| &d.name == name) {
            return Err(SourceError::Other(format!(
                "database {name:?} is not a user database on {}",
                client.label()
            )));
        }
    }
    let mut out: Vec<(Option<String>, Finding)> = crosscheck::server_findings(&info)
        .into_iter()
        .map(|f| (None, f))
        .collect();
    let sets: Vec<&crate::backup::BackupSet> = scan
        .files
        .iter()
        .filter_map(|f| f.sets.as_ref().ok())
        .flatten()
        .collect();
    for d in dbs
        .iter()
        .filter(|d| only.is_empty() || only.contains(&d.name))
    {
        let history = client.backup_history(&d.name).await?;
        let mut fs = crosscheck::database_findings(d);
        fs.extend(crosscheck::history_findings(
            &d.name,
            &history,
            &sets,
            report.database(&d.name),
        ));
        out.extend(fs.into_iter().map(|f| (Some(d.name.clone()), f)));
    }
    let errors = out.iter().any(|(_, f)| f.severity == Severity::Error);
    if json {
        let v: Vec<_> = out
            .iter()
            .map(|(db, f)| serde_json::json!({"database": db, "code": f.code, "severity": f.severity, "message": f.message, "fix": f.fix}))
            .collect();
        print_json(&serde_json::json!({ "findings": v }))?;
    } else if out.is_empty() {
        println!(
            "no findings: the folder has every backup msdb knows of, and nothing blocks the migration"
        );
    } else {
        for (db, f) in &out {
            println!(
                "{:<7} {} {}: {}",
                f.severity.as_str().to_uppercase(),
                f.code,
                db.as_deref().unwrap_or("(server)"),
                f.message
            );
            println!("        fix: {}", f.fix);
        }
    }
    Ok(i32::from(errors))
}
