//! The setup wizard: Source -> Target -> Databases -> Migration settings -> Summary. Each screen is
//! validated before Next (the error names the field), Esc goes back, Ctrl-T tests the connection on
//! Source and Target. The wizard never connects anywhere: it asks for work with
//! [`WizardRequest`]s, which the app runs on a [`WizardBackend`] in the background, and takes the
//! answers with [`WizardState::on_result`] (gitui style: the job notifies, the loop pulls).
//!
//! On the Summary, Ctrl-S saves the values as a configuration file for `cutover run --config`
//! (the path is asked, an existing file is replaced only after a second confirmation, and the
//! file names the environment variables of the secrets, never their values).

pub mod databases;
pub mod form;
pub mod picker;
pub mod settings;
pub mod source;
pub mod summary;
pub mod target;
pub mod values;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

pub use databases::DatabaseList;
pub use form::Form;
pub use picker::{AzureItems, AzureLists, PickWhat, Picker};
pub use values::{
    CutoverMode, EnvCheck, Mbps, MiAccess, MigrationSettings, PreflightReport, SaveOutcome,
    SecretEnvNames, SecretText, SourceAuthKind, SourceForm, SourceSummary, StopTrafficChoice,
    StorageAuthKind, StorageCheckRequest, TailChoice, TargetCredential, TargetForm, WizardBackend,
    WizardOutcome, WizardValues,
};

use cutover_model::{AzureCheck, AzureStorageAccount};

use crate::dashboard::footer::keys_line;
use crate::theme::Theme;
use crate::{format, layout, small};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Screen {
    Source,
    Target,
    Databases,
    Settings,
    Summary,
}

impl Screen {
    pub const ALL: [Screen; 5] = [
        Screen::Source,
        Screen::Target,
        Screen::Databases,
        Screen::Settings,
        Screen::Summary,
    ];
    pub fn title(self) -> &'static str {
        match self {
            Screen::Source => "Source",
            Screen::Target => "Target",
            Screen::Databases => "Databases",
            Screen::Settings => "Migration settings",
            Screen::Summary => "Summary",
        }
    }
    fn next(self) -> Screen {
        match self {
            Screen::Source => Screen::Target,
            Screen::Target => Screen::Databases,
            Screen::Databases => Screen::Settings,
            Screen::Settings | Screen::Summary => Screen::Summary,
        }
    }
    fn prev(self) -> Option<Screen> {
        match self {
            Screen::Source => None,
            Screen::Target => Some(Screen::Source),
            Screen::Databases => Some(Screen::Target),
            Screen::Settings => Some(Screen::Databases),
            Screen::Summary => Some(Screen::Settings),
        }
    }
}

/// A background job's state as the screen shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum JobStatus<T> {
    #[default]
    Idle,
    /// Waiting for the answer to request `id` (older answers are ignored).
    Running {
        id: u64,
    },
    Done(Result<T, String>),
}

impl<T> JobStatus<T> {
    pub fn running(&self) -> bool {
        matches!(self, JobStatus::Running { .. })
    }
}

/// Work the wizard asks the app to do on the backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WizardRequest {
    TestSource {
        id: u64,
        form: SourceForm,
    },
    TestTarget {
        id: u64,
        form: TargetForm,
    },
    /// The Migration settings screen's Ctrl-T: open the backup folder (or share) and say what
    /// is in it.
    TestBackups {
        id: u64,
        settings: Box<MigrationSettings>,
    },
    /// No source connection: list the databases of the backup folder (answered as `Source`).
    ScanFolder {
        id: u64,
        folder: String,
        /// The SMB account when the folder is a share (prefilled from a configuration file).
        smb_user: String,
        smb_password_env: String,
    },
    Preflight {
        id: u64,
        values: Box<WizardValues>,
    },
    /// A list from Azure (Ctrl-L): read with the Target screen's credential.
    Azure {
        id: u64,
        list: AzureListRequest,
        target: Box<TargetForm>,
    },
    /// The Migration settings screen's storage checks (Ctrl-T with a picked account).
    StorageChecks {
        id: u64,
        request: Box<StorageCheckRequest>,
    },
    /// Save the values as a configuration file at `path`.
    SaveConfig {
        id: u64,
        path: String,
        values: Box<WizardValues>,
        overwrite: bool,
    },
}

/// Which Azure list to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AzureListRequest {
    Subscriptions,
    Instances(String),
    StorageAccounts(String),
    Containers(Box<AzureStorageAccount>),
}

/// The backend's answer to a [`WizardRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WizardResult {
    Source {
        id: u64,
        result: Result<SourceSummary, String>,
    },
    Target {
        id: u64,
        result: Result<String, String>,
    },
    Backups {
        id: u64,
        result: Result<String, String>,
    },
    Preflight {
        id: u64,
        result: Result<PreflightReport, String>,
    },
    Save {
        id: u64,
        result: Result<SaveOutcome, String>,
    },
    Azure {
        id: u64,
        result: Result<AzureItems, String>,
    },
    StorageChecks {
        id: u64,
        result: Result<Vec<AzureCheck>, String>,
    },
}

/// The "save as a configuration file" prompt of the Summary (Ctrl-S).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SavePrompt {
    /// The path being typed.
    pub path: String,
    /// The file exists: `y` replaces it, `n` goes back to the path.
    pub confirm_overwrite: bool,
    /// Why the last attempt failed (names the file).
    pub error: Option<String>,
    /// Waiting for the answer to this request.
    pub running: Option<u64>,
}

