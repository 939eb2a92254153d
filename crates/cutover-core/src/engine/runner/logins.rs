//! Server logins in a run (`[logins]`, with a source connection and the instance's SQL
//! endpoint): right after the start, the selected logins are planned against what the instance has
//! and created one by one (same SID and password hash; mapped Windows principals from the
//! external provider), each row's status published and saved (`persist::save_logins`) as it
//! changes. A connection that fails is retried (30 s, then longer); a login the instance refuses
//! is `Failed` with the reason, never the end of the run. A resumed run sends nothing for a login
//! already Created, Exists or Skipped. After each database's completion, its users on the
//! instance without a login are findings (`ORPHANED_USER`), with the `ALTER USER ... WITH LOGIN`
//! for those whose login is there.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::Engine;
use super::tasks::Msg;
use crate::engine::persist;
use crate::logins::{LoginInventory, LoginPlan, LoginsRun, orphaned_users, plan_logins};
use crate::model::{Code, Finding, LoginRow, LoginStatus, Severity};
use crate::source::{SourceClient, SourceOptions};

/// The logins as the engine task holds them.
#[derive(Debug, Default)]
pub(super) struct LoginsState {
    pub(super) rows: Vec<LoginRow>,
    /// A migration task is running.
    pub(super) busy: bool,
    /// When to try again after a connection failed.
    pub(super) retry_at: Option<Instant>,
    pub(super) failures: u32,
    /// Why the logins are not migrated as a whole now (a connection failed), for the UIs.
    pub(super) note: Option<String>,
    pub(super) unsaved: bool,
    /// The hold of an automatic cutover was said.
    pub(super) hold_said: bool,
}

impl LoginsState {
    /// Still to be done in this run (being migrated, or waiting for a retry).
    pub(super) fn migrating(&self) -> bool {
        self.busy || (self.retry_at.is_some() && self.failures < 3)
    }
}

fn row(p: &LoginPlan, status: LoginStatus) -> LoginRow {
    LoginRow {
        login: p.source.clone(),
        kind: p.kind.to_string(),
        target: p.target.clone(),
        used_by: p.used_by.clone(),
        status,
    }
}

fn quote(name: &str) -> String {
    format!("[{}]", name.replace(']', "]]"))
}

impl Engine {
    /// Starts (or retries) the logins' migration when the run has one and work is left.
    pub(super) fn start_logins(&mut self, tx: &mpsc::UnboundedSender<Msg>) {
        let (Some(run), Some(src), Some(dst)) = (
            self.cfg.logins.clone(),
            self.cfg.source.clone(),
            self.cfg.target_sql.clone(),
        ) else {
            return;
        };
        if self.logins.busy {
            return;
        }
        self.logins.retry_at = None;
        let done: Vec<String> = self
            .logins
            .rows
            .iter()
            .filter(|r| r.status.is_done())
            .map(|r| r.login.clone())
            .collect();
        if !self.logins.rows.is_empty() && done.len() == self.logins.rows.len() {
            self.log(
                None,
                Severity::Info,
                format!(
                    "logins: the {} login(s) of this activity were migrated by an earlier run; nothing is sent again",
                    done.len()
                ),
            );
            return;
        }
        self.logins.busy = true;
        let databases: Vec<String> = self.dbs.iter().map(|d| d.cfg.name.clone()).collect();
        let tx = tx.clone();
        tokio::spawn(async move {
            let result = migrate(&src, &dst, &run, &databases, &done, &tx).await;
            let _ = tx.send(Msg::LoginsFinished { result });
        });
    }

    /// The plan arrived: the rows to show (a login done in an earlier run keeps its status).
    pub(super) fn on_logins_planned(&mut self, planned: Vec<LoginRow>, missing: Vec<String>) {
        let before = std::mem::take(&mut self.logins.rows);
        self.logins.rows = planned
            .into_iter()
            .map(|mut r| {
                if let Some(old) = before
                    .iter()
                    .find(|o| o.login == r.login && o.status.is_done())
                {
                    r.status = old.status.clone();
                }
                r
            })
            .collect();
        for m in missing {
            self.log(
                None,
                Severity::Warning,
                format!("logins: [logins] select names {m}, which the source does not have; check the name with `cutover logins list`"),
            );
        }
        let pending = self
            .logins
            .rows
            .iter()
            .filter(|r| !r.status.is_done())
            .count();
        self.log(
            None,
            Severity::Info,
            format!(
                "logins: {} selected, {pending} to migrate to the instance",
                self.logins.rows.len()
            ),
        );
        self.logins_changed();
    }

