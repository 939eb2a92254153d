//! A small form: text, secret (masked), toggle and choice fields; fields shown only when other
//! fields have given values; Up/Down/Tab move, typing edits, Space toggles, Left/Right choose.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::values::EnvCheck;
use crate::theme::Theme;

/// The environment variable a field is tied to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum EnvRef {
    #[default]
    None,
    /// A secret a saved configuration reads from this variable (this run uses what is typed).
    Var(String),
    /// The field's text is the name of a variable this run reads (the value is never typed).
    Named,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Text,
    Secret,
    Toggle,
    Choice(&'static [&'static str]),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub key: String,
    pub label: String,
    pub kind: Kind,
    pub text: String,
    pub on: bool,
    pub choice: usize,
    /// Shown under the form while the field has the cursor.
    pub help: String,
    /// Shown only when every (field key, value) holds (toggle: 0 off / 1 on; choice: index).
    pub show_if: Vec<(&'static str, usize)>,
    /// Hidden by the screen regardless of other fields.
    pub hidden: bool,
    /// The environment variable shown beside the value, and whether it is set.
    pub env: EnvRef,
}

impl Field {
    fn new(key: impl Into<String>, label: impl Into<String>, kind: Kind) -> Self {
        Field {
            key: key.into(),
            label: label.into(),
            kind,
            text: String::new(),
            on: false,
            choice: 0,
            help: String::new(),
            show_if: Vec::new(),
            hidden: false,
            env: EnvRef::None,
        }
    }
    pub fn text(key: impl Into<String>, label: impl Into<String>, value: &str) -> Self {
        let mut f = Field::new(key, label, Kind::Text);
        f.text = value.to_string();
        f
    }
    pub fn secret(key: impl Into<String>, label: impl Into<String>, value: &str) -> Self {
        let mut f = Field::new(key, label, Kind::Secret);
        f.text = value.to_string();
        f
    }
    pub fn toggle(key: impl Into<String>, label: impl Into<String>, on: bool) -> Self {
        let mut f = Field::new(key, label, Kind::Toggle);
        f.on = on;
        f
    }
    pub fn choice(
        key: impl Into<String>,
        label: impl Into<String>,
        options: &'static [&'static str],
        at: usize,
    ) -> Self {
        let mut f = Field::new(key, label, Kind::Choice(options));
        f.choice = at.min(options.len().saturating_sub(1));
        f
    }
    pub fn help(mut self, h: impl Into<String>) -> Self {
        self.help = h.into();
        self
    }
    /// A secret a saved configuration reads from `var`.
    pub fn env_var(mut self, var: &str) -> Self {
        self.env = EnvRef::Var(var.to_string());
        self
    }
    /// The text is the name of an environment variable this run reads.
    pub fn names_env(mut self) -> Self {
        self.env = EnvRef::Named;
        self
    }
    /// The value as the configuration check sees it (text, toggle or choice index).
    fn value_key(&self) -> (String, bool, usize) {
        (self.text.clone(), self.on, self.choice)
    }
    pub fn show_if(mut self, key: &'static str, value: usize) -> Self {
        self.show_if.push((key, value));
        self
    }
    fn value_index(&self) -> usize {
        match self.kind {
            Kind::Toggle => usize::from(self.on),
            _ => self.choice,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Form {
    pub fields: Vec<Field>,
    /// Index into `fields` (always a visible one).
    pub cursor: usize,
}

impl Form {
    pub fn new(fields: Vec<Field>) -> Self {
        Form { fields, cursor: 0 }
    }

    fn get(&self, key: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.key == key)
    }
    pub fn text(&self, key: &str) -> &str {
        self.get(key).map_or("", |f| f.text.as_str())
    }
    pub fn trimmed(&self, key: &str) -> String {
        self.text(key).trim().to_string()
    }
    pub fn on(&self, key: &str) -> bool {
        self.get(key).is_some_and(|f| f.on)
    }
    pub fn choice(&self, key: &str) -> usize {
        self.get(key).map_or(0, |f| f.choice)
    }
    pub fn label(&self, key: &str) -> String {
        self.get(key)
            .map_or_else(|| key.to_string(), |f| f.label.clone())
    }

    pub fn visible(&self, i: usize) -> bool {
        !self.fields[i].hidden
            && self.fields[i]
                .show_if
                .iter()
                .all(|(k, v)| self.get(k).is_some_and(|f| f.value_index() == *v))
    }

    /// Takes the values typed in `old` for the fields both forms have (a form rebuilt for a new
    /// list of databases keeps what was typed).
    pub fn merge_from(&mut self, old: &Form) {
        for f in &mut self.fields {
            if let Some(o) = old
                .fields
                .iter()
                .find(|o| o.key == f.key && o.kind == f.kind)
            {
                f.text = o.text.clone();
                f.on = o.on;
                f.choice = o.choice;
            }
        }
        let key = old.focused_key().to_string();
        self.focus(&key);
        self.fix_cursor();
    }

    /// The keys of the fields whose value differs from `old`'s (same form, before a key).
    pub fn changed_from(&self, old: &Form) -> Vec<String> {
        self.fields
            .iter()
            .zip(&old.fields)
            .filter(|(a, b)| a.value_key() != b.value_key())
            .map(|(a, _)| a.key.clone())
            .collect()
    }

    /// The focused field, if any.
    pub fn focused(&self) -> Option<&Field> {
        self.fields.get(self.cursor)
    }

    /// Sets the environment variable a field is tied to.
    pub fn set_env(&mut self, key: &str, env: EnvRef) {
        if let Some(f) = self.fields.iter_mut().find(|f| f.key == key) {
            f.env = env;
        }
    }

    pub fn set_hidden(&mut self, key: &str, hidden: bool) {
        if let Some(f) = self.fields.iter_mut().find(|f| f.key == key) {
            f.hidden = hidden;
        }
        self.fix_cursor();
    }

    /// Puts the cursor on the field with this key.
    pub fn focus(&mut self, key: &str) {
        if let Some(i) = self.fields.iter().position(|f| f.key == key) {
            self.cursor = i;
        }
    }

    pub fn focused_key(&self) -> &str {
        self.fields.get(self.cursor).map_or("", |f| f.key.as_str())
    }

    fn step(&mut self, forward: bool) {
        let n = self.fields.len();
        if n == 0 {
            return;
        }
        let mut i = self.cursor;
        for _ in 0..n {
            i = if forward {
                (i + 1) % n
            } else {
                (i + n - 1) % n
            };
            if self.visible(i) {
                self.cursor = i;
                return;
            }
        }
    }

    fn fix_cursor(&mut self) {
        if !self.fields.is_empty() && !self.visible(self.cursor) {
            self.step(true);
        }
    }

    /// Handles an editing key; false when the key is not the form's (Enter, Esc, Ctrl-...).
    pub fn handle_key(&mut self, key: KeyEvent) -> bool {
        // Ctrl-U empties a text field (readline's kill-line).
        if key.code == KeyCode::Char('u')
            && key.modifiers == KeyModifiers::CONTROL
            && let Some(f) = self.fields.get_mut(self.cursor)
            && matches!(f.kind, Kind::Text | Kind::Secret)
        {
            f.text.clear();
            return true;
        }
        if key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
        {
            return false;
        }
        let consumed = match key.code {
            KeyCode::Down | KeyCode::Tab => {
                self.step(true);
                true
            }
            KeyCode::Up | KeyCode::BackTab => {
                self.step(false);
                true
            }
            code => match self.fields.get_mut(self.cursor) {
                None => false,
                Some(f) => match (&f.kind, code) {
                    (Kind::Text | Kind::Secret, KeyCode::Char(c)) => {
                        f.text.push(c);
                        true
                    }
                    (Kind::Text | Kind::Secret, KeyCode::Backspace) => {
                        f.text.pop();
                        true
                    }
                    (Kind::Toggle, KeyCode::Char(' ') | KeyCode::Left | KeyCode::Right) => {
                        f.on = !f.on;
                        true
                    }
                    (Kind::Choice(opts), KeyCode::Char(' ') | KeyCode::Right) => {
                        f.choice = (f.choice + 1) % opts.len().max(1);
                        true
                    }
                    (Kind::Choice(opts), KeyCode::Left) => {
                        let n = opts.len().max(1);
                        f.choice = (f.choice + n - 1) % n;
                        true
                    }
                    _ => false,
                },
            },
        };
        self.fix_cursor();
        consumed
    }
}

/// A secret as the screen shows it: a star per character, a long one (a SAS) cut with an
/// ellipsis so that the line stays one line.
fn masked(n: usize) -> String {
    if n <= 12 {
        "*".repeat(n)
    } else {
        format!("{}…", "*".repeat(11))
    }
}

/// What is shown beside a field tied to an environment variable: the variable, and a warning when
/// it is not set and nothing was typed (a typed value serves this run; a saved file reads the
/// variable, which the Summary's save says).
/// `room`: the columns left on the line; the typed note shortens to `(typed)` rather than wrap
/// (80 columns, a long variable name).
fn env_note(f: &Field, env: &EnvCheck, room: usize, theme: Theme) -> Option<Span<'static>> {
    match &f.env {
        EnvRef::None => None,
        EnvRef::Var(var) if env.is_set(var) => {
            Some(Span::styled(format!("  (${var})"), theme.dim()))
        }
        EnvRef::Var(var) if !f.text.is_empty() => {
            let long = format!("  (typed; ${var} unset)");
            let note = if long.chars().count() <= room {
                long
            } else {
                "  (typed)".to_string()
            };
            Some(Span::styled(note, theme.dim()))
        }
        EnvRef::Var(var) => Some(Span::styled(format!("  (${var} not set)"), theme.warn())),
        EnvRef::Named => {
            let var = f.text.trim();
            if var.is_empty() {
                None
            } else if env.is_set(var) {
                Some(Span::styled("  (set)", theme.ok()))
            } else {
                Some(Span::styled("  (NOT SET in this shell)", theme.error()))
            }
        }
    }
}

