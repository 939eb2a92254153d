//! The UIs' commands (pause / resume uploads, retry, cancel, begin / abandon the cutover, take or
//! wait for the tail, confirm no more backups, complete), each refused in words when it does not
//! apply, and retrying a failed database.

use crate::model::Severity;
use tokio::sync::mpsc;

use super::Engine;
use super::tasks::Msg;
use crate::engine::snapshot::{EngineCommand, SourceAccess};
use crate::engine::state::{Command, Event, Phase, TailState};

impl Engine {
    /// Retries a failed database; after a vanished restore, LRS is started again from scratch.
    pub(super) fn retry(&mut self, i: usize, tx: &mpsc::UnboundedSender<Msg>) {
        let gone = self.dbs[i].state.restore_gone;
        self.apply(i, Event::Command(Command::Retry), tx);
        if !self.dbs[i].in_flight.target_checked() {
            self.check_target(i, tx);
        }
        let d = &mut self.dbs[i];
        if gone && !d.state.restore_gone {
            d.polls_not_found = 0;
            d.poll_failures = 0;
            d.time_limit_said = None;
            d.in_flight.restore_restarted();
            d.last_poll = None;
            let name = d.cfg.name.clone();
            self.log(
                Some(&name),
                Severity::Info,
                "starting the restore again: LRS restores the full backup in the container and every log backup after it",
            );
        }
    }

    /// The index of the database named `name`.
    fn index(&self, name: &str) -> Option<usize> {
        self.dbs.iter().position(|d| d.cfg.name == name)
    }

    /// Carries out a UI's command (`Shutdown` is the task loop's).
    pub(super) fn command(&mut self, c: EngineCommand, tx: &mpsc::UnboundedSender<Msg>) {
        let lookup = |s: &Self, n: &str| s.index(n);
        match c {
            EngineCommand::PauseUploads => {
                self.paused = true;
                self.log(None, Severity::Info, "uploads paused");
            }
            EngineCommand::ResumeUploads => {
                self.paused = false;
                self.log(None, Severity::Info, "uploads resumed");
            }
            EngineCommand::Shutdown => {}
            EngineCommand::Retry { database } => {
                if let Some(i) = lookup(self, &database) {
                    self.retry(i, tx);
                }
            }
            EngineCommand::Cancel { database } => {
                if let Some(i) = lookup(self, &database) {
                    self.apply(i, Event::Command(Command::Cancel), tx);
                }
            }
            EngineCommand::BeginCutover {
                database,
                stop_traffic,
            } => {
                if let Some(i) = lookup(self, &database) {
                    self.begin_cutover(i, stop_traffic, tx);
                }
            }
            EngineCommand::TakeTail { database } => {
                if let Some(i) = lookup(self, &database) {
                    if self.dbs[i].state.phase == Phase::CuttingOver
                        && self.dbs[i].state.tail_kept_by_source()
                    {
                        let msg = self.tail_already_taken(i);
                        self.log(Some(&database), Severity::Info, msg);
                    } else if self.dbs[i].state.phase == Phase::CuttingOver {
                        self.take_tail(i, tx);
                    } else {
                        self.log(
                            Some(&database),
                            Severity::Warning,
                            "refused: begin the cutover first",
                        );
                    }
                }
            }
            EngineCommand::WaitForTail { database } => {
                if let Some(i) = lookup(self, &database) {
                    if self.dbs[i].state.phase == Phase::CuttingOver {
                        self.dbs[i].in_flight.operator_takes_tail();
                        self.dbs[i].files_at_cutover = Some(self.dbs[i].state.files.len());
                        let folder = self.dbs[i].cfg.folder.display().to_string();
                        self.log(
                            Some(&database),
                            Severity::Info,
                            format!("waiting for the operator's tail-log backup in {folder}"),
                        );
                    } else {
                        self.log(
                            Some(&database),
                            Severity::Warning,
                            "refused: begin the cutover first",
                        );
                    }
                }
            }
            EngineCommand::ConfirmNoMoreBackups { database } => {
                if let Some(i) = lookup(self, &database)
                    && self.apply(i, Event::Command(Command::ConfirmNoMoreBackups), tx)
                {
                    self.log(Some(&database), Severity::Warning, "the operator confirmed no more backups will come: any later log backup will be lost (data-loss risk)");
                }
            }
            EngineCommand::Complete { database } => {
                if let Some(i) = lookup(self, &database) {
                    self.apply(i, Event::Command(Command::Complete), tx);
                }
            }
            EngineCommand::AbandonCutover { database } => {
                let Some(i) = lookup(self, &database) else {
                    return;
                };
                // A tail-log backup taken WITH NORECOVERY left the source restoring: that cannot be
                // undone by cutover (no ALTER DATABASE is possible there). State files written
                // before the source's access was recorded say so only by the tail cutover took.
                let tail_taken_here = matches!(self.dbs[i].state.tail, TailState::Taken { .. })
                    && !self.dbs[i].in_flight.tail_wait();
                if tail_taken_here && self.dbs[i].state.source_access.is_none() {
                    self.dbs[i].state.source_access = Some(SourceAccess::Restoring);
                }
                if self.apply(i, Event::Command(Command::AbandonCutover), tx) {
                    self.dbs[i].files_at_cutover = None;
                    self.dbs[i].in_flight.cutover_abandoned();
                    if self.dbs[i].state.source_access == Some(SourceAccess::Restoring) {
                        self.log(Some(&database), Severity::Warning, format!(
                            "cutover abandoned after the tail-log backup: the source database stays RESTORING (the tail was taken WITH NORECOVERY) and the downtime goes on; begin the cutover again to complete with that tail, or run RESTORE DATABASE {} WITH RECOVERY on the source to use it again",
                            crate::source::quote::quote_ident(&database)
                        ));
                    } else if let Some(how) = self.dbs[i].traffic_stopped {
                        // The downtime ends when traffic is back (Msg::Traffic).
                        self.set_traffic(i, how, false, tx);
                    } else {
                        self.dbs[i].state.downtime_started_unix_ms = None;
                    }
                }
            }
        }
    }
}
