//! The view the dashboard stays on once every database is Completed (or Canceled): per database its
//! status, the target database, the downtime and the connection string to give the applications.
//! The engine has stopped; quitting prints the same summary on the terminal.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::live;
use crate::context::TuiContext;
use crate::{format, layout};
use cutover_model::{MigrationSnapshot, Phase};

/// "All 4 completed", or "All 4 finished: 3 completed, 1 canceled".
pub fn title(snap: &MigrationSnapshot) -> String {
    let n = snap.databases.len();
    let done = snap
        .databases
        .iter()
        .filter(|d| d.state.phase == Phase::Completed)
        .count();
    if done == n {
        format!("All {n} completed")
    } else {
        format!("All {n} finished: {done} completed, {} canceled", n - done)
    }
}

pub fn lines(snap: &MigrationSnapshot, ctx: &TuiContext, now_unix: i64) -> Vec<Line<'static>> {
    let t = ctx.theme;
    let name_w = snap
        .databases
        .iter()
        .map(|d| d.state.name.chars().count())
        .max()
        .unwrap_or(0)
        .min(24);
    let mut l = Vec::new();
    for d in &snap.databases {
        let p = d.state.phase;
        let mut spans = vec![
            Span::styled(
                format!("{:<name_w$} ", format::truncate(&d.state.name, name_w)),
                t.title(),
            ),
            Span::styled(format!("{:<10}", p.label()), format::phase_style(p, t)),
        ];
        if p == Phase::Completed {
            spans.push(Span::raw(format!(" on the target as {}", d.target_name)));
            let downtime = live::downtime_secs(d, now_unix)
                .map_or_else(|| "not measured".to_string(), format::duration);
            spans.push(Span::styled("  downtime ", t.dim()));
            spans.push(Span::raw(downtime));
            if let Some(at) = d.completed_unix {
                spans.push(Span::styled("  at ", t.dim()));
                spans.push(Span::raw(format::time_of_day(at, ctx.local_offset)));
            }
            l.push(Line::from(spans));
            l.push(Line::from(vec![
                Span::raw("  "),
                Span::raw(ctx.connection_for(&d.target_name)),
            ]));
        } else {
            spans.push(Span::styled(
                " the restore was canceled; the source is unchanged",
                t.dim(),
            ));
            l.push(Line::from(spans));
        }
    }
    l.push(Line::raw(""));
    l.push(Line::styled(
        "The migration is over and the engine has stopped. q quits and prints this summary.",
        t.dim(),
    ));
    l
}

pub fn render(
    frame: &mut Frame,
    area: Rect,
    snap: &MigrationSnapshot,
    ctx: &TuiContext,
    now_unix: i64,
) {
    let block = layout::panel(false).title(Span::styled(
        format!(" {} ", title(snap)),
        ctx.theme.ok().add_modifier(ratatui::style::Modifier::BOLD),
    ));
    frame.render_widget(
        Paragraph::new(lines(snap, ctx, now_unix))
            .wrap(Wrap { trim: false })
            .block(block),
        area,
    );
}
