//! `cutover run --config FILE [--json] [--activity NAME] [--state-dir DIR] [--cutover when-ready|never] [--tail take|wait|skip] [--sandbox]`:
//! the engine without a TUI, for automation. Values: flag > environment (`CUTOVER_*`) > file > default
//! (`config::layers`). A database that fails stops alone: the run goes on until
//! every database has ended (Completed, Canceled or Failed), and the exit code is the worst end state:
//! 0 every database completed, 1 at least one failed (or the engine stopped on an error), 3 none
//! failed but one was canceled, 2 for bad configuration, 130 when stopped by a signal before the end
//! (the state is kept: run again to resume; `--retry-failed` retries the failed databases).

use std::path::PathBuf;

use super::modes::{CutoverWhen, TailArg};
use crate::config::{self, ConfigFile, RunFlags};
use crate::engine::TailMode;

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The configuration file (see config.sample.toml).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// JSON lines instead of text; the last line is the summary.
    #[arg(long)]
    pub json: bool,
    /// The activity name (overrides [migration] activity); the same name re-attaches.
    #[arg(long, value_name = "NAME")]
    pub activity: Option<String>,
    /// When to cut over (overrides [migration] cutover).
    #[arg(long, value_enum)]
    pub cutover: Option<CutoverWhen>,
    /// How the tail-log backup is obtained (overrides [migration] tail).
    #[arg(long, value_enum)]
    pub tail: Option<TailArg>,
    /// Folder of the activity's state and logs (overrides [migration] state_dir; default: the
    /// platform data folder). The same folder and activity name re-attach.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Retry the databases the activity's state says Failed (a restore the managed instance no
    /// longer has is started again from the full backup in the container).
    #[arg(long)]
    pub retry_failed: bool,
    /// The ARM endpoint ([target] arm_endpoint) is the local sandbox (`cutover sandbox`): use its
    /// fixed token (same as [target] sandbox = true). Without it every endpoint, loopback or not,
    /// gets the Azure credential.
    #[arg(long)]
    pub sandbox: bool,
}

pub fn run(a: &RunArgs) -> i32 {
    let file = match ConfigFile::load(&a.config) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let flags = RunFlags {
        activity: a.activity.clone(),
        cutover_when_ready: a.cutover.map(|c| c == CutoverWhen::WhenReady),
        tail: a.tail.map(TailMode::from),
        retry_failed: a.retry_failed,
        state_dir: a.state_dir.clone(),
        sandbox: a.sandbox,
    };
    // flag > environment (CUTOVER_*, config.sample.toml lists them) > file > default.
    let layered = match flags.layered(&file, |var| std::env::var(var).ok()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {}: {e}", a.config.display());
            return 2;
        }
    };
    let Some(rt) = super::runtime(true) else {
        return 2;
    };
    rt.block_on(async {
        let provided = config::ProvidedSecrets::default();
        let (cfg, warnings) =
            match config::engine_config_layered(&layered, a.retry_failed, &provided) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: {}: {e}", a.config.display());
                    return 2;
                }
            };
        for w in &warnings {
            eprintln!("warning: {w}");
        }
        // Credentials fail here, with the reason, not after an upload started.
        if let Err(e) = config::check_access(&cfg).await {
            eprintln!("error: {}: {e}", a.config.display());
            return 2;
        }
        // The instance's own SQL endpoint, when configured: a name taken, a tier full, a login
        // that is not sysadmin... refuse the run before anything is uploaded.
        match crate::target_sql::check_before_upload(&cfg).await {
            Ok(Some((report, findings))) => {
                eprintln!("target: {}", super::target::instance_line(&report));
                for f in &findings {
                    eprintln!(
                        "{}: {} {}: {} (fix: {})",
                        f.finding.severity,
                        f.finding.code,
                        f.database.as_deref().unwrap_or("(instance)"),
                        f.finding.message,
                        f.finding.fix
                    );
                }
                if findings
                    .iter()
                    .any(|f| f.finding.severity == crate::catalog::Severity::Error)
                {
                    eprintln!(
                        "error: {}: the managed instance cannot take the migration (above); nothing was uploaded",
                        a.config.display()
                    );
                    return 2;
                }
            }
            Ok(None) => {}
            Err(e) => {
                eprintln!("error: {}: {e}", a.config.display());
                return 2;
            }
        }
        let target_sql = cfg.target_sql.clone();
        let state_dir = cfg
            .state_file
            .parent()
            .map(|p| p.to_path_buf())
            .unwrap_or_else(std::env::temp_dir);
        let _log = super::logging::init(&state_dir);
        let mut h = match crate::engine::runner::start(cfg) {
            Ok(h) => h,
            Err(e) => {
                eprintln!("error: {e}");
                return 2;
            }
        };
        let code = super::headless::run(&mut h, a.json, super::headless::KEPT).await;
        // The instance's own word on the databases that completed (stderr: stdout's last line
        // stays the summary).
        let done: Vec<String> = {
            let s = h.snapshots.borrow();
            s.databases
                .iter()
                .filter(|d| d.state.phase == crate::model::Phase::Completed)
                .map(|d| d.target_name.clone())
                .collect()
        };
        if let Some(opts) = target_sql.filter(|_| !done.is_empty()) {
            match crate::target_sql::check_after_completion(&opts, &done).await {
                Ok((_, post)) => {
                    for line in super::target::after_lines(&post) {
                        eprintln!("target: {line}");
                    }
                }
                Err(e) => eprintln!("warning: [target] sql_server: cannot read the completed databases: {e}"),
            }
        }
        code
    })
}
