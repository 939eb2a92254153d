//! The `?` help overlay.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use crate::layout;
use crate::theme::Theme;

const KEYS: &[(&str, &str)] = &[
    (
        "j k / Down Up",
        "move in the focused panel (PgDn PgUp: by 10)",
    ),
    (
        "Tab / Shift-Tab",
        "focus: databases, chain, events (▶ marks it)",
    ),
    ("Enter", "from the list to the backup chain and back"),
    ("/", "filter databases by name (Enter keeps, Esc clears)"),
    ("e", "events: only the selected database's / all"),
    ("l", "the Logins panel (each login's status) / databases"),
    ("c", "cutover dialog of the selected database"),
    (
        "y (in the dialog)",
        "run the statement shown; no other key changes the source",
    ),
    ("r", "retry the selected database after a failure"),
    ("p", "pause / resume all uploads"),
    ("?", "this help (Esc closes)"),
    ("q", "quit (the migration state is kept)"),
];

pub fn render(frame: &mut Frame, area: Rect, theme: Theme) {
    let r = layout::dialog(area, 76, 22);
    let mut lines: Vec<Line> = KEYS
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(format!("{k:<18}"), theme.key()),
                Span::raw(*what),
            ])
        })
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::styled("States", theme.title()));
    lines.push(Line::raw(
        "UPLOADING full backup, RESTORING it, CATCHING UP on log backups, READY for cutover \
         (last restored = newest backup, nothing pending), CUTOVER in progress, COMPLETING, COMPLETED; \
         BLOCKED and FAILED say why in the detail panel.",
    ));
    let block = Block::bordered().title(Span::styled(" Help ", theme.title()));
    frame.render_widget(Clear, r);
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: true }).block(block),
        r,
    );
}
