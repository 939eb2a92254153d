//! Key handling on the pure UI state (no terminal): which keys open what, and which
//! `EngineCommand`s are sent.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches: a failed unwrap fails the run

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use cutover::engine::{EngineCommand, MigrationSnapshot, Phase, TailState};
use cutover::sample;
use cutover::source::tail::StopTraffic;
use cutover::tui::dashboard::{DashboardState, Focus, Overlay};
use cutover::tui::{Theme, TuiContext};

fn ctx(source_connected: bool) -> TuiContext {
    TuiContext {
        source_connected,
        target_connection: "Server=mi;Database={database}".to_string(),
        theme: Theme::plain(),
        stop_traffic: None,
        local_offset: None,
        quit_note: None,
    }
}

fn key(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

fn ch(c: char) -> KeyEvent {
    key(KeyCode::Char(c))
}

/// Presses the keys in order; returns every command sent.
fn press(
    state: &mut DashboardState,
    snap: &MigrationSnapshot,
    ctx: &TuiContext,
    keys: &[KeyEvent],
) -> Vec<EngineCommand> {
    keys.iter()
        .flat_map(|k| state.handle_key(*k, snap, ctx))
        .collect()
}

fn typed(s: &str) -> Vec<KeyEvent> {
    s.chars().map(ch).collect()
}

fn snap(dbs: &[(&str, Phase)]) -> MigrationSnapshot {
    sample::migration(
        dbs.iter()
            .map(|(n, p)| sample::database(n, *p, 4))
            .collect(),
    )
}

/// db1 cutting over with the tail settled; `refusal` is the guard's answer.
fn cutting_over(refusal: Option<&str>) -> MigrationSnapshot {
    let mut db = sample::database("db1", Phase::CuttingOver, 4);
    db.state.tail = TailState::Taken {
        file: db.state.files.last().unwrap().name.clone(),
    };
    db.cutover_refusal = refusal.map(str::to_string);
    sample::migration(vec![db])
}

fn open_dialog(state: &mut DashboardState, snap: &MigrationSnapshot, c: &TuiContext) {
    assert!(press(state, snap, c, &[ch('c')]).is_empty());
    assert!(
        matches!(state.overlay, Overlay::Cutover(_)),
        "c opens the dialog"
    );
}

#[test]
fn c_opens_the_cutover_dialog_of_the_selected_database() {
    let s = snap(&[("db1", Phase::Restoring), ("db2", Phase::ReadyForCutover)]);
    let c = ctx(true);
    let mut st = DashboardState::new();
    // db1 is still restoring its full backup: no dialog, a notice saying why.
    press(&mut st, &s, &c, &[ch('c')]);
    assert_eq!(st.overlay, Overlay::None);
    assert!(
        st.notice
            .as_deref()
            .unwrap()
            .contains("full backup is restored")
    );
    press(&mut st, &s, &c, &[ch('j'), ch('c')]);
    match &st.overlay {
        Overlay::Cutover(d) => assert_eq!(d.database, "db2"),
        o => panic!("expected the cutover dialog, got {o:?}"),
    }
}

#[test]
fn begin_stops_traffic_only_after_y_with_the_chosen_way() {
    let s = snap(&[("db1", Phase::ReadyForCutover)]);
    let c = ctx(true);
    let mut st = DashboardState::new();
    open_dialog(&mut st, &s, &c);
    // Enter with a traffic stop chosen changes nothing yet: the statement is shown first.
    assert!(press(&mut st, &s, &c, &[ch('u'), key(KeyCode::Enter)]).is_empty());
    let Overlay::Cutover(d) = &st.overlay else {
        panic!("dialog closed")
    };
    assert_eq!(d.pending, Some(cutover::tui::cutover::Pending::Begin));
    // Any other key goes back without running anything.
    assert!(press(&mut st, &s, &c, &[key(KeyCode::Enter)]).is_empty());
    assert!(st.notice.as_deref().unwrap().contains("nothing was run"));
    let sent = press(&mut st, &s, &c, &[key(KeyCode::Enter), ch('y')]);
    assert_eq!(
        sent,
        vec![EngineCommand::BeginCutover {
            database: "db1".into(),
            stop_traffic: Some(StopTraffic::RestrictedUser)
        }]
    );
}

#[test]
fn the_configured_stop_traffic_is_preselected_and_none_means_none() {
    let s = snap(&[("db1", Phase::ReadyForCutover)]);
    // The configuration says none: Enter begins at once without touching the source.
    let c = ctx(true);
    let mut st = DashboardState::new();
    open_dialog(&mut st, &s, &c);
    assert_eq!(
        press(&mut st, &s, &c, &[key(KeyCode::Enter)]),
        vec![EngineCommand::BeginCutover {
            database: "db1".into(),
            stop_traffic: None
        }]
    );
    // The configuration says restricted-user: preselected (not READ_ONLY), still confirmed.
    let c = ctx(true).with_stop_traffic(Some(StopTraffic::RestrictedUser));
    let mut st = DashboardState::new();
    open_dialog(&mut st, &s, &c);
    assert_eq!(
        press(&mut st, &s, &c, &[key(KeyCode::Enter), ch('y')]),
        vec![EngineCommand::BeginCutover {
            database: "db1".into(),
            stop_traffic: Some(StopTraffic::RestrictedUser)
        }]
    );
}

/// Defect 3: after a tail-log backup WITH NORECOVERY and an abandon, the source is RESTORING:
/// Begin must not try to stop traffic (SQL Server refuses, error 5052) and `t` must not spin.
#[test]
fn a_restoring_source_offers_neither_stop_traffic_nor_a_new_tail() {
    use cutover::engine::SourceAccess;
    let c = ctx(true).with_stop_traffic(Some(StopTraffic::ReadOnly));
    let mut s = snap(&[("db1", Phase::CatchingUp)]);
    s.databases[0].source_access = Some(SourceAccess::Restoring);
    let mut st = DashboardState::new();
    open_dialog(&mut st, &s, &c);
    assert_eq!(
        press(&mut st, &s, &c, &[ch('s'), key(KeyCode::Enter)]),
        vec![EngineCommand::BeginCutover {
            database: "db1".into(),
            stop_traffic: None
        }],
        "no ALTER DATABASE on a RESTORING database"
    );
    let mut s = snap(&[("db1", Phase::CuttingOver)]);
    s.databases[0].source_access = Some(SourceAccess::Restoring);
    assert!(press(&mut st, &s, &c, &[ch('t')]).is_empty());
    assert!(st.notice.as_deref().unwrap().contains("RESTORING"));
    let Overlay::Cutover(d) = &st.overlay else {
        panic!("dialog closed")
    };
    assert_eq!(d.tail, None, "no spinner for a tail that cannot be taken");
    assert_eq!(d.pending, None);
    // The tail taken before is the last backup.
    assert_eq!(
        press(&mut st, &s, &c, &[ch('x'), ch('x')]),
        vec![EngineCommand::ConfirmNoMoreBackups {
            database: "db1".into()
        }]
    );
}

#[test]
fn esc_after_a_norecovery_tail_asks_first() {
    use cutover::engine::SourceAccess;
    let c = ctx(true);
    let mut s = cutting_over(None);
    s.databases[0].source_access = Some(SourceAccess::Restoring);
    let mut st = DashboardState::new();
    open_dialog(&mut st, &s, &c);
    assert!(press(&mut st, &s, &c, &[key(KeyCode::Esc)]).is_empty());
    let Overlay::Cutover(d) = &st.overlay else {
        panic!("Esc must not close the dialog at once")
    };
    assert_eq!(d.pending, Some(cutover::tui::cutover::Pending::Abandon));
    // n: the cutover goes on.
    assert!(press(&mut st, &s, &c, &[ch('n')]).is_empty());
    assert!(matches!(st.overlay, Overlay::Cutover(_)));
    assert_eq!(
        press(&mut st, &s, &c, &[key(KeyCode::Esc), ch('y')]),
        vec![EngineCommand::AbandonCutover {
            database: "db1".into()
        }]
    );
}

#[test]
fn without_a_source_connection_traffic_is_not_stopped_and_the_tail_is_not_taken() {
    let s = snap(&[("db1", Phase::ReadyForCutover)]);
    let c = ctx(false);
    let mut st = DashboardState::new();
    open_dialog(&mut st, &s, &c);
    // s is not offered: stop_traffic stays None.
    let sent = press(&mut st, &s, &c, &[ch('s'), key(KeyCode::Enter)]);
    assert_eq!(
        sent,
        vec![EngineCommand::BeginCutover {
            database: "db1".into(),
            stop_traffic: None
        }]
    );
    let s = snap(&[("db1", Phase::CuttingOver)]);
    assert!(press(&mut st, &s, &c, &[ch('t')]).is_empty());
    assert!(st.notice.as_deref().unwrap().contains("not connected"));
}

#[test]
fn tail_keys_send_take_tail_and_confirm_no_more_backups_only_on_the_second_x() {
    let s = snap(&[("db1", Phase::CuttingOver)]);
    let c = ctx(true);
    let mut st = DashboardState::new();
    open_dialog(&mut st, &s, &c);
    assert!(
        press(&mut st, &s, &c, &[ch('t')]).is_empty(),
        "t shows the BACKUP LOG statement first"
    );
    let Overlay::Cutover(d) = &st.overlay else {
        panic!("dialog closed")
    };
    let sql = d.tail_statement.as_deref().unwrap_or_default();
    assert!(
        sql.starts_with(r"BACKUP LOG [db1] TO DISK = N'\\fs01\backups\db1\db1_TAIL_")
            && sql.ends_with(".trn' WITH NORECOVERY, CHECKSUM, INIT"),
        "{sql}"
    );
    assert_eq!(
        press(&mut st, &s, &c, &[ch('y')]),
        vec![EngineCommand::TakeTail {
            database: "db1".into()
        }]
    );
    assert_eq!(
        press(&mut st, &s, &c, &[ch('w')]),
        vec![EngineCommand::WaitForTail {
            database: "db1".into()
        }],
        "the operator takes the tail: the engine watches for it"
    );
    assert!(
        press(&mut st, &s, &c, &[ch('x')]).is_empty(),
        "the first x only arms"
    );
    assert_eq!(
        press(&mut st, &s, &c, &[ch('x')]),
        vec![EngineCommand::ConfirmNoMoreBackups {
            database: "db1".into()
        }]
    );
}

#[test]
fn typing_the_name_enables_complete_only_when_the_guard_has_no_refusal() {
    let c = ctx(true);
    // Guard refuses: the exact name does not enable Complete.
    let s = cutting_over(Some("1 backup(s) not restored yet: db1_LOG.trn"));
    let mut st = DashboardState::new();
    open_dialog(&mut st, &s, &c);
    let mut keys = typed("db1");
    keys.push(key(KeyCode::Enter));
    assert!(press(&mut st, &s, &c, &keys).is_empty());
    assert!(st.notice.as_deref().unwrap().contains("not restored yet"));
    // Guard allows: a wrong name does not enable it, the exact one does.
    let s = cutting_over(None);
    let mut st = DashboardState::new();
    open_dialog(&mut st, &s, &c);
    let mut keys = typed("DB1");
    keys.push(key(KeyCode::Enter));
    assert!(
        press(&mut st, &s, &c, &keys).is_empty(),
        "the name must match exactly"
    );
    let Overlay::Cutover(d) = &st.overlay else {
        panic!("dialog closed")
    };
    assert!(!d.complete_enabled(&s.databases[0]));
    let mut keys = vec![key(KeyCode::Backspace); 3];
    keys.extend(typed("db1"));
    press(&mut st, &s, &c, &keys);
    let Overlay::Cutover(d) = &st.overlay else {
        panic!("dialog closed")
    };
    assert!(d.complete_enabled(&s.databases[0]));
    assert_eq!(
        press(&mut st, &s, &c, &[key(KeyCode::Enter)]),
        vec![EngineCommand::Complete {
            database: "db1".into()
        }]
    );
}

#[test]
fn esc_abandons_a_begun_cutover_and_only_closes_one_not_begun() {
    let c = ctx(true);
    let s = snap(&[("db1", Phase::ReadyForCutover)]);
    let mut st = DashboardState::new();
    open_dialog(&mut st, &s, &c);
    assert!(press(&mut st, &s, &c, &[key(KeyCode::Esc)]).is_empty());
    assert_eq!(st.overlay, Overlay::None);

    let s = snap(&[("db1", Phase::CuttingOver)]);
    open_dialog(&mut st, &s, &c);
    assert_eq!(
        press(&mut st, &s, &c, &[ch('a')]),
        vec![EngineCommand::AbandonCutover {
            database: "db1".into()
        }]
    );
    assert_eq!(st.overlay, Overlay::None);

    // While typing the name, `a` is a letter; Esc abandons.
    let s = cutting_over(None);
    open_dialog(&mut st, &s, &c);
    assert!(press(&mut st, &s, &c, &[ch('a')]).is_empty());
    assert_eq!(
        press(&mut st, &s, &c, &[key(KeyCode::Esc)]),
        vec![EngineCommand::AbandonCutover {
            database: "db1".into()
        }]
    );
}

#[test]
fn q_asks_for_confirmation_and_y_shuts_down() {
    let s = snap(&[("db1", Phase::CatchingUp)]);
    let c = ctx(true);
    let mut st = DashboardState::new();
    assert!(press(&mut st, &s, &c, &[ch('q')]).is_empty());
    assert_eq!(st.overlay, Overlay::QuitConfirm);
    assert!(!st.quit);
    press(&mut st, &s, &c, &[ch('n')]);
    assert_eq!(st.overlay, Overlay::None);
    assert!(!st.quit);
    assert_eq!(
        press(&mut st, &s, &c, &[ch('q'), ch('y')]),
        vec![EngineCommand::Shutdown]
    );
    assert!(st.quit);
    // Ctrl-C asks too.
    let mut st = DashboardState::new();
    press(
        &mut st,
        &s,
        &c,
        &[KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)],
    );
    assert_eq!(st.overlay, Overlay::QuitConfirm);
}

