//! The restore plan LRS would build for one database from the backup sets it sees: newest full, newest
//! differential of that base, then the log chain from there (empty logs and stripes included).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::backup::{BackupSet, BackupType, Lsn};

use super::findings::{Code, Finding, Severity, lrs_refuses_name, lrs_safe_name};

/// One backup set as found in one file: the input of the planner (from a folder scan, or a blob listing).
#[derive(Debug, Clone)]
pub struct SetInFile {
    /// File name as shown to the user (relative path or blob name).
    pub file: String,
    /// Number of backup sets in that file.
    pub sets_in_file: usize,
    pub set: BackupSet,
}

/// A backup set over all its stripes.
#[derive(Debug, Clone, Serialize)]
pub struct LogicalSet {
    /// The first stripe's file (what LRS calls firstStripeName).
    pub file: String,
    /// All stripe files present, in family sequence order.
    pub stripes: Vec<String>,
    #[serde(rename = "type")]
    pub backup_type: BackupType,
    pub position: u16,
    pub first_lsn: Lsn,
    pub last_lsn: Lsn,
    #[serde(skip)]
    pub checkpoint_lsn: Lsn,
    #[serde(skip)]
    pub database_backup_lsn: Lsn,
    pub family_count: u16,
    /// Bytes over all present stripes.
    pub size: u64,
    pub has_checksums: bool,
    pub copy_only: bool,
    #[serde(skip)]
    pub start: Option<time::PrimitiveDateTime>,
    /// The TDE encryptor's thumbprint from the header (`0x...`), for an encrypted database.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tde_thumbprint: Option<String>,
}

impl LogicalSet {
    pub fn is_complete(&self) -> bool {
        self.stripes.len() >= self.family_count.max(1) as usize
    }
    fn is_empty_log(&self) -> bool {
        self.backup_type == BackupType::Log && self.first_lsn == self.last_lsn
    }
}

/// Why a set is not in the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    OlderFull,
    OlderDifferential,
    DifferentialOfAnotherBase,
    CoveredByRestoredBackups,
    AfterGap,
    MissingStripes,
    Duplicate,
    UnsupportedType,
    NoFullBackup,
}

#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    pub file: String,
    #[serde(rename = "type")]
    pub backup_type: BackupType,
    pub reason: SkipReason,
}

/// Plan and findings for one database.
#[derive(Debug, Clone, Serialize)]
pub struct DatabasePlan {
    pub name: String,
    /// The folder LRS will read this database's backups from (a name it accepts).
    pub folder: String,
    pub plan: Vec<LogicalSet>,
    pub skipped: Vec<Skipped>,
    pub findings: Vec<Finding>,
}

impl DatabasePlan {
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    /// The last set of the plan: what completion must name.
    pub fn last(&self) -> Option<&LogicalSet> {
        self.plan.last()
    }
}

fn logical_sets(entries: &[SetInFile]) -> Vec<LogicalSet> {
    // Stripes of one set share the media set GUID and position; single-family sets stand alone.
    let mut groups: BTreeMap<(String, u16, Lsn, Lsn, u8), Vec<&SetInFile>> = BTreeMap::new();
    let mut singles = Vec::new();
    for e in entries {
        if e.set.family_count > 1 {
            groups
                .entry((
                    e.set.media_set_guid.clone(),
                    e.set.position,
                    e.set.first_lsn,
                    e.set.last_lsn,
                    e.set.backup_type.letter(),
                ))
                .or_default()
                .push(e);
        } else {
            singles.push(vec![e]);
        }
    }
    let mut out: Vec<LogicalSet> = Vec::new();
    for mut members in groups.into_values().chain(singles) {
        members.sort_by_key(|m| (m.set.family_sequence_number, m.file.clone()));
        members.dedup_by_key(|m| m.set.family_sequence_number);
        let first = members[0];
        out.push(LogicalSet {
            file: first.file.clone(),
            stripes: members.iter().map(|m| m.file.clone()).collect(),
            backup_type: first.set.backup_type,
            position: first.set.position,
            first_lsn: first.set.first_lsn,
            last_lsn: first.set.last_lsn,
            checkpoint_lsn: first.set.checkpoint_lsn,
            database_backup_lsn: first.set.database_backup_lsn,
            family_count: first.set.family_count.max(1),
            size: members.iter().map(|m| m.set.backup_size).sum(),
            has_checksums: members.iter().all(|m| m.set.has_backup_checksums),
            copy_only: first.set.is_copy_only,
            start: first.set.backup_start_date,
            tde_thumbprint: first.set.tde_thumbprint.clone(),
        });
    }
    out.sort_by(|a, b| {
        (a.first_lsn, a.last_lsn, a.backup_type, &a.file).cmp(&(
            b.first_lsn,
            b.last_lsn,
            b.backup_type,
            &b.file,
        ))
    });
    out
}

