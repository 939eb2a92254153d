//! The restore on the managed instance (Log Replay Service): the target check before any upload,
//! start (or take up the restore this activity started), status reads with a back-off after
//! failures, complete, cancel, a restore that vanished, and LRS's 30-day limit in the event log.

use crate::engine::error::Error;
use crate::model::Severity;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::tasks::{self, Msg};
use super::{Engine, seconds};
use crate::catalog::Finding;
use crate::engine::in_flight::LrsCall;
use crate::engine::lrs_limit;
use crate::engine::lrs_slots;
use crate::engine::lrs_view::lrs_status;
use crate::engine::reattach::{self, RestoreIdentity};
use crate::engine::state::{Action, DatabaseState, Event, Phase};
use crate::restore_target::details::RestoreDetails;
use crate::restore_target::lrs::StartRequest;

/// Restore-status reads in a row that find no restore (404) before the database is Failed.
const RESTORE_GONE_AFTER: u32 = 3;

/// The wait before the next restore-status read: the poll interval, doubled after each failure in a
/// row (the client already retried throttling and server errors within the call), at most 5 minutes
/// (or the interval, if that is longer).
fn poll_delay(base: Duration, failures: u32) -> Duration {
    let cap = base.max(Duration::from_secs(300));
    base.saturating_mul(1u32 << failures.min(10)).min(cap)
}

/// The LRS 30-day finding of a database whose restore runs (not once complete was sent).
pub(super) fn time_limit_finding(st: &DatabaseState, now_unix: i64) -> Option<Finding> {
    if st.phase.is_final() || st.phase == Phase::Completing || !st.lrs_started {
        return None;
    }
    lrs_limit::finding(st.lrs_started_unix?, now_unix)
}

impl Engine {
    /// Logs, once per level, a database's restore nearing LRS's 30-day limit (and republishes:
    /// the finding is in its snapshot from then on).
    pub(super) fn announce_time_limits(&mut self) {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        for i in 0..self.dbs.len() {
            let Some(f) = time_limit_finding(&self.dbs[i].state, now) else {
                continue;
            };
            if self.dbs[i].time_limit_said == Some(f.severity) {
                continue;
            }
            self.dbs[i].time_limit_said = Some(f.severity);
            let name = self.dbs[i].cfg.name.clone();
            self.log(Some(&name), f.severity, format!("{}: {}", f.message, f.fix));
            self.publish_dirty = true;
        }
    }

    /// Checks in the background what the database's target holds (see [`reattach::check_target`]);
    /// a database not yet started uploads nothing until the answer. A re-attached one goes on
    /// meanwhile: its restore reads its own folder.
    pub(super) fn check_target(&mut self, i: usize, tx: &mpsc::UnboundedSender<Msg>) {
        let d = &mut self.dbs[i];
        d.in_flight.target_check_started(d.state.lrs_started);
        tasks::check_target(
            i,
            self.cfg.lrs.clone(),
            self.cfg.activity.clone(),
            d.cfg.target_name.clone(),
            d.restore.clone(),
            d.state.lrs_started,
            tx,
        );
    }

    pub(super) fn on_target_checked(
        &mut self,
        i: usize,
        verdict: reattach::Verdict,
        tx: &mpsc::UnboundedSender<Msg>,
    ) {
        let name = self.dbs[i].cfg.name.clone();
        match verdict {
            reattach::Verdict::Clear => {
                self.dbs[i].in_flight.target_clear();
                self.drive_due = true;
            }
            reattach::Verdict::Gone(reason) => {
                if !self.dbs[i].state.phase.is_final() {
                    self.apply(i, Event::RestoreGone { reason }, tx);
                }
            }
            reattach::Verdict::Refuse(reason) => {
                let d = &mut self.dbs[i].state;
                d.phase = Phase::Failed;
                d.error = Some(reason.clone());
                self.log(Some(&name), Severity::Error, reason);
            }
        }
    }

