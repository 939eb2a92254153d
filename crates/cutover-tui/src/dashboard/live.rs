//! What proves the dashboard is alive, computed from the snapshot and the wall clock the app loop
//! ticks once a second: elapsed time, how long ago LRS answered, a stale warning, and whether the
//! migration is over (every database Completed or Canceled).

use cutover_model::{MigrationSnapshot, Phase};

/// LRS restore-status reads older than this (and an engine still polling) are shown as stale: the
/// engine reads every 10 s by default and backs off to at most 5 min only after failures, which it
/// reports itself (`MigrationSnapshot::stale`).
pub const STALE_AFTER_SECS: i64 = 60;

/// The wall clock of a render: the app's tick, or (tests, first frame) the newest time the
/// snapshot knows.
pub fn now(snap: &MigrationSnapshot, now_unix: i64) -> i64 {
    if now_unix > 0 {
        return now_unix;
    }
    let newest_event = snap.events.iter().map(|e| e.unix_secs).max().unwrap_or(0);
    snap.last_poll_unix
        .unwrap_or(0)
        .max(newest_event)
        .max(snap.started_unix + snap.elapsed_secs as i64)
}

/// Every database is Completed or Canceled: the engine has stopped, nothing more will happen.
pub fn finished(snap: &MigrationSnapshot) -> bool {
    !snap.databases.is_empty() && snap.databases.iter().all(|d| d.state.phase.is_final())
}

/// Seconds since the engine started: ticked from `started_unix` (frozen at the last snapshot once
/// the migration is over), or the engine's own figure when the start time is not known.
pub fn elapsed_secs(snap: &MigrationSnapshot, now_unix: i64) -> f64 {
    if snap.started_unix > 0 && now_unix > 0 && !finished(snap) {
        return (now_unix - snap.started_unix).max(0) as f64;
    }
    snap.elapsed_secs
}

/// The engine still reads LRS's restore status for some database.
pub fn polling(snap: &MigrationSnapshot) -> bool {
    snap.databases
        .iter()
        .any(|d| d.state.lrs_started && !d.state.phase.is_final() && d.state.phase != Phase::Failed)
}

/// How LRS's answers stand, for the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollState {
    /// No database is restoring: nothing to poll.
    Idle,
    /// Not answered yet since the engine started.
    NotYet,
    /// Answered `secs` ago.
    Fresh { secs: i64 },
    /// The engine says reads fail (its text), or the last answer is too old.
    Stale {
        secs: Option<i64>,
        why: Option<String>,
    },
}

pub fn poll_state(snap: &MigrationSnapshot, now_unix: i64) -> PollState {
    let age = snap.last_poll_unix.map(|t| (now_unix - t).max(0));
    if let Some(why) = &snap.stale {
        return PollState::Stale {
            secs: age,
            why: Some(why.clone()),
        };
    }
    if !polling(snap) {
        return PollState::Idle;
    }
    match age {
        None => PollState::NotYet,
        Some(secs) if secs > STALE_AFTER_SECS => PollState::Stale {
            secs: Some(secs),
            why: None,
        },
        Some(secs) => PollState::Fresh { secs },
    }
}

/// Downtime of one database: ticking from its start while cutting over, the engine's final figure
/// once Completed; None before the cutover began.
pub fn downtime_secs(db: &cutover_model::DatabaseSnapshot, now_unix: i64) -> Option<f64> {
    match (db.state.phase, db.downtime_started_unix) {
        (Phase::Completed, _) => db.downtime_secs.or_else(|| {
            db.downtime_started_unix
                .zip(db.completed_unix)
                .map(|(a, b)| (b - a).max(0) as f64)
        }),
        (Phase::CuttingOver | Phase::Completing, Some(start)) if now_unix > 0 => {
            Some((now_unix - start).max(0) as f64)
        }
        _ => db.downtime_secs,
    }
}
