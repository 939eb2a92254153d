//! The cutover dialog of one database, DMS's three steps with the guard's live answer:
//! 1. stop traffic to the source (optional; offered only when cutover is connected to the source
//!    and the source can still take writes; the configuration's choice preselected),
//! 2. the tail-log backup: take it now, wait for the one the operator takes (the statement to run
//!    is shown), or confirm that no more backups will come (a data-loss risk, confirmed twice),
//! 3. wait until no log backup is pending;
//!
//! then Complete, enabled only when the engine's guard has no refusal and the operator has typed
//! the database name exactly. Abandon (Esc / `a`) sends `AbandonCutover` (the engine undoes traffic).
//!
//! Nothing that changes the source happens on one key: stopping traffic and taking the tail-log
//! backup first show the exact statement and run only on `y`; abandoning after a tail-log backup
//! WITH NORECOVERY asks too, with the `RESTORE ... WITH RECOVERY` that brings the source back.

pub mod view;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind};

pub use view::render;

use super::context::TuiContext;
use cutover_model::StopTraffic;
use cutover_model::{DatabaseSnapshot, EngineCommand, Phase, SourceAccess, TailMode, TailState};

/// A step shown with its statement, waiting for `y`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pending {
    /// Begin with the chosen traffic stop.
    Begin,
    /// Take the tail-log backup WITH NORECOVERY through the source connection.
    TakeTail,
    /// Abandon although the source is left RESTORING.
    Abandon,
}

/// The source database is RESTORING (a tail-log backup WITH NORECOVERY was taken): it takes no
/// writes and no backups until `RESTORE DATABASE ... WITH RECOVERY`.
pub fn source_restoring(db: &DatabaseSnapshot) -> bool {
    db.source_access == Some(SourceAccess::Restoring)
}

/// What the source is as far as cutover knows: the engine's word, else the traffic stop it did.
pub fn source_access(db: &DatabaseSnapshot) -> Option<SourceAccess> {
    db.source_access.or(match db.traffic_stopped {
        Some(StopTraffic::ReadOnly) => Some(SourceAccess::ReadOnly),
        Some(StopTraffic::RestrictedUser) => Some(SourceAccess::RestrictedUser),
        None => None,
    })
}

/// Step 1, as chosen before Begin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopChoice {
    Stop(StopTraffic),
    DontStop,
}

/// Where the cutover of the database stands (derived from the snapshot each time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Preconditions and step 1; Enter begins.
    NotBegun,
    /// Begun; step 2 (tail) undecided.
    Tail,
    /// Tail settled: step 3 and the typed confirmation.
    Confirm,
    Completing,
    Completed,
    /// The database is not in the snapshot any more.
    Gone,
}

pub fn stage(db: Option<&DatabaseSnapshot>) -> Stage {
    let Some(db) = db else {
        return Stage::Gone;
    };
    match db.state.phase {
        Phase::CuttingOver if db.state.tail == TailState::Undecided => Stage::Tail,
        Phase::CuttingOver => Stage::Confirm,
        Phase::Completing => Stage::Completing,
        Phase::Completed => Stage::Completed,
        _ => Stage::NotBegun,
    }
}

/// The dialog's own state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CutoverDialog {
    pub database: String,
    pub stop: StopChoice,
    /// How the operator chose to get the tail-log backup (in this dialog).
    pub tail: Option<TailMode>,
    /// `x` pressed once: the next `x` confirms that no more backups will come.
    pub skip_armed: bool,
    /// The typed confirmation (must equal the database name).
    pub typed: String,
    /// Complete was sent (until the phase moves on).
    pub complete_sent: bool,
    /// A step that changes the source, shown with its statement, waiting for `y`.
    pub pending: Option<Pending>,
    /// After `t` or `w`: the tail-log backup statement cutover runs (`t`, on `y`) or the operator
    /// should run (`w`), with the file named at the second the key was pressed.
    pub tail_statement: Option<String>,
}

/// What a key did in the dialog.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DialogOutcome {
    pub commands: Vec<EngineCommand>,
    pub close: bool,
    pub notice: Option<String>,
}

impl DialogOutcome {
    fn send(c: EngineCommand) -> Self {
        DialogOutcome {
            commands: vec![c],
            ..Default::default()
        }
    }
    fn notice(n: impl Into<String>) -> Self {
        DialogOutcome {
            notice: Some(n.into()),
            ..Default::default()
        }
    }
    fn close() -> Self {
        DialogOutcome {
            close: true,
            ..Default::default()
        }
    }
}

