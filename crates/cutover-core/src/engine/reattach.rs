//! Re-attach only to a restore this activity started. ARM gives a Log Replay Service restore no id
//! of its own, so the activity records what identifies the one it started ([`RestoreIdentity`]: the
//! container folder, when the start was sent, the start's operation id and the database's
//! `creationDate`). Before a start, whatever the target already has is judged against that record
//! ([`before_start`]): a restore this activity asked for before a restart is adopted, anything else
//! (another activity's restore, an earlier migration's database) is refused with what exists and
//! what to do. On re-attach, a database whose creation date differs from the record is another
//! restore than ours ([`check_reattached`]).

use serde::{Deserialize, Serialize};

use super::Error;
use crate::restore_target::RestoreTarget;
use crate::restore_target::details::RestoreDetails;
use crate::restore_target::lrs::{ManagedDatabase, StartRequest, StartedRestore};

/// The restore an activity started, as recorded in its state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreIdentity {
    pub activity: String,
    /// The database name on the managed instance.
    pub target: String,
    /// The container folder LRS reads (no SAS).
    pub storage_uri: String,
    /// When this activity sent the start (Unix seconds, UTC); recorded before sending.
    pub requested_unix: i64,
    /// When LRS accepted it (absent: the process stopped before the answer).
    #[serde(default)]
    pub accepted_unix: Option<i64>,
    /// The start's long-running operation id.
    #[serde(default)]
    pub operation_id: Option<String>,
    /// The managed database's `creationDate`, as ARM gave it.
    #[serde(default)]
    pub creation_date: Option<String>,
}

impl RestoreIdentity {
    /// A start about to be sent.
    pub fn requested(activity: &str, target: &str, storage_uri: &str, now_unix: i64) -> Self {
        RestoreIdentity {
            activity: activity.to_string(),
            target: target.to_string(),
            storage_uri: storage_uri.to_string(),
            requested_unix: now_unix,
            accepted_unix: None,
            operation_id: None,
            creation_date: None,
        }
    }

    /// The start was accepted: what LRS said about it.
    pub fn accepted(mut self, started: StartedRestore, now_unix: i64) -> Self {
        self.accepted_unix = Some(now_unix);
        self.operation_id = started.operation_id.or(self.operation_id);
        self.creation_date = started.creation_date.or(self.creation_date);
        self
    }
}

/// What the managed instance has under a target name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExistingTarget {
    /// restoreDetails answered: a restore (or a database that was restored).
    pub restore: Option<RestoreDetails>,
    /// The database resource.
    pub database: Option<ManagedDatabase>,
}

impl ExistingTarget {
    pub fn is_empty(&self) -> bool {
        self.restore.is_none() && self.database.is_none()
    }

    /// A Log Replay Service restore still restoring (not completed, not failed).
    fn restoring(&self) -> bool {
        let db_online = self
            .database
            .as_ref()
            .and_then(|d| d.status.as_deref())
            .is_some_and(|s| s.eq_ignore_ascii_case("Online"));
        self.restore.as_ref().is_some_and(|r| {
            r.is_lrs()
                && r.status.as_deref().is_none_or(|s| {
                    !["Completed", "Online", "Failed", "Cancelled", "Canceled"]
                        .iter()
                        .any(|x| s.eq_ignore_ascii_case(x))
                })
        }) && !db_online
    }

    /// The backup file names the restore reports (newest upload, sets, current, last restored).
    fn file_names(&self) -> Vec<&str> {
        let Some(r) = &self.restore else {
            return Vec::new();
        };
        [
            r.last_uploaded_file_name.as_deref(),
            r.last_restored_file_name.as_deref(),
            r.current_restoring_file_name.as_deref(),
        ]
        .into_iter()
        .flatten()
        .chain(
            r.full_backup_sets
                .iter()
                .chain(&r.diff_backup_sets)
                .chain(&r.log_backup_sets)
                .filter_map(|s| s.first_stripe_name.as_deref()),
        )
        .collect()
    }

