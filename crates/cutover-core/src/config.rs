//! The configuration file (`--config FILE`, TOML). Every key is documented in `config.sample.toml`;
//! unknown keys are refused with their name, so a typo never passes silently. Secrets never live in
//! the file: it names the environment variables that hold them.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The whole file. Sections are optional; later issues add target, storage and migration sections.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub source: Option<SourceSection>,
    pub target: Option<TargetSection>,
    pub storage: Option<StorageSection>,
    pub backups: Option<BackupsSection>,
    pub migration: Option<MigrationSection>,
}

/// `[target]`: the Azure SQL Managed Instance.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSection {
    pub subscription: Option<String>,
    pub resource_group: Option<String>,
    pub managed_instance: Option<String>,
    pub location: Option<String>,
    /// Azure Resource Manager endpoint (default https://management.azure.com; a loopback address is
    /// the sandbox).
    pub arm_endpoint: Option<String>,
    /// service-principal, azure-cli, managed-identity, workload-identity or auto.
    pub credential: Option<String>,
    pub collation: Option<String>,
}

/// `[storage]`: the Blob Storage container the backups go to.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSection {
    /// https://ACCOUNT.blob.core.windows.net/CONTAINER (or the emulator form).
    pub container: Option<String>,
    /// How cutover uploads: "sas", "account-key" or "aad".
    pub auth: Option<String>,
    /// Environment variable with the upload SAS (sp=rcwl).
    pub sas_env: Option<String>,
    /// Environment variable with the account key.
    pub account_key_env: Option<String>,
    /// How the managed instance reads: "sas" (default) or "managed-identity".
    pub mi_access: Option<String>,
    /// Environment variable with the Read + List SAS for the managed instance; without it and with an
    /// account key, cutover signs one valid for `sas_expiry_days`.
    pub mi_sas_env: Option<String>,
    pub sas_expiry_days: Option<u32>,
}

/// `[migration]`: the activity and its limits.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrationSection {
    /// The activity name (its state file is named after it).
    pub activity: Option<String>,
    /// Databases to migrate (default: every database found in the backup folder).
    pub databases: Option<Vec<String>>,
    /// "never" (default) or "when-ready".
    pub cutover: Option<String>,
    /// "take", "wait" (default) or "skip".
    pub tail: Option<String>,
    /// "read-only", "restricted-user" or "none" (default).
    pub stop_traffic: Option<String>,
    /// Files uploaded at once.
    pub concurrency: Option<usize>,
    /// Upload bandwidth cap in megabits per second.
    pub max_mbps: Option<f64>,
    /// Seconds between folder scans and between restore-status polls.
    pub scan_seconds: Option<f64>,
    pub poll_seconds: Option<f64>,
    /// Where state files and logs go (default: the platform data folder).
    pub state_dir: Option<PathBuf>,
}

/// `[[backups.database]]`: a per-database folder override.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseOverride {
    pub name: String,
    pub folder: Option<PathBuf>,
    pub server_folder: Option<String>,
    /// Name on the managed instance (default: the source name).
    pub target_name: Option<String>,
}

/// `[source]`: the SQL Server the databases come from.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSection {
    /// `HOST`, `HOST,PORT` or `HOST\INSTANCE`.
    pub server: Option<String>,
    /// `sql` (login + password, the default) or `aad-token`.
    pub authentication: Option<String>,
    pub user: Option<String>,
    /// Environment variable holding the password (default CUTOVER_SOURCE_PASSWORD).
    pub password_env: Option<String>,
    /// Environment variable holding an Azure AD access token (authentication = "aad-token").
    pub token_env: Option<String>,
    /// Accept any server certificate (DMS's warning applies).
    pub trust_server_certificate: Option<bool>,
    /// No TLS: loopback test servers only.
    pub plaintext: Option<bool>,
    /// Seconds for connect + login.
    pub connect_timeout_seconds: Option<u64>,
    /// PEM file of the CA (or self-signed server certificate) to trust for TLS.
    pub ca_file: Option<PathBuf>,
}

/// `[backups]`: where the backup files are.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupsSection {
    pub folder: Option<PathBuf>,
    /// The same folder as the source SQL Server sees it (for the tail-log backup).
    pub server_folder: Option<String>,
    pub settle_seconds: Option<f64>,
    /// Per-database overrides.
    pub database: Option<Vec<DatabaseOverride>>,
    /// The account that reads `folder` when it is a share (`\\server\share\path` or
    /// `smb://server[:port]/share/path`): `DOMAIN\user`, `AZURE\<storage account>`.
    pub smb_user: Option<String>,
    /// The environment variable holding that account's password (default CUTOVER_SMB_PASSWORD).
    pub smb_password_env: Option<String>,
}

/// Why the file cannot be used: names the file and the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read the configuration file: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl ConfigFile {
    /// Reads and parses a configuration file.
    pub fn load(path: &Path) -> Result<ConfigFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text).map_err(|message| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Parses TOML text; the error names the line and key (toml's message, on one line).
    pub fn parse(text: &str) -> Result<ConfigFile, String> {
        toml::from_str(text).map_err(|e| {
            let msg = e.message().to_string();
            match e.span() {
                Some(span) => {
                    let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                    format!("line {line}: {msg}")
                }
                None => msg,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_parses() {
        let sample = include_str!("../../../config.sample.toml");
        let c = ConfigFile::parse(sample).unwrap();
        assert!(c.source.is_some());
        assert!(c.backups.is_some());
        assert!(c.target.is_some() && c.storage.is_some() && c.migration.is_some());
        let b = c.backups.unwrap();
        assert_eq!(b.database.map(|d| d.len()), Some(1));
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = ConfigFile::parse("[source]\nservr = \"x\"\n").unwrap_err();
        assert!(e.contains("servr"), "{e}");
        assert!(e.starts_with("line 2"), "{e}");
        let e = ConfigFile::parse("[source]\nplaintext = \"yes\"\n").unwrap_err();
        assert!(e.contains("bool"), "{e}");
    }
}
