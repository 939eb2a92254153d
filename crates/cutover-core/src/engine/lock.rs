//! One owner per activity: an exclusive OS advisory lock on `<activity>.lock` beside the state file,
//! held as long as the [`ActivityLock`] lives and released by the OS when the process ends (a crash
//! or kill -9 too: nothing stale is left to clean up). The lock file says who holds it (pid, host,
//! since when), so a second owner is refused by name instead of racing the first one.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Who holds an activity (written into its lock file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    pub host: String,
    /// When it took the lock (Unix seconds, UTC).
    pub since_unix: i64,
    pub activity: String,
}

impl Holder {
    fn me(activity: &str) -> Holder {
        Holder {
            pid: std::process::id(),
            host: host_name(),
            since_unix: time::OffsetDateTime::now_utc().unix_timestamp(),
            activity: activity.to_string(),
        }
    }

    /// `pid 4242 on host db-jump-1 since 2026-12-02 18:40:03 UTC`
    pub fn describe(&self) -> String {
        let since = time::OffsetDateTime::from_unix_timestamp(self.since_unix)
            .ok()
            .and_then(|t| {
                t.format(time::macros::format_description!(
                    "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
                ))
                .ok()
            })
            .unwrap_or_else(|| format!("unix time {}", self.since_unix));
        format!("pid {} on host {} since {since}", self.pid, self.host)
    }
}

/// The exclusive ownership of an activity; dropping it (or the process ending) releases it.
#[derive(Debug)]
pub struct ActivityLock {
    _file: File,
    path: PathBuf,
}

impl ActivityLock {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// `<dir>/<activity>.lock` for the state file `<dir>/<activity>.json`.
pub fn lock_path(state_file: &Path) -> PathBuf {
    state_file.with_extension("lock")
}

/// Takes the activity's lock, or says who holds it and what to do.
pub fn acquire(state_file: &Path, activity: &str) -> Result<ActivityLock, String> {
    let path = lock_path(state_file);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::private_files::create_dir_all(dir).map_err(|e| {
            format!(
                "{}: cannot create the state folder: {e}; choose a folder you can write (--state-dir or [migration] state_dir)",
                dir.display()
            )
        })?;
    }
    let mut file = crate::private_files::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| {
            format!(
                "{}: cannot open the activity's lock file: {e}; check that the state folder is writable",
                path.display()
            )
        })?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            let who = serde_json::from_str::<Holder>(&text)
                .map(|h| h.describe())
                .unwrap_or_else(|_| "another process (it has not written its name yet)".into());
            return Err(format!(
                "activity '{activity}' is already running: {who} holds {}. One activity has one owner: stop that process first (or watch it), or give this run another activity name",
                path.display()
            ));
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(format!(
                "{}: cannot lock the activity's lock file: {e}; use a state folder on a local disk (--state-dir or [migration] state_dir)",
                path.display()
            ));
        }
    }
    let holder = Holder::me(activity);
    let write = |f: &mut File| -> std::io::Result<()> {
        f.set_len(0)?;
        f.rewind()?;
        f.write_all(&serde_json::to_vec(&holder).unwrap_or_default())?;
        f.sync_all()
    };
    write(&mut file).map_err(|e| {
        format!(
            "{}: cannot write the activity's lock file: {e}; check the free space of the state folder",
            path.display()
        )
    })?;
    Ok(ActivityLock { _file: file, path })
}

/// This machine's name, for the lock file (best effort: the name is informative only).
fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_owner_is_refused_with_the_holder_and_may_take_it_once_released() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state/prod.json");
        let first = acquire(&state, "prod").unwrap();
        assert_eq!(first.path(), dir.path().join("state/prod.lock"));
        let e = acquire(&state, "prod").unwrap_err();
        assert!(e.contains(&format!("pid {}", std::process::id())), "{e}");
        assert!(e.contains(&host_name()), "{e}");
        assert!(e.contains(" UTC"), "{e}");
        assert!(e.contains("already running"), "{e}");
        // Another activity in the same folder is another lock.
        let other = acquire(&dir.path().join("state/test.json"), "test");
        assert!(other.is_ok());
        drop(first);
        assert!(acquire(&state, "prod").is_ok(), "released on drop");
    }

    #[cfg(unix)]
    #[test]
    fn the_lock_file_and_a_new_state_folder_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("new/prod.json");
        let _l = acquire(&state, "prod").unwrap();
        assert_eq!(crate::private_files::mode(&lock_path(&state)), 0o600);
        assert_eq!(crate::private_files::mode(&dir.path().join("new")), 0o700);
    }
}
