//! The engine task: one tokio task that runs every database of an activity from first upload to
//! completed cutover. It scans the backup folders, uploads new files (shared limits), starts and polls
//! the Log Replay Service, runs the cutover steps (stop traffic, tail-log backup, complete) and
//! publishes a [`MigrationSnapshot`] on every change. Slow work runs in spawned tasks that report back
//! through one channel; the state machine ([`DatabaseState::apply`]) decides, the guard guards.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use super::downtime;
use super::guard::StepsInFlight;
use super::liveness::{self, PollHealth};
use super::lrs_view::lrs_status;
use super::persist::{self, PersistedDatabase};
use super::reattach::{self, RestoreIdentity};
use super::snapshot::{
    DatabaseSnapshot, EngineCommand, EventLine, MigrationSnapshot, SourceAccess, TailMode,
};
use super::state::{
    Action, BackupFile, Command, DatabaseState, Event, FileStatus, IgnoredFile, Phase, TailState,
};
use crate::backup::BackupType;
use crate::catalog::{self, Finding, Severity};
use crate::source::SourceOptions;
use crate::source::tail::{StopTraffic, TailRequest, take_tail_log_backup};
use crate::storage::client::BlobStore;
use crate::storage::error::StorageError;
use crate::storage::layout::{self, Layout};
use crate::storage::progress::{ThroughputMeter, UploadEvent};
use crate::storage::upload::{UploadItem, UploadOptions, Uploader};
use crate::target::details::RestoreDetails;
use crate::target::lrs::{LrsClient, StartRequest, StorageAccess};

/// One database of the activity.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// The source database name (as in the backup headers).
    pub name: String,
    /// The folder cutover reads its backups from.
    pub folder: PathBuf,
    /// The same folder as the source SQL Server sees it (tail-log backup); `None` = `folder`.
    pub server_folder: Option<String>,
    /// The database name on the managed instance.
    pub target_name: String,
}

/// Everything the engine needs; built from the config file, flags or the demo.
pub struct EngineConfig {
    pub activity: String,
    pub source_label: String,
    pub target_label: String,
    pub databases: Vec<DatabaseConfig>,
    pub store: Arc<BlobStore>,
    /// The container URL without credentials; LRS reads `<container_url>/<db folder>`.
    pub container_url: String,
    pub upload: UploadOptions,
    pub lrs: LrsClient,
    /// How the managed instance reads the container (Read + List SAS or managed identity).
    pub lrs_access: StorageAccess,
    pub location: String,
    pub collation: String,
    /// The source connection, for stopping traffic and taking the tail-log backup.
    pub source: Option<SourceOptions>,
    /// Begin cutover by itself once a database is ready (headless `--cutover when-ready`).
    pub cutover_when_ready: bool,
    pub tail: TailMode,
    pub stop_traffic: Option<StopTraffic>,
    pub scan_interval: Duration,
    pub lrs_poll: Duration,
    pub state_file: PathBuf,
    /// Retry the databases a re-attached state says Failed (headless `--retry-failed`).
    pub retry_failed: bool,
}

/// A running engine: read snapshots, send commands, await the end.
pub struct EngineHandle {
    pub snapshots: watch::Receiver<MigrationSnapshot>,
    pub commands: mpsc::UnboundedSender<EngineCommand>,
    /// Every event line, once (the snapshot keeps only the newest ones): for headless output.
    pub event_log: mpsc::UnboundedReceiver<EventLine>,
    pub task: tokio::task::JoinHandle<Result<(), String>>,
}

enum Msg {
    Scanned {
        db: usize,
        /// `Ok(None)`: the folder did not change.
        result: Result<Option<Box<catalog::CheckReport>>, String>,
    },
    UploadDone {
        db: usize,
        file: String,
        result: Result<(), StorageError>,
    },
    LrsStarted {
        db: usize,
        /// The restore started (or the one this activity started before a restart, taken up); on
        /// failure or refusal, the whole message.
        result: Result<reattach::Started, reattach::NotStarted>,
    },
    LrsPolled {
        db: usize,
        /// On failure: the HTTP status (404: no restore of this database) and the message.
        result: Result<Box<RestoreDetails>, (Option<u16>, String)>,
    },
    CompleteSent {
        db: usize,
        /// The LRS error code and message on failure.
        result: Result<(), (Option<String>, String)>,
    },
    Traffic {
        db: usize,
        how: StopTraffic,
        stopped: bool,
        result: Result<(), String>,
    },
    /// What the database's target on the instance holds, checked at the start.
    TargetChecked {
        db: usize,
        verdict: reattach::Verdict,
    },
    TailTaken {
        db: usize,
        /// The SQL Server error number (927: already restoring) and message on failure.
        result: Result<PathBuf, (Option<u32>, String)>,
    },
}

impl Msg {
    fn db(&self) -> usize {
        match self {
            Msg::Scanned { db, .. }
            | Msg::UploadDone { db, .. }
            | Msg::LrsStarted { db, .. }
            | Msg::LrsPolled { db, .. }
            | Msg::CompleteSent { db, .. }
            | Msg::Traffic { db, .. }
            | Msg::TailTaken { db, .. }
            | Msg::TargetChecked { db, .. } => *db,
        }
    }
}

/// The wait before the next restore-status read: the poll interval, doubled after each failure in a
/// row (the client already retried throttling and server errors within the call), at most 5 minutes
/// (or the interval, if that is longer).
fn poll_delay(base: Duration, failures: u32) -> Duration {
    let cap = base.max(Duration::from_secs(300));
    base.saturating_mul(1u32 << failures.min(10)).min(cap)
}

/// A wait as the event log says it: `0.6 s` under ten seconds, whole seconds above.
fn seconds(d: Duration) -> String {
    if d < Duration::from_secs(10) {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{} s", d.as_secs())
    }
}

/// A file's next upload attempt after failures that may pass.
#[derive(Debug, Clone, Copy)]
struct UploadRetry {
    due: Instant,
    /// Failures in a row (a changed file does not count: it is no fault of the service).
    failures: u32,
}

/// The wait before uploading a file again: soon after it changed (the uploader waits until it is
/// stable anyway); after a storage failure (the uploader already retried each request for minutes)
/// 15 s, doubled each failure in a row, at most 5 minutes, for as long as it takes.
fn upload_retry_delay(failures: u32) -> Duration {
    if failures == 0 {
        return Duration::from_secs(1);
    }
    Duration::from_secs(15)
        .saturating_mul(1u32 << (failures - 1).min(10))
        .min(Duration::from_secs(300))
}

/// Restore-status reads in a row that find no restore (404) before the database is Failed.
const RESTORE_GONE_AFTER: u32 = 3;

struct RunDb {
    cfg: DatabaseConfig,
    state: DatabaseState,
    layout: Layout,
    /// File name in the blob folder -> local stripe files.
    locals: HashMap<String, Vec<PathBuf>>,
    findings: Vec<Finding>,
    traffic_stopped: Option<StopTraffic>,
    files_at_cutover: Option<usize>,
    pending_tail: Option<PathBuf>,
    meter: ThroughputMeter,
    started: Instant,
    scanning: bool,
    /// What the last scan of the folder saw (only changed files are read again).
    cache: Arc<std::sync::Mutex<super::folder_scan::FolderCache>>,
    lrs_busy: bool,
    tail_busy: bool,
    /// Complete was sent by this process (after a restart in Completing it is sent again if LRS is
    /// still restoring).
    complete_sent: bool,
    traffic_busy: bool,
    /// Stopping traffic was tried in this cutover (done or failed: the tail goes ahead either way,
    /// BACKUP LOG WITH NORECOVERY stops all traffic itself).
    traffic_tried: bool,
    /// The tail-log backup was already taken (the source says the database is restoring): find it.
    tail_detect: bool,
    /// The operator takes the tail (`WaitForTail`): the next log that lands is it.
    tail_wait: bool,
    uploading: HashSet<String>,
    /// Files whose last upload attempt failed in a way that may pass: when to try again.
    upload_retry: HashMap<String, UploadRetry>,
    last_poll: Option<Instant>,
    /// Restore-status reads that failed in a row (the next poll waits longer: `poll_delay`).
    poll_failures: u32,
    /// Of those, the ones that found no restore of the database (HTTP 404).
    polls_not_found: u32,
    /// Restore-status reads as the liveness indicators see them (last answer, failing since).
    poll: PollHealth,
    /// The LRS time-limit severity last announced in the event log (once per level).
    time_limit_said: Option<Severity>,
    /// Its state changed since its file was last written.
    unsaved: bool,
    /// What was last written, in brief (a field changed outside a state transition is seen too).
    saved: Option<SavedBrief>,
    /// The restore this activity started (or is starting) on the managed instance.
    restore: Option<RestoreIdentity>,
    /// The target was checked for a restore this activity did not start: uploads may begin.
    target_checked: bool,
}