/// The default path of a saved configuration.
pub const DEFAULT_CONFIG_PATH: &str = "./cutover.toml";

/// The wizard's state: the values and one form per screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WizardState {
    pub screen: Screen,
    pub values: WizardValues,
    pub source: Form,
    pub target: Form,
    pub db_list: DatabaseList,
    pub settings: Form,
    pub summary: Form,
    pub summary_scroll: u16,
    pub source_test: JobStatus<SourceSummary>,
    pub target_test: JobStatus<String>,
    /// The Migration settings screen's test of the backup folder (or share).
    pub backups_test: JobStatus<String>,
    pub preflight: JobStatus<PreflightReport>,
    /// Which environment variables are set (the process's; tests fix them).
    pub env: EnvCheck,
    /// The validation error of the last Next (names the field).
    pub error: Option<String>,
    /// Esc on the first screen or Ctrl-C: "leave the wizard?" is shown.
    pub confirm_cancel: bool,
    /// Set when the wizard is over.
    pub outcome: Option<WizardOutcome>,
    /// What the last action did (e.g. the configuration was saved), shown until the next key.
    pub notice: Option<String>,
    /// Where Ctrl-S proposes to save the configuration (the last path saved to).
    pub config_path: String,
    /// The save prompt, while open.
    pub save: Option<SavePrompt>,
    /// Azure's lists read so far and what was picked from them.
    pub azure: AzureLists,
    /// The list open (Ctrl-L), taking every key.
    pub picker: Option<Picker>,
    pub tick: u64,
    next_id: u64,
}

impl WizardState {
    /// A wizard prefilled with `values` (use `WizardValues::default()` for an empty one).
    pub fn new(values: WizardValues) -> Self {
        let mut s = WizardState {
            screen: Screen::Source,
            source: source::form(&values.source, &values.settings),
            target: target::form(&values.target, &values.carried),
            db_list: DatabaseList::default(),
            settings: settings::form(
                &values.settings,
                &values.databases,
                values.source.folder_only,
            ),
            summary: summary::form(&values),
            summary_scroll: 0,
            source_test: JobStatus::Idle,
            target_test: JobStatus::Idle,
            backups_test: JobStatus::Idle,
            preflight: JobStatus::Idle,
            env: EnvCheck::Process,
            error: None,
            confirm_cancel: false,
            outcome: None,
            notice: None,
            config_path: DEFAULT_CONFIG_PATH.to_string(),
            save: None,
            azure: AzureLists::default(),
            picker: None,
            tick: 0,
            next_id: 1,
            values,
        };
        s.name_secret_vars();
        s
    }

    /// Which environment variables count as set (tests: a fixed set instead of the process's).
    pub fn with_env(mut self, env: EnvCheck) -> Self {
        self.env = env;
        self
    }

    /// Each secret field names the environment variable a saved configuration reads it from; the
    /// account key's variable is checked unless the target is the sandbox (which signs with its
    /// own development key).
    fn name_secret_vars(&mut self) {
        let e = self.values.secret_env.clone();
        let var = |v: &str| form::EnvRef::Var(v.to_string());
        self.source.set_env("password", var(&e.source_password));
        self.source.set_env("token", var(&e.source_token));
        self.target
            .set_env("secret", var(values::CLIENT_SECRET_ENV));
        self.settings.set_env("sas", var(&e.storage_sas));
        self.settings.set_env("mi_sas", var(&e.mi_sas));
        let key = if self.values.target.sandbox {
            form::EnvRef::None
        } else {
            form::EnvRef::Named
        };
        self.settings.set_env("key_env", key);
        self.settings
            .set_env("smb_password_env", form::EnvRef::Named);
    }

    /// No sandbox here (a real migration): the Target screen does not offer it.
    pub fn without_sandbox(mut self) -> Self {
        self.values.target.sandbox = false;
        if let Some(f) = self.target.fields.iter_mut().find(|f| f.key == "sandbox") {
            f.on = false;
        }
        self.target.set_hidden("sandbox", true);
        self
    }

