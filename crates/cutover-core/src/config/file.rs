//! The configuration file's shape (`--config FILE`, TOML), read and written with serde. Every key is documented in `config.sample.toml`;
//! unknown keys are refused with their name, so a typo never passes silently. Secrets never live in
//! the file: it names the environment variables that hold them.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The whole file. Sections are optional; later issues add target, storage and migration sections.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceSection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<TargetSection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageSection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backups: Option<BackupsSection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub migration: Option<MigrationSection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logins: Option<LoginsSection>,
}

/// `[logins]`: how server logins move to the instance (`cutover logins migrate`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginsSection {
    /// `cutover run` migrates the selected logins to the instance before cutover and checks each
    /// database for orphaned users after it (default true; needs `[source]` and `[target]
    /// sql_server`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub migrate: Option<bool>,
    /// The logins `cutover run` migrates: absent = those the migrated databases' users map to,
    /// `["*"]` = every login of the source, or their names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub select: Option<Vec<String>>,
    /// After a database's cutover, map its orphaned users to their migrated logins with ALTER
    /// USER ... WITH LOGIN (default true); false: findings only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remap_users: Option<bool>,
    /// `[[logins.map]] windows = "CONTOSO\\app" entra = "app@contoso.com"`: Windows logins and
    /// groups created from Microsoft Entra on the instance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub map: Option<Vec<crate::logins::EntraMap>>,
}

/// `[target]`: the Azure SQL Managed Instance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub managed_instance: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Azure Resource Manager endpoint (default https://management.azure.com).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arm_endpoint: Option<String>,
    /// true: `arm_endpoint` is the local sandbox (`cutover sandbox`, the demo), which takes a fixed
    /// token; only then. A loopback endpoint without it gets the real credential.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<bool>,
    /// service-principal, azure-cli, managed-identity, workload-identity or auto.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collation: Option<String>,
    /// The instance's own SQL endpoint, `HOST[,PORT]` (`<instance>.<dns zone>.database.windows.net`,
    /// `,3342` for the public endpoint): with it cutover checks the instance before the upload
    /// (sysadmin, names free, tier limits, storage, collation) and reads each database after
    /// completion. TLS with the certificate validated (plain TDS only with `sandbox = true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql_server: Option<String>,
    /// SQL login on the instance (sysadmin: the instance's administrator).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql_user: Option<String>,
    /// Environment variable holding its password (default CUTOVER_TARGET_PASSWORD).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql_password_env: Option<String>,
    /// `sql` (sql_user + password, the default), `entra` (Microsoft Entra ID through `credential`,
    /// for instances with Entra-only authentication) or `aad-token` (a token in `sql_token_env`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql_authentication: Option<String>,
    /// Environment variable holding a Microsoft Entra access token (`sql_authentication = "aad-token"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql_token_env: Option<String>,
    /// PEM file of the CA(s) the instance's certificate is validated against (instead of the
    /// system's roots).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql_ca_file: Option<PathBuf>,
}

/// `[storage]`: the Blob Storage container the backups go to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSection {
    /// https://ACCOUNT.blob.core.windows.net/CONTAINER (or the emulator form).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// How cutover uploads: "sas", "account-key" or "aad".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<String>,
    /// Environment variable with the upload SAS (sp=rcwl).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sas_env: Option<String>,
    /// Environment variable with the account key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_key_env: Option<String>,
    /// How the managed instance reads: "sas" (default) or "managed-identity".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mi_access: Option<String>,
    /// Environment variable with the Read + List SAS for the managed instance; without it and with an
    /// account key, cutover signs one valid for `sas_expiry_days`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mi_sas_env: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sas_expiry_days: Option<u32>,
}

/// `[migration]`: the activity and its limits.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrationSection {
    /// The activity name (its state file is named after it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activity: Option<String>,
    /// Databases to migrate (default: every database found in the backup folder).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub databases: Option<Vec<String>>,
    /// "never" (default) or "when-ready".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cutover: Option<String>,
    /// "take", "wait" (default) or "skip".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tail: Option<String>,
    /// "read-only", "restricted-user" or "none" (default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_traffic: Option<String>,
    /// Files uploaded at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<usize>,
    /// Upload bandwidth cap in megabits per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_mbps: Option<f64>,
    /// Seconds between folder scans and between restore-status polls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poll_seconds: Option<f64>,
    /// Where state files and logs go (default: the platform data folder).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_dir: Option<PathBuf>,
}

/// `[[backups.database]]`: a per-database folder override.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseOverride {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub folder: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_folder: Option<String>,
    /// Name on the managed instance (default: the source name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_name: Option<String>,
}

/// `[source]`: the SQL Server the databases come from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSection {
    /// `HOST`, `HOST,PORT` or `HOST\INSTANCE`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// `sql` (login + password, the default) or `aad-token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authentication: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Environment variable holding the password (default CUTOVER_SOURCE_PASSWORD).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    /// Environment variable holding an Azure AD access token (authentication = "aad-token").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_env: Option<String>,
    /// Accept any server certificate (DMS's warning applies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trust_server_certificate: Option<bool>,
    /// No TLS: loopback test servers only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plaintext: Option<bool>,
    /// Seconds for connect + login.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_timeout_seconds: Option<u64>,
    /// PEM file of the CA (or self-signed server certificate) to trust for TLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
}

/// `[backups]`: where the backup files are.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupsSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub folder: Option<PathBuf>,
    /// The same folder as the source SQL Server sees it (for the tail-log backup).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_folder: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settle_seconds: Option<f64>,
    /// Per-database overrides.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<Vec<DatabaseOverride>>,
    /// The account that reads `folder` when it is a share (`\\server\share\path` or
    /// `smb://server[:port]/share/path`): `DOMAIN\user`, `AZURE\<storage account>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smb_user: Option<String>,
    /// The environment variable holding that account's password (default CUTOVER_SMB_PASSWORD).
    #[serde(skip_serializing_if = "Option::is_none")]
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
        let sample = include_str!("../../../../config.sample.toml");
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