/// The parts of a database's persisted record that change without a state transition.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SavedBrief {
    blobs: usize,
    traffic_stopped: Option<StopTraffic>,
    files_at_cutover: Option<usize>,
    tail_wait: bool,
    restore: Option<RestoreIdentity>,
}

impl RunDb {
    fn blob_folder(&self) -> String {
        self.layout.folder().to_string()
    }
}

/// Starts the engine task in the current runtime. A state file of the same activity is re-attached:
/// uploaded files are not sent again, partial ones resume, LRS status is read again.
/// One process owns an activity: a second one is refused with who holds it (see [`super::lock`]).
pub fn start(cfg: EngineConfig) -> Result<EngineHandle, String> {
    let lock = super::lock::acquire(&cfg.state_file, &cfg.activity)?;
    persist::remove_stale_temporaries(&cfg.state_file);
    let about = super::activities::about(&cfg);
    let existing = super::activities::check(&cfg.state_file, &cfg.activity, &about)?;
    let previous = persist::load(&cfg.state_file)?;
    let now = Instant::now();
    let mut dbs = Vec::new();
    for d in &cfg.databases {
        let folder_name = layout::database_folder_name(&d.target_name)
            .unwrap_or_else(|_| layout::suggest_folder_name(&d.target_name));
        let saved = previous
            .as_ref()
            .and_then(|p| p.databases.iter().find(|x| x.state.name == d.name));
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
                    .map_err(|e| format!("state file {}: {e}", cfg.state_file.display()))?;
                (st, lay, s.traffic_stopped, s.files_at_cutover)
            }
            None => (
                DatabaseState::new(&d.name),
                Layout::new(&folder_name),
                None,
                None,
            ),
        };
        dbs.push(RunDb {
            cfg: d.clone(),
            state,
            layout,
            locals: HashMap::new(),
            findings: Vec::new(),
            traffic_stopped,
            files_at_cutover,
            pending_tail: None,
            meter: ThroughputMeter::new(now),
            started: now,
            scanning: false,
            cache: Arc::default(),
            lrs_busy: false,
            tail_busy: false,
            complete_sent: false,
            traffic_busy: false,
            traffic_tried: traffic_stopped.is_some(),
            tail_detect: false,
            tail_wait,
            target_checked: false,
            restore,
            uploading: HashSet::new(),
            upload_retry: HashMap::new(),
            last_poll: None,
            poll_failures: 0,
            polls_not_found: 0,
            poll: PollHealth::default(),
            time_limit_said: None,
            unsaved: true,
            saved: None,
        });
    }
    let (up_tx, up_rx) = mpsc::unbounded_channel();
    let uploader = Uploader::new(cfg.store.clone(), cfg.upload.clone(), up_tx);
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (log_tx, log_rx) = mpsc::unbounded_channel();
    let mut engine = Engine {
        _lock: lock,
        log_tx,
        cfg,
        dbs,
        uploader,
        paused: false,
        persist_dirty: true,
        index_unsaved: true,
        publish_dirty: false,
        drive_due: false,
        changes: 0,
        events: Vec::new(),
        started: now,
        started_unix: time::OffsetDateTime::now_utc().unix_timestamp(),
        source_utc_offset_minutes: None,
        rate_showing: false,
        generation: 0,
        tx: None,
    };
    if let Some(notice) = existing {
        engine.log(None, "info", notice);
    }
    let (snap_tx, snap_rx) = watch::channel(engine.snapshot());
    engine.tx = Some(snap_tx);
    let task = tokio::spawn(engine.run(cmd_rx, up_rx));
    Ok(EngineHandle {
        snapshots: snap_rx,
        commands: cmd_tx,
        event_log: log_rx,
        task,
    })
}

struct Engine {
    /// The activity's ownership, held until the engine task ends.
    _lock: super::lock::ActivityLock,
    log_tx: mpsc::UnboundedSender<EventLine>,
    cfg: EngineConfig,
    dbs: Vec<RunDb>,
    uploader: Arc<Uploader>,
    paused: bool,
    /// A transition happened: save the state (the databases marked `unsaved`) and publish now.
    persist_dirty: bool,
    /// The index (activity and database names) is yet to be written.
    index_unsaved: bool,
    /// Something visible changed (progress, an event): publish soon.
    publish_dirty: bool,
    /// A scan found local files for known backups (after a restart): uploads may start.
    drive_due: bool,
    /// Counts state changes (to know when driving made progress).
    changes: u64,
    events: Vec<EventLine>,
    started: Instant,
    /// The engine's start, wall clock (Unix seconds): UIs tick elapsed time from it.
    started_unix: i64,
    /// The source server's offset from UTC in minutes (read once at start; None: not known).
    source_utc_offset_minutes: Option<i32>,
    /// The last published snapshot showed an upload rate: republish about once a second until it
    /// has decayed to 0.
    rate_showing: bool,
    generation: u64,
    tx: Option<watch::Sender<MigrationSnapshot>>,
}

const MAX_EVENTS: usize = 200;

impl Engine {
    fn log(&mut self, db: Option<&str>, level: &str, message: impl Into<String>) {
        let message = message.into();
        match level {
            "error" => tracing::error!(database = db, "{message}"),
            "warning" => tracing::warn!(database = db, "{message}"),
            _ => tracing::info!(database = db, "{message}"),
        }
        let line = EventLine {
            at_secs: self.started.elapsed().as_secs(),
            unix_secs: time::OffsetDateTime::now_utc().unix_timestamp(),
            database: db.map(String::from),
            level: level.into(),
            message,
        };
        let _ = self.log_tx.send(line.clone());
        self.publish_dirty = true;
        self.events.push(line);
        if self.events.len() > MAX_EVENTS {
            let extra = self.events.len() - MAX_EVENTS;
            self.events.drain(..extra);
        }
    }

