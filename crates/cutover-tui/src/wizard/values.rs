//! What the wizard collects, typed, prefillable (`Default`) and exportable without secrets
//! (`Serialize` skips every [`SecretText`]), and the backend it asks to test and check things.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use cutover_model::SourceDatabase;
use cutover_model::{
    AzureCheck, AzureContainer, AzureInstance, AzureStorageAccount, AzureSubscription, Finding,
};

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
    /// Azure Resource Manager endpoint (another cloud, or a local sandbox); empty:
    /// https://management.azure.com. Asked under Advanced on the Target screen.
    pub arm_endpoint: String,
    /// `[target] sandbox = true` in the loaded file: `arm_endpoint` is a local sandbox (its fixed
    /// token), for the connection test (Ctrl-T) as for the run.
    pub arm_sandbox: bool,
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

/// The default migration length, days: LRS's job limit (a restore LRS accepts lasts at most 30
/// days), so the SAS cutover signs outlives any migration LRS allows and raises no "expires during
/// the migration" warning.
pub const DEFAULT_SAS_DAYS: u32 = 30;

/// A bandwidth limit in megabits per second: finite and positive (the screen checks it), so
/// equality is total.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Mbps(pub f64);

impl Eq for Mbps {}

impl std::fmt::Display for Mbps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
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
    /// The account reading the backup folder when it is an SMB share (`DOMAIN\user`;
    /// `AZURE\<storage account>` for an Azure file share); empty for a local folder.
    pub smb_user: String,
    /// The environment variable holding that account's password (or the storage account key);
    /// the password is never typed here nor saved.
    pub smb_password_env: String,
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
    /// How long the migration may take, days (at most 30, LRS's job limit): the lifetime of the
    /// SAS cutover signs for LRS, and a SAS given must not expire sooner.
    pub sas_expiry_days: u32,
    /// Files uploaded at once.
    pub concurrency: u32,
    /// Upload cap, megabits per second (None: no cap).
    pub bandwidth_mbps: Option<Mbps>,
    /// `[migration] cutover`: the operator cuts over, or cutover does when a database is ready.
    pub cutover: CutoverMode,
    /// `[migration] tail`: who takes the tail-log backup at cutover.
    pub tail: TailChoice,
    /// `[migration] stop_traffic`: how cutover stops the application's writes before the tail.
    pub stop_traffic: StopTrafficChoice,
}

/// `[migration] cutover`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CutoverMode {
    /// The operator cuts over (the dashboard's dialog).
    #[default]
    Never,
    /// cutover completes each database as soon as it is ready.
    WhenReady,
}

/// `[migration] tail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TailChoice {
    /// cutover takes the tail-log backup on the source (needs the source connection).
    Take,
    /// The operator takes it; cutover waits for the file in the backup folder.
    #[default]
    Wait,
    /// No tail-log backup: transactions after the last log backup are lost.
    Skip,
}

/// `[migration] stop_traffic`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StopTrafficChoice {
    ReadOnly,
    RestrictedUser,
    /// cutover does not stop traffic (the operator does).
    #[default]
    None,
}

impl CutoverMode {
    pub const ALL: [CutoverMode; 2] = [CutoverMode::Never, CutoverMode::WhenReady];
    /// The configuration file's word.
    pub fn word(self) -> &'static str {
        match self {
            CutoverMode::Never => "never",
            CutoverMode::WhenReady => "when-ready",
        }
    }
}

impl TailChoice {
    pub const ALL: [TailChoice; 3] = [TailChoice::Take, TailChoice::Wait, TailChoice::Skip];
    pub fn word(self) -> &'static str {
        match self {
            TailChoice::Take => "take",
            TailChoice::Wait => "wait",
            TailChoice::Skip => "skip",
        }
    }
}

impl StopTrafficChoice {
    pub const ALL: [StopTrafficChoice; 3] = [
        StopTrafficChoice::ReadOnly,
        StopTrafficChoice::RestrictedUser,
        StopTrafficChoice::None,
    ];
    pub fn word(self) -> &'static str {
        match self {
            StopTrafficChoice::ReadOnly => "read-only",
            StopTrafficChoice::RestrictedUser => "restricted-user",
            StopTrafficChoice::None => "none",
        }
    }
}

/// The choice whose configuration word is `word` (None: not one of them).
pub fn from_word<T: Copy>(all: &[T], word: &str, name: impl Fn(T) -> &'static str) -> Option<T> {
    all.iter().copied().find(|c| name(*c) == word)
}

