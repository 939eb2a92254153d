//! The cutover steps: begin (traffic stopped or not), stop traffic / undo on the source, the
//! tail-log backup (taken by cutover, by the operator, or found after a restart), the automatic
//! cutover (`--cutover when-ready`), and the downtime from its beginning to completion.

use crate::engine::error::Error;
use crate::model::Severity;
use tokio::sync::mpsc;

use super::Engine;
use super::tasks::{self, Msg};
use crate::backup::BackupType;
use crate::engine::downtime;
use crate::engine::snapshot::{EngineCommand, SourceAccess, TailMode};
use crate::engine::state::{Command, Event, FileStatus, Phase, TailState};
use crate::source::tail::{StopTraffic, TailRequest};

impl Engine {
    /// The downtime ends at completion: recorded (it survives a restart) and said in the events.
    pub(super) fn on_completed(&mut self, i: usize) {
        let now_ms = downtime::now_unix_ms();
        let st = &mut self.dbs[i].state;
        st.completed_unix_ms.get_or_insert(now_ms);
        let took =
            downtime::downtime_secs(st.downtime_started_unix_ms, st.completed_unix_ms, now_ms);
        let name = self.dbs[i].cfg.name.clone();
        let msg = match took {
            Some(s) => format!("{name} completed: downtime {}", downtime::words(s)),
            None => format!("{name} completed"),
        };
        self.log(Some(&name), Severity::Info, msg);
    }

