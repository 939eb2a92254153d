//! `cutover` (no subcommand) and `cutover wizard [--config FILE]`: a real migration in the TUI. The
//! wizard (empty, or prefilled from the configuration file; the secrets from the environment
//! variables it names), then the live dashboard of the engine running against the endpoints
//! entered, the same path as `cutover demo` without the sandbox. The wizard's values go through
//! the configuration mapping (`config_map`) and `config::engine_config_with` like `cutover run --config` (with the
//! secrets typed); when they do not make a valid configuration the wizard comes back with the
//! reason. `backend`: what the wizard asks of the outside world (the TUI's `WizardBackend`);
//! `config_map`: the values <-> the configuration file.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use crate::config::ConfigFile;
use crate::engine::EngineCommand;
use crate::engine::runner::EngineHandle;
use crate::tui::wizard::WizardState;
use crate::tui::{DashboardExit, TerminalGuard, Theme, TuiContext, WizardOutcome};

pub mod backend;
pub mod config_map;

pub use backend::{Backend, check_target, folder_databases, source_findings, source_options};
pub use config_map::{
    config_file, config_toml, engine_config, provided_secrets, secret_env_vars, values_from_config,
    write_config,
};

/// What to print (exit 2) when there is no terminal to draw the wizard on.
pub const NOT_A_TERMINAL: &str = "error: the wizard needs a terminal, and stdout is not one. For scripts and automation run `cutover run --config FILE` (config.sample.toml documents the file; the wizard's Ctrl-S on the Summary saves one); to try cutover on this machine without Azure run `cutover demo` (or `cutover demo --headless`).";

#[derive(Debug, Default, clap::Args)]
pub struct WizardArgs {
    /// Prefill the wizard from this configuration file (see config.sample.toml); secrets come from
    /// the environment variables it names. Ctrl-S on the Summary saves back to it (after asking).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Folder for the activity's state file and logs (default: [migration] state_dir, or the
    /// platform data folder).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

pub fn run(a: &WizardArgs) -> i32 {
    let file = match &a.config {
        Some(p) => match ConfigFile::load(p) {
            Ok(f) => Some(f),
            Err(e) => {
                eprintln!("error: {e}");
                return 2;
            }
        },
        None => None,
    };
    if !std::io::stdout().is_terminal() {
        eprintln!("{NOT_A_TERMINAL}");
        return 2;
    }
    let mut values = file.as_ref().map(values_from_config).unwrap_or_default();
    // The folder this run keeps the activity's state in: a configuration saved from the wizard
    // names it, so that `cutover run --config` re-attaches to the same activity.
    let state_dir = a
        .state_dir
        .clone()
        .or_else(|| {
            file.as_ref()
                .and_then(|f| f.migration.as_ref())
                .and_then(|m| m.state_dir.clone())
        })
        .unwrap_or_else(crate::engine::persist::default_state_dir);
    let state_dir = std::path::absolute(&state_dir).unwrap_or(state_dir);
    values.carried.state_dir = Some(state_dir.display().to_string());
    let mut state = WizardState::new(values).without_sandbox();
    if let Some(p) = &a.config {
        state = state.with_config_path(p.display().to_string());
    }
    let Some(rt) = super::runtime(true) else {
        return 2;
    };
    rt.block_on(interactive(state, state_dir))
}

async fn interactive(mut state: WizardState, state_dir: PathBuf) -> i32 {
    let mut guard = match TerminalGuard::enter() {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: cannot set up the terminal: {e}");
            return 2;
        }
    };
    let theme = Theme::from_env();
    // The wizard until its values start an engine (or the operator leaves).
    let (cfg, warnings, values) = loop {
        let backend = Box::new(Backend {
            sandbox_arm: None,
            sandbox_mi_sql: None,
        });
        let path = state.config_path.clone();
        let values = match crate::tui::run_wizard_state(&mut guard, backend, state, theme).await {
            Ok(WizardOutcome::Run(v)) => v,
            Ok(WizardOutcome::Cancelled) => return 0,
            Err(e) => {
                drop(guard);
                eprintln!("error: terminal: {e}");
                return 1;
            }
        };
        match engine_config(&values, None, Some(state_dir.clone())) {
            Ok((cfg, warnings)) => break (cfg, warnings, values),
            Err(e) => {
                state = WizardState::new(values)
                    .without_sandbox()
                    .with_config_path(path);
                state.error = Some(format!(
                    "Cannot start the migration: {e}. The values are kept: fix them and Run again."
                ));
            }
        }
    };
    let dir = cfg
        .state_file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(std::env::temp_dir);
    let _log = super::logging::init(&dir);
    // Shown on the Summary before Run; kept in the log.
    for w in &warnings {
        tracing::warn!("{w}");
    }
    let source_connected = cfg.source.is_some();
    let stop_traffic = cfg.stop_traffic;
    let mut engine = match crate::engine::runner::start(cfg) {
        Ok(h) => h,
        Err(e) => {
            drop(guard);
            eprintln!("error: {e}");
            return 2;
        }
    };
    // The picked instance's host name (its SQL endpoint) when known.
    let connection = match values.carried.sql_server.as_deref() {
        Some(server) => format!("Server=tcp:{server};Database={{database}};Encrypt=True"),
        None => format!(
            "Server=tcp:{}.<dns-zone>.database.windows.net,1433;Database={{database}} (the host name is on the managed instance's Overview page)",
            values.target.managed_instance
        ),
    };
    let ctx = TuiContext::new(source_connected, connection).with_stop_traffic(stop_traffic);
    let kept = format!(
        "the migration state is kept in {}: run the same command again to re-attach",
        dir.display()
    );
    dashboard(guard, ctx, &mut engine, &kept).await
}

/// Runs the dashboard on `guard`, then stops the engine, gives the terminal back and prints where
/// each database stands, and (unless every database finished) `kept`: what stays for a next run.
/// Shared by `cutover demo` and the wizard.
pub(super) async fn dashboard(
    mut guard: TerminalGuard,
    ctx: TuiContext,
    engine: &mut EngineHandle,
    kept: &str,
) -> i32 {
    // The dashboard reads the newest events from the snapshots; the full event log (for headless
    // output) is not read here, so close it: a migration running for days must not queue every line.
    engine.event_log.close();
    while engine.event_log.try_recv().is_ok() {}
    let target_connection = ctx.target_connection.clone();
    let exit = crate::tui::run_dashboard(
        &mut guard,
        ctx,
        engine.snapshots.clone(),
        engine.commands.clone(),
    )
    .await;
    let _ = engine.commands.send(EngineCommand::Shutdown);
    let result = (&mut engine.task).await;
    // The terminal leaves the alternate screen first: the summary stays readable after exit.
    drop(guard);
    let mut last = engine.snapshots.borrow().clone();
    // The summary names the connection string the dashboard showed.
    last.target_connection.get_or_insert(target_connection);
    super::headless::print_summary(&last, false);
    let engine_error = match result {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(e) => Some(e.to_string()),
    };
    if let Some(e) = &engine_error {
        eprintln!("error: the migration engine stopped: {e}");
    }
    if !crate::tui::dashboard::live::finished(&last) {
        println!("{kept}");
    }
    match exit {
        Ok(DashboardExit::Quit) if engine_error.is_none() => 0,
        Ok(_) => 1,
        Err(e) => {
            eprintln!("error: terminal: {e}");
            1
        }
    }
}
