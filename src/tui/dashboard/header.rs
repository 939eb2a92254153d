//! The header line: activity, source -> target (cut to fit), then elapsed time, total throughput
//! and PAUSED on the right.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::engine::MigrationSnapshot;
use crate::tui::format;
use crate::tui::theme::Theme;

pub fn render(frame: &mut Frame, area: Rect, snap: &MigrationSnapshot, theme: Theme) {
    let wide = area.width >= 120;
    let mut right = vec![
        Span::raw(format!(
            "{}{}",
            if wide { "elapsed " } else { "" },
            format::duration(snap.elapsed_secs)
        )),
        Span::raw(if wide { "  up " } else { "  " }),
        Span::styled(format::rate(snap.total_upload_bytes_per_sec), theme.busy()),
    ];
    if snap.paused {
        right.push(Span::raw("  "));
        right.push(Span::styled("PAUSED", theme.warn()));
    }
    right.push(Span::raw(" "));
    let right = Line::from(right);
    let rw = right.width() as u16;
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
    frame.render_widget(Paragraph::new(left), l);
    frame.render_widget(Paragraph::new(right).alignment(Alignment::Right), r);
}
