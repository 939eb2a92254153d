//! How the engine changes a database: an event applied to its state machine (the transition
//! logged, saved and published), the actions the state machine asks for carried out, and what
//! becomes due by itself after each change (uploads, an LRS start after a restart, the tail, the
//! automatic cutover).

use crate::engine::state::StateMachine;
use crate::model::Severity;
use tokio::sync::mpsc;

use super::Engine;
use super::tasks::{self, Msg};
use crate::backup::BackupType;
use crate::engine::guard;
use crate::engine::state::{Action, Command, Event, FileStatus, Phase};

impl Engine {
    /// Applies an event to a database, logs refusals and carries out the actions.
    pub(super) fn apply(&mut self, i: usize, ev: Event, tx: &mpsc::UnboundedSender<Msg>) -> bool {
        let snapshot_before = self.dbs[i].state.clone();
        let changed = self.apply_inner(i, ev, tx);
        if self.dbs[i].state != snapshot_before {
            self.persist_dirty = true;
            self.dbs[i].unsaved = true;
            self.changes += 1;
        }
        changed
    }

    /// The transition itself: logged (a new phase, a refusal), then its actions carried out.
    fn apply_inner(&mut self, i: usize, ev: Event, tx: &mpsc::UnboundedSender<Msg>) -> bool {
        let before = self.dbs[i].state.phase;
        let name = self.dbs[i].cfg.name.clone();
        match self.dbs[i].state.apply(ev) {
            Ok(actions) => {
                let after = self.dbs[i].state.phase;
                if after != before {
                    let msg = match (&self.dbs[i].state.error, after) {
                        (Some(e), Phase::Failed) => format!("{}: {e}", after.label()),
                        _ => format!("{} -> {}", before.label(), after.label()),
                    };
                    let level = if after == Phase::Failed {
                        Severity::Error
                    } else {
                        Severity::Info
                    };
                    self.log(Some(&name), level, msg);
                    if after == Phase::Completed {
                        self.on_completed(i);
                        self.verify_on_target(i, tx);
                        self.check_orphans(i, tx);
                    }
                }
                for a in actions {
                    self.act(i, a, tx);
                }
                true
            }
            Err(r) => {
                self.log(Some(&name), Severity::Warning, format!("refused: {r}"));
                false
            }
        }
    }

    /// Carries out an action of the state machine.
    pub(super) fn act(&mut self, i: usize, a: Action, tx: &mpsc::UnboundedSender<Msg>) {
        match a {
            Action::StartLrs => self.start_lrs(i, tx),
            Action::CompleteLrs { last_backup_name } => self.complete_lrs(i, last_backup_name, tx),
            Action::CancelLrs => {
                let target = self.dbs[i].cfg.target_name.clone();
                tasks::cancel_restore(self.cfg.lrs.clone(), target, self.cancelling.clone());
            }
        }
    }

    /// What happens by itself: uploads of arrived files, automatic cutover when asked for.
    pub(super) fn drive(&mut self, tx: &mpsc::UnboundedSender<Msg>) {
        for i in 0..self.dbs.len() {
            let phase = self.dbs[i].state.phase;
            if matches!(
                phase,
                Phase::Failed | Phase::Canceled | Phase::Completed | Phase::Completing
            ) {
                continue;
            }
            if !self.paused && self.dbs[i].in_flight.target_checked() {
                self.start_uploads(i, tx);
            }
            // A full already uploaded but LRS not started (a restart between the two): start it.
            let d = &self.dbs[i];
            if !d.state.lrs_started
                && d.in_flight.may_call_lrs()
                && phase != Phase::Blocked
                && d.state
                    .files
                    .iter()
                    .any(|f| f.backup_type == BackupType::Full && f.status == FileStatus::Uploaded)
            {
                self.act(i, Action::StartLrs, tx);
            }
            self.resolve_tail(i, tx);
            if self.cfg.cutover_when_ready {
                if phase == Phase::ReadyForCutover && self.logins.migrating() {
                    if !self.logins.hold_said {
                        self.logins.hold_said = true;
                        self.log(
                            None,
                            Severity::Info,
                            "ready for cutover: waiting for the logins' migration first (--cutover when-ready)",
                        );
                    }
                } else if phase == Phase::ReadyForCutover {
                    let name = self.dbs[i].cfg.name.clone();
                    self.log(
                        Some(&name),
                        Severity::Info,
                        "ready for cutover: beginning it (--cutover when-ready)",
                    );
                    self.begin_cutover(i, self.cfg.stop_traffic, tx);
                } else if phase == Phase::CuttingOver {
                    if guard::may_complete(&self.dbs[i].state).is_ok() {
                        self.apply(i, Event::Command(Command::Complete), tx);
                    } else {
                        self.auto_cutover(i, tx);
                    }
                }
            }
        }
    }
}
