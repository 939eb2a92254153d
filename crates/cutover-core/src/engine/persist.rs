//! The activity's state: written atomically (temporary file + rename) on every transition, in the
//! platform data directory unless told otherwise. Holds no secrets: only database states, file names,
//! LSNs and the blob names given to local files.
//!
//! `<activity>.json` is the index (the activity and its databases); each database's state is a file of
//! its own in `<activity>.d/`, so that a transition of one database rewrites that database alone (at
//! 100 databases of 1,000 files, a single file would be ~45 MiB rewritten several times a second).
//! Version 1 state files (everything in `<activity>.json`) are still read.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::reattach::RestoreIdentity;
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
    /// The restore this activity started on the managed instance (re-attach goes only to it).
    #[serde(default)]
    pub restore: Option<RestoreIdentity>,
}

/// The whole activity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistedActivity {
    pub version: u32,
    pub activity: String,
    pub databases: Vec<PersistedDatabase>,
}

/// The version written now.
pub const VERSION: u32 = 2;

/// `<activity>.json` from version 2 on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Index {
    version: u32,
    activity: String,
    databases: Vec<IndexEntry>,
    /// Where the activity migrates (absent in files written before it was recorded).
    #[serde(default, flatten)]
    about: ActivityAbout,
}

/// Where an activity migrates to: what tells two activities of one state folder apart.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityAbout {
    /// The container URL (no credentials).
    #[serde(default)]
    pub container: Option<String>,
    /// The managed instance.
    #[serde(default)]
    pub target: Option<String>,
    /// The database names on the managed instance.
    #[serde(default)]
    pub target_databases: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct IndexEntry {
    name: String,
    /// File name in `<activity>.d/`.
    file: String,
}

/// Only the version, to tell the two layouts apart.
#[derive(Deserialize)]
struct Versioned {
    version: u32,
}

/// The default folder for state files and logs: the platform's data directory for cutover.
pub fn default_state_dir() -> PathBuf {
    directories::ProjectDirs::from("", "", "cutover")
        .map(|d| d.data_local_dir().to_path_buf())
        .unwrap_or_else(|| std::env::temp_dir().join("cutover"))
}

fn safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `<dir>/<activity>.json`, the activity name made safe for a file name.
pub fn state_path(dir: &Path, activity: &str) -> PathBuf {
    dir.join(format!("{}.json", safe(activity)))
}

/// The folder of the databases' files beside the index: `<activity>.d`.
pub fn databases_dir(path: &Path) -> PathBuf {
    path.with_extension("d")
}

/// A database's file name: its name made safe, plus a hash of the exact name (two names that are
/// made safe alike, `a b` and `a_b`, still get two files).
fn database_file(name: &str) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    let short: String = safe(name).chars().take(64).collect();
    format!("{short}-{h:08x}.json")
}

/// Reads an activity's state; `Ok(None)` if there is none yet. A database listed in the index whose
/// own file was never written (the process died before its first save) is left out: it starts afresh.
pub fn load(path: &Path) -> Result<Option<PersistedActivity>, String> {
    let Some(bytes) = read(path)? else {
        return Ok(None);
    };
    let version = serde_json::from_slice::<Versioned>(&bytes)
        .map_err(|e| damaged(path, &e))?
        .version;
    if version == 1 {
        return serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| damaged(path, &e));
    }
    if version != VERSION {
        return Err(format!(
            "{}: the state file is of version {version}, written by a newer cutover; use that \
             version to resume this activity",
            path.display()
        ));
    }
    let index: Index = serde_json::from_slice(&bytes).map_err(|e| damaged(path, &e))?;
    let dir = databases_dir(path);
    let mut databases = Vec::with_capacity(index.databases.len());
    for entry in &index.databases {
        let p = dir.join(&entry.file);
        let Some(bytes) = read(&p)? else { continue };
        let db: PersistedDatabase = serde_json::from_slice(&bytes).map_err(|e| damaged(&p, &e))?;
        if db.state.name != entry.name {
            return Err(format!(
                "{}: holds database '{}' where the index {} says '{}'; move the activity's files \
                 away to start afresh",
                p.display(),
                db.state.name,
                path.display(),
                entry.name
            ));
        }
        databases.push(db);
    }
    Ok(Some(PersistedActivity {
        version: VERSION,
        activity: index.activity,
        databases,
    }))
}