#[test]
fn filter_narrows_the_list_and_keeps_a_visible_selection() {
    let s = snap(&[
        ("sales", Phase::CatchingUp),
        ("hr", Phase::CatchingUp),
        ("sales_archive", Phase::Restoring),
    ]);
    let c = ctx(true);
    let mut st = DashboardState::new();
    press(&mut st, &s, &c, &[ch('j')]);
    assert_eq!(st.selected_database(&s).unwrap().state.name, "hr");
    let mut keys = vec![ch('/')];
    keys.extend(typed("SAL"));
    press(&mut st, &s, &c, &keys);
    let names: Vec<&str> = st
        .visible(&s)
        .iter()
        .map(|d| d.state.name.as_str())
        .collect();
    assert_eq!(names, ["sales", "sales_archive"]);
    assert_eq!(st.selected_database(&s).unwrap().state.name, "sales");
    // While editing, q and c are letters of the filter.
    press(&mut st, &s, &c, &[ch('q')]);
    assert_eq!(st.overlay, Overlay::None);
    assert!(st.visible(&s).is_empty());
    press(
        &mut st,
        &s,
        &c,
        &[key(KeyCode::Backspace), key(KeyCode::Enter), ch('j')],
    );
    assert!(!st.filter_editing);
    assert_eq!(
        st.selected_database(&s).unwrap().state.name,
        "sales_archive"
    );
    press(&mut st, &s, &c, &[key(KeyCode::Esc)]);
    assert_eq!(st.visible(&s).len(), 3, "Esc clears the filter");
}