    /// `a Log Replay Service restore (status Restoring, created ..., reading files such as X)`.
    fn describe(&self) -> String {
        let status = self
            .restore
            .as_ref()
            .and_then(|r| r.status.clone())
            .or_else(|| self.database.as_ref().and_then(|d| d.status.clone()))
            .unwrap_or_else(|| "unknown".into());
        let what = if self.restoring() {
            "a Log Replay Service restore"
        } else {
            "a database"
        };
        let mut parts = vec![format!("status {status}")];
        if let Some(c) = self
            .database
            .as_ref()
            .and_then(|d| d.creation_date.as_ref())
        {
            parts.push(format!("created {c}"));
        }
        if let Some(f) = self.file_names().first() {
            parts.push(format!("reading files such as {f}"));
        }
        format!("{what} ({})", parts.join(", "))
    }
}

/// What the target has, read from the managed instance: restoreDetails, then the database.
pub async fn look(lrs: &dyn RestoreTarget, target: &str) -> Result<ExistingTarget, Error> {
    let restore = match lrs.status(target).await {
        Ok(d) => Some(d),
        Err(e) if e.http_status() == Some(404) => None,
        Err(e) => return Err(e.into()),
    };
    let database = lrs.database(target).await?;
    Ok(ExistingTarget { restore, database })
}

/// What to do before starting a restore of `want.target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nothing there: start.
    Start,
    /// The restore this activity asked for before a restart: take it up, with this identity.
    Adopt(RestoreIdentity),
    /// Something this activity did not start: the reason and what to do.
    Refuse(String),
}

/// How a start ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    pub identity: RestoreIdentity,
    /// The restore this activity asked for before a restart was taken up (no new start sent).
    pub adopted: bool,
}

/// A start that did not happen: the message (what happened, what to do) and the identity the
/// state should keep (the earlier one when nothing was started, this start's when the answer is
/// unknown and a restore may exist).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotStarted {
    pub message: String,
    pub keep: Option<RestoreIdentity>,
}

/// Starts the restore of `want.target`, or takes up the one this activity started before a restart
/// (`prior`); anything else the target has is refused. `want` must have been saved in the state
/// before this is called (a crash during the start then still knows the restore is this activity's).
pub async fn start_or_adopt(
    lrs: &dyn RestoreTarget,
    req: &StartRequest,
    prior: Option<RestoreIdentity>,
    want: RestoreIdentity,
    our_files: &[String],
) -> Result<Started, NotStarted> {
    let now = || time::OffsetDateTime::now_utc().unix_timestamp();
    match look(lrs, &want.target).await {
        Ok(existing) => match before_start(prior.as_ref(), &want, &existing, our_files) {
            Decision::Start => {}
            Decision::Adopt(mut identity) => {
                identity.accepted_unix = identity.accepted_unix.or(Some(now()));
                return Ok(Started {
                    identity,
                    adopted: true,
                });
            }
            Decision::Refuse(message) => {
                return Err(NotStarted {
                    message,
                    keep: prior,
                });
            }
        },
        // The start itself never takes up an existing restore (LRS answers
        // DuplicateRestoreOperation / ManagedDatabaseNameInUse): go on.
        Err(e) => tracing::warn!(
            database = want.target,
            "cannot read what the target has: {e}"
        ),
    }
    match lrs.start(&want.target, req).await {
        Ok(started) => Ok(Started {
            identity: want.accepted(started, now()),
            adopted: false,
        }),
        Err(e) => {
            // A refusal (4xx) started nothing; otherwise a restore may exist: keep this start's
            // record so that a retry recognises it.
            let refused = e.http_status().is_some_and(|s| (400..500).contains(&s));
            Err(NotStarted {
                message: format!("starting the Log Replay Service failed: {e}"),
                keep: if refused { prior } else { Some(want) },
            })
        }
    }
}

/// Seconds a database's creation date may precede the recorded request (clocks differ).
const CLOCK_SKEW_SECS: i64 = 300;

