//! Drawing the cutover dialog: live preconditions, the three steps, data-loss warnings, the typed
//! confirmation and the Complete action, then completion and the target's connection details.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::{
    CutoverDialog, Pending, Stage, StopChoice, begin_refusal, source_access, source_restoring,
    stage,
};
use crate::context::TuiContext;
use crate::dashboard::detail::downtime_line;
use crate::dashboard::footer::keys_line;
use crate::theme::Theme;
use crate::{format, layout};
use cutover_model::StopTraffic;
use cutover_model::{ChecklistItem, DatabaseSnapshot, SourceAccess, TailMode, TailState};

/// DMS's confirmation, which typing the database name stands for.
pub const CONFIRMATION: &str =
    "I confirm there are no additional log backups to provide and want to complete cutover";

fn check(ok: bool, theme: Theme) -> Span<'static> {
    if ok {
        Span::styled("[x] ", theme.ok())
    } else {
        Span::styled("[ ] ", theme.warn())
    }
}

/// One line of the engine's checklist: ticked or not, its words, its detail dimmed.
fn checklist_line(item: &ChecklistItem, theme: Theme) -> Line<'static> {
    let mut spans = vec![check(item.done, theme), Span::raw(item.text.clone())];
    if let Some(detail) = &item.detail {
        spans.push(Span::styled(detail.clone(), theme.dim()));
    }
    Line::from(spans)
}

fn stop_name(s: StopTraffic) -> &'static str {
    match s {
        StopTraffic::ReadOnly => "READ_ONLY",
        StopTraffic::RestrictedUser => "RESTRICTED_USER",
    }
}

pub fn render(
    frame: &mut Frame,
    area: Rect,
    d: &CutoverDialog,
    db: Option<&DatabaseSnapshot>,
    ctx: &TuiContext,
    tick: u64,
    now_unix: i64,
) {
    let t = ctx.theme;
    let mut lines = match db {
        None => vec![
            Line::raw("This database is no longer part of the migration."),
            keys_line(&[("Esc", "close")], t),
        ],
        Some(db) => body(d, db, ctx, tick, now_unix),
    };
    // Every body ends with its keys: they go in the bottom border, always visible.
    let keys = lines.pop().unwrap_or_default();
    while lines.last().is_some_and(|l| l.width() == 0) {
        lines.pop();
    }
    if area.height < 30 {
        lines.retain(|l| l.width() > 0);
    }
    let w = 100.min(area.width);
    // Word wrapping takes a little more than the estimate: one spare row per few lines.
    let need = layout::wrapped_height(&lines, w.saturating_sub(2));
    let r = layout::dialog(area, w, need + need / 6 + 3);
    let block = Block::bordered()
        .title(Span::styled(
            format!(" Cutover: {} ", d.database),
            t.title(),
        ))
        .title_bottom(keys)
        .border_style(t.focused());
    frame.render_widget(Clear, r);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block),
        r,
    );
}