    /// Ctrl-S proposes `path` (e.g. the file the wizard was prefilled from).
    pub fn with_config_path(mut self, path: impl Into<String>) -> Self {
        self.config_path = path.into();
        self
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// True while a spinner turns (a test or the preflight runs).
    pub fn animating(&self) -> bool {
        self.source_test.running()
            || self.target_test.running()
            || self.backups_test.running()
            || self.preflight.running()
            || self.azure.checks.running()
            || self.picker.as_ref().is_some_and(|p| p.loading.is_some())
            || self.save.as_ref().is_some_and(|p| p.running.is_some())
    }

    fn request_source(&mut self) -> Vec<WizardRequest> {
        let id = self.id();
        self.source_test = JobStatus::Running { id };
        if self.values.source.folder_only {
            return vec![WizardRequest::ScanFolder {
                id,
                folder: self.values.settings.backup_folder.clone(),
                smb_user: self.values.settings.smb_user.clone(),
                smb_password_env: self.values.settings.smb_password_env.clone(),
            }];
        }
        vec![WizardRequest::TestSource {
            id,
            form: self.values.source.clone(),
        }]
    }

    /// Takes a backend answer; answers to superseded requests are dropped.
    pub fn on_result(&mut self, r: WizardResult) {
        match r {
            WizardResult::Source { id, result } => {
                if self.source_test == (JobStatus::Running { id }) {
                    if let Ok(s) = &result {
                        // Forget selections the source does not have; keep the prefilled ones it has.
                        let names: Vec<&str> =
                            s.databases.iter().map(|d| d.name.as_str()).collect();
                        self.values
                            .databases
                            .retain(|n| names.contains(&n.as_str()));
                    }
                    self.source_test = JobStatus::Done(result);
                }
            }
            WizardResult::Target { id, result } => {
                if self.target_test == (JobStatus::Running { id }) {
                    self.target_test = JobStatus::Done(result);
                }
            }
            WizardResult::Backups { id, result } => {
                if self.backups_test == (JobStatus::Running { id }) {
                    self.backups_test = JobStatus::Done(result);
                }
            }
            WizardResult::Preflight { id, result } => {
                if self.preflight == (JobStatus::Running { id }) {
                    let warnings = result.as_ref().is_ok_and(|p| summary::counts(p).1 > 0);
                    self.summary.set_hidden("ack", !warnings);
                    self.preflight = JobStatus::Done(result);
                }
            }
            WizardResult::Azure { id, result } => {
                let Some(p) = self.picker.as_mut().filter(|p| p.loading == Some(id)) else {
                    return;
                };
                match result {
                    Ok(items) => {
                        p.loading = None;
                        p.cursor = 0;
                        let region = self.azure.region().map(str::to_string);
                        self.azure.take(items, region.as_deref());
                    }
                    Err(e) => {
                        // Shown in the list (room for the scope and the right missing); Esc
                        // leaves the typed fields.
                        p.loading = None;
                        p.error = Some(e);
                        p.failed = true;
                    }
                }
            }
            WizardResult::StorageChecks { id, result } => {
                if self.azure.checks == (JobStatus::Running { id }) {
                    if result.is_ok()
                        && let Some((_, new)) = self.azure.container.as_mut()
                    {
                        // Created by the checks (or found there): no longer new.
                        *new = false;
                    }
                    self.azure.checks = JobStatus::Done(result);
                }
            }
            WizardResult::Save { id, result } => {
                let Some(p) = self.save.as_mut().filter(|p| p.running == Some(id)) else {
                    return;
                };
                p.running = None;
                match result {
                    Ok(SaveOutcome::Saved { path, env }) => {
                        self.save = None;
                        let mut n = format!("Saved {path} (no secrets in it).");
                        if !env.is_empty() {
                            n.push_str(&format!(
                                " Before `cutover run --config {path}`, export {}.",
                                env.join(", ")
                            ));
                        }
                        self.notice = Some(n);
                        self.config_path = path;
                    }
                    Ok(SaveOutcome::Exists { .. }) => {
                        p.confirm_overwrite = true;
                        p.error = None;
                    }
                    Err(e) => {
                        p.confirm_overwrite = false;
                        p.error = Some(e);
                    }
                }
            }
        }
    }

    /// Ctrl-S on the Summary: the activity name is checked, then the path is asked.
    fn open_save(&mut self) {
        if let Err(e) = summary::apply_activity(&self.summary, &mut self.values) {
            self.error = Some(e);
            return;
        }
        self.error = None;
        self.save = Some(SavePrompt {
            path: self.config_path.clone(),
            ..Default::default()
        });
    }

    fn save_request(&mut self, overwrite: bool) -> Vec<WizardRequest> {
        let id = self.id();
        let values = Box::new(self.values.clone());
        let Some(p) = self.save.as_mut() else {
            return Vec::new();
        };
        let path = p.path.trim().to_string();
        if path.is_empty() {
            p.error = Some("Path: give a file name, e.g. ./cutover.toml".to_string());
            return Vec::new();
        }
        p.error = None;
        p.running = Some(id);
        vec![WizardRequest::SaveConfig {
            id,
            path,
            values,
            overwrite,
        }]
    }

    /// A key while the save prompt is open (it takes every key).
    fn save_key(&mut self, key: KeyEvent) -> Vec<WizardRequest> {
        let Some(p) = self.save.as_mut() else {
            return Vec::new();
        };
        if p.running.is_some() {
            return Vec::new();
        }
        if p.confirm_overwrite {
            return match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => self.save_request(true),
                KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => {
                    p.confirm_overwrite = false;
                    Vec::new()
                }
                _ => Vec::new(),
            };
        }
        match key.code {
            KeyCode::Enter => return self.save_request(false),
            KeyCode::Esc => self.save = None,
            KeyCode::Backspace => {
                p.path.pop();
                p.error = None;
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                p.path.push(c);
                p.error = None;
            }
            _ => {}
        }
        Vec::new()
    }

