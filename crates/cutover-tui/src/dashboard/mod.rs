//! The dashboard: header, database list, detail of the selected database (upload, restore chain,
//! findings), event pane, footer; with the help overlay, the quit confirmation and the cutover
//! dialog on top. [`DashboardState`] holds only what the UI chooses (selection, focus, filter,
//! dialogs); everything else comes from the [`MigrationSnapshot`] given to each call.

pub mod chain;
pub mod detail;
pub mod events;
pub mod findings;
pub mod finished;
pub mod footer;
pub mod header;
pub mod help;
pub mod list;
pub mod live;
pub mod logins;
pub mod quit;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};

use super::context::TuiContext;
use super::cutover::{self, CutoverDialog};
use super::small;
use cutover_model::{DatabaseSnapshot, EngineCommand, EventLine, MigrationSnapshot, Phase};

/// Which panel j/k and the arrows move in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Focus {
    #[default]
    Databases,
    Chain,
    Events,
}

impl Focus {
    fn next(self) -> Focus {
        match self {
            Focus::Databases => Focus::Chain,
            Focus::Chain => Focus::Events,
            Focus::Events => Focus::Databases,
        }
    }
    fn prev(self) -> Focus {
        self.next().next()
    }
}

/// What is drawn on top of the dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Overlay {
    #[default]
    None,
    Help,
    QuitConfirm,
    Cutover(CutoverDialog),
}

/// The dashboard's own state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DashboardState {
    /// Name of the selected database (kept by name so it survives new snapshots and filtering).
    pub selected: Option<String>,
    pub focus: Focus,
    /// Case-insensitive substring of database names; empty shows all.
    pub filter: String,
    /// `/` was pressed: keys edit the filter until Enter or Esc.
    pub filter_editing: bool,
    /// Rows scrolled in the chain table (0 = newest first row at the top).
    pub chain_scroll: usize,
    /// Event lines scrolled back from the newest.
    pub events_scroll: usize,
    /// `e`: the event pane shows only the selected database's events.
    pub events_selected_only: bool,
    pub overlay: Overlay,
    /// One line for the footer: what the last key did or why it did nothing.
    pub notice: Option<String>,
    /// Set when the operator confirmed quitting.
    pub quit: bool,
    /// `l`: the body shows the Logins panel instead of the databases (j/k move in it).
    pub show_logins: bool,
    /// The login selected in the Logins panel (index in the snapshot's logins).
    pub selected_login: usize,
    /// Animation frame (advanced by the app loop only while something animates).
    pub tick: u64,
    /// Wall clock (Unix seconds) the app loop sets once a second; 0 until then (the render then
    /// takes the newest time the snapshot knows).
    pub now_unix: i64,
}

impl DashboardState {
    pub fn new() -> Self {
        Self::default()
    }