    async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<EngineCommand>,
        mut uploads: mpsc::UnboundedReceiver<UploadEvent>,
    ) -> Result<(), String> {
        let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
        let mut tick = tokio::time::interval(self.cfg.scan_interval.min(self.cfg.lrs_poll));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_scan: Option<Instant> = None;
        // Progress (upload bytes) is published at most 4 times a second; transitions at once.
        let mut flush = tokio::time::interval(Duration::from_millis(250));
        flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_publish = Instant::now();
        // While any rate shows, republish about once a second so it decays to 0 when nothing moves.
        let mut decay = tokio::time::interval(Duration::from_secs(1));
        decay.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The source server's offset from UTC, once (backup start times are its local time).
        let mut source_offset = self.read_source_offset();
        let mut source_offset_pending = true;
        self.persist_dirty = true;
        if self.cfg.retry_failed {
            for i in 0..self.dbs.len() {
                if self.dbs[i].state.phase == Phase::Failed {
                    let name = self.dbs[i].cfg.name.clone();
                    self.log(Some(&name), "info", "retrying (--retry-failed)");
                    self.retry(i, &tx);
                }
            }
        }
        for i in 0..self.dbs.len() {
            if self.dbs[i].state.lrs_started && !self.dbs[i].state.phase.is_final() {
                self.log(
                    Some(&self.dbs[i].cfg.name.clone()),
                    "info",
                    "re-attached: reading the restore status again",
                );
            }
            if !self.dbs[i].state.phase.is_final() {
                self.check_target(i, &tx);
            }
        }
        loop {
            tokio::select! {
                at = tick.tick() => {
                    // The tick's scheduled instant, not the moment it ran: a poll due every 10 s
                    // on a 5 s tick then runs every second tick, not every third when a tick is late.
                    let now = at.into_std();
                    if last_scan.is_none_or(|t| now - t >= self.cfg.scan_interval) {
                        last_scan = Some(now);
                        self.scan_all(&tx);
                    }
                    self.poll_lrs(&tx, now);
                    self.announce_time_limits();
                    if self.upload_retry_due(Instant::now()) {
                        self.drive_due = true;
                    }
                }
                _ = flush.tick(), if self.publish_dirty => {}
                _ = decay.tick(), if self.rate_showing => self.publish_dirty = true,
                offset = &mut source_offset, if source_offset_pending => {
                    source_offset_pending = false;
                    self.on_source_offset(offset.ok());
                }
                Some(c) = commands.recv() => {
                    if c == EngineCommand::Shutdown {
                        self.save()?;
                        self.publish();
                        return Ok(());
                    }
                    self.command(c, &tx);
                    self.mark_all_unsaved();
                }
                Some(e) = uploads.recv() => {
                    self.on_upload_event(e);
                    self.publish_dirty = true;
                }
                Some(m) = rx.recv() => {
                    self.on_msg(m, &tx);
                }
            }
            // Only a change can make something due (uploads, LRS start, cutover steps): idle
            // scans and polls that change nothing do not walk every database's files.
            if self.persist_dirty || self.drive_due {
                self.drive_due = false;
                // A step can make the next one due (begin cutover -> tail -> complete): drive until
                // nothing changes (bounded).
                for _ in 0..8 {
                    let before = self.changes;
                    self.drive(&tx);
                    if self.changes == before {
                        break;
                    }
                }
            }
            if self.persist_dirty {
                self.save()?;
                self.publish();
                last_publish = Instant::now();
            } else if self.publish_dirty && last_publish.elapsed() >= Duration::from_millis(250) {
                self.publish();
                last_publish = Instant::now();
            }
            if !self.dbs.is_empty() && self.dbs.iter().all(|d| d.state.phase.is_final()) {
                self.publish();
                return Ok(());
            }
        }
    }

    /// Logs, once per level, a database's restore nearing LRS's 30-day limit (and republishes:
    /// the finding is in its snapshot from then on).
    fn announce_time_limits(&mut self) {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        for i in 0..self.dbs.len() {
            let Some(f) = time_limit_finding(&self.dbs[i].state, now) else {
                continue;
            };
            if self.dbs[i].time_limit_said == Some(f.severity) {
                continue;
            }
            self.dbs[i].time_limit_said = Some(f.severity);
            let name = self.dbs[i].cfg.name.clone();
            self.log(
                Some(&name),
                f.severity.as_str(),
                format!("{}: {}", f.message, f.fix),
            );
            self.publish_dirty = true;
        }
    }

    /// Checks in the background what the database's target holds (see [`reattach::check_target`]);
    /// a database not yet started uploads nothing until the answer. A re-attached one goes on
    /// meanwhile: its restore reads its own folder.
    fn check_target(&mut self, i: usize, tx: &mpsc::UnboundedSender<Msg>) {
        let d = &mut self.dbs[i];
        d.target_checked = d.state.lrs_started;
        let (lrs, tx) = (self.cfg.lrs.clone(), tx.clone());
        let (activity, target) = (self.cfg.activity.clone(), d.cfg.target_name.clone());
        let (identity, started) = (d.restore.clone(), d.state.lrs_started);
        tokio::spawn(async move {
            let verdict = reattach::check_target(&lrs, &activity, &target, identity, started).await;
            let _ = tx.send(Msg::TargetChecked { db: i, verdict });
        });
    }

    fn on_target_checked(
        &mut self,
        i: usize,
        verdict: reattach::Verdict,
        tx: &mpsc::UnboundedSender<Msg>,
    ) {
        let name = self.dbs[i].cfg.name.clone();
        match verdict {
            reattach::Verdict::Clear => {
                self.dbs[i].target_checked = true;
                self.drive_due = true;
            }
            reattach::Verdict::Gone(reason) => {
                if !self.dbs[i].state.phase.is_final() {
                    self.apply(i, Event::RestoreGone { reason }, tx);
                }
            }
            reattach::Verdict::Refuse(reason) => {
                let d = &mut self.dbs[i].state;
                d.phase = Phase::Failed;
                d.error = Some(reason.clone());
                self.log(Some(&name), "error", reason);
            }
        }
    }

    /// Retries a failed database; after a vanished restore, LRS is started again from scratch.
    fn retry(&mut self, i: usize, tx: &mpsc::UnboundedSender<Msg>) {
        let gone = self.dbs[i].state.restore_gone;
        self.apply(i, Event::Command(Command::Retry), tx);
        if !self.dbs[i].target_checked {
            self.check_target(i, tx);
        }
        let d = &mut self.dbs[i];
        if gone && !d.state.restore_gone {
            d.polls_not_found = 0;
            d.poll_failures = 0;
            d.time_limit_said = None;
            d.complete_sent = false;
            d.last_poll = None;
            let name = d.cfg.name.clone();
            self.log(
                Some(&name),
                "info",
                "starting the restore again: LRS restores the full backup in the container and every log backup after it",
            );
        }
    }

    fn mark_all_unsaved(&mut self) {
        self.persist_dirty = true;
        for d in &mut self.dbs {
            d.unsaved = true;
        }
    }

    /// Writes the files of the databases that changed (and the index, once).
    fn save(&mut self) -> Result<(), String> {
        let path = &self.cfg.state_file;
        if self.index_unsaved {
            let names: Vec<&str> = self.dbs.iter().map(|d| d.cfg.name.as_str()).collect();
            let about = super::activities::about(&self.cfg);
            persist::save_index(path, &self.cfg.activity, &names, &about)?;
            self.index_unsaved = false;
        }
        for d in &mut self.dbs {
            let brief = SavedBrief {
                blobs: d.layout.len(),
                traffic_stopped: d.traffic_stopped,
                files_at_cutover: d.files_at_cutover,
                tail_wait: d.tail_wait,
                restore: d.restore.clone(),
            };
            if !d.unsaved && d.saved.as_ref() == Some(&brief) {
                continue;
            }
            persist::save_database(
                path,
                &PersistedDatabase {
                    state: d.state.clone(),
                    blobs: d.layout.entries(),
                    traffic_stopped: d.traffic_stopped,
                    files_at_cutover: d.files_at_cutover,
                    tail_wait: d.tail_wait,
                    restore: d.restore.clone(),
                },
            )?;
            d.unsaved = false;
            d.saved = Some(brief);
        }
        Ok(())
    }

    fn publish(&mut self) {
        self.persist_dirty = false;
        self.publish_dirty = false;
        self.generation += 1;
        let snap = self.snapshot();
        self.rate_showing = snap.total_upload_bytes_per_sec > 0.0;
        if let Some(tx) = &self.tx {
            tx.send_replace(snap);
        }
    }

    /// Reads the source server's offset from UTC on a connection of its own (the answer, or why not;
    /// the channel closes at once without a source connection).
    fn read_source_offset(&self) -> tokio::sync::oneshot::Receiver<Result<i32, String>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if let Some(opts) = self.cfg.source.clone() {
            tokio::spawn(async move {
                let result = async {
                    let mut c = crate::source::SourceClient::connect(&opts).await?;
                    let r = c.utc_offset_minutes().await;
                    c.close().await;
                    r
                }
                .await
                .map_err(|e| e.to_string());
                let _ = tx.send(result);
            });
        }
        rx
    }

    fn on_source_offset(&mut self, answer: Option<Result<i32, String>>) {
        match answer {
            Some(Ok(minutes)) => {
                self.source_utc_offset_minutes = Some(minutes);
                let sign = if minutes < 0 { '-' } else { '+' };
                let m = minutes.unsigned_abs();
                self.log(
                    None,
                    "info",
                    format!(
                        "the source server's clock is UTC{sign}{:02}:{:02}: data lag is computed in UTC",
                        m / 60,
                        m % 60
                    ),
                );
            }
            Some(Err(e)) => self.log(
                None,
                "warning",
                format!("cannot read the source server's time zone ({e}): data lag reads the backups' start times (server local time) as UTC"),
            ),
            None => {}
        }
    }

    fn snapshot(&self) -> MigrationSnapshot {
        let now = Instant::now();
        let clock = SnapshotClock {
            now_ms: downtime::now_unix_ms(),
            paused: self.paused,
            utc_offset_minutes: self.source_utc_offset_minutes,
        };
        let databases: Vec<DatabaseSnapshot> = self
            .dbs
            .iter()
            .map(|d| db_snapshot(d, now, &clock))
            .collect();
        MigrationSnapshot {
            activity: self.cfg.activity.clone(),
            source: self.cfg.source_label.clone(),
            target: self.cfg.target_label.clone(),
            elapsed_secs: self.started.elapsed().as_secs_f64(),
            total_upload_bytes_per_sec: databases.iter().map(|d| d.upload_bytes_per_sec).sum(),
            paused: self.paused,
            databases,
            events: self.events.clone(),
            generation: self.generation,
            started_unix: self.started_unix,
            last_poll_unix: liveness::last_poll_unix(self.dbs.iter().map(|d| &d.poll)),
            stale: liveness::stale_message(self.dbs.iter().map(|d| (d.cfg.name.as_str(), &d.poll))),
            target_connection: None,
        }
    }

    fn scan_all(&mut self, tx: &mpsc::UnboundedSender<Msg>) {
        for (i, d) in self.dbs.iter_mut().enumerate() {
            if d.scanning || d.state.phase.is_final() || d.state.phase == Phase::Completing {
                continue;
            }
            d.scanning = true;
            let folder = d.cfg.folder.clone();
            let cache = d.cache.clone();
            let tx = tx.clone();
            tokio::task::spawn_blocking(move || {
                let result = match cache.lock() {
                    Ok(mut c) => c.rescan(&folder).map(|r| r.map(Box::new)),
                    Err(_) => Err("the folder cache is unusable".into()),
                };
                let _ = tx.send(Msg::Scanned { db: i, result });
            });
        }
    }

    fn poll_lrs(&mut self, tx: &mpsc::UnboundedSender<Msg>, now: Instant) {
        for (i, d) in self.dbs.iter_mut().enumerate() {
            if !d.state.lrs_started || d.state.phase.is_final() || d.lrs_busy {
                continue;
            }
            if d.last_poll
                .is_some_and(|t| now - t < poll_delay(self.cfg.lrs_poll, d.poll_failures))
            {
                continue;
            }
            d.last_poll = Some(now);
            d.lrs_busy = true;
            let lrs = self.cfg.lrs.clone();
            let target = d.cfg.target_name.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let result = lrs
                    .status(&target)
                    .await
                    .map(Box::new)
                    .map_err(|e| (e.http_status(), e.to_string()));
                let _ = tx.send(Msg::LrsPolled { db: i, result });
            });
        }
    }

    /// Applies an event to a database, logs refusals and carries out the actions.
    fn apply(&mut self, i: usize, ev: Event, tx: &mpsc::UnboundedSender<Msg>) -> bool {
        let snapshot_before = self.dbs[i].state.clone();
        let changed = self.apply_inner(i, ev, tx);
        if self.dbs[i].state != snapshot_before {
            self.persist_dirty = true;
            self.dbs[i].unsaved = true;
            self.changes += 1;
        }
        changed
    }

    fn apply_inner(&mut self, i: usize, ev: Event, tx: &mpsc::UnboundedSender<Msg>) -> bool {
        let before = self.dbs[i].state.phase;
        let name = self.dbs[i].cfg.name.clone();
        match self.dbs[i].state.apply(ev) {
            Ok(actions) => {
                let after = self.dbs[i].state.phase;
                if after != before {
                    let msg = match (&self.dbs[i].state.error, after) {
                        (Some(e), Phase::Failed) => format!("{}: {e}", after.label()),
                        _ => format!("{} -> {}", before.label(), after.label()),
                    };
                    let level = if after == Phase::Failed {
                        "error"
                    } else {
                        "info"
                    };
                    self.log(Some(&name), level, msg);
                    if after == Phase::Completed {
                        self.on_completed(i);
                    }
                }
                for a in actions {
                    self.act(i, a, tx);
                }
                true
            }
            Err(r) => {
                self.log(Some(&name), "warning", format!("refused: {r}"));
                false
            }
        }
    }

    /// The downtime ends at completion: recorded (it survives a restart) and said in the events.
    fn on_completed(&mut self, i: usize) {
        let now_ms = downtime::now_unix_ms();
        let st = &mut self.dbs[i].state;
        st.completed_unix_ms.get_or_insert(now_ms);
        let took =
            downtime::downtime_secs(st.downtime_started_unix_ms, st.completed_unix_ms, now_ms);
        let name = self.dbs[i].cfg.name.clone();
        let msg = match took {
            Some(s) => format!("{name} completed: downtime {}", downtime::words(s)),
            None => format!("{name} completed"),
        };
        self.log(Some(&name), "info", msg);
    }

    /// The downtime begins (traffic stopped, or the cutover begun without stopping it); a
    /// downtime already running (the source still RESTORING after an abandon) goes on.
    fn downtime_begins(&mut self, i: usize) {
        let st = &mut self.dbs[i].state;
        if st.downtime_started_unix_ms.is_none() {
            st.downtime_started_unix_ms = Some(downtime::now_unix_ms());
            self.dbs[i].unsaved = true;
            self.persist_dirty = true;
        }
    }

    fn act(&mut self, i: usize, a: Action, tx: &mpsc::UnboundedSender<Msg>) {
        let d = &mut self.dbs[i];
        let lrs = self.cfg.lrs.clone();
        let target = d.cfg.target_name.clone();
        let tx = tx.clone();
        match a {
            Action::StartLrs => {
                if d.lrs_busy || d.state.lrs_started {
                    return;
                }
                let storage_uri = format!(
                    "{}/{}",
                    self.cfg.container_url.trim_end_matches('/'),
                    d.blob_folder()
                );
                let now = time::OffsetDateTime::now_utc().unix_timestamp();
                let want =
                    RestoreIdentity::requested(&self.cfg.activity, &target, &storage_uri, now);
                let prior = d.restore.replace(want.clone());
                let our_files: Vec<String> = d
                    .layout
                    .entries()
                    .into_iter()
                    .filter_map(|(_, b)| b.split_once('/').map(|(_, f)| f.to_string()))
                    .chain(d.state.files.iter().map(|f| f.name.clone()))
                    .collect();
                d.unsaved = true;
                // Recorded before the start is sent: a crash in between still knows that the
                // restore found on the instance is this activity's own.
                if let Err(e) = self.save() {
                    let d = &mut self.dbs[i];
                    d.restore = prior;
                    let name = d.cfg.name.clone();
                    self.log(
                        Some(&name),
                        "error",
                        format!("the Log Replay Service is not started: {e}"),
                    );
                    return;
                }
                self.dbs[i].lrs_busy = true;
                let req = StartRequest {
                    location: self.cfg.location.clone(),
                    storage_uri,
                    access: self.cfg.lrs_access.clone(),
                    collation: self.cfg.collation.clone(),
                    last_backup_name: None,
                };
                tokio::spawn(async move {
                    let result =
                        reattach::start_or_adopt(&lrs, &req, prior, want, &our_files).await;
                    let _ = tx.send(Msg::LrsStarted { db: i, result });
                });
            }
            Action::CompleteLrs { last_backup_name } => {
                d.complete_sent = true;
                let msg = format!("completing the restore with lastBackupName {last_backup_name}");
                let name = d.cfg.name.clone();
                tokio::spawn(async move {
                    let result = lrs
                        .complete(&target, &last_backup_name)
                        .await
                        .map(|_| ())
                        .map_err(|e| (e.code().map(String::from), e.to_string()));
                    let _ = tx.send(Msg::CompleteSent { db: i, result });
                });
                self.log(Some(&name), "info", msg);
            }
            Action::CancelLrs => {
                tokio::spawn(async move {
                    if let Err(e) = lrs.cancel(&target).await {
                        tracing::warn!(database = target, "cancel: {e}");
                    }
                });
            }
        }
    }

    fn on_upload_event(&mut self, e: UploadEvent) {
        let Some((i, file)) = self.locate_blob(e.file()) else {
            return;
        };
        match e {
            UploadEvent::Uploading { done, .. } => {
                let prev = self.dbs[i]
                    .state
                    .files
                    .iter()
                    .find(|f| f.name == file)
                    .map(|f| f.uploaded_bytes)
                    .unwrap_or(0);
                if done > prev {
                    self.dbs[i].meter.record(done - prev, Instant::now());
                }
                let _ = self.dbs[i]
                    .state
                    .apply(Event::UploadProgress { file, done });
            }
            UploadEvent::Retrying {
                attempt, reason, ..
            } => {
                let name = self.dbs[i].cfg.name.clone();
                self.log(
                    Some(&name),
                    "warning",
                    format!("{file}: retry {attempt}: {reason}"),
                );
            }
            _ => {}
        }
    }

    /// A file's upload ended: uploaded; or to be tried again later (the file changed, the service
    /// was away or busy), the database going on; or failed for good: that database alone is Failed.
    fn on_upload_done(
        &mut self,
        db: usize,
        file: String,
        result: Result<(), StorageError>,
        tx: &mpsc::UnboundedSender<Msg>,
    ) {
        let name = self.dbs[db].cfg.name.clone();
        self.dbs[db].uploading.remove(&file);
        match result {
            Ok(()) => {
                self.dbs[db].upload_retry.remove(&file);
                self.log(Some(&name), "info", format!("uploaded {file}"));
                self.apply(db, Event::Uploaded { file }, tx);
            }
            Err(e) if e.may_succeed_later() => {
                let changed = matches!(e, StorageError::Changed { .. });
                let failures = match self.dbs[db].upload_retry.get(&file) {
                    _ if changed => 0,
                    Some(r) => r.failures.saturating_add(1),
                    None => 1,
                };
                let wait = upload_retry_delay(failures);
                self.dbs[db].upload_retry.insert(
                    file.clone(),
                    UploadRetry {
                        due: Instant::now() + wait,
                        failures,
                    },
                );
                let msg = if let StorageError::Changed { what, .. } = &e {
                    format!(
                        "{file} changed while it was uploaded ({what}): uploading it again once it is stable; the database goes on"
                    )
                } else {
                    format!(
                        "{file}: upload failed ({e}); uploading it again in {} (failure {failures} in a row); the other files and databases go on",
                        seconds(wait)
                    )
                };
                self.log(Some(&name), "warning", msg);
                self.apply(db, Event::UploadRetrying { file }, tx);
            }
            Err(e) => {
                self.dbs[db].upload_retry.remove(&file);
                let error = format!(
                    "{e}; the other databases go on: fix the cause, then retry this database (r on the dashboard, or cutover run --retry-failed)"
                );
                self.apply(db, Event::UploadFailed { file, error }, tx);
            }
        }
    }

    /// A file's upload retry is due (the tick then drives the uploads).
    fn upload_retry_due(&self, now: Instant) -> bool {
        self.dbs.iter().any(|d| {
            !d.state.phase.is_final()
                && d.state.phase != Phase::Failed
                && d.upload_retry.values().any(|r| r.due <= now)
        })
    }

    fn locate_blob(&self, blob: &str) -> Option<(usize, String)> {
        let (folder, file) = blob.split_once('/')?;
        let i = self.dbs.iter().position(|d| d.layout.folder() == folder)?;
        Some((i, file.to_string()))
    }

    fn on_msg(&mut self, m: Msg, tx: &mpsc::UnboundedSender<Msg>) {
        // Scans and polls change the state only through `apply` (which notes it); every other
        // message is a step of its own.
        if !matches!(m, Msg::Scanned { .. } | Msg::LrsPolled { .. }) {
            self.persist_dirty = true;
            let db = m.db();
            if let Some(d) = self.dbs.get_mut(db) {
                d.unsaved = true;
            }
        }
        match m {
            Msg::Scanned { db, result } => {
                self.dbs[db].scanning = false;
                match result {
                    Ok(Some(report)) => self.on_scan(db, *report, tx),
                    Ok(None) => {}
                    Err(e) => {
                        let name = self.dbs[db].cfg.name.clone();
                        self.log(
                            Some(&name),
                            "error",
                            format!("cannot read the backup folder: {e}"),
                        );
                    }
                }
            }
            Msg::UploadDone { db, file, result } => self.on_upload_done(db, file, result, tx),
            Msg::TargetChecked { db, verdict } => self.on_target_checked(db, verdict, tx),
            Msg::LrsStarted { db, result } => {
                self.dbs[db].lrs_busy = false;
                let name = self.dbs[db].cfg.name.clone();
                match result {
                    Ok(started) => {
                        let id = started.identity;
                        let message = if started.adopted {
                            "re-attached to the Log Replay Service restore this activity started before the restart"
                        } else {
                            "Log Replay Service restore started"
                        };
                        self.log(Some(&name), "info", message);
                        self.dbs[db].state.lrs_started_unix = id
                            .accepted_unix
                            .or(Some(time::OffsetDateTime::now_utc().unix_timestamp()));
                        self.dbs[db].restore = Some(id);
                        self.apply(db, Event::LrsStarted, tx);
                    }
                    Err(e) => {
                        self.dbs[db].restore = e.keep;
                        let d = &mut self.dbs[db].state;
                        d.phase = Phase::Failed;
                        d.error = Some(e.message.clone());
                        self.log(Some(&name), "error", e.message);
                    }
                }
            }
            Msg::LrsPolled { db, result } => {
                self.dbs[db].lrs_busy = false;
                // "Polled N s ago" and the stale warning move with every answer or failure.
                self.publish_dirty = true;
                let now_unix = time::OffsetDateTime::now_utc().unix_timestamp();
                match &result {
                    Ok(_) => self.dbs[db].poll.answered(now_unix),
                    Err((_, e)) => self.dbs[db].poll.failed(now_unix, e),
                }
                match result {
                    Ok(det) => {
                        self.dbs[db].poll_failures = 0;
                        self.dbs[db].polls_not_found = 0;
                        let st = lrs_status(&self.dbs[db].state.files, &det);
                        let restoring = det
                            .status
                            .as_deref()
                            .is_some_and(|s| s.eq_ignore_ascii_case("Restoring"));
                        self.apply(db, Event::Lrs(st), tx);
                        let d = &self.dbs[db];
                        if d.state.phase == Phase::Completing
                            && !d.complete_sent
                            && restoring
                            && let Some(name) = d.state.completed_with.clone()
                        {
                            self.act(
                                db,
                                Action::CompleteLrs {
                                    last_backup_name: name,
                                },
                                tx,
                            );
                        }
                    }
                    Err((status, e)) => {
                        let d = &mut self.dbs[db];
                        d.poll_failures = d.poll_failures.saturating_add(1);
                        d.polls_not_found = if status == Some(404) {
                            d.polls_not_found.saturating_add(1)
                        } else {
                            0
                        };
                        let next = poll_delay(self.cfg.lrs_poll, d.poll_failures);
                        let name = d.cfg.name.clone();
                        self.log(
                            Some(&name),
                            "warning",
                            format!("restore status: {e} (next try in {})", seconds(next)),
                        );
                        // No restore of a database whose restore was started, several times in a
                        // row (not one read racing the start): it was cancelled or dropped. After
                        // complete was sent the database may be online already: keep reading.
                        let d = &self.dbs[db];
                        if d.polls_not_found >= RESTORE_GONE_AFTER
                            && d.state.phase != Phase::Completing
                            && !d.state.restore_gone
                        {
                            let reason = super::lrs_limit::restore_gone(
                                &d.cfg.target_name,
                                d.state.lrs_started_unix,
                                time::OffsetDateTime::now_utc().unix_timestamp(),
                            );
                            self.apply(db, Event::RestoreGone { reason }, tx);
                        }
                    }
                }
            }
            Msg::CompleteSent { db, result } => {
                match result {
                    // Asked before (a restart after the call): keep waiting for it.
                    Err((Some(code), _)) if code == "ExternalBackupAlreadySignaledToComplete" => {}
                    Err((_, error)) => {
                        self.apply(db, Event::CompleteFailed { error }, tx);
                    }
                    Ok(()) => {}
                }
                self.dbs[db].last_poll = None;
            }
            Msg::Traffic {
                db,
                how,
                stopped,
                result,
            } => {
                let name = self.dbs[db].cfg.name.clone();
                self.dbs[db].traffic_busy = false;
                match result {
                    Ok(()) => {
                        self.dbs[db].traffic_stopped = stopped.then_some(how);
                        let what = if stopped {
                            self.dbs[db].state.source_access = Some(match how {
                                StopTraffic::ReadOnly => SourceAccess::ReadOnly,
                                StopTraffic::RestrictedUser => SourceAccess::RestrictedUser,
                            });
                            self.downtime_begins(db);
                            format!("traffic stopped on the source ({how:?})")
                        } else {
                            self.dbs[db].state.source_access = Some(SourceAccess::ReadWrite);
                            self.dbs[db].state.downtime_started_unix_ms = None;
                            "traffic to the source restored".into()
                        };
                        self.log(Some(&name), "info", what);
                    }
                    Err(e) => {
                        // The cutover goes on without stopped traffic: the downtime counts from now
                        // (the tail-log backup WITH NORECOVERY stops traffic itself).
                        if stopped && self.dbs[db].state.phase == Phase::CuttingOver {
                            self.downtime_begins(db);
                        }
                        self.log(Some(&name), "error", format!("source: {e}"))
                    }
                }
            }
            Msg::TailTaken { db, result } => {
                self.dbs[db].tail_busy = false;
                let name = self.dbs[db].cfg.name.clone();
                match result {
                    Ok(path) => {
                        self.log(
                            Some(&name),
                            "info",
                            format!("tail-log backup taken: {}", path.display()),
                        );
                        // BACKUP LOG ... WITH NORECOVERY left the source RESTORING.
                        self.dbs[db].state.source_access = Some(SourceAccess::Restoring);
                        self.downtime_begins(db);
                        self.dbs[db].pending_tail = Some(path);
                        self.scan_all(tx);
                    }
                    Err((Some(927), e)) => {
                        // The database is already restoring: the tail was taken before a restart.
                        self.log(Some(&name), "info", format!("the source database is already restoring ({e}): looking for its tail-log backup in the folder"));
                        self.dbs[db].state.source_access = Some(SourceAccess::Restoring);
                        self.downtime_begins(db);
                        self.dbs[db].tail_detect = true;
                    }
                    Err((_, e)) => {
                        self.log(Some(&name), "error", format!("tail-log backup failed: {e}"))
                    }
                }
            }
        }
    }

    fn on_scan(&mut self, i: usize, report: catalog::CheckReport, tx: &mpsc::UnboundedSender<Msg>) {
        let name = self.dbs[i].cfg.name.clone();
        let Some(plan) = report.database(&name).cloned() else {
            let f = Finding::new(
                catalog::Code::NoFullBackup,
                Severity::Error,
                None,
                format!(
                    "no backup of {name} in {}",
                    self.dbs[i].cfg.folder.display()
                ),
                "check the backup folder for this database",
            );
            self.dbs[i].findings = vec![f];
            return;
        };
        self.dbs[i].findings = plan.findings.clone();
        // DMS's "Ignored": the folder's files the plan leaves out, with why.
        let ignored: Vec<IgnoredFile> = plan
            .skipped
            .iter()
            .map(|s| IgnoredFile::new(&s.file, s.backup_type, s.reason))
            .collect();
        if self.dbs[i].state.ignored != ignored {
            self.dbs[i].state.ignored = ignored;
            self.dbs[i].unsaved = true;
            self.persist_dirty = true;
        }
        let mut arrived = Vec::new();
        for step in &plan.plan {
            let d = &mut self.dbs[i];
            let mut blobs = Vec::new();
            let mut locals = Vec::new();
            for stripe in &step.stripes {
                let local = d.cfg.folder.join(stripe);
                match d.layout.assign(&local, stripe) {
                    Ok(b) => {
                        blobs.push(b);
                        locals.push(local);
                    }
                    Err(e) => {
                        tracing::warn!("{e}");
                    }
                }
            }
            let Some(first) = blobs.first() else { continue };
            let file = first
                .split_once('/')
                .map(|(_, f)| f.to_string())
                .unwrap_or_else(|| first.clone());
            if d.locals.insert(file.clone(), locals).is_none() {
                self.drive_due = true;
            }
            if d.state.files.iter().all(|f| f.name != file) {
                arrived.push(BackupFile {
                    name: file,
                    backup_type: step.backup_type,
                    first_lsn: step.first_lsn,
                    last_lsn: step.last_lsn,
                    size: step.size,
                    status: FileStatus::Arrived,
                    uploaded_bytes: 0,
                    backup_start: step.start.and_then(|t| {
                        t.format(time::macros::format_description!(
                            "[year]-[month]-[day]T[hour]:[minute]:[second]"
                        ))
                        .ok()
                    }),
                });
            }
        }
        for f in arrived {
            let msg = format!("{} backup {} arrived", f.backup_type, f.name);
            self.log(Some(&name), "info", msg);
            self.apply(i, Event::FileArrived(f), tx);
        }
        self.resolve_tail(i, tx);
    }

    /// The tail-log backup cutover took, or (wait mode, or a tail taken before a restart) a new log
    /// that landed after the cutover began: once it is a file of the plan, it is the tail.
    fn resolve_tail(&mut self, i: usize, tx: &mpsc::UnboundedSender<Msg>) {
        let d = &self.dbs[i];
        if d.state.phase != Phase::CuttingOver {
            return;
        }
        let known = |name: &str| d.state.files.iter().any(|f| f.name == name);
        let newest = d.state.newest().map(|f| f.name.clone());
        let tail_file = if let Some(p) = &d.pending_tail {
            d.layout
                .blob_name(p)
                .and_then(|b| b.split_once('/').map(|(_, f)| f.to_string()))
                .filter(|f| known(f))
        } else {
            // Detect a log that landed after the cutover began: when cutover did not take the tail
            // itself (the operator takes it, `--tail wait`), or when a restart found the source
            // already restoring. In `--tail take` mode a scheduled log is never taken for the tail.
            let detect = d.tail_detect
                || (!d.tail_busy
                    && (d.tail_wait
                        || (self.cfg.tail == TailMode::Wait && self.cfg.cutover_when_ready)));
            let undecided = match &d.state.tail {
                TailState::Undecided => true,
                TailState::Taken { file } => newest.as_deref() != Some(file.as_str()),
                TailState::NoMoreBackups => false,
            };
            if detect && undecided && d.files_at_cutover.is_some_and(|n| d.state.files.len() > n) {
                d.state
                    .newest()
                    .filter(|f| f.backup_type == BackupType::Log)
                    .map(|f| f.name.clone())
            } else {
                None
            }
        };
        if let Some(file) = tail_file {
            self.dbs[i].pending_tail = None;
            self.dbs[i].tail_detect = false;
            self.apply(i, Event::Command(Command::TailTaken { file }), tx);
        }
    }

    fn take_tail(&mut self, i: usize, tx: &mpsc::UnboundedSender<Msg>) {
        let d = &mut self.dbs[i];
        if d.tail_busy {
            return;
        }
        let Some(opts) = self.cfg.source.clone() else {
            let name = d.cfg.name.clone();
            self.log(Some(&name), "error", "no source connection configured: take the tail-log backup yourself, cutover detects it when it lands");
            return;
        };
        if d.state.source_access == Some(SourceAccess::Restoring) {
            // BACKUP LOG would fail: the tail was taken already. Look for it in the folder.
            if !d.tail_detect {
                d.tail_detect = true;
                let name = d.cfg.name.clone();
                self.log(Some(&name), "info", "the source database is RESTORING (its tail-log backup was taken WITH NORECOVERY): looking for that backup in the folder");
            }
            return;
        }
        d.tail_busy = true;
        let req = TailRequest {
            database: d.cfg.name.clone(),
            server_folder: d
                .cfg
                .server_folder
                .clone()
                .unwrap_or_else(|| d.cfg.folder.to_string_lossy().into_owned()),
            local_folder: d.cfg.folder.clone(),
            appear_timeout: Duration::from_secs(120),
        };
        let tx = tx.clone();
        tokio::spawn(async move {
            let result = take_tail_log_backup(&opts, &req)
                .await
                .map(|t| t.local_path)
                .map_err(|e| (e.number(), e.to_string()));
            let _ = tx.send(Msg::TailTaken { db: i, result });
        });
    }

    fn set_traffic(
        &mut self,
        i: usize,
        how: StopTraffic,
        stop: bool,
        tx: &mpsc::UnboundedSender<Msg>,
    ) {
        let Some(opts) = self.cfg.source.clone() else {
            let name = self.dbs[i].cfg.name.clone();
            self.log(
                Some(&name),
                "warning",
                "no source connection configured: stop traffic to the source yourself",
            );
            return;
        };
        let db = self.dbs[i].cfg.name.clone();
        self.dbs[i].traffic_busy = true;
        if stop {
            self.dbs[i].traffic_tried = true;
        }
        let tx = tx.clone();
        tokio::spawn(async move {
            let result = async {
                let mut c = crate::source::SourceClient::connect(&opts).await?;
                let r = if stop {
                    c.stop_traffic(&db, how).await
                } else {
                    c.undo_stop_traffic(&db, how).await
                };
                c.close().await;
                r
            }
            .await
            .map_err(|e| e.to_string());
            let _ = tx.send(Msg::Traffic {
                db: i,
                how,
                stopped: stop,
                result,
            });
        });
    }

    fn index(&self, name: &str) -> Option<usize> {
        self.dbs.iter().position(|d| d.cfg.name == name)
    }

    fn command(&mut self, c: EngineCommand, tx: &mpsc::UnboundedSender<Msg>) {
        let lookup = |s: &Self, n: &str| s.index(n);
        match c {
            EngineCommand::PauseUploads => {
                self.paused = true;
                self.log(None, "info", "uploads paused");
            }
            EngineCommand::ResumeUploads => {
                self.paused = false;
                self.log(None, "info", "uploads resumed");
            }
            EngineCommand::Shutdown => {}
            EngineCommand::Retry { database } => {
                if let Some(i) = lookup(self, &database) {
                    self.retry(i, tx);
                }
            }
            EngineCommand::Cancel { database } => {
                if let Some(i) = lookup(self, &database) {
                    self.apply(i, Event::Command(Command::Cancel), tx);
                }
            }
            EngineCommand::BeginCutover {
                database,
                stop_traffic,
            } => {
                if let Some(i) = lookup(self, &database) {
                    self.begin_cutover(i, stop_traffic, tx);
                }
            }
            EngineCommand::TakeTail { database } => {
                if let Some(i) = lookup(self, &database) {
                    if self.dbs[i].state.phase == Phase::CuttingOver
                        && self.dbs[i].state.tail_kept_by_source()
                    {
                        let msg = self.tail_already_taken(i);
                        self.log(Some(&database), "info", msg);
                    } else if self.dbs[i].state.phase == Phase::CuttingOver {
                        self.take_tail(i, tx);
                    } else {
                        self.log(
                            Some(&database),
                            "warning",
                            "refused: begin the cutover first",
                        );
                    }
                }
            }
            EngineCommand::WaitForTail { database } => {
                if let Some(i) = lookup(self, &database) {
                    if self.dbs[i].state.phase == Phase::CuttingOver {
                        self.dbs[i].tail_wait = true;
                        self.dbs[i].files_at_cutover = Some(self.dbs[i].state.files.len());
                        let folder = self.dbs[i].cfg.folder.display().to_string();
                        self.log(
                            Some(&database),
                            "info",
                            format!("waiting for the operator's tail-log backup in {folder}"),
                        );
                    } else {
                        self.log(
                            Some(&database),
                            "warning",
                            "refused: begin the cutover first",
                        );
                    }
                }
            }
            EngineCommand::ConfirmNoMoreBackups { database } => {
                if let Some(i) = lookup(self, &database)
                    && self.apply(i, Event::Command(Command::ConfirmNoMoreBackups), tx)
                {
                    self.log(Some(&database), "warning", "the operator confirmed no more backups will come: any later log backup will be lost (data-loss risk)");
                }
            }
            EngineCommand::Complete { database } => {
                if let Some(i) = lookup(self, &database) {
                    self.apply(i, Event::Command(Command::Complete), tx);
                }
            }
            EngineCommand::AbandonCutover { database } => {
                let Some(i) = lookup(self, &database) else {
                    return;
                };
                // A tail-log backup taken WITH NORECOVERY left the source restoring: that cannot be
                // undone by cutover (no ALTER DATABASE is possible there). State files written
                // before the source's access was recorded say so only by the tail cutover took.
                let tail_taken_here = matches!(self.dbs[i].state.tail, TailState::Taken { .. })
                    && !self.dbs[i].tail_wait;
                if tail_taken_here && self.dbs[i].state.source_access.is_none() {
                    self.dbs[i].state.source_access = Some(SourceAccess::Restoring);
                }
                if self.apply(i, Event::Command(Command::AbandonCutover), tx) {
                    self.dbs[i].files_at_cutover = None;
                    self.dbs[i].tail_wait = false;
                    self.dbs[i].pending_tail = None;
                    if self.dbs[i].state.source_access == Some(SourceAccess::Restoring) {
                        self.log(Some(&database), "warning", format!(
                            "cutover abandoned after the tail-log backup: the source database stays RESTORING (the tail was taken WITH NORECOVERY) and the downtime goes on; begin the cutover again to complete with that tail, or run RESTORE DATABASE {} WITH RECOVERY on the source to use it again",
                            crate::source::quote::quote_ident(&database)
                        ));
                    } else if let Some(how) = self.dbs[i].traffic_stopped {
                        // The downtime ends when traffic is back (Msg::Traffic).
                        self.set_traffic(i, how, false, tx);
                    } else {
                        self.dbs[i].state.downtime_started_unix_ms = None;
                    }
                }
            }
        }
    }

    fn begin_cutover(
        &mut self,
        i: usize,
        stop: Option<StopTraffic>,
        tx: &mpsc::UnboundedSender<Msg>,
    ) {
        if !self.apply(i, Event::Command(Command::BeginCutover), tx) {
            return;
        }
        self.dbs[i].files_at_cutover = Some(self.dbs[i].state.files.len());
        self.dbs[i].traffic_tried = false;
        self.dbs[i].tail_wait = false;
        if self.dbs[i].state.source_access == Some(SourceAccess::Restoring) {
            // RESTORING since the tail-log backup taken WITH NORECOVERY: the source refuses ALTER
            // DATABASE (error 5052) and writes no more log; there is no traffic to stop.
            self.dbs[i].traffic_tried = true;
            let name = self.dbs[i].cfg.name.clone();
            let msg = if self.dbs[i].state.tail_kept_by_source() {
                self.tail_already_taken(i)
            } else {
                "the source database is RESTORING (a tail-log backup WITH NORECOVERY was taken): traffic is already stopped and no more log can be backed up".into()
            };
            self.log(Some(&name), "info", msg);
            self.downtime_begins(i);
            return;
        }
        match stop {
            // The downtime begins when traffic is stopped (Msg::Traffic).
            Some(how) if self.cfg.source.is_some() => self.set_traffic(i, how, true, tx),
            _ => self.downtime_begins(i),
        }
    }

    /// What the cutover says of a tail taken WITH NORECOVERY in an earlier cutover: taken, and how
    /// far it is.
    fn tail_already_taken(&self, i: usize) -> String {
        let st = &self.dbs[i].state;
        let TailState::Taken { file } = &st.tail else {
            return "the tail-log backup is not taken yet".into();
        };
        let how_far = match st.files.iter().find(|f| &f.name == file).map(|f| f.status) {
            Some(FileStatus::Restored) => "already restored",
            Some(FileStatus::Restoring) => "being restored",
            Some(FileStatus::Uploaded) => "uploaded, waiting to be restored",
            _ => "not uploaded yet",
        };
        format!(
            "the tail-log backup {file} is already taken (WITH NORECOVERY: the source database is RESTORING, traffic is stopped) and {how_far}: nothing more to take"
        )
    }

    /// The automatic cutover steps (`--cutover when-ready`), resumable after a restart: stop traffic,
    /// then the tail (take / confirm no more backups / wait for it), then complete.
    fn auto_cutover(&mut self, i: usize, tx: &mpsc::UnboundedSender<Msg>) {
        let d = &self.dbs[i];
        if d.state.phase != Phase::CuttingOver || d.state.tail != TailState::Undecided {
            return;
        }
        if d.traffic_busy || d.tail_busy || d.pending_tail.is_some() || d.tail_detect {
            return;
        }
        if let Some(how) = self.cfg.stop_traffic
            && self.cfg.source.is_some()
            && !d.traffic_tried
            && d.state.source_access != Some(SourceAccess::Restoring)
        {
            self.set_traffic(i, how, true, tx);
            return;
        }
        match self.cfg.tail {
            TailMode::Take => self.take_tail(i, tx),
            TailMode::Skip => {
                let name = d.cfg.name.clone();
                self.command(EngineCommand::ConfirmNoMoreBackups { database: name }, tx);
            }
            TailMode::Wait => {}
        }
    }

    /// What happens by itself: uploads of arrived files, automatic cutover when asked for.
    fn drive(&mut self, tx: &mpsc::UnboundedSender<Msg>) {
        for i in 0..self.dbs.len() {
            let phase = self.dbs[i].state.phase;
            if matches!(
                phase,
                Phase::Failed | Phase::Canceled | Phase::Completed | Phase::Completing
            ) {
                continue;
            }
            if !self.paused && self.dbs[i].target_checked {
                self.start_uploads(i, tx);
            }
            // A full already uploaded but LRS not started (a restart between the two): start it.
            let d = &self.dbs[i];
            if !d.state.lrs_started
                && !d.lrs_busy
                && phase != Phase::Blocked
                && d.state
                    .files
                    .iter()
                    .any(|f| f.backup_type == BackupType::Full && f.status == FileStatus::Uploaded)
            {
                self.act(i, Action::StartLrs, tx);
            }
            self.resolve_tail(i, tx);
            if self.cfg.cutover_when_ready {
                if phase == Phase::ReadyForCutover {
                    let name = self.dbs[i].cfg.name.clone();
                    self.log(
                        Some(&name),
                        "info",
                        "ready for cutover: beginning it (--cutover when-ready)",
                    );
                    self.begin_cutover(i, self.cfg.stop_traffic, tx);
                } else if phase == Phase::CuttingOver {
                    if super::guard::may_complete(&self.dbs[i].state).is_ok() {
                        self.apply(i, Event::Command(Command::Complete), tx);
                    } else {
                        self.auto_cutover(i, tx);
                    }
                }
            }
        }
    }

    fn start_uploads(&mut self, i: usize, tx: &mpsc::UnboundedSender<Msg>) {
        let now = Instant::now();
        let d = &self.dbs[i];
        let todo: Vec<String> = d
            .state
            .files
            .iter()
            .filter(|f| match f.status {
                FileStatus::Arrived => true,
                // After a restart there is no due time: at once.
                FileStatus::Retrying => d.upload_retry.get(&f.name).is_none_or(|r| r.due <= now),
                _ => false,
            })
            .filter(|f| !d.uploading.contains(&f.name))
            .map(|f| f.name.clone())
            .collect();
        for file in todo {
            let Some(locals) = self.dbs[i].locals.get(&file).cloned() else {
                continue;
            };
            let items: Vec<UploadItem> = locals
                .iter()
                .filter_map(|l| {
                    self.dbs[i].layout.blob_name(l).map(|blob| UploadItem {
                        local: l.clone(),
                        blob,
                    })
                })
                .collect();
            self.dbs[i].uploading.insert(file.clone());
            let _ = self.dbs[i]
                .state
                .apply(Event::UploadStarted { file: file.clone() });
            let up = self.uploader.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut result = Ok(());
                for item in &items {
                    if let Err(e) = up.upload_file(item).await {
                        result = Err(e);
                        break;
                    }
                }
                let _ = tx.send(Msg::UploadDone {
                    db: i,
                    file,
                    result,
                });
            });
        }
    }
}