    /// Validates the current screen into the values.
    fn apply(&mut self) -> Result<(), String> {
        match self.screen {
            Screen::Source => {
                let before = (
                    self.values.source.folder_only,
                    self.values.source.address(),
                    self.values.settings.backup_folder.clone(),
                );
                source::apply(&self.source, &mut self.values)?;
                let after = (
                    self.values.source.folder_only,
                    self.values.source.address(),
                    self.values.settings.backup_folder.clone(),
                );
                if before != after && !self.source_test.running() {
                    // Another source: the databases listed before are not its.
                    self.source_test = JobStatus::Idle;
                }
                self.sync_backup_folder();
                Ok(())
            }
            Screen::Target => {
                target::apply(&self.target, &mut self.values.target)?;
                if !self.values.target.sandbox {
                    let (server, user, env) = target::sql_keys(&self.target)?;
                    let c = &mut self.values.carried;
                    c.sql_server = server;
                    c.sql_user = user;
                    c.sql_password_env = env;
                }
                if let Some(i) = self
                    .azure
                    .instance
                    .as_ref()
                    .filter(|i| i.name == self.values.target.managed_instance)
                {
                    self.values.carried.location = Some(i.location.clone());
                }
                Ok(())
            }
            Screen::Databases => databases::apply(self),
            Screen::Settings => {
                let sandbox = self.values.target.sandbox;
                settings::apply(
                    &self.settings,
                    &mut self.values.settings,
                    &self.values.databases,
                    self.values.source.folder_only,
                )?;
                self.sync_backup_folder();
                settings::check_env(&self.values.settings, sandbox, &self.env)
            }
            Screen::Summary => summary::apply_activity(&self.summary, &mut self.values),
        }
    }

    /// The backup folder is asked on the Source screen (backup folder only) or on the Settings
    /// screen: both forms show the value last applied.
    fn sync_backup_folder(&mut self) {
        let m = &self.values.settings;
        let (folder, smb_user, smb_env) = (
            m.backup_folder.clone(),
            m.smb_user.clone(),
            m.smb_password_env.clone(),
        );
        for f in [&mut self.source, &mut self.settings] {
            for (key, text) in [
                ("folder", &folder),
                ("smb_user", &smb_user),
                ("smb_password_env", &smb_env),
            ] {
                if let Some(x) = f.fields.iter_mut().find(|x| x.key == key)
                    && (key == "folder" || !text.is_empty())
                {
                    x.text = text.clone();
                }
            }
        }
        settings::refresh(&mut self.settings);
        source::refresh(&mut self.source);
        // A SAS pasted with the container URL moved to the (masked) SAS field.
        let m = &self.values.settings;
        for (key, text) in [
            ("container", m.container_url.clone()),
            ("sas", m.sas_token.expose().to_string()),
        ] {
            if let Some(x) = self.settings.fields.iter_mut().find(|x| x.key == key) {
                x.text = text;
            }
        }
    }

    fn enter(&mut self, screen: Screen) -> Vec<WizardRequest> {
        self.screen = screen;
        self.error = None;
        match screen {
            Screen::Databases
                if !matches!(self.source_test, JobStatus::Done(Ok(_)))
                    && !self.source_test.running() =>
            {
                self.request_source()
            }
            Screen::Settings => {
                let folder_only = self.values.source.folder_only;
                let mut f =
                    settings::form(&self.values.settings, &self.values.databases, folder_only);
                f.merge_from(&self.settings);
                if folder_only {
                    // The folder was chosen on the Source screen.
                    if let Some(x) = f.fields.iter_mut().find(|x| x.key == "folder") {
                        x.text = self.values.settings.backup_folder.clone();
                    }
                }
                f.set_hidden("folder", folder_only);
                f.set_hidden("server_folder", folder_only);
                settings::refresh(&mut f);
                self.settings = f;
                self.name_secret_vars();
                Vec::new()
            }
            Screen::Summary => {
                let id = self.id();
                self.preflight = JobStatus::Running { id };
                self.summary.set_hidden("ack", true);
                if let Some(f) = self.summary.fields.iter_mut().find(|f| f.key == "ack") {
                    f.on = false;
                }
                self.summary_scroll = 0;
                vec![WizardRequest::Preflight {
                    id,
                    values: Box::new(self.values.clone()),
                }]
            }
            _ => Vec::new(),
        }
    }

    fn next(&mut self) -> Vec<WizardRequest> {
        if let Err(e) = self.apply() {
            self.error = Some(e);
            return Vec::new();
        }
        if self.screen == Screen::Settings
            && let Some(e) = self.container_missing()
        {
            self.error = Some(e);
            return Vec::new();
        }
        if self.screen == Screen::Summary {
            self.run();
            return Vec::new();
        }
        self.enter(self.screen.next())
    }

    fn run(&mut self) {
        match &self.preflight {
            JobStatus::Done(Ok(pre)) => {
                let (e, w) = summary::counts(pre);
                if e > 0 {
                    self.error = Some(format!(
                        "Run is blocked: the preflight found {e} error(s); fix them first"
                    ));
                } else if w > 0 && !self.summary.on("ack") {
                    self.error = Some(format!(
                        "Acknowledge the {w} warning(s) first: Space on 'Acknowledge warnings'"
                    ));
                    self.summary.focus("ack");
                } else {
                    self.outcome = Some(WizardOutcome::Run(self.values.clone()));
                }
            }
            JobStatus::Done(Err(e)) => {
                self.error = Some(format!("Run is blocked: the preflight failed: {e}"))
            }
            _ => self.error = Some("wait for the preflight to finish".to_string()),
        }
    }

    fn test_connection(&mut self) -> Vec<WizardRequest> {
        if let Err(e) = self.apply() {
            self.error = Some(e);
            return Vec::new();
        }
        self.error = None;
        match self.screen {
            Screen::Source => self.request_source(),
            Screen::Target => {
                let id = self.id();
                self.target_test = JobStatus::Running { id };
                vec![WizardRequest::TestTarget {
                    id,
                    form: self.values.target.clone(),
                }]
            }
            Screen::Settings => {
                let id = self.id();
                self.backups_test = JobStatus::Running { id };
                let mut out = vec![WizardRequest::TestBackups {
                    id,
                    settings: Box::new(self.values.settings.clone()),
                }];
                out.extend(self.storage_checks());
                out
            }
            _ => Vec::new(),
        }
    }