    /// One login's outcome.
    pub(super) fn on_login_done(&mut self, done: LoginRow) {
        let (level, what) = match &done.status {
            LoginStatus::Created => (Severity::Info, "created on the instance".to_string()),
            LoginStatus::Exists => (
                Severity::Info,
                "already on the instance with the same SID".to_string(),
            ),
            LoginStatus::Skipped { reason } => (Severity::Warning, format!("skipped: {reason}")),
            LoginStatus::Failed { reason } => (Severity::Error, format!("failed: {reason}")),
            LoginStatus::Pending => (Severity::Info, "pending".to_string()),
        };
        let target = if done.target != done.login {
            format!(" as {}", quote(&done.target))
        } else {
            String::new()
        };
        self.log(
            None,
            level,
            format!("login {}{target}: {what}", quote(&done.login)),
        );
        match self.logins.rows.iter_mut().find(|r| r.login == done.login) {
            Some(r) => *r = done,
            None => self.logins.rows.push(done),
        }
        self.logins_changed();
    }

    /// The migration task ended: a summary, or why it stopped and when it is tried again.
    pub(super) fn on_logins_finished(&mut self, result: Result<(), String>) {
        self.logins.busy = false;
        match result {
            Ok(()) => {
                self.logins.failures = 0;
                self.logins.note = None;
                let count = |f: fn(&LoginStatus) -> bool| {
                    self.logins.rows.iter().filter(|r| f(&r.status)).count()
                };
                let created = count(|s| *s == LoginStatus::Created);
                let exists = count(|s| *s == LoginStatus::Exists);
                let skipped = count(|s| matches!(s, LoginStatus::Skipped { .. }));
                let failed = count(|s| matches!(s, LoginStatus::Failed { .. }));
                let level = if failed > 0 {
                    Severity::Warning
                } else {
                    Severity::Info
                };
                self.log(
                    None,
                    level,
                    format!("logins: {created} created, {exists} already there, {skipped} skipped, {failed} failed{}",
                        if failed > 0 { " (fix what each says, then run `cutover logins migrate` or resume this activity)" } else { "" }),
                );
            }
            Err(e) => {
                self.logins.failures += 1;
                let wait = Duration::from_secs(30 * u64::from(self.logins.failures.min(10)));
                self.logins.retry_at = Some(Instant::now() + wait);
                let msg = format!("logins: {e}; tried again in {} s", wait.as_secs());
                self.logins.note = Some(e);
                self.log(None, Severity::Warning, msg);
            }
        }
        self.logins_changed();
    }

    fn logins_changed(&mut self) {
        self.logins.unsaved = true;
        self.persist_dirty = true;
    }

    /// Writes the logins' file when it changed.
    pub(super) fn save_logins(&mut self) -> Result<(), String> {
        if !self.logins.unsaved {
            return Ok(());
        }
        persist::save_logins(
            &self.cfg.state_file,
            &persist::PersistedLogins {
                logins: self.logins.rows.clone(),
            },
        )?;
        self.logins.unsaved = false;
        Ok(())
    }

    /// A retry after a failed connection is due.
    pub(super) fn logins_retry_due(&self, now: Instant) -> bool {
        !self.logins.busy && self.logins.retry_at.is_some_and(|t| now >= t)
    }

    /// After a database's completion (with logins migrated by the run): its users on the
    /// instance without a login, read in a task of its own.
    pub(super) fn check_orphans(&mut self, i: usize, tx: &mpsc::UnboundedSender<Msg>) {
        let (Some(run), Some(dst)) = (self.cfg.logins.clone(), self.cfg.target_sql.clone()) else {
            return;
        };
        let src = self.cfg.source.clone();
        self.target_verifying += 1;
        let database = self.dbs[i].cfg.target_name.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let result = orphans(src.as_ref(), &dst, &run, &database).await;
            let _ = tx.send(Msg::OrphansChecked { db: i, result });
        });
    }

    /// The orphaned users of a completed database: findings on it, and said in the events.
    pub(super) fn on_orphans_checked(&mut self, i: usize, result: Result<Orphans, String>) {
        self.target_verifying = self.target_verifying.saturating_sub(1);
        let name = self.dbs[i].cfg.name.clone();
        if let Ok(o) = &result {
            for s in &o.remapped {
                self.log(
                    Some(&name),
                    Severity::Info,
                    format!("user mapped to its migrated login: {s}"),
                );
            }
        }
        match result.map(|o| o.findings) {
            Ok(found) if found.is_empty() => self.log(
                Some(&name),
                Severity::Info,
                "no orphaned users on the instance: every user has its login",
            ),
            Ok(found) => {
                for f in &found {
                    self.log(
                        Some(&name),
                        Severity::Warning,
                        format!("{}: {} ({})", f.code, f.message, f.fix),
                    );
                }
                self.dbs[i].login_findings = found;
            }
            Err(e) => self.log(
                Some(&name),
                Severity::Warning,
                format!("cannot look for orphaned users on the instance: {e}; run `cutover logins orphans --database {}`", self.dbs[i].cfg.target_name),
            ),
        }
    }
}