impl Default for MigrationSettings {
    fn default() -> Self {
        MigrationSettings {
            backup_folder: String::new(),
            server_folder: String::new(),
            folder_overrides: BTreeMap::new(),
            smb_user: String::new(),
            smb_password_env: String::new(),
            container_url: String::new(),
            storage_auth: StorageAuthKind::Sas,
            sas_token: SecretText::default(),
            account_key_env: String::new(),
            mi_access: MiAccess::Sas,
            mi_sas_token: SecretText::default(),
            sas_expiry_days: DEFAULT_SAS_DAYS,
            concurrency: 4,
            bandwidth_mbps: None,
            cutover: CutoverMode::default(),
            tail: TailChoice::default(),
            stop_traffic: StopTrafficChoice::default(),
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
    /// The server logins to migrate (`[logins] select`); None: those the selected databases'
    /// users need (the default, followed as the databases change).
    pub logins: Option<Vec<String>>,
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
    /// `[target] sql_server` / `sql_user` / `sql_password_env`: the instance's SQL endpoint the
    /// Summary's check reads (its password stays in the environment).
    pub sql_server: Option<String>,
    pub sql_user: Option<String>,
    pub sql_password_env: Option<String>,
    /// `[target] sql_authentication`, `sql_token_env`, `sql_ca_file` (not asked by the wizard).
    pub sql_authentication: Option<String>,
    pub sql_token_env: Option<String>,
    pub sql_ca_file: Option<std::path::PathBuf>,
    pub scan_seconds: Option<String>,
    pub poll_seconds: Option<String>,
    /// The folder of the activity's state (the wizard's run sets it to the folder it uses, so that
    /// a saved configuration re-attaches to the same activity).
    pub state_dir: Option<String>,
    /// `[logins] migrate` / `remap_users` and the `[[logins.map]]` entries (Windows, Entra).
    pub logins_migrate: Option<bool>,
    pub logins_remap_users: Option<bool>,
    pub logins_map: Vec<(String, String)>,
    /// `[[backups.database]]` keys per database name: server_folder, target_name.
    pub database: BTreeMap<String, (Option<String>, Option<String>)>,
}

/// Where `cutover run --config` reads a service principal's secret (azure_identity's variable).
pub const CLIENT_SECRET_ENV: &str = "AZURE_CLIENT_SECRET";

/// Which environment variables are set: the process's own, or a fixed set (tests).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum EnvCheck {
    #[default]
    Process,
    Fixed(std::collections::BTreeSet<String>),
}

impl EnvCheck {
    /// True when `var` is set to something other than blanks.
    pub fn is_set(&self, var: &str) -> bool {
        match self {
            EnvCheck::Process => std::env::var(var).is_ok_and(|v| !v.trim().is_empty()),
            EnvCheck::Fixed(set) => set.contains(var),
        }
    }
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

/// What the Summary's preflight found: the findings per selected database, and what the
/// configuration check (the one `cutover run --config` makes) says of the values.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PreflightReport {
    pub databases: Vec<(String, Vec<Finding>)>,
    /// Warnings of the configuration check (e.g. a SAS that expires during the migration).
    pub config_warnings: Vec<String>,
    /// Why the values do not make a configuration the migration can start with.
    pub config_error: Option<String>,
}

/// What a successful source test returns.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SourceSummary {
    /// e.g. `sql01 (Microsoft SQL Server 2019 15.0.4355.3, Enterprise)`.
    pub server: String,
    pub databases: Vec<SourceDatabase>,
    /// The source cross-check's findings per database name (SIMPLE recovery, TDE, not ONLINE...),
    /// computed by the backend; none for a backup folder read without the source.
    pub findings: BTreeMap<String, Vec<Finding>>,
    /// The source's server logins (kind, the users of its databases that need each; status
    /// Pending): what the Databases screen's `l` list offers. None for a backup folder.
    pub logins: Vec<cutover_model::LoginRow>,
}

impl SourceSummary {
    /// The findings of the database `name` (none when the backend found nothing).
    pub fn findings_of(&self, name: &str) -> &[Finding] {
        self.findings.get(name).map_or(&[], Vec::as_slice)
    }
}

