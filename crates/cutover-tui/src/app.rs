//! The event loops. One `select!` over terminal input, engine snapshots (or wizard job
//! notifications), a frame deadline and a spinner tick that runs only while something animates.
//! Drawing happens only when something changed (key, resize, new snapshot generation, tick), at
//! most [`MAX_FPS`] times a second. The dashboard also has a clock that ticks once a second and
//! redraws only the header line (clock, "LRS polled 4 s ago", elapsed), or the whole screen while
//! a downtime is counting on it.
//!
//! When the engine stops because every database is finished (Completed or Canceled), the dashboard
//! stays open on the "All N completed" view until the operator quits.
//!
//! ```text
//! let mut guard = TerminalGuard::enter()?;
//! let values = match run_wizard(&mut guard, backend, prefilled, theme).await? {
//!     WizardOutcome::Run(v) => v,
//!     WizardOutcome::Cancelled => return Ok(()),
//! };
//! // start the engine with `values`, then:
//! let exit = run_dashboard(&mut guard, ctx, snapshots, commands).await?;
//! drop(guard); // terminal restored (also on error and on panic)
//! ```

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossterm::event::{Event, EventStream};
use futures::StreamExt;
use ratatui::Terminal;
use ratatui::backend::Backend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior, interval, sleep_until};

use super::context::TuiContext;
use super::dashboard::{self, DashboardState, header, live};
use super::terminal::TerminalGuard;
use super::theme::Theme;
use super::wizard::{
    self, AzureItems, AzureListRequest, WizardBackend, WizardOutcome, WizardRequest, WizardResult,
    WizardState, WizardValues,
};
use cutover_model::{EngineCommand, MigrationSnapshot};

/// Redraws per second at most.
pub const MAX_FPS: u64 = 20;
const FRAME: Duration = Duration::from_millis(1000 / MAX_FPS);
const SPIN: Duration = Duration::from_millis(120);
const CLOCK: Duration = Duration::from_secs(1);

/// Why the dashboard returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DashboardExit {
    /// The operator confirmed quitting (`EngineCommand::Shutdown` was sent).
    Quit,
    /// The engine dropped its snapshot sender or its command receiver (it stopped or panicked)
    /// before every database was finished.
    EngineStopped,
}

fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Redraws only the header line on top of the last full frame (`last`): the diff written to the
/// terminal is the few cells of the clock. Does nothing when there is no frame to draw on, or
/// when the terminal's size moved (the full redraw that follows the resize does it).
pub fn redraw_header<B: Backend>(
    terminal: &mut Terminal<B>,
    last: &mut Option<Buffer>,
    snap: &MigrationSnapshot,
    state: &DashboardState,
    ctx: &TuiContext,
) -> Result<(), B::Error> {
    let Some(frame) = last.as_mut() else {
        return Ok(());
    };
    let area = frame.area;
    if super::small::too_small(area) {
        return Ok(());
    }
    header::render_into(frame, Rect { height: 1, ..area }, snap, state.now_unix, ctx);
    let current = terminal.current_buffer_mut();
    if current.area != area {
        return Ok(());
    }
    current.clone_from(frame);
    terminal.flush()?;
    terminal.swap_buffers();
    terminal.backend_mut().flush()
}

/// Redraw pacing: dirty flag + frame budget.
struct Pacer {
    dirty: bool,
    last: Option<Instant>,
}

impl Pacer {
    fn new() -> Self {
        Pacer {
            dirty: true,
            last: None,
        }
    }
    /// When the next frame may be drawn, if one is needed.
    fn due(&self) -> Option<Instant> {
        if !self.dirty {
            return None;
        }
        Some(self.last.map_or_else(Instant::now, |l| l + FRAME))
    }
    fn ready(&self) -> bool {
        self.due().is_some_and(|d| d <= Instant::now())
    }
    fn drawn(&mut self) {
        self.dirty = false;
        self.last = Some(Instant::now());
    }
}

async fn far_or(deadline: Option<Instant>) {
    match deadline {
        Some(d) => sleep_until(d).await,
        None => futures::future::pending().await,
    }
}