fn skip(skipped: &mut Vec<Skipped>, s: &LogicalSet, reason: SkipReason) {
    skipped.push(Skipped {
        file: s.file.clone(),
        backup_type: s.backup_type,
        reason,
    });
}

/// Builds the plan for one database from every set of it that was found.
pub fn plan_database(name: &str, entries: &[SetInFile]) -> DatabasePlan {
    let mut findings = Vec::new();
    let mut skipped = Vec::new();
    let mut sets = logical_sets(entries);

    // One name, several databases: different servers or database family GUIDs.
    let mut origins: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e.set.server_name.as_str(), e.set.family_guid.as_str()))
        .collect();
    origins.sort_unstable();
    origins.dedup();
    if origins.len() > 1 {
        let list: Vec<String> = origins
            .iter()
            .map(|(server, guid)| format!("server {server} family GUID {guid}"))
            .collect();
        findings.push(Finding::new(
            Code::SameNameDifferentDatabases,
            Severity::Error,
            None,
            format!(
                "backups named '{name}' come from {} different databases ({}); LRS fails with BackupsFromMultipleDatabasesDetectedInTheContainer when they share a folder",
                origins.len(),
                list.join("; ")
            ),
            "Point cutover at one server's backup folder, or give each database its own folder override",
        ));
    }

    // Files holding several backup sets.
    let mut appended: Vec<&SetInFile> = entries.iter().filter(|e| e.sets_in_file > 1).collect();
    appended.sort_by(|a, b| a.file.cmp(&b.file));
    appended.dedup_by(|a, b| a.file == b.file);
    for e in appended {
        findings.push(Finding::new(
            Code::AppendedBackupSets,
            Severity::Error,
            Some(e.file.clone()),
            format!(
                "{} holds {} backup sets appended in one file (BACKUP ... WITH NOINIT); LRS restores one backup set per file",
                e.file, e.sets_in_file
            ),
            "Take backups WITH INIT (or FORMAT) to a new file each time; for Ola Hallengren's solution set @Init = 'Y' or use a file name per backup",
        ));
    }

    // Duplicates: the same set in two files.
    let mut unique: Vec<LogicalSet> = Vec::new();
    for s in sets.drain(..) {
        if let Some(u) = unique.iter().find(|u| {
            u.backup_type == s.backup_type
                && u.first_lsn == s.first_lsn
                && u.last_lsn == s.last_lsn
                && u.checkpoint_lsn == s.checkpoint_lsn
                && u.family_count == s.family_count
        }) {
            findings.push(Finding::new(
                Code::DuplicateBackup,
                Severity::Info,
                Some(s.file.clone()),
                format!(
                    "{} is the same backup set as {} (LSN {} .. {})",
                    s.file, u.file, s.first_lsn, s.last_lsn
                ),
                "Nothing to do: one copy is used; remove the other to keep the folder tidy",
            ));
            skip(&mut skipped, &s, SkipReason::Duplicate);
        } else {
            unique.push(s);
        }
    }
    let mut sets = unique;

    // Types LRS cannot restore.
    sets.retain(|s| {
        if matches!(s.backup_type, BackupType::Full | BackupType::Diff | BackupType::Log) {
            return true;
        }
        findings.push(Finding::new(
            Code::UnsupportedBackupType,
            Severity::Warning,
            Some(s.file.clone()),
            format!("{} is a {} backup; the Managed Instance restores only full, differential and log backups", s.file, s.backup_type),
            "Take a full database backup instead",
        ));
        skip(&mut skipped, s, SkipReason::UnsupportedType);
        false
    });

    // TDE-encrypted backups: the instance needs the certificate before it can restore them.
    if let Some(tde) = sets.iter().find(|s| s.tde_thumbprint.is_some()) {
        findings.push(Finding::new(
            Code::TdeEnabled,
            Severity::Warning,
            Some(tde.file.clone()),
            format!(
                "the backups of {name} are encrypted with TDE by the certificate with thumbprint {} (first: {}); the Managed Instance restores them only once it has that certificate",
                tde.tde_thumbprint.as_deref().unwrap_or(""),
                tde.file
            ),
            "run `cutover tde migrate` (BACKUP CERTIFICATE on the source, PFX, upload to the instance) before the upload",
        ));
    }

    // Sets without CHECKSUM, once per database.
    let no_checksum: Vec<&LogicalSet> = sets.iter().filter(|s| !s.has_checksums).collect();
    if let Some(first) = no_checksum.first() {
        findings.push(Finding::new(
            Code::NoChecksum,
            Severity::Warning,
            Some(first.file.clone()),
            format!(
                "{} of {} backups were taken without CHECKSUM (first: {}); LRS restores them more slowly and cannot detect corrupt pages",
                no_checksum.len(),
                sets.len(),
                first.file
            ),
            "Add WITH CHECKSUM to the BACKUP commands (Ola Hallengren: @CheckSum = 'Y'), or enable the server option 'backup checksum default'",
        ));
    }
    for s in sets.iter().filter(|s| s.copy_only) {
        findings.push(Finding::new(
            Code::CopyOnly,
            Severity::Info,
            Some(s.file.clone()),
            format!(
                "{} is a copy-only {} backup: it does not start or break the log chain",
                s.file, s.backup_type
            ),
            "Nothing to do; differentials cannot use a copy-only full as their base",
        ));
    }

    // Incomplete striped sets cannot be restored.
    let (complete, incomplete): (Vec<LogicalSet>, Vec<LogicalSet>) =
        sets.into_iter().partition(|s| s.is_complete());
    let fulls: Vec<&LogicalSet> = complete
        .iter()
        .filter(|s| s.backup_type == BackupType::Full)
        .collect();
    let base = fulls
        .iter()
        .max_by_key(|s| (s.last_lsn, s.checkpoint_lsn))
        .copied();

    let mut plan: Vec<LogicalSet> = Vec::new();
    let Some(base) = base else {
        let have_incomplete_full = incomplete.iter().any(|s| s.backup_type == BackupType::Full);
        findings.push(Finding::new(
            Code::NoFullBackup,
            Severity::Error,
            None,
            if have_incomplete_full {
                format!("no complete full backup of '{name}' in the folder: the full backups found miss stripes")
            } else {
                format!("no full backup of '{name}' in the folder: differential and log backups cannot be restored without one")
            },
            "Put the latest full backup (all its stripe files) in the folder, or take a new full backup WITH CHECKSUM",
        ));
        for s in complete.iter() {
            skip(&mut skipped, s, SkipReason::NoFullBackup);
        }
        stripe_findings(&incomplete, None, &mut findings, &mut skipped);
        return finish(name, plan, skipped, findings);
    };
    plan.push(base.clone());
    for f in fulls.iter().filter(|f| f.file != base.file) {
        skip(&mut skipped, f, SkipReason::OlderFull);
    }

    // Differentials.
    let diffs: Vec<&LogicalSet> = complete
        .iter()
        .filter(|s| s.backup_type == BackupType::Diff)
        .collect();
    let mut best_diff: Option<&LogicalSet> = None;
    for d in &diffs {
        if d.database_backup_lsn == base.checkpoint_lsn && d.last_lsn >= base.last_lsn {
            if best_diff.is_none_or(|b| d.last_lsn > b.last_lsn) {
                best_diff = Some(d);
            }
        } else if !fulls
            .iter()
            .any(|f| f.checkpoint_lsn == d.database_backup_lsn)
        {
            findings.push(Finding::new(
                Code::DiffBaseMissing,
                Severity::Warning,
                Some(d.file.clone()),
                format!(
                    "differential {} is based on a full backup with checkpoint LSN {} that is not in the folder; it cannot be restored and is skipped",
                    d.file, d.database_backup_lsn
                ),
                "Add the full backup it was taken from, or ignore this differential (the logs can carry the chain)",
            ));
        }
    }
    for d in &diffs {
        if best_diff.is_some_and(|b| b.file == d.file) {
            continue;
        }
        let reason = if d.database_backup_lsn == base.checkpoint_lsn {
            SkipReason::OlderDifferential
        } else {
            SkipReason::DifferentialOfAnotherBase
        };
        skip(&mut skipped, d, reason);
    }
    if let Some(d) = best_diff {
        plan.push(d.clone());
    }

    // The log chain.
    let mut cur = plan.last().map_or(Lsn::ZERO, |s| s.last_lsn);
    let mut gap = false;
    for log in complete.iter().filter(|s| s.backup_type == BackupType::Log) {
        if gap {
            skip(&mut skipped, log, SkipReason::AfterGap);
            continue;
        }
        let links = log.first_lsn <= cur && cur < log.last_lsn;
        let empty_link = log.is_empty_log() && log.first_lsn == cur;
        if links || empty_link {
            cur = log.last_lsn;
            plan.push(log.clone());
        } else if log.last_lsn <= cur {
            skip(&mut skipped, log, SkipReason::CoveredByRestoredBackups);
        } else {
            gap = true;
            let prev = plan.last().map(|p| (p.file.clone(), p.last_lsn));
            let (prev_file, prev_lsn) = prev.unwrap_or_default();
            // A missing stripe of a log in between explains the gap better.
            let explained = incomplete
                .iter()
                .find(|s| s.first_lsn <= cur && s.last_lsn > cur)
                .map(|s| format!(" (log {} covers it but misses stripes)", s.file))
                .unwrap_or_default();
            findings.push(Finding::new(
                Code::LogChainGap,
                Severity::Error,
                Some(log.file.clone()),
                format!(
                    "gap in the log chain between {prev_file} (LastLSN {prev_lsn}) and {} (FirstLSN {}): the log backups covering LSN {cur} to {} are missing{explained}",
                    log.file, log.first_lsn, log.first_lsn
                ),
                "Find the missing log backup (msdb.dbo.backupset shows where every backup was written: another job, a third-party tool or a copy-only may have taken it) and put it in the folder, or take a new full backup to start a new chain",
            ));
            skip(&mut skipped, log, SkipReason::AfterGap);
        }
    }
    stripe_findings(
        &incomplete,
        Some(base.last_lsn),
        &mut findings,
        &mut skipped,
    );
    finish(name, plan, skipped, findings)
}

