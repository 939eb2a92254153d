//! The headless view of the engine: one line per event (or JSON lines), SIGINT/SIGTERM stop cleanly
//! (the state file stays resumable), and a final summary as the last stdout line.

use std::io::Write;

use serde::Serialize;

use crate::engine::runner::EngineHandle;
use crate::engine::{EngineCommand, EventLine, MigrationSnapshot, Phase};
use crate::model::{LoginStatus, Severity};

#[derive(Debug, Serialize)]
struct DbSummary {
    name: String,
    /// The internal phase name (stable for scripts).
    status: Phase,
    /// The dashboard's word for it (READY, CATCHING UP, COMPLETED...).
    label: &'static str,
    target_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    connection_string: Option<String>,
    files_restored: usize,
    last_restored_file: Option<String>,
    last_restored_lsn: Option<String>,
    bytes_uploaded: u64,
    seconds: f64,
    /// From traffic stopped (or the cutover begun) to Completed, or so far; null before a cutover.
    downtime_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// The completed database as the instance reports it over its SQL endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    on_target: Option<crate::model::TargetDatabaseReport>,
    /// Its users left without a login on the instance after completion (`[logins]`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    orphaned_users: Vec<crate::model::Finding>,
}

#[derive(Debug, Serialize)]
struct Summary {
    databases: Vec<DbSummary>,
    /// The server logins the run migrated, with their status (none: not asked).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    logins: Vec<crate::model::LoginRow>,
}

/// Rounded to milliseconds (the JSON stays short).
fn millis(secs: f64) -> f64 {
    (secs * 1000.0).round() / 1000.0
}

fn print_event(e: &EventLine, json: bool) {
    let mut out = std::io::stdout().lock();
    if json {
        if let Ok(s) = serde_json::to_string(&serde_json::json!({
            "event": "log", "at": e.at_secs, "unix": e.unix_secs, "database": e.database, "level": e.level, "message": e.message
        })) {
            let _ = writeln!(out, "{s}");
        }
    } else {
        let db = e
            .database
            .as_deref()
            .map(|d| format!("{d}: "))
            .unwrap_or_default();
        let level = match e.level {
            Severity::Error => "ERROR ",
            Severity::Warning => "warn  ",
            Severity::Info => "",
        };
        let _ = writeln!(out, "[{:>5}s] {level}{db}{}", e.at_secs, e.message);
    }
    let _ = out.flush();
}

fn summary(s: &MigrationSnapshot) -> Summary {
    Summary {
        databases: s
            .databases
            .iter()
            .map(|d| {
                let st = &d.state;
                DbSummary {
                    name: st.name.clone(),
                    status: st.phase,
                    label: st.status_label(),
                    target_name: d.target_name.clone(),
                    connection_string: d
                        .on_target
                        .as_ref()
                        .map(|r| r.connection_string.clone())
                        .filter(|c| !c.trim().is_empty())
                        .or_else(|| s.connection_for(&d.target_name)),
                    files_restored: st
                        .files
                        .iter()
                        .filter(|f| f.status == crate::engine::FileStatus::Restored)
                        .count(),
                    last_restored_file: st.last_restored_file.clone(),
                    last_restored_lsn: d.last_applied_lsn.clone(),
                    bytes_uploaded: d.bytes_uploaded,
                    seconds: millis(d.elapsed_secs),
                    downtime_seconds: d.downtime_secs.map(millis),
                    error: st.error.clone(),
                    on_target: d.on_target.clone(),
                    orphaned_users: d
                        .findings
                        .iter()
                        .filter(|f| f.code == crate::model::Code::OrphanedUser)
                        .cloned()
                        .collect(),
                }
            })
            .collect(),
        logins: s.logins.clone(),
    }
}

