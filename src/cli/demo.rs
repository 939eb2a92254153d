//! `cutover demo [--headless] [--fast] [--backups DIR] [--cutover when-ready|never] [--tail take|wait|skip]`:
//! a whole migration on this machine against the sandbox.

use std::path::PathBuf;

use super::modes::{CutoverWhen, TailArg};
use crate::demo::{self, DemoOptions};
use crate::engine::TailMode;
use crate::source::tail::StopTraffic;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StopArg {
    ReadOnly,
    RestrictedUser,
    None,
}

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Run without the TUI: one line per event (and `--json` lines), summary last.
    #[arg(long)]
    pub headless: bool,
    /// Small databases and fast restores: a run finishes in well under a minute.
    #[arg(long)]
    pub fast: bool,
    /// Seed the estate from a real backup folder (e.g. ../shared/samples/appveyor-lab/restoretimeclean2016).
    #[arg(long, value_name = "DIR")]
    pub backups: Option<PathBuf>,
    /// When to cut over (headless).
    #[arg(long, value_enum, default_value = "when-ready")]
    pub cutover: CutoverWhen,
    /// How the tail-log backup is obtained [default: take, or skip with --backups].
    #[arg(long, value_enum)]
    pub tail: Option<TailArg>,
    /// Stop traffic on the source before the tail-log backup.
    #[arg(long, value_enum, default_value = "read-only")]
    pub stop_traffic: StopArg,
    /// JSON lines instead of text (headless).
    #[arg(long)]
    pub json: bool,
    /// Folder for the activity's state file and logs (default: a new temporary folder).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Keep the sandbox's data here: blobs, and the source's backup files under backups/ (default: a
    /// temporary folder, removed at exit).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

pub fn run(a: &DemoArgs) -> i32 {
    let tmp = match &a.state_dir {
        Some(_) => None,
        None => match tempfile::Builder::new().prefix("cutover-demo-").tempdir() {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("error: cannot create a temporary folder: {e}");
                return 2;
            }
        },
    };
    let state_dir = a
        .state_dir
        .clone()
        .or_else(|| tmp.as_ref().map(|t| t.path().to_path_buf()))
        .unwrap_or_else(std::env::temp_dir);
    let _log = super::logging::init(&state_dir);
    let tail = a
        .tail
        .map(TailMode::from)
        .unwrap_or(if a.backups.is_some() {
            TailMode::Skip
        } else {
            TailMode::Take
        });
    let opts = DemoOptions {
        fast: a.fast,
        backups: a.backups.clone(),
        cutover_when_ready: a.cutover == CutoverWhen::WhenReady,
        tail,
        stop_traffic: match a.stop_traffic {
            StopArg::ReadOnly => Some(StopTraffic::ReadOnly),
            StopArg::RestrictedUser => Some(StopTraffic::RestrictedUser),
            StopArg::None => None,
        },
        activity: "demo".into(),
        state_dir,
        data_dir: a.data_dir.clone(),
    };
    let Some(rt) = super::runtime(true) else {
        return 2;
    };
    rt.block_on(async {
        if !a.headless {
            return interactive(opts, a.state_dir.is_some()).await;
        }
        let mut d = match demo::start(&opts).await {
            Ok(d) => d,
            Err(e) => {
                eprintln!("error: {e}");
                return 2;
            }
        };
        let kept = demo::kept_after_exit(&opts, a.state_dir.is_some());
        let code = super::headless::run(&mut d.engine, a.json, &kept).await;
        if code != 0 {
            eprintln!("demo: {kept}");
        }
        code
    })
}

/// The wizard pre-filled with the sandbox, then the dashboard; the operator drives the cutover.
async fn interactive(mut opts: DemoOptions, state_dir_given: bool) -> i32 {
    use crate::tui::wizard::values::{StorageAuthKind, WizardValues};
    use crate::tui::{TerminalGuard, Theme, TuiContext, WizardOutcome};

    if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        eprintln!("error: the demo's TUI needs a terminal; use --headless for scripts");
        return 2;
    }
    let sandbox = match demo::start_sandbox(&opts).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let info = sandbox.info.clone();
    let (host, port) = info
        .sql_server
        .split_once(',')
        .unwrap_or((info.sql_server.as_str(), ""));
    let mut v = WizardValues {
        activity: opts.activity.clone(),
        ..Default::default()
    };
    v.source.server = host.to_string();
    v.source.port_or_instance = port.to_string();
    v.source.user = info.sql_user.clone();
    v.source.password = crate::tui::wizard::values::SecretText(info.sql_password.clone());
    v.source.encrypt = false;
    v.target.sandbox = true;
    v.target.subscription = info.subscription_id.clone();
    v.target.resource_group = info.resource_group.clone();
    v.target.managed_instance = info.managed_instance.clone();
    v.settings.backup_folder = info.backup_dir.clone();
    v.databases = info.databases.clone(); // the demo migrates all of its databases unless unselected
    for n in &info.databases {
        v.settings.folder_overrides.insert(
            n.clone(),
            sandbox.sql.database_dir(n).to_string_lossy().into_owned(),
        );
    }
    v.settings.container_url = format!("{}/{}", info.blob_endpoint, info.container);
    v.settings.storage_auth = StorageAuthKind::AccountKeyEnv;
    v.settings.account_key_env = "CUTOVER_SANDBOX_KEY".into(); // the demo signs with the sandbox development key
    v.settings.sas_expiry_days = 30;
    if opts.backups.is_some() {
        eprintln!(
            "error: the interactive demo runs on the sandbox's own SQL Server; use --headless with --backups"
        );
        return 2;
    }
    let mut guard = match TerminalGuard::enter() {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: cannot set up the terminal: {e}");
            return 2;
        }
    };
    let backend = crate::cli::wizard::Backend {
        sandbox_arm: Some(info.arm_endpoint.clone()),
        sandbox_mi_sql: Some((
            info.mi_sql_server.clone(),
            info.mi_sql_user.clone(),
            info.mi_sql_password.clone(),
        )),
    };
    let values =
        match crate::tui::run_wizard(&mut guard, Box::new(backend), v, Theme::from_env()).await {
            Ok(WizardOutcome::Run(v)) => v,
            Ok(WizardOutcome::Cancelled) => return 0,
            Err(e) => {
                drop(guard);
                eprintln!("error: terminal: {e}");
                return 1;
            }
        };
    opts.cutover_when_ready = false;
    if !values.activity.trim().is_empty() {
        opts.activity = values.activity.trim().to_string();
    }
    let mut d = match demo::start_engine_with(
        &opts,
        sandbox,
        Some(&values.databases),
        demo::DemoLogins::Chosen(values.logins.clone()),
    ) {
        Ok(d) => d,
        Err(e) => {
            drop(guard);
            eprintln!("error: {e}");
            return 2;
        }
    };
    let ctx = TuiContext::new(
        true,
        format!(
            "Server={}.sandbox (the sandbox's managed instance); Database={{database}}",
            info.managed_instance
        ),
    )
    .with_stop_traffic(opts.stop_traffic)
    .with_quit_note(demo::kept_after_exit(&opts, state_dir_given));
    let kept = demo::kept_after_exit(&opts, state_dir_given);
    super::wizard::dashboard(guard, ctx, &mut d.engine, &kept).await
}