/// The LRS 30-day finding of a database whose restore runs (not once complete was sent).
fn time_limit_finding(st: &DatabaseState, now_unix: i64) -> Option<Finding> {
    if st.phase.is_final() || st.phase == Phase::Completing || !st.lrs_started {
        return None;
    }
    super::lrs_limit::finding(st.lrs_started_unix?, now_unix)
}

/// The wall clock and engine-wide facts a database's snapshot is computed with.
struct SnapshotClock {
    now_ms: i64,
    paused: bool,
    utc_offset_minutes: Option<i32>,
}

fn db_snapshot(d: &RunDb, now: Instant, clock: &SnapshotClock) -> DatabaseSnapshot {
    let st = &d.state;
    let bytes_total: u64 = st
        .files
        .iter()
        .filter(|f| f.status != FileStatus::Skipped)
        .map(|f| f.size)
        .sum();
    let bytes_uploaded: u64 = st.files.iter().map(|f| f.uploaded_bytes.min(f.size)).sum();
    // Paused: nothing moves, so no rate and no ETA (the UI says "paused").
    let rate = if clock.paused {
        0.0
    } else {
        d.meter.rate_bytes_per_sec(now)
    };
    let restored_last = st
        .last_restored_file
        .as_deref()
        .and_then(|n| st.files.iter().find(|f| f.name == n));
    // Lag stops at completion: the target no longer follows the source.
    let lag_at_ms = st.completed_unix_ms.unwrap_or(clock.now_ms);
    let data_lag_secs = restored_last
        .and_then(|f| f.backup_start.as_deref())
        .and_then(|s| liveness::data_lag_secs(s, clock.utc_offset_minutes, lag_at_ms));
    let steps = StepsInFlight {
        stopping_traffic: d.traffic_busy,
        taking_tail: d.tail_busy,
        tail_awaited_in_folder: d.tail_wait || d.tail_detect || d.pending_tail.is_some(),
    };
    DatabaseSnapshot {
        target_name: d.cfg.target_name.clone(),
        folder: d.cfg.folder.to_string_lossy().into_owned(),
        server_folder: d.cfg.server_folder.clone().unwrap_or_default(),
        bytes_total,
        bytes_uploaded,
        upload_bytes_per_sec: rate,
        upload_history: d.meter.history(now),
        upload_eta_secs: (rate > 0.0 && bytes_total > bytes_uploaded)
            .then(|| (bytes_total - bytes_uploaded) as f64 / rate),
        last_applied_lsn: restored_last.map(|f| f.last_lsn.to_string()),
        data_lag_secs,
        pending_log_backups: st
            .pending()
            .iter()
            .filter(|f| f.backup_type == BackupType::Log)
            .count(),
        findings: {
            let mut f = d.findings.clone();
            f.extend(time_limit_finding(
                st,
                time::OffsetDateTime::now_utc().unix_timestamp(),
            ));
            f
        },
        cutover_refusal: super::guard::may_complete(st).err().map(|r| r.to_string()),
        traffic_stopped: d.traffic_stopped,
        elapsed_secs: d.started.elapsed().as_secs_f64(),
        data_lag_utc_known: clock.utc_offset_minutes.is_some(),
        downtime_started_unix: st.downtime_started_unix_ms.map(|ms| ms.div_euclid(1000)),
        downtime_secs: downtime::downtime_secs(
            st.downtime_started_unix_ms,
            st.completed_unix_ms,
            clock.now_ms,
        ),
        cutover_waiting_for: super::guard::waiting_for(st, steps),
        completed_unix: st.completed_unix_ms.map(|ms| ms.div_euclid(1000)),
        source_access: st.source_access,
        state: st.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restore_status_polls_back_off_after_failures_and_cap_at_five_minutes() {
        let ten = Duration::from_secs(10);
        assert_eq!(poll_delay(ten, 0), ten);
        assert_eq!(poll_delay(ten, 1), Duration::from_secs(20));
        assert_eq!(poll_delay(ten, 3), Duration::from_secs(80));
        assert_eq!(poll_delay(ten, 5), Duration::from_secs(300));
        assert_eq!(poll_delay(ten, u32::MAX), Duration::from_secs(300));
        let long = Duration::from_secs(600);
        assert_eq!(poll_delay(long, 4), long, "never shorter than the interval");
        assert_eq!(seconds(Duration::from_millis(600)), "0.6 s");
        assert_eq!(seconds(Duration::from_secs(20)), "20 s");
    }

    #[test]
    fn uploads_are_tried_again_soon_after_a_change_and_backing_off_after_failures() {
        assert_eq!(upload_retry_delay(0), Duration::from_secs(1));
        assert_eq!(upload_retry_delay(1), Duration::from_secs(15));
        assert_eq!(upload_retry_delay(2), Duration::from_secs(30));
        assert_eq!(upload_retry_delay(5), Duration::from_secs(240));
        assert_eq!(upload_retry_delay(6), Duration::from_secs(300));
        assert_eq!(upload_retry_delay(u32::MAX), Duration::from_secs(300));
    }
}
