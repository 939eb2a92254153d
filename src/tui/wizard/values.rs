//! What the wizard collects, typed, prefillable (`Default`) and exportable without secrets
//! (`Serialize` skips every [`SecretText`]), and the backend it asks to test and check things.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::catalog::Finding;
use crate::source::SourceDatabase;

/// A secret typed into the wizard: never serialized, `Debug` shows `***`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretText(pub String);

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "***" })
    }
}

impl SecretText {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceAuthKind {
    /// SQL Server authentication (login and password).
    #[default]
    SqlLogin,
    /// An Entra ID (Azure AD) access token.
    EntraToken,
}

/// The Source screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SourceForm {
    /// Work from the backup folder alone, without a connection to the source SQL Server: the
    /// databases come from the folder, and at cutover the operator stops traffic and takes the
    /// tail-log backup (or confirms that no more backups will come).
    pub folder_only: bool,
    /// Host name or address.
    pub server: String,
    /// A port number or a named instance; empty: the default instance on 1433.
    pub port_or_instance: String,
    pub auth: SourceAuthKind,
    pub user: String,
    #[serde(skip)]
    pub password: SecretText,
    #[serde(skip)]
    pub token: SecretText,
    /// TLS (plain text only to a loopback server).
    pub encrypt: bool,
    /// Do not validate the server certificate (DMS's man-in-the-middle warning applies).
    pub trust_server_certificate: bool,
}

impl Default for SourceForm {
    fn default() -> Self {
        SourceForm {
            folder_only: false,
            server: String::new(),
            port_or_instance: String::new(),
            auth: SourceAuthKind::SqlLogin,
            user: String::new(),
            password: SecretText::default(),
            token: SecretText::default(),
            encrypt: true,
            trust_server_certificate: false,
        }
    }
}

impl SourceForm {
    /// `HOST`, `HOST,PORT` or `HOST\INSTANCE` (the source module's address forms).
    pub fn address(&self) -> String {
        let p = self.port_or_instance.trim();
        if p.is_empty() {
            self.server.trim().to_string()
        } else if p.chars().all(|c| c.is_ascii_digit()) {
            format!("{},{p}", self.server.trim())
        } else {
            format!("{}\\{p}", self.server.trim())
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetCredential {
    ServicePrincipal,
    #[default]
    AzureCli,
    ManagedIdentity,
    /// Kubernetes workload identity (AZURE_FEDERATED_TOKEN_FILE and friends).
    WorkloadIdentity,
    /// The first that applies when the migration starts: service principal if its variables are
    /// set, workload identity if its token file is, else the Azure CLI (`credential = "auto"`).
    Auto,
}

/// The Target screen.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TargetForm {
    /// The local sandbox instead of Azure (nothing else needed).
    pub sandbox: bool,
    pub subscription: String,
    pub resource_group: String,
    pub managed_instance: String,
    pub credential: TargetCredential,
    pub tenant_id: String,
    pub app_id: String,
    #[serde(skip)]
    pub client_secret: SecretText,
    /// Azure Resource Manager endpoint, kept from a configuration file (another cloud, or a local
    /// sandbox); empty: https://management.azure.com. Not asked by the wizard.
    pub arm_endpoint: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StorageAuthKind {
    /// A SAS token (rcwl).
    #[default]
    Sas,
    /// The storage account key, read from an environment variable (cutover signs SAS from it).
    AccountKeyEnv,
    /// Entra ID (the target credential).
    EntraId,
}

/// How the managed instance reads the uploaded backups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MiAccess {
    /// A Read + List SAS: signed by cutover from the account key, or given.
    #[default]
    Sas,
    /// The instance's managed identity (Storage Blob Data Reader on the account).
    ManagedIdentity,
}

/// The Migration settings screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MigrationSettings {
    pub backup_folder: String,
    /// The backup folder as the source SQL Server sees it (where the tail-log backup is written);
    /// empty: the same path.
    pub server_folder: String,
    /// Database name -> its own backup folder (Advanced).
    pub folder_overrides: BTreeMap<String, String>,
    pub container_url: String,
    pub storage_auth: StorageAuthKind,
    #[serde(skip)]
    pub sas_token: SecretText,
    /// Name of the environment variable holding the account key.
    pub account_key_env: String,
    pub mi_access: MiAccess,
    /// The Read + List SAS the managed instance reads with, when cutover cannot sign one (no
    /// account key).
    #[serde(skip)]
    pub mi_sas_token: SecretText,
    /// Lifetime of the SAS given to LRS, days.
    pub sas_expiry_days: u32,
    /// Files uploaded at once.
    pub concurrency: u32,
    /// Upload cap, megabits per second (None: no cap).
    pub bandwidth_mbps: Option<u32>,
}

impl Default for MigrationSettings {
    fn default() -> Self {
        MigrationSettings {
            backup_folder: String::new(),
            server_folder: String::new(),
            folder_overrides: BTreeMap::new(),
            container_url: String::new(),
            storage_auth: StorageAuthKind::Sas,
            sas_token: SecretText::default(),
            account_key_env: String::new(),
            mi_access: MiAccess::Sas,
            mi_sas_token: SecretText::default(),
            sas_expiry_days: 7,
            concurrency: 4,
            bandwidth_mbps: None,
        }
    }
}

/// Everything the wizard collects.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct WizardValues {
    /// DMS's activity name (names the state file).
    pub activity: String,
    pub source: SourceForm,
    pub target: TargetForm,
    /// Selected databases, in the source's order.
    pub databases: Vec<String>,
    pub settings: MigrationSettings,
    /// The environment variables a saved configuration names for the secrets.
    pub secret_env: SecretEnvNames,
    /// Keys of the configuration file the wizard was prefilled from that no screen edits.
    pub carried: CarriedKeys,
}