fn stripe_findings(
    incomplete: &[LogicalSet],
    base_last: Option<Lsn>,
    findings: &mut Vec<Finding>,
    skipped: &mut Vec<Skipped>,
) {
    for s in incomplete {
        // A missing stripe of a set the plan no longer needs is only a warning.
        let needed = base_last.is_none_or(|b| s.last_lsn > b);
        findings.push(Finding::new(
            Code::StripeMissing,
            if needed { Severity::Error } else { Severity::Warning },
            Some(s.file.clone()),
            format!(
                "{} backup {} was striped over {} files but only {} are here ({}); the set cannot be restored",
                s.backup_type,
                s.file,
                s.family_count,
                s.stripes.len(),
                s.stripes.join(", ")
            ),
            "Copy every stripe file of this backup into the folder (striped backups write one file per TO DISK = ...)",
        ));
        skip(skipped, s, SkipReason::MissingStripes);
    }
}

fn finish(
    name: &str,
    plan: Vec<LogicalSet>,
    skipped: Vec<Skipped>,
    mut findings: Vec<Finding>,
) -> DatabasePlan {
    let folder = if lrs_refuses_name(name) {
        let safe = lrs_safe_name(name);
        findings.push(Finding::new(
            Code::NameRefusedByLrs,
            Severity::Warning,
            None,
            format!("database name '{name}' contains 'backup': LRS refuses container folders named so; cutover uploads it to folder '{safe}'"),
            "Nothing to do unless you upload yourself: then use a folder name without 'backup'",
        ));
        safe
    } else {
        lrs_safe_name(name)
    };
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    DatabasePlan {
        name: name.to_string(),
        folder,
        plan,
        skipped,
        findings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::BackupSet;
    use std::path::PathBuf;

    fn lsn(n: u32) -> Lsn {
        Lsn::new(30, n, 1)
    }

    fn set(file: &str, t: BackupType, first: u32, last: u32) -> SetInFile {
        SetInFile {
            file: file.to_string(),
            sets_in_file: 1,
            set: BackupSet {
                file: PathBuf::from(file),
                database_name: "db".into(),
                server_name: "SRV".into(),
                backup_type: t,
                position: 1,
                first_lsn: lsn(first),
                last_lsn: lsn(last),
                checkpoint_lsn: lsn(first),
                database_backup_lsn: Lsn::ZERO,
                differential_base_lsn: None,
                differential_base_guid: None,
                has_backup_checksums: true,
                is_copy_only: false,
                compressed: false,
                software_version: "13.0.5081".into(),
                database_version: 852,
                compatibility_level: 130,
                database_creation_date: None,
                backup_start_date: None,
                backup_finish_date: None,
                backup_size: 1024,
                collation: "SQL_Latin1_General_CP1_CI_AS".into(),
                family_guid: String::new(),
                media_set_guid: file.to_string(),
                family_count: 1,
                family_sequence_number: 1,
                flags: 0x210,
                tde_thumbprint: None,
            },
        }
    }

    fn diff(file: &str, base_ckpt: u32, first: u32, last: u32) -> SetInFile {
        let mut d = set(file, BackupType::Diff, first, last);
        d.set.database_backup_lsn = lsn(base_ckpt);
        d
    }

    fn files(p: &DatabasePlan) -> Vec<&str> {
        p.plan.iter().map(|s| s.file.as_str()).collect()
    }

    fn codes(p: &DatabasePlan) -> Vec<Code> {
        p.findings.iter().map(|f| f.code).collect()
    }

    #[test]
    fn full_diff_logs_with_empty_log() {
        let entries = vec![
            set("full.bak", BackupType::Full, 100, 120),
            set("log1.trn", BackupType::Log, 90, 150),
            diff("diff.bak", 100, 160, 170),
            set("log2.trn", BackupType::Log, 150, 200),
            set("log3.trn", BackupType::Log, 200, 200),
            set("log4.trn", BackupType::Log, 200, 260),
        ];
        let p = plan_database("db", &entries);
        assert_eq!(
            files(&p),
            ["full.bak", "diff.bak", "log2.trn", "log3.trn", "log4.trn"]
        );
        assert!(p.findings.is_empty(), "{:?}", p.findings);
        assert_eq!(p.last().map(|s| s.file.as_str()), Some("log4.trn"));
        assert!(
            p.skipped
                .iter()
                .any(|s| s.file == "log1.trn" && s.reason == SkipReason::CoveredByRestoredBackups)
        );
    }

    #[test]
    fn gap_names_both_files_and_lsns() {
        let entries = vec![
            set("full.bak", BackupType::Full, 100, 120),
            set("log1.trn", BackupType::Log, 110, 150),
            set("log3.trn", BackupType::Log, 180, 200),
            set("log4.trn", BackupType::Log, 200, 220),
        ];
        let p = plan_database("db", &entries);
        assert_eq!(files(&p), ["full.bak", "log1.trn"]);
        let gap = p
            .findings
            .iter()
            .find(|f| f.code == Code::LogChainGap)
            .expect("gap finding");
        assert_eq!(gap.severity, Severity::Error);
        assert!(
            gap.message.contains("log1.trn") && gap.message.contains("log3.trn"),
            "{}",
            gap.message
        );
        assert!(
            gap.message.contains(&lsn(150).to_string())
                && gap.message.contains(&lsn(180).to_string())
        );
        assert!(
            p.skipped
                .iter()
                .any(|s| s.file == "log4.trn" && s.reason == SkipReason::AfterGap)
        );
        assert!(p.has_errors());
    }

    #[test]
    fn no_full_is_an_error() {
        let p = plan_database("db", &[set("log1.trn", BackupType::Log, 110, 150)]);
        assert!(p.plan.is_empty());
        assert_eq!(codes(&p), [Code::NoFullBackup]);
    }

    #[test]
    fn newest_full_and_newest_diff_of_its_base() {
        let entries = vec![
            set("full1.bak", BackupType::Full, 100, 120),
            diff("diff1.bak", 100, 130, 140),
            set("full2.bak", BackupType::Full, 200, 220),
            diff("diff2a.bak", 200, 230, 240),
            diff("diff2b.bak", 200, 250, 260),
            diff("orphan.bak", 300, 310, 320),
        ];
        let p = plan_database("db", &entries);
        assert_eq!(files(&p), ["full2.bak", "diff2b.bak"]);
        let f = p
            .findings
            .iter()
            .find(|f| f.code == Code::DiffBaseMissing)
            .expect("orphan diff");
        assert_eq!(f.file.as_deref(), Some("orphan.bak"));
        assert!(p.skipped.iter().any(|s| s.file == "diff1.bak" && s.reason == SkipReason::DifferentialOfAnotherBase));
        assert!(
            p.skipped
                .iter()
                .any(|s| s.file == "diff2a.bak" && s.reason == SkipReason::OlderDifferential)
        );
    }

    #[test]
    fn stripes_group_and_missing_stripe_is_an_error() {
        let mut a = set("f_1.bak", BackupType::Full, 100, 120);
        let mut b = set("f_2.bak", BackupType::Full, 100, 120);
        for (s, seq) in [(&mut a, 1), (&mut b, 2)] {
            s.set.media_set_guid = "M".into();
            s.set.family_count = 2;
            s.set.family_sequence_number = seq;
        }
        let mut l1 = set("l_1.trn", BackupType::Log, 110, 150);
        l1.set.media_set_guid = "L".into();
        l1.set.family_count = 2;
        let p = plan_database("db", &[a.clone(), b.clone()]);
        assert_eq!(p.plan.len(), 1);
        assert_eq!(p.plan[0].stripes, ["f_1.bak", "f_2.bak"]);
        let p = plan_database("db", &[a, b, l1]);
        let f = p
            .findings
            .iter()
            .find(|f| f.code == Code::StripeMissing)
            .expect("stripe finding");
        assert_eq!(f.severity, Severity::Error);
        assert_eq!(files(&p), ["f_1.bak"]);
    }

    #[test]
    fn appended_checksum_and_copy_only_findings() {
        let mut full = set("two.bak", BackupType::Full, 100, 120);
        full.sets_in_file = 2;
        full.set.has_backup_checksums = false;
        let mut log = set("two.bak", BackupType::Log, 110, 150);
        log.sets_in_file = 2;
        log.set.position = 2;
        log.set.is_copy_only = true;
        let p = plan_database("db", &[full, log]);
        let c = codes(&p);
        assert!(c.contains(&Code::AppendedBackupSets));
        assert!(c.contains(&Code::NoChecksum));
        assert!(c.contains(&Code::CopyOnly));
        assert_eq!(
            p.findings
                .iter()
                .filter(|f| f.code == Code::AppendedBackupSets)
                .count(),
            1
        );
        assert_eq!(p.findings[0].severity, Severity::Error, "errors sort first");
    }

    #[test]
    fn same_name_from_two_servers_is_an_error() {
        let a = set("a.bak", BackupType::Full, 100, 120);
        let mut b = set("b.bak", BackupType::Full, 200, 220);
        b.set.server_name = "OTHER".into();
        let p = plan_database("db", &[a.clone(), b]);
        assert!(codes(&p).contains(&Code::SameNameDifferentDatabases));
        assert!(p.has_errors());
        let p = plan_database("db", &[a]);
        assert!(!codes(&p).contains(&Code::SameNameDifferentDatabases));
    }

    #[test]
    fn duplicate_set_is_used_once() {
        let p = plan_database(
            "db",
            &[
                set("a.bak", BackupType::Full, 100, 120),
                set("copy_of_a.bak", BackupType::Full, 100, 120),
            ],
        );
        assert_eq!(p.plan.len(), 1);
        assert!(codes(&p).contains(&Code::DuplicateBackup));
    }

    #[test]
    fn database_named_backup_gets_a_folder_lrs_accepts() {
        let p = plan_database("SalesBackup", &[set("a.bak", BackupType::Full, 100, 120)]);
        assert_eq!(p.folder, "Salesbak");
        assert!(codes(&p).contains(&Code::NameRefusedByLrs));
    }
}
