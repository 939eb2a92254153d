//! Styles. Readable on dark and light terminals: the default foreground plus a few named colours
//! (never white or black text); with `NO_COLOR` only bold, reverse and underline.

use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
}

impl Default for Theme {
    fn default() -> Self {
        Theme { color: true }
    }
}

impl Theme {
    /// Colours unless `NO_COLOR` is set to a non-empty value (<https://no-color.org>).
    pub fn from_env() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Theme { color: !no_color }
    }

    pub fn plain() -> Self {
        Theme { color: false }
    }

    fn fg(self, c: Color, fallback: Style) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            fallback
        }
    }

    pub fn normal(self) -> Style {
        Style::new()
    }
    pub fn ok(self) -> Style {
        self.fg(Color::Green, Style::new())
    }
    pub fn warn(self) -> Style {
        self.fg(Color::Yellow, Style::new().add_modifier(Modifier::BOLD))
    }
    pub fn error(self) -> Style {
        self.fg(Color::Red, Style::new().add_modifier(Modifier::BOLD))
            .add_modifier(Modifier::BOLD)
    }
    pub fn accent(self) -> Style {
        self.fg(Color::Cyan, Style::new())
    }
    pub fn busy(self) -> Style {
        self.fg(Color::Blue, Style::new())
    }
    pub fn title(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }
    pub fn dim(self) -> Style {
        Style::new().add_modifier(Modifier::DIM)
    }
    pub fn key(self) -> Style {
        self.fg(Color::Cyan, Style::new())
            .add_modifier(Modifier::BOLD)
    }
    /// The selected row of a list.
    pub fn selected(self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }
    /// The border of the focused panel.
    pub fn focused(self) -> Style {
        self.fg(Color::Cyan, Style::new().add_modifier(Modifier::BOLD))
    }
    pub fn disabled(self) -> Style {
        Style::new().add_modifier(Modifier::DIM | Modifier::CROSSED_OUT)
    }
}
