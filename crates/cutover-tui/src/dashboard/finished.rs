//! The view the dashboard stays on once every database is Completed (or Canceled): per database its
//! status, the target database, the downtime and the connection string to give the applications.
//! The engine has stopped; quitting prints the same summary on the terminal.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::live;
use crate::context::TuiContext;
use crate::theme::Theme;
use crate::{format, layout};
use cutover_model::{DatabaseSnapshot, MigrationSnapshot, Phase};

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
            if let Some(r) = target_line(d, t) {
                l.push(r);
            }
            let connection = d
                .on_target
                .as_ref()
                .map(|r| r.connection_string.trim())
                .filter(|c| !c.is_empty())
                .map_or_else(|| ctx.connection_for(&d.target_name), str::to_string);
            l.push(Line::from(vec![Span::raw("  "), Span::raw(connection)]));
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

/// The completed database as the managed instance itself reports it (its SQL endpoint): "on the
/// instance: ONLINE, compatibility level 160, FULL recovery"; None before the instance answered
/// (or without `[target] sql_server`).
pub fn target_line(d: &DatabaseSnapshot, t: Theme) -> Option<Line<'static>> {
    let r = d.on_target.as_ref()?;
    let mut spans = vec![Span::styled("  on the instance: ", t.dim())];
    match &r.state {
        Some(state) => {
            let style = if state.eq_ignore_ascii_case("ONLINE") {
                t.ok()
            } else {
                t.error()
            };
            spans.push(Span::styled(state.clone(), style));
            if let Some(level) = r.compatibility_level {
                spans.push(Span::raw(format!(", compatibility level {level}")));
            }
            if let Some(m) = &r.recovery_model {
                spans.push(Span::raw(format!(", {m} recovery")));
            }
        }
        None => spans.push(Span::styled(
            format!("no database {} there", d.target_name),
            t.error(),
        )),
    }
    Some(Line::from(spans))
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
