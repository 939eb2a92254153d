//! `cutover target check|databases --config FILE [--json] [--sandbox]`: the managed instance over
//! its own SQL endpoint (`[target] sql_server`, `sql_user`, the password from `sql_password_env`).
//! `check`: what `cutover run` checks before anything is uploaded (sysadmin, each target name free
//! or this activity's restore, the tier's room for databases, In-Memory OLTP, storage left,
//! collation), with the instance's databases. `databases`: each database as the instance reports
//! it after completion (state, compatibility level, recovery model) and the connection string the
//! applications use. Exit codes: 0 no error finding, 1 an error finding or the instance could not
//! be read, 2 bad configuration.

use std::path::PathBuf;

use crate::catalog::Severity;
use crate::config::{self, ConfigFile, RunFlags};
use crate::target_sql::{self, InstanceReport, PostCutover, TargetFinding};

#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    /// The configuration file (its [target] sql_server, sql_user, sql_password_env).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// The ARM endpoint and the SQL endpoint are the local sandbox's ([target] sandbox = true).
    #[arg(long)]
    pub sandbox: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum TargetCommand {
    /// Before the upload: the login, the names, the tier's limits, storage and collation, with the
    /// instance's databases (what `cutover run` refuses to start on).
    Check {
        #[command(flatten)]
        args: TargetArgs,
    },
    /// After cutover: each database's state, compatibility level and recovery model on the
    /// instance, and the connection string applications use.
    Databases {
        #[command(flatten)]
        args: TargetArgs,
        /// Target database names (default: the configuration's databases).
        #[arg(long = "database", value_name = "DB")]
        databases: Vec<String>,
    },
}

fn layered(a: &TargetArgs) -> Result<config::Layered, String> {
    let file = ConfigFile::load(&a.config).map_err(|e| e.to_string())?;
    let flags = RunFlags {
        sandbox: a.sandbox,
        ..Default::default()
    };
    flags
        .layered(&file, |var| std::env::var(var).ok())
        .map_err(|e| format!("{}: {e}", a.config.display()))
}

pub fn run(c: &TargetCommand) -> i32 {
    let Some(rt) = super::runtime(true) else {
        return 2;
    };
    match c {
        TargetCommand::Check { args } => rt.block_on(check(args)),
        TargetCommand::Databases { args, databases } => rt.block_on(after(args, databases)),
    }
}

async fn check(a: &TargetArgs) -> i32 {
    let layered = match layered(a) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let cfg = match config::engine_config_layered(&layered, false, &Default::default()) {
        Ok((c, _)) => c,
        Err(e) => {
            eprintln!("error: {}: {e}", a.config.display());
            return 2;
        }
    };
    if cfg.target_sql.is_none() {
        eprintln!(
            "error: {}: [target] sql_server is not set: give the instance's SQL endpoint (and sql_user, sql_password_env) to check it",
            a.config.display()
        );
        return 2;
    }
    match target_sql::check_before_upload(&cfg).await {
        Ok(Some((report, findings))) => print_check(&report, &findings, a.json),
        Ok(None) => 2,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

/// Prints the instance, its databases and the findings; 1 if a finding is an error.
pub fn print_check(report: &InstanceReport, findings: &[TargetFinding], json: bool) -> i32 {
    let errors = findings
        .iter()
        .any(|f| f.finding.severity == Severity::Error);
    if json {
        let v = serde_json::json!({"instance": report, "findings": findings});
        match serde_json::to_string(&v) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("error: cannot format the report: {e}");
                return 1;
            }
        }
        return i32::from(errors);
    }
    println!("{}", instance_line(report));
    let user: Vec<_> = report.user_databases().collect();
    if user.is_empty() {
        println!("no user databases on the instance");
    } else {
        println!(
            "{:<32} {:<10} {:>5} {:<8} COLLATION",
            "DATABASE", "STATE", "LEVEL", "RECOVERY"
        );
        for d in user {
            println!(
                "{:<32} {:<10} {:>5} {:<8} {}",
                super::inspect::ellipsize(&d.name, 32),
                d.state,
                d.compatibility_level,
                d.recovery_model,
                d.collation.as_deref().unwrap_or("-")
            );
        }
    }
    print_findings(findings);
    if findings.is_empty() {
        println!("no findings: the instance can take the databases");
    }
    i32::from(errors)
}

