//! Unit tests of the TUI (`crates/cutover-tui`) that need the sample snapshots: the samples fill
//! the guard's checklist as the engine does, so they live beside the engine (`cutover::sample`),
//! which the TUI crate must not depend on, not even for its tests (`cargo tree -p cutover-tui`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches: a failed unwrap fails the run

use cutover::model::{FileStatus, MigrationSnapshot, Phase};
use cutover::sample;
use cutover::tui::TuiContext;
use cutover::tui::app::redraw_header;
use cutover::tui::dashboard::live::*;
use cutover::tui::dashboard::{self, DashboardState};
use cutover::tui::format::file_progress;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;

/// The once-a-second clock rewrites the header line only: the clock and elapsed move, the rest
/// of the last frame stays as it was drawn.
#[test]
fn the_clock_redraws_only_the_header() {
    let snap = sample::migration(vec![sample::database("db1", Phase::CatchingUp, 3)]);
    let ctx = TuiContext {
        source_connected: true,
        target_connection: String::new(),
        theme: cutover::tui::Theme::plain(),
        stop_traffic: None,
        local_offset: None,
        quit_note: None,
    };
    let mut state = DashboardState {
        now_unix: sample::NOW,
        ..Default::default()
    };
    let Ok(mut terminal) = Terminal::new(TestBackend::new(80, 24));
    let Ok(frame) = terminal.draw(|f| dashboard::render(f, &snap, &state, &ctx));
    let mut last = Some(frame.buffer.clone());
    let before = terminal.backend().buffer().clone();
    let row =
        |b: &Buffer, y: u16| -> String { (0..b.area.width).map(|x| b[(x, y)].symbol()).collect() };
    assert!(
        row(&before, 0).contains("01:02:05 UTC"),
        "{}",
        row(&before, 0)
    );
    state.now_unix = sample::NOW + 61;
    let Ok(()) = redraw_header(&mut terminal, &mut last, &snap, &state, &ctx);
    let after = terminal.backend().buffer().clone();
    let head = row(&after, 0);
    assert!(head.contains("01:03:06 UTC"), "{head}");
    assert!(head.contains("polled 1m05s ago"), "{head}");
    assert!(head.contains("1h03m"), "elapsed ticks: {head}");
    for y in 1..after.area.height {
        assert_eq!(row(&after, y), row(&before, y), "row {y} changed");
    }
    // The kept frame is what is on screen now: the next tick diffs against it.
    assert_eq!(last.as_ref().map(|b| row(b, 0)), Some(head));
}

fn snap(phase: Phase) -> MigrationSnapshot {
    sample::migration(vec![sample::database("db1", phase, 2)])
}

#[test]
fn elapsed_ticks_from_the_start_until_the_migration_is_over() {
    let s = snap(Phase::CatchingUp);
    assert_eq!(elapsed_secs(&s, s.started_unix + 4000), 4000.0);
    // No start time from the engine: its own figure.
    let mut old = s.clone();
    old.started_unix = 0;
    assert_eq!(elapsed_secs(&old, s.started_unix + 4000), old.elapsed_secs);
    let done = snap(Phase::Completed);
    assert_eq!(
        elapsed_secs(&done, done.started_unix + 9999),
        done.elapsed_secs
    );
}

#[test]
fn polls_older_than_a_minute_are_stale() {
    let s = snap(Phase::CatchingUp);
    let t = s.last_poll_unix.unwrap();
    assert_eq!(poll_state(&s, t + 4), PollState::Fresh { secs: 4 });
    assert_eq!(
        poll_state(&s, t + 61),
        PollState::Stale {
            secs: Some(61),
            why: None
        }
    );
    let mut failing = s.clone();
    failing.stale = Some("restore status failed 3 times since 14:02".into());
    assert!(matches!(
        poll_state(&failing, t + 4),
        PollState::Stale { why: Some(_), .. }
    ));
    // Nothing restores: no poll to wait for.
    assert_eq!(
        poll_state(&snap(Phase::Completed), t + 600),
        PollState::Idle
    );
}

#[test]
fn downtime_ticks_while_cutting_over_and_freezes_at_completed() {
    let mut db = sample::database("db1", Phase::CuttingOver, 2);
    db.downtime_started_unix = None;
    db.downtime_secs = None;
    assert_eq!(downtime_secs(&db, 1_000), None);
    db.downtime_started_unix = Some(1_000);
    db.downtime_secs = Some(3.0);
    assert_eq!(downtime_secs(&db, 1_042), Some(42.0));
    db.state.phase = Phase::Completed;
    db.downtime_secs = Some(57.0);
    assert_eq!(downtime_secs(&db, 9_999), Some(57.0));
    db.downtime_secs = None;
    db.completed_unix = Some(1_060);
    assert_eq!(downtime_secs(&db, 9_999), Some(60.0));
}

#[test]
fn queued_and_ignored_files_say_so() {
    let mut f = sample::chain("db1", 0).remove(0);
    f.status = FileStatus::Uploading;
    f.uploaded_bytes = 0;
    assert_eq!(file_progress(&f), "Queued");
    f.uploaded_bytes = f.size / 4;
    assert_eq!(file_progress(&f), "Uploading 25%");
    f.status = FileStatus::Skipped;
    assert_eq!(file_progress(&f), "Ignored");
}