    /// The databases the filter lets through, in snapshot order.
    pub fn visible<'a>(&self, snap: &'a MigrationSnapshot) -> Vec<&'a DatabaseSnapshot> {
        if self.filter.is_empty() {
            return snap.databases.iter().collect();
        }
        let f = self.filter.to_lowercase();
        snap.databases
            .iter()
            .filter(|d| d.state.name.to_lowercase().contains(&f))
            .collect()
    }

    /// Index (in [`Self::visible`]) of the selected database: the remembered one if visible, else 0.
    pub fn selected_index(&self, visible: &[&DatabaseSnapshot]) -> Option<usize> {
        if visible.is_empty() {
            return None;
        }
        Some(
            self.selected
                .as_deref()
                .and_then(|n| visible.iter().position(|d| d.state.name == n))
                .unwrap_or(0),
        )
    }

    /// The selected database, if any is visible.
    pub fn selected_database<'a>(
        &self,
        snap: &'a MigrationSnapshot,
    ) -> Option<&'a DatabaseSnapshot> {
        let visible = self.visible(snap);
        self.selected_index(&visible).map(|i| visible[i])
    }

    /// The events the event pane shows: all, or (`e`) the selected database's.
    pub fn events<'a>(&self, snap: &'a MigrationSnapshot) -> Vec<&'a EventLine> {
        let only = self
            .events_selected_only
            .then(|| self.selected_database(snap))
            .flatten()
            .map(|d| d.state.name.as_str());
        snap.events
            .iter()
            .filter(|e| only.is_none_or(|n| e.database.as_deref() == Some(n)))
            .collect()
    }

    /// The database the event pane is filtered to, if it is.
    pub fn events_database<'a>(&self, snap: &'a MigrationSnapshot) -> Option<&'a str> {
        if !self.events_selected_only {
            return None;
        }
        self.selected_database(snap).map(|d| d.state.name.as_str())
    }

    /// True while something on screen moves by itself (a spinner): the app loop then ticks.
    pub fn animating(&self, snap: &MigrationSnapshot) -> bool {
        match &self.overlay {
            Overlay::Cutover(d) => d.animating(snap),
            _ => false,
        }
    }

    /// The once-a-second clock changes more than the header: a downtime is counting in the detail
    /// panel or the cutover dialog (otherwise the app redraws only the header line).
    pub fn clock_beyond_header(&self, snap: &MigrationSnapshot) -> bool {
        let counting = |name: &str| {
            snap.databases.iter().any(|d| {
                d.state.name == name
                    && d.downtime_started_unix.is_some()
                    && matches!(d.state.phase, Phase::CuttingOver | Phase::Completing)
            })
        };
        let dialog = match &self.overlay {
            Overlay::Cutover(d) => counting(&d.database),
            _ => false,
        };
        dialog
            || self
                .selected_database(snap)
                .is_some_and(|d| counting(&d.state.name))
    }

    /// Handles one key; returns the commands to send to the engine (in order).
    pub fn handle_key(
        &mut self,
        key: KeyEvent,
        snap: &MigrationSnapshot,
        ctx: &TuiContext,
    ) -> Vec<EngineCommand> {
        if key.kind == KeyEventKind::Release {
            return Vec::new();
        }
        let ctrl_c =
            key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
        match &mut self.overlay {
            Overlay::Help => {
                if matches!(
                    key.code,
                    KeyCode::Esc | KeyCode::Char('?') | KeyCode::Char('q') | KeyCode::Enter
                ) {
                    self.overlay = Overlay::None;
                }
                return Vec::new();
            }
            Overlay::QuitConfirm => {
                match key.code {
                    KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Enter => {
                        self.overlay = Overlay::None;
                        self.quit = true;
                        return vec![EngineCommand::Shutdown];
                    }
                    KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc | KeyCode::Char('q') => {
                        self.overlay = Overlay::None;
                    }
                    _ => {}
                }
                return Vec::new();
            }
            Overlay::Cutover(dialog) => {
                if ctrl_c {
                    self.overlay = Overlay::QuitConfirm;
                    return Vec::new();
                }
                let db = snap
                    .databases
                    .iter()
                    .find(|d| d.state.name == dialog.database);
                let out = dialog.handle_key(key, db, ctx);
                if out.close {
                    self.overlay = Overlay::None;
                }
                // Each key's answer replaces the last one: a refusal must not outlive the state
                // it was about ("Complete is disabled" after completion).
                self.notice = out.notice;
                return out.commands;
            }
            Overlay::None => {}
        }
        if ctrl_c {
            self.overlay = Overlay::QuitConfirm;
            return Vec::new();
        }
        if self.filter_editing {
            self.edit_filter(key, snap);
            return Vec::new();
        }
        self.notice = None;
        if live::finished(snap) && matches!(key.code, KeyCode::Char('p') | KeyCode::Char('r')) {
            self.notice = Some(format!(
                "{}: nothing to pause or retry (q quits and prints the summary)",
                finished::title(snap)
            ));
            return Vec::new();
        }
        match key.code {
            KeyCode::Char('q') => self.overlay = Overlay::QuitConfirm,
            KeyCode::Char('?') => self.overlay = Overlay::Help,
            KeyCode::Char('/') => self.filter_editing = true,
            KeyCode::Esc if !self.filter.is_empty() => self.filter.clear(),
            KeyCode::Tab => self.focus = self.focus.next(),
            KeyCode::BackTab => self.focus = self.focus.prev(),
            KeyCode::Char('j') | KeyCode::Down => self.move_by(1, snap),
            KeyCode::Char('k') | KeyCode::Up => self.move_by(-1, snap),
            KeyCode::PageDown => self.move_by(10, snap),
            KeyCode::PageUp => self.move_by(-10, snap),
            KeyCode::Enter => {
                if self.focus == Focus::Databases {
                    self.focus = Focus::Chain;
                } else {
                    self.focus = Focus::Databases;
                }
            }
            KeyCode::Char('l') => {
                self.show_logins = !self.show_logins;
                self.focus = Focus::Databases;
                self.notice = Some(if !self.show_logins {
                    "databases (l shows the logins)".to_string()
                } else if snap.logins.is_empty() {
                    "logins: this run migrates none (l: back to the databases)".to_string()
                } else {
                    format!(
                        "logins: {} (l: back to the databases)",
                        logins::tally(&snap.logins)
                    )
                });
            }
            KeyCode::Char('e') => {
                self.events_selected_only = !self.events_selected_only;
                self.events_scroll = 0;
                self.notice = Some(match self.events_database(snap) {
                    Some(db) => format!("events of {db} only (e shows all)"),
                    None if self.events_selected_only => {
                        "no database selected: all events".to_string()
                    }
                    None => "all events".to_string(),
                });
            }
            KeyCode::Char('c') => self.open_cutover(snap, ctx),
            KeyCode::Char('r') => return self.retry(snap),
            KeyCode::Char('p') => {
                if snap.paused {
                    self.notice = Some("uploads resumed".to_string());
                    return vec![EngineCommand::ResumeUploads];
                }
                self.notice = Some("uploads paused (p resumes)".to_string());
                return vec![EngineCommand::PauseUploads];
            }
            _ => {}
        }
        Vec::new()
    }

    fn edit_filter(&mut self, key: KeyEvent, snap: &MigrationSnapshot) {
        match key.code {
            KeyCode::Enter => self.filter_editing = false,
            KeyCode::Esc => {
                self.filter_editing = false;
                self.filter.clear();
            }
            KeyCode::Backspace => {
                self.filter.pop();
            }
            KeyCode::Char(c) => self.filter.push(c),
            _ => return,
        }
        self.chain_scroll = 0;
        // Keep a visible database selected.
        let visible = self.visible(snap);
        if let Some(i) = self.selected_index(&visible) {
            self.selected = Some(visible[i].state.name.clone());
        }
    }

    fn move_by(&mut self, delta: isize, snap: &MigrationSnapshot) {
        match self.focus {
            Focus::Databases if self.show_logins => {
                self.selected_login = scroll(self.selected_login, delta, snap.logins.len());
            }
            Focus::Databases => {
                let visible = self.visible(snap);
                let Some(i) = self.selected_index(&visible) else {
                    return;
                };
                let j = (i as isize + delta).clamp(0, visible.len() as isize - 1) as usize;
                self.selected = Some(visible[j].state.name.clone());
                if j != i {
                    self.chain_scroll = 0;
                    if self.events_selected_only {
                        self.events_scroll = 0;
                    }
                }
            }
            Focus::Chain => {
                let n = self
                    .selected_database(snap)
                    .map_or(0, |d| d.state.files.len());
                self.chain_scroll = scroll(self.chain_scroll, delta, n);
            }
            Focus::Events => {
                // Down moves towards the newest line (scroll back shrinks).
                let n = self.events(snap).len();
                self.events_scroll = scroll(self.events_scroll, -delta, n);
            }
        }
    }

    fn open_cutover(&mut self, snap: &MigrationSnapshot, ctx: &TuiContext) {
        let Some(db) = self.selected_database(snap) else {
            self.notice = Some("no database selected".to_string());
            return;
        };
        match db.state.phase {
            Phase::ReadyForCutover
            | Phase::CatchingUp
            | Phase::CuttingOver
            | Phase::Completing
            | Phase::Completed => {
                self.overlay = Overlay::Cutover(CutoverDialog::open(db, ctx));
            }
            p => {
                self.notice = Some(format!(
                    "cutover of {} is offered once its full backup is restored and nothing blocks (now {})",
                    db.state.name,
                    super::format::phase_badge(p)
                ));
            }
        }
    }

    fn retry(&mut self, snap: &MigrationSnapshot) -> Vec<EngineCommand> {
        let Some(db) = self.selected_database(snap) else {
            return Vec::new();
        };
        if db.state.phase != Phase::Failed {
            self.notice = Some(format!(
                "nothing to retry: {} is {}",
                db.state.name,
                super::format::phase_badge(db.state.phase)
            ));
            return Vec::new();
        }
        self.notice = Some(format!("retrying {}", db.state.name));
        vec![EngineCommand::Retry {
            database: db.state.name.clone(),
        }]
    }
}

