//! Render time of the dashboard for a large migration: 200 databases x 1,000 backup files each,
//! drawn into a 160x48 `TestBackend`. Prints the mean and p99 frame time (target: < 2 ms in
//! release, `cargo bench --bench render`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches: a failed unwrap fails the run

use std::time::{Duration, Instant};

use cutover::sample;
use cutover::tui::dashboard::{self, DashboardState};
use cutover::tui::{Theme, TuiContext};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn main() {
    let snap = sample::large(200, 1000);
    let ctx = TuiContext {
        source_connected: true,
        target_connection: "Server=mi;Database={database}".to_string(),
        theme: Theme::default(),
        stop_traffic: None,
        local_offset: None,
        quit_note: None,
    };
    let Ok(mut terminal) = Terminal::new(TestBackend::new(160, 48));
    let frames = 500;
    let mut times = Vec::with_capacity(frames);
    for i in 0..(frames + 50) {
        // Move the selection so every frame draws a different database's chain.
        let state = DashboardState {
            selected: Some(format!("db{:03}", i % 200 + 1)),
            ..Default::default()
        };
        let t = Instant::now();
        let Ok(_) = terminal.draw(|f| dashboard::render(f, &snap, &state, &ctx));
        if i >= 50 {
            times.push(t.elapsed());
        }
    }
    times.sort();
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    let p99 = times[times.len() * 99 / 100];
    println!(
        "dashboard 160x48, 200 databases x 1000 files: {frames} frames, mean {:.3} ms, p99 {:.3} ms (target < 2 ms)",
        mean.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
}
