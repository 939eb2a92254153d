//! The Logins panel (`l` toggles it with the database list and detail): one row per server login
//! the run migrates (source name, kind, name on the instance, status), and under the table what
//! the selected login needs or why it was skipped or failed, and which database users need it.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Wrap};

use super::{DashboardState, Focus};
use crate::theme::Theme;
use crate::{format, layout};
use cutover_model::{LoginRow, LoginStatus, MigrationSnapshot};

/// The status word and its style.
pub fn status_style(s: &LoginStatus, theme: Theme) -> Style {
    match s {
        LoginStatus::Created | LoginStatus::Exists => theme.ok(),
        LoginStatus::Pending => theme.dim(),
        LoginStatus::Skipped { .. } => theme.warn(),
        LoginStatus::Failed { .. } => theme.error(),
    }
}

/// `3/6 done` and what is not: for the panel's and the database list's titles.
pub fn tally(logins: &[LoginRow]) -> String {
    let done = logins
        .iter()
        .filter(|l| matches!(l.status, LoginStatus::Created | LoginStatus::Exists))
        .count();
    let skipped = logins
        .iter()
        .filter(|l| matches!(l.status, LoginStatus::Skipped { .. }))
        .count();
    let failed = logins
        .iter()
        .filter(|l| matches!(l.status, LoginStatus::Failed { .. }))
        .count();
    let mut s = format!("{done}/{} on target", logins.len());
    if skipped > 0 {
        s.push_str(&format!(", {skipped} skipped"));
    }
    if failed > 0 {
        s.push_str(&format!(", {failed} failed"));
    }
    s
}

pub fn render(
    frame: &mut Frame,
    area: Rect,
    snap: &MigrationSnapshot,
    state: &DashboardState,
    theme: Theme,
    compact: bool,
) {
    let focused = state.focus == Focus::Databases;
    let logins = &snap.logins;
    let title = if logins.is_empty() {
        " Logins ".to_string()
    } else {
        format!(" Logins: {} ", tally(logins))
    };
    let block = layout::panel(compact)
        .title(Line::from(layout::panel_title(title, focused, theme)))
        .border_style(if focused {
            theme.focused()
        } else {
            theme.normal()
        });
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if logins.is_empty() {
        let text = snap.logins_note.clone().unwrap_or_else(|| {
            "this run migrates no logins: [logins] needs [source] and [target] sql_server (l: back to the databases)".to_string()
        });
        frame.render_widget(
            Paragraph::new(Line::styled(text, theme.dim())).wrap(Wrap { trim: true }),
            inner,
        );
        return;
    }
    let sel = state.selected_login.min(logins.len() - 1);
    let note_h = u16::from(snap.logins_note.is_some());
    // The table (header + a row per login) and under it the selected login's detail (up to 6
    // lines, at least 2 when the screen is short).
    let room = inner.height.saturating_sub(note_h);
    let table_h = (logins.len() as u16 + 1).min(room.saturating_sub(2).max(2));
    let detail_h = room.saturating_sub(table_h).min(6);
    let [note_area, table_area, detail_area, _] = Layout::vertical([
        Constraint::Length(note_h),
        Constraint::Length(table_h),
        Constraint::Length(detail_h),
        Constraint::Min(0),
    ])
    .areas(inner);
    if let Some(n) = &snap.logins_note {
        frame.render_widget(
            Line::styled(format::truncate(n, usize::from(inner.width)), theme.warn()),
            note_area,
        );
    }
    let w = usize::from(inner.width);
    // Kind 13, status 8, spacing 3: the names share the rest.
    let names = w.saturating_sub(13 + 8 + 3).clamp(20, 80);
    let login_w = names * 11 / 20;
    let target_w = names - login_w;
    let rows_avail = usize::from(table_area.height.saturating_sub(1));
    let offset = if rows_avail == 0 {
        0
    } else {
        sel.saturating_sub(rows_avail - 1)
    };
    let rows = logins
        .iter()
        .enumerate()
        .skip(offset)
        .take(rows_avail)
        .map(|(i, l)| {
            let marker = if i == sel { ">" } else { " " };
            let target = if matches!(l.status, LoginStatus::Skipped { .. }) {
                "-".to_string()
            } else if l.target == l.login {
                "same".to_string()
            } else {
                l.target.clone()
            };
            let r = Row::new([
                Cell::from(format::truncate(&format!("{marker}{}", l.login), login_w)),
                Cell::from(format::truncate(&l.kind, 13)),
                Cell::from(format::truncate(&target, target_w)),
                Cell::from(Span::styled(
                    l.status.label(),
                    status_style(&l.status, theme),
                )),
            ]);
            if i == sel && focused {
                r.style(theme.selected())
            } else {
                r
            }
        });
    let widths = [
        Constraint::Length(login_w as u16),
        Constraint::Length(13),
        Constraint::Length(target_w as u16),
        Constraint::Length(8),
    ];
    let header = Row::new(["Login", "Kind", "On the instance", "Status"]).style(theme.dim());
    frame.render_widget(
        Table::new(rows, widths).header(header).column_spacing(1),
        table_area,
    );
    let l = &logins[sel];
    let used = if l.used_by.is_empty() {
        "no user in the migrated databases".to_string()
    } else {
        l.used_by.join(", ")
    };
    let mut lines = vec![Line::from(vec![
        Span::styled("used by: ", theme.dim()),
        Span::raw(format::truncate(&used, w.saturating_sub(9))),
    ])];
    if let Some(r) = l.status.reason() {
        lines.push(Line::from(vec![
            Span::styled(
                format!("{}: ", l.status.label()),
                status_style(&l.status, theme),
            ),
            Span::raw(r.to_string()),
        ]));
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), detail_area);
}
