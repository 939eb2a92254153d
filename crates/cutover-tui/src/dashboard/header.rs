//! The header line: activity, source -> target (cut to fit), then on the right the clock (local
//! time and UTC), how long ago LRS answered (or STALE), elapsed time, and the total throughput
//! (PAUSED instead while uploads are paused). It changes every second, so the app loop redraws
//! only this line on its clock tick ([`render_into`]).

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::live::{self, PollState};
use crate::context::TuiContext;
use crate::format;
use cutover_model::MigrationSnapshot;

pub fn render(
    frame: &mut ratatui::Frame,
    area: Rect,
    snap: &MigrationSnapshot,
    now_unix: i64,
    ctx: &TuiContext,
) {
    render_into(frame.buffer_mut(), area, snap, now_unix, ctx);
}

/// The right-hand side: clock, LRS, elapsed, rate.
pub fn status(
    snap: &MigrationSnapshot,
    now_unix: i64,
    ctx: &TuiContext,
    wide: bool,
) -> Line<'static> {
    let theme = ctx.theme;
    let now = live::now(snap, now_unix);
    let mut right = Vec::new();
    let utc = format::time_of_day(now, None);
    match ctx.local_offset {
        Some(o) if o.is_utc() => right.push(Span::raw(format!("{utc} UTC"))),
        Some(o) => {
            right.push(Span::raw(format::time_of_day(now, Some(o))));
            right.push(Span::styled(
                if wide {
                    format!(" ({utc} UTC)")
                } else {
                    format!(" ({} UTC)", &utc[..5])
                },
                theme.dim(),
            ));
        }
        None => right.push(Span::raw(format!("{utc} UTC"))),
    }
    right.push(Span::raw("  "));
    if live::finished(snap) {
        right.push(Span::styled("finished", theme.ok()));
    } else {
        match live::poll_state(snap, now) {
            PollState::Idle => right.push(Span::styled("LRS idle", theme.dim())),
            PollState::NotYet => right.push(Span::styled("LRS not read yet", theme.dim())),
            PollState::Fresh { secs } => right.push(Span::raw(format!(
                "{}polled {} ago",
                if wide { "LRS " } else { "" },
                format::duration(secs as f64)
            ))),
            PollState::Stale { secs, .. } => right.push(Span::styled(
                match secs {
                    Some(s) => format!("STALE: polled {} ago", format::duration(s as f64)),
                    None => "STALE: LRS not answering".to_string(),
                },
                theme.warn(),
            )),
        }
    }
    right.push(Span::raw(if wide { "  elapsed " } else { "  " }));
    right.push(Span::raw(format::duration(live::elapsed_secs(
        snap, now_unix,
    ))));
    right.push(Span::raw("  "));
    if snap.paused {
        right.push(Span::styled("PAUSED", theme.warn()));
    } else {
        if wide {
            right.push(Span::raw("up "));
        }
        right.push(Span::styled(
            format::rate(snap.total_upload_bytes_per_sec),
            theme.busy(),
        ));
    }
    right.push(Span::raw(" "));
    Line::from(right)
}

/// Draws the header into `buf` (the whole frame's buffer, or the app's copy of the last frame).
pub fn render_into(
    buf: &mut Buffer,
    area: Rect,
    snap: &MigrationSnapshot,
    now_unix: i64,
    ctx: &TuiContext,
) {
    let theme = ctx.theme;
    let wide = area.width >= 120;
    let right = status(snap, now_unix, ctx, wide);
    let rw = (right.width() as u16).min(area.width.saturating_sub(10));
    let [l, r] = Layout::horizontal([Constraint::Min(10), Constraint::Length(rw)]).areas(area);
    let room = l.width as usize;
    let head = format!(" cutover {}  ", snap.activity);
    let route = format!("{} -> {}", snap.source, snap.target);
    let route = format::truncate(&route, room.saturating_sub(head.chars().count() + 1));
    let left = Line::from(vec![
        Span::styled(" cutover ", theme.title()),
        Span::styled(snap.activity.clone(), theme.accent()),
        Span::raw("  "),
        Span::raw(route),
    ]);
    for x in area.left()..area.right() {
        buf[(x, area.y)].reset();
    }
    Paragraph::new(left).render(l, buf);
    Paragraph::new(right)
        .alignment(Alignment::Right)
        .render(r, buf);
}