fn body(
    d: &CutoverDialog,
    db: &DatabaseSnapshot,
    ctx: &TuiContext,
    tick: u64,
    now: i64,
) -> Vec<Line<'static>> {
    let t = ctx.theme;
    let st = stage(Some(db));
    let mut l: Vec<Line> = Vec::new();
    match st {
        Stage::Completing => return completing(db, t, tick, now),
        Stage::Completed => return completed(db, ctx, now),
        _ => {}
    }
    let restoring = source_restoring(db);
    // Live preconditions: the engine's guard's checklist.
    let state = &db.state;
    let checklist = &db.checklist;
    l.push(Line::styled("Preconditions", t.title()));
    for item in &checklist.preconditions {
        l.push(checklist_line(item, t));
    }
    if let Some(e) = &state.error {
        l.push(Line::from(vec![
            Span::styled("Error: ", t.error()),
            Span::raw(e.clone()),
        ]));
    }
    l.push(Line::raw(""));

    // Step 1.
    l.push(Line::styled("Steps", t.title()));
    let begun = st != Stage::NotBegun;
    let mut traffic_skipped = false;
    if let Some(line) = downtime_line(db, now, t) {
        l.push(line);
    }
    if !begun {
        if restoring {
            l.push(Line::from(vec![
                check(true, t),
                Span::raw(
                    "1 Traffic: the source is RESTORING (tail-log backup WITH NORECOVERY taken before): no writes reach it, nothing to stop",
                ),
            ]));
        } else if ctx.source_connected {
            let opt = |key: &'static str, label: &'static str, on: bool| {
                vec![
                    Span::styled(key, t.key()),
                    Span::styled(
                        format!(" {label}"),
                        if on { t.selected() } else { t.normal() },
                    ),
                    Span::raw("  "),
                ]
            };
            let mut spans = vec![Span::raw("1 Stop traffic (optional): ")];
            spans.extend(opt(
                "s",
                "READ_ONLY",
                d.stop == StopChoice::Stop(StopTraffic::ReadOnly),
            ));
            spans.extend(opt(
                "u",
                "RESTRICTED_USER",
                d.stop == StopChoice::Stop(StopTraffic::RestrictedUser),
            ));
            spans.extend(opt("n", "don't stop", d.stop == StopChoice::DontStop));
            l.push(Line::from(spans));
            traffic_skipped = d.stop == StopChoice::DontStop;
            match d.stop_to_run(db, ctx) {
                Some(s) => l.push(Line::from(vec![
                    Span::styled("  runs on the source: ", t.dim()),
                    Span::styled(db.statements.stop(s).to_string(), t.accent()),
                ])),
                None => l.push(Line::styled(
                    "  nothing is run on the source: stop the application's writes yourself",
                    t.dim(),
                )),
            }
            if d.pending == Some(Pending::Begin) {
                l.push(Line::styled(
                    "  y runs it now and begins the cutover; any other key goes back",
                    t.warn(),
                ));
            }
        } else {
            l.push(Line::raw(
                "1 Stop traffic: cutover is not connected to the source; stop the application's writes yourself",
            ));
            traffic_skipped = true;
        }
    } else {
        // What the source really is (the engine's word), not what was asked of it.
        let stopped = |s: StopTraffic| {
            Line::from(vec![
                check(true, t),
                Span::raw(format!(
                    "1 Traffic stopped: the source is {}; abandoning undoes it",
                    stop_name(s)
                )),
            ])
        };
        match source_access(db) {
            Some(SourceAccess::Restoring) => l.push(Line::from(vec![
                check(true, t),
                Span::raw(
                    "1 The source is RESTORING after the tail-log backup WITH NORECOVERY: no writes reach it",
                ),
            ])),
            Some(SourceAccess::ReadOnly) => l.push(stopped(StopTraffic::ReadOnly)),
            Some(SourceAccess::RestrictedUser) => l.push(stopped(StopTraffic::RestrictedUser)),
            Some(SourceAccess::ReadWrite) | None => {
                traffic_skipped = true;
                l.push(Line::from(vec![
                    Span::styled("[-] ", t.warn()),
                    Span::raw("1 Traffic not stopped: the source takes writes"),
                ]));
            }
        }
    }

    // Step 2.
    let mut tail_skipped = false;
    match (&state.tail, st) {
        (_, Stage::NotBegun) => l.push(Line::styled("2 Tail-log backup (after Begin)", t.dim())),
        (TailState::Taken { file }, _) => l.push(Line::from(vec![
            check(true, t),
            Span::raw(format!("2 Tail-log backup {file} is in the backup folder")),
        ])),
        (TailState::NoMoreBackups, _) => {
            tail_skipped = !restoring;
            l.push(Line::from(vec![
                Span::styled("[-] ", t.warn()),
                Span::raw("2 No tail-log backup: you confirmed that no more backups will come"),
            ]));
        }
        (TailState::Undecided, _) => {
            l.push(Line::raw("2 Tail-log backup:"));
            let can_take = ctx.source_connected && !restoring;
            let take_style = if can_take { t.normal() } else { t.disabled() };
            l.push(Line::from(vec![
                Span::raw("  "),
                Span::styled("t", if can_take { t.key() } else { t.disabled() }),
                Span::styled(
                    if restoring {
                        " take it now: unavailable, the source is RESTORING (its tail-log backup was taken before)"
                    } else if ctx.source_connected {
                        " take it now (through the source connection; the source is left RESTORING)"
                    } else {
                        " take it now: unavailable, cutover has no connection to the source"
                    },
                    take_style,
                ),
            ]));
            if d.pending == Some(Pending::TakeTail) {
                l.push(Line::from(vec![
                    Span::styled("  runs on the source: ", t.dim()),
                    Span::styled(
                        d.tail_statement
                            .clone()
                            .unwrap_or_else(|| db.statements.tail_log_backup.clone()),
                        t.accent(),
                    ),
                ]));
                l.push(Line::styled(
                    "  y takes it now; any other key goes back",
                    t.warn(),
                ));
            }
            if !restoring {
                l.push(Line::from(vec![
                    Span::raw("  "),
                    Span::styled("w", t.key()),
                    Span::raw(format!(
                        " I took it / I'll take it: wait until it lands in {}",
                        db.folder
                    )),
                ]));
            }
            l.push(Line::from(vec![
                Span::raw("  "),
                Span::styled("x", t.key()),
                if restoring {
                    Span::raw(
                        " no more backups will come: the tail-log backup taken before is the last",
                    )
                } else {
                    Span::raw(" no more backups will come ")
                },
                if restoring {
                    Span::raw("")
                } else {
                    Span::styled("(data-loss risk)", t.warn())
                },
            ]));
            let spin = format::spinner(tick);
            match d.tail {
                Some(TailMode::Take) => l.push(Line::styled(
                    format!("  {spin} taking the tail-log backup..."),
                    t.busy(),
                )),
                Some(TailMode::Wait) => {
                    if let Some(sql) = &d.tail_statement {
                        l.push(Line::from(vec![
                            Span::styled("  run on the source: ", t.dim()),
                            Span::styled(sql.clone(), t.accent()),
                        ]));
                    }
                    l.push(Line::styled(
                        format!(
                            "  {spin} waiting for the tail-log backup to land in the backup folder..."
                        ),
                        t.busy(),
                    ))
                }
                _ => {}
            }
            if d.skip_armed {
                tail_skipped = !restoring;
                l.push(Line::styled(
                    "  press x again to confirm that no more backups will come",
                    t.warn(),
                ));
            }
        }
    }

    // Step 3.
    let n = checklist.pending_count;
    l.push(checklist_line(&checklist.pending, t));

    // Data-loss warnings.
    if traffic_skipped && !restoring {
        l.push(Line::styled(
            "Data loss: traffic is not stopped by cutover; writes after the tail-log backup are lost.",
            t.warn(),
        ));
    }
    if tail_skipped {
        l.push(Line::styled(
            "Data loss: without a tail-log backup, transactions after the newest backup are lost.",
            t.warn(),
        ));
    }
    if begun && n > 0 {
        l.push(Line::styled(
            "Completing with backups still pending may lose data: Complete stays disabled until they are restored.",
            t.warn(),
        ));
    }
    l.push(Line::raw(""));

    // A statement waiting for `y`: the keys say so.
    let confirm_keys = |what: &'static str| keys_line(&[("y", what), ("any other key", "back")], t);
    match (st, d.pending) {
        (Stage::NotBegun, Some(Pending::Begin)) => {
            l.push(confirm_keys("run it and begin the cutover"));
            return l;
        }
        (Stage::Tail, Some(Pending::TakeTail)) => {
            l.push(confirm_keys("take the tail-log backup"));
            return l;
        }
        (Stage::Tail | Stage::Confirm, Some(Pending::Abandon)) => {
            abandon_warning(&mut l, db, t);
            l.push(confirm_keys("abandon the cutover"));
            return l;
        }
        _ => {}
    }
    match st {
        Stage::NotBegun => match begin_refusal(db) {
            None => l.push(keys_line(
                &[("Enter", "begin cutover"), ("Esc", "close")],
                t,
            )),
            Some(why) => {
                l.push(Line::from(vec![
                    Span::styled("Begin is disabled: ", t.warn()),
                    Span::raw(why),
                ]));
                l.push(keys_line(&[("Esc", "close")], t));
            }
        },
        Stage::Tail => l.push(keys_line(
            &[
                (if restoring { "x" } else { "t/w/x" }, "tail-log backup"),
                ("Esc/a", "abandon cutover"),
            ],
            t,
        )),
        _ => confirm(&mut l, d, db, t),
    }
    l
}

