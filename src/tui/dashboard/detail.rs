//! The selected database: upload (sparkline, rate, bytes, ETA), restore position (last applied LSN,
//! currently restoring file), error or blocking reason, the backup chain and the findings.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline, Wrap};

use super::{DashboardState, Focus, chain, findings};
use crate::engine::{DatabaseSnapshot, Phase};
use crate::tui::theme::Theme;
use crate::tui::{format, layout};

pub fn render(
    frame: &mut Frame,
    area: Rect,
    db: Option<&DatabaseSnapshot>,
    state: &DashboardState,
    theme: Theme,
    compact: bool,
) {
    let Some(db) = db else {
        let block = layout::panel(compact).title(" Detail ");
        frame.render_widget(Paragraph::new("Select a database.").block(block), area);
        return;
    };
    let p = db.state.phase;
    let title = Line::from(vec![
        Span::styled(format!(" {} ", db.state.name), theme.title()),
        Span::styled(
            format!("{} ", format::phase_badge(p)),
            format::phase_style(p, theme),
        ),
    ]);
    let block = layout::panel(compact).title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);

    let status = status_line(db, theme);
    let status_h = u16::from(status.is_some());
    // Chain problems, then findings with their fixes, under the chain.
    let mut notes = chain::notes(db, if compact { 2 } else { 6 }, theme);
    notes.extend(findings::lines(&db.findings, theme));
    let cap = if compact { 3 } else { inner.height / 3 };
    let notes_h = layout::wrapped_height(&notes, inner.width).min(cap);
    let [up, pos, st, ch, fi] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(status_h),
        Constraint::Min(4),
        Constraint::Length(notes_h),
    ])
    .areas(inner);
    upload(frame, up, db, theme);
    position(frame, pos, db, theme);
    if let Some(s) = status {
        frame.render_widget(Paragraph::new(s), st);
    }
    chain::render(
        frame,
        ch,
        db,
        state.chain_scroll,
        state.focus == Focus::Chain,
        theme,
        true, // inside the detail panel: a title line is enough
    );
    frame.render_widget(Paragraph::new(notes).wrap(Wrap { trim: true }), fi);
}

fn upload(frame: &mut Frame, area: Rect, db: &DatabaseSnapshot, theme: Theme) {
    let spark_w = (area.width / 4).clamp(8, 30);
    let [spark, text] = Layout::horizontal([Constraint::Length(spark_w), Constraint::Min(10)])
        .spacing(1)
        .areas(area);
    let hist = &db.upload_history;
    let from = hist.len().saturating_sub(spark_w as usize);
    frame.render_widget(
        Sparkline::default().data(&hist[from..]).style(theme.busy()),
        spark,
    );
    let eta = match db.upload_eta_secs {
        Some(s) if db.bytes_uploaded < db.bytes_total => format!("ETA {}", format::duration(s)),
        _ if db.bytes_total > 0 && db.bytes_uploaded >= db.bytes_total => {
            "all uploaded".to_string()
        }
        _ => "ETA -".to_string(),
    };
    let line = Line::from(vec![
        Span::styled(format::rate(db.upload_bytes_per_sec), theme.busy()),
        Span::raw(format!(
            "  {} of {} ({}%)  {eta}",
            format::bytes(db.bytes_uploaded),
            format::bytes(db.bytes_total),
            format::percent(db.bytes_uploaded, db.bytes_total)
        )),
    ]);
    frame.render_widget(Paragraph::new(line), text);
}

fn position(frame: &mut Frame, area: Rect, db: &DatabaseSnapshot, theme: Theme) {
    let lsn = db.last_applied_lsn.as_deref().unwrap_or("-");
    let lag = db
        .data_lag_secs
        .map_or_else(|| "-".to_string(), format::duration);
    let restoring = match (&db.state.currently_restoring, &db.state.last_restored_file) {
        (Some(c), Some(l)) if c == l && db.pending_log_backups == 0 => {
            Span::styled("All backups restored".to_string(), theme.ok())
        }
        (Some(c), _) => Span::raw(format!("restoring {c}")),
        (None, _) if db.state.full_restored() && db.pending_log_backups == 0 => {
            Span::styled("All backups restored".to_string(), theme.ok())
        }
        (None, _) => Span::styled("nothing restoring".to_string(), theme.dim()),
    };
    let line = Line::from(vec![
        Span::styled("Last applied LSN ", theme.dim()),
        Span::raw(lsn.to_string()),
        Span::styled("  lag ", theme.dim()),
        Span::raw(lag),
        Span::raw("  "),
        restoring,
    ]);
    frame.render_widget(Paragraph::new(line), area);
}

fn status_line(db: &DatabaseSnapshot, theme: Theme) -> Option<Line<'static>> {
    if let Some(e) = &db.state.error {
        let hint = if db.state.phase == Phase::Failed {
            "  (r retries)"
        } else {
            ""
        };
        return Some(Line::from(vec![
            Span::styled("Error: ", theme.error()),
            Span::raw(format!("{e}{hint}")),
        ]));
    }
    if let Some(r) = &db.state.block_reason {
        return Some(Line::from(vec![
            Span::styled("Blocked: ", theme.error()),
            Span::raw(r.clone()),
        ]));
    }
    None
}
