//! Findings as every UI shows them: a stable code, a severity and a plain-English fix. The catalog,
//! the source cross-check and the engine produce them; the UIs only read them.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Stable finding codes. Their text never changes once released: scripts match on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Code {
    /// The log chain breaks between two files.
    LogChainGap,
    /// No full backup of the database in the folder.
    NoFullBackup,
    /// A differential whose base full is not in the folder.
    DiffBaseMissing,
    /// A striped backup set with a stripe file missing.
    StripeMissing,
    /// Several backup sets appended in one file (WITH NOINIT).
    AppendedBackupSets,
    /// Backups taken without CHECKSUM.
    NoChecksum,
    /// Backups of several databases in one folder.
    MultipleDatabasesInFolder,
    /// A copy-only backup.
    CopyOnly,
    /// A file whose size or time changed while it was read.
    FileStillBeingWritten,
    /// A file that is not a SQL Server backup.
    NotABackup,
    /// A backup file that cannot be read (corrupt, truncated, encrypted, unsupported, I/O error).
    UnreadableFile,
    /// A folder or database name that LRS refuses ("backup"/"backups").
    NameRefusedByLrs,
    /// File, filegroup or partial backups, which LRS cannot restore.
    UnsupportedBackupType,
    /// The same backup set found in two files.
    DuplicateBackup,
    /// Backups with one database name that come from different databases (servers or family GUIDs).
    SameNameDifferentDatabases,
    /// A source database in the SIMPLE recovery model (no log backups: no online migration).
    SimpleRecovery,
    /// A source database that is not ONLINE.
    DatabaseNotOnline,
    /// A source database left READ_ONLY or RESTRICTED_USER (a cutover that stopped, or by hand).
    SourceTrafficStopped,
    /// Transparent Data Encryption on the source: the certificate must reach the Managed Instance first.
    TdeEnabled,
    /// In-Memory OLTP (memory-optimized filegroup): Business Critical only.
    InMemoryOltp,
    /// FILESTREAM / FileTable data, which Managed Instance does not support.
    Filestream,
    /// A backup in msdb's history that is not in the backup folder.
    MsdbBackupNotInFolder,
    /// The source login is not sysadmin.
    NotSysadmin,
    /// A source SQL Server version LRS cannot restore from.
    SourceVersionUnsupported,
    /// The LRS restore nears (or passed) the 30 days after which LRS cancels it.
    LrsJobTimeLimit,
    /// The login on the managed instance's SQL endpoint is not sysadmin.
    TargetNotSysadmin,
    /// The target SQL endpoint is not an Azure SQL Managed Instance (SERVERPROPERTY('EngineEdition') <> 8).
    TargetNotManagedInstance,
    /// A database of the target name already exists on the instance (and is not this activity's restore).
    TargetNameInUse,
    /// The instance's tier holds no more databases than it has room for.
    TargetDatabaseLimit,
    /// In-Memory OLTP on an instance whose tier does not support it (General Purpose).
    TargetInMemoryOltp,
    /// The instance's storage left is less than the databases need.
    TargetStorageShort,
    /// A database's collation differs from the instance's (tempdb's) collation.
    TargetCollationDiffers,
    /// After completion: the database is not ONLINE on the instance.
    TargetNotOnline,
    /// After completion: the database's compatibility level is below the instance's newest.
    TargetCompatibilityLevel,
    /// After completion: the database is not in the FULL recovery model.
    TargetRecoveryModel,
    /// After completion: a database user whose SID has no login on the instance.
    OrphanedUser,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::LogChainGap => "LOG_CHAIN_GAP",
            Code::NoFullBackup => "NO_FULL_BACKUP",
            Code::DiffBaseMissing => "DIFF_BASE_MISSING",
            Code::StripeMissing => "STRIPE_MISSING",
            Code::AppendedBackupSets => "APPENDED_BACKUP_SETS",
            Code::NoChecksum => "NO_CHECKSUM",
            Code::MultipleDatabasesInFolder => "MULTIPLE_DATABASES_IN_FOLDER",
            Code::CopyOnly => "COPY_ONLY",
            Code::FileStillBeingWritten => "FILE_STILL_BEING_WRITTEN",
            Code::NotABackup => "NOT_A_BACKUP",
            Code::UnreadableFile => "UNREADABLE_FILE",
            Code::NameRefusedByLrs => "NAME_REFUSED_BY_LRS",
            Code::UnsupportedBackupType => "UNSUPPORTED_BACKUP_TYPE",
            Code::DuplicateBackup => "DUPLICATE_BACKUP",
            Code::SameNameDifferentDatabases => "SAME_NAME_DIFFERENT_DATABASES",
            Code::SimpleRecovery => "SIMPLE_RECOVERY",
            Code::DatabaseNotOnline => "DATABASE_NOT_ONLINE",
            Code::SourceTrafficStopped => "SOURCE_TRAFFIC_STOPPED",
            Code::TdeEnabled => "TDE_ENABLED",
            Code::InMemoryOltp => "IN_MEMORY_OLTP",
            Code::Filestream => "FILESTREAM",
            Code::MsdbBackupNotInFolder => "MSDB_BACKUP_NOT_IN_FOLDER",
            Code::NotSysadmin => "NOT_SYSADMIN",
            Code::SourceVersionUnsupported => "SOURCE_VERSION_UNSUPPORTED",
            Code::LrsJobTimeLimit => "LRS_JOB_TIME_LIMIT",
            Code::TargetNotSysadmin => "TARGET_NOT_SYSADMIN",
            Code::TargetNotManagedInstance => "TARGET_NOT_MANAGED_INSTANCE",
            Code::TargetNameInUse => "TARGET_NAME_IN_USE",
            Code::TargetDatabaseLimit => "TARGET_DATABASE_LIMIT",
            Code::TargetInMemoryOltp => "TARGET_IN_MEMORY_OLTP",
            Code::TargetStorageShort => "TARGET_STORAGE_SHORT",
            Code::TargetCollationDiffers => "TARGET_COLLATION_DIFFERS",
            Code::TargetNotOnline => "TARGET_NOT_ONLINE",
            Code::TargetCompatibilityLevel => "TARGET_COMPATIBILITY_LEVEL",
            Code::TargetRecoveryModel => "TARGET_RECOVERY_MODEL",
            Code::OrphanedUser => "ORPHANED_USER",
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub code: Code,
    pub severity: Severity,
    /// The file concerned, relative to the scanned folder, if one is.
    pub file: Option<String>,
    /// What is wrong, naming files and LSNs.
    pub message: String,
    /// What to do about it.
    pub fix: String,
}

impl Finding {
    pub fn new(
        code: Code,
        severity: Severity,
        file: Option<String>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Finding {
            code,
            severity,
            file,
            message: message.into(),
            fix: fix.into(),
        }
    }
}