    /// A new container named in the list is created by the storage checks (Ctrl-T): the upload
    /// needs it there, so Next waits for it.
    fn container_missing(&self) -> Option<String> {
        let (Some((name, true)), Some(a)) = (&self.azure.container, &self.azure.account) else {
            return None;
        };
        (self.values.settings.container_url.trim_end_matches('/')
            == format!("{}/{name}", a.blob_endpoint.trim_end_matches('/')))
        .then(|| {
            format!(
                "Storage container URL: the container {name} does not exist yet on {}: Ctrl-T creates it (and checks the account)",
                a.name
            )
        })
    }

    /// The storage checks of the picked account (nothing when the container URL was typed for
    /// another account).
    fn storage_checks(&mut self) -> Vec<WizardRequest> {
        let Some(account) = self.azure.account.clone() else {
            return Vec::new();
        };
        let url = self.values.settings.container_url.trim();
        let prefix = format!("{}/", account.blob_endpoint.trim_end_matches('/'));
        let Some(container) = url
            .strip_prefix(&prefix)
            .map(|c| c.trim_matches('/').to_string())
            .filter(|c| !c.is_empty() && !c.contains('/'))
        else {
            self.azure.checks = JobStatus::Idle;
            return Vec::new();
        };
        let create = self
            .azure
            .container
            .as_ref()
            .is_some_and(|(n, new)| *n == container && *new);
        let id = self.id();
        self.azure.checks = JobStatus::Running { id };
        let instance = self
            .azure
            .instance
            .clone()
            .filter(|i| i.name == self.values.target.managed_instance);
        vec![WizardRequest::StorageChecks {
            id,
            request: Box::new(StorageCheckRequest {
                target: self.values.target.clone(),
                account,
                instance,
                container,
                create,
                mi_access: self.values.settings.mi_access,
            }),
        }]
    }

    /// Ctrl-L: the list for the focused field (Target: the subscription, or the instance when
    /// the group or instance field is focused and a subscription is there; Settings: the storage
    /// account, or the container when its field is focused and an account was picked).
    fn open_picker(&mut self) -> Vec<WizardRequest> {
        match self.screen {
            Screen::Target => {
                if self.target.on("sandbox") {
                    self.notice = Some(
                        "The sandbox is the target: turn Sandbox off to pick from Azure's lists"
                            .to_string(),
                    );
                    return Vec::new();
                }
                let form = match target::read(&self.target, &self.values.target) {
                    Ok(f) => f,
                    Err(e) => {
                        self.error = Some(e);
                        return Vec::new();
                    }
                };
                let what = if matches!(self.target.focused_key(), "group" | "instance")
                    && !form.subscription.is_empty()
                {
                    PickWhat::Instance
                } else {
                    PickWhat::Subscription
                };
                self.list(what, form)
            }
            Screen::Settings => {
                let target = self.values.target.clone();
                if target.sandbox || target.subscription.trim().is_empty() {
                    self.error = Some("Storage account: pick the subscription on the Target screen first (Sandbox off), or type the container URL".to_string());
                    return Vec::new();
                }
                let what =
                    if self.settings.focused_key() == "container" && self.azure.account.is_some() {
                        PickWhat::Container
                    } else {
                        PickWhat::StorageAccount
                    };
                self.list(what, target)
            }
            _ => {
                self.notice = Some(
                    "Ctrl-L lists Azure's subscriptions and instances on Target, storage accounts on Migration settings"
                        .to_string(),
                );
                Vec::new()
            }
        }
    }

    /// Opens the list `what` and asks the backend for it.
    fn list(&mut self, what: PickWhat, target: TargetForm) -> Vec<WizardRequest> {
        let list = match what {
            PickWhat::Subscription => AzureListRequest::Subscriptions,
            PickWhat::Instance => AzureListRequest::Instances(target.subscription.clone()),
            PickWhat::StorageAccount => {
                AzureListRequest::StorageAccounts(target.subscription.clone())
            }
            PickWhat::Container => match self.azure.account.clone() {
                Some(a) => AzureListRequest::Containers(Box::new(a)),
                None => return Vec::new(),
            },
        };
        let id = self.id();
        self.picker = Some(Picker::new(what, id));
        self.error = None;
        vec![WizardRequest::Azure {
            id,
            list,
            target: Box::new(target),
        }]
    }

    /// A key while a list is open.
    fn picker_key(&mut self, key: KeyEvent) -> Vec<WizardRequest> {
        let Some(p) = self.picker.as_mut() else {
            return Vec::new();
        };
        let region = self.azure.region().map(str::to_string);
        let n = self.azure.rows(p.what, &p.filter, region.as_deref()).len();
        match key.code {
            KeyCode::Esc => self.picker = None,
            KeyCode::Enter => return self.pick(),
            KeyCode::Up => p.cursor = p.cursor.saturating_sub(1),
            KeyCode::Down => p.cursor = (p.cursor + 1).min(n.saturating_sub(1)),
            KeyCode::PageUp => p.cursor = p.cursor.saturating_sub(10),
            KeyCode::PageDown => p.cursor = (p.cursor + 10).min(n.saturating_sub(1)),
            KeyCode::Home => p.cursor = 0,
            KeyCode::End => p.cursor = n.saturating_sub(1),
            KeyCode::Backspace => {
                p.filter.pop();
                p.cursor = 0;
                if !p.failed {
                    p.error = None;
                }
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                p.filter.push(c);
                p.cursor = 0;
                if !p.failed {
                    p.error = None;
                }
            }
            _ => {}
        }
        Vec::new()
    }