/// The summary as text, two lines a database so that an 80x24 terminal shows it whole: its status,
/// target, downtime and files restored; then the instance's word on it (or the last file restored,
/// or the error). The applications' connection string once when the databases' differ only by
/// their name, else under each.
fn summary_text(s: &Summary) -> String {
    let mut out = String::new();
    for d in &s.databases {
        let downtime = d
            .downtime_seconds
            .map(|t| format!("downtime {}", crate::engine::downtime::words(t)))
            .unwrap_or_else(|| "no downtime".into());
        out.push_str(&format!(
            "{:<24} {:<11} -> {}, {downtime}, {} file(s) restored\n",
            d.name, d.label, d.target_name, d.files_restored,
        ));
        match (&d.on_target, &d.error) {
            (_, Some(e)) => out.push_str(&format!("    error: {e}\n")),
            (Some(r), None) => out.push_str(&match &r.state {
                Some(state) => format!(
                    "    on the instance: {state}, compatibility level {}, {} recovery\n",
                    r.compatibility_level
                        .map_or_else(|| "?".to_string(), |l| l.to_string()),
                    r.recovery_model.as_deref().unwrap_or("?")
                ),
                None => format!("    on the instance: no database {}\n", d.target_name),
            }),
            (None, None) => out.push_str(&format!(
                "    last restored {} (LSN {})\n",
                d.last_restored_file.as_deref().unwrap_or("-"),
                d.last_restored_lsn.as_deref().unwrap_or("-")
            )),
        }
    }
    let strings: Vec<(&DbSummary, &String)> = s
        .databases
        .iter()
        .filter_map(|d| d.connection_string.as_ref().map(|c| (d, c)))
        .collect();
    if let Some((_, c)) = strings.first() {
        // The string without its Database= part (the name may be quoted).
        let rest = |c: &str| -> Vec<String> {
            c.split(';')
                .filter(|p| !p.trim_start().to_ascii_lowercase().starts_with("database="))
                .map(str::to_string)
                .collect()
        };
        let one_shape = strings.iter().all(|(_, x)| rest(x) == rest(c));
        if one_shape && strings.len() > 1 {
            out.push_str(&format!(
                "applications connect with (Database= each one's target name): {c}\n"
            ));
        } else {
            for (d, c) in &strings {
                out.push_str(&format!("{}: {c}\n", d.name));
            }
        }
    }
    // One line for all databases (an 80x24 terminal shows the whole summary).
    // Users the migration orphaned (those orphaned on the source already are information: in
    // the events and the JSON).
    let orphaned: Vec<String> = s
        .databases
        .iter()
        .map(|d| {
            let n = d
                .orphaned_users
                .iter()
                .filter(|f| f.severity == Severity::Warning)
                .count();
            (d, n)
        })
        .filter(|(_, n)| *n > 0)
        .map(|(d, n)| format!("{} {n}", d.name))
        .collect();
    if !orphaned.is_empty() {
        out.push_str(&format!(
            "ORPHANED_USER (the events say which): {}\n",
            orphaned.join(", ")
        ));
    }
    if !s.logins.is_empty() {
        // One line: the counts, and the logins that are not on the instance by name.
        let count = |f: fn(&LoginStatus) -> bool| s.logins.iter().filter(|l| f(&l.status)).count();
        let not_there: Vec<String> = s
            .logins
            .iter()
            .filter(|l| !matches!(l.status, LoginStatus::Created | LoginStatus::Exists))
            .map(|l| format!("{} {}", l.login, l.status.label().to_lowercase()))
            .collect();
        out.push_str(&format!(
            "logins: {} created, {} already there{}\n",
            count(|x| *x == LoginStatus::Created),
            count(|x| *x == LoginStatus::Exists),
            if not_there.is_empty() {
                String::new()
            } else {
                format!("; not migrated: {}", not_there.join(", "))
            }
        ));
    }
    out
}

/// Prints where each database stands (status, target, connection string if known, downtime) to
/// stdout: one JSON line, or a few text lines. Shared by headless runs and the TUI on exit.
pub fn print_summary(s: &MigrationSnapshot, json: bool) {
    let sum = summary(s);
    let mut out = std::io::stdout().lock();
    if json {
        match serde_json::to_string(&sum) {
            Ok(line) => {
                let _ = writeln!(out, "{line}");
            }
            Err(e) => eprintln!("error: cannot format the summary: {e}"),
        }
    } else {
        let _ = write!(out, "{}", summary_text(&sum));
    }
    let _ = out.flush();
}

/// Prints why the engine task ended, if on an error; true then.
fn engine_ended(r: Result<Result<(), String>, tokio::task::JoinError>) -> bool {
    match r {
        Ok(Ok(())) => false,
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            true
        }
        Err(e) => {
            eprintln!("error: the engine stopped: {e}");
            true
        }
    }
}