/// Runs the dashboard until the operator quits or the engine stops. Reads `snapshots` (redraws
/// when the generation moves), sends each key's [`EngineCommand`]s on `commands`. Terminal I/O
/// errors are returned; the terminal is restored when `guard` drops.
pub async fn run_dashboard(
    guard: &mut TerminalGuard,
    ctx: TuiContext,
    mut snapshots: watch::Receiver<MigrationSnapshot>,
    commands: mpsc::UnboundedSender<EngineCommand>,
) -> io::Result<DashboardExit> {
    let mut input = EventStream::new();
    let mut state = DashboardState::new();
    state.now_unix = unix_now();
    let mut pacer = Pacer::new();
    let mut seen = snapshots.borrow_and_update().generation;
    let mut spin = interval(SPIN);
    let mut clock = interval(CLOCK);
    clock.set_missed_tick_behavior(MissedTickBehavior::Skip);
    // The last full frame, for the clock's header-only redraws.
    let mut last_frame: Option<Buffer> = None;
    // The engine stopped after every database finished: the dashboard stays, no more snapshots.
    let mut engine_done = false;
    loop {
        if pacer.ready() {
            state.now_unix = unix_now();
            let snap = snapshots.borrow();
            let frame = guard
                .terminal()
                .draw(|f| dashboard::render(f, &snap, &state, &ctx))?;
            last_frame = Some(frame.buffer.clone());
            drop(snap);
            pacer.drawn();
        }
        let animating = state.animating(&snapshots.borrow());
        tokio::select! {
            ev = input.next() => match ev {
                Some(Ok(Event::Key(key))) => {
                    let sent = state.handle_key(key, &snapshots.borrow(), &ctx);
                    // A finished engine takes no commands: quitting needs none.
                    if !engine_done {
                        for c in sent {
                            if commands.send(c).is_err() {
                                return Ok(DashboardExit::EngineStopped);
                            }
                        }
                    }
                    if state.quit {
                        return Ok(DashboardExit::Quit);
                    }
                    pacer.dirty = true;
                }
                Some(Ok(Event::Resize(..))) => {
                    guard.terminal().autoresize()?;
                    pacer.dirty = true;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e),
                None => return Ok(DashboardExit::Quit),
            },
            changed = snapshots.changed(), if !engine_done => match changed {
                Ok(()) => {
                    let g = snapshots.borrow_and_update().generation;
                    if g != seen {
                        seen = g;
                        pacer.dirty = true;
                    }
                }
                // The engine returns once every database is finished: stay on the completed
                // view (its last snapshot) until the operator quits.
                Err(_) if live::finished(&snapshots.borrow()) => {
                    engine_done = true;
                    pacer.dirty = true;
                }
                Err(_) => return Ok(DashboardExit::EngineStopped),
            },
            _ = spin.tick(), if animating => {
                state.tick += 1;
                pacer.dirty = true;
            }
            _ = clock.tick() => {
                state.now_unix = unix_now();
                if state.clock_beyond_header(&snapshots.borrow()) {
                    pacer.dirty = true;
                } else if !pacer.dirty {
                    let snap = snapshots.borrow();
                    redraw_header(guard.terminal(), &mut last_frame, &snap, &state, &ctx)?;
                }
            }
            _ = far_or(pacer.due()), if pacer.dirty => {}
        }
    }
}

/// Runs the wizard until Run (the values to start the engine with) or cancel. Each
/// [`WizardRequest`] runs as a background task on `backend`; a newer request of the same kind
/// supersedes an older one (the wizard ignores the older answer).
pub async fn run_wizard(
    guard: &mut TerminalGuard,
    backend: Box<dyn WizardBackend>,
    values: WizardValues,
    theme: Theme,
) -> io::Result<WizardOutcome> {
    run_wizard_state(guard, backend, WizardState::new(values), theme).await
}

