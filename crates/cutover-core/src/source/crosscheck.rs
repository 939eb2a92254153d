//! The source's view against the folder's: msdb backups that are missing from the backup folder (a log
//! backup written elsewhere breaks the chain silently), SIMPLE recovery, and what the Managed Instance
//! cannot host. Findings use the catalog's `Finding` (stable codes, severity, fix).

use std::collections::BTreeSet;

use crate::backup::{BackupSet, BackupType, Lsn};
use crate::catalog::{Code, DatabasePlan, Finding, Severity};

use super::queries::{HistoryEntry, ServerInfo, SourceDatabase};
use super::quote::quote_ident;

/// Server-level findings: the login must be sysadmin (as DMS requires); SQL Server 2008 or later.
pub fn server_findings(info: &ServerInfo) -> Vec<Finding> {
    let mut out = Vec::new();
    if !info.is_sysadmin {
        out.push(Finding::new(
            Code::NotSysadmin,
            Severity::Error,
            None,
            format!(
                "the login {} is not a member of the sysadmin role on {}",
                info.login_name, info.server_name
            ),
            format!(
                "use a sysadmin login, or ALTER SERVER ROLE sysadmin ADD MEMBER {}",
                quote_ident(&info.login_name)
            ),
        ));
    }
    if let Some(major) = info.major_version()
        && major < 10
    {
        out.push(Finding::new(
            Code::SourceVersionUnsupported,
            Severity::Error,
            None,
            format!(
                "SQL Server {} ({}) is older than SQL Server 2008: the Log Replay Service cannot restore its backups",
                info.product_version, info.edition
            ),
            "upgrade the source to SQL Server 2008 or later, or migrate through an intermediate server",
        ));
    }
    out
}

/// Database-level findings from the source's catalog views.
pub fn database_findings(db: &SourceDatabase) -> Vec<Finding> {
    let q = quote_ident(&db.name);
    let mut out = Vec::new();
    if db.recovery_model.eq_ignore_ascii_case("SIMPLE") {
        out.push(Finding::new(
            Code::SimpleRecovery,
            Severity::Error,
            None,
            format!(
                "{} uses the SIMPLE recovery model: it has no log backups, so an online migration cannot keep the target in sync",
                db.name
            ),
            format!(
                "ALTER DATABASE {q} SET RECOVERY FULL, then take a full backup and schedule log backups into the backup folder"
            ),
        ));
    }
    if !db.state.eq_ignore_ascii_case("ONLINE") {
        out.push(Finding::new(
            Code::DatabaseNotOnline,
            Severity::Warning,
            None,
            format!("{} is {} on the source", db.name, db.state),
            "bring it ONLINE before the migration, or leave it out",
        ));
    }
    if db.is_encrypted {
        out.push(Finding::new(
            Code::TdeEnabled,
            Severity::Warning,
            None,
            format!(
                "{} uses Transparent Data Encryption: its backups restore only where the TDE certificate is",
                db.name
            ),
            "migrate the TDE certificate to the managed instance first: `cutover tde migrate` (BACKUP CERTIFICATE, PFX, upload)",
        ));
    }
    if db.memory_optimized_filegroups > 0 {
        out.push(Finding::new(
            Code::InMemoryOltp,
            Severity::Warning,
            None,
            format!(
                "{} has a memory-optimized filegroup (In-Memory OLTP): only the Business Critical tier can host it",
                db.name
            ),
            "migrate to a Business Critical managed instance, or remove the memory-optimized objects and filegroup first",
        ));
    } else if db.filestream_files > 0 {
        out.push(Finding::new(
            Code::Filestream,
            Severity::Error,
            None,
            format!(
                "{} has {} FILESTREAM file(s): Azure SQL Managed Instance supports neither FILESTREAM nor FileTable",
                db.name, db.filestream_files
            ),
            "move the FILESTREAM data out of the database (e.g. to Blob Storage) and remove the FILESTREAM filegroup",
        ));
    }
    out
}

