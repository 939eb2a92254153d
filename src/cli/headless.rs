//! The headless view of the engine: one line per event (or JSON lines), SIGINT/SIGTERM stop cleanly
//! (the state file stays resumable), and a final summary as the last stdout line.

use std::io::Write;

use serde::Serialize;

use crate::engine::runner::EngineHandle;
use crate::engine::{EngineCommand, EventLine, MigrationSnapshot, Phase};

#[derive(Debug, Serialize)]
struct DbSummary {
    name: String,
    status: Phase,
    files_restored: usize,
    last_restored_file: Option<String>,
    last_restored_lsn: Option<String>,
    bytes_uploaded: u64,
    seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Debug, Serialize)]
struct Summary {
    databases: Vec<DbSummary>,
}

fn print_event(e: &EventLine, json: bool) {
    let mut out = std::io::stdout().lock();
    if json {
        if let Ok(s) = serde_json::to_string(&serde_json::json!({
            "event": "log", "at": e.at_secs, "database": e.database, "level": e.level, "message": e.message
        })) {
            let _ = writeln!(out, "{s}");
        }
    } else {
        let db = e
            .database
            .as_deref()
            .map(|d| format!("{d}: "))
            .unwrap_or_default();
        let level = match e.level.as_str() {
            "error" => "ERROR ",
            "warning" => "warn  ",
            _ => "",
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
                    files_restored: st
                        .files
                        .iter()
                        .filter(|f| f.status == crate::engine::FileStatus::Restored)
                        .count(),
                    last_restored_file: st.last_restored_file.clone(),
                    last_restored_lsn: d.last_applied_lsn.clone(),
                    bytes_uploaded: d.bytes_uploaded,
                    seconds: (d.elapsed_secs * 1000.0).round() / 1000.0,
                    error: st.error.clone(),
                }
            })
            .collect(),
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

/// Runs until every database is Completed (exit 0), one fails (exit 1, state kept), or a signal
/// stops it (exit 130, state kept and resumable). Prints the summary as the last line.
pub async fn run(h: &mut EngineHandle, json: bool) -> i32 {
    let mut snaps = h.snapshots.clone();
    let mut stopped_by_signal = false;
    let mut failed = false;
    let signal = stop_signal();
    tokio::pin!(signal);
    loop {
        tokio::select! {
            Some(e) = h.event_log.recv() => print_event(&e, json),
            changed = snaps.changed() => {
                if changed.is_err() {
                    break;
                }
                let s = snaps.borrow_and_update().clone();
                if s.databases.iter().any(|d| d.state.phase == Phase::Failed) {
                    failed = true;
                    let _ = h.commands.send(EngineCommand::Shutdown);
                }
            }
            _ = &mut signal, if !stopped_by_signal => {
                stopped_by_signal = true;
                eprintln!("stopping: the migration state is kept; run the same command again to resume");
                let _ = h.commands.send(EngineCommand::Shutdown);
            }
            r = &mut h.task => {
                match r {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => { eprintln!("error: {e}"); failed = true; }
                    Err(e) => { eprintln!("error: the engine stopped: {e}"); failed = true; }
                }
                break;
            }
        }
    }
    while let Ok(e) = h.event_log.try_recv() {
        print_event(&e, json);
    }
    let last = h.snapshots.borrow().clone();
    let s = summary(&last);
    let all_completed =
        !s.databases.is_empty() && s.databases.iter().all(|d| d.status == Phase::Completed);
    if json {
        match serde_json::to_string(&s) {
            Ok(line) => println!("{line}"),
            Err(e) => eprintln!("error: cannot format the summary: {e}"),
        }
    } else {
        for d in &s.databases {
            println!(
                "{:<24} {:<16} {} file(s) restored, last {} (LSN {})",
                d.name,
                format!("{:?}", d.status),
                d.files_restored,
                d.last_restored_file.as_deref().unwrap_or("-"),
                d.last_restored_lsn.as_deref().unwrap_or("-")
            );
        }
    }
    if all_completed {
        0
    } else if stopped_by_signal {
        130
    } else {
        i32::from(failed).max(1)
    }
}
