//! Screen 3, Databases: the source's databases, multi-select with a filter; name, size, recovery
//! model, last full and log backup, and the source findings (SIMPLE recovery, TDE, ...) inline.
//! Without a source connection the list is the databases found in the backup folder.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Wrap};

use super::{JobStatus, WizardState};
use crate::dashboard::findings;
use crate::format;
use crate::theme::Theme;
use cutover_model::SourceDatabase;
use cutover_model::{Finding, Severity};

/// The list state of the screen.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DatabaseList {
    pub cursor: usize,
    pub filter: String,
    pub filter_editing: bool,
    /// `l`: the list shows the source's logins (Space selects the ones to migrate).
    pub logins: bool,
    pub login_cursor: usize,
}

/// The source's logins, once the source test succeeded (none for a backup folder).
pub fn all_logins(s: &WizardState) -> &[cutover_model::LoginRow] {
    match &s.source_test {
        JobStatus::Done(Ok(r)) => &r.logins,
        _ => &[],
    }
}

/// The logins list's keys; false when the key is not the list's.
fn handle_login_key(s: &mut WizardState, key: KeyEvent) -> bool {
    let names: Vec<String> = all_logins(s).iter().map(|l| l.login.clone()).collect();
    let n = names.len();
    match key.code {
        KeyCode::Char('l') => {
            s.db_list.logins = false;
            s.notice = None;
        }
        KeyCode::Char('j') | KeyCode::Down => {
            s.db_list.login_cursor = (s.db_list.login_cursor + 1).min(n.saturating_sub(1))
        }
        KeyCode::Char('k') | KeyCode::Up => {
            s.db_list.login_cursor = s.db_list.login_cursor.saturating_sub(1)
        }
        KeyCode::Char(' ') => {
            if let Some(name) = names.get(s.db_list.login_cursor) {
                let mut chosen = s.values.selected_logins(all_logins(s));
                toggle(&mut chosen, name);
                chosen.sort_by_key(|c| names.iter().position(|n| n == c).unwrap_or(usize::MAX));
                s.values.logins = Some(chosen);
            }
        }
        KeyCode::Char('a') => {
            let chosen = s.values.selected_logins(all_logins(s));
            let all_on = names.iter().all(|n| chosen.contains(n));
            s.values.logins = Some(if all_on { Vec::new() } else { names });
        }
        KeyCode::Char('d') => s.values.logins = None,
        _ => return false,
    }
    true
}

/// The source's databases, once the source test succeeded.
pub fn all(s: &WizardState) -> &[SourceDatabase] {
    match &s.source_test {
        JobStatus::Done(Ok(r)) => &r.databases,
        _ => &[],
    }
}

pub fn visible(s: &WizardState) -> Vec<&SourceDatabase> {
    let f = s.db_list.filter.to_lowercase();
    all(s)
        .iter()
        .filter(|d| f.is_empty() || d.name.to_lowercase().contains(&f))
        .collect()
}

/// Handles a key of the screen; false when it is not the list's (Enter, Esc...).
pub fn handle_key(s: &mut WizardState, key: KeyEvent) -> bool {
    if s.db_list.logins {
        return handle_login_key(s, key);
    }
    if key.code == KeyCode::Char('l') && !s.db_list.filter_editing {
        if all_logins(s).is_empty() {
            s.notice = Some(
                "logins: none to choose (a backup folder has no logins; the source lists none)"
                    .to_string(),
            );
        } else {
            s.db_list.logins = true;
        }
        return true;
    }
    if s.db_list.filter_editing {
        match key.code {
            KeyCode::Enter => s.db_list.filter_editing = false,
            KeyCode::Esc => {
                s.db_list.filter_editing = false;
                s.db_list.filter.clear();
            }
            KeyCode::Backspace => {
                s.db_list.filter.pop();
            }
            KeyCode::Char(c) => s.db_list.filter.push(c),
            _ => {}
        }
        s.db_list.cursor = 0;
        return true;
    }
    let names: Vec<String> = visible(s).iter().map(|d| d.name.clone()).collect();
    let n = names.len();
    match key.code {
        KeyCode::Char('j') | KeyCode::Down => {
            s.db_list.cursor = (s.db_list.cursor + 1).min(n.saturating_sub(1))
        }
        KeyCode::Char('k') | KeyCode::Up => s.db_list.cursor = s.db_list.cursor.saturating_sub(1),
        KeyCode::Char('/') => s.db_list.filter_editing = true,
        KeyCode::Char(' ') => {
            if let Some(name) = names.get(s.db_list.cursor) {
                toggle(&mut s.values.databases, name);
            }
        }
        KeyCode::Char('a') => {
            let all_on = names.iter().all(|n| s.values.databases.contains(n));
            for name in &names {
                let on = s.values.databases.contains(name);
                if on == all_on {
                    toggle(&mut s.values.databases, name);
                }
            }
        }
        _ => return false,
    }
    // Keep the selection in the source's order.
    let order: Vec<String> = all(s).iter().map(|d| d.name.clone()).collect();
    s.values
        .databases
        .sort_by_key(|n| order.iter().position(|o| o == n).unwrap_or(usize::MAX));
    true
}