/// Draws the visible fields, one a line (`label  value`), and the focused field's help. `env`
/// tells which environment variables are set (shown beside the fields tied to one).
pub fn render(frame: &mut Frame, area: Rect, form: &Form, env: &EnvCheck, theme: Theme) {
    let label_w = form
        .fields
        .iter()
        .map(|f| f.label.chars().count())
        .max()
        .unwrap_or(0)
        .min(24);
    let mut lines = Vec::new();
    let mut cursor_line = 0;
    for (i, f) in form.fields.iter().enumerate() {
        if !form.visible(i) {
            continue;
        }
        if i == form.cursor {
            cursor_line = lines.len();
        }
        let here = i == form.cursor;
        let value = match &f.kind {
            Kind::Text => f.text.clone(),
            Kind::Secret => masked(f.text.chars().count()),
            Kind::Toggle => if f.on { "[x]" } else { "[ ]" }.to_string(),
            Kind::Choice(opts) => format!("< {} >", opts.get(f.choice).copied().unwrap_or("")),
        };
        let cursor = if here && matches!(f.kind, Kind::Text | Kind::Secret) {
            "_"
        } else {
            ""
        };
        let value_style = if here {
            theme.selected()
        } else {
            theme.normal()
        };
        let mut spans = vec![
            Span::styled(if here { "> " } else { "  " }, theme.key()),
            Span::styled(
                format!("{:<label_w$}  ", crate::format::truncate(&f.label, label_w)),
                if here { theme.title() } else { theme.dim() },
            ),
            Span::styled(format!("{value}{cursor}"), value_style),
        ];
        let used: usize = spans.iter().map(|s| s.content.chars().count()).sum();
        let room = usize::from(area.width).saturating_sub(used);
        spans.extend(env_note(f, env, room, theme));
        lines.push(Line::from(spans));
    }
    let help = form
        .fields
        .get(form.cursor)
        .filter(|f| !f.help.is_empty())
        .map(|f| f.help.clone());
    let help_height = help.as_ref().map_or(0, |h| {
        1 + h.chars().count().div_ceil(usize::from(area.width.max(1)))
    });
    // Scrolled only when the fields alone do not fit (then the help keeps its rows); a form that
    // fits is drawn whole, its help clipped if need be.
    let mut lines = if lines.len() <= usize::from(area.height) {
        lines
    } else {
        scrolled(
            lines,
            cursor_line,
            usize::from(area.height).saturating_sub(help_height),
            theme,
        )
    };
    if let Some(h) = help {
        lines.push(Line::raw(""));
        lines.push(Line::styled(h, theme.dim()));
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), area);
}