/// An activity found in a state folder.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivitySummary {
    pub activity: String,
    /// Its index file.
    pub path: PathBuf,
    pub about: ActivityAbout,
    pub databases: Vec<PersistedDatabase>,
}

/// Every activity whose index is in `dir` (files that are not an activity's index are skipped).
pub fn activities(dir: &Path) -> Vec<ActivitySummary> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<ActivitySummary> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter_map(|p| {
            let bytes = std::fs::read(&p).ok()?;
            let about = serde_json::from_slice::<Index>(&bytes)
                .map(|i| i.about)
                .unwrap_or_default();
            let a = load(&p).ok()??;
            Some(ActivitySummary {
                activity: a.activity,
                path: p,
                about,
                databases: a.databases,
            })
        })
        .collect();
    out.sort_by(|a, b| a.activity.cmp(&b.activity));
    out
}

fn damaged(path: &Path, e: &serde_json::Error) -> String {
    format!(
        "{}: the state file is damaged ({e}); move it away to start the activity afresh",
        path.display()
    )
}

fn read(path: &Path) -> Result<Option<Vec<u8>>, String> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!(
            "{}: cannot read the state file: {e}",
            path.display()
        )),
    }
}

/// Writes the whole activity: the index and every database's file.
pub fn save(path: &Path, state: &PersistedActivity) -> Result<(), String> {
    let names: Vec<&str> = state
        .databases
        .iter()
        .map(|d| d.state.name.as_str())
        .collect();
    save_index(path, &state.activity, &names, &ActivityAbout::default())?;
    state
        .databases
        .iter()
        .try_for_each(|d| save_database(path, d))
}

/// Writes the index: the activity, the names of its databases and where it migrates.
pub fn save_index(
    path: &Path,
    activity: &str,
    databases: &[&str],
    about: &ActivityAbout,
) -> Result<(), String> {
    let index = Index {
        about: about.clone(),
        version: VERSION,
        activity: activity.to_string(),
        databases: databases
            .iter()
            .map(|n| IndexEntry {
                name: n.to_string(),
                file: database_file(n),
            })
            .collect(),
    };
    let bytes =
        serde_json::to_vec_pretty(&index).map_err(|e| format!("cannot encode the state: {e}"))?;
    write_atomic(path, &bytes)
}

/// Writes one database's file (compact JSON: it lists every backup file).
pub fn save_database(path: &Path, db: &PersistedDatabase) -> Result<(), String> {
    let bytes = serde_json::to_vec(db).map_err(|e| format!("cannot encode the state: {e}"))?;
    write_atomic(
        &databases_dir(path).join(database_file(&db.state.name)),
        &bytes,
    )
}

/// The run's logins as last saved (`<activity>.d/logins.json`): names, kinds, targets, the users
/// that need them and each status. No SID-bound secret: never a password hash.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistedLogins {
    pub logins: Vec<crate::model::LoginRow>,
}

fn logins_file(path: &Path) -> PathBuf {
    databases_dir(path).join("logins.json")
}

/// Writes the logins' file (atomic, private like the others).
pub fn save_logins(path: &Path, logins: &PersistedLogins) -> Result<(), String> {
    let bytes =
        serde_json::to_vec_pretty(logins).map_err(|e| format!("cannot encode the state: {e}"))?;
    write_atomic(&logins_file(path), &bytes)
}