fn unix(rfc3339: &str) -> Option<i64> {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

/// Judges what the target already has against the start this activity recorded before (`prior`,
/// from the state file: a start sent by an earlier run that stopped before the answer was saved).
/// `our_files`: the backup file names this activity put in its folder.
pub fn before_start(
    prior: Option<&RestoreIdentity>,
    want: &RestoreIdentity,
    existing: &ExistingTarget,
    our_files: &[String],
) -> Decision {
    if existing.is_empty() {
        return Decision::Start;
    }
    let ours = prior.filter(|p| {
        let created = existing
            .database
            .as_ref()
            .and_then(|d| d.creation_date.as_deref())
            .and_then(unix);
        let reads_our_files = existing
            .file_names()
            .iter()
            .all(|f| our_files.iter().any(|o| o == f));
        p.activity == want.activity
            && p.target == want.target
            && p.storage_uri == want.storage_uri
            && existing.restoring()
            && reads_our_files
            && created.is_none_or(|c| c >= p.requested_unix - CLOCK_SKEW_SECS)
            && p.creation_date.as_deref().is_none_or(|d| {
                existing
                    .database
                    .as_ref()
                    .and_then(|x| x.creation_date.as_deref())
                    .is_none_or(|x| x == d)
            })
    });
    if let Some(p) = ours {
        let mut adopted = p.clone();
        if adopted.creation_date.is_none() {
            adopted.creation_date = existing
                .database
                .as_ref()
                .and_then(|d| d.creation_date.clone());
        }
        return Decision::Adopt(adopted);
    }
    Decision::Refuse(refusal(want, existing))
}

fn refusal(want: &RestoreIdentity, existing: &ExistingTarget) -> String {
    let t = &want.target;
    let what = existing.describe();
    let fix = if existing.restoring() {
        format!(
            "if another activity started it, run that activity (its state folder and name) instead; if it is a leftover, cancel it with `cutover lrs cancel --name {t} ...` (this drops the restoring database); to migrate beside it, give this database another target name ([[backups.database]] target_name)"
        )
    } else {
        format!(
            "if it is an earlier migration's result or a database in use, give this database another target name ([[backups.database]] target_name); to replace it, drop '{t}' on the managed instance first"
        )
    };
    format!(
        "refused: the managed instance already has {what} named '{t}' that activity '{}' did not start; cutover re-attaches only to a restore its own activity started. What to do: {fix}",
        want.activity
    )
}

/// On re-attach: the restore the state says this activity started must still be that one. `None`
/// when it is (or when nothing tells them apart: no creation date recorded or given); the reason
/// otherwise. A target with nothing any more is left to the restore-status polls (a vanished
/// restore is reported there).
pub fn check_reattached(identity: &RestoreIdentity, existing: &ExistingTarget) -> Option<String> {
    let recorded = identity.creation_date.as_deref()?;
    let now = existing.database.as_ref()?.creation_date.as_deref()?;
    if unix(recorded).is_some_and(|r| unix(now) == Some(r)) || recorded == now {
        return None;
    }
    Some(format!(
        "the restore this activity started on '{}' (created {recorded}) is gone: the managed instance now has {} created {now}, which activity '{}' did not start. cutover will not re-attach to it. If the restore was cancelled and another activity started one, leave it to that activity; to restore this database again, drop '{}' on the managed instance (or choose another target name), then retry",
        identity.target,
        existing.describe(),
        identity.activity,
        identity.target,
    ))
}

/// What the target check at the engine's start found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing in the way (or nothing could be read: a start never takes up a restore).
    Clear,
    /// The restore this activity started was replaced by another one: the reason.
    Gone(String),
    /// The target has something this activity never asked for: the reason, before any upload.
    Refuse(String),
}

