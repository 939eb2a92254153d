//! How the simulated Managed Instance plans a Log Replay Service restore from the backup headers in
//! a database's folder, written from the published rules (`../shared/reference/lrs-api.md`, "Rules
//! LRS enforces", and `backup-format.md`, "Chain rules that a restore follows"), not from the
//! client's catalog: stripes of one set share the media set GUID and position (one file per
//! family); the newest complete full is the base; the newest differential of that base
//! (DatabaseBackupLSN == the full's CheckpointLSN) replaces older ones and the logs it covers; logs
//! link end to start (the first one spans the base's LastLSN, empty logs link at their LSN); a gap
//! stops the chain. What blocks a restore is named with LRS's codes.

use cutover_backup::{BackupSet, BackupType, Lsn};

/// One backup set as the restore sees it (all its stripes together).
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedSet {
    /// The first stripe's file (LRS's firstStripeName, what lastBackupName names).
    pub file: String,
    /// The stripe files present, in family order.
    pub stripes: Vec<String>,
    pub backup_type: BackupType,
    pub first_lsn: Lsn,
    pub last_lsn: Lsn,
    pub checkpoint_lsn: Lsn,
    pub database_backup_lsn: Lsn,
    /// Families the set was written to (1 if not striped).
    pub family_count: u16,
    /// Bytes over the stripes present.
    pub size: u64,
    pub has_checksums: bool,
    /// The database's compatibility level in the backup header (what the restored database keeps).
    pub compatibility_level: u8,
}

impl PlannedSet {
    fn is_complete(&self) -> bool {
        self.stripes.len() >= usize::from(self.family_count.max(1))
    }
}

/// The restore plan of one folder.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RestorePlan {
    /// What is restored, in order: a full, at most one differential, the linked logs.
    pub steps: Vec<PlannedSet>,
    /// Sets left out (older, covered, duplicates, after a gap, missing stripes): (first file,
    /// type, bytes).
    pub skipped: Vec<(String, BackupType, u64)>,
    /// What stops the restore from starting or going on: (LRS code, message).
    pub block: Option<(&'static str, String)>,
    /// A gap in the log chain: LRS reports it once the restore reaches it.
    pub gap: Option<String>,
}

/// Stripes of one set are grouped by (media set GUID, position); `None` for a single-family set.
type StripeKey = Option<(String, u16)>;
/// A stripe: (family sequence number, file, set).
type Stripe<'a> = (u16, &'a String, &'a BackupSet);