#[test]
fn retry_pause_help_and_focus() {
    let c = ctx(true);
    let mut s = snap(&[("db1", Phase::CatchingUp), ("db2", Phase::Failed)]);
    let mut st = DashboardState::new();
    assert!(
        press(&mut st, &s, &c, &[ch('r')]).is_empty(),
        "nothing to retry on db1"
    );
    assert_eq!(
        press(&mut st, &s, &c, &[ch('j'), ch('r')]),
        vec![EngineCommand::Retry {
            database: "db2".into()
        }]
    );
    assert_eq!(
        press(&mut st, &s, &c, &[ch('p')]),
        vec![EngineCommand::PauseUploads]
    );
    s.paused = true;
    assert_eq!(
        press(&mut st, &s, &c, &[ch('p')]),
        vec![EngineCommand::ResumeUploads]
    );
    press(&mut st, &s, &c, &[ch('?')]);
    assert_eq!(st.overlay, Overlay::Help);
    press(&mut st, &s, &c, &[key(KeyCode::Esc)]);
    assert_eq!(st.overlay, Overlay::None);
    assert_eq!(st.focus, Focus::Databases);
    press(&mut st, &s, &c, &[key(KeyCode::Tab)]);
    assert_eq!(st.focus, Focus::Chain);
    press(&mut st, &s, &c, &[ch('j'), ch('j')]);
    assert_eq!(st.chain_scroll, 2);
    press(
        &mut st,
        &s,
        &c,
        &[key(KeyCode::BackTab), key(KeyCode::Enter)],
    );
    assert_eq!(
        st.focus,
        Focus::Chain,
        "Enter on the list goes to the chain"
    );
}

