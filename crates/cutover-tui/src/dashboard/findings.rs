//! Findings of the selected database, each with its fix.

use ratatui::text::{Line, Span};

use crate::theme::Theme;
use cutover_model::{Finding, Severity};

pub fn severity_style(s: Severity, theme: Theme) -> ratatui::style::Style {
    match s {
        Severity::Error => theme.error(),
        Severity::Warning => theme.warn(),
        Severity::Info => theme.dim(),
    }
}

pub fn lines(findings: &[Finding], theme: Theme) -> Vec<Line<'static>> {
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let mut out = Vec::new();
    for f in sorted {
        out.push(Line::from(vec![
            Span::styled(
                format!("{} ", f.severity.as_str()),
                severity_style(f.severity, theme),
            ),
            Span::styled(format!("{} ", f.code), theme.title()),
            Span::raw(f.message.clone()),
        ]));
        out.push(Line::from(vec![
            Span::styled("  fix: ", theme.accent()),
            Span::raw(f.fix.clone()),
        ]));
    }
    out
}
