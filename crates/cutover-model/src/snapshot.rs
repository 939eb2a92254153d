//! What the engine publishes (through a `tokio::sync::watch` channel): the whole migration and one
//! snapshot per database. The TUI and the headless printer read only these: plain data, no handles,
//! no UI types.

use serde::{Deserialize, Serialize};

use super::command::StopTraffic;
use super::cutover::{CutoverChecklist, CutoverStatements};
use super::database::DatabaseState;
use super::finding::{Finding, Severity};

/// One database as the dashboard shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatabaseSnapshot {
    /// Phase, files with statuses, LRS's view, tail decision, error.
    pub state: DatabaseState,
    /// The database name on the target (usually the source name).
    pub target_name: String,
    /// Local backup folder of this database.
    pub folder: String,
    /// The same folder as the source SQL Server sees it (where a tail-log backup is written);
    /// empty when it is `folder`.
    #[serde(default)]
    pub server_folder: String,
    /// Bytes of the plan's files, and bytes in the container.
    pub bytes_total: u64,
    pub bytes_uploaded: u64,
    /// Upload rate now (moving average), bytes/s.
    pub upload_bytes_per_sec: f64,
    /// Upload bytes per second over the last minutes, oldest first (sparkline).
    pub upload_history: Vec<u64>,
    /// Seconds until everything known is uploaded, at the current rate.
    pub upload_eta_secs: Option<f64>,
    /// LastLSN of the newest restored backup (decimal string: LSNs exceed 2^53).
    pub last_applied_lsn: Option<String>,
    /// Age of the newest restored backup, seconds (how far the target is behind).
    pub data_lag_secs: Option<f64>,
    /// Log backups not yet restored.
    pub pending_log_backups: usize,
    /// Preflight and live findings (catalog, source cross-check, LRS).
    pub findings: Vec<Finding>,
    /// Why completion is refused now, or None when the guard allows it.
    pub cutover_refusal: Option<String>,
    /// Traffic stopped on the source during cutover (so it can be undone).
    pub traffic_stopped: Option<StopTraffic>,
    /// Seconds since the database's migration started.
    pub elapsed_secs: f64,
    /// Whether `data_lag_secs` is computed in UTC with the source server's known offset (false for a
    /// folder-only source: the backups' start times are the server's local time, offset unknown).
    #[serde(default)]
    pub data_lag_utc_known: bool,
    /// Wall-clock (Unix seconds) when the downtime began: traffic stopped, or the cutover begun when
    /// traffic was not stopped. None before the cutover.
    #[serde(default)]
    pub downtime_started_unix: Option<i64>,
    /// Downtime so far (while cutting over) or in all (frozen at Completed), seconds.
    #[serde(default)]
    pub downtime_secs: Option<f64>,
    /// While cutting over: what completion waits for now, in the operator's words
    /// ("tail-log backup upload", "restore of 2 remaining files", "completion").
    #[serde(default)]
    pub cutover_waiting_for: Option<String>,
    /// Wall-clock (Unix seconds) when the database reached Completed.
    #[serde(default)]
    pub completed_unix: Option<i64>,
    /// What the source database really is now, as far as cutover knows (after stop traffic, a tail
    /// WITH NORECOVERY, an abandon). None when cutover changed nothing on the source.
    #[serde(default)]
    pub source_access: Option<SourceAccess>,
    /// The cutover guard's checklist (what the cutover dialog ticks off).
    #[serde(default)]
    pub checklist: CutoverChecklist,
    /// The exact statements the cutover dialog shows before they run on the source.
    #[serde(default)]
    pub statements: CutoverStatements,
    /// After completion, with the instance's SQL endpoint configured: the database as the
    /// instance reports it (state, compatibility level, recovery model, connection string).
    #[serde(default)]
    pub on_target: Option<crate::azure::TargetDatabaseReport>,
}

/// The source database's state as cutover left it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceAccess {
    /// Online and read-write (nothing changed, or undone).
    ReadWrite,
    /// `ALTER DATABASE ... SET READ_ONLY` was run.
    ReadOnly,
    /// `ALTER DATABASE ... SET RESTRICTED_USER` was run.
    RestrictedUser,
    /// A tail-log backup WITH NORECOVERY left it RESTORING: only `RESTORE DATABASE ... WITH RECOVERY`
    /// brings it back.
    Restoring,
}

/// One line of the event pane / headless output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventLine {
    /// Seconds since the engine started.
    pub at_secs: u64,
    /// Wall-clock time of the event, Unix seconds (UTC).
    #[serde(default)]
    pub unix_secs: i64,
    /// Database concerned, if one.
    pub database: Option<String>,
    /// How much it matters (serialized "info", "warning" or "error", as before).
    pub level: Severity,
    pub message: String,
}

/// The whole migration, published on every change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MigrationSnapshot {
    /// Activity name (DMS's "activity name"): names the state file.
    pub activity: String,
    /// Source server as the operator named it, and the target managed instance.
    pub source: String,
    pub target: String,
    pub elapsed_secs: f64,
    /// Upload rate of all databases, bytes/s.
    pub total_upload_bytes_per_sec: f64,
    pub paused: bool,
    pub databases: Vec<DatabaseSnapshot>,
    /// The newest events, oldest first (bounded).
    pub events: Vec<EventLine>,
    /// Increases on every published change (redraw only when it moves).
    pub generation: u64,
    /// Wall-clock (Unix seconds) when the engine started this run (the UI ticks elapsed from it).
    #[serde(default)]
    pub started_unix: i64,
    /// Wall-clock (Unix seconds) of the last restore-status read that the managed instance answered.
    #[serde(default)]
    pub last_poll_unix: Option<i64>,
    /// Set while restore-status reads fail in a row: what failed and since when, for a visible
    /// "stale" warning.
    #[serde(default)]
    pub stale: Option<String>,
    /// How applications reach a target database once cut over, `{database}` standing for its name
    /// (e.g. `Server=tcp:mi1.abc.database.windows.net,1433;Database={database}`); None when not known.
    #[serde(default)]
    pub target_connection: Option<String>,
    /// The server logins the run migrates to the instance (`[logins] migrate`), one row each with
    /// its status; empty when the run migrates none.
    #[serde(default)]
    pub logins: Vec<super::login::LoginRow>,
    /// Why the logins are not (yet) migrated as a whole: a connection that failed (retried), or
    /// None.
    #[serde(default)]
    pub logins_note: Option<String>,
}

impl MigrationSnapshot {
    /// The connection string of one target database, when known (the name quoted as connection
    /// strings need when it holds `;`, a quote, `=` or spaces at its ends).
    pub fn connection_for(&self, target_name: &str) -> Option<String> {
        self.target_connection
            .as_deref()
            .map(|c| c.replace("{database}", &connection_value(target_name)))
    }
}

/// A connection string value as ADO.NET reads it: double-quoted when it must be, single-quoted
/// (inner ones doubled) when it holds a double quote.
pub fn connection_value(v: &str) -> String {
    if !(v.contains([';', '\'', '"', '=']) || v.trim() != v) {
        v.to_string()
    } else if !v.contains('"') {
        format!("\"{v}\"")
    } else {
        format!("'{}'", v.replace('\'', "''"))
    }
}