async fn stop_signal() {
    #[cfg(unix)]
    {
        if let Ok(mut t) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = t.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// What a stopped `cutover run` leaves: its state, from which the same command goes on.
pub const KEPT: &str = "the migration state is kept; run the same command again to resume";

/// Runs until every database has ended (Completed, Canceled or Failed: a failed database stops
/// alone, the others go on) or a signal stops it (state kept and resumable). Prints the summary as
/// the last line; the exit code is the worst end state ([`exit_code`]). `on_signal`: what stays for
/// a next run, said when a signal stops it ([`KEPT`] for `run`).
pub async fn run(h: &mut EngineHandle, json: bool, on_signal: &str) -> i32 {
    let mut snaps = h.snapshots.clone();
    let mut stopped_by_signal = false;
    let mut failed = false;
    let mut shutdown_sent = false;
    let signal = stop_signal();
    tokio::pin!(signal);
    loop {
        tokio::select! {
            Some(e) = h.event_log.recv() => print_event(&e, json),
            changed = snaps.changed() => {
                if changed.is_err() {
                    // The engine ended (its snapshot sender is gone): what it ended with is the
                    // task's result, an error to print included.
                    failed |= engine_ended((&mut h.task).await);
                    break;
                }
                // A failed database stops alone: the run goes on until every database has ended.
                let all_ended = {
                    let s = snaps.borrow_and_update();
                    !s.databases.is_empty() && s.databases.iter().all(|d| has_ended(d.state.phase))
                };
                if all_ended && !shutdown_sent {
                    shutdown_sent = true;
                    let _ = h.commands.send(EngineCommand::Shutdown);
                }
            }
            _ = &mut signal, if !stopped_by_signal => {
                stopped_by_signal = true;
                eprintln!("stopping: {on_signal}");
                let _ = h.commands.send(EngineCommand::Shutdown);
            }
            r = &mut h.task => {
                failed |= engine_ended(r);
                break;
            }
        }
    }
    while let Ok(e) = h.event_log.try_recv() {
        print_event(&e, json);
    }
    let last = h.snapshots.borrow().clone();
    print_summary(&last, json);
    let phases: Vec<Phase> = last.databases.iter().map(|d| d.state.phase).collect();
    exit_code(&phases, failed, stopped_by_signal)
}

/// Nothing more happens to the database by itself: Completed, Canceled, or Failed (until retried).
fn has_ended(p: Phase) -> bool {
    p.is_final() || p == Phase::Failed
}

/// The worst end state decides: 1 when a database failed (or the engine itself stopped on an
/// error), 130 when a signal stopped the run before the end, 3 when a database was canceled and
/// none failed, 0 when every database completed.
fn exit_code(phases: &[Phase], engine_failed: bool, stopped_by_signal: bool) -> i32 {
    if engine_failed || phases.contains(&Phase::Failed) {
        1
    } else if !phases.is_empty() && phases.iter().all(|p| *p == Phase::Completed) {
        0
    } else if stopped_by_signal {
        130
    } else if phases.contains(&Phase::Canceled) && phases.iter().all(|p| has_ended(*p)) {
        3
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample;

    fn completed_with_downtime() -> MigrationSnapshot {
        let mut db = sample::database("Sales", Phase::Completed, 3);
        db.target_name = "SalesMI".into();
        db.downtime_secs = Some(133.4);
        let mut m = sample::migration(vec![db, sample::database("HR", Phase::CatchingUp, 2)]);
        m.target_connection =
            Some("Server=tcp:mi1.x.database.windows.net,1433;Database={database}".into());
        m
    }

    #[test]
    fn the_summary_names_label_target_connection_and_downtime() {
        let s = summary(&completed_with_downtime());
        let v = serde_json::to_value(&s).expect("json");
        let sales = &v["databases"][0];
        assert_eq!(sales["status"], "Completed");
        assert_eq!(sales["label"], "COMPLETED");
        assert_eq!(sales["target_name"], "SalesMI");
        assert_eq!(
            sales["connection_string"],
            "Server=tcp:mi1.x.database.windows.net,1433;Database=SalesMI"
        );
        assert_eq!(sales["downtime_seconds"], 133.4);
        assert!(v["databases"][1]["downtime_seconds"].is_null());
        assert_eq!(v["databases"][1]["label"], "CATCHING UP");

        let text = summary_text(&s);
        let first = text.lines().next().unwrap_or_default();
        assert!(first.starts_with("Sales "), "{text}");
        assert!(first.contains("COMPLETED"), "{text}");
        assert!(first.contains("-> SalesMI"), "{text}");
        assert!(first.contains("downtime 2 min 13 s"), "{text}");
        assert!(
            !text.contains("Completed"),
            "internal names stay out: {text}"
        );
        // Two databases only their name apart: the connection string once, said so; two lines a
        // database at most (an 80x24 terminal shows the summary whole).
        assert_eq!(text.matches("Server=tcp:").count(), 1, "{text}");
        assert!(
            text.contains("(Database= each one's target name): Server=tcp:mi1.x.database.windows.net,1433;Database=SalesMI"),
            "{text}"
        );
        assert!(text.lines().count() <= 2 * 2 + 1, "{text}");
        // One database: its own line.
        let mut one = completed_with_downtime();
        one.databases.truncate(1);
        let text1 = summary_text(&summary(&one));
        assert!(
            text1.contains("Sales: Server=tcp:mi1.x.database.windows.net,1433;Database=SalesMI"),
            "{text1}"
        );
        assert!(
            text.contains("HR ") && text.contains("CATCHING UP") && text.contains("no downtime")
        );
    }

    #[test]
    fn the_exit_code_is_the_worst_end_state() {
        use Phase::*;
        assert_eq!(exit_code(&[Completed, Completed], false, false), 0);
        assert_eq!(exit_code(&[Completed, Failed], false, false), 1);
        assert_eq!(exit_code(&[Failed, Canceled], false, false), 1);
        assert_eq!(exit_code(&[Completed, Canceled], false, false), 3);
        assert_eq!(exit_code(&[Completed, CatchingUp], false, true), 130);
        assert_eq!(exit_code(&[Completed, Failed], false, true), 1);
        assert_eq!(exit_code(&[Completed, Completed], true, false), 1);
        assert_eq!(exit_code(&[], false, false), 1);
        assert!(has_ended(Failed) && has_ended(Canceled) && has_ended(Completed));
        assert!(!has_ended(Blocked) && !has_ended(ReadyForCutover));
    }
}