/// Groups the sets read from the folder's files (`(file name, set)`) into logical sets, ordered by
/// LSN.
fn logical_sets(entries: &[(String, BackupSet)]) -> Vec<PlannedSet> {
    let mut out: Vec<(StripeKey, Vec<Stripe<'_>>)> = Vec::new();
    for (file, set) in entries {
        let key = (set.family_count > 1).then(|| (set.media_set_guid.clone(), set.position));
        let member = (set.family_sequence_number, file, set);
        match out.iter_mut().find(|(k, _)| key.is_some() && *k == key) {
            Some((_, members)) => members.push(member),
            None => out.push((key, vec![member])),
        }
    }
    let mut sets: Vec<PlannedSet> = out
        .into_iter()
        .filter_map(|(_, mut members)| {
            members.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
            members.dedup_by_key(|m| m.0);
            let (_, file, first) = members.first()?;
            Some(PlannedSet {
                file: (*file).clone(),
                stripes: members.iter().map(|m| m.1.clone()).collect(),
                backup_type: first.backup_type,
                first_lsn: first.first_lsn,
                last_lsn: first.last_lsn,
                checkpoint_lsn: first.checkpoint_lsn,
                database_backup_lsn: first.database_backup_lsn,
                family_count: first.family_count.max(1),
                size: members.iter().map(|m| m.2.backup_size).sum(),
                has_checksums: members.iter().all(|m| m.2.has_backup_checksums),
                compatibility_level: first.compatibility_level,
            })
        })
        .collect();
    sets.sort_by(|a, b| {
        (a.first_lsn, a.last_lsn, a.backup_type, &a.file).cmp(&(
            b.first_lsn,
            b.last_lsn,
            b.backup_type,
            &b.file,
        ))
    });
    sets
}

/// Plans the restore of the sets found in one folder.
pub fn plan(entries: &[(String, BackupSet)]) -> RestorePlan {
    let mut p = RestorePlan::default();
    let skip = |p: &mut RestorePlan, s: &PlannedSet| {
        p.skipped.push((s.file.clone(), s.backup_type, s.size))
    };
    let block = |p: &mut RestorePlan, code: &'static str, msg: String| {
        if p.block.is_none() {
            p.block = Some((code, msg));
        }
    };

    // One database per folder: a database is its family GUID.
    let mut databases: Vec<(&str, &str)> = entries
        .iter()
        .map(|(_, s)| (s.family_guid.as_str(), s.database_name.as_str()))
        .collect();
    databases.sort_unstable();
    databases.dedup_by_key(|d| d.0);
    if databases.len() > 1 {
        let names: Vec<String> = databases
            .iter()
            .map(|(guid, name)| format!("'{name}' (family GUID {guid})"))
            .collect();
        block(
            &mut p,
            "BackupsFromMultipleDatabasesDetectedInTheContainer",
            format!(
                "Backups of {} databases were found in one folder: {}.",
                names.len(),
                names.join(", ")
            ),
        );
    }

    // The same set twice (copied under two names): the first one counts.
    let mut sets: Vec<PlannedSet> = Vec::new();
    for s in logical_sets(entries) {
        let duplicate = sets.iter().any(|u| {
            u.backup_type == s.backup_type
                && u.first_lsn == s.first_lsn
                && u.last_lsn == s.last_lsn
                && u.checkpoint_lsn == s.checkpoint_lsn
        });
        if duplicate
            || !matches!(
                s.backup_type,
                BackupType::Full | BackupType::Diff | BackupType::Log
            )
        {
            skip(&mut p, &s);
        } else {
            sets.push(s);
        }
    }
    let (complete, incomplete): (Vec<PlannedSet>, Vec<PlannedSet>) =
        sets.into_iter().partition(PlannedSet::is_complete);

    let fulls: Vec<&PlannedSet> = complete
        .iter()
        .filter(|s| s.backup_type == BackupType::Full)
        .collect();
    let base = fulls
        .iter()
        .max_by_key(|s| (s.last_lsn, s.checkpoint_lsn))
        .copied();
    let Some(base) = base else {
        block(
            &mut p,
            "FullBackupNotFound",
            "No complete full backup was found in the folder: differential and log backups \
             cannot be restored without one."
                .into(),
        );
        for s in complete.iter().chain(&incomplete) {
            skip(&mut p, s);
        }
        return p;
    };
    for s in &incomplete {
        if s.last_lsn > base.last_lsn {
            block(
                &mut p,
                "MissingStripeInBackupSet",
                format!(
                    "The backup set starting with '{}' was written to {} files; {} are in the folder ({}).",
                    s.file,
                    s.family_count,
                    s.stripes.len(),
                    s.stripes.join(", ")
                ),
            );
        }
        skip(&mut p, s);
    }
    p.steps.push(base.clone());
    for f in fulls.iter().filter(|f| f.file != base.file) {
        skip(&mut p, f);
    }

    // Differentials: the newest of the base's replaces the others.
    let diffs: Vec<&PlannedSet> = complete
        .iter()
        .filter(|s| s.backup_type == BackupType::Diff)
        .collect();
    let best_diff = diffs
        .iter()
        .filter(|d| d.database_backup_lsn == base.checkpoint_lsn && d.last_lsn >= base.last_lsn)
        .max_by_key(|d| d.last_lsn)
        .copied();
    for d in &diffs {
        if !fulls
            .iter()
            .any(|f| f.checkpoint_lsn == d.database_backup_lsn)
        {
            block(
                &mut p,
                "BrokenRestorePlanWrongDiffBackupLSN",
                format!(
                    "The differential backup '{}' is based on a full backup (checkpoint LSN {}) that is not in the folder.",
                    d.file, d.database_backup_lsn
                ),
            );
        }
        if best_diff.is_none_or(|b| b.file != d.file) {
            skip(&mut p, d);
        }
    }
    if let Some(d) = best_diff {
        p.steps.push(d.clone());
    }

    // Logs, linked end to start.
    let mut cur = p.steps.last().map_or(Lsn::ZERO, |s| s.last_lsn);
    for log in complete.iter().filter(|s| s.backup_type == BackupType::Log) {
        if p.gap.is_some() {
            skip(&mut p, log);
            continue;
        }
        let empty_link = log.first_lsn == log.last_lsn && log.first_lsn == cur;
        if (log.first_lsn <= cur && cur < log.last_lsn) || empty_link {
            cur = log.last_lsn;
            p.steps.push(log.clone());
        } else if log.last_lsn <= cur {
            skip(&mut p, log);
        } else {
            let after = p.steps.last().map(|s| s.file.clone()).unwrap_or_default();
            p.gap = Some(format!(
                "the log backup '{}' starts at LSN {}, after '{after}' ended at LSN {cur}: the log backups in between are missing",
                log.file, log.first_lsn
            ));
            skip(&mut p, log);
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn set(kind: BackupType, first: u32, last: u32, ckpt: u32, base: u32) -> BackupSet {
        BackupSet {
            file: PathBuf::new(),
            database_name: "db".into(),
            server_name: "S".into(),
            backup_type: kind,
            position: 1,
            first_lsn: Lsn::new(30, first, 1),
            last_lsn: Lsn::new(30, last, 1),
            checkpoint_lsn: Lsn::new(30, ckpt, 1),
            database_backup_lsn: Lsn::new(30, base, 1),
            differential_base_lsn: None,
            differential_base_guid: None,
            has_backup_checksums: true,
            is_copy_only: false,
            compressed: false,
            software_version: String::new(),
            database_version: 0,
            compatibility_level: 160,
            database_creation_date: None,
            backup_start_date: None,
            backup_finish_date: None,
            backup_size: 1000,
            collation: String::new(),
            family_guid: "G".into(),
            media_set_guid: String::new(),
            family_count: 1,
            family_sequence_number: 1,
            flags: 0,
            tde_thumbprint: None,
        }
    }

    fn files(p: &RestorePlan) -> Vec<&str> {
        p.steps.iter().map(|s| s.file.as_str()).collect()
    }

    #[test]
    fn full_newest_diff_and_linked_logs() {
        use BackupType::{Diff, Full, Log};
        let e = vec![
            ("full1".into(), set(Full, 10, 12, 11, 0)),
            ("log1".into(), set(Log, 5, 20, 0, 11)),
            ("diff1".into(), set(Diff, 25, 27, 26, 11)),
            ("log2".into(), set(Log, 20, 30, 0, 11)),
            ("diff2".into(), set(Diff, 33, 35, 34, 11)),
            ("log3".into(), set(Log, 30, 40, 0, 11)),
            ("log4".into(), set(Log, 40, 40, 0, 11)),
            ("log5".into(), set(Log, 40, 50, 0, 11)),
        ];
        let p = plan(&e);
        assert_eq!(files(&p), ["full1", "diff2", "log3", "log4", "log5"]);
        assert!(p.block.is_none() && p.gap.is_none());
        let skipped: Vec<&str> = p.skipped.iter().map(|s| s.0.as_str()).collect();
        assert_eq!(skipped.len(), 3, "{skipped:?}");
        assert!(
            ["log1", "diff1", "log2"]
                .iter()
                .all(|f| skipped.contains(f))
        );
    }

    #[test]
    fn blocks_with_lrs_codes() {
        use BackupType::{Diff, Full, Log};
        // No full.
        let p = plan(&[("log1".into(), set(Log, 5, 20, 0, 11))]);
        assert_eq!(p.block.as_ref().map(|b| b.0), Some("FullBackupNotFound"));
        assert!(p.steps.is_empty());
        // A gap: logs after it are skipped, the plan stops before it.
        let p = plan(&[
            ("full".into(), set(Full, 10, 12, 11, 0)),
            ("log1".into(), set(Log, 5, 20, 0, 11)),
            ("log3".into(), set(Log, 30, 40, 0, 11)),
            ("log4".into(), set(Log, 40, 50, 0, 11)),
        ]);
        assert_eq!(files(&p), ["full", "log1"]);
        assert!(p.gap.as_deref().is_some_and(|g| g.contains("log3")));
        assert_eq!(p.skipped.len(), 2);
        // A differential of a full that is not there.
        let p = plan(&[
            ("full".into(), set(Full, 10, 12, 11, 0)),
            ("diff".into(), set(Diff, 25, 27, 26, 7)),
        ]);
        assert_eq!(
            p.block.as_ref().map(|b| b.0),
            Some("BrokenRestorePlanWrongDiffBackupLSN")
        );
        // Two databases.
        let mut other = set(Full, 10, 12, 11, 0);
        other.family_guid = "H".into();
        let p = plan(&[
            ("full".into(), set(Full, 10, 12, 11, 0)),
            ("other".into(), other),
        ]);
        assert_eq!(
            p.block.as_ref().map(|b| b.0),
            Some("BackupsFromMultipleDatabasesDetectedInTheContainer")
        );
        // A striped log with a stripe missing, needed by the plan.
        let mut s1 = set(Log, 12, 20, 0, 11);
        s1.family_count = 2;
        s1.media_set_guid = "M".into();
        let p = plan(&[
            ("full".into(), set(Full, 10, 12, 11, 0)),
            ("log_1".into(), s1.clone()),
        ]);
        assert_eq!(
            p.block.as_ref().map(|b| b.0),
            Some("MissingStripeInBackupSet")
        );
        // Both stripes: one step of two files.
        let mut s2 = s1.clone();
        s2.family_sequence_number = 2;
        let p = plan(&[
            ("full".into(), set(Full, 10, 12, 11, 0)),
            ("log_2".into(), s2),
            ("log_1".into(), s1),
        ]);
        assert!(p.block.is_none());
        assert_eq!(p.steps[1].stripes, ["log_1", "log_2"]);
        assert_eq!(p.steps[1].size, 2000);
    }
}