fn toggle(selected: &mut Vec<String>, name: &str) {
    if let Some(i) = selected.iter().position(|n| n == name) {
        selected.remove(i);
    } else {
        selected.push(name.to_string());
    }
}

pub fn apply(s: &WizardState) -> Result<(), String> {
    if s.values.databases.is_empty() {
        return Err("Databases: select at least one (Space selects, a selects all)".to_string());
    }
    Ok(())
}

pub fn render(frame: &mut Frame, area: Rect, s: &WizardState, theme: Theme) {
    let folder_only = s.values.source.folder_only;
    match &s.source_test {
        JobStatus::Done(Ok(_)) => {}
        JobStatus::Running { .. } | JobStatus::Idle => {
            let l = Line::styled(
                format!(
                    "{} {}",
                    format::spinner(s.tick),
                    if folder_only {
                        "reading the backup headers in the folder..."
                    } else {
                        "reading the databases from the source..."
                    }
                ),
                theme.busy(),
            );
            frame.render_widget(Paragraph::new(l), area);
            return;
        }
        JobStatus::Done(Err(e)) => {
            let what = if folder_only {
                "The backup folder"
            } else {
                "The source"
            };
            let lines = vec![
                Line::styled(format!("{what} could not be read: {e}"), theme.error()),
                Line::raw("Esc goes back to the Source screen; t tries again."),
            ];
            frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), area);
            return;
        }
    }
    if s.db_list.logins {
        render_logins(frame, area, s, theme);
        return;
    }
    let list = visible(s);
    let cur = list.get(s.db_list.cursor).copied();
    // Without a source the recovery model and state are unknown: the backups' findings come in the
    // preflight.
    let summary = match &s.source_test {
        JobStatus::Done(Ok(r)) => Some(r),
        _ => None,
    };
    let source_findings = |d: &SourceDatabase| -> Vec<Finding> {
        match summary {
            Some(r) if !folder_only => r.findings_of(&d.name).to_vec(),
            _ => Vec::new(),
        }
    };
    let detail = cur.map(source_findings).unwrap_or_default();
    let detail_h = if detail.is_empty() {
        0
    } else {
        crate::layout::wrapped_height(&findings::lines(&detail, theme), area.width)
            .min(area.height / 2)
    };
    let [table_area, detail_area] =
        Layout::vertical([Constraint::Min(4), Constraint::Length(detail_h)]).areas(area);
    let wide = area.width >= 120;
    let rows_avail = table_area.height.saturating_sub(2) as usize;
    let date = |d: &Option<String>| match d {
        None => "never".to_string(),
        Some(t) if !wide => t.get(5..16).unwrap_or(t).to_string(),
        Some(t) => t.clone(),
    };
    let offset = s
        .db_list
        .cursor
        .saturating_sub(rows_avail.saturating_sub(1));
    let rows = list
        .iter()
        .enumerate()
        .skip(offset)
        .take(rows_avail)
        .map(|(i, d)| {
            let on = s.values.databases.contains(&d.name);
            let f = source_findings(d);
            let worst = f.iter().map(|x| x.severity).max();
            let codes: Vec<&str> = f.iter().map(|x| x.code.as_str()).collect();
            let style = match worst {
                Some(Severity::Error) => theme.error(),
                Some(Severity::Warning) => theme.warn(),
                _ => theme.normal(),
            };
            let mut cells = vec![
                Cell::from(if on { "[x]" } else { "[ ]" }),
                Cell::from(d.name.clone()),
                Cell::from(format!("{:>10}", format::bytes(d.size_bytes))),
                Cell::from(d.recovery_model.clone()),
                Cell::from(date(&d.last_full_backup)),
            ];
            cells.push(Cell::from(date(&d.last_log_backup)));
            cells.push(Cell::from(Span::styled(codes.join(" "), style)));
            let row = Row::new(cells);
            if i == s.db_list.cursor {
                row.style(theme.selected())
            } else {
                row
            }
        });
    let dw = if wide { 19 } else { 11 };
    let mut widths = vec![
        Constraint::Length(3),
        Constraint::Min(9),
        Constraint::Length(10),
        Constraint::Length(11),
        Constraint::Length(dw),
        Constraint::Length(dw),
    ];
    let mut header = vec!["", "Database", "      Size", "Recovery"];
    if wide {
        header.extend(["Last full backup", "Last log backup"]);
    } else {
        header.extend(["Last full", "Last log"]);
    }
    widths.push(Constraint::Min(15));
    header.push("Findings");
    let mut title = format!(
        " {} of {} selected ",
        s.values.databases.len(),
        all(s).len()
    );
    if !s.db_list.filter.is_empty() || s.db_list.filter_editing {
        title.push_str(&format!(
            "filter: {}{} ",
            s.db_list.filter,
            if s.db_list.filter_editing { "_" } else { "" }
        ));
    }
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.dim()))
        .block(crate::layout::panel(true).title(Span::styled(title, theme.title())))
        .column_spacing(1);
    frame.render_widget(table, table_area);
    if detail_h > 0 {
        frame.render_widget(
            Paragraph::new(findings::lines(&detail, theme)).wrap(Wrap { trim: true }),
            detail_area,
        );
    }
}