#[test]
fn chain_problems_find_gaps_and_unrestorable_files() {
    use cutover::tui::dashboard::chain::{Problem, problems};
    let db = sample::database("db1", Phase::Blocked, 6);
    let p = problems(&db.state.files);
    assert_eq!(
        p,
        vec![
            Problem::Unrestorable { index: 3 },
            Problem::Gap { index: 3 }
        ]
    );
    assert!(problems(&sample::database("db1", Phase::CatchingUp, 6).state.files).is_empty());
}

#[test]
fn e_shows_only_the_selected_database_events_and_back() {
    let s = snap(&[("db1", Phase::CatchingUp), ("db2", Phase::Restoring)]);
    let c = ctx(true);
    let mut st = DashboardState::new();
    assert_eq!(st.events(&s).len(), s.events.len(), "all events at first");
    press(&mut st, &s, &c, &[ch('e')]);
    assert!(st.events_selected_only);
    let only: Vec<_> = st.events(&s);
    assert!(!only.is_empty());
    assert!(only.iter().all(|e| e.database.as_deref() == Some("db1")));
    assert_eq!(st.events_database(&s), Some("db1"));
    assert!(st.notice.as_deref().unwrap().contains("db1"));
    // Scrolling the event pane is bounded by the filtered lines.
    st.focus = Focus::Events;
    press(&mut st, &s, &c, &[key(KeyCode::Up); 10]);
    assert_eq!(st.events_scroll, only.len() - 1);
    // Another database selected: its events, from the newest.
    st.focus = Focus::Databases;
    press(&mut st, &s, &c, &[ch('j')]);
    assert_eq!(st.events_scroll, 0);
    assert!(
        st.events(&s)
            .iter()
            .all(|e| e.database.as_deref() == Some("db2"))
    );
    // e again: all events.
    press(&mut st, &s, &c, &[ch('e')]);
    assert!(!st.events_selected_only);
    assert_eq!(st.events(&s).len(), s.events.len());
    assert_eq!(st.events_database(&s), None);
}