/// The migration task: inventory on the source, plan against the instance, then one login at a
/// time (each outcome reported as it happens). Logins in `done` are not sent again.
async fn migrate(
    src: &SourceOptions,
    dst: &SourceOptions,
    run: &LoginsRun,
    databases: &[String],
    done: &[String],
    tx: &mpsc::UnboundedSender<Msg>,
) -> Result<(), String> {
    let mut s = SourceClient::connect(src)
        .await
        .map_err(|e| format!("cannot read the source's logins: {e}"))?;
    let inventory = s
        .login_inventory(databases)
        .await
        .map_err(|e| format!("cannot read the source's logins: {e}"));
    s.close().await;
    let inventory = inventory?;
    let (picked, missing) = run.select.pick(&inventory);
    let selected = LoginInventory {
        logins: picked.into_iter().cloned().collect(),
        users: inventory.users.clone(),
    };
    let mut t = SourceClient::connect(dst)
        .await
        .map_err(|e| format!("cannot reach the instance's SQL endpoint: {e}"))?;
    let existing = match t.target_logins().await {
        Ok(e) => e,
        Err(e) => {
            t.close().await;
            return Err(format!("cannot read the instance's logins: {e}"));
        }
    };
    let plans = plan_logins(&selected, &existing, &run.map);
    let _ = tx.send(Msg::LoginsPlanned {
        rows: plans.iter().map(|p| row(p, LoginStatus::Pending)).collect(),
        missing,
    });
    for plan in plans {
        if done.iter().any(|d| d == &plan.source) {
            continue;
        }
        for outcome in t.apply_login_plans(vec![plan]).await {
            let _ = tx.send(Msg::LoginDone {
                row: row(&outcome.plan, outcome.status),
            });
        }
    }
    t.close().await;
    Ok(())
}

/// The orphaned users of `database` on the instance as findings. The source's logins name the
/// login each user belonged to (for the ALTER USER offered); without the source, the findings
/// still list the orphans.
async fn orphans(
    src: Option<&SourceOptions>,
    dst: &SourceOptions,
    run: &LoginsRun,
    database: &str,
) -> Result<Orphans, String> {
    let mut inventory: Option<LoginInventory> = None;
    if let Some(src) = src
        && let Ok(mut s) = SourceClient::connect(src).await
    {
        inventory = s.login_inventory(&[]).await.ok();
        s.close().await;
    }
    let mut t = SourceClient::connect(dst)
        .await
        .map_err(|e| format!("cannot reach the instance's SQL endpoint: {e}"))?;
    let read = async {
        let users = t.database_users(database).await?;
        let logins = t.target_logins().await?;
        Ok::<_, crate::source::SourceError>((users, logins))
    }
    .await;
    let (users, logins) = match read {
        Ok(r) => r,
        Err(e) => {
            t.close().await;
            return Err(e.to_string());
        }
    };
    let mut remapped = Vec::new();
    let mut findings = Vec::new();
    for o in orphaned_users(&users, &logins, inventory.as_ref(), &run.map) {
        if run.remap_users
            && let Some(s) = &o.remap
        {
            match t.execute(s.sql(), &[]).await {
                Ok(()) => {
                    remapped.push(s.shown().to_string());
                    continue;
                }
                Err(e) => findings.push(Finding::new(
                    Code::OrphanedUser,
                    o.finding.severity,
                    None,
                    format!("{} ({} failed: {e})", o.finding.message, s.shown()),
                    o.finding.fix,
                )),
            }
        } else {
            findings.push(Finding::new(
                Code::OrphanedUser,
                o.finding.severity,
                None,
                o.finding.message,
                o.finding.fix,
            ));
        }
    }
    t.close().await;
    Ok(Orphans { remapped, findings })
}

/// What the orphan check did and found.
#[derive(Debug, Clone, Default)]
pub(super) struct Orphans {
    /// The ALTER USER statements run (`[logins] remap_users`).
    pub(super) remapped: Vec<String>,
    pub(super) findings: Vec<Finding>,
}
