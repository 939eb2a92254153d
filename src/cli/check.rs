//! `cutover check [--json] DIR`: per database the restore plan and the findings. `DIR` may be a
//! share (`\\server\share\path`, `smb://server[:port]/share/path`, with `--smb-user` and
//! `--smb-password-env`).
//! Exit code 0 when nothing is an error, 1 when something is, 2 when the check could not run.

use std::fmt::Write;
use std::path::PathBuf;
use std::time::Duration;

use crate::catalog::{self, CheckReport, Finding, ScanOptions};

use super::inspect::{ellipsize, ellipsize_left};

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Wait this many seconds after reading and look again, to catch files still being written.
    #[arg(long, default_value_t = 0.0, value_name = "SECONDS")]
    pub settle: f64,
    /// The backup folder (searched recursively: flat, or Ola Hallengren's <db>/FULL|DIFF|LOG), or
    /// a share: \\server\share\path or smb://server[:port]/share/path.
    pub dir: PathBuf,
    #[command(flatten)]
    pub smb: super::smb_args::SmbArgs,
}

pub fn run(args: &CheckArgs) -> i32 {
    if !(0.0..=3600.0).contains(&args.settle) {
        eprintln!("error: --settle must be between 0 and 3600 seconds");
        return 2;
    }
    let opts = ScanOptions {
        settle: Duration::from_secs_f64(args.settle),
        threads: 0,
    };
    let opened = match super::smb_args::open(&args.dir, &args.smb) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let scan = match catalog::scan::scan_folder_in(opened.folder.as_ref(), &opened.root, &opts) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let report = catalog::check(&scan);
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("error: cannot format JSON: {e}");
                return 2;
            }
        }
    } else {
        print!("{}", render(&report));
    }
    i32::from(report.has_errors())
}

/// Wraps `text` to `width` columns, indenting continuation lines by `indent` spaces.
fn wrap(out: &mut String, first: &str, text: &str, indent: usize, width: usize) {
    let mut line = first.to_string();
    for word in text.split_whitespace() {
        if line.chars().count() + 1 + word.chars().count() > width
            && !line.trim().is_empty()
            && line.chars().count() > indent
        {
            let _ = writeln!(out, "{}", line.trim_end());
            line = " ".repeat(indent);
        }
        if !line.ends_with(' ') && !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    let _ = writeln!(out, "{}", line.trim_end());
}

fn render_findings(out: &mut String, findings: &[Finding]) {
    for f in findings {
        let head = format!("  {:<7} {}:", f.severity.as_str(), f.code);
        wrap(out, &head, &f.message, 10, 80);
        wrap(out, &" ".repeat(10), &format!("fix: {}", f.fix), 15, 80);
    }
}

/// The human report: aligned tables within 80 columns.
pub fn render(r: &CheckReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Backup folder {}: {} database(s)",
        r.root,
        r.databases.len()
    );
    for d in &r.databases {
        let status = if d.has_errors() {
            "NOT RESTORABLE"
        } else {
            "restorable"
        };
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Database {} ({status}; LRS folder '{}')",
            d.name, d.folder
        );
        let folders: std::collections::BTreeSet<&str> = d
            .plan
            .iter()
            .flat_map(|s| s.stripes.iter())
            .map(|f| f.rsplit_once('/').map_or(".", |(d, _)| d))
            .collect();
        if !folders.is_empty() {
            let list: Vec<&str> = folders.into_iter().collect();
            let _ = writeln!(out, "  from {}", ellipsize(&list.join(", "), 72));
        }
        if d.plan.is_empty() {
            let _ = writeln!(out, "  no restore plan");
        } else {
            let _ = writeln!(
                out,
                "  {:>2} {:<4} {:<20} {:>20} {:>20} {:>7}",
                "#", "TYPE", "FILE", "FIRST LSN", "LAST LSN", "SIZE"
            );
            for (i, s) in d.plan.iter().enumerate() {
                let size = humansize::format_size(s.size, humansize::BINARY.decimal_places(0));
                let _ = writeln!(
                    out,
                    "  {:>2} {:<4} {:<20} {:>20} {:>20} {:>7}",
                    i + 1,
                    s.backup_type.as_str(),
                    ellipsize_left(s.file.rsplit('/').next().unwrap_or(&s.file), 20),
                    s.first_lsn.to_string(),
                    s.last_lsn.to_string(),
                    size
                );
                for extra in s.stripes.iter().skip(1) {
                    let _ = writeln!(out, "          + stripe {}", ellipsize_left(extra, 60));
                }
            }
        }
        if !d.skipped.is_empty() {
            let _ = writeln!(
                out,
                "  not in the plan: {} (older, covered or unusable; see --json)",
                d.skipped.len()
            );
        }
        render_findings(&mut out, &d.findings);
    }
    if !r.findings.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "Folder findings");
        render_findings(&mut out, &r.findings);
    }
    out
}
