//! The selected database: upload (sparkline, rate, bytes, ETA), restore position (last applied LSN,
//! currently restoring file), error or blocking reason, the backup chain and the findings.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline, Wrap};

use super::{DashboardState, Focus, chain, findings, live};
use crate::context::TuiContext;
use crate::theme::Theme;
use crate::{format, layout};
use cutover_model::{DatabaseSnapshot, MigrationSnapshot, Phase};

pub fn render(
    frame: &mut Frame,
    area: Rect,
    db: Option<&DatabaseSnapshot>,
    state: &DashboardState,
    snap: &MigrationSnapshot,
    ctx: &TuiContext,
    compact: bool,
) {
    let theme = ctx.theme;
    let Some(db) = db else {
        let block = layout::panel(compact).title(" Detail ");
        frame.render_widget(Paragraph::new("Select a database.").block(block), area);
        return;
    };
    let p = db.state.phase;
    let title = Line::from(vec![
        Span::styled(format!(" {} ", db.state.name), theme.title()),
        Span::styled(
            format!("{} ", db.state.status_label()),
            format::phase_style(p, theme),
        ),
    ]);
    let block = layout::panel(compact).title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);

    let now = live::now(snap, state.now_unix);
    let status = status_line(db, now, theme);
    let status_h = u16::from(status.is_some());
    // Chain problems, then findings with their fixes, under the chain.
    let mut notes: Vec<Line> = super::finished::target_line(db, theme)
        .into_iter()
        .chain(db.on_target.as_ref().map(|r| {
            Line::from(vec![
                Span::styled("  connect with ", theme.dim()),
                Span::raw(r.connection_string.clone()),
            ])
        }))
        .collect();
    notes.extend(chain::notes(db, if compact { 2 } else { 6 }, theme));
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
    upload(frame, up, db, snap.paused, theme);
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

fn upload(frame: &mut Frame, area: Rect, db: &DatabaseSnapshot, paused: bool, theme: Theme) {
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
    let all_uploaded = db.bytes_total > 0 && db.bytes_uploaded >= db.bytes_total;
    // Paused: no rate and no ETA, which would only describe the time before the pause.
    let paused = paused && !all_uploaded;
    let eta = match db.upload_eta_secs {
        _ if paused => "no ETA while paused".to_string(),
        Some(s) if db.bytes_uploaded < db.bytes_total => format!("ETA {}", format::duration(s)),
        _ if all_uploaded => "all uploaded".to_string(),
        _ => "ETA -".to_string(),
    };
    let rate = if paused {
        Span::styled("paused", theme.warn())
    } else {
        Span::styled(format::rate(db.upload_bytes_per_sec), theme.busy())
    };
    let line = Line::from(vec![
        rate,
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
    let mut lag = db
        .data_lag_secs
        .map_or_else(|| "-".to_string(), format::duration);
    if db.data_lag_secs.is_some() && !db.data_lag_utc_known {
        // Backup times are the server's local time and its offset is not known (folder only).
        lag.push_str(" (server time zone unknown)");
    }
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

fn status_line(db: &DatabaseSnapshot, now: i64, theme: Theme) -> Option<Line<'static>> {
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
    if let Some(q) = db
        .state
        .lrs_queued
        .as_ref()
        .filter(|_| !db.state.lrs_started)
    {
        return Some(Line::from(vec![
            Span::styled("Queued: ", theme.dim()),
            Span::raw(q.clone()),
        ]));
    }
    downtime_line(db, now, theme)
}

/// While cutting over: the downtime so far and what completion waits for; once Completed, the
/// final downtime.
pub fn downtime_line(db: &DatabaseSnapshot, now: i64, theme: Theme) -> Option<Line<'static>> {
    let secs = live::downtime_secs(db, now)?;
    let mut spans = vec![
        Span::styled("Downtime ", theme.dim()),
        Span::styled(format::duration(secs), theme.accent()),
    ];
    match db.state.phase {
        Phase::Completed => spans.push(Span::raw(" in all (traffic stopped to Completed)")),
        _ => {
            spans.push(Span::raw(" so far"));
            if let Some(w) = &db.cutover_waiting_for {
                spans.push(Span::styled("; waiting for ", theme.dim()));
                spans.push(Span::raw(w.clone()));
            }
        }
    }
    Some(Line::from(spans))
}
