//! Folder scans: a scan of every database's folder on each scan tick (or after a tail-log backup
//! was taken), and what a scan found: the plan's files that arrived, the files it leaves out, the
//! findings.

use tokio::sync::mpsc;

use super::Engine;
use super::tasks::{self, Msg};
use crate::catalog::{self, Finding, Severity};
use crate::engine::state::{BackupFile, Event, FileStatus, IgnoredFile, Phase};

impl Engine {
    /// A blocking finding while the plan's TDE thumbprints are not recorded as on the instance
    /// (`tde::record`, written by `cutover tde migrate` in the state folder).
    fn tde_hold(&self, plan: &catalog::DatabasePlan) -> Option<Finding> {
        let needed: std::collections::BTreeSet<&str> = plan
            .plan
            .iter()
            .filter_map(|s| s.tde_thumbprint.as_deref())
            .collect();
        if needed.is_empty() {
            return None;
        }
        let state_dir = self.cfg.state_file.parent()?;
        let known = crate::tde::record::on_target(state_dir);
        let missing: Vec<&str> = needed
            .into_iter()
            .filter(|t| crate::tde::Thumbprint::parse(t).is_none_or(|t| !known.contains(&t)))
            .collect();
        if missing.is_empty() {
            return None;
        }
        Some(Finding::new(
            catalog::Code::TdeEnabled,
            Severity::Error,
            None,
            format!(
                "{} is encrypted with TDE by the certificate {}, which is not recorded as on the instance: its upload waits",
                plan.name,
                missing.join(", ")
            ),
            format!(
                "run `cutover tde migrate` with the same state folder ({}); the upload starts at the next scan after it",
                state_dir.display()
            ),
        ))
    }

    /// Scans the folder of every database still migrating whose last scan has ended.
    pub(super) fn scan_all(&mut self, tx: &mpsc::UnboundedSender<Msg>) {
        for (i, d) in self.dbs.iter_mut().enumerate() {
            if d.state.phase.is_final()
                || d.state.phase == Phase::Completing
                || !d.in_flight.start_scan()
            {
                continue;
            }
            tasks::scan_folder(i, d.cfg.folder.clone(), d.cache.clone(), tx);
        }
    }

    /// A scan ended: what it found (nothing when the folder did not change), or why it could not.
    pub(super) fn on_scanned(
        &mut self,
        db: usize,
        result: Result<Option<Box<catalog::CheckReport>>, String>,
        tx: &mpsc::UnboundedSender<Msg>,
    ) {
        self.dbs[db].in_flight.scan_finished();
        match result {
            Ok(Some(report)) => self.on_scan(db, *report, tx),
            Ok(None) => {}
            Err(e) => {
                let name = self.dbs[db].cfg.name.clone();
                self.log(
                    Some(&name),
                    Severity::Error,
                    format!("cannot read the backup folder: {e}"),
                );
            }
        }
    }

    fn on_scan(&mut self, i: usize, report: catalog::CheckReport, tx: &mpsc::UnboundedSender<Msg>) {
        let name = self.dbs[i].cfg.name.clone();
        let Some(plan) = report.database(&name).cloned() else {
            let f = Finding::new(
                catalog::Code::NoFullBackup,
                Severity::Error,
                None,
                format!(
                    "no backup of {name} in {}",
                    self.dbs[i].cfg.folder.display()
                ),
                "check the backup folder for this database",
            );
            self.dbs[i].findings = vec![f];
            return;
        };
        self.dbs[i].findings = plan.findings.clone();
        if let Some(f) = self.tde_hold(&plan) {
            // The uploads wait: LRS would only block with MissingThumbprint.
            self.dbs[i].findings.push(f);
            if let Ok(mut c) = self.dbs[i].cache.lock() {
                c.forget_listing();
            }
            return;
        }
        // DMS's "Ignored": the folder's files the plan leaves out, with why.
        let ignored: Vec<IgnoredFile> = plan
            .skipped
            .iter()
            .map(|s| crate::engine::state::ignored_file(&s.file, s.backup_type, s.reason))
            .collect();
        if self.dbs[i].state.ignored != ignored {
            self.dbs[i].state.ignored = ignored;
            self.dbs[i].unsaved = true;
            self.persist_dirty = true;
        }
        let mut arrived = Vec::new();
        for step in &plan.plan {
            let d = &mut self.dbs[i];
            let mut blobs = Vec::new();
            let mut locals = Vec::new();
            for stripe in &step.stripes {
                let local = d.cfg.folder.join(stripe);
                match d.layout.assign(&local, stripe) {
                    Ok(b) => {
                        blobs.push(b);
                        locals.push(local);
                    }
                    Err(e) => {
                        tracing::warn!("{e}");
                    }
                }
            }
            let Some(first) = blobs.first() else { continue };
            let file = first
                .split_once('/')
                .map(|(_, f)| f.to_string())
                .unwrap_or_else(|| first.clone());
            if d.locals.insert(file.clone(), locals).is_none() {
                self.drive_due = true;
            }
            if d.state.files.iter().all(|f| f.name != file) {
                arrived.push(BackupFile {
                    name: file,
                    backup_type: step.backup_type,
                    first_lsn: step.first_lsn,
                    last_lsn: step.last_lsn,
                    size: step.size,
                    status: FileStatus::Arrived,
                    uploaded_bytes: 0,
                    backup_start: step.start.and_then(|t| {
                        t.format(time::macros::format_description!(
                            "[year]-[month]-[day]T[hour]:[minute]:[second]"
                        ))
                        .ok()
                    }),
                });
            }
        }
        for f in arrived {
            let msg = format!("{} backup {} arrived", f.backup_type, f.name);
            self.log(Some(&name), Severity::Info, msg);
            self.apply(i, Event::FileArrived(f), tx);
        }
        self.resolve_tail(i, tx);
    }
}
