//! The engine task's spawned work and the messages it reports back: a folder scan, a file upload,
//! the LRS calls (start or take up, status, complete, cancel), the target check, stop / undo
//! traffic, the tail-log backup, the source server's UTC offset. Each function spawns one task that
//! sends one [`Msg`] (cancel and the UTC offset excepted); [`Engine::on_msg`] hands each message to
//! the module that owns its step.

use crate::engine::error::Error;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};

use super::Engine;
use crate::backup_folder::BackupFolder;
use crate::catalog;
use crate::engine::folder_scan::FolderCache;
use crate::engine::reattach::{self, RestoreIdentity};
use crate::restore_target::RestoreTarget;
use crate::restore_target::details::RestoreDetails;
use crate::restore_target::lrs::StartRequest;
use crate::source::SourceOptions;
use crate::source::tail::{StopTraffic, TailRequest, take_tail_log_backup_in};
use crate::storage::error::StorageError;
use crate::storage::upload::{UploadItem, Uploader};

/// What a spawned task reports back (`db`: the database's index in the engine).
pub(super) enum Msg {
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
        /// On failure, the client's error (its HTTP status: 404 is no restore of this database).
        result: Result<Box<RestoreDetails>, Error>,
    },
    CompleteSent {
        db: usize,
        /// On failure, the client's error (with its LRS error code).
        result: Result<(), Error>,
    },
    Traffic {
        db: usize,
        how: StopTraffic,
        stopped: bool,
        result: Result<(), Error>,
    },
    /// What the database's target on the instance holds, checked at the start.
    TargetChecked {
        db: usize,
        verdict: reattach::Verdict,
    },
    TailTaken {
        db: usize,
        /// On failure, the source's error (its SQL Server number: 927 is already restoring).
        result: Result<PathBuf, Error>,
    },
    /// The completed database as the instance's SQL endpoint reports it.
    TargetVerified {
        db: usize,
        result: Result<Box<crate::target_sql::PostCutover>, String>,
    },
    /// The selected logins as planned against the instance (each Pending), and the names
    /// `[logins] select` gives that the source does not have.
    LoginsPlanned {
        rows: Vec<crate::model::LoginRow>,
        missing: Vec<String>,
    },
    /// One login migrated, found there, skipped or failed.
    LoginDone { row: crate::model::LoginRow },
    /// The logins' migration ended (or could not go on: a connection failed).
    LoginsFinished { result: Result<(), String> },
    /// A completed database's orphaned users on the instance.
    OrphansChecked {
        db: usize,
        result: Result<super::logins::Orphans, String>,
    },
    /// The target's tier and databases (read once at the start), for the limit on restores.
    TargetFacts {
        result: Result<Option<crate::restore_target::seam::TargetFacts>, String>,
    },
}

impl Msg {
    fn db(&self) -> Option<usize> {
        Some(match self {
            Msg::Scanned { db, .. }
            | Msg::UploadDone { db, .. }
            | Msg::LrsStarted { db, .. }
            | Msg::LrsPolled { db, .. }
            | Msg::CompleteSent { db, .. }
            | Msg::Traffic { db, .. }
            | Msg::TailTaken { db, .. }
            | Msg::TargetChecked { db, .. }
            | Msg::TargetVerified { db, .. }
            | Msg::OrphansChecked { db, .. } => *db,
            Msg::TargetFacts { .. }
            | Msg::LoginsPlanned { .. }
            | Msg::LoginDone { .. }
            | Msg::LoginsFinished { .. } => return None,
        })
    }
}

impl Engine {
    /// A spawned task reported back.
    pub(super) fn on_msg(&mut self, m: Msg, tx: &mpsc::UnboundedSender<Msg>) {
        // Scans and polls change the state only through `apply` (which notes it); every other
        // message is a step of its own.
        if !matches!(m, Msg::Scanned { .. } | Msg::LrsPolled { .. }) {
            self.persist_dirty = true;
            if let Some(d) = m.db().and_then(|db| self.dbs.get_mut(db)) {
                d.unsaved = true;
            }
        }
        match m {
            Msg::Scanned { db, result } => self.on_scanned(db, result, tx),
            Msg::UploadDone { db, file, result } => self.on_upload_done(db, file, result, tx),
            Msg::TargetChecked { db, verdict } => self.on_target_checked(db, verdict, tx),
            Msg::TargetFacts { result } => self.on_target_facts(result),
            Msg::LrsStarted { db, result } => self.on_lrs_started(db, result, tx),
            Msg::LrsPolled { db, result } => self.on_lrs_polled(db, result, tx),
            Msg::CompleteSent { db, result } => self.on_complete_sent(db, result, tx),
            Msg::Traffic {
                db,
                how,
                stopped,
                result,
            } => self.on_traffic(db, how, stopped, result),
            Msg::TailTaken { db, result } => self.on_tail_taken(db, result, tx),
            Msg::TargetVerified { db, result } => self.on_target_verified(db, result),
            Msg::LoginsPlanned { rows, missing } => self.on_logins_planned(rows, missing),
            Msg::LoginDone { row } => self.on_login_done(row),
            Msg::LoginsFinished { result } => self.on_logins_finished(result),
            Msg::OrphansChecked { db, result } => self.on_orphans_checked(db, result),
        }
    }
}

/// Re-scans a database's folder on a blocking thread (only changed files are read again).
pub(super) fn scan_folder(
    db: usize,
    folder: PathBuf,
    cache: Arc<Mutex<FolderCache>>,
    tx: &mpsc::UnboundedSender<Msg>,
) {
    let tx = tx.clone();
    tokio::task::spawn_blocking(move || {
        let result = match cache.lock() {
            Ok(mut c) => c.rescan(&folder).map(|r| r.map(Box::new)),
            Err(_) => Err("the folder cache is unusable".into()),
        };
        let _ = tx.send(Msg::Scanned { db, result });
    });
}

