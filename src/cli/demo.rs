//! `cutover demo [--headless] [--fast] [--backups DIR] [--cutover when-ready|never] [--tail take|wait|skip]`:
//! a whole migration on this machine against the sandbox.

use std::path::PathBuf;

use crate::demo::{self, DemoOptions};
use crate::engine::TailMode;
use crate::source::tail::StopTraffic;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CutoverWhen {
    /// Cut over each database as soon as it is ready.
    WhenReady,
    /// Keep the target in sync; never cut over by itself.
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TailArg {
    /// cutover takes the tail-log backup through the source connection.
    Take,
    /// Wait for the operator's tail-log backup to land in the folder.
    Wait,
    /// The operator asserts no more backups will come (data-loss risk if wrong).
    Skip,
}

impl From<TailArg> for TailMode {
    fn from(t: TailArg) -> TailMode {
        match t {
            TailArg::Take => TailMode::Take,
            TailArg::Wait => TailMode::Wait,
            TailArg::Skip => TailMode::Skip,
        }
    }
}

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
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return 2;
        }
    };
    rt.block_on(async {
        let mut d = match demo::start(&opts).await {
            Ok(d) => d,
            Err(e) => {
                eprintln!("error: {e}");
                return 2;
            }
        };
        if !a.headless {
            eprintln!("note: the TUI is not built yet; running headless (`--headless`)");
        }
        super::headless::run(&mut d.engine, a.json).await
    })
}