/// The instance in one line: name, login, tier, storage.
pub fn instance_line(r: &InstanceReport) -> String {
    let i = &r.info;
    let admin = if i.is_sysadmin {
        "sysadmin"
    } else {
        "NOT sysadmin"
    };
    let tier = match &r.resources {
        Some(s) => format!(
            ", {} {} {} vCores, storage {:.0} of {} MB used",
            s.tier_words(),
            s.hardware_generation,
            s.vcores,
            s.storage_used_mb,
            s.reserved_storage_mb
        ),
        None => format!(", {} {}", i.edition, i.product_version),
    };
    format!(
        "instance {} (login {} is {admin}{tier}; collation {})",
        i.server_name, i.login_name, i.collation
    )
}

pub fn print_findings(findings: &[TargetFinding]) {
    for f in findings {
        println!(
            "{:<7} {} {}: {}",
            f.finding.severity.as_str().to_uppercase(),
            f.finding.code,
            f.database.as_deref().unwrap_or("(instance)"),
            f.finding.message
        );
        println!("        fix: {}", f.finding.fix);
    }
}

async fn after(a: &TargetArgs, only: &[String]) -> i32 {
    let layered = match layered(a) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let t = layered.file.target.clone().unwrap_or_default();
    let opts = match config::target_sql_options(&t, &Default::default()) {
        Ok(Some(o)) => o,
        Ok(None) => {
            eprintln!(
                "error: {}: [target] sql_server is not set: give the instance's SQL endpoint",
                a.config.display()
            );
            return 2;
        }
        Err(e) => {
            eprintln!("error: {}: {e}", a.config.display());
            return 2;
        }
    };
    let names: Vec<String> = if only.is_empty() {
        let file = &layered.file;
        let m = file.migration.clone().unwrap_or_default();
        let overrides = file
            .backups
            .as_ref()
            .and_then(|b| b.database.clone())
            .unwrap_or_default();
        m.databases
            .unwrap_or_default()
            .into_iter()
            .map(|n| {
                overrides
                    .iter()
                    .find(|o| o.name == n)
                    .and_then(|o| o.target_name.clone())
                    .unwrap_or(n)
            })
            .collect()
    } else {
        only.to_vec()
    };
    if names.is_empty() {
        eprintln!(
            "error: no databases named: give --database DB or list [migration] databases in {}",
            a.config.display()
        );
        return 2;
    }
    match target_sql::check_after_completion(&opts, &names).await {
        Ok((report, post)) => print_after(&report, &post, a.json),
        Err(e) => {
            eprintln!("error: [target] sql_server: {e}");
            1
        }
    }
}

/// Prints each database after completion; 1 if one is not ONLINE.
pub fn print_after(report: &InstanceReport, post: &[PostCutover], json: bool) -> i32 {
    let errors = post
        .iter()
        .flat_map(|p| &p.findings)
        .any(|f| f.severity == Severity::Error);
    if json {
        let v = serde_json::json!({"instance": report.info, "databases": post});
        match serde_json::to_string(&v) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("error: cannot format the report: {e}");
                return 1;
            }
        }
        return i32::from(errors);
    }
    println!("{}", instance_line(report));
    for line in after_lines(post) {
        println!("{line}");
    }
    i32::from(errors)
}

/// The post-cutover report as text lines (also printed after `cutover run`).
pub fn after_lines(post: &[PostCutover]) -> Vec<String> {
    let mut out = Vec::new();
    for p in post {
        match &p.state {
            Some(s) => out.push(format!(
                "{}: {s}, compatibility level {}, {} recovery; connect with: {}",
                p.database,
                p.compatibility_level.unwrap_or(0),
                p.recovery_model.as_deref().unwrap_or("?"),
                p.connection_string
            )),
            None => out.push(format!("{}: not on the instance", p.database)),
        }
        for f in &p.findings {
            out.push(format!(
                "  {:<7} {}: {} (fix: {})",
                f.severity.as_str().to_uppercase(),
                f.code,
                f.message,
                f.fix
            ));
        }
    }
    out
}