    /// Enter in a list: the row under the cursor fills the fields it names.
    fn pick(&mut self) -> Vec<WizardRequest> {
        let Some(p) = self.picker.clone() else {
            return Vec::new();
        };
        if p.loading.is_some() || p.failed {
            return Vec::new();
        }
        let region = self.azure.region().map(str::to_string);
        let rows = self.azure.rows(p.what, &p.filter, region.as_deref());
        let index = rows
            .get(p.cursor.min(rows.len().saturating_sub(1)))
            .map(|(i, _)| *i);
        let set = |f: &mut Form, key: &str, text: &str| {
            if let Some(x) = f.fields.iter_mut().find(|x| x.key == key) {
                x.text = text.to_string();
            }
        };
        match p.what {
            PickWhat::Subscription => {
                let Some(sub) = index.and_then(|i| self.azure.subscriptions.get(i)).cloned() else {
                    return Vec::new();
                };
                set(&mut self.target, "subscription", &sub.id);
                self.target_test = JobStatus::Idle;
                self.target.focus("instance");
                match target::read(&self.target, &self.values.target) {
                    Ok(f) => self.list(PickWhat::Instance, f),
                    Err(e) => {
                        self.picker = None;
                        self.error = Some(e);
                        Vec::new()
                    }
                }
            }
            PickWhat::Instance => {
                let Some(mi) = index.and_then(|i| self.azure.instances.get(i)).cloned() else {
                    return Vec::new();
                };
                set(&mut self.target, "subscription", &mi.subscription);
                set(&mut self.target, "group", &mi.resource_group);
                set(&mut self.target, "instance", &mi.name);
                // The SQL endpoint follows the picked instance unless one was typed for another.
                let typed = self.target.trimmed("sql_server");
                let auto = self.azure.instance.as_ref().and_then(|i| i.sql_endpoint());
                if (typed.is_empty() || Some(&typed) == auto.as_ref())
                    && let Some(e) = mi.sql_endpoint()
                {
                    set(&mut self.target, "sql_server", &e);
                }
                self.azure.instance = Some(mi);
                self.target_test = JobStatus::Idle;
                self.picker = None;
                self.target.focus("sql_user");
                self.revalidate();
                Vec::new()
            }
            PickWhat::StorageAccount => {
                let Some(a) = index.and_then(|i| self.azure.accounts.get(i)).cloned() else {
                    return Vec::new();
                };
                self.azure.account = Some(a);
                self.azure.containers.clear();
                self.azure.container = None;
                self.azure.checks = JobStatus::Idle;
                let target = self.values.target.clone();
                self.list(PickWhat::Container, target)
            }
            PickWhat::Container => {
                let Some(account) = self.azure.account.clone() else {
                    self.picker = None;
                    return Vec::new();
                };
                let (name, new) = match index.and_then(|i| self.azure.containers.get(i)) {
                    Some(c) => (c.name.clone(), false),
                    None => (p.filter.trim().to_string(), true),
                };
                if name.is_empty() {
                    return Vec::new();
                }
                if new && let Some(e) = cutover_model::azure::container_name_problem(&name) {
                    if let Some(p) = self.picker.as_mut() {
                        p.error = Some(e);
                    }
                    return Vec::new();
                }
                let url = format!("{}/{name}", account.blob_endpoint.trim_end_matches('/'));
                set(&mut self.settings, "container", &url);
                self.notice = Some(if new {
                    format!(
                        "Container {name} (new) on {}: Ctrl-T creates it and checks the account",
                        account.name
                    )
                } else {
                    format!(
                        "Container {name} on {}: Ctrl-T checks the account",
                        account.name
                    )
                });
                self.azure.container = Some((name, new));
                self.azure.checks = JobStatus::Idle;
                self.backups_test = JobStatus::Idle;
                self.picker = None;
                self.settings.focus("storage_auth");
                self.revalidate();
                Vec::new()
            }
        }
    }