/// The logins list: Space selects, `a` all or none, `d` back to the default (those the selected
/// databases' users need); the users of each login beside it.
fn render_logins(frame: &mut Frame, area: Rect, s: &WizardState, theme: Theme) {
    let all = all_logins(s);
    let chosen = s.values.selected_logins(all);
    let rows_avail = area.height.saturating_sub(3) as usize;
    let cur = s.db_list.login_cursor.min(all.len().saturating_sub(1));
    let offset = cur.saturating_sub(rows_avail.saturating_sub(1));
    let w = usize::from(area.width);
    let name_w = (w / 3).max(14);
    let rows = all
        .iter()
        .enumerate()
        .skip(offset)
        .take(rows_avail)
        .map(|(i, l)| {
            let on = chosen.contains(&l.login);
            let used = if l.used_by.is_empty() {
                "-".to_string()
            } else {
                l.used_by.join(", ")
            };
            let row = Row::new([
                Cell::from(if on { "[x]" } else { "[ ]" }),
                Cell::from(format::truncate(&l.login, name_w)),
                Cell::from(format::truncate(&l.kind, 13)),
                Cell::from(used),
            ]);
            if i == cur {
                row.style(theme.selected())
            } else {
                row
            }
        });
    let widths = [
        Constraint::Length(3),
        Constraint::Length(name_w as u16),
        Constraint::Length(13),
        Constraint::Min(10),
    ];
    let how = if s.values.logins.is_none() {
        "those the selected databases need"
    } else {
        "chosen; d: back to the default"
    };
    let title = format!(" Logins: {} of {} ({how}) ", chosen.len(), all.len());
    let [table_area, note_area] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(1)]).areas(area);
    let table = Table::new(rows, widths)
        .header(Row::new(["", "Login", "Kind", "Used by"]).style(theme.dim()))
        .block(crate::layout::panel(true).title(Span::styled(title, theme.title())))
        .column_spacing(1);
    frame.render_widget(table, table_area);
    frame.render_widget(
        Line::styled(
            "same SID and password hash, before cutover (needs [target] sql_server)",
            theme.dim(),
        ),
        note_area,
    );
}