/// Checks a database's target when the engine starts, before anything is uploaded: a re-attached
/// restore must still be this activity's (`identity` with `started`); a database not yet started
/// must not have a restore or database there unless this activity asked for it before a restart
/// (then [`start_or_adopt`] judges it with the files).
pub async fn check_target(
    lrs: &dyn RestoreTarget,
    activity: &str,
    target: &str,
    identity: Option<RestoreIdentity>,
    started: bool,
) -> Verdict {
    let existing = match look(lrs, target).await {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(database = target, "cannot read what the target has: {e}");
            return Verdict::Clear;
        }
    };
    match (identity, started) {
        (Some(id), true) => check_reattached(&id, &existing).map_or(Verdict::Clear, Verdict::Gone),
        (None, true) | (Some(_), false) => Verdict::Clear,
        (None, false) if existing.is_empty() => Verdict::Clear,
        (None, false) => {
            let want = RestoreIdentity::requested(activity, target, "", 0);
            Verdict::Refuse(refusal(&want, &existing))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn want() -> RestoreIdentity {
        RestoreIdentity::requested("b", "Sales", "http://x/c/Sales", 1_000_000)
    }

    fn restoring(created: &str, last: &str) -> ExistingTarget {
        ExistingTarget {
            restore: Some(RestoreDetails {
                kind: Some("LRSRestore".into()),
                status: Some("Restoring".into()),
                last_uploaded_file_name: Some(last.into()),
                ..Default::default()
            }),
            database: Some(ManagedDatabase {
                status: Some("Restoring".into()),
                creation_date: Some(created.into()),
            }),
        }
    }

    // 1_000_000 = 1970-01-12T13:46:40Z
    const AFTER: &str = "1970-01-12T13:47:00Z";
    const BEFORE: &str = "1970-01-11T00:00:00Z";

    #[test]
    fn nothing_there_starts() {
        let d = before_start(None, &want(), &ExistingTarget::default(), &[]);
        assert_eq!(d, Decision::Start);
    }

    #[test]
    fn another_activity_s_restore_is_refused_with_what_exists_and_what_to_do() {
        let e = restoring(AFTER, "Sales_LOG_2.trn");
        let Decision::Refuse(m) = before_start(None, &want(), &e, &["Sales_FULL.bak".into()])
        else {
            panic!("adopted a restore this activity never asked for")
        };
        assert!(m.contains("Log Replay Service restore"), "{m}");
        assert!(m.contains("status Restoring"), "{m}");
        assert!(m.contains("Sales_LOG_2.trn"), "{m}");
        assert!(m.contains("activity 'b' did not start"), "{m}");
        assert!(m.contains("cutover lrs cancel --name Sales"), "{m}");
        assert!(m.contains("target_name"), "{m}");
    }

    #[test]
    fn an_earlier_migration_s_online_database_is_refused() {
        let mut e = restoring(AFTER, "x.bak");
        e.restore.as_mut().unwrap().status = Some("Completed".into());
        e.database.as_mut().unwrap().status = Some("Online".into());
        let prior = want();
        let Decision::Refuse(m) = before_start(Some(&prior), &want(), &e, &["x.bak".into()]) else {
            panic!("a completed database is never re-attached")
        };
        assert!(m.contains("a database (status Completed"), "{m}");
        assert!(m.contains("drop 'Sales'"), "{m}");
    }

    #[test]
    fn the_start_this_activity_sent_before_a_restart_is_adopted_only_if_it_is_that_restore() {
        let prior = want();
        let ours = vec!["Sales_FULL.bak".to_string(), "Sales_LOG_1.trn".to_string()];
        let e = restoring(AFTER, "Sales_LOG_1.trn");
        let Decision::Adopt(id) = before_start(Some(&prior), &want(), &e, &ours) else {
            panic!("our own start is taken up")
        };
        assert_eq!(id.creation_date.as_deref(), Some(AFTER));
        // Created before we asked: someone else's.
        let old = restoring(BEFORE, "Sales_LOG_1.trn");
        assert!(matches!(
            before_start(Some(&prior), &want(), &old, &ours),
            Decision::Refuse(_)
        ));
        // Reading files that are not ours.
        let foreign = restoring(AFTER, "Other_LOG_9.trn");
        assert!(matches!(
            before_start(Some(&prior), &want(), &foreign, &ours),
            Decision::Refuse(_)
        ));
        // Recorded for another folder or activity.
        let mut elsewhere = want();
        elsewhere.storage_uri = "http://x/c/Other".into();
        assert!(matches!(
            before_start(Some(&elsewhere), &want(), &e, &ours),
            Decision::Refuse(_)
        ));
    }

    #[test]
    fn a_re_attached_restore_must_have_the_recorded_creation_date() {
        let id = want().accepted(
            StartedRestore {
                operation_id: Some("op1".into()),
                creation_date: Some(AFTER.into()),
            },
            1_000_010,
        );
        assert_eq!(id.operation_id.as_deref(), Some("op1"));
        assert_eq!(check_reattached(&id, &restoring(AFTER, "x")), None);
        let m = check_reattached(&id, &restoring("1970-02-01T00:00:00Z", "x"))
            .expect("another restore");
        assert!(m.contains("is gone"), "{m}");
        assert!(m.contains("activity 'b' did not start"), "{m}");
        // Nothing there any more: the status polls report a vanished restore.
        assert_eq!(check_reattached(&id, &ExistingTarget::default()), None);
    }
}