    /// Reads the restore status of every started database whose next read is due.
    pub(super) fn poll_lrs(&mut self, tx: &mpsc::UnboundedSender<Msg>, now: Instant) {
        for (i, d) in self.dbs.iter_mut().enumerate() {
            if !d.state.lrs_started || d.state.phase.is_final() || !d.in_flight.may_call_lrs() {
                continue;
            }
            if d.last_poll
                .is_some_and(|t| now - t < poll_delay(self.cfg.lrs_poll, d.poll_failures))
            {
                continue;
            }
            d.last_poll = Some(now);
            d.in_flight.start_lrs_call(LrsCall::Status);
            tasks::read_status(i, self.cfg.lrs.clone(), d.cfg.target_name.clone(), tx);
        }
    }

    /// The target's tier and databases arrived: the limit on restores at once follows them (said
    /// in the event log); a failure keeps the documented defaults.
    pub(super) fn on_target_facts(
        &mut self,
        result: Result<Option<crate::restore_target::seam::TargetFacts>, String>,
    ) {
        let first = !self.facts_seen;
        self.facts_seen = true;
        self.facts_read_at = Some(std::time::Instant::now());
        match result {
            Ok(Some(f)) => {
                let own: Vec<String> = self.dbs.iter().map(|d| d.cfg.target_name.clone()).collect();
                let limits = lrs_slots::LrsLimits::from_facts(&f, &own);
                if limits != self.cfg.lrs_limits || first {
                    let others = match &f.restoring_elsewhere {
                        Ok(_) => format!(
                            "{} restore(s) of others running in the subscription",
                            limits.busy_subscription
                        ),
                        Err(e) => format!("the subscription's other restores not readable ({e})"),
                    };
                    let message = format!(
                        "the managed instance is {} with {} other database(s), {others}: at most {} restores at once",
                        limits.tier.as_deref().unwrap_or("of an unknown tier"),
                        limits.other_databases,
                        limits.concurrent()
                    );
                    self.log(None, Severity::Info, message);
                }
                self.cfg.lrs_limits = limits;
                self.drive_due = true;
            }
            Ok(None) => {}
            Err(_) if !first => {}
            Err(e) => self.log(
                None,
                Severity::Warning,
                format!(
                    "cannot read the managed instance's tier and databases ({e}): assuming at most {} restores at once",
                    self.cfg.lrs_limits.concurrent()
                ),
            ),
        }
    }

    /// Starts the restore (`Action::StartLrs`), once: the restore's identity is saved before the
    /// start is sent, so that a crash in between still knows the restore found is its own.
    pub(super) fn start_lrs(&mut self, i: usize, tx: &mpsc::UnboundedSender<Msg>) {
        if !self.dbs[i].in_flight.may_call_lrs() || self.dbs[i].state.lrs_started {
            return;
        }
        // LRS's limits on restores at once: wait Queued for a slot (drive() tries again).
        let running = self
            .dbs
            .iter()
            .filter(|d| {
                lrs_slots::holds_slot(&d.state) || d.in_flight.lrs_call() == Some(LrsCall::Start)
            })
            .count()
            + self.cancelling.load(std::sync::atomic::Ordering::SeqCst);
        if let Some(reason) = self.cfg.lrs_limits.refusal(running) {
            if self.dbs[i].state.lrs_queued.as_deref() != Some(reason.as_str()) {
                let first = self.dbs[i].state.lrs_queued.is_none();
                self.dbs[i].state.lrs_queued = Some(reason.clone());
                self.dbs[i].unsaved = true;
                self.publish_dirty = true;
                if first {
                    let name = self.dbs[i].cfg.name.clone();
                    self.log(Some(&name), Severity::Info, reason);
                }
            }
            return;
        }
        if self.dbs[i].state.lrs_queued.take().is_some() {
            let name = self.dbs[i].cfg.name.clone();
            self.log(
                Some(&name),
                Severity::Info,
                "a restore slot is free: starting the restore",
            );
        }
        let d = &mut self.dbs[i];
        let target = d.cfg.target_name.clone();
        let storage_uri = format!(
            "{}/{}",
            self.cfg.container_url.trim_end_matches('/'),
            d.blob_folder()
        );
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let want = RestoreIdentity::requested(&self.cfg.activity, &target, &storage_uri, now);
        let prior = d.restore.replace(want.clone());
        let our_files: Vec<String> = d
            .layout
            .entries()
            .into_iter()
            .filter_map(|(_, b)| b.split_once('/').map(|(_, f)| f.to_string()))
            .chain(d.state.files.iter().map(|f| f.name.clone()))
            .collect();
        d.unsaved = true;
        // Recorded before the start is sent: a crash in between still knows that the
        // restore found on the instance is this activity's own.
        if let Err(e) = self.save() {
            let d = &mut self.dbs[i];
            d.restore = prior;
            let name = d.cfg.name.clone();
            self.log(
                Some(&name),
                Severity::Error,
                format!("the Log Replay Service is not started: {e}"),
            );
            return;
        }
        self.dbs[i].in_flight.start_lrs_call(LrsCall::Start);
        let req = StartRequest {
            location: self.cfg.location.clone(),
            storage_uri,
            access: self.cfg.lrs_access.clone(),
            collation: self.cfg.collation.clone(),
            last_backup_name: None,
        };
        let lrs = self.cfg.lrs.clone();
        tasks::start_restore(i, lrs, req, prior, want, our_files, tx);
    }

