//! What cutover knows to be on the instance: `tde-certificates.json` in the state folder, written
//! by `cutover tde migrate` (each certificate it uploaded, or found there with --target-server) and
//! read by the engine, which holds a TDE database's uploads until its thumbprint is in it. It holds
//! thumbprints and names only (no key, no password); private (0600), replaced atomically.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Thumbprint;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnTarget {
    pub thumbprint: Thumbprint,
    pub certificate: String,
    /// `uploaded` or `found` (already on the instance).
    pub how: String,
    /// The instance (`subscription/resource group/name`, or the SQL endpoint).
    pub instance: String,
}

pub fn record_path(state_dir: &Path) -> PathBuf {
    state_dir.join("tde-certificates.json")
}

/// The recorded certificates (none if the file is missing or unreadable).
pub fn load(state_dir: &Path) -> Vec<OnTarget> {
    std::fs::read(record_path(state_dir))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// The thumbprints recorded as on the instance.
pub fn on_target(state_dir: &Path) -> BTreeSet<Thumbprint> {
    load(state_dir).into_iter().map(|r| r.thumbprint).collect()
}

/// Adds `entries` (replacing those of the same thumbprint and instance).
pub fn record(state_dir: &Path, entries: &[OnTarget]) -> std::io::Result<()> {
    let mut all = load(state_dir);
    for e in entries {
        all.retain(|r| !(r.thumbprint == e.thumbprint && r.instance == e.instance));
        all.push(e.clone());
    }
    crate::private_files::create_dir_all(state_dir)?;
    let path = record_path(state_dir);
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_vec_pretty(&all).map_err(std::io::Error::other)?;
    crate::private_files::write(&tmp, &text)?;
    std::fs::rename(&tmp, &path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_reads_back_without_duplicates() {
        let d = tempfile::tempdir().unwrap();
        assert!(on_target(d.path()).is_empty());
        let e = OnTarget {
            thumbprint: Thumbprint([3; 20]),
            certificate: "c".into(),
            how: "uploaded".into(),
            instance: "mi".into(),
        };
        record(d.path(), std::slice::from_ref(&e)).unwrap();
        record(d.path(), std::slice::from_ref(&e)).unwrap();
        assert_eq!(load(d.path()), vec![e]);
        assert!(on_target(d.path()).contains(&Thumbprint([3; 20])));
    }
}
