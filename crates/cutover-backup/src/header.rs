//! One backup set's header, as `RESTORE HEADERONLY` reports it.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use time::PrimitiveDateTime;

use super::lsn::Lsn;

/// The kind of a backup set (msdb `type` letter in parentheses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum BackupType {
    /// `D`: full database backup.
    #[serde(rename = "FULL")]
    Full,
    /// `I`: differential database backup.
    #[serde(rename = "DIFF")]
    Diff,
    /// `L`: transaction log backup.
    #[serde(rename = "LOG")]
    Log,
    /// `F`: file or filegroup backup.
    #[serde(rename = "FILE")]
    File,
    /// `G`: differential file backup.
    #[serde(rename = "FILEDIFF")]
    FileDiff,
    /// `P`: partial backup.
    #[serde(rename = "PARTIAL")]
    Partial,
    /// `Q`: differential partial backup.
    #[serde(rename = "PARTIALDIFF")]
    PartialDiff,
}

impl BackupType {
    pub fn from_letter(c: u8) -> Option<BackupType> {
        Some(match c {
            b'D' => BackupType::Full,
            b'I' => BackupType::Diff,
            b'L' => BackupType::Log,
            b'F' => BackupType::File,
            b'G' => BackupType::FileDiff,
            b'P' => BackupType::Partial,
            b'Q' => BackupType::PartialDiff,
            _ => return None,
        })
    }

    pub fn letter(self) -> u8 {
        match self {
            BackupType::Full => b'D',
            BackupType::Diff => b'I',
            BackupType::Log => b'L',
            BackupType::File => b'F',
            BackupType::FileDiff => b'G',
            BackupType::Partial => b'P',
            BackupType::PartialDiff => b'Q',
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            BackupType::Full => "FULL",
            BackupType::Diff => "DIFF",
            BackupType::Log => "LOG",
            BackupType::File => "FILE",
            BackupType::FileDiff => "FILEDIFF",
            BackupType::Partial => "PARTIAL",
            BackupType::PartialDiff => "PARTIALDIFF",
        }
    }
}

impl fmt::Display for BackupType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

time::serde::format_description!(
    iso_no_zone,
    PrimitiveDateTime,
    "[year]-[month]-[day]T[hour]:[minute]:[second]"
);

/// One backup set in one file (one stripe of it, for striped backups). Field names in JSON are the
/// `RESTORE HEADERONLY` column names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BackupSet {
    pub file: PathBuf,
    pub database_name: String,
    pub server_name: String,
    pub backup_type: BackupType,
    pub position: u16,
    #[serde(rename = "FirstLSN")]
    pub first_lsn: Lsn,
    #[serde(rename = "LastLSN")]
    pub last_lsn: Lsn,
    #[serde(rename = "CheckpointLSN")]
    pub checkpoint_lsn: Lsn,
    #[serde(rename = "DatabaseBackupLSN")]
    pub database_backup_lsn: Lsn,
    /// Set on differentials only.
    #[serde(rename = "DifferentialBaseLSN")]
    pub differential_base_lsn: Option<Lsn>,
    #[serde(rename = "DifferentialBaseGUID")]
    pub differential_base_guid: Option<String>,
    pub has_backup_checksums: bool,
    pub is_copy_only: bool,
    pub compressed: bool,
    pub software_version: String,
    pub database_version: u16,
    pub compatibility_level: u8,
    #[serde(with = "iso_no_zone::option")]
    pub database_creation_date: Option<PrimitiveDateTime>,
    #[serde(with = "iso_no_zone::option")]
    pub backup_start_date: Option<PrimitiveDateTime>,
    #[serde(with = "iso_no_zone::option")]
    pub backup_finish_date: Option<PrimitiveDateTime>,
    pub backup_size: u64,
    pub collation: String,
    #[serde(rename = "FamilyGUID")]
    pub family_guid: String,
    #[serde(rename = "MediaSetGUID")]
    pub media_set_guid: String,
    pub family_count: u16,
    pub family_sequence_number: u16,
    /// Raw SCIN flags word, kept for diagnostics.
    pub flags: u32,
    /// The TDE encryptor's thumbprint (`0x` + 40 hex digits) when the header carries one (see
    /// `scin::TDE_TAG`: found in cutover-written backups; real ones are detected at the source).
    #[serde(
        rename = "TDEThumbprint",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub tde_thumbprint: Option<String>,
}

impl BackupSet {
    /// True for a log backup that carries no log records.
    pub fn is_empty_log(&self) -> bool {
        self.backup_type == BackupType::Log && self.first_lsn == self.last_lsn
    }

    pub fn is_striped(&self) -> bool {
        self.family_count > 1
    }
}
