//! The engine task: one tokio task that runs every database of an activity from first upload to
//! completed cutover. It scans the backup folders, uploads new files (shared limits), starts and polls
//! the Log Replay Service, runs the cutover steps (stop traffic, tail-log backup, complete) and
//! publishes a [`MigrationSnapshot`] on every change. Slow work runs in spawned tasks that report back
//! through one channel; the state machine ([`DatabaseState::apply`]) decides, the guard guards.
//!
//! This file holds the configuration, [`start`], [`EngineHandle`] and the task's select loop; the
//! rest of the engine task is in: `database` (one database as the task holds it), `tasks` (the
//! spawned work and the messages it reports), `drive` (applying events, carrying out actions, what
//! becomes due by itself), `scan`, `uploads`, `restore` (LRS start / status / complete / cancel, the
//! target check), `cutover` (stop traffic, tail-log backup, downtime), `commands` (the UIs'
//! commands), `save` and `publish` (snapshots).
//!
//! [`DatabaseState::apply`]: super::state::DatabaseState::apply

mod commands;
mod cutover;
mod database;
mod drive;
mod logins;
mod publish;
mod restore;
mod save;
mod scan;
mod tasks;
mod uploads;

use crate::model::Severity;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use super::persist;
use super::snapshot::{EngineCommand, EventLine, MigrationSnapshot, TailMode};
use super::state::Phase;
use crate::backup_folder::BackupFolder;
use crate::restore_target::RestoreTarget;
use crate::restore_target::lrs::StorageAccess;
use crate::source::SourceOptions;
use crate::source::tail::StopTraffic;
use crate::storage::client::BlobStore;
use crate::storage::progress::UploadEvent;
use crate::storage::upload::{UploadOptions, Uploader};
use database::RunDb;
use tasks::Msg;

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
    /// Where the databases' backup folders are read from (a local folder: `LocalFolder::shared()`).
    pub backups: Arc<dyn BackupFolder>,
    pub store: Arc<BlobStore>,
    /// The container URL without credentials; LRS reads `<container_url>/<db folder>`.
    pub container_url: String,
    pub upload: UploadOptions,
    /// The restore target the engine drives (the LRS client of a managed instance).
    pub lrs: Arc<dyn RestoreTarget>,
    /// How the managed instance reads the container (Read + List SAS or managed identity).
    pub lrs_access: StorageAccess,
    pub location: String,
    pub collation: String,
    /// The source connection, for stopping traffic and taking the tail-log backup.
    pub source: Option<SourceOptions>,
    /// The managed instance's SQL endpoint (`[target] sql_server`): checked before the upload
    /// (`target_sql`), and named in the connection string the snapshot offers.
    pub target_sql: Option<SourceOptions>,
    /// Server logins migrated to the instance before cutover, and orphaned users looked for after
    /// each database's (`[logins]`; needs `source` and `target_sql`).
    pub logins: Option<crate::logins::LoginsRun>,
    /// Begin cutover by itself once a database is ready (headless `--cutover when-ready`).
    pub cutover_when_ready: bool,
    pub tail: TailMode,
    pub stop_traffic: Option<StopTraffic>,
    pub scan_interval: Duration,
    pub lrs_poll: Duration,
    pub state_file: PathBuf,
    /// Retry the databases a re-attached state says Failed (headless `--retry-failed`).
    pub retry_failed: bool,
    /// LRS's limits on restores at once: beyond them a database waits Queued (see
    /// [`crate::engine::lrs_slots`]).
    pub lrs_limits: crate::engine::lrs_slots::LrsLimits,
}

/// A running engine: read snapshots, send commands, await the end.
pub struct EngineHandle {
    pub snapshots: watch::Receiver<MigrationSnapshot>,
    pub commands: mpsc::UnboundedSender<EngineCommand>,
    /// Every event line, once (the snapshot keeps only the newest ones): for headless output.
    pub event_log: mpsc::UnboundedReceiver<EventLine>,
    pub task: tokio::task::JoinHandle<Result<(), String>>,
}

