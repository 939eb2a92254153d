//! The Managed Instance's side of a Log Replay Service restore, simulated: it reads the real backup
//! headers of the files in the database's folder, plans like LRS (`restore_plan`, from the published
//! rules), restores at a
//! configured rate, blocks with the documented codes, and completes only on the last restored file.

use std::time::Duration;

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::restore_plan::{PlannedSet, plan};
use cutover_backup::{BackupSet, BackupType, Lsn};

/// A file in the database's folder, as the instance sees it.
#[derive(Debug, Clone)]
pub struct FolderFile {
    /// Name inside the folder (what LRS reports and what lastBackupName names).
    pub name: String,
    pub size: u64,
    pub modified: OffsetDateTime,
    /// The backup sets read from its header, or why it is not a backup.
    pub sets: Result<Vec<BackupSet>, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum JobState {
    Restoring,
    Completing { since: OffsetDateTime },
    Completed,
    Failed { code: String, message: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct RestoredSet {
    pub name: String,
    pub stripes: usize,
    pub kind: BackupType,
    pub size: u64,
    pub first_lsn: Lsn,
    pub last_lsn: Lsn,
    pub checkpoint: Option<Lsn>,
    pub started: OffsetDateTime,
    pub finished: OffsetDateTime,
    /// The compatibility level its backup header gives.
    pub compatibility_level: u8,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Current {
    pub name: String,
    pub started: OffsetDateTime,
    pub done_bytes: f64,
}

/// One database being restored.
#[derive(Debug, Clone)]
pub struct RestoreJob {
    pub db: String,
    pub collation: String,
    /// Autocomplete target, if started with autoCompleteRestore.
    pub auto_complete_last: Option<String>,
    pub state: JobState,
    pub restored: Vec<RestoredSet>,
    pub current: Option<Current>,
    pub block_reason: Option<String>,
    /// Warnings surfaced (e.g. backups without CHECKSUM restore more slowly).
    pub warnings: Vec<String>,
    pub complete_requested: bool,
}

/// What the folder holds, planned.
pub struct FolderView {
    pub unrestorable: Vec<String>,
    pub detected: usize,
    pub last_uploaded: Option<(String, OffsetDateTime)>,
    pub plan: Vec<PlannedSet>,
    /// Sets the planner left out (older, covered, after a gap): (first file, type, size).
    pub skipped: Vec<(String, BackupType, u64)>,
    pub block: Option<(String, String)>,
    /// The planner's gap finding: LRS reports it once the restore reaches it.
    pub gap: Option<String>,
    pub no_checksum: bool,
    /// Files holding backup sets.
    backup_files: usize,
}

/// Reads the folder the way LRS does: headers, not names.
pub fn view(db: &str, files: &[FolderFile]) -> FolderView {
    let mut unrestorable = Vec::new();
    let mut entries = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    for f in files {
        match &f.sets {
            Ok(sets) => {
                for s in sets {
                    names.push(&s.database_name);
                    entries.push((f.name.clone(), s.clone()));
                }
            }
            Err(_) => unrestorable.push(f.name.clone()),
        }
    }
    names.sort_unstable();
    names.dedup();
    let last_uploaded = files
        .iter()
        .max_by_key(|f| f.modified)
        .map(|f| (f.name.clone(), f.modified));
    let p = plan(&entries);
    let block = if names.len() > 1 {
        Some((
            "BackupsFromMultipleDatabasesDetectedInTheContainer".to_string(),
            format!(
                "Backups of {} databases ({}) were found in the folder of database '{db}'.",
                names.len(),
                names.join(", ")
            ),
        ))
    } else {
        p.block.map(|(code, msg)| (code.to_string(), msg))
    };
    FolderView {
        unrestorable,
        detected: files.len(),
        last_uploaded,
        no_checksum: p.steps.iter().any(|s| !s.has_checksums),
        plan: p.steps,
        skipped: p.skipped,
        block,
        gap: p.gap,
        backup_files: files.iter().filter(|f| f.sets.is_ok()).count(),
    }
}

impl RestoreJob {
    pub fn new(db: &str, collation: &str, auto_complete_last: Option<String>) -> Self {
        RestoreJob {
            db: db.to_string(),
            collation: collation.to_string(),
            auto_complete_last,
            state: JobState::Restoring,
            restored: Vec::new(),
            current: None,
            block_reason: None,
            warnings: Vec::new(),
            complete_requested: false,
        }
    }

    fn cur_lsn(&self) -> Option<Lsn> {
        self.restored.last().map(|r| r.last_lsn)
    }

    /// The plan steps still to restore, in order.
    fn remaining<'a>(&self, plan: &'a [PlannedSet]) -> Vec<&'a PlannedSet> {
        let done = |n: &str| self.restored.iter().any(|r| r.name == n);
        match self.cur_lsn() {
            None => plan.iter().collect(),
            Some(cur) => plan
                .iter()
                .filter(|s| !done(&s.file))
                .filter(|s| {
                    s.last_lsn > cur
                        || (s.first_lsn == s.last_lsn
                            && s.first_lsn == cur
                            && s.backup_type == BackupType::Log
                            && !done(&s.file))
                })
                .collect(),
        }
    }

    /// Advances the restore by `dt` at `mbps` (MB/s; sets without CHECKSUM at half speed).
    pub fn tick(&mut self, v: &FolderView, dt: Duration, mbps: f64, now: OffsetDateTime) {
        if let JobState::Completing { since } = self.state {
            if now - since >= time::Duration::milliseconds(1500) {
                self.state = JobState::Completed;
            }
            return;
        }
        if self.state != JobState::Restoring {
            return;
        }
        if v.no_checksum && !self.warnings.iter().any(|w| w.contains("CHECKSUM")) {
            self.warnings.push("Backups without CHECKSUM are restored more slowly and corruption cannot be detected.".into());
        }
        if self.restored.is_empty() && self.current.is_none() {
            if let Some((code, msg)) = &v.block {
                self.block_reason = Some(format!("{code}: {msg}"));
                return;
            }
        } else if let Some((code, msg)) = &v.block
            && code != "FullBackupNotFound"
        {
            self.block_reason = Some(format!("{code}: {msg}"));
            return;
        }
        let remaining = self.remaining(&v.plan);
        if self.current.is_none() {
            let Some(next) = remaining.first() else {
                // Nothing to restore: blocked by a gap if the folder has logs beyond it.
                self.block_reason = v
                    .gap
                    .as_ref()
                    .map(|g| format!("BrokenRestorePlanGapInLogBackups: {g}"));
                self.maybe_autocomplete(now);
                return;
            };
            if let Some(cur) = self.cur_lsn() {
                let links = match next.backup_type {
                    BackupType::Log => next.first_lsn <= cur,
                    _ => true,
                };
                if !links {
                    self.block_reason = Some(format!(
                        "BrokenRestorePlanWrongLogBackupLSN: log backup {} starts at LSN {}, after the last restored LSN {cur}",
                        next.file, next.first_lsn
                    ));
                    return;
                }
            }
            self.block_reason = None;
            self.current = Some(Current {
                name: next.file.clone(),
                started: now,
                done_bytes: 0.0,
            });
        }
        let Some(cur) = self.current.as_mut() else {
            return;
        };
        let Some(step) = v.plan.iter().find(|s| s.file == cur.name) else {
            // The file vanished from the plan (deleted): start over on the next one.
            self.current = None;
            return;
        };
        let rate = mbps * 1e6 * if step.has_checksums { 1.0 } else { 0.5 };
        cur.done_bytes += rate * dt.as_secs_f64();
        if cur.done_bytes >= step.size as f64 {
            self.restored.push(RestoredSet {
                name: step.file.clone(),
                stripes: step.stripes.len(),
                kind: step.backup_type,
                size: step.size,
                first_lsn: step.first_lsn,
                last_lsn: step.last_lsn,
                checkpoint: None,
                started: cur.started,
                finished: now,
                compatibility_level: step.compatibility_level,
            });
            self.current = None;
        }
        self.maybe_autocomplete(now);
    }

    fn maybe_autocomplete(&mut self, now: OffsetDateTime) {
        if let Some(last) = &self.auto_complete_last
            && self.current.is_none()
            && self.restored.last().is_some_and(|r| &r.name == last)
        {
            self.state = JobState::Completing { since: now };
        }
    }

    /// The completion request: refused unless `last` is the last restored file and nothing is restoring.
    pub fn complete(
        &mut self,
        last: &str,
        now: OffsetDateTime,
    ) -> Result<(), (u16, &'static str, String)> {
        match &self.state {
            JobState::Completing { .. } => {
                return Err((
                    409,
                    "ExternalBackupAlreadySignaledToComplete",
                    format!(
                        "Completion of database '{}' was already requested.",
                        self.db
                    ),
                ));
            }
            JobState::Completed => {
                return Err((
                    409,
                    "ManagedDatabaseNotInRestoringState",
                    format!("Database '{}' is online, not restoring.", self.db),
                ));
            }
            JobState::Failed { code, .. } => {
                return Err((
                    409,
                    "ManagedDatabaseNotInRestoringState",
                    format!("The restore of '{}' failed ({code}).", self.db),
                ));
            }
            JobState::Restoring => {}
        }
        if last.contains('\n') || last.contains('\r') {
            return Err((
                400,
                "LastBackupNameHasNewline",
                "lastBackupName contains a newline.".into(),
            ));
        }
        if !last.is_ascii() {
            return Err((
                400,
                "LastBackupNameHasNonAsciiCharacter",
                "lastBackupName contains non-ASCII characters.".into(),
            ));
        }
        let last_restored = self.restored.last().map(|r| r.name.as_str());
        if last_restored != Some(last) || self.current.is_some() {
            return Err((
                400,
                "RequiredBackupIsNotLastRestored",
                format!(
                    "The backup '{last}' is not the last restored backup (last restored: '{}'{}).",
                    last_restored.unwrap_or("none"),
                    self.current
                        .as_ref()
                        .map(|c| format!(", restoring: '{}'", c.name))
                        .unwrap_or_default()
                ),
            ));
        }
        self.complete_requested = true;
        self.state = JobState::Completing { since: now };
        Ok(())
    }

    pub fn status_str(&self) -> &'static str {
        match self.state {
            JobState::Restoring => "Restoring",
            JobState::Completing { .. } => "Completing",
            JobState::Completed => "Completed",
            JobState::Failed { .. } => "Failed",
        }
    }

    /// The restoreDetails properties, in the stable or the preview shape.
    pub fn details(&self, v: &FolderView, preview: bool) -> Value {
        let iso = |t: OffsetDateTime| {
            t.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
        };
        let mb = |b: u64| b.div_ceil(1_000_000) as i64;
        let restored_names: Vec<&str> = self.restored.iter().map(|r| r.name.as_str()).collect();
        let remaining: Vec<&PlannedSet> = self.remaining(&v.plan);
        let status_of = |s: &PlannedSet| -> &'static str {
            if restored_names.contains(&s.file.as_str()) {
                "Restored"
            } else if self.current.as_ref().is_some_and(|c| c.name == s.file) {
                "Restoring"
            } else if remaining.iter().any(|r| r.file == s.file) {
                "Queued"
            } else {
                "Skipped"
            }
        };
        let mut sets: Vec<(BackupType, Value, &'static str, u64, usize)> = Vec::new();
        for s in &v.plan {
            let st = status_of(s);
            let restored = self.restored.iter().find(|r| r.name == s.file);
            // hasBackupChecksums per set, as DMS reports it: backups without CHECKSUM restore (at half
            // speed here) and this is where the warning shows.
            let mut o = json!({"status": st, "firstStripeName": s.file, "numberOfStripes": s.stripes.len(), "backupSizeMB": mb(s.size), "hasBackupChecksums": s.has_checksums});
            if let Some(r) = restored {
                o["restoreStartedTimestampUtc"] = json!(iso(r.started));
                o["restoreFinishedTimestampUtc"] = json!(iso(r.finished));
            } else if let Some(c) = self.current.as_ref().filter(|c| c.name == s.file) {
                o["restoreStartedTimestampUtc"] = json!(iso(c.started));
            }
            sets.push((s.backup_type, o, st, s.size, s.stripes.len()));
        }
        // Restored sets no longer in the plan (e.g. a newer full arrived) stay listed as restored.
        for r in &self.restored {
            if !v.plan.iter().any(|s| s.file == r.name) {
                let o = json!({"status": "Restored", "firstStripeName": r.name, "numberOfStripes": r.stripes, "backupSizeMB": mb(r.size),
                    "restoreStartedTimestampUtc": iso(r.started), "restoreFinishedTimestampUtc": iso(r.finished)});
                sets.push((r.kind, o, "Restored", r.size, r.stripes));
            }
        }
        for (name, kind, size) in &v.skipped {
            if !sets.iter().any(|s| s.1["firstStripeName"] == json!(name)) {
                let o = json!({"status": "Skipped", "firstStripeName": name, "numberOfStripes": 1, "backupSizeMB": mb(*size)});
                sets.push((*kind, o, "Skipped", *size, 1));
            }
        }
        let count = |st: &str| {
            sets.iter()
                .filter(|s| s.2 == st)
                .map(|s| s.4)
                .sum::<usize>()
        };
        let active = count("Queued") + count("Restoring") + count("Restored");
        let skipped_files = v.backup_files.saturating_sub(active);
        let plan_size: u64 = sets.iter().filter(|s| s.2 != "Skipped").map(|s| s.3).sum();
        let restored_size: u64 = sets.iter().filter(|s| s.2 == "Restored").map(|s| s.3).sum();
        let percent = if plan_size == 0 {
            0.0
        } else {
            restored_size as f64 * 100.0 / plan_size as f64
        };
        let last = self.restored.last();
        let current_name = self
            .current
            .as_ref()
            .map(|c| c.name.clone())
            .or_else(|| last.map(|l| l.name.clone()));
        let mut p = json!({
            "status": self.status_str(),
            "currentRestoringFileName": current_name,
            "lastRestoredFileName": last.map(|l| l.name.clone()),
            "lastRestoredFileTime": last.map(|l| iso(l.finished)),
            "percentCompleted": if preview { json!(percent.floor() as i64) } else { json!((percent * 100.0).round() / 100.0) },
            "numberOfFilesDetected": v.detected,
            "lastUploadedFileName": v.last_uploaded.as_ref().map(|l| l.0.clone()),
            "lastUploadedFileTime": v.last_uploaded.as_ref().map(|l| iso(l.1)),
            "blockReason": match &self.state { JobState::Failed { code, message } => Some(format!("{code}: {message}")), _ => self.block_reason.clone() },
        });
        if preview {
            let of = |k: BackupType| -> Vec<Value> {
                sets.iter()
                    .filter(|s| s.0 == k)
                    .map(|s| s.1.clone())
                    .collect()
            };
            p["type"] = json!("LRSRestore");
            p["unrestorableFiles"] = json!(
                v.unrestorable
                    .iter()
                    .map(|n| json!({"name": n}))
                    .collect::<Vec<_>>()
            );
            p["currentRestoredSizeMB"] = json!(
                sets.iter()
                    .filter(|s| s.2 == "Restored")
                    .map(|s| mb(s.3))
                    .sum::<i64>()
            );
            p["currentRestorePlanSizeMB"] = json!(
                sets.iter()
                    .filter(|s| s.2 != "Skipped")
                    .map(|s| mb(s.3))
                    .sum::<i64>()
            );
            p["currentBackupType"] = json!(
                self.current
                    .as_ref()
                    .and_then(|c| v.plan.iter().find(|s| s.file == c.name))
                    .map(|s| match s.backup_type {
                        BackupType::Full => "Full",
                        BackupType::Diff => "Differential",
                        _ => "Log",
                    })
            );
            p["numberOfFilesQueued"] = json!(count("Queued"));
            p["numberOfFilesSkipped"] = json!(skipped_files);
            p["numberOfFilesRestoring"] = json!(count("Restoring"));
            p["numberOfFilesRestored"] = json!(count("Restored"));
            p["numberOfFilesUnrestorable"] = json!(v.unrestorable.len());
            p["fullBackupSets"] = json!(of(BackupType::Full));
            p["diffBackupSets"] = json!(of(BackupType::Diff));
            p["logBackupSets"] = json!(of(BackupType::Log));
        } else {
            p["unrestorableFiles"] = json!(v.unrestorable);
        }
        p
    }
}
