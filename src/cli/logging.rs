//! Logs go to a daily rolling file in the state folder (the TUI owns the terminal). `RUST_LOG` sets
//! the level (default info). Nothing secret is logged: secrets are `Secret`s and SAS text is redacted.

use std::path::Path;

/// Starts file logging; keep the guard alive for the whole run (it flushes on drop).
pub fn init(state_dir: &Path) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let dir = state_dir.join("logs");
    std::fs::create_dir_all(&dir).ok()?;
    let appender = tracing_appender::rolling::daily(&dir, "cutover.log");
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .try_init()
        .ok()?;
    Some(guard)
}
