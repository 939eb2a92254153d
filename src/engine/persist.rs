//! The activity's state file: written atomically (temporary file + rename) on every transition, in the
//! platform data directory unless told otherwise. Holds no secrets: only database states, file names,
//! LSNs and the blob names given to local files.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::state::DatabaseState;
use crate::source::tail::StopTraffic;

/// One database as persisted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistedDatabase {
    pub state: DatabaseState,
    /// Local file -> blob name (so names stay stable across restarts).
    pub blobs: Vec<(PathBuf, String)>,
    pub traffic_stopped: Option<StopTraffic>,
    /// Files in the folder before the cutover began (a new one after that is the tail).
    #[serde(default)]
    pub files_at_cutover: Option<usize>,
    /// The operator said they take the tail-log backup: the next log after `files_at_cutover` is it.
    #[serde(default)]
    pub tail_wait: bool,
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistedActivity {
    pub version: u32,
    pub activity: String,
    pub databases: Vec<PersistedDatabase>,
}

/// The default folder for state files and logs: the platform's data directory for cutover.
pub fn default_state_dir() -> PathBuf {
    directories::ProjectDirs::from("", "", "cutover")
        .map(|d| d.data_local_dir().to_path_buf())
        .unwrap_or_else(|| std::env::temp_dir().join("cutover"))
}

/// `<dir>/<activity>.json`, the activity name made safe for a file name.
pub fn state_path(dir: &Path, activity: &str) -> PathBuf {
    let safe: String = activity
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join(format!("{safe}.json"))
}

/// Reads a state file; `Ok(None)` if there is none yet.
pub fn load(path: &Path) -> Result<Option<PersistedActivity>, String> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            format!(
                "{}: the state file is damaged ({e}); move it away to start the activity afresh",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!(
            "{}: cannot read the state file: {e}",
            path.display()
        )),
    }
}

/// Writes atomically: a crash leaves either the old or the new file, never half of one.
pub fn save(path: &Path, state: &PersistedActivity) -> Result<(), String> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("{}: cannot create the state folder: {e}", dir.display()))?;
    let bytes =
        serde_json::to_vec_pretty(state).map_err(|e| format!("cannot encode the state: {e}"))?;
    let tmp = path.with_extension("json.tmp");
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| format!("{}: cannot write the state file: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_atomic_replace() {
        let dir = tempfile::tempdir().unwrap();
        let p = state_path(dir.path(), "prod move/1");
        assert!(p.ends_with("prod_move_1.json"));
        assert_eq!(load(&p).unwrap(), None);
        let mut a = PersistedActivity {
            version: 1,
            activity: "prod move/1".into(),
            databases: vec![PersistedDatabase {
                state: DatabaseState::new("Sales"),
                blobs: vec![(PathBuf::from("/b/x.bak"), "Sales/x.bak".into())],
                traffic_stopped: None,
                files_at_cutover: None,
                tail_wait: false,
            }],
        };
        save(&p, &a).unwrap();
        assert_eq!(load(&p).unwrap().as_ref(), Some(&a));
        a.databases.clear();
        save(&p, &a).unwrap();
        assert_eq!(load(&p).unwrap(), Some(a));
        assert!(!p.with_extension("json.tmp").exists());
        std::fs::write(&p, b"{not json").unwrap();
        assert!(load(&p).unwrap_err().contains("damaged"));
    }
}
