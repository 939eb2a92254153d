//! The database list: name, state badge, upload progress, pending log backups, data lag.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table};

use super::{DashboardState, Focus};
use crate::theme::Theme;
use crate::{format, layout};
use cutover_model::DatabaseSnapshot;

#[allow(clippy::too_many_arguments)] // the panel's inputs, each used once
pub fn render(
    frame: &mut Frame,
    area: Rect,
    visible: &[&DatabaseSnapshot],
    selected: Option<usize>,
    state: &DashboardState,
    theme: Theme,
    compact: bool,
    logins: &[cutover_model::LoginRow],
) {
    let focused = state.focus == Focus::Databases && !state.filter_editing;
    let mut title = vec![layout::panel_title(
        format!(" Databases ({}) ", visible.len()),
        focused,
        theme,
    )];
    if !logins.is_empty() {
        title.push(Span::styled(
            format!("logins {} (l) ", super::logins::tally(logins)),
            theme.dim(),
        ));
    }
    if !state.filter.is_empty() || state.filter_editing {
        title.push(Span::styled(
            format!("filter: {} ", state.filter),
            theme.accent(),
        ));
    }
    let block = layout::panel(compact)
        .title(Line::from(title))
        .border_style(if focused {
            theme.focused()
        } else {
            theme.normal()
        });
    // The name takes what the other columns (11 + 16 + 7 + 6, spacing 4) leave; a longer one
    // ends with an ellipsis.
    let inner_w = if compact {
        area.width
    } else {
        area.width.saturating_sub(2)
    };
    let name_w = usize::from(inner_w.saturating_sub(44).max(10));
    let rows_avail = area.height.saturating_sub(if compact { 2 } else { 3 }) as usize;
    let sel = selected.unwrap_or(0);
    let offset = if rows_avail == 0 {
        0
    } else {
        sel.saturating_sub(rows_avail - 1)
    };
    let rows = visible
        .iter()
        .enumerate()
        .skip(offset)
        .take(rows_avail)
        .map(|(i, d)| row(d, Some(i) == selected, focused, theme, name_w));
    let widths = [
        Constraint::Min(10),
        Constraint::Length(11),
        Constraint::Length(16),
        Constraint::Length(7),
        Constraint::Length(7),
    ];
    let header = Row::new(["Database", "State", "Uploaded", "Pending", "Lag"]).style(theme.dim());
    let table = Table::new(rows, widths)
        .header(header)
        .block(block)
        .column_spacing(1);
    frame.render_widget(table, area);
    if visible.is_empty() && area.height > 3 {
        let msg = if state.filter.is_empty() {
            "no databases yet"
        } else {
            "no database matches the filter (Esc clears it)"
        };
        let r = Rect {
            x: area.x + 2,
            y: area.y + 2,
            width: area.width.saturating_sub(4),
            height: 1,
        };
        frame.render_widget(Line::styled(msg, theme.dim()), r);
    }
}

fn row<'a>(
    d: &'a DatabaseSnapshot,
    selected: bool,
    focused: bool,
    theme: Theme,
    name_w: usize,
) -> Row<'a> {
    let p = d.state.phase;
    let marker = if selected { ">" } else { " " };
    let uploaded = format!(
        "{:>3}% {}",
        format::percent(d.bytes_uploaded, d.bytes_total),
        format::bytes(d.bytes_total)
    );
    // `?`: the source's time zone is unknown (folder-only source), so the lag may be off by the
    // server's offset from UTC; the detail pane says so in words.
    let lag = match d.data_lag_secs {
        None => "-".to_string(),
        Some(s) if !d.data_lag_utc_known => format!("{}?", format::duration(s)),
        Some(s) => format::duration(s),
    };
    let r = Row::new([
        Cell::from(format::truncate(
            &format!("{marker}{}", d.state.name),
            name_w,
        )),
        Cell::from(Span::styled(
            d.state.status_label(),
            format::phase_style(p, theme),
        )),
        Cell::from(uploaded),
        Cell::from(format!("{:>7}", d.pending_log_backups)),
        Cell::from(lag),
    ]);
    if selected && focused {
        r.style(theme.selected())
    } else if selected {
        r.style(theme.title())
    } else {
        r
    }
}
