//! One database as the engine task holds it: its pure [`DatabaseState`], its blob layout and local
//! files, what is in flight for it ([`InFlight`]), upload retries, restore-status polling, and what
//! was last saved. Built at the start from the activity's state file, if any.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::DatabaseConfig;
use super::uploads::UploadRetry;
use crate::backup_folder::BackupFolder;
use crate::catalog::{Finding, Severity};
use crate::engine::folder_scan::FolderCache;
use crate::engine::in_flight::InFlight;
use crate::engine::liveness::PollHealth;
use crate::engine::persist::PersistedDatabase;
use crate::engine::reattach::RestoreIdentity;
use crate::engine::state::{DatabaseState, FileStatus};
use crate::source::tail::StopTraffic;
use crate::storage::layout::{self, Layout};
use crate::storage::progress::ThroughputMeter;

/// One database of the activity, with everything the engine task keeps about it.
pub(super) struct RunDb {
    pub(super) cfg: DatabaseConfig,
    pub(super) state: DatabaseState,
    pub(super) layout: Layout,
    /// File name in the blob folder -> local stripe files.
    pub(super) locals: HashMap<String, Vec<PathBuf>>,
    pub(super) findings: Vec<Finding>,
    /// What the instance's SQL endpoint said after completion (`[target] sql_server`).
    pub(super) target_findings: Vec<Finding>,
    /// The completed database as the instance reports it (its SQL endpoint).
    pub(super) on_target: Option<cutover_model::TargetDatabaseReport>,
    /// The orphaned users the instance has after completion (`[logins]`).
    pub(super) login_findings: Vec<Finding>,
    pub(super) traffic_stopped: Option<StopTraffic>,
    pub(super) files_at_cutover: Option<usize>,
    pub(super) meter: ThroughputMeter,
    pub(super) started: Instant,
    /// What the last scan of the folder saw (only changed files are read again).
    pub(super) cache: Arc<Mutex<FolderCache>>,
    /// The calls running for it and its cutover progress in this process.
    pub(super) in_flight: InFlight,
    /// Files whose last upload attempt failed in a way that may pass: when to try again.
    pub(super) upload_retry: HashMap<String, UploadRetry>,
    pub(super) last_poll: Option<Instant>,
    /// Restore-status reads that failed in a row (the next poll waits longer: `poll_delay`).
    pub(super) poll_failures: u32,
    /// Of those, the ones that found no restore of the database (HTTP 404).
    pub(super) polls_not_found: u32,
    /// Restore-status reads as the liveness indicators see them (last answer, failing since).
    pub(super) poll: PollHealth,
    /// The LRS time-limit severity last announced in the event log (once per level).
    pub(super) time_limit_said: Option<Severity>,
    /// Its state changed since its file was last written.
    pub(super) unsaved: bool,
    /// What was last written, in brief (a field changed outside a state transition is seen too).
    pub(super) saved: Option<SavedBrief>,
    /// The restore this activity started (or is starting) on the managed instance.
    pub(super) restore: Option<RestoreIdentity>,
}

/// The parts of a database's persisted record that change without a state transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SavedBrief {
    blobs: usize,
    traffic_stopped: Option<StopTraffic>,
    files_at_cutover: Option<usize>,
    tail_wait: bool,
    restore: Option<RestoreIdentity>,
}

impl RunDb {
    /// The database as the engine starts it: from its record in the state file (files being
    /// uploaded when the last process ended are Arrived again), or new.
    pub(super) fn resume(
        d: &DatabaseConfig,
        saved: Option<&PersistedDatabase>,
        state_file: &Path,
        now: Instant,
        backups: &Arc<dyn BackupFolder>,
    ) -> Result<RunDb, String> {
        let folder_name = layout::database_folder_name(&d.target_name)
            .unwrap_or_else(|_| layout::suggest_folder_name(&d.target_name));
        let tail_wait = saved.is_some_and(|s| s.tail_wait);
        let restore = saved.and_then(|s| s.restore.clone());
        let (state, layout, traffic_stopped, files_at_cutover) = match saved {
            Some(s) => {
                let mut st = s.state.clone();
                for f in st.files.iter_mut() {
                    if f.status == FileStatus::Uploading {
                        f.status = FileStatus::Arrived;
                    }
                }
                let lay = Layout::from_existing(&folder_name, s.blobs.iter().cloned())
                    .map_err(|e| format!("state file {}: {e}", state_file.display()))?;
                (st, lay, s.traffic_stopped, s.files_at_cutover)
            }
            None => (
                DatabaseState::new(&d.name),
                Layout::new(&folder_name),
                None,
                None,
            ),
        };
        Ok(RunDb {
            cfg: d.clone(),
            state,
            layout,
            locals: HashMap::new(),
            findings: Vec::new(),
            target_findings: Vec::new(),
            on_target: None,
            login_findings: Vec::new(),
            traffic_stopped,
            files_at_cutover,
            meter: ThroughputMeter::new(now),
            started: now,
            cache: Arc::new(Mutex::new(FolderCache::new(backups.clone()))),
            in_flight: InFlight::resumed(tail_wait, traffic_stopped.is_some()),
            restore,
            upload_retry: HashMap::new(),
            last_poll: None,
            poll_failures: 0,
            polls_not_found: 0,
            poll: PollHealth::default(),
            time_limit_said: None,
            unsaved: true,
            saved: None,
        })
    }

    pub(super) fn blob_folder(&self) -> String {
        self.layout.folder().to_string()
    }

    /// Its record in the state file.
    pub(super) fn persisted(&self) -> PersistedDatabase {
        PersistedDatabase {
            state: self.state.clone(),
            blobs: self.layout.entries(),
            traffic_stopped: self.traffic_stopped,
            files_at_cutover: self.files_at_cutover,
            tail_wait: self.in_flight.tail_wait(),
            restore: self.restore.clone(),
        }
    }

    /// The parts of its record that change without a state transition, as they are now.
    pub(super) fn brief(&self) -> SavedBrief {
        SavedBrief {
            blobs: self.layout.len(),
            traffic_stopped: self.traffic_stopped,
            files_at_cutover: self.files_at_cutover,
            tail_wait: self.in_flight.tail_wait(),
            restore: self.restore.clone(),
        }
    }
}