/// Defect 6: a refusal shown before the name was typed must not stay on screen once Complete was
/// sent and the database completed.
#[test]
fn complete_is_disabled_does_not_outlive_the_completion() {
    let c = ctx(true);
    let s = cutting_over(None);
    let mut st = DashboardState::new();
    open_dialog(&mut st, &s, &c);
    press(&mut st, &s, &c, &[key(KeyCode::Enter)]);
    assert!(
        st.notice
            .as_deref()
            .unwrap()
            .contains("Complete is disabled")
    );
    let mut keys = typed("db1");
    keys.push(key(KeyCode::Enter));
    assert_eq!(
        press(&mut st, &s, &c, &keys),
        vec![EngineCommand::Complete {
            database: "db1".into()
        }]
    );
    let done = snap(&[("db1", Phase::Completed)]);
    press(&mut st, &done, &c, &[key(KeyCode::Esc)]);
    assert_eq!(st.overlay, Overlay::None);
    assert!(
        !st.notice
            .as_deref()
            .unwrap_or_default()
            .contains("Complete is disabled"),
        "stale notice: {:?}",
        st.notice
    );
}

#[test]
fn w_shows_the_backup_log_statement_to_run() {
    let c = ctx(false);
    let s = snap(&[("we]ird 'name", Phase::CuttingOver)]);
    let mut st = DashboardState::new();
    open_dialog(&mut st, &s, &c);
    assert_eq!(
        press(&mut st, &s, &c, &[ch('w')]),
        vec![EngineCommand::WaitForTail {
            database: "we]ird 'name".into()
        }]
    );
    let Overlay::Cutover(d) = &st.overlay else {
        panic!("dialog closed")
    };
    let sql = d.tail_statement.as_deref().unwrap();
    assert!(
        sql.starts_with(
            r"BACKUP LOG [we]]ird 'name] TO DISK = N'\\fs01\backups\we]ird ''name\we_ird__name_TAIL_"
        ),
        "{sql}"
    );
    assert!(
        sql.ends_with(".trn' WITH NORECOVERY, CHECKSUM, INIT"),
        "{sql}"
    );
}

