//! `cutover logins list|migrate [--json]`: the source's server logins (SQL logins with SID, Windows
//! logins and groups, roles, the database users that need each), and their migration to the
//! Managed Instance over its SQL endpoint (same SID and password hash; Windows principals through
//! `[[logins.map]]` / `--map` to Microsoft Entra; conflicts as findings, never overwritten). The
//! target password comes from an environment variable only. Exit codes: 0 done, 1 a login failed or
//! conflicts (or a connection failed), 2 bad arguments.

use crate::config::ConfigFile;
use crate::config::SourceFlags;
use crate::logins::{EntraMapping, LoginInventory, LoginKind, plan_logins};
use crate::model::LoginStatus;
use crate::source::{SourceClient, SourceError, SourceOptions};

use super::inspect::ellipsize;
use super::source::{SourceConnArgs, print_json, source_options};

/// The Managed Instance's SQL endpoint (its host name, `,3342` for the public endpoint).
#[derive(Debug, Clone, clap::Args)]
pub struct TargetSqlArgs {
    /// The instance's SQL endpoint: HOST[,PORT].
    #[arg(long, value_name = "SERVER")]
    pub target_server: Option<String>,
    /// SQL login on the instance (a member of sysadmin or securityadmin).
    #[arg(long, value_name = "USER")]
    pub target_user: Option<String>,
    /// Environment variable holding its password [default: CUTOVER_TARGET_PASSWORD].
    #[arg(long, value_name = "VAR")]
    pub target_password_env: Option<String>,
    /// Authenticate with a Microsoft Entra access token held in this environment variable.
    #[arg(long, value_name = "VAR")]
    pub target_aad_token_env: Option<String>,
    /// Accept the instance's certificate without validating it.
    #[arg(long)]
    pub target_trust_server_certificate: bool,
    /// No TLS: only for the sandbox's instance on a loopback address.
    #[arg(long)]
    pub target_plaintext: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum LoginsCommand {
    /// The source's logins: kind, SID, default database, roles, disabled, the users that need them;
    /// with --target-server, what `migrate` would do for each.
    List {
        #[command(flatten)]
        conn: SourceConnArgs,
        #[command(flatten)]
        target: TargetSqlArgs,
        /// Databases whose users to look up (default: every user database of the source).
        #[arg(long = "database", value_name = "DB")]
        databases: Vec<String>,
        /// Map a Windows login or group to a Microsoft Entra principal: 'DOMAIN\name=name@tenant'
        /// (after the config file's [[logins.map]]).
        #[arg(long = "map", value_name = "WINDOWS=ENTRA")]
        map: Vec<String>,
    },
    /// Create the source's logins on the instance (idempotent: run it again to finish or check).
    Migrate {
        #[command(flatten)]
        conn: SourceConnArgs,
        #[command(flatten)]
        target: TargetSqlArgs,
        #[arg(long = "database", value_name = "DB")]
        databases: Vec<String>,
        #[arg(long = "map", value_name = "WINDOWS=ENTRA")]
        map: Vec<String>,
    },
    /// After a database's cutover: its users on the instance whose SID has no login there, with
    /// the ALTER USER ... WITH LOGIN that maps each to its migrated login (--fix runs them).
    Orphans {
        #[command(flatten)]
        conn: SourceConnArgs,
        #[command(flatten)]
        target: TargetSqlArgs,
        /// The databases on the instance to look at.
        #[arg(long = "database", value_name = "DB", required = true)]
        databases: Vec<String>,
        #[arg(long = "map", value_name = "WINDOWS=ENTRA")]
        map: Vec<String>,
        /// Run the ALTER USER statements offered.
        #[arg(long)]
        fix: bool,
    },
}

pub(super) fn target_options(
    t: &TargetSqlArgs,
) -> Result<Option<(SourceOptions, Vec<String>)>, String> {
    let Some(server) = &t.target_server else {
        return Ok(None);
    };
    let flags = SourceFlags {
        server: Some(server.clone()),
        user: t.target_user.clone(),
        password_env: Some(
            t.target_password_env
                .clone()
                .unwrap_or_else(|| "CUTOVER_TARGET_PASSWORD".into()),
        ),
        aad_token_env: t.target_aad_token_env.clone(),
        trust_server_certificate: t.target_trust_server_certificate,
        plaintext: t.target_plaintext,
        connect_timeout: None,
        ca_file: None,
    };
    crate::config::source_options(&Default::default(), &flags)
        .map(Some)
        .map_err(|e| {
            format!(
                "target SQL connection: {}",
                e.replace("--", "--target-")
                    .replace("[source] ", "")
                    .replace("source password", "target password")
            )
        })
}

fn mapping(conn: &SourceConnArgs, flags: &[String]) -> Result<EntraMapping, String> {
    let file = match &conn.config {
        Some(p) => ConfigFile::load(p).map_err(|e| e.to_string())?,
        None => ConfigFile::default(),
    };
    let origin = match &conn.config {
        Some(p) => format!("[[logins.map]] in {}", p.display()),
        None => "[[logins.map]]".into(),
    };
    let from_file =
        EntraMapping::new(file.logins.and_then(|l| l.map).unwrap_or_default(), &origin)?;
    let pairs = flags
        .iter()
        .map(|s| EntraMapping::parse_pair(s))
        .collect::<Result<Vec<_>, _>>()?;
    from_file.extend(pairs, "--map")
}

pub fn run(c: &LoginsCommand) -> i32 {
    if let LoginsCommand::Orphans {
        conn,
        target,
        databases,
        map,
        fix,
    } = c
    {
        return orphans(conn, target, databases, map, *fix);
    }
    let (conn, target, databases, map, migrate) = match c {
        LoginsCommand::List {
            conn,
            target,
            databases,
            map,
        } => (conn, target, databases, map, false),
        LoginsCommand::Migrate {
            conn,
            target,
            databases,
            map,
        } => (conn, target, databases, map, true),
        LoginsCommand::Orphans { .. } => return 2,
    };
    let prepared = source_options(conn).and_then(|s| {
        let t = target_options(target)?;
        if migrate && t.is_none() {
            return Err("logins migrate needs the instance's SQL endpoint: give --target-server HOST[,PORT] and --target-user (password in CUTOVER_TARGET_PASSWORD or --target-password-env VAR)".into());
        }
        Ok((s, t, mapping(conn, map)?))
    });
    let ((source, mut warnings), target, map) = match prepared {
        Ok(((s, w), t, m)) => ((s, w), t, m),
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let target = target.map(|(t, w)| {
        warnings.extend(w);
        t
    });
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    let Some(rt) = super::runtime(false) else {
        return 2;
    };
    let r = rt.block_on(async {
        let mut src = SourceClient::connect(&source).await?;
        let dbs = if databases.is_empty() {
            src.databases().await?.into_iter().map(|d| d.name).collect()
        } else {
            databases.clone()
        };
        let inventory = src.login_inventory(&dbs).await?;
        src.close().await;
        let Some(target) = target else {
            return print_inventory(&inventory, conn.json);
        };
        let mut dst = SourceClient::connect(&target)
            .await
            .map_err(|e| SourceError::Other(format!("target SQL connection: {e}")))?;
        let existing = dst.target_logins().await?;
        let plans = plan_logins(&inventory, &existing, &map);
        let code = if migrate {
            let outcomes = dst.apply_login_plans(plans).await;
            let failed = outcomes
                .iter()
                .any(|o| matches!(o.status, LoginStatus::Failed { .. }));
            if conn.json {
                print_json(&serde_json::json!({ "logins": outcomes }))?;
            } else {
                for o in &outcomes {
                    println!(
                        "{:<8} {:<14} {:<32} -> {}",
                        o.status.label(),
                        o.plan.kind,
                        ellipsize(&o.plan.source, 32),
                        o.plan.target
                    );
                    for s in &o.sent {
                        println!("         {s}");
                    }
                    if let Some(r) = o.status.reason() {
                        println!("         {r}");
                    }
                }
            }
            i32::from(failed)
        } else {
            if conn.json {
                print_json(&serde_json::json!({ "logins": inventory.logins, "plan": plans }))?;
            } else {
                print_table(&inventory);
                println!();
                for p in &plans {
                    println!("{:<8} {} -> {}", p.action.label(), p.source, p.target);
                    for s in p.action.statements() {
                        println!("         {}", s.shown());
                    }
                    if let Some(f) = p.action.finding() {
                        println!("         {} {}: {}", f.code, f.severity.as_str(), f.message);
                        println!("         fix: {}", f.fix);
                    }
                }
            }
            0
        };
        dst.close().await;
        Ok::<i32, SourceError>(code)
    });
    match r {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

fn print_inventory(inv: &LoginInventory, json: bool) -> Result<i32, SourceError> {
    if json {
        return print_json(&serde_json::json!({ "logins": inv.logins }));
    }
    print_table(inv);
    Ok(0)
}

fn print_table(inv: &LoginInventory) {
    println!(
        "{:<28} {:<14} {:<36} {:<8} {:<20} USED BY",
        "LOGIN", "KIND", "SID", "STATE", "ROLES"
    );
    for l in &inv.logins {
        let policy = match &l.kind {
            LoginKind::Sql(d) if d.check_policy => " policy",
            _ => "",
        };
        println!(
            "{:<28} {:<14} {:<36} {:<8} {:<20} {}",
            ellipsize(&l.name, 28),
            l.kind.label(),
            ellipsize(&l.sid.hex(), 36),
            format!(
                "{}{policy}",
                if l.disabled { "disabled" } else { "enabled" }
            ),
            ellipsize(&l.server_roles.join(","), 20),
            if l.used_by.is_empty() {
                "-".to_string()
            } else {
                l.used_by.join(", ")
            }
        );
    }
}

/// `cutover logins orphans`: exit 0 when no user is orphaned (after --fix), 1 otherwise.
fn orphans(
    conn: &SourceConnArgs,
    target: &TargetSqlArgs,
    databases: &[String],
    map: &[String],
    fix: bool,
) -> i32 {
    let prepared = source_options(conn).and_then(|s| {
        let t = target_options(target)?.ok_or_else(|| {
            "logins orphans reads the instance: give --target-server HOST[,PORT] and --target-user".to_string()
        })?;
        Ok((s, t, mapping(conn, map)?))
    });
    let ((source, mut warnings), (target, w), map) = match prepared {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    warnings.extend(w);
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    let Some(rt) = super::runtime(false) else {
        return 2;
    };
    let r = rt.block_on(async {
        let mut src = SourceClient::connect(&source).await?;
        let inventory = src.login_inventory(&[]).await?;
        src.close().await;
        let mut dst = SourceClient::connect(&target)
            .await
            .map_err(|e| SourceError::Other(format!("target SQL connection: {e}")))?;
        let mut found = Vec::new();
        let mut fixed = Vec::new();
        for db in databases {
            let users = dst.database_users(db).await?;
            let logins = dst.target_logins().await?;
            for o in crate::logins::orphaned_users(&users, &logins, Some(&inventory), &map) {
                match (&o.remap, fix) {
                    (Some(s), true) => {
                        dst.execute_params(s.sql(), &[]).await?;
                        fixed.push(o);
                    }
                    _ => found.push(o),
                }
            }
        }
        dst.close().await;
        if conn.json {
            print_json(&serde_json::json!({ "orphaned": found, "remapped": fixed }))?;
        } else {
            for o in &fixed {
                println!(
                    "remapped {}.{}: {}",
                    o.database,
                    o.user,
                    o.remap.as_ref().map(|s| s.shown()).unwrap_or("")
                );
            }
            for o in &found {
                println!(
                    "{} {}: {}",
                    o.finding.code, o.finding.subject, o.finding.message
                );
                println!("         fix: {}", o.finding.fix);
            }
            if found.is_empty() {
                println!("no orphaned users in {}", databases.join(", "));
            }
        }
        Ok::<i32, SourceError>(i32::from(!found.is_empty()))
    });
    match r {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}
