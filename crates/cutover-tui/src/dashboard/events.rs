//! The event pane: the newest engine events, oldest at the top; all of them, or (`e`) only the
//! selected database's.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{DashboardState, Focus};
use crate::context::TuiContext;
use crate::{format, layout};
use cutover_model::{EventLine, Severity};

pub fn render(
    frame: &mut Frame,
    area: Rect,
    events: &[&EventLine],
    only: Option<&str>,
    state: &DashboardState,
    ctx: &TuiContext,
    compact: bool,
) {
    let theme = ctx.theme;
    let local_offset = ctx.local_offset;
    let focused = state.focus == Focus::Events;
    let what = match only {
        Some(db) => format!("Events of {db}"),
        None => "Events".to_string(),
    };
    let title = if state.events_scroll > 0 {
        format!(" {what} ({} back) ", state.events_scroll)
    } else if only.is_some() {
        format!(" {what} (e: all) ")
    } else {
        format!(" {what} ")
    };
    let block = layout::panel(compact)
        .title(layout::panel_title(title, focused, theme))
        .border_style(if focused {
            theme.focused()
        } else {
            theme.normal()
        });
    let rows = area.height.saturating_sub(if compact { 1 } else { 2 }) as usize;
    let end = events.len().saturating_sub(state.events_scroll);
    let start = end.saturating_sub(rows);
    let lines: Vec<Line> = events[start..end]
        .iter()
        .map(|e| {
            let style = match e.level {
                Severity::Error => theme.error(),
                Severity::Warning => theme.warn(),
                Severity::Info => theme.normal(),
            };
            // Wall-clock time of the event (local), or time since the engine started (old states).
            let at = if e.unix_secs > 0 {
                format::event_time(e.unix_secs, state.now_unix, local_offset)
            } else {
                format::clock(e.at_secs)
            };
            let mut spans = vec![Span::styled(format!("{at} "), theme.dim())];
            if let Some(db) = &e.database
                && only.is_none()
            {
                spans.push(Span::styled(format!("{db} "), theme.accent()));
            }
            if e.level != Severity::Info {
                spans.push(Span::styled(format!("{}: ", e.level), style));
            }
            spans.push(Span::styled(e.message.clone(), style));
            Line::from(spans)
        })
        .collect();
    let body = if lines.is_empty() {
        Paragraph::new(Line::styled(
            match only {
                Some(db) => format!("no events of {db} yet"),
                None => "no events yet".to_string(),
            },
            theme.dim(),
        ))
    } else {
        Paragraph::new(lines)
    };
    frame.render_widget(body.block(block), area);
}
