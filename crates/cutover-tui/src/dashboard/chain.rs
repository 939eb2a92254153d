//! The restore chain of the selected database, newest first (as DMS lists it): type, file, first
//! LSN, last LSN, size, status. Gaps (a log backup whose first LSN is after the previous file's last
//! LSN) and files LRS cannot restore are marked `!` and explained under the table.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table};

use crate::theme::Theme;
use crate::{format, layout};
use cutover_model::BackupType;
use cutover_model::{BackupFile, DatabaseSnapshot, FileStatus};

/// Width of the Status column ("Uploading 100%").
const STATUS_W: u16 = 14;

/// Something wrong with one file of the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// `files[index]` starts after the previous file ends: a log backup is missing.
    Gap { index: usize },
    /// LRS reported `files[index]` as unrestorable.
    Unrestorable { index: usize },
}

/// The problems of a chain (files in chain order), in chain order.
pub fn problems(files: &[BackupFile]) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut prev: Option<&BackupFile> = None;
    for (i, f) in files.iter().enumerate() {
        if f.status == FileStatus::Unrestorable {
            out.push(Problem::Unrestorable { index: i });
        }
        if f.status == FileStatus::Skipped {
            continue;
        }
        if let Some(p) = prev
            && f.backup_type == BackupType::Log
            && f.first_lsn > p.last_lsn
        {
            out.push(Problem::Gap { index: i });
        }
        prev = Some(f);
    }
    out
}

/// One sentence per problem, naming files and LSNs.
pub fn explain(files: &[BackupFile], p: &Problem, block_reason: Option<&str>) -> String {
    match *p {
        Problem::Gap { index } => {
            let f = &files[index];
            let prev = files[..index]
                .iter()
                .rev()
                .find(|x| x.status != FileStatus::Skipped);
            match prev {
                Some(prev) => format!(
                    "gap before {}: its first LSN {} is after the last LSN {} of {}; a log backup between them is missing, so the restore stops at {}",
                    f.name, f.first_lsn, prev.last_lsn, prev.name, prev.name
                ),
                None => format!("gap before {}", f.name),
            }
        }
        Problem::Unrestorable { index } => {
            let f = &files[index];
            match block_reason {
                Some(r) => format!(
                    "{} cannot be restored: {r}; replace the file in the backup folder, then retry",
                    f.name
                ),
                None => format!(
                    "{} cannot be restored by LRS; replace the file in the backup folder, then retry",
                    f.name
                ),
            }
        }
    }
}

/// The explanation lines of the chain's problems (at most `max`), then the files the restore plan
/// leaves out ("Ignored") with why.
pub fn notes(db: &DatabaseSnapshot, max: usize, theme: Theme) -> Vec<Line<'static>> {
    let files = &db.state.files;
    let mut out: Vec<Line<'static>> = problems(files)
        .iter()
        .take(max)
        .map(|p| {
            Line::from(vec![
                Span::styled("! ", theme.error()),
                Span::raw(explain(files, p, db.state.block_reason.as_deref())),
            ])
        })
        .collect();
    // Files the restore plan leaves out, each with why (DMS's "Ignored").
    let room = max.saturating_sub(out.len()).max(1);
    for f in db.state.ignored.iter().take(room) {
        out.push(Line::from(vec![
            Span::styled("Ignored ", theme.dim()),
            Span::raw(format!(
                "{} ({}): {}",
                f.name,
                format::backup_type(f.backup_type),
                f.reason
            )),
        ]));
    }
    if db.state.ignored.len() > room {
        out.push(Line::styled(
            format!(
                "and {} more file(s) not in the restore plan",
                db.state.ignored.len() - room
            ),
            theme.dim(),
        ));
    }
    // Files of the plan LRS itself skipped.
    let skipped: Vec<&str> = files
        .iter()
        .filter(|f| f.status == FileStatus::Skipped)
        .map(|f| f.name.as_str())
        .collect();
    if let Some(first) = skipped.first() {
        let more = match skipped.len() {
            1 => String::new(),
            n => format!(" and {} more", n - 1),
        };
        out.push(Line::from(vec![
            Span::styled("Ignored ", theme.dim()),
            Span::raw(format!(
                "{first}{more}: skipped by LRS, its log is already in the backups restored before it"
            )),
        ]));
    }
    out
}