/// A wait as the event log says it: `0.6 s` under ten seconds, whole seconds above.
fn seconds(d: Duration) -> String {
    if d < Duration::from_secs(10) {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{} s", d.as_secs())
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
    let saved_logins = if cfg.logins.is_some() {
        persist::load_logins(&cfg.state_file)?.logins
    } else {
        Vec::new()
    };
    let now = Instant::now();
    let mut dbs = Vec::new();
    for d in &cfg.databases {
        let saved = previous
            .as_ref()
            .and_then(|p| p.databases.iter().find(|x| x.state.name == d.name));
        dbs.push(RunDb::resume(d, saved, &cfg.state_file, now, &cfg.backups)?);
    }
    let (up_tx, up_rx) = mpsc::unbounded_channel();
    let uploader = Uploader::with_folder(
        cfg.store.clone(),
        cfg.upload.clone(),
        up_tx,
        cfg.backups.clone(),
    );
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
        target_verifying: 0,
        facts_read_at: None,
        facts_seen: false,
        generation: 0,
        cancelling: Arc::default(),
        logins: logins::LoginsState {
            rows: saved_logins,
            ..Default::default()
        },
        tx: None,
    };
    if let Some(notice) = existing {
        engine.log(None, Severity::Info, notice);
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
    /// Completed databases being read on the instance's SQL endpoint: the engine ends after them.
    target_verifying: usize,
    /// When the target's facts were last asked for (`None`: a read is on its way or none yet):
    /// read again every few polls while a database waits for a restore slot.
    facts_read_at: Option<Instant>,
    /// The target's facts arrived once (later reads log only what changed).
    facts_seen: bool,
    generation: u64,
    /// Cancels sent and not yet answered: their restores still hold a slot on the instance.
    cancelling: Arc<std::sync::atomic::AtomicUsize>,
    /// The server logins the run migrates (`[logins]`).
    logins: logins::LoginsState,
    tx: Option<watch::Sender<MigrationSnapshot>>,
}

const MAX_EVENTS: usize = 200;

impl Engine {
    fn log(&mut self, db: Option<&str>, level: Severity, message: impl Into<String>) {
        let message = message.into();
        match level {
            Severity::Error => tracing::error!(database = db, "{message}"),
            Severity::Warning => tracing::warn!(database = db, "{message}"),
            Severity::Info => tracing::info!(database = db, "{message}"),
        }
        let line = EventLine {
            at_secs: self.started.elapsed().as_secs(),
            unix_secs: time::OffsetDateTime::now_utc().unix_timestamp(),
            database: db.map(String::from),
            level,
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
        let mut source_offset = tasks::read_source_offset(self.cfg.source.clone());
        let mut source_offset_pending = true;
        self.persist_dirty = true;
        if self.cfg.retry_failed {
            for i in 0..self.dbs.len() {
                if self.dbs[i].state.phase == Phase::Failed {
                    let name = self.dbs[i].cfg.name.clone();
                    self.log(Some(&name), Severity::Info, "retrying (--retry-failed)");
                    self.retry(i, &tx);
                }
            }
        }
        tasks::read_facts(self.cfg.lrs.clone(), &tx);
        self.start_logins(&tx);
        for i in 0..self.dbs.len() {
            if self.dbs[i].state.lrs_started && !self.dbs[i].state.phase.is_final() {
                self.log(
                    Some(&self.dbs[i].cfg.name.clone()),
                    Severity::Info,
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
                    if self.logins_retry_due(Instant::now()) {
                        self.start_logins(&tx);
                    }
                    if self.upload_retry_due(Instant::now()) {
                        self.drive_due = true;
                    }
                    // A restore queued for a slot: look again (a cancel may have been answered), and
                    // every few polls read what others run on the target and its subscription.
                    if self.dbs.iter().any(|d| d.state.lrs_queued.is_some() && !d.state.lrs_started) {
                        self.drive_due = true;
                        if self.facts_read_at.is_some_and(|t| now.saturating_duration_since(t) >= self.cfg.lrs_poll * 3) {
                            self.facts_read_at = None;
                            tasks::read_facts(self.cfg.lrs.clone(), &tx);
                        }
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
                        self.finish_target_checks(&mut rx, &tx).await;
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
            if !self.dbs.is_empty()
                && self.dbs.iter().all(|d| d.state.phase.is_final())
                && self.target_verifying == 0
                && !self.logins.busy
            {
                self.publish();
                return Ok(());
            }
        }
    }
}