    /// Handles one key; returns the background work to start.
    pub fn handle_key(&mut self, key: KeyEvent) -> Vec<WizardRequest> {
        if key.kind == KeyEventKind::Release || self.outcome.is_some() {
            return Vec::new();
        }
        if self.save.is_some() {
            return self.save_key(key);
        }
        self.notice = None;
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if self.confirm_cancel {
            match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => {
                    self.outcome = Some(WizardOutcome::Cancelled)
                }
                KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => {
                    self.confirm_cancel = false
                }
                _ => {}
            }
            return Vec::new();
        }
        if ctrl && matches!(key.code, KeyCode::Char('c') | KeyCode::Char('q')) {
            self.confirm_cancel = true;
            return Vec::new();
        }
        if self.picker.is_some() {
            return self.picker_key(key);
        }
        if ctrl && key.code == KeyCode::Char('l') {
            return self.open_picker();
        }
        if ctrl && key.code == KeyCode::Char('t') {
            return self.test_connection();
        }
        if ctrl && key.code == KeyCode::Char('s') {
            if self.screen == Screen::Summary {
                self.open_save();
            } else {
                self.notice =
                    Some("Ctrl-S saves the configuration on the Summary screen".to_string());
            }
            return Vec::new();
        }
        if self.screen == Screen::Databases {
            if key.code == KeyCode::Char('t') && !self.db_list.filter_editing {
                return self.request_source();
            }
            if databases::handle_key(self, key) {
                self.revalidate();
                return Vec::new();
            }
        } else if self.screen == Screen::Summary
            && matches!(key.code, KeyCode::PageDown | KeyCode::PageUp)
        {
            self.summary_scroll = if key.code == KeyCode::PageDown {
                self.summary_scroll.saturating_add(5)
            } else {
                self.summary_scroll.saturating_sub(5)
            };
            return Vec::new();
        } else if let Some(before) = self.form_mut().map(|f| f.clone())
            && let Some(f) = self.form_mut()
            && f.handle_key(key)
        {
            if self.screen == Screen::Settings {
                settings::refresh(&mut self.settings);
            }
            if self.screen == Screen::Source {
                source::refresh(&mut self.source);
            }
            let changed = self
                .form_mut()
                .map_or_else(Vec::new, |f| f.changed_from(&before));
            if !changed.is_empty() {
                self.edited();
            }
            return Vec::new();
        }
        match key.code {
            KeyCode::Enter => self.next(),
            KeyCode::Esc => {
                match self.screen.prev() {
                    Some(p) => {
                        self.screen = p;
                        self.error = None;
                    }
                    None => self.confirm_cancel = true,
                }
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// A field of the current screen changed: a connection test of the old values says nothing
    /// of the new ones (every field of Source and Target is one the test depends on), and the
    /// validation message is checked again.
    fn edited(&mut self) {
        match self.screen {
            Screen::Source => self.source_test = JobStatus::Idle,
            Screen::Target => self.target_test = JobStatus::Idle,
            Screen::Settings => self.backups_test = JobStatus::Idle,
            _ => {}
        }
        self.revalidate();
    }

    /// After an edit, the message of the last Next is checked again on a copy of the values: it
    /// goes when the screen is valid now, and names the next problem otherwise.
    fn revalidate(&mut self) {
        if self.error.is_none() {
            return;
        }
        let mut probe = self.clone();
        self.error = probe.apply().err();
    }

    fn form_mut(&mut self) -> Option<&mut Form> {
        match self.screen {
            Screen::Source => Some(&mut self.source),
            Screen::Target => Some(&mut self.target),
            Screen::Databases => None,
            Screen::Settings => Some(&mut self.settings),
            Screen::Summary => Some(&mut self.summary),
        }
    }
}

/// "testing..." / the result / the hint, for a test-connection job.
pub fn job_line<T>(
    job: &JobStatus<T>,
    hint: &str,
    tick: u64,
    theme: Theme,
    ok: impl Fn(&T) -> String,
) -> Line<'static> {
    match job {
        JobStatus::Idle => Line::styled(hint.to_string(), theme.dim()),
        JobStatus::Running { .. } => Line::styled(
            format!("{} testing...", format::spinner(tick)),
            theme.busy(),
        ),
        JobStatus::Done(Ok(v)) => Line::styled(ok(v), theme.ok()),
        JobStatus::Done(Err(e)) => Line::from(vec![
            Span::styled("Failed: ", theme.error()),
            Span::raw(e.clone()),
        ]),
    }
}

/// Draws the wizard (or the too-small screen).
pub fn render(frame: &mut Frame, s: &WizardState, theme: Theme) {
    let area = frame.area();
    if small::too_small(area) {
        small::render(frame, area, theme);
        return;
    }
    let [head, body, status, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(10),
        Constraint::Length(2),
        Constraint::Length(1),
    ])
    .areas(area);
    steps(frame, head, s.screen, theme);
    let block = Block::bordered().title(Span::styled(
        format!(" {} ", s.screen.title()),
        theme.title(),
    ));
    let inner = block.inner(body);
    frame.render_widget(block, body);
    match s.screen {
        Screen::Source => source::render(frame, inner, s, theme),
        Screen::Target => target::render(frame, inner, s, theme),
        Screen::Databases => databases::render(frame, inner, s, theme),
        Screen::Settings => settings::render(frame, inner, s, theme),
        Screen::Summary => summary::render(frame, inner, s, theme),
    }
    if let Some(e) = &s.error {
        frame.render_widget(
            Paragraph::new(Line::from(vec![
                Span::styled("! ", theme.error()),
                Span::raw(e.clone()),
            ]))
            .wrap(Wrap { trim: true }),
            status,
        );
    } else if let Some(n) = &s.notice {
        frame.render_widget(
            Paragraph::new(Line::styled(n.clone(), theme.ok())).wrap(Wrap { trim: true }),
            status,
        );
    }
    frame.render_widget(Paragraph::new(footer(s, theme)), foot);
    if let Some(p) = &s.picker {
        picker::render(frame, area, &s.azure, p, s.tick, theme);
    }
    if let Some(p) = &s.save {
        save_dialog(frame, area, p, theme);
    }
    if s.confirm_cancel {
        let r = layout::dialog(area, 56, 7);
        frame.render_widget(Clear, r);
        let lines = vec![
            Line::raw("Nothing has been started; the values typed are lost."),
            Line::raw(""),
            keys_line(&[("y", "leave"), ("n", "stay")], theme),
        ];
        frame.render_widget(
            Paragraph::new(lines)
                .wrap(Wrap { trim: true })
                .block(Block::bordered().title(Span::styled(" Leave the wizard? ", theme.title()))),
            r,
        );
    }
}

