//! Logs go to a daily file in the state folder's `logs/` (the TUI owns the terminal), created
//! private (0600, the folder 0700 on Unix: logs name servers, databases and paths). `RUST_LOG` sets
//! the level (default info). Nothing secret is logged: secrets are `Secret`s and SAS text is redacted.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Starts file logging; keep the guard alive for the whole run (it flushes on drop).
pub fn init(state_dir: &Path) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let dir = state_dir.join("logs");
    crate::private_files::create_dir_all(&dir).ok()?;
    let (writer, guard) = tracing_appender::non_blocking(DailyFile::new(&dir));
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .try_init()
        .ok()?;
    Some(guard)
}

/// `<dir>/cutover.log.YYYY-MM-DD` (UTC day), a new private file each day, appended to.
struct DailyFile {
    dir: PathBuf,
    open: Option<(time::Date, File)>,
}

impl DailyFile {
    fn new(dir: &Path) -> Self {
        DailyFile {
            dir: dir.to_path_buf(),
            open: None,
        }
    }

    fn path(&self, day: time::Date) -> PathBuf {
        self.dir.join(format!("cutover.log.{day}"))
    }

    fn file(&mut self) -> io::Result<&mut File> {
        let today = time::OffsetDateTime::now_utc().date();
        if self.open.as_ref().is_none_or(|(d, _)| *d != today) {
            let f = crate::private_files::append(&self.path(today))?;
            self.open = Some((today, f));
        }
        match &mut self.open {
            Some((_, f)) => Ok(f),
            None => Err(io::Error::other("the log file is not open")),
        }
    }
}

impl Write for DailyFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file()?.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.open {
            Some((_, f)) => f.flush(),
            None => Ok(()),
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn the_log_file_is_private_and_named_by_the_day() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mut w = DailyFile::new(dir.path());
        w.write_all(b"line 1\n").unwrap();
        w.write_all(b"line 2\n").unwrap();
        w.flush().unwrap();
        let day = time::OffsetDateTime::now_utc().date();
        let p = dir.path().join(format!("cutover.log.{day}"));
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "line 1\nline 2\n");
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