/// Uploads a backup file (its stripes, one after the other; the first failure ends it).
pub(super) fn upload(
    db: usize,
    up: Arc<Uploader>,
    file: String,
    items: Vec<UploadItem>,
    tx: &mpsc::UnboundedSender<Msg>,
) {
    let tx = tx.clone();
    tokio::spawn(async move {
        let mut result = Ok(());
        for item in &items {
            if let Err(e) = up.upload_file(item).await {
                result = Err(e);
                break;
            }
        }
        let _ = tx.send(Msg::UploadDone { db, file, result });
    });
}

/// Checks what the database's target on the instance holds (see [`reattach::check_target`]).
pub(super) fn check_target(
    db: usize,
    lrs: Arc<dyn RestoreTarget>,
    activity: String,
    target: String,
    identity: Option<RestoreIdentity>,
    started: bool,
    tx: &mpsc::UnboundedSender<Msg>,
) {
    let tx = tx.clone();
    tokio::spawn(async move {
        let verdict =
            reattach::check_target(lrs.as_ref(), &activity, &target, identity, started).await;
        let _ = tx.send(Msg::TargetChecked { db, verdict });
    });
}

/// Starts the restore, or takes up the one this activity started (see [`reattach::start_or_adopt`]).
pub(super) fn start_restore(
    db: usize,
    lrs: Arc<dyn RestoreTarget>,
    req: StartRequest,
    prior: Option<RestoreIdentity>,
    want: RestoreIdentity,
    our_files: Vec<String>,
    tx: &mpsc::UnboundedSender<Msg>,
) {
    let tx = tx.clone();
    tokio::spawn(async move {
        let result = reattach::start_or_adopt(lrs.as_ref(), &req, prior, want, &our_files).await;
        let _ = tx.send(Msg::LrsStarted { db, result });
    });
}

/// Reads the restore's status.
pub(super) fn read_status(
    db: usize,
    lrs: Arc<dyn RestoreTarget>,
    target: String,
    tx: &mpsc::UnboundedSender<Msg>,
) {
    let tx = tx.clone();
    tokio::spawn(async move {
        let result = lrs.status(&target).await.map(Box::new).map_err(Error::from);
        let _ = tx.send(Msg::LrsPolled { db, result });
    });
}

/// Completes the restore with `last_backup_name`.
pub(super) fn send_complete(
    db: usize,
    lrs: Arc<dyn RestoreTarget>,
    target: String,
    last_backup_name: String,
    tx: &mpsc::UnboundedSender<Msg>,
) {
    let tx = tx.clone();
    tokio::spawn(async move {
        let result = lrs
            .complete(&target, &last_backup_name)
            .await
            .map_err(Error::from);
        let _ = tx.send(Msg::CompleteSent { db, result });
    });
}

/// Cancels the restore; nothing is reported back (a failure is only logged).
/// Reads the target's tier and databases in the background (a failure is said, and the default
/// limits stay).
pub(super) fn read_facts(lrs: Arc<dyn RestoreTarget>, tx: &mpsc::UnboundedSender<Msg>) {
    let tx = tx.clone();
    tokio::spawn(async move {
        let result = lrs.facts().await.map_err(|e| e.to_string());
        let _ = tx.send(Msg::TargetFacts { result });
    });
}

/// Cancels the restore in the background; `cancelling` counts it until the instance answered (its
/// restore holds a slot until then).
pub(super) fn cancel_restore(
    lrs: Arc<dyn RestoreTarget>,
    target: String,
    cancelling: Arc<std::sync::atomic::AtomicUsize>,
) {
    use std::sync::atomic::Ordering;
    cancelling.fetch_add(1, Ordering::SeqCst);
    tokio::spawn(async move {
        if let Err(e) = lrs.cancel(&target).await {
            tracing::warn!(database = target, "cancel: {e}");
        }
        cancelling.fetch_sub(1, Ordering::SeqCst);
    });
}

/// Takes the tail-log backup on the source and waits for its file to appear in the folder.
pub(super) fn take_tail(
    db: usize,
    backups: Arc<dyn BackupFolder>,
    opts: SourceOptions,
    req: TailRequest,
    tx: &mpsc::UnboundedSender<Msg>,
) {
    let tx = tx.clone();
    tokio::spawn(async move {
        let result = take_tail_log_backup_in(backups.as_ref(), &opts, &req)
            .await
            .map(|t| t.local_path)
            .map_err(Error::from);
        let _ = tx.send(Msg::TailTaken { db, result });
    });
}

/// Stops traffic to the source database `name` (`stop`), or undoes that, on a connection of its own.
pub(super) fn set_traffic(
    db: usize,
    opts: SourceOptions,
    name: String,
    how: StopTraffic,
    stop: bool,
    tx: &mpsc::UnboundedSender<Msg>,
) {
    let tx = tx.clone();
    tokio::spawn(async move {
        let result = async {
            let mut c = crate::source::SourceClient::connect(&opts).await?;
            let r = if stop {
                c.stop_traffic(&name, how).await
            } else {
                c.undo_stop_traffic(&name, how).await
            };
            c.close().await;
            r
        }
        .await
        .map_err(Error::from);
        let _ = tx.send(Msg::Traffic {
            db,
            how,
            stopped: stop,
            result,
        });
    });
}

/// Reads the source server's offset from UTC on a connection of its own (the answer, or why not;
/// the channel closes at once without a source connection).
pub(super) fn read_source_offset(
    source: Option<SourceOptions>,
) -> oneshot::Receiver<Result<i32, String>> {
    let (tx, rx) = oneshot::channel();
    if let Some(opts) = source {
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