fn save_dialog(frame: &mut Frame, area: Rect, p: &SavePrompt, theme: Theme) {
    let mut lines = Vec::new();
    if p.confirm_overwrite {
        lines.push(Line::styled(
            format!("{} exists already.", p.path.trim()),
            theme.warn(),
        ));
        lines.push(Line::raw("Replace it with these values?"));
        lines.push(Line::raw(""));
        lines.push(keys_line(
            &[("y", "replace it"), ("n", "choose another path")],
            theme,
        ));
    } else {
        lines.push(Line::raw(
            "Save these values for `cutover run --config FILE` (secrets stay out: the file names their environment variables).",
        ));
        lines.push(Line::from(vec![
            Span::styled("File: ", theme.title()),
            Span::styled(format!("{}_", p.path), theme.selected()),
        ]));
        if let Some(e) = &p.error {
            lines.push(Line::from(vec![
                Span::styled("! ", theme.error()),
                Span::raw(e.clone()),
            ]));
        } else if p.running.is_some() {
            lines.push(Line::styled("saving...", theme.busy()));
        }
        lines.push(Line::raw(""));
        lines.push(keys_line(&[("Enter", "save"), ("Esc", "cancel")], theme));
    }
    let w = 72.min(area.width);
    // Word wrapping can take a row more than the estimate.
    let h = layout::wrapped_height(&lines, w.saturating_sub(2)) + 3;
    let r = layout::dialog(area, w, h);
    frame.render_widget(Clear, r);
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: true }).block(
            Block::bordered().title(Span::styled(" Save the configuration ", theme.title())),
        ),
        r,
    );
}

fn steps(frame: &mut Frame, area: Rect, current: Screen, theme: Theme) {
    let mut spans = vec![Span::styled(
        if area.width >= 100 {
            " cutover setup  "
        } else {
            " "
        },
        theme.title(),
    )];
    for (i, s) in Screen::ALL.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" > ", theme.dim()));
        }
        let name = if *s == Screen::Settings {
            "Settings"
        } else {
            s.title()
        };
        let label = format!("{} {name}", i + 1);
        spans.push(if *s == current {
            Span::styled(label, theme.selected())
        } else if *s < current {
            Span::styled(label, theme.ok())
        } else {
            Span::styled(label, theme.dim())
        });
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The key that changes the focused field, as the footer names it: Space only where Space
/// toggles or chooses (in a text field it is typed like any other character).
fn field_hint(form: &Form) -> (&'static str, &'static str) {
    match form.focused().map(|f| &f.kind) {
        Some(form::Kind::Toggle) => ("Space", "toggle"),
        Some(form::Kind::Choice(_)) => ("Space", "choose"),
        _ => ("type", "edit"),
    }
}

fn footer(s: &WizardState, theme: Theme) -> Line<'static> {
    let back = if s.screen == Screen::Source {
        "cancel"
    } else {
        "back"
    };
    let next = if s.screen == Screen::Summary {
        "run"
    } else {
        "next"
    };
    match s.screen {
        Screen::Source | Screen::Target => {
            let form = if s.screen == Screen::Source {
                &s.source
            } else {
                &s.target
            };
            let mut keys = vec![("Up/Down", "field"), field_hint(form)];
            if s.screen == Screen::Target {
                keys.push(("Ctrl-L", "list"));
            }
            keys.push((
                "Ctrl-T",
                if s.screen == Screen::Source && s.source.choice("mode") == 1 {
                    "scan folder"
                } else {
                    "test"
                },
            ));
            keys.push(("Enter", next));
            keys.push(("Esc", back));
            keys_line(&keys, theme)
        }
        Screen::Databases if s.db_list.logins => keys_line(
            &[
                ("j/k", "move"),
                ("Space", "select"),
                ("a", "all"),
                ("d", "default"),
                ("l", "databases"),
                ("Enter", next),
                ("Esc", back),
            ],
            theme,
        ),
        Screen::Databases if !databases::all_logins(s).is_empty() => keys_line(
            &[
                ("j/k", "move"),
                ("Space", "select"),
                ("a", "all"),
                ("/", "filter"),
                ("l", "logins"),
                ("Enter", next),
                ("Esc", back),
            ],
            theme,
        ),
        Screen::Databases => keys_line(
            &[
                ("j/k", "move"),
                ("Space", "select"),
                ("a", "all"),
                ("/", "filter"),
                ("t", "reload"),
                ("Enter", next),
                ("Esc", back),
            ],
            theme,
        ),
        Screen::Settings => keys_line(
            &[
                ("Up/Down", "field"),
                field_hint(&s.settings),
                ("Ctrl-L", "list"),
                ("Ctrl-T", "test"),
                ("Enter", next),
                ("Esc", back),
            ],
            theme,
        ),
        Screen::Summary => keys_line(
            &[
                ("Up/Down", "field"),
                field_hint(&s.summary),
                ("PgDn/Up", "scroll"),
                ("Ctrl-S", "save"),
                ("Enter", next),
                ("Esc", back),
            ],
            theme,
        ),
    }
}
