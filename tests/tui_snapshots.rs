//! Render tests: every screen of the TUI drawn into ratatui's `TestBackend` at 80x24 (the minimum)
//! and 160x48, compared with insta snapshots (`tests/snapshots/`). Snapshots are built by hand
//! (`cutover::sample`): no clock, no randomness.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches: a failed unwrap fails the run

use cutover::engine::{MigrationSnapshot, Phase, TailState};
use cutover::sample;
use cutover::tui::cutover::CutoverDialog;
use cutover::tui::dashboard::{self, DashboardState, Overlay};
use cutover::tui::{Theme, TuiContext};
use ratatui::backend::TestBackend;
use ratatui::{Frame, Terminal};

const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];

fn ctx(source_connected: bool) -> TuiContext {
    TuiContext {
        source_connected,
        target_connection: "Server=tcp:mi-contoso.abc123.database.windows.net,1433;Database={database};Authentication=Active Directory Default;Encrypt=True".to_string(),
        theme: Theme::default(),
        stop_traffic: None,
        local_offset: None,
            quit_note: None,
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

/// The screen's text, one string (rows joined by spaces, runs of spaces folded).
fn screen_text(snap: &MigrationSnapshot, state: &DashboardState, c: &TuiContext) -> String {
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    terminal
        .draw(|f| dashboard::render(f, snap, state, c))
        .unwrap();
    let buf = terminal.backend().buffer();
    let text: String = buf.content().iter().map(|cell| cell.symbol()).collect();
    text.replace(['│', '─'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The demo in temporary folders keeps nothing: its quit dialog says so, not "run the same
/// command again to re-attach" (which would open an empty wizard).
#[test]
fn quit_confirmation_of_a_demo_in_temporary_folders() {
    let state = DashboardState {
        overlay: Overlay::QuitConfirm,
        ..Default::default()
    };
    let snap = all_phases();
    let kept = ctx(true);
    let demo = ctx(true).with_quit_note(
        "nothing of this demo is kept: its state was in temporary folders, removed now",
    );
    let kept_text = screen_text(&snap, &state, &kept);
    let demo_text = screen_text(&snap, &state, &demo);
    assert!(
        kept_text.contains("run the same command again"),
        "{kept_text}"
    );
    assert!(
        demo_text.contains("Nothing of this demo is kept"),
        "{demo_text}"
    );
    assert!(
        !demo_text.contains("run the same command again"),
        "{demo_text}"
    );
    check("quit_demo", |f| dashboard::render(f, &snap, &state, &demo));
}

/// A lag computed without the source's time zone (folder-only source) is marked in the list.
#[test]
fn a_lag_without_the_servers_time_zone_is_marked() {
    let mut known = sample::database("db1", Phase::CatchingUp, 6);
    known.data_lag_secs = Some(125.0);
    let mut unknown = known.clone();
    unknown.data_lag_utc_known = false;
    let state = DashboardState::default();
    let a = screen_text(&sample::migration(vec![known]), &state, &ctx(true));
    let b = screen_text(&sample::migration(vec![unknown]), &state, &ctx(true));
    assert!(a.contains("2m05s") && !a.contains("2m05s?"), "{a}");
    assert!(b.contains("2m05s?"), "{b}");
    assert!(b.contains("server time zone unknown"), "{b}");
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

/// Defect 1: once every database is finished the dashboard stays on this view (status, target,
/// downtime, connection string per database); the clock shows local time and UTC.
#[test]
fn dashboard_all_completed() {
    let snap = sample::migration(
        ["Sales", "Inventory", "HR", "we]ird 'name"]
            .iter()
            .map(|n| sample::database(n, Phase::Completed, 3))
            .collect(),
    );
    let mut c = ctx(true);
    c.local_offset = time::UtcOffset::from_hms(1, 0, 0).ok();
    check("dashboard_all_completed", |f| {
        dashboard::render(f, &snap, &DashboardState::default(), &c)
    });
}

/// Defect 5 and liveness: paused uploads show "paused" (no rate, no ETA); LRS reads failing show
/// STALE in the header and why in the footer.
#[test]
fn dashboard_paused_and_stale() {
    let mut snap = sample::migration(vec![
        sample::database("db1", Phase::UploadingFullBackup, 4),
        sample::database("db2", Phase::CatchingUp, 4),
    ]);
    snap.paused = true;
    snap.stale = Some(
        "restore status failed 3 times in a row since 01:01:00 (503 ServiceUnavailable); next try in 40s"
            .to_string(),
    );
    snap.last_poll_unix = Some(sample::NOW - 125);
    dash(
        "dashboard_paused_and_stale",
        &snap,
        &DashboardState::default(),
        true,
    );
}

/// Defect 10: at 120x40 the detail takes the whole width under the list, so the chain shows file
/// names whole (both LSNs); a name longer than its column ends with an ellipsis; the focused
/// panel is marked without colour (NO_COLOR); queued files say Queued, files outside the restore
/// plan Ignored, with why.
#[test]
fn dashboard_chain_at_120x40_without_colour() {
    use cutover::engine::FileStatus;
    let mut db = sample::database("we]ird 'name", Phase::CatchingUp, 5);
    let n = db.state.files.len();
    db.state.files[n - 1].uploaded_bytes = 0; // uploading, no byte sent yet: queued
    db.state.files[0].status = FileStatus::Skipped;
    db.state.ignored.push(cutover::engine::state::ignored_file(
        "we]ird 'name_FULL_20260201_010000.bak",
        cutover::backup::BackupType::Full,
        cutover::catalog::plan::SkipReason::OlderFull,
    ));
    db.state.files[1].name = format!(
        "{}_with_a_very_long_suffix_{}",
        db.state.files[1].name,
        "x".repeat(60)
    );
    let snap = sample::migration(vec![db]);
    let c = TuiContext {
        theme: Theme::plain(),
        ..ctx(true)
    };
    let state = DashboardState {
        focus: cutover::tui::dashboard::Focus::Chain,
        ..Default::default()
    };
    for (w, h) in [(120, 40), (80, 24)] {
        let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
        terminal
            .draw(|f| dashboard::render(f, &snap, &state, &c))
            .unwrap();
        insta::assert_snapshot!(
            format!("dashboard_chain_no_color_{w}x{h}"),
            terminal.backend()
        );
    }
}

/// Enter with a traffic stop chosen shows the exact statement; `y` runs it.
#[test]
fn cutover_begin_shows_the_statement() {
    let db = sample::database("db1", Phase::ReadyForCutover, 6);
    let (snap, state) = with_dialog(db, true, |d| {
        d.stop = cutover::tui::cutover::StopChoice::Stop(
            cutover::source::tail::StopTraffic::RestrictedUser,
        );
        d.pending = Some(cutover::tui::cutover::Pending::Begin);
    });
    dash("cutover_2b_begin_statement", &snap, &state, true);
}

/// `t` shows the BACKUP LOG ... WITH NORECOVERY statement before taking it.
#[test]
fn cutover_take_tail_shows_the_statement() {
    let mut db = sample::database("db1", Phase::CuttingOver, 6);
    db.source_access = Some(cutover::engine::SourceAccess::ReadOnly);
    let (snap, state) = with_dialog(db, true, |d| {
        d.pending = Some(cutover::tui::cutover::Pending::TakeTail);
        d.tail_statement = Some(cutover::source::tail::tail_log_backup_sql(
            "db1",
            r"\\fs01\backups\db1",
            "db1_TAIL_20260301_010205.trn",
        ));
    });
    dash("cutover_3d_take_tail_statement", &snap, &state, true);
}

/// Defect 3: begun again after a NORECOVERY tail and an abandon: the source is RESTORING, so no
/// traffic stop is claimed, `t` is unavailable and `x` says the earlier tail is the last backup.
#[test]
fn cutover_with_the_source_restoring() {
    let mut db = sample::database("db1", Phase::CuttingOver, 6);
    db.source_access = Some(cutover::engine::SourceAccess::Restoring);
    db.traffic_stopped = Some(cutover::source::tail::StopTraffic::ReadOnly);
    let (snap, state) = with_dialog(db, true, |_| {});
    dash("cutover_3e_source_restoring", &snap, &state, true);
}

/// Esc after a tail-log backup WITH NORECOVERY asks first and shows RESTORE ... WITH RECOVERY.
#[test]
fn cutover_abandon_after_a_norecovery_tail() {
    let mut db = sample::database("db1", Phase::CuttingOver, 6);
    db.source_access = Some(cutover::engine::SourceAccess::Restoring);
    db.state.tail = TailState::Taken {
        file: db.state.files.last().unwrap().name.clone(),
    };
    db.cutover_refusal = None;
    let (snap, state) = with_dialog(db, true, |d| {
        d.pending = Some(cutover::tui::cutover::Pending::Abandon)
    });
    dash("cutover_4b_abandon_confirmation", &snap, &state, true);
}

/// Defect 10: a database name longer than the list's column ends with an ellipsis.
#[test]
fn dashboard_long_database_names() {
    let snap = sample::migration(vec![
        sample::database(
            "we]ird 'name of a database kept since 2009",
            Phase::CatchingUp,
            3,
        ),
        sample::database("db2", Phase::ReadyForCutover, 3),
    ]);
    dash(
        "dashboard_long_names",
        &snap,
        &DashboardState::default(),
        true,
    );
}

/// After completion the instance's own word on each database (its SQL endpoint): ONLINE (or not),
/// compatibility level, recovery model, and the connection string it gives; one database the
/// instance has not answered for yet keeps the configured connection string.
#[test]
fn dashboard_all_completed_with_the_target_report() {
    let mut dbs: Vec<_> = ["Sales", "Inventory", "HR"]
        .iter()
        .map(|n| sample::database(n, Phase::Completed, 3))
        .collect();
    dbs[0].on_target = Some(cutover::model::TargetDatabaseReport {
        state: Some("ONLINE".into()),
        compatibility_level: Some(160),
        recovery_model: Some("FULL".into()),
        collation: Some("SQL_Latin1_General_CP1_CI_AS".into()),
        connection_string:
            "Server=tcp:mi-report.zone1.database.windows.net,1433;Database=Sales;Encrypt=True"
                .into(),
    });
    dbs[1].on_target = Some(cutover::model::TargetDatabaseReport {
        state: Some("SUSPECT".into()),
        compatibility_level: Some(150),
        recovery_model: Some("SIMPLE".into()),
        collation: None,
        connection_string:
            "Server=tcp:mi-report.zone1.database.windows.net,1433;Database=Inventory;Encrypt=True"
                .into(),
    });
    let snap = sample::migration(dbs);
    let c = ctx(true);
    check("dashboard_all_completed_target_report", |f| {
        dashboard::render(f, &snap, &DashboardState::default(), &c)
    });
    // The same report in the detail panel of a completed database (the live view, another one
    // still running).
    let mut live = snap.clone();
    live.databases
        .push(sample::database("db4", Phase::CatchingUp, 3));
    let state = DashboardState {
        selected: Some("Sales".into()),
        ..Default::default()
    };
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
    terminal
        .draw(|f| dashboard::render(f, &live, &state, &c))
        .unwrap();
    let text = format!("{}", terminal.backend());
    assert!(
        text.contains("on the instance: ONLINE, compatibility level 160, FULL recovery"),
        "{text}"
    );
}

/// The Logins panel (`l`): one login of each status, the failed one selected with its reason.
#[test]
fn dashboard_logins_panel() {
    let mut snap = all_phases();
    snap.logins = sample::logins();
    let failed = snap
        .logins
        .iter()
        .position(|l| l.status.label() == "Failed")
        .unwrap();
    let state = DashboardState {
        show_logins: true,
        selected_login: failed,
        ..Default::default()
    };
    dash("dashboard_logins", &snap, &state, true);
    // The database view says the logins' tally and offers `l` in the footer.
    dash(
        "dashboard_with_logins",
        &snap,
        &DashboardState::default(),
        true,
    );
}