    /// Completes the restore with `last_backup_name` (`Action::CompleteLrs`).
    pub(super) fn complete_lrs(
        &mut self,
        i: usize,
        last_backup_name: String,
        tx: &mpsc::UnboundedSender<Msg>,
    ) {
        let d = &mut self.dbs[i];
        d.in_flight.complete_sending();
        let msg = format!("completing the restore with lastBackupName {last_backup_name}");
        let name = d.cfg.name.clone();
        let target = d.cfg.target_name.clone();
        tasks::send_complete(i, self.cfg.lrs.clone(), target, last_backup_name, tx);
        self.log(Some(&name), Severity::Info, msg);
    }

    pub(super) fn on_lrs_started(
        &mut self,
        db: usize,
        result: Result<reattach::Started, reattach::NotStarted>,
        tx: &mpsc::UnboundedSender<Msg>,
    ) {
        self.dbs[db].in_flight.lrs_call_finished(LrsCall::Start);
        let name = self.dbs[db].cfg.name.clone();
        match result {
            Ok(started) => {
                let id = started.identity;
                let message = if started.adopted {
                    "re-attached to the Log Replay Service restore this activity started before the restart"
                } else {
                    "Log Replay Service restore started"
                };
                self.log(Some(&name), Severity::Info, message);
                self.dbs[db].state.lrs_started_unix = id
                    .accepted_unix
                    .or(Some(time::OffsetDateTime::now_utc().unix_timestamp()));
                self.dbs[db].restore = Some(id);
                self.apply(db, Event::LrsStarted, tx);
            }
            Err(e) => {
                self.dbs[db].restore = e.keep;
                let d = &mut self.dbs[db].state;
                d.phase = Phase::Failed;
                d.error = Some(e.message.clone());
                self.log(Some(&name), Severity::Error, e.message);
            }
        }
    }

    /// A restore-status read ended: the liveness indicators move, then the answer or the failure.
    pub(super) fn on_lrs_polled(
        &mut self,
        db: usize,
        result: Result<Box<RestoreDetails>, Error>,
        tx: &mpsc::UnboundedSender<Msg>,
    ) {
        self.dbs[db].in_flight.lrs_call_finished(LrsCall::Status);
        // "Polled N s ago" and the stale warning move with every answer or failure.
        self.publish_dirty = true;
        let now_unix = time::OffsetDateTime::now_utc().unix_timestamp();
        match &result {
            Ok(_) => self.dbs[db].poll.answered(now_unix),
            Err(e) => self.dbs[db].poll.failed(now_unix, &e.to_string()),
        }
        match result {
            Ok(det) => self.on_restore_status(db, &det, tx),
            Err(e) => self.on_restore_status_failed(db, e.http_status(), e.to_string(), tx),
        }
    }