/// [`run_wizard`] from a prepared state (e.g. [`WizardState::without_sandbox`], a save path, or an
/// error to show when the wizard comes back because the migration could not start).
pub async fn run_wizard_state(
    guard: &mut TerminalGuard,
    backend: Box<dyn WizardBackend>,
    mut state: WizardState,
    theme: Theme,
) -> io::Result<WizardOutcome> {
    let backend: Arc<dyn WizardBackend> = Arc::from(backend);
    let results: Arc<Mutex<Vec<WizardResult>>> = Arc::new(Mutex::new(Vec::new()));
    let (notify, mut notified) = mpsc::unbounded_channel::<()>();
    let mut input = EventStream::new();
    let mut pacer = Pacer::new();
    let mut spin = interval(SPIN);
    loop {
        if let Some(outcome) = state.outcome.clone() {
            return Ok(outcome);
        }
        if pacer.ready() {
            guard
                .terminal()
                .draw(|f| wizard::render(f, &state, theme))?;
            pacer.drawn();
        }
        tokio::select! {
            ev = input.next() => match ev {
                Some(Ok(Event::Key(key))) => {
                    for r in state.handle_key(key) {
                        spawn_job(backend.clone(), r, results.clone(), notify.clone());
                    }
                    pacer.dirty = true;
                }
                Some(Ok(Event::Resize(..))) => {
                    guard.terminal().autoresize()?;
                    pacer.dirty = true;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e),
                None => return Ok(WizardOutcome::Cancelled),
            },
            Some(()) = notified.recv() => {
                let done: Vec<WizardResult> = match results.lock() {
                    Ok(mut g) => std::mem::take(&mut *g),
                    Err(p) => std::mem::take(&mut *p.into_inner()),
                };
                for r in done {
                    state.on_result(r);
                }
                pacer.dirty = true;
            }
            _ = spin.tick(), if state.animating() => {
                state.tick += 1;
                pacer.dirty = true;
            }
            _ = far_or(pacer.due()), if pacer.dirty => {}
        }
    }
}

fn spawn_job(
    backend: Arc<dyn WizardBackend>,
    req: WizardRequest,
    results: Arc<Mutex<Vec<WizardResult>>>,
    notify: mpsc::UnboundedSender<()>,
) {
    tokio::spawn(async move {
        let r = match req {
            WizardRequest::TestSource { id, form } => WizardResult::Source {
                id,
                result: backend.test_source(&form).await,
            },
            WizardRequest::TestTarget { id, form } => WizardResult::Target {
                id,
                result: backend.test_target(&form).await,
            },
            WizardRequest::TestBackups { id, settings } => WizardResult::Backups {
                id,
                result: backend.test_backups(&settings).await,
            },
            WizardRequest::ScanFolder {
                id,
                folder,
                smb_user,
                smb_password_env,
            } => WizardResult::Source {
                id,
                result: backend
                    .scan_backups(&folder, &smb_user, &smb_password_env)
                    .await,
            },
            WizardRequest::Preflight { id, values } => WizardResult::Preflight {
                id,
                result: Ok(backend.preflight(&values).await),
            },
            WizardRequest::Azure { id, list, target } => WizardResult::Azure {
                id,
                result: match list {
                    AzureListRequest::Subscriptions => backend
                        .azure_subscriptions(&target)
                        .await
                        .map(AzureItems::Subscriptions),
                    AzureListRequest::Instances(sub) => backend
                        .azure_instances(&target, &sub)
                        .await
                        .map(AzureItems::Instances),
                    AzureListRequest::StorageAccounts(sub) => backend
                        .azure_storage_accounts(&target, &sub)
                        .await
                        .map(AzureItems::StorageAccounts),
                    AzureListRequest::Containers(account) => backend
                        .azure_containers(&target, &account)
                        .await
                        .map(AzureItems::Containers),
                },
            },
            WizardRequest::StorageChecks { id, request } => WizardResult::StorageChecks {
                id,
                result: backend.azure_storage_checks(&request).await,
            },
            WizardRequest::SaveConfig {
                id,
                path,
                values,
                overwrite,
            } => WizardResult::Save {
                id,
                result: backend.save_config(&path, &values, overwrite).await,
            },
        };
        match results.lock() {
            Ok(mut g) => g.push(r),
            Err(p) => p.into_inner().push(r),
        }
        let _ = notify.send(());
    });
}