/// Why Begin is not possible now, if it is not: the engine's guard's word (the checklist).
pub fn begin_refusal(db: &DatabaseSnapshot) -> Option<String> {
    db.checklist.begin_refusal.clone()
}

impl CutoverDialog {
    /// The dialog of `db`, with the configuration's traffic stop preselected (none when cutover is
    /// not connected to the source).
    pub fn open(db: &DatabaseSnapshot, ctx: &TuiContext) -> Self {
        CutoverDialog {
            database: db.state.name.clone(),
            stop: match ctx.stop_traffic {
                Some(s) if ctx.source_connected => StopChoice::Stop(s),
                _ => StopChoice::DontStop,
            },
            tail: None,
            skip_armed: false,
            typed: String::new(),
            complete_sent: false,
            pending: None,
            tail_statement: None,
        }
    }

    /// The traffic stop Begin would run: none when not connected, or when the source is already
    /// RESTORING (no writes reach it).
    pub fn stop_to_run(&self, db: &DatabaseSnapshot, ctx: &TuiContext) -> Option<StopTraffic> {
        match self.stop {
            StopChoice::Stop(s) if ctx.source_connected && !source_restoring(db) => Some(s),
            _ => None,
        }
    }

    /// Abandoning leaves the source RESTORING (a tail-log backup WITH NORECOVERY was taken): asked
    /// first, with the statement that brings it back.
    fn abandon_needs_confirmation(&self, db: &DatabaseSnapshot) -> bool {
        source_restoring(db)
    }

    /// Complete is enabled: the engine's guard has no refusal and the name is typed exactly.
    pub fn complete_enabled(&self, db: &DatabaseSnapshot) -> bool {
        db.cutover_refusal.is_none() && self.typed == db.state.name
    }

    /// A spinner turns while cutover waits for something the operator cannot see move.
    pub fn animating(&self, snap: &cutover_model::MigrationSnapshot) -> bool {
        let db = snap
            .databases
            .iter()
            .find(|d| d.state.name == self.database);
        match stage(db) {
            Stage::Completing => true,
            Stage::Tail => self.tail.is_some() && !self.skip_armed,
            _ => false,
        }
    }

