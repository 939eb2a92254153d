//! The footer: the keys, the filter being typed, or what the last key did.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::DashboardState;
use crate::theme::Theme;
use cutover_model::MigrationSnapshot;

/// `[("j/k", "move"), ...]` as one line of key hints.
pub fn keys_line(keys: &[(&str, &str)], theme: Theme) -> Line<'static> {
    let mut spans = Vec::new();
    for (i, (k, what)) in keys.iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw("  "));
        }
        spans.push(Span::styled(k.to_string(), theme.key()));
        spans.push(Span::raw(format!(" {what}")));
    }
    Line::from(spans)
}

pub fn render(
    frame: &mut Frame,
    area: Rect,
    snap: &MigrationSnapshot,
    state: &DashboardState,
    theme: Theme,
) {
    let line = if state.filter_editing {
        Line::from(vec![
            Span::styled("filter: ", theme.accent()),
            Span::raw(format!("{}_", state.filter)),
            Span::styled("   Enter keep  Esc clear", theme.dim()),
        ])
    } else if let Some(n) = &state.notice {
        Line::from(vec![
            Span::styled(n.clone(), theme.accent()),
            Span::styled("   ? help", theme.dim()),
        ])
    } else if super::live::finished(snap) {
        if snap.logins.is_empty() {
            keys_line(
                &[
                    ("q", "quit and print the summary"),
                    ("e", "events of one / all"),
                    ("Tab", "focus"),
                    ("?", "help"),
                ],
                theme,
            )
        } else {
            keys_line(
                &[
                    ("q", "quit and print the summary"),
                    ("e", "events of one / all"),
                    (
                        "l",
                        if state.show_logins {
                            "databases"
                        } else {
                            "logins"
                        },
                    ),
                    ("?", "help"),
                ],
                theme,
            )
        }
    } else if let Some(why) = &snap.stale {
        Line::from(vec![
            Span::styled(format!("STALE: {why}"), theme.warn()),
            Span::styled("   ? help", theme.dim()),
        ])
    } else {
        let pause = if snap.paused { "resume" } else { "pause" };
        if state.show_logins {
            keys_line(
                &[
                    ("j/k", "move"),
                    ("l", "databases"),
                    ("Tab", "focus"),
                    ("p", pause),
                    ("?", "help"),
                    ("q", "quit"),
                ],
                theme,
            )
        } else if !snap.logins.is_empty() {
            // 80 columns: `l` takes the place of `r`, which the help still lists.
            keys_line(
                &[
                    ("j/k", "move"),
                    ("Tab", "focus"),
                    ("/", "filter"),
                    ("c", "cutover"),
                    ("l", "logins"),
                    ("p", pause),
                    ("?", "help"),
                    ("q", "quit"),
                ],
                theme,
            )
        } else {
            keys_line(
                &[
                    ("j/k", "move"),
                    ("Tab", "focus"),
                    ("/", "filter"),
                    ("c", "cutover"),
                    ("r", "retry"),
                    ("p", pause),
                    ("?", "help"),
                    ("q", "quit"),
                ],
                theme,
            )
        }
    };
    frame.render_widget(Paragraph::new(line), area);
}