/// Abandoning leaves the source RESTORING: say so, with the statement that brings it back.
fn abandon_warning(l: &mut Vec<Line<'static>>, db: &DatabaseSnapshot, t: Theme) {
    l.push(Line::styled(
        "Abandon? The tail-log backup WITH NORECOVERY left the source RESTORING; abandoning keeps it so.",
        t.warn(),
    ));
    l.push(Line::from(vec![
        Span::raw("To bring the source back online, run on it: "),
        Span::styled(db.statements.recovery.clone(), t.accent()),
    ]));
}

fn confirm(l: &mut Vec<Line<'static>>, d: &CutoverDialog, db: &DatabaseSnapshot, t: Theme) {
    l.push(Line::raw(format!(
        "Type {} to confirm: \"{CONFIRMATION}\"",
        db.state.name
    )));
    let matches = d.typed == db.state.name;
    l.push(Line::from(vec![
        Span::raw("> "),
        Span::styled(
            format!("{}_", d.typed),
            if matches { t.ok() } else { t.normal() },
        ),
    ]));
    let enabled = d.complete_enabled(db);
    let button: Style = if enabled {
        t.key().add_modifier(ratatui::style::Modifier::REVERSED)
    } else {
        t.disabled()
    };
    let mut spans = vec![
        Span::styled(" Enter: Complete cutover ", button),
        Span::raw("  "),
    ];
    if !enabled {
        let why = match &db.cutover_refusal {
            Some(r) => r.clone(),
            None => format!("type {} exactly", db.state.name),
        };
        spans.push(Span::styled(format!("disabled: {why}"), t.dim()));
    } else if d.complete_sent {
        spans.push(Span::styled("sent...", t.busy()));
    }
    l.push(Line::from(spans));
    l.push(keys_line(&[("Esc", "abandon cutover")], t));
}