/// The logins' file; none yet: empty. An unreadable one is an error naming it.
pub fn load_logins(path: &Path) -> Result<PersistedLogins, String> {
    let file = logins_file(path);
    match std::fs::read(&file) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            format!(
                "{}: the logins' state cannot be read ({e}); remove it to look at the logins afresh (their migration is idempotent)",
                file.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(PersistedLogins::default()),
        Err(e) => Err(format!("{}: cannot read the logins' state: {e}", file.display())),
    }
}

/// Writes atomically: a crash leaves either the old or the new file, never half of one. The
/// temporary file is unique per writer (process and call), so two writers never write into one
/// temporary file; files are private (0600, folders 0700 on Unix). A failed write leaves the previous
/// file as it was, and the error says so.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let dir = path.parent().unwrap_or(Path::new("."));
    crate::private_files::create_dir_all(dir).map_err(|e| {
        format!(
            "{}: cannot create the state folder: {e}; the previous state is kept as it was. Make the folder writable (or choose another: --state-dir or [migration] state_dir), then run the same command again to resume",
            dir.display()
        )
    })?;
    let tmp = temporary_path(path);
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut f = crate::private_files::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!(
            "{}: cannot write the state file: {e}; the previous state is kept as it was. Free space in (or fix the permissions of) {}, then run the same command again to resume",
            path.display(),
            dir.display()
        )
    })
}

/// `<file>.<pid>-<n>.tmp`: unique per process and per write.
fn temporary_path(path: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}-{n}.tmp", std::process::id()));
    path.with_file_name(name)
}