/// The field lines that fit in `room` rows, scrolled so that the cursor's line is shown, with a
/// line saying how many fields are above / below (a form of many databases at 80x24).
fn scrolled<'a>(lines: Vec<Line<'a>>, cursor: usize, room: usize, theme: Theme) -> Vec<Line<'a>> {
    if lines.len() <= room {
        return lines;
    }
    let shown = room.saturating_sub(2).max(1);
    let start = cursor
        .saturating_sub(shown - 1)
        .min(lines.len().saturating_sub(shown));
    let below = lines.len() - start - shown.min(lines.len() - start);
    let mut out = Vec::with_capacity(room);
    out.push(if start > 0 {
        Line::styled(format!("  ^ {start} more above (Up)"), theme.dim())
    } else {
        Line::raw("")
    });
    out.extend(lines.into_iter().skip(start).take(shown));
    out.push(if below > 0 {
        Line::styled(format!("  v {below} more below (Down)"), theme.dim())
    } else {
        Line::raw("")
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    fn screen(form: &Form) -> String {
        let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
        t.draw(|f| render(f, f.area(), form, &EnvCheck::Process, Theme::default()))
            .unwrap();
        let buf = t.backend().buffer().clone();
        (0..buf.area.height)
            .map(|y| {
                (0..buf.area.width)
                    .map(|x| buf[(x, y)].symbol().to_string())
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn a_form_taller_than_the_screen_scrolls_to_the_cursor() {
        let fields: Vec<Field> = (0..40)
            .map(|i| Field::text(format!("f{i}"), format!("Folder of db{i:02}"), "/b").help("help"))
            .collect();
        let mut form = Form::new(fields);
        let top = screen(&form);
        assert!(top.contains("> Folder of db00"), "{top}");
        assert!(top.contains("more below"), "{top}");
        assert!(!top.contains("db39"), "{top}");
        form.cursor = 39;
        let bottom = screen(&form);
        assert!(bottom.contains("> Folder of db39"), "{bottom}");
        assert!(bottom.contains("more above"), "{bottom}");
        assert!(!bottom.contains("more below"), "{bottom}");
        assert!(
            bottom.contains("help"),
            "the help stays on screen: {bottom}"
        );
        form.cursor = 20;
        let middle = screen(&form);
        assert!(middle.contains("> Folder of db20"), "{middle}");
        assert!(
            middle.contains("more above") && middle.contains("more below"),
            "{middle}"
        );
    }

    #[test]
    fn a_typed_secret_beside_a_long_variable_stays_on_its_line() {
        let label = "Password                  ";
        let form = |value: &str| {
            Form::new(vec![
                Field::text("server", label, "db"),
                Field::secret("password", label, value).env_var("CUTOVER_SOURCE_PASSWORD_X"),
                Field::text("user", "User", "sa"),
            ])
        };
        let short = screen(&form("pw"));
        assert!(
            short.contains("(typed; $CUTOVER_SOURCE_PASSWORD_X unset)"),
            "{short}"
        );
        let long = screen(&form("a-very-long-password"));
        let lines: Vec<&str> = long.lines().collect();
        assert!(lines[1].contains("***********…  (typed)"), "{long}");
        assert!(lines[2].starts_with("  User"), "no wrapped line: {long}");
    }

    #[test]
    fn a_form_that_fits_is_drawn_as_before() {
        let form = Form::new(vec![Field::text("a", "A", "x"), Field::text("b", "B", "y")]);
        let s = screen(&form);
        assert!(!s.contains("more"), "{s}");
        assert!(s.starts_with("> A"), "{s}");
    }
}
