//! The quit confirmation.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use crate::tui::layout;
use crate::tui::theme::Theme;

pub fn render(frame: &mut Frame, area: Rect, theme: Theme) {
    let r = layout::dialog(area, 60, 9);
    let lines = vec![
        Line::raw(
            "The migration state is kept: run `cutover` again to re-attach and go on where it stopped.",
        ),
        Line::raw("Uploads stop until then; nothing is cut over or canceled."),
        Line::raw(""),
        Line::from(vec![
            Span::styled("y", theme.key()),
            Span::raw(" quit    "),
            Span::styled("n", theme.key()),
            Span::raw(" / Esc stay"),
        ]),
    ];
    let block = Block::bordered().title(Span::styled(" Quit cutover? ", theme.title()));
    frame.render_widget(Clear, r);
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: true }).block(block),
        r,
    );
}
