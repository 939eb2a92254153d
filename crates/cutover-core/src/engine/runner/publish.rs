//! Publishing: the [`MigrationSnapshot`] the UIs read (one [`DatabaseSnapshot`] per database:
//! bytes and rate, data lag, findings, the cutover guard's refusal and what it waits for, the
//! downtime), sent on the `watch` channel with a new generation; and the source server's UTC
//! offset the data lag is computed with.

use crate::model::Severity;
use std::time::Instant;

use super::Engine;
use super::database::RunDb;
use super::restore::time_limit_finding;
use crate::backup::BackupType;
use crate::engine::snapshot::{DatabaseSnapshot, MigrationSnapshot, cutover_statements};
use crate::engine::state::{FileStatus, Phase, TailState};
use crate::engine::{downtime, guard, liveness};
use crate::model::CutoverStatements;

impl Engine {
    /// Sends a new snapshot (a new generation) to the UIs.
    pub(super) fn publish(&mut self) {
        self.persist_dirty = false;
        self.publish_dirty = false;
        self.generation += 1;
        let snap = self.snapshot();
        self.rate_showing = snap.total_upload_bytes_per_sec > 0.0;
        if let Some(tx) = &self.tx {
            tx.send_replace(snap);
        }
    }

    /// The source server's offset from UTC arrived (or why not, or no source connection).
    pub(super) fn on_source_offset(&mut self, answer: Option<Result<i32, String>>) {
        match answer {
            Some(Ok(minutes)) => {
                self.source_utc_offset_minutes = Some(minutes);
                let sign = if minutes < 0 { '-' } else { '+' };
                let m = minutes.unsigned_abs();
                self.log(
                    None,
                    Severity::Info,
                    format!(
                        "the source server's clock is UTC{sign}{:02}:{:02}: data lag is computed in UTC",
                        m / 60,
                        m % 60
                    ),
                );
            }
            Some(Err(e)) => self.log(
                None,
                Severity::Warning,
                format!("cannot read the source server's time zone ({e}): data lag reads the backups' start times (server local time) as UTC"),
            ),
            None => {}
        }
    }

    /// The whole activity as the UIs see it now.
    pub(super) fn snapshot(&self) -> MigrationSnapshot {
        let now = Instant::now();
        let clock = SnapshotClock {
            now_ms: downtime::now_unix_ms(),
            paused: self.paused,
            utc_offset_minutes: self.source_utc_offset_minutes,
        };
        let databases: Vec<DatabaseSnapshot> = self
            .dbs
            .iter()
            .map(|d| db_snapshot(d, now, &clock))
            .collect();
        MigrationSnapshot {
            activity: self.cfg.activity.clone(),
            source: self.cfg.source_label.clone(),
            target: self.cfg.target_label.clone(),
            elapsed_secs: self.started.elapsed().as_secs_f64(),
            total_upload_bytes_per_sec: databases.iter().map(|d| d.upload_bytes_per_sec).sum(),
            paused: self.paused,
            databases,
            events: self.events.clone(),
            generation: self.generation,
            started_unix: self.started_unix,
            last_poll_unix: liveness::last_poll_unix(self.dbs.iter().map(|d| &d.poll)),
            stale: liveness::stale_message(self.dbs.iter().map(|d| (d.cfg.name.as_str(), &d.poll))),
            target_connection: self
                .cfg
                .target_sql
                .as_ref()
                .map(|o| crate::target_sql::connection_string(o, "{database}")),
            logins: self.logins.rows.clone(),
            logins_note: self.logins.note.clone(),
        }
    }
}

/// The wall clock and engine-wide facts a database's snapshot is computed with.
struct SnapshotClock {
    now_ms: i64,
    paused: bool,
    utc_offset_minutes: Option<i32>,
}

/// One database as the UIs see it now.
fn db_snapshot(d: &RunDb, now: Instant, clock: &SnapshotClock) -> DatabaseSnapshot {
    let st = &d.state;
    let bytes_total: u64 = st
        .files
        .iter()
        .filter(|f| f.status != FileStatus::Skipped)
        .map(|f| f.size)
        .sum();
    let bytes_uploaded: u64 = st.files.iter().map(|f| f.uploaded_bytes.min(f.size)).sum();
    // Paused: nothing moves, so no rate and no ETA (the UI says "paused").
    let rate = if clock.paused {
        0.0
    } else {
        d.meter.rate_bytes_per_sec(now)
    };
    let restored_last = st
        .last_restored_file
        .as_deref()
        .and_then(|n| st.files.iter().find(|f| f.name == n));
    // Lag stops at completion: the target no longer follows the source.
    let lag_at_ms = st.completed_unix_ms.unwrap_or(clock.now_ms);
    let data_lag_secs = restored_last
        .and_then(|f| f.backup_start.as_deref())
        .and_then(|s| liveness::data_lag_secs(s, clock.utc_offset_minutes, lag_at_ms));
    let steps = d.in_flight.steps();
    DatabaseSnapshot {
        target_name: d.cfg.target_name.clone(),
        folder: d.cfg.folder.to_string_lossy().into_owned(),
        server_folder: d.cfg.server_folder.clone().unwrap_or_default(),
        bytes_total,
        bytes_uploaded,
        upload_bytes_per_sec: rate,
        upload_history: d.meter.history(now),
        upload_eta_secs: (rate > 0.0 && bytes_total > bytes_uploaded)
            .then(|| (bytes_total - bytes_uploaded) as f64 / rate),
        last_applied_lsn: restored_last.map(|f| f.last_lsn.to_string()),
        data_lag_secs,
        pending_log_backups: st
            .pending()
            .iter()
            .filter(|f| f.backup_type == BackupType::Log)
            .count(),
        findings: {
            let mut f = d.findings.clone();
            f.extend(d.target_findings.iter().cloned());
            f.extend(d.login_findings.iter().cloned());
            f.extend(time_limit_finding(
                st,
                time::OffsetDateTime::now_utc().unix_timestamp(),
            ));
            f
        },
        cutover_refusal: guard::may_complete(st).err().map(|r| r.to_string()),
        traffic_stopped: d.traffic_stopped,
        elapsed_secs: d.started.elapsed().as_secs_f64(),
        data_lag_utc_known: clock.utc_offset_minutes.is_some(),
        downtime_started_unix: st.downtime_started_unix_ms.map(|ms| ms.div_euclid(1000)),
        downtime_secs: downtime::downtime_secs(
            st.downtime_started_unix_ms,
            st.completed_unix_ms,
            clock.now_ms,
        ),
        cutover_waiting_for: guard::waiting_for(st, steps),
        completed_unix: st.completed_unix_ms.map(|ms| ms.div_euclid(1000)),
        source_access: st.source_access,
        checklist: guard::checklist(st),
        statements: statements(d),
        on_target: d.on_target.clone(),
        state: st.clone(),
    }
}

/// The statements the cutover dialog shows. The tail-log backup's file is named (a look in the
/// folder) only while the tail is to be taken: the dialog shows it then, and only then.
fn statements(d: &RunDb) -> CutoverStatements {
    let st = &d.state;
    let tail_due = st.phase == Phase::CuttingOver && st.tail == TailState::Undecided;
    cutover_statements(
        &st.name,
        &d.cfg.folder,
        d.cfg.server_folder.as_deref().unwrap_or_default(),
        tail_due.then(time::OffsetDateTime::now_utc),
    )
}