    pub fn handle_key(
        &mut self,
        key: KeyEvent,
        db: Option<&DatabaseSnapshot>,
        ctx: &TuiContext,
    ) -> DialogOutcome {
        if key.kind == KeyEventKind::Release {
            return DialogOutcome::default();
        }
        let Some(db) = db else {
            return DialogOutcome::close();
        };
        let database = self.database.clone();
        let abandon = || DialogOutcome {
            commands: vec![EngineCommand::AbandonCutover {
                database: database.clone(),
            }],
            close: true,
            notice: Some(format!("cutover of {database} abandoned")),
        };
        // A step shown with its statement: `y` runs it, any other key goes back.
        if let Some(p) = self.pending.take() {
            if key.code != KeyCode::Char('y') {
                return DialogOutcome::notice(match p {
                    Pending::Abandon => "not abandoned: the cutover goes on",
                    Pending::Begin | Pending::TakeTail => "nothing was run on the source",
                });
            }
            return match (p, stage(Some(db))) {
                (Pending::Begin, Stage::NotBegun) => {
                    if let Some(why) = begin_refusal(db) {
                        return DialogOutcome::notice(format!("cannot begin: {why}"));
                    }
                    DialogOutcome::send(EngineCommand::BeginCutover {
                        database: database.clone(),
                        stop_traffic: self.stop_to_run(db, ctx),
                    })
                }
                (Pending::TakeTail, Stage::Tail) => {
                    self.tail = Some(TailMode::Take);
                    DialogOutcome::send(EngineCommand::TakeTail {
                        database: database.clone(),
                    })
                }
                (Pending::Abandon, Stage::Tail | Stage::Confirm) => abandon(),
                _ => DialogOutcome::notice("the cutover moved on meanwhile: nothing was run"),
            };
        }
        match stage(Some(db)) {
            Stage::Gone => DialogOutcome::close(),
            Stage::NotBegun => match key.code {
                KeyCode::Esc | KeyCode::Char('a') | KeyCode::Char('q') => DialogOutcome::close(),
                KeyCode::Char('s') if ctx.source_connected && !source_restoring(db) => {
                    self.stop = StopChoice::Stop(StopTraffic::ReadOnly);
                    DialogOutcome::default()
                }
                KeyCode::Char('u') if ctx.source_connected && !source_restoring(db) => {
                    self.stop = StopChoice::Stop(StopTraffic::RestrictedUser);
                    DialogOutcome::default()
                }
                KeyCode::Char('n') => {
                    self.stop = StopChoice::DontStop;
                    DialogOutcome::default()
                }
                KeyCode::Enter => {
                    if let Some(why) = begin_refusal(db) {
                        return DialogOutcome::notice(format!("cannot begin: {why}"));
                    }
                    match self.stop_to_run(db, ctx) {
                        // Changes the source: shown first, run on `y`.
                        Some(_) => {
                            self.pending = Some(Pending::Begin);
                            DialogOutcome::default()
                        }
                        None => DialogOutcome::send(EngineCommand::BeginCutover {
                            database: self.database.clone(),
                            stop_traffic: None,
                        }),
                    }
                }
                _ => DialogOutcome::default(),
            },
            Stage::Tail => match key.code {
                KeyCode::Esc | KeyCode::Char('a') => {
                    if self.abandon_needs_confirmation(db) {
                        self.pending = Some(Pending::Abandon);
                        return DialogOutcome::default();
                    }
                    abandon()
                }
                KeyCode::Char('t') => {
                    self.skip_armed = false;
                    if !ctx.source_connected {
                        return DialogOutcome::notice(
                            "cutover is not connected to the source: take the tail-log backup yourself (w)",
                        );
                    }
                    if source_restoring(db) {
                        return DialogOutcome::notice(
                            "the source is RESTORING after the tail-log backup taken before: no new backup can be taken; it is the last one (x)",
                        );
                    }
                    if self.tail == Some(TailMode::Take) {
                        return DialogOutcome::notice("the tail-log backup is being taken");
                    }
                    self.tail_statement = Some(db.statements.tail_log_backup.clone());
                    self.pending = Some(Pending::TakeTail);
                    DialogOutcome::default()
                }
                KeyCode::Char('w') => {
                    self.skip_armed = false;
                    self.tail = Some(TailMode::Wait);
                    self.tail_statement = Some(db.statements.tail_log_backup.clone());
                    DialogOutcome::send(EngineCommand::WaitForTail {
                        database: self.database.clone(),
                    })
                }
                KeyCode::Char('x') => {
                    if !self.skip_armed {
                        self.skip_armed = true;
                        return DialogOutcome::default();
                    }
                    self.skip_armed = false;
                    self.tail = Some(TailMode::Skip);
                    DialogOutcome::send(EngineCommand::ConfirmNoMoreBackups {
                        database: self.database.clone(),
                    })
                }
                _ => {
                    self.skip_armed = false;
                    DialogOutcome::default()
                }
            },
            Stage::Confirm => match key.code {
                KeyCode::Esc => {
                    if self.abandon_needs_confirmation(db) {
                        self.pending = Some(Pending::Abandon);
                        return DialogOutcome::default();
                    }
                    abandon()
                }
                KeyCode::Backspace => {
                    self.typed.pop();
                    DialogOutcome::default()
                }
                KeyCode::Char(c) => {
                    self.typed.push(c);
                    DialogOutcome::default()
                }
                KeyCode::Enter => {
                    if self.complete_enabled(db) {
                        self.complete_sent = true;
                        DialogOutcome::send(EngineCommand::Complete {
                            database: self.database.clone(),
                        })
                    } else if let Some(r) = &db.cutover_refusal {
                        DialogOutcome::notice(format!("Complete is disabled: {r}"))
                    } else {
                        DialogOutcome::notice(format!(
                            "Complete is disabled: type {} exactly to confirm",
                            db.state.name
                        ))
                    }
                }
                _ => DialogOutcome::default(),
            },
            Stage::Completing => match key.code {
                KeyCode::Esc | KeyCode::Char('q') => DialogOutcome {
                    close: true,
                    notice: Some(format!(
                        "{} is completing; c reopens the dialog",
                        self.database
                    )),
                    ..Default::default()
                },
                _ => DialogOutcome::default(),
            },
            Stage::Completed => match key.code {
                KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q') => DialogOutcome::close(),
                _ => DialogOutcome::default(),
            },
        }
    }
}