/// Keys of a configuration file that the wizard's screens do not edit, kept from the file it was
/// prefilled from and written back unchanged when it saves (numbers as the file's text, so that the
/// values stay comparable).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CarriedKeys {
    pub connect_timeout_seconds: Option<u64>,
    /// `[source] ca_file`: the PEM file of the CA trusted for the source's TLS.
    pub ca_file: Option<std::path::PathBuf>,
    pub settle_seconds: Option<String>,
    pub location: Option<String>,
    pub collation: Option<String>,
    pub cutover: Option<String>,
    pub tail: Option<String>,
    pub stop_traffic: Option<String>,
    pub scan_seconds: Option<String>,
    pub poll_seconds: Option<String>,
    pub state_dir: Option<String>,
    /// `[[backups.database]]` keys per database name: server_folder, target_name.
    pub database: BTreeMap<String, (Option<String>, Option<String>)>,
}

/// Names of the environment variables that hold the secrets when the values are saved as a
/// configuration file (the file never holds a secret; kept from a configuration the wizard was
/// prefilled from).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SecretEnvNames {
    pub source_password: String,
    pub source_token: String,
    pub storage_sas: String,
    pub mi_sas: String,
}

impl Default for SecretEnvNames {
    fn default() -> Self {
        SecretEnvNames {
            source_password: "CUTOVER_SOURCE_PASSWORD".to_string(),
            source_token: "CUTOVER_SOURCE_TOKEN".to_string(),
            storage_sas: "CUTOVER_STORAGE_SAS".to_string(),
            mi_sas: "CUTOVER_MI_SAS".to_string(),
        }
    }
}

/// What saving the values as a configuration file did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaveOutcome {
    /// Written to `path` (absolute); `env` are the variables to export before using it
    /// (`VAR: what`).
    Saved { path: String, env: Vec<String> },
    /// A file is there already and overwriting was not confirmed: nothing was written.
    Exists { path: String },
}

/// What a successful source test returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSummary {
    /// e.g. `sql01 (Microsoft SQL Server 2019 15.0.4355.3, Enterprise)`.
    pub server: String,
    pub databases: Vec<SourceDatabase>,
}

/// How the wizard gets anything from outside. The wizard never connects itself; the app runs each
/// call as a background task and the wizard shows "testing..." until the result is pulled.
#[async_trait]
pub trait WizardBackend: Send + Sync {
    /// Connects to the source and lists its databases.
    async fn test_source(&self, form: &SourceForm) -> Result<SourceSummary, String>;
    /// Without a source connection: the databases found in the backup folder.
    async fn scan_folder(&self, folder: &str) -> Result<SourceSummary, String>;
    /// Reaches the managed instance (or the sandbox); Ok: a line describing it.
    async fn test_target(&self, form: &TargetForm) -> Result<String, String>;
    /// The findings per selected database (catalog of the backup folder, source cross-check).
    async fn preflight(&self, values: &WizardValues) -> Vec<(String, Vec<Finding>)>;
    /// Writes the values as a configuration file at `path` (secrets as the names of the
    /// environment variables holding them, never the values); an existing file is replaced only
    /// when `overwrite`.
    async fn save_config(
        &self,
        path: &str,
        values: &WizardValues,
        overwrite: bool,
    ) -> Result<SaveOutcome, String>;
}

/// How the wizard ended (returned once: the size difference does not matter).
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WizardOutcome {
    /// Run the migration with these values.
    Run(WizardValues),
    Cancelled,
}
