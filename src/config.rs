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
    pub backups: Option<BackupsSection>,
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
}

/// `[backups]`: where the backup files are.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupsSection {
    pub folder: Option<PathBuf>,
    /// The same folder as the source SQL Server sees it (for the tail-log backup).
    pub server_folder: Option<String>,
    pub settle_seconds: Option<f64>,
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
        let sample = include_str!("../config.sample.toml");
        let c = ConfigFile::parse(sample).unwrap();
        assert!(c.source.is_some());
        assert!(c.backups.is_some());
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
