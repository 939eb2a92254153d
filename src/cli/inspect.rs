//! `cutover inspect [--json] FILE...`

use std::path::PathBuf;

use crate::backup::{BackupSet, read_backup_file};

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// Print a JSON array of backup sets (RESTORE HEADERONLY column names).
    #[arg(long)]
    pub json: bool,
    /// Backup files to read (opened read-only).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

pub fn run(args: &InspectArgs) -> i32 {
    let mut sets: Vec<BackupSet> = Vec::new();
    let mut failed = false;
    for f in &args.files {
        match read_backup_file(f) {
            Ok(s) => sets.extend(s),
            Err(e) => {
                eprintln!("error: {e}");
                failed = true;
            }
        }
    }
    if args.json {
        match serde_json::to_string_pretty(&sets) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("error: cannot format JSON: {e}");
                return 2;
            }
        }
    } else {
        print!("{}", render_table(&sets));
    }
    if failed { 1 } else { 0 }
}

/// The human table: one row per set, fits 80 columns; LSNs below each row.
pub fn render_table(sets: &[BackupSet]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<24} {:<4} {:>3} {:<16} {:>9} {:<10} FLAGS",
        "FILE", "TYPE", "POS", "DATABASE", "SIZE", "VERSION"
    );
    for s in sets {
        let name = s
            .file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut flags = String::new();
        flags.push(if s.has_backup_checksums { 'K' } else { '-' });
        flags.push(if s.compressed { 'Z' } else { '-' });
        flags.push(if s.is_copy_only { 'C' } else { '-' });
        flags.push(if s.family_count > 1 { 'S' } else { '-' });
        let _ = writeln!(
            out,
            "{:<24} {:<4} {:>3} {:<16} {:>9} {:<10} {}",
            ellipsize(&name, 24),
            s.backup_type.as_str(),
            s.position,
            ellipsize(&s.database_name, 16),
            humansize::format_size(s.backup_size, humansize::BINARY),
            ellipsize(&s.software_version, 10),
            flags
        );
        let _ = writeln!(
            out,
            "    LSN {} .. {}  checkpoint {}",
            s.first_lsn, s.last_lsn, s.checkpoint_lsn
        );
    }
    let _ = writeln!(
        out,
        "{} backup set(s). FLAGS: K checksums, Z compressed, C copy-only, S striped",
        sets.len()
    );
    out
}

/// Cuts `s` to `max` characters, marking the cut with '~'.
pub fn ellipsize(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('~');
        t
    }
}

/// Cuts `s` to `max` characters keeping its end (file names differ at the end), marking the cut with '~'.
pub fn ellipsize_left(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        s.to_string()
    } else {
        let mut t = String::from("~");
        t.extend(s.chars().skip(n + 1 - max));
        t
    }
}