fn key(t: BackupType, first: Lsn, last: Lsn) -> (u8, Lsn, Lsn) {
    (t.letter(), first, last)
}

/// Backups msdb knows of (since the first set the folder's plan restores) that are not in the folder.
/// A missing log backup breaks the chain: error, with the path the server wrote it to. Copy-only
/// backups do not break the chain and are ignored.
pub fn history_findings(
    database: &str,
    history: &[HistoryEntry],
    folder_sets: &[&BackupSet],
    plan: Option<&DatabasePlan>,
) -> Vec<Finding> {
    let in_folder: BTreeSet<_> = folder_sets
        .iter()
        .filter(|s| s.database_name == database)
        .map(|s| key(s.backup_type, s.first_lsn, s.last_lsn))
        .collect();
    // The chain the folder restores starts at its plan's first set; older history does not matter.
    let base = plan
        .and_then(|p| p.plan.first())
        .map(|s| s.first_lsn)
        .unwrap_or(Lsn::ZERO);
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for h in history {
        if h.database_name != database || h.is_copy_only || h.last_lsn <= base {
            continue;
        }
        let k = key(h.backup_type, h.first_lsn, h.last_lsn);
        if in_folder.contains(&k) || !seen.insert((k, h.device.clone())) {
            continue;
        }
        let when = h.start.as_deref().unwrap_or("an unknown time");
        let (severity, consequence, fix) = match h.backup_type {
            BackupType::Log => (
                Severity::Error,
                "the log chain breaks there: the managed instance cannot restore past it",
                format!(
                    "copy {} into the backup folder (and make sure log backups of {database} go only to that folder)",
                    h.device
                ),
            ),
            _ => (
                Severity::Info,
                "the folder's own full/differential chain is used instead",
                format!(
                    "nothing, unless you want this backup restored: then copy {} into the folder",
                    h.device
                ),
            ),
        };
        out.push(Finding::new(
            Code::MsdbBackupNotInFolder,
            severity,
            None,
            format!(
                "msdb records a {} backup of {database} taken at {when} to {} (LSN {} .. {}) that is not in the backup folder: {consequence}",
                h.backup_type, h.device, h.first_lsn, h.last_lsn
            ),
            fix,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(t: BackupType, first: u32, last: u32, device: &str) -> HistoryEntry {
        HistoryEntry {
            database_name: "Sales".into(),
            backup_type: t,
            first_lsn: Lsn::new(40, first, 1),
            last_lsn: Lsn::new(40, last, 1),
            checkpoint_lsn: Lsn::ZERO,
            database_backup_lsn: Lsn::ZERO,
            has_checksums: true,
            is_copy_only: false,
            start: Some("2026-12-01T10:00:00".into()),
            finish: None,
            size: 1,
            server_name: "S".into(),
            family_sequence: 1,
            device: device.into(),
        }
    }

    fn set(t: BackupType, first: u32, last: u32) -> BackupSet {
        let mut s: BackupSet = serde_json::from_value(serde_json::json!({
            "File": "x", "DatabaseName": "Sales", "ServerName": "S", "BackupType": "LOG", "Position": 1,
            "FirstLSN": "0", "LastLSN": "0", "CheckpointLSN": "0", "DatabaseBackupLSN": "0",
            "DifferentialBaseLSN": null, "DifferentialBaseGUID": null, "HasBackupChecksums": true,
            "IsCopyOnly": false, "Compressed": false, "SoftwareVersion": "16.0.1", "DatabaseVersion": 957,
            "CompatibilityLevel": 160, "DatabaseCreationDate": null, "BackupStartDate": null,
            "BackupFinishDate": null, "BackupSize": 1, "Collation": "c", "FamilyGUID": "g",
            "MediaSetGUID": "m", "FamilyCount": 1, "FamilySequenceNumber": 1, "Flags": 0
        }))
        .unwrap();
        s.backup_type = t;
        s.first_lsn = Lsn::new(40, first, 1);
        s.last_lsn = Lsn::new(40, last, 1);
        s
    }

    #[test]
    fn a_log_backup_written_elsewhere_is_an_error_naming_its_path() {
        let history = vec![
            entry(BackupType::Full, 100, 120, r"\\fs\b\Sales_FULL.bak"),
            entry(BackupType::Log, 100, 200, r"\\fs\b\Sales_LOG_1.trn"),
            entry(BackupType::Log, 200, 300, r"C:\Temp\adhoc.trn"),
            entry(BackupType::Log, 300, 400, r"\\fs\b\Sales_LOG_3.trn"),
        ];
        let folder = [
            set(BackupType::Full, 100, 120),
            set(BackupType::Log, 100, 200),
            set(BackupType::Log, 300, 400),
        ];
        let refs: Vec<&BackupSet> = folder.iter().collect();
        let f = history_findings("Sales", &history, &refs, None);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].code, Code::MsdbBackupNotInFolder);
        assert_eq!(f[0].severity, Severity::Error);
        assert!(
            f[0].message.contains(r"C:\Temp\adhoc.trn"),
            "{}",
            f[0].message
        );
        assert!(f[0].fix.contains(r"C:\Temp\adhoc.trn"));
    }

    #[test]
    fn copy_only_and_other_databases_are_ignored() {
        let mut c = entry(BackupType::Log, 200, 300, "x");
        c.is_copy_only = true;
        let mut other = entry(BackupType::Log, 200, 300, "y");
        other.database_name = "Other".into();
        assert!(history_findings("Sales", &[c, other], &[], None).is_empty());
    }

    #[test]
    fn a_full_elsewhere_is_only_info() {
        let f = history_findings(
            "Sales",
            &[entry(BackupType::Full, 500, 520, "z")],
            &[],
            None,
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Info);
    }

    #[test]
    fn database_findings_cover_simple_tde_inmemory_filestream() {
        let mut db = SourceDatabase {
            name: "we]ird".into(),
            database_id: 5,
            state: "ONLINE".into(),
            recovery_model: "SIMPLE".into(),
            compatibility_level: 150,
            is_read_only: false,
            user_access: "MULTI_USER".into(),
            is_encrypted: true,
            size_bytes: 1,
            filestream_files: 1,
            memory_optimized_filegroups: 1,
            last_full_backup: None,
            last_log_backup: None,
        };
        let codes: Vec<Code> = database_findings(&db).iter().map(|f| f.code).collect();
        assert_eq!(
            codes,
            vec![Code::SimpleRecovery, Code::TdeEnabled, Code::InMemoryOltp]
        );
        assert!(
            database_findings(&db)[0]
                .fix
                .contains("ALTER DATABASE [we]]ird] SET RECOVERY FULL")
        );
        db.memory_optimized_filegroups = 0;
        db.recovery_model = "FULL".into();
        db.is_encrypted = false;
        db.state = "OFFLINE".into();
        let codes: Vec<Code> = database_findings(&db).iter().map(|f| f.code).collect();
        assert_eq!(codes, vec![Code::DatabaseNotOnline, Code::Filestream]);
    }

    #[test]
    fn server_findings_want_sysadmin() {
        let mut info = ServerInfo {
            server_name: "S".into(),
            product_version: "16.0.4135.4".into(),
            edition: "Developer".into(),
            engine_edition: 3,
            is_sysadmin: true,
            login_name: "app".into(),
        };
        assert!(server_findings(&info).is_empty());
        info.is_sysadmin = false;
        info.product_version = "9.00.5000".into();
        let codes: Vec<Code> = server_findings(&info).iter().map(|f| f.code).collect();
        assert_eq!(
            codes,
            vec![Code::NotSysadmin, Code::SourceVersionUnsupported]
        );
    }
}
