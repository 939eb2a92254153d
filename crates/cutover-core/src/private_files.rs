//! Files only their owner may read: the state files, logs and saved configurations hold no secret but
//! reveal servers, databases and paths. On Unix, files are created 0600 and the folders cutover
//! creates 0700 (a folder that already exists keeps its mode: it may be shared on purpose, like /tmp).
//! Elsewhere the platform's defaults apply.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// The mode of the files cutover creates (Unix).
pub const FILE_MODE: u32 = 0o600;
/// The mode of the folders cutover creates (Unix).
pub const DIR_MODE: u32 = 0o700;

/// Creates `dir` and its missing parents, each new one private.
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, DIR_MODE);
    b.create(dir)
}

/// Open options whose `create` makes a private file (the mode of an existing file is kept).
pub fn options() -> OpenOptions {
    let mut o = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, FILE_MODE);
    o
}

/// Creates (or truncates) a private file for writing.
pub fn create(path: &Path) -> io::Result<File> {
    options().write(true).create(true).truncate(true).open(path)
}

/// Opens a private file for appending, creating it if needed.
pub fn append(path: &Path) -> io::Result<File> {
    options().append(true).create(true).open(path)
}

/// Writes `bytes` to a new or truncated private file.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    create(path)?.write_all(bytes)
}

#[cfg(all(test, unix))]
pub(crate) fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(0)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn files_are_0600_and_new_folders_0700_while_an_existing_folder_keeps_its_mode() {
        let tmp = tempfile::tempdir().unwrap();
        let before = mode(tmp.path());
        let dir = tmp.path().join("a/b");
        create_dir_all(&dir).unwrap();
        assert_eq!(mode(&tmp.path().join("a")), 0o700);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(tmp.path()), before, "an existing folder is left alone");
        write(&dir.join("f"), b"x").unwrap();
        assert_eq!(mode(&dir.join("f")), 0o600);
        append(&dir.join("g")).unwrap();
        assert_eq!(mode(&dir.join("g")), 0o600);
    }
}