#[test]
fn once_every_database_is_finished_nothing_is_sent_but_quit() {
    let c = ctx(true);
    let s = snap(&[("db1", Phase::Completed), ("db2", Phase::Canceled)]);
    let mut st = DashboardState::new();
    assert!(press(&mut st, &s, &c, &[ch('p'), ch('r')]).is_empty());
    assert!(st.notice.as_deref().unwrap().contains("All 2 finished"));
    assert_eq!(
        press(&mut st, &s, &c, &[ch('q'), ch('y')]),
        vec![EngineCommand::Shutdown]
    );
    assert!(st.quit);
}

#[test]
fn l_toggles_the_logins_panel_and_j_k_move_in_it() {
    let mut s = snap(&[("db1", Phase::CatchingUp), ("db2", Phase::CatchingUp)]);
    s.logins = sample::logins();
    let c = ctx(true);
    let mut st = DashboardState::default();
    assert!(press(&mut st, &s, &c, &[ch('l')]).is_empty());
    assert!(st.show_logins);
    assert!(
        st.notice.as_deref().unwrap().contains("on target"),
        "{:?}",
        st.notice
    );
    press(&mut st, &s, &c, &[ch('j'), ch('j')]);
    assert_eq!(st.selected_login, 2);
    // The database selection did not move.
    assert_eq!(st.selected, None);
    press(
        &mut st,
        &s,
        &c,
        &[
            key(KeyCode::End),
            ch('j'),
            ch('j'),
            ch('j'),
            ch('j'),
            ch('j'),
        ],
    );
    assert_eq!(
        st.selected_login,
        s.logins.len() - 1,
        "stops at the last login"
    );
    press(&mut st, &s, &c, &[ch('l')]);
    assert!(!st.show_logins);
    press(&mut st, &s, &c, &[ch('j')]);
    assert_eq!(st.selected.as_deref(), Some("db2"));
}