fn completing(db: &DatabaseSnapshot, t: Theme, tick: u64, now: i64) -> Vec<Line<'static>> {
    let mut l = vec![
        Line::styled(
            format!(
                "{} Completing: LRS restores the last backup and brings {} online on the target.",
                format::spinner(tick),
                db.target_name
            ),
            t.busy(),
        ),
        Line::raw(format!(
            "Last backup: {}",
            db.state.completed_with.as_deref().unwrap_or("-")
        )),
        Line::raw("This can take minutes. Closing this dialog does not stop it."),
    ];
    if let Some(line) = downtime_line(db, now, t) {
        l.push(line);
    }
    if let Some(e) = &db.state.error {
        l.push(Line::from(vec![
            Span::styled("Error: ", t.error()),
            Span::raw(e.clone()),
        ]));
    }
    l.push(Line::raw(""));
    l.push(keys_line(&[("Esc", "close (completion goes on)")], t));
    l
}

fn completed(db: &DatabaseSnapshot, ctx: &TuiContext, now: i64) -> Vec<Line<'static>> {
    let t = ctx.theme;
    let downtime = downtime_line(db, now, t).unwrap_or_else(|| {
        Line::styled(
            "Downtime: not measured (the cutover began before cutover measured it)",
            t.dim(),
        )
    });
    vec![
        Line::styled(
            format!(
                "{} is online on the target. Cutover completed.",
                db.target_name
            ),
            t.ok(),
        ),
        Line::raw(format!(
            "Last backup restored: {}",
            db.state.completed_with.as_deref().unwrap_or("-")
        )),
        downtime,
        Line::raw(""),
        Line::styled("Point the applications at:", t.title()),
        Line::raw(ctx.connection_for(&db.target_name)),
        Line::raw(""),
        keys_line(&[("Enter/Esc", "close")], t),
    ]
}
