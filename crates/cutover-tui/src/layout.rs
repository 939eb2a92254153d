//! Small layout helpers shared by the panels and dialogs.

use ratatui::layout::Rect;

/// A `w` x `h` rectangle centred in `area` (clipped to it).
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// A dialog: at most `max_w` x `max_h`, the full width of a narrow screen, leaving the header and
/// footer lines visible.
pub fn dialog(area: Rect, max_w: u16, max_h: u16) -> Rect {
    let w = max_w.min(area.width);
    let h = max_h.min(area.height.saturating_sub(2).max(1));
    centered(area, w, h)
}

/// Rows `lines` take when wrapped at `width` columns (an estimate: words are not kept whole).
pub fn wrapped_height(lines: &[ratatui::text::Line], width: u16) -> u16 {
    let w = usize::from(width.max(1));
    lines
        .iter()
        .map(|l| l.width().max(1).div_ceil(w))
        .sum::<usize>()
        .min(u16::MAX as usize) as u16
}

/// Borders of a panel: full on a large screen, only the top (title) line on a compact one.
pub fn panel(compact: bool) -> ratatui::widgets::Block<'static> {
    if compact {
        ratatui::widgets::Block::new().borders(ratatui::widgets::Borders::TOP)
    } else {
        ratatui::widgets::Block::bordered()
    }
}

/// A panel's title; the focused panel's starts with `▶` so it stands out without colour too
/// (`NO_COLOR`, colour-blind readers).
pub fn panel_title(
    title: impl Into<String>,
    focused: bool,
    theme: crate::theme::Theme,
) -> ratatui::text::Span<'static> {
    let title = title.into();
    if focused {
        ratatui::text::Span::styled(format!(" ▶{title}"), theme.focused())
    } else {
        ratatui::text::Span::styled(title, theme.title())
    }
}