/// Removes the temporary files a killed writer left beside the activity's files (call it holding
/// the activity's lock: no other writer runs then).
pub fn remove_stale_temporaries(path: &Path) {
    let stem = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let beside = path.parent().map(|d| (d.to_path_buf(), Some(stem)));
    let inside = Some((databases_dir(path), None));
    for (dir, prefix) in [beside, inside].into_iter().flatten() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let ours = prefix.as_deref().is_none_or(|p| name.starts_with(p));
            if ours && name.ends_with(".tmp") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
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
            version: VERSION,
            activity: "prod move/1".into(),
            databases: vec![PersistedDatabase {
                state: DatabaseState::new("Sales"),
                blobs: vec![(PathBuf::from("/b/x.bak"), "Sales/x.bak".into())],
                traffic_stopped: None,
                files_at_cutover: None,
                tail_wait: false,
                restore: None,
            }],
        };
        save(&p, &a).unwrap();
        assert_eq!(load(&p).unwrap().as_ref(), Some(&a));
        // One database rewritten alone.
        a.databases[0].tail_wait = true;
        save_database(&p, &a.databases[0]).unwrap();
        assert_eq!(load(&p).unwrap().as_ref(), Some(&a));
        a.databases.clear();
        save(&p, &a).unwrap();
        assert_eq!(load(&p).unwrap(), Some(a));
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(left.is_empty(), "no temporary file left: {left:?}");
        std::fs::write(&p, b"{not json").unwrap();
        assert!(load(&p).unwrap_err().contains("damaged"));
    }

    fn db(name: &str) -> PersistedDatabase {
        PersistedDatabase {
            state: DatabaseState::new(name),
            blobs: vec![],
            traffic_stopped: None,
            files_at_cutover: None,
            tail_wait: false,
            restore: None,
        }
    }

    #[test]
    fn names_made_safe_alike_get_their_own_files_and_a_missing_one_starts_afresh() {
        let dir = tempfile::tempdir().unwrap();
        let p = state_path(dir.path(), "x");
        let a = PersistedActivity {
            version: VERSION,
            activity: "x".into(),
            databases: vec![db("a b"), db("a_b"), db("we]ird 'name")],
        };
        save(&p, &a).unwrap();
        assert_eq!(
            std::fs::read_dir(databases_dir(&p)).unwrap().count(),
            3,
            "one file per database"
        );
        assert_eq!(load(&p).unwrap(), Some(a.clone()));
        std::fs::remove_file(databases_dir(&p).join(database_file("a_b"))).unwrap();
        let loaded = load(&p).unwrap().unwrap();
        let names: Vec<_> = loaded
            .databases
            .iter()
            .map(|d| d.state.name.as_str())
            .collect();
        assert_eq!(names, ["a b", "we]ird 'name"]);
    }

    #[test]
    fn every_write_has_its_own_temporary_file_and_a_killed_writer_s_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let p = state_path(dir.path(), "x");
        let (a, b) = (temporary_path(&p), temporary_path(&p));
        assert_ne!(a, b);
        assert!(
            a.to_string_lossy()
                .contains(&std::process::id().to_string())
        );
        // Temporaries left by a killed writer, beside the index and in the databases' folder; the
        // files of another activity in the same folder are not touched.
        std::fs::create_dir_all(databases_dir(&p)).unwrap();
        std::fs::write(&a, b"half").unwrap();
        std::fs::write(databases_dir(&p).join("Sales-1.json.77-0.tmp"), b"half").unwrap();
        let other = dir.path().join("y.json.77-0.tmp");
        std::fs::write(&other, b"another activity's").unwrap();
        remove_stale_temporaries(&p);
        assert!(!a.exists());
        assert_eq!(std::fs::read_dir(databases_dir(&p)).unwrap().count(), 0);
        assert!(other.exists());
    }

    #[cfg(unix)]
    #[test]
    fn state_files_are_0600_and_a_new_state_folder_0700() {
        let dir = tempfile::tempdir().unwrap();
        let p = state_path(&dir.path().join("state"), "x");
        let a = PersistedActivity {
            version: VERSION,
            activity: "x".into(),
            databases: vec![db("Sales")],
        };
        save(&p, &a).unwrap();
        let mode = crate::private_files::mode;
        assert_eq!(mode(&p), 0o600);
        assert_eq!(mode(&databases_dir(&p).join(database_file("Sales"))), 0o600);
        assert_eq!(mode(&dir.path().join("state")), 0o700);
        assert_eq!(mode(&databases_dir(&p)), 0o700);
    }

    #[test]
    fn a_failed_write_keeps_the_previous_state_and_says_so() {
        // The temporary file cannot be created (its name is too long for the file system, which
        // fails even for root, like a full disk would): the state file is left as it was.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(format!("{}.json", "a".repeat(245)));
        std::fs::write(&p, b"previous").unwrap();
        let e = write_atomic(&p, b"next").unwrap_err();
        assert!(e.contains("cannot write the state file"), "{e}");
        assert!(e.contains("previous state is kept"), "{e}");
        assert!(e.contains(&dir.path().display().to_string()), "{e}");
        assert_eq!(std::fs::read(&p).unwrap(), b"previous");
        // A state folder that cannot exist (under a regular file) names the folder and the fix.
        let file = dir.path().join("plain-file");
        std::fs::write(&file, b"").unwrap();
        let e = save_index(
            &state_path(&file.join("state"), "x"),
            "x",
            &[],
            &ActivityAbout::default(),
        )
        .unwrap_err();
        assert!(e.contains("cannot create the state folder"), "{e}");
        assert!(e.contains("--state-dir"), "{e}");
    }

    #[test]
    fn version_1_files_are_still_read_and_newer_versions_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = state_path(dir.path(), "old");
        let a = PersistedActivity {
            version: 1,
            activity: "old".into(),
            databases: vec![db("Sales")],
        };
        std::fs::write(&p, serde_json::to_vec_pretty(&a).unwrap()).unwrap();
        assert_eq!(load(&p).unwrap(), Some(a));
        std::fs::write(&p, br#"{"version":99,"activity":"x","databases":[]}"#).unwrap();
        assert!(load(&p).unwrap_err().contains("newer cutover"));
    }
}
