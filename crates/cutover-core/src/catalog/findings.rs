//! Findings: what the catalog noticed about a backup folder, each with a stable code, a severity and a
//! plain-English fix.

pub use crate::model::finding::{Code, Finding, Severity};

/// True if `name` contains "backup" (which also covers "backups"), case-insensitively: LRS refuses
/// such container and folder names.
pub fn lrs_refuses_name(name: &str) -> bool {
    name.to_ascii_lowercase().contains("backup")
}

/// A name LRS accepts, derived from `name`: "backup" becomes "bak", other characters blob names
/// dislike become '-'.
pub fn lrs_safe_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let lower = name.to_ascii_lowercase();
    let mut i = 0;
    let bytes = name.as_bytes();
    while i < bytes.len() {
        if lower[i..].starts_with("backups") {
            out.push_str("baks");
            i += "backups".len();
        } else if lower[i..].starts_with("backup") {
            out.push_str("bak");
            i += "backup".len();
        } else {
            let Some(c) = name[i..].chars().next() else {
                break;
            };
            out.push(if c.is_control() || "\\/?#%\"".contains(c) {
                '-'
            } else {
                c
            });
            i += c.len_utf8();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_names() {
        assert!(lrs_refuses_name("SQLBackups"));
        assert!(lrs_refuses_name("my-BACKUP"));
        assert!(!lrs_refuses_name("bak"));
        assert_eq!(lrs_safe_name("SQLBackups"), "SQLbaks");
        assert_eq!(lrs_safe_name("db_backup/x"), "db_bak-x");
        assert!(!lrs_refuses_name(&lrs_safe_name("BackupBACKUPS")));
    }
}
