//! Backup folders: scanning, restore plans and findings.

pub mod findings;
pub mod plan;
pub mod scan;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::backup::ReadError;

pub use findings::{Code, Finding, Severity};
pub use plan::{DatabasePlan, LogicalSet, SetInFile, plan_database};
pub use scan::{Scan, ScanError, ScanOptions, ScannedFile, scan_folder};

/// What `cutover check` reports for a folder.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub root: String,
    pub databases: Vec<DatabasePlan>,
    /// Findings not tied to one database (non-backup files, unreadable files, mixed folders).
    pub findings: Vec<Finding>,
}

impl CheckReport {
    pub fn has_errors(&self) -> bool {
        self.databases.iter().any(|d| d.has_errors())
            || self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    pub fn database(&self, name: &str) -> Option<&DatabasePlan> {
        self.databases.iter().find(|d| d.name == name)
    }
}

fn unreadable_fix(e: &ReadError) -> &'static str {
    match e {
        ReadError::Io { .. } => {
            "Check the file's permissions (cutover needs read access) and that the share is reachable"
        }
        ReadError::Truncated { .. } => {
            "If the backup is still running, wait for it to finish; otherwise copy it again or take a new backup"
        }
        ReadError::Corrupt { .. } => {
            "Copy the file again from its source, or take a new backup WITH CHECKSUM"
        }
        ReadError::Encrypted { .. } => {
            "Encrypted backups need their certificate on the Managed Instance; take an unencrypted backup or migrate the certificate first"
        }
        ReadError::Unsupported { .. } => {
            "Take the backup again without compression, or from a supported SQL Server version"
        }
        ReadError::NotABackup { .. } => "Remove the file from the backup folder",
    }
}

/// Turns a folder scan into plans per database and folder-level findings.
pub fn check(scan: &Scan) -> CheckReport {
    let mut findings = Vec::new();
    let mut by_db: BTreeMap<String, Vec<SetInFile>> = BTreeMap::new();
    let mut changing_by_db: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut dbs_by_folder: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &scan.files {
        match &f.sets {
            Ok(sets) => {
                let folder = f.relative.rsplit_once('/').map_or(".", |(d, _)| d).to_string();
                for s in sets {
                    by_db.entry(s.database_name.clone()).or_default().push(SetInFile {
                        file: f.relative.clone(),
                        sets_in_file: sets.len(),
                        set: s.clone(),
                    });
                    dbs_by_folder.entry(folder.clone()).or_default().insert(s.database_name.clone());
                    if f.changing {
                        changing_by_db.entry(s.database_name.clone()).or_default().push(f.relative.clone());
                    }
                }
            }
            Err(ReadError::NotABackup { .. }) => findings.push(Finding::new(
                Code::NotABackup,
                Severity::Warning,
                Some(f.relative.clone()),
                format!("{} is not a SQL Server backup; LRS lists it as unrestorable", f.relative),
                "Remove it from the backup folder (cutover does not upload it)",
            )),
            Err(e) if f.changing => findings.push(Finding::new(
                Code::FileStillBeingWritten,
                Severity::Warning,
                Some(f.relative.clone()),
                if e.held_open() {
                    format!("{} is still being written (another process, the backup, holds it open): {e}", f.relative)
                } else {
                    format!("{} is still being written (its size changed while it was read): {e}", f.relative)
                },
                "Wait for the backup to finish; cutover uploads a file only once its size stays the same",
            )),
            Err(e) => findings.push(Finding::new(
                Code::UnreadableFile,
                Severity::Error,
                Some(f.relative.clone()),
                format!("{} cannot be read ({}): {e}", f.relative, e.kind()),
                unreadable_fix(e),
            )),
        }
    }
    for (folder, dbs) in &dbs_by_folder {
        if dbs.len() > 1 {
            let names: Vec<&str> = dbs.iter().map(String::as_str).collect();
            findings.push(Finding::new(
                Code::MultipleDatabasesInFolder,
                Severity::Warning,
                None,
                format!(
                    "folder '{folder}' holds backups of {} databases ({}); LRS fails with BackupsFromMultipleDatabasesDetectedInTheContainer when one folder holds several",
                    dbs.len(),
                    names.join(", ")
                ),
                "Nothing to do for cutover (it uploads each database to its own folder); if you upload yourself, use one folder per database",
            ));
        }
    }
    let mut refused: BTreeSet<String> = BTreeSet::new();
    let root_name = scan
        .root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned());
    for f in &scan.files {
        let mut parts: Vec<&str> = f.relative.split('/').collect();
        parts.pop();
        for p in parts
            .into_iter()
            .map(str::to_string)
            .chain(root_name.clone())
        {
            if findings::lrs_refuses_name(&p) {
                refused.insert(p);
            }
        }
    }
    for name in refused {
        findings.push(Finding::new(
            Code::NameRefusedByLrs,
            Severity::Info,
            None,
            format!(
                "source folder '{name}' contains 'backup': LRS refuses that in container folder names; cutover uploads to a folder named after each database instead"
            ),
            format!("Nothing to do for cutover; if you copy the folder to Azure yourself, name it e.g. '{}'", findings::lrs_safe_name(&name)),
        ));
    }
    let databases = by_db
        .iter()
        .map(|(name, entries)| {
            let mut p = plan_database(name, entries);
            if let Some(files) = changing_by_db.get(name) {
                for file in files {
                    p.findings.insert(
                        0,
                        Finding::new(
                            Code::FileStillBeingWritten,
                            Severity::Warning,
                            Some(file.clone()),
                            format!("{file} changed while it was read: it is still being written"),
                            "Wait for the backup to finish; cutover uploads a file only once its size stays the same",
                        ),
                    );
                }
            }
            p
        })
        .collect();
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    CheckReport {
        root: scan.root.display().to_string(),
        databases,
        findings,
    }
}