    /// After completion, with `[target] sql_server`: the database as the instance reports it
    /// (state, compatibility level, recovery model), read in a task of its own.
    pub(super) fn verify_on_target(&mut self, i: usize, tx: &mpsc::UnboundedSender<Msg>) {
        let Some(opts) = self.cfg.target_sql.clone() else {
            return;
        };
        self.target_verifying += 1;
        let name = self.dbs[i].cfg.target_name.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let result =
                crate::target_sql::check_after_completion(&opts, std::slice::from_ref(&name))
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|(_, mut post)| {
                        post.pop()
                            .map(Box::new)
                            .ok_or_else(|| "no answer for the database".to_string())
                    });
            let _ = tx.send(Msg::TargetVerified { db: i, result });
        });
    }

    /// At shutdown: waits (at most 15 s) for the instance's word on databases just completed and
    /// for the logins being migrated, so that they reach the events, the state and the last
    /// snapshot; other messages are left.
    pub(super) async fn finish_target_checks(
        &mut self,
        rx: &mut mpsc::UnboundedReceiver<Msg>,
        tx: &mpsc::UnboundedSender<Msg>,
    ) {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
        while self.target_verifying > 0 || self.logins.busy {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(
                    m @ (Msg::TargetVerified { .. }
                    | Msg::OrphansChecked { .. }
                    | Msg::LoginsPlanned { .. }
                    | Msg::LoginDone { .. }
                    | Msg::LoginsFinished { .. }),
                )) => self.on_msg(m, tx),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
    }

    /// The instance's word on a completed database: in the events, its findings on the database.
    pub(super) fn on_target_verified(
        &mut self,
        i: usize,
        result: Result<Box<crate::target_sql::PostCutover>, String>,
    ) {
        self.target_verifying = self.target_verifying.saturating_sub(1);
        let name = self.dbs[i].cfg.name.clone();
        match result {
            Ok(p) => {
                let level = if p.findings.iter().any(|f| f.severity == Severity::Error) {
                    Severity::Error
                } else {
                    Severity::Info
                };
                let msg = match &p.state {
                    Some(s) => format!(
                        "on the instance: {s}, compatibility level {}, {} recovery; applications connect with {}",
                        p.compatibility_level.unwrap_or(0),
                        p.recovery_model.as_deref().unwrap_or("?"),
                        p.connection_string
                    ),
                    None => format!("the instance has no database {}", p.database),
                };
                self.log(Some(&name), level, msg);
                self.dbs[i].on_target = Some(cutover_model::TargetDatabaseReport {
                    state: p.state.clone(),
                    compatibility_level: p.compatibility_level,
                    recovery_model: p.recovery_model.clone(),
                    collation: p.collation.clone(),
                    connection_string: p.connection_string.clone(),
                });
                self.dbs[i].target_findings = p.findings;
            }
            Err(e) => self.log(
                Some(&name),
                Severity::Warning,
                format!("cannot read the completed database on the instance's SQL endpoint: {e}"),
            ),
        }
    }

    /// The downtime begins (traffic stopped, or the cutover begun without stopping it); a
    /// downtime already running (the source still RESTORING after an abandon) goes on.
    pub(super) fn downtime_begins(&mut self, i: usize) {
        let st = &mut self.dbs[i].state;
        if st.downtime_started_unix_ms.is_none() {
            st.downtime_started_unix_ms = Some(downtime::now_unix_ms());
            self.dbs[i].unsaved = true;
            self.persist_dirty = true;
        }
    }

    /// Begins the cutover: traffic stopped first if asked (and a source connection is configured),
    /// the downtime from then; a source already RESTORING has no traffic to stop.
    pub(super) fn begin_cutover(
        &mut self,
        i: usize,
        stop: Option<StopTraffic>,
        tx: &mpsc::UnboundedSender<Msg>,
    ) {
        if !self.apply(i, Event::Command(Command::BeginCutover), tx) {
            return;
        }
        self.dbs[i].files_at_cutover = Some(self.dbs[i].state.files.len());
        // RESTORING since the tail-log backup taken WITH NORECOVERY: the source refuses ALTER
        // DATABASE (error 5052) and writes no more log; there is no traffic to stop.
        let restoring = self.dbs[i].state.source_access == Some(SourceAccess::Restoring);
        self.dbs[i].in_flight.cutover_begun(restoring);
        if restoring {
            let name = self.dbs[i].cfg.name.clone();
            let msg = if self.dbs[i].state.tail_kept_by_source() {
                self.tail_already_taken(i)
            } else {
                "the source database is RESTORING (a tail-log backup WITH NORECOVERY was taken): traffic is already stopped and no more log can be backed up".into()
            };
            self.log(Some(&name), Severity::Info, msg);
            self.downtime_begins(i);
            return;
        }
        match stop {
            // The downtime begins when traffic is stopped (Msg::Traffic).
            Some(how) if self.cfg.source.is_some() => self.set_traffic(i, how, true, tx),
            _ => self.downtime_begins(i),
        }
    }

    /// What the cutover says of a tail taken WITH NORECOVERY in an earlier cutover: taken, and how
    /// far it is.
    pub(super) fn tail_already_taken(&self, i: usize) -> String {
        let st = &self.dbs[i].state;
        let TailState::Taken { file } = &st.tail else {
            return "the tail-log backup is not taken yet".into();
        };
        let how_far = match st.files.iter().find(|f| &f.name == file).map(|f| f.status) {
            Some(FileStatus::Restored) => "already restored",
            Some(FileStatus::Restoring) => "being restored",
            Some(FileStatus::Uploaded) => "uploaded, waiting to be restored",
            _ => "not uploaded yet",
        };
        format!(
            "the tail-log backup {file} is already taken (WITH NORECOVERY: the source database is RESTORING, traffic is stopped) and {how_far}: nothing more to take"
        )
    }

    /// The automatic cutover steps (`--cutover when-ready`), resumable after a restart: stop traffic,
    /// then the tail (take / confirm no more backups / wait for it), then complete.
    pub(super) fn auto_cutover(&mut self, i: usize, tx: &mpsc::UnboundedSender<Msg>) {
        let d = &self.dbs[i];
        if d.state.phase != Phase::CuttingOver || d.state.tail != TailState::Undecided {
            return;
        }
        if d.in_flight.cutover_step_pending() {
            return;
        }
        if let Some(how) = self.cfg.stop_traffic
            && self.cfg.source.is_some()
            && !d.in_flight.traffic_tried()
            && d.state.source_access != Some(SourceAccess::Restoring)
        {
            self.set_traffic(i, how, true, tx);
            return;
        }
        match self.cfg.tail {
            TailMode::Take => self.take_tail(i, tx),
            TailMode::Skip => {
                let name = d.cfg.name.clone();
                self.command(EngineCommand::ConfirmNoMoreBackups { database: name }, tx);
            }
            TailMode::Wait => {}
        }
    }

    /// The tail-log backup cutover took, or (wait mode, or a tail taken before a restart) a new log
    /// that landed after the cutover began: once it is a file of the plan, it is the tail.
    pub(super) fn resolve_tail(&mut self, i: usize, tx: &mpsc::UnboundedSender<Msg>) {
        let d = &self.dbs[i];
        if d.state.phase != Phase::CuttingOver {
            return;
        }
        let known = |name: &str| d.state.files.iter().any(|f| f.name == name);
        let newest = d.state.newest().map(|f| f.name.clone());
        let tail_file = if let Some(p) = d.in_flight.pending_tail() {
            d.layout
                .blob_name(p)
                .and_then(|b| b.split_once('/').map(|(_, f)| f.to_string()))
                .filter(|f| known(f))
        } else {
            // Detect a log that landed after the cutover began: when cutover did not take the tail
            // itself (the operator takes it, `--tail wait`), or when a restart found the source
            // already restoring. In `--tail take` mode a scheduled log is never taken for the tail.
            let detect = d
                .in_flight
                .detects_tail(self.cfg.tail == TailMode::Wait && self.cfg.cutover_when_ready);
            let undecided = match &d.state.tail {
                TailState::Undecided => true,
                TailState::Taken { file } => newest.as_deref() != Some(file.as_str()),
                TailState::NoMoreBackups => false,
            };
            if detect && undecided && d.files_at_cutover.is_some_and(|n| d.state.files.len() > n) {
                d.state
                    .newest()
                    .filter(|f| f.backup_type == BackupType::Log)
                    .map(|f| f.name.clone())
            } else {
                None
            }
        };
        if let Some(file) = tail_file {
            self.dbs[i].in_flight.tail_resolved();
            self.apply(i, Event::Command(Command::TailTaken { file }), tx);
        }
    }

    /// Takes the tail-log backup through the source connection (WITH NORECOVERY), unless it is
    /// being taken or the source is RESTORING already (then it is looked for in the folder).
    pub(super) fn take_tail(&mut self, i: usize, tx: &mpsc::UnboundedSender<Msg>) {
        let d = &mut self.dbs[i];
        if d.in_flight.taking_tail() {
            return;
        }
        let Some(opts) = self.cfg.source.clone() else {
            let name = d.cfg.name.clone();
            self.log(Some(&name), Severity::Error, "no source connection configured: take the tail-log backup yourself, cutover detects it when it lands");
            return;
        };
        if d.state.source_access == Some(SourceAccess::Restoring) {
            // BACKUP LOG would fail: the tail was taken already. Look for it in the folder.
            if d.in_flight.look_for_tail() {
                let name = d.cfg.name.clone();
                self.log(Some(&name), Severity::Info, "the source database is RESTORING (its tail-log backup was taken WITH NORECOVERY): looking for that backup in the folder");
            }
            return;
        }
        d.in_flight.start_tail();
        let req = TailRequest {
            database: d.cfg.name.clone(),
            server_folder: d
                .cfg
                .server_folder
                .clone()
                .unwrap_or_else(|| d.cfg.folder.to_string_lossy().into_owned()),
            local_folder: d.cfg.folder.clone(),
            appear_timeout: std::time::Duration::from_secs(120),
        };
        tasks::take_tail(i, self.cfg.backups.clone(), opts, req, tx);
    }

    /// Stops traffic to the source database (`stop`) or undoes that, on a connection of its own.
    pub(super) fn set_traffic(
        &mut self,
        i: usize,
        how: StopTraffic,
        stop: bool,
        tx: &mpsc::UnboundedSender<Msg>,
    ) {
        let Some(opts) = self.cfg.source.clone() else {
            let name = self.dbs[i].cfg.name.clone();
            self.log(
                Some(&name),
                Severity::Warning,
                "no source connection configured: stop traffic to the source yourself",
            );
            return;
        };
        let name = self.dbs[i].cfg.name.clone();
        self.dbs[i].in_flight.start_traffic(stop);
        tasks::set_traffic(i, opts, name, how, stop, tx);
    }

    /// Stop traffic or its undo ended: the source's access and the downtime follow.
    pub(super) fn on_traffic(
        &mut self,
        db: usize,
        how: StopTraffic,
        stopped: bool,
        result: Result<(), Error>,
    ) {
        let name = self.dbs[db].cfg.name.clone();
        self.dbs[db].in_flight.traffic_finished();
        match result {
            Ok(()) => {
                self.dbs[db].traffic_stopped = stopped.then_some(how);
                let what = if stopped {
                    self.dbs[db].state.source_access = Some(match how {
                        StopTraffic::ReadOnly => SourceAccess::ReadOnly,
                        StopTraffic::RestrictedUser => SourceAccess::RestrictedUser,
                    });
                    self.downtime_begins(db);
                    format!("traffic stopped on the source ({how:?})")
                } else {
                    self.dbs[db].state.source_access = Some(SourceAccess::ReadWrite);
                    self.dbs[db].state.downtime_started_unix_ms = None;
                    "traffic to the source restored".into()
                };
                self.log(Some(&name), Severity::Info, what);
            }
            Err(e) => {
                // The cutover goes on without stopped traffic: the downtime counts from now
                // (the tail-log backup WITH NORECOVERY stops traffic itself).
                if stopped && self.dbs[db].state.phase == Phase::CuttingOver {
                    self.downtime_begins(db);
                }
                self.log(Some(&name), Severity::Error, format!("source: {e}"))
            }
        }
    }

    /// The tail-log backup ended: taken (a scan will find it), already taken before a restart
    /// (looked for in the folder), or failed.
    pub(super) fn on_tail_taken(
        &mut self,
        db: usize,
        result: Result<std::path::PathBuf, Error>,
        tx: &mpsc::UnboundedSender<Msg>,
    ) {
        self.dbs[db].in_flight.tail_finished();
        let name = self.dbs[db].cfg.name.clone();
        match result {
            Ok(path) => {
                self.log(
                    Some(&name),
                    Severity::Info,
                    format!("tail-log backup taken: {}", path.display()),
                );
                // BACKUP LOG ... WITH NORECOVERY left the source RESTORING.
                self.dbs[db].state.source_access = Some(SourceAccess::Restoring);
                self.downtime_begins(db);
                self.dbs[db].in_flight.tail_landing(path);
                self.scan_all(tx);
            }
            Err(e) if e.sql_number() == Some(927) => {
                // The database is already restoring: the tail was taken before a restart.
                self.log(Some(&name), Severity::Info, format!("the source database is already restoring ({e}): looking for its tail-log backup in the folder"));
                self.dbs[db].state.source_access = Some(SourceAccess::Restoring);
                self.downtime_begins(db);
                self.dbs[db].in_flight.look_for_tail();
            }
            Err(e) => self.log(
                Some(&name),
                Severity::Error,
                format!("tail-log backup failed: {e}"),
            ),
        }
    }
}
