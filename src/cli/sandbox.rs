//! `cutover sandbox [--restore-mbps N]`: the local Azure (Blob + Log Replay Service), endpoints and
//! credentials printed as one JSON line, running until Ctrl-C or SIGTERM.

use std::io::Write;
use std::time::Duration;

use crate::sandbox::{Sandbox, SandboxOptions};

#[derive(Debug, clap::Args)]
pub struct SandboxArgs {
    /// Restore speed of the simulated Managed Instance, in MB/s.
    #[arg(long, default_value_t = 20.0, value_name = "N")]
    pub restore_mbps: f64,
    /// Keep blob data in this folder (default: a temporary folder, removed at exit).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<std::path::PathBuf>,
    /// LRS cancels a restore this many seconds after it started and drops the restoring database
    /// (default: Azure's 30 days; shorter to see what cutover does then).
    #[arg(long, value_name = "SECONDS")]
    pub lrs_job_limit_seconds: Option<u64>,
}

pub fn run(a: &SandboxArgs) -> i32 {
    if !a.restore_mbps.is_finite() || a.restore_mbps <= 0.0 {
        eprintln!("error: --restore-mbps must be a positive number of MB/s");
        return 2;
    }
    let Some(rt) = super::runtime(true) else {
        return 2;
    };
    rt.block_on(async {
        let sb = match Sandbox::start(SandboxOptions {
            restore_mbps: a.restore_mbps,
            data_dir: a.data_dir.clone(),
            lrs_job_limit: a
                .lrs_job_limit_seconds
                .map_or(crate::sandbox::arm::LRS_JOB_LIMIT, Duration::from_secs),
            ..Default::default()
        })
        .await
        {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return 1;
            }
        };
        match serde_json::to_string(&sb.info) {
            Ok(line) => {
                println!("{line}");
                let _ = std::io::stdout().flush();
            }
            Err(e) => {
                eprintln!("error: {e}");
                return 1;
            }
        }
        wait_for_stop().await;
        drop(sb);
        0
    })
}

async fn wait_for_stop() {
    #[cfg(unix)]
    {
        let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
        match term {
            Ok(mut t) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = t.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