pub fn render(
    frame: &mut Frame,
    area: Rect,
    db: &DatabaseSnapshot,
    scroll: usize,
    focused: bool,
    theme: Theme,
    compact: bool,
) {
    let files = &db.state.files;
    let probs = problems(files);
    let wide = area.width >= 90;
    let rows_avail = area.height.saturating_sub(if compact { 2 } else { 3 }) as usize;
    // Newest first: display row r shows files[len - 1 - r].
    let n = files.len();
    // Not scrolled by hand: keep the first problem (or the file restoring) in view.
    let anchor = probs
        .first()
        .map(|p| match *p {
            Problem::Gap { index } | Problem::Unrestorable { index } => index,
        })
        .or_else(|| files.iter().position(|f| f.status == FileStatus::Restoring))
        .map(|i| n - 1 - i);
    let scroll = match anchor {
        Some(row) if scroll == 0 => (row + 1).saturating_sub(rows_avail),
        _ => scroll,
    };
    let start = scroll.min(n.saturating_sub(rows_avail.max(1)));
    let shown: Vec<usize> = (start..n.min(start + rows_avail))
        .map(|r| n - 1 - r)
        .collect();
    let lsn_w = shown
        .iter()
        .map(|&i| {
            let f = &files[i];
            let a = f.last_lsn.to_string().len();
            if wide {
                a.max(f.first_lsn.to_string().len())
            } else {
                a
            }
        })
        .max()
        .unwrap_or(9)
        .max(9) as u16;
    // The file name takes what the other columns leave (cut with an ellipsis only when that is
    // less than the name).
    let inner_w = if compact {
        area.width
    } else {
        area.width.saturating_sub(2)
    };
    let lsn_cols = if wide { 2 } else { 1 };
    let fixed = 1 + 4 + lsn_w * lsn_cols + 10 + STATUS_W + (4 + lsn_cols); // + spacing
    let file_w = inner_w.saturating_sub(fixed).max(12);
    let rows = shown.iter().map(|&i| {
        let f = &files[i];
        let gap = probs.contains(&Problem::Gap { index: i });
        let bad = f.status == FileStatus::Unrestorable;
        let restoring = db.state.currently_restoring.as_deref() == Some(f.name.as_str())
            && f.status == FileStatus::Restoring;
        let marker = if gap || bad {
            Span::styled("!", theme.error())
        } else if restoring {
            Span::styled(">", theme.busy())
        } else {
            Span::raw(" ")
        };
        let status = if gap {
            format!("{} GAP", format::file_status(f.status))
        } else {
            format::file_progress(f)
        };
        let status_style = if gap {
            theme.error()
        } else {
            format::file_status_style(f.status, theme)
        };
        let mut cells = vec![
            Cell::from(marker),
            Cell::from(format::backup_type(f.backup_type)),
            Cell::from(format::truncate(&f.name, file_w as usize)),
        ];
        if wide {
            cells.push(Cell::from(f.first_lsn.to_string()));
        }
        cells.push(Cell::from(f.last_lsn.to_string()));
        cells.push(Cell::from(format!("{:>10}", format::bytes(f.size))));
        cells.push(Cell::from(Span::styled(status, status_style)));
        let row = Row::new(cells);
        if gap || bad {
            row.style(theme.error())
        } else {
            row
        }
    });
    let mut widths = vec![
        Constraint::Length(1),
        Constraint::Length(4),
        Constraint::Length(file_w),
    ];
    let mut header = vec!["", "Type", "File"];
    if wide {
        widths.push(Constraint::Length(lsn_w));
        header.push("First LSN");
    }
    widths.push(Constraint::Length(lsn_w));
    header.push("Last LSN");
    widths.push(Constraint::Length(10));
    header.push("      Size");
    widths.push(Constraint::Length(STATUS_W));
    header.push("Status");
    let title = if n > rows_avail && rows_avail > 0 {
        format!(
            " Backup chain, newest first ({}-{} of {n}) ",
            start + 1,
            (start + rows_avail).min(n)
        )
    } else {
        format!(" Backup chain, newest first ({n}) ")
    };
    let block = layout::panel(compact)
        .title(layout::panel_title(title, focused, theme))
        .border_style(if focused {
            theme.focused()
        } else {
            theme.normal()
        });
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.dim()))
        .block(block)
        .column_spacing(1);
    frame.render_widget(table, area);
}
