//! restoreDetails -> the state machine's [`LrsStatus`]. LRS restores a folder's plan in LSN order, so a
//! file is restored when its LastLSN is at or below the last restored file's (the stable API shape
//! names only the last restored and the current file; the preview shape's per-set statuses win).

use super::state::{BackupFile, LrsFileStatus, LrsStatus};
use crate::restore_target::details::RestoreDetails;

pub fn lrs_status(files: &[BackupFile], d: &RestoreDetails) -> LrsStatus {
    let status = d.status.as_deref().unwrap_or("");
    let last = d.last_restored_file_name.clone();
    let last_lsn = last
        .as_deref()
        .and_then(|n| files.iter().find(|f| f.name == n))
        .map(|f| f.last_lsn);
    let mut out: Vec<(String, LrsFileStatus)> = Vec::new();
    for f in files {
        let st = if last_lsn.is_some_and(|l| f.last_lsn <= l) {
            LrsFileStatus::Restored
        } else if d.current_restoring_file_name.as_deref() == Some(f.name.as_str()) {
            LrsFileStatus::Restoring
        } else if d.unrestorable_files.iter().any(|u| u == &f.name) {
            LrsFileStatus::Unrestorable
        } else {
            LrsFileStatus::Queued
        };
        out.push((f.name.clone(), st));
    }
    for set in d
        .full_backup_sets
        .iter()
        .chain(&d.diff_backup_sets)
        .chain(&d.log_backup_sets)
    {
        let (Some(name), Some(st)) = (&set.first_stripe_name, &set.status) else {
            continue;
        };
        let st = match st.as_str() {
            "Restored" => LrsFileStatus::Restored,
            "Restoring" => LrsFileStatus::Restoring,
            "Skipped" => LrsFileStatus::Skipped,
            "Unrestorable" | "Failed" => LrsFileStatus::Unrestorable,
            _ => LrsFileStatus::Queued,
        };
        if let Some(e) = out.iter_mut().find(|(n, _)| n == name) {
            e.1 = st;
        }
    }
    LrsStatus {
        files: out,
        last_restored_file: last,
        currently_restoring: d.current_restoring_file_name.clone(),
        block_reason: d.block_reason.clone().filter(|b| !b.is_empty()),
        completed: status.eq_ignore_ascii_case("Completed")
            || status.eq_ignore_ascii_case("Succeeded"),
        failed: status.eq_ignore_ascii_case("Failed").then(|| {
            d.block_reason
                .clone()
                .unwrap_or_else(|| "the Log Replay Service reports the restore failed".into())
        }),
    }
}