/// How the wizard gets anything from outside. The wizard never connects itself; the app runs each
/// call as a background task and the wizard shows "testing..." until the result is pulled.
#[async_trait]
pub trait WizardBackend: Send + Sync {
    /// Connects to the source and lists its databases.
    async fn test_source(&self, form: &SourceForm) -> Result<SourceSummary, String>;
    /// Without a source connection: the databases found in the backup folder.
    async fn scan_folder(&self, folder: &str) -> Result<SourceSummary, String>;
    /// The same for a folder that may be an SMB share, read with this account (empty for a
    /// local folder; the password from the variable `smb_password_env`).
    async fn scan_backups(
        &self,
        folder: &str,
        smb_user: &str,
        smb_password_env: &str,
    ) -> Result<SourceSummary, String> {
        let _ = (smb_user, smb_password_env);
        self.scan_folder(folder).await
    }
    /// Signs in with the chosen credential and reads the managed instance (one authorised ARM
    /// GET; the sandbox's ARM endpoint for the sandbox); Ok: a line describing it.
    async fn test_target(&self, form: &TargetForm) -> Result<String, String>;
    /// Opens the backup folder of the Migration settings screen (signing in to the SMB share
    /// when it is one) and says what it found (databases, newest backups), or exactly what
    /// failed (name not resolved, port closed, logon failure, access denied on the share or a
    /// folder, no such share or path, SMB1 only...).
    async fn test_backups(&self, settings: &MigrationSettings) -> Result<String, String> {
        let _ = settings;
        Err("this backend cannot test the backup folder".to_string())
    }
    /// The subscriptions the Target screen's credential can list (Azure Resource Manager, or the
    /// sandbox's); Err: why not, naming what right is missing.
    async fn azure_subscriptions(
        &self,
        target: &TargetForm,
    ) -> Result<Vec<AzureSubscription>, String> {
        let _ = target;
        Err(NO_AZURE_LISTS.to_string())
    }
    /// The managed instances of `subscription`.
    async fn azure_instances(
        &self,
        target: &TargetForm,
        subscription: &str,
    ) -> Result<Vec<AzureInstance>, String> {
        let _ = (target, subscription);
        Err(NO_AZURE_LISTS.to_string())
    }
    /// The storage accounts of `subscription`.
    async fn azure_storage_accounts(
        &self,
        target: &TargetForm,
        subscription: &str,
    ) -> Result<Vec<AzureStorageAccount>, String> {
        let _ = (target, subscription);
        Err(NO_AZURE_LISTS.to_string())
    }
    /// The containers of a storage account.
    async fn azure_containers(
        &self,
        target: &TargetForm,
        account: &AzureStorageAccount,
    ) -> Result<Vec<AzureContainer>, String> {
        let _ = (target, account);
        Err(NO_AZURE_LISTS.to_string())
    }
    /// The Migration settings screen's storage checks (Ctrl-T): creates the container `create`
    /// when given, then judges the storage firewall, the region and, when the instance reads
    /// with its managed identity, its Storage Blob Data Reader role on the account.
    async fn azure_storage_checks(
        &self,
        request: &StorageCheckRequest,
    ) -> Result<Vec<AzureCheck>, String> {
        let _ = request;
        Err(NO_AZURE_LISTS.to_string())
    }
    /// The findings per selected database (catalog of the backup folder, source cross-check) and
    /// the configuration check's warnings or error.
    async fn preflight(&self, values: &WizardValues) -> PreflightReport;
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

/// What a backend without Azure discovery answers to a list.
pub const NO_AZURE_LISTS: &str = "this backend cannot list Azure resources: type the names";

/// What the Migration settings screen's storage checks are about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageCheckRequest {
    pub target: TargetForm,
    pub account: AzureStorageAccount,
    /// The instance picked on the Target screen (None: typed by hand; the backend looks it up).
    pub instance: Option<AzureInstance>,
    /// The container (name) the backups go to.
    pub container: String,
    /// Create the container first (a new name was typed).
    pub create: bool,
    pub mi_access: MiAccess,
}

/// How the wizard ended (returned once: the size difference does not matter).
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WizardOutcome {
    /// Run the migration with these values.
    Run(WizardValues),
    Cancelled,
}

impl WizardValues {
    /// The logins selected among `all`: the operator's choice, or those the users of the selected
    /// databases map to (`used_by` reads `database.user`).
    pub fn selected_logins(&self, all: &[cutover_model::LoginRow]) -> Vec<String> {
        match &self.logins {
            Some(l) => l.clone(),
            None => all
                .iter()
                .filter(|l| {
                    l.used_by.iter().any(|u| {
                        self.databases.iter().any(|d| {
                            u.strip_prefix(d.as_str())
                                .is_some_and(|r| r.starts_with('.'))
                        })
                    })
                })
                .map(|l| l.login.clone())
                .collect(),
        }
    }
}