fn scroll(at: usize, delta: isize, len: usize) -> usize {
    let max = len.saturating_sub(1) as isize;
    (at as isize + delta).clamp(0, max.max(0)) as usize
}

/// Draws the whole dashboard (or the too-small screen) into the frame.
pub fn render(
    frame: &mut Frame,
    snap: &MigrationSnapshot,
    state: &DashboardState,
    ctx: &TuiContext,
) {
    let area = frame.area();
    if small::too_small(area) {
        small::render(frame, area, ctx.theme);
        return;
    }
    let wide = area.width >= 120;
    // List and detail side by side only when the detail keeps room for the chain's file names and
    // both LSNs; below that the detail takes the whole width under the list.
    let side_by_side = area.width >= 150;
    let compact = !wide || area.height < 40;
    let events_h = if compact { 4 } else { 10 };
    let [head, body, ev, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(8),
        Constraint::Length(events_h),
        Constraint::Length(1),
    ])
    .areas(area);
    header::render(frame, head, snap, state.now_unix, ctx);
    let visible = state.visible(snap);
    let selected = state.selected_index(&visible);
    if state.show_logins {
        logins::render(frame, body, snap, state, ctx.theme, compact);
    } else if live::finished(snap) {
        finished::render(frame, body, snap, ctx, state.now_unix);
    } else {
        let (list_area, detail_area) = split_body(body, side_by_side, compact, visible.len());
        list::render(
            frame,
            list_area,
            &visible,
            selected,
            state,
            ctx.theme,
            compact,
            &snap.logins,
        );
        detail::render(
            frame,
            detail_area,
            selected.map(|i| visible[i]),
            state,
            snap,
            ctx,
            compact,
        );
    }
    events::render(
        frame,
        ev,
        &state.events(snap),
        state.events_database(snap),
        state,
        ctx,
        compact,
    );
    footer::render(frame, foot, snap, state, ctx.theme);
    match &state.overlay {
        Overlay::None => {}
        Overlay::Help => help::render(frame, area, ctx.theme),
        Overlay::QuitConfirm => quit::render(
            frame,
            area,
            ctx.theme,
            live::finished(snap),
            ctx.quit_note.as_deref(),
        ),
        Overlay::Cutover(d) => {
            let db = snap.databases.iter().find(|x| x.state.name == d.database);
            let now = live::now(snap, state.now_unix);
            cutover::render(frame, area, d, db, ctx, state.tick, now);
        }
    }
}

fn split_body(body: Rect, side_by_side: bool, compact: bool, n: usize) -> (Rect, Rect) {
    if side_by_side {
        let [l, r] = Layout::horizontal([Constraint::Length(56), Constraint::Min(40)]).areas(body);
        (l, r)
    } else {
        // Border (top only when compact) + header row + up to 4 databases.
        let h = (n.clamp(1, 4) + if compact { 2 } else { 3 }) as u16;
        let [l, r] = Layout::vertical([Constraint::Length(h), Constraint::Min(6)]).areas(body);
        (l, r)
    }
}