    /// The restore's status: applied to the state; complete is sent again if this process has not
    /// sent it and LRS still restores (a restart in Completing).
    fn on_restore_status(
        &mut self,
        db: usize,
        det: &RestoreDetails,
        tx: &mpsc::UnboundedSender<Msg>,
    ) {
        self.dbs[db].poll_failures = 0;
        self.dbs[db].polls_not_found = 0;
        let st = lrs_status(&self.dbs[db].state.files, det);
        let restoring = det
            .status
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("Restoring"));
        self.apply(db, Event::Lrs(st), tx);
        let d = &self.dbs[db];
        if d.state.phase == Phase::Completing
            && !d.in_flight.complete_sent()
            && restoring
            && let Some(name) = d.state.completed_with.clone()
        {
            self.act(
                db,
                Action::CompleteLrs {
                    last_backup_name: name,
                },
                tx,
            );
        }
    }

    /// A status read failed: the next waits longer; several in a row finding no restore (404) mean
    /// the restore is gone.
    fn on_restore_status_failed(
        &mut self,
        db: usize,
        status: Option<u16>,
        e: String,
        tx: &mpsc::UnboundedSender<Msg>,
    ) {
        let d = &mut self.dbs[db];
        d.poll_failures = d.poll_failures.saturating_add(1);
        d.polls_not_found = if status == Some(404) {
            d.polls_not_found.saturating_add(1)
        } else {
            0
        };
        let next = poll_delay(self.cfg.lrs_poll, d.poll_failures);
        let name = d.cfg.name.clone();
        self.log(
            Some(&name),
            Severity::Warning,
            format!("restore status: {e} (next try in {})", seconds(next)),
        );
        // No restore of a database whose restore was started, several times in a
        // row (not one read racing the start): it was cancelled or dropped. After
        // complete was sent the database may be online already: keep reading.
        let d = &self.dbs[db];
        if d.polls_not_found >= RESTORE_GONE_AFTER
            && d.state.phase != Phase::Completing
            && !d.state.restore_gone
        {
            let reason = lrs_limit::restore_gone(
                &d.cfg.target_name,
                d.state.lrs_started_unix,
                time::OffsetDateTime::now_utc().unix_timestamp(),
            );
            self.apply(db, Event::RestoreGone { reason }, tx);
        }
    }

    pub(super) fn on_complete_sent(
        &mut self,
        db: usize,
        result: Result<(), Error>,
        tx: &mpsc::UnboundedSender<Msg>,
    ) {
        match result {
            // Asked before (a restart after the call): keep waiting for it.
            Err(e) if e.lrs_code() == Some("ExternalBackupAlreadySignaledToComplete") => {}
            Err(e) => {
                let error = e.to_string();
                self.apply(db, Event::CompleteFailed { error }, tx);
            }
            Ok(()) => {}
        }
        self.dbs[db].last_poll = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restore_status_polls_back_off_after_failures_and_cap_at_five_minutes() {
        let ten = Duration::from_secs(10);
        assert_eq!(poll_delay(ten, 0), ten);
        assert_eq!(poll_delay(ten, 1), Duration::from_secs(20));
        assert_eq!(poll_delay(ten, 3), Duration::from_secs(80));
        assert_eq!(poll_delay(ten, 5), Duration::from_secs(300));
        assert_eq!(poll_delay(ten, u32::MAX), Duration::from_secs(300));
        let long = Duration::from_secs(600);
        assert_eq!(poll_delay(long, 4), long, "never shorter than the interval");
        assert_eq!(seconds(Duration::from_millis(600)), "0.6 s");
        assert_eq!(seconds(Duration::from_secs(20)), "20 s");
    }
}
