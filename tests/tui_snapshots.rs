//! Render tests: every screen of the TUI drawn into ratatui's `TestBackend` at 80x24 (the minimum)
//! and 160x48, compared with insta snapshots (`tests/snapshots/`). Snapshots are built by hand
//! (`cutover::tui::sample`): no clock, no randomness.

use cutover::engine::{MigrationSnapshot, Phase, TailState};
use cutover::tui::cutover::CutoverDialog;
use cutover::tui::dashboard::{self, DashboardState, Overlay};
use cutover::tui::sample;
use cutover::tui::{Theme, TuiContext};
use ratatui::backend::TestBackend;
use ratatui::{Frame, Terminal};

const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];

fn ctx(source_connected: bool) -> TuiContext {
    TuiContext {
        source_connected,
        target_connection: "Server=tcp:mi-contoso.abc123.database.windows.net,1433;Database={database};Authentication=Active Directory Default;Encrypt=True".to_string(),
        theme: Theme::default(),
    }
}

fn check(name: &str, draw: impl Fn(&mut Frame)) {
    for (w, h) in SIZES {
        let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
        terminal.draw(|f| draw(f)).unwrap();
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), terminal.backend());
    }
}

fn all_phases() -> MigrationSnapshot {
    sample::migration(
        sample::PHASES
            .iter()
            .enumerate()
            .map(|(i, p)| sample::database(&format!("db{}", i + 1), *p, 6))
            .collect(),
    )
}

fn dash(name: &str, snap: &MigrationSnapshot, state: &DashboardState, connected: bool) {
    let c = ctx(connected);
    check(name, |f| dashboard::render(f, snap, state, &c));
}

#[test]
fn dashboard_in_every_phase() {
    let snap = all_phases();
    for (i, p) in sample::PHASES.iter().enumerate() {
        let state = DashboardState {
            selected: Some(format!("db{}", i + 1)),
            ..Default::default()
        };
        dash(&format!("dashboard_{p:?}"), &snap, &state, true);
    }
}

#[test]
fn dashboard_filtered_and_paused() {
    let mut snap = all_phases();
    snap.paused = true;
    let state = DashboardState {
        filter: "db1".to_string(),
        filter_editing: true,
        ..Default::default()
    };
    dash("dashboard_filter", &snap, &state, true);
}

#[test]
fn help_overlay() {
    let state = DashboardState {
        overlay: Overlay::Help,
        ..Default::default()
    };
    dash("help", &all_phases(), &state, true);
}

#[test]
fn quit_confirmation() {
    let state = DashboardState {
        overlay: Overlay::QuitConfirm,
        ..Default::default()
    };
    dash("quit", &all_phases(), &state, true);
}

#[test]
fn too_small() {
    let snap = all_phases();
    let c = ctx(true);
    for (w, h) in [(79, 24), (100, 20)] {
        let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
        terminal
            .draw(|f| dashboard::render(f, &snap, &DashboardState::default(), &c))
            .unwrap();
        insta::assert_snapshot!(format!("too_small_{w}x{h}"), terminal.backend());
    }
}

fn with_dialog(
    db: cutover::engine::DatabaseSnapshot,
    connected: bool,
    edit: impl Fn(&mut CutoverDialog),
) -> (MigrationSnapshot, DashboardState) {
    let c = ctx(connected);
    let mut dialog = CutoverDialog::open(&db, &c);
    edit(&mut dialog);
    let state = DashboardState {
        selected: Some(db.state.name.clone()),
        overlay: Overlay::Cutover(dialog),
        ..Default::default()
    };
    (sample::migration(vec![db]), state)
}

#[test]
fn cutover_preconditions_unmet() {
    let db = sample::database("db1", Phase::CatchingUp, 6);
    let (snap, state) = with_dialog(db, true, |_| {});
    dash("cutover_1_preconditions_unmet", &snap, &state, true);
}

#[test]
fn cutover_ready_to_begin_not_connected() {
    let db = sample::database("db1", Phase::ReadyForCutover, 6);
    let (snap, state) = with_dialog(db, false, |_| {});
    dash("cutover_2_begin_not_connected", &snap, &state, false);
}

#[test]
fn cutover_tail_pending() {
    let mut db = sample::database("db1", Phase::CuttingOver, 6);
    db.traffic_stopped = Some(cutover::source::tail::StopTraffic::ReadOnly);
    let (snap, state) = with_dialog(db, true, |d| d.tail = Some(cutover::engine::TailMode::Take));
    dash("cutover_3_tail_pending", &snap, &state, true);
}

#[test]
fn cutover_no_more_backups_armed() {
    let db = sample::database("db1", Phase::CuttingOver, 6);
    let (snap, state) = with_dialog(db, true, |d| d.skip_armed = true);
    dash("cutover_3b_no_more_backups_armed", &snap, &state, true);
}

#[test]
fn cutover_ready_name_typed() {
    let mut db = sample::database("db1", Phase::CuttingOver, 6);
    db.traffic_stopped = Some(cutover::source::tail::StopTraffic::ReadOnly);
    db.state.tail = TailState::Taken {
        file: db.state.files.last().unwrap().name.clone(),
    };
    db.cutover_refusal = None;
    let (snap, state) = with_dialog(db, true, |d| d.typed = "db1".to_string());
    dash("cutover_4_ready_name_typed", &snap, &state, true);
}

#[test]
fn cutover_completing() {
    let db = sample::database("db1", Phase::Completing, 6);
    let (snap, state) = with_dialog(db, true, |_| {});
    dash("cutover_5_completing", &snap, &state, true);
}

#[test]
fn cutover_completed() {
    let db = sample::database("db1", Phase::Completed, 6);
    let (snap, state) = with_dialog(db, true, |_| {});
    dash("cutover_6_completed", &snap, &state, true);
}

#[test]
fn dashboard_events_of_the_selected_database() {
    let state = DashboardState {
        selected: Some("db1".to_string()),
        events_selected_only: true,
        ..Default::default()
    };
    dash("dashboard_events_filtered", &all_phases(), &state, true);
    // A database without events says so.
    let state = DashboardState {
        selected: Some("db5".to_string()),
        events_selected_only: true,
        ..Default::default()
    };
    dash(
        "dashboard_events_filtered_empty",
        &all_phases(),
        &state,
        true,
    );
}

#[test]
fn cutover_tail_without_a_source_connection() {
    // Backup folder only: the tail-log backup cannot be taken by cutover; waiting for the
    // operator's and "no more backups" (a data-loss risk) remain.
    let db = sample::database("db1", Phase::CuttingOver, 6);
    let (snap, state) = with_dialog(db, false, |_| {});
    dash("cutover_3c_tail_not_connected", &snap, &state, false);
}

/// A database four days from LRS's 30-day limit: the finding with the date and what to do is in the
/// detail panel, readable at 80x24.
#[test]
fn dashboard_with_the_lrs_time_limit_near() {
    let mut db = sample::database("Sales", Phase::ReadyForCutover, 6);
    let start = 1_764_000_000; // 2025-11-24 16:00 UTC
    db.findings.push(
        cutover::engine::lrs_limit::finding(start, start + 26 * 86_400 + 3_600)
            .expect("within five days"),
    );
    let snap = sample::migration(vec![db]);
    let state = DashboardState {
        selected: Some("Sales".into()),
        ..Default::default()
    };
    dash("dashboard_lrs_time_limit", &snap, &state, true);
}
