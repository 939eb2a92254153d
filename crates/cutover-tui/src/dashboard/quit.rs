//! The quit confirmation.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use crate::layout;
use crate::theme::Theme;

/// `finished`: every database is Completed or Canceled (nothing is left to go on). `note`: what
/// quitting now leaves for a next run when it is not the kept state (the demo's temporary folders).
pub fn render(frame: &mut Frame, area: Rect, theme: Theme, finished: bool, note: Option<&str>) {
    let r = layout::dialog(area, 60, 9);
    let mut lines = if finished {
        vec![
            Line::raw("Every database is finished; the engine has stopped."),
            Line::raw(
                "The summary (status, target, connection string, downtime) is printed on the terminal.",
            ),
        ]
    } else if let Some(note) = note {
        vec![
            Line::raw(upper_first(note)),
            Line::raw("Nothing is cut over or canceled by quitting."),
        ]
    } else {
        vec![
            Line::raw(
                "The migration state is kept: run the same command again to re-attach and go on where it stopped.",
            ),
            Line::raw("Uploads stop until then; nothing is cut over or canceled."),
        ]
    };
    lines.push(Line::raw(""));
    lines.push(Line::from(vec![
        Span::styled("y", theme.key()),
        Span::raw(" quit    "),
        Span::styled("n", theme.key()),
        Span::raw(" / Esc stay"),
    ]));
    let block = Block::bordered().title(Span::styled(" Quit cutover? ", theme.title()));
    frame.render_widget(Clear, r);
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: true }).block(block),
        r,
    );
}

/// The note starts a sentence in the dialog.
fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect::<String>() + ".",
        None => String::new(),
    }
}
