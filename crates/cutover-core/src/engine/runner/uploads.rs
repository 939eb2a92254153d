//! Uploads: which arrived (or due again) files of a database to send, the uploader's progress
//! events, and what an ended upload means: uploaded, tried again later with a back-off (the file
//! changed, the service was away or busy), or failed for good (that database alone is Failed).

use crate::engine::state::StateMachine;
use crate::model::Severity;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::tasks::{self, Msg};
use super::{Engine, seconds};
use crate::engine::state::{Event, FileStatus, Phase};
use crate::storage::error::StorageError;
use crate::storage::progress::UploadEvent;
use crate::storage::upload::UploadItem;

/// A file's next upload attempt after failures that may pass.
#[derive(Debug, Clone, Copy)]
pub(super) struct UploadRetry {
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

impl Engine {
    /// Starts uploading the database's arrived files and those whose retry is due.
    pub(super) fn start_uploads(&mut self, i: usize, tx: &mpsc::UnboundedSender<Msg>) {
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
            .filter(|f| !d.in_flight.is_uploading(&f.name))
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
            self.dbs[i].in_flight.start_upload(&file);
            let _ = self.dbs[i]
                .state
                .apply(Event::UploadStarted { file: file.clone() });
            tasks::upload(i, self.uploader.clone(), file, items, tx);
        }
    }

    /// The uploader's progress (bytes sent, the upload rate) and its retries, in the event log.
    pub(super) fn on_upload_event(&mut self, e: UploadEvent) {
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
                    Severity::Warning,
                    format!("{file}: retry {attempt}: {reason}"),
                );
            }
            _ => {}
        }
    }

    /// A file's upload ended: uploaded; or to be tried again later (the file changed, the service
    /// was away or busy), the database going on; or failed for good: that database alone is Failed.
    pub(super) fn on_upload_done(
        &mut self,
        db: usize,
        file: String,
        result: Result<(), StorageError>,
        tx: &mpsc::UnboundedSender<Msg>,
    ) {
        let name = self.dbs[db].cfg.name.clone();
        self.dbs[db].in_flight.upload_finished(&file);
        match result {
            Ok(()) => {
                self.dbs[db].upload_retry.remove(&file);
                self.log(Some(&name), Severity::Info, format!("uploaded {file}"));
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
                self.log(Some(&name), Severity::Warning, msg);
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
    pub(super) fn upload_retry_due(&self, now: Instant) -> bool {
        self.dbs.iter().any(|d| {
            !d.state.phase.is_final()
                && d.state.phase != Phase::Failed
                && d.upload_retry.values().any(|r| r.due <= now)
        })
    }

    /// The database and file name of a blob (`<db-folder>/<file>`).
    fn locate_blob(&self, blob: &str) -> Option<(usize, String)> {
        let (folder, file) = blob.split_once('/')?;
        let i = self.dbs.iter().position(|d| d.layout.folder() == folder)?;
        Some((i, file.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
