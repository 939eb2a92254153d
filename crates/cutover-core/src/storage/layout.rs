//! The container layout LRS accepts: one flat folder per database, `<container>/<db-folder>/<file>`.
//!
//! Container and folder names must satisfy Azure's rules and LRS's own (no "backup"/"backups");
//! every error suggests a name that passes. Local backup trees (such as Ola Hallengren's
//! `<db>/FULL|DIFF|LOG/` layout) are flattened by [`Layout`], which gives each local file a blob
//! name in the database folder, disambiguating equal file names, and keeps the names it gave so a
//! resumed upload maps the same file to the same blob.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::catalog::findings::{lrs_refuses_name, lrs_safe_name};

/// Azure's limits on a container name's length.
const CONTAINER_MIN: usize = 3;
const CONTAINER_MAX: usize = 63;

/// Errors about container, folder and blob names. Each says what to use instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    /// A container name Azure refuses.
    #[error("container name '{name}' is not valid: {reason}; use '{suggestion}' instead")]
    InvalidContainerName {
        /// The name given.
        name: String,
        /// Which rule it breaks.
        reason: String,
        /// A valid name derived from it.
        suggestion: String,
    },
    /// A container name LRS refuses.
    #[error(
        "container name '{name}' contains \"backup\", which LRS refuses; use '{suggestion}' instead"
    )]
    ContainerNameRefusedByLrs {
        /// The name given.
        name: String,
        /// A name LRS accepts.
        suggestion: String,
    },
    /// An empty database name.
    #[error("the database name is empty: give the name of the database the backups belong to")]
    EmptyDatabaseName,
    /// A database folder name LRS refuses.
    #[error(
        "folder name '{name}' for database '{database}' contains \"backup\", which LRS refuses; \
         use '{suggestion}' instead (e.g. --folder {suggestion})"
    )]
    FolderNameRefusedByLrs {
        /// The database.
        database: String,
        /// The folder name that would have been used.
        name: String,
        /// A name LRS accepts.
        suggestion: String,
    },
    /// A folder name with characters blob names cannot carry safely.
    #[error("folder name '{name}' is not usable: {reason}; use '{suggestion}' instead")]
    InvalidFolderName {
        /// The name given.
        name: String,
        /// What is wrong.
        reason: String,
        /// A usable name.
        suggestion: String,
    },
    /// A relative path that climbs out of the database's source folder, is absolute, or is empty.
    #[error("'{relative}' is not a path inside the database's backup folder: {reason}")]
    InvalidRelativePath {
        /// The relative path given.
        relative: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A local path that is not absolute (a resumed run from another directory would not match).
    #[error("'{0}' is not an absolute path: give local files as absolute paths")]
    LocalPathNotAbsolute(PathBuf),
    /// A saved mapping that does not fit the folder or contradicts itself.
    #[error(
        "the saved blob mapping is inconsistent: {0}; delete the saved upload state to start over"
    )]
    InconsistentMapping(String),
}

/// An absolute local path, or a file of an SMB share in its canonical form (`smb://host/share/...`,
/// `backup_folder::SmbAddress::to_path`): both name the same file from any working directory.
fn is_full_path(p: &Path) -> bool {
    p.is_absolute() || p.to_str().is_some_and(|s| s.starts_with("smb://"))
}

/// Checks a container name against Azure's rules only: 3-63 characters, lowercase letters, digits
/// and single hyphens, starting and ending with a letter or digit.
pub fn validate_azure_container_name(name: &str) -> Result<(), LayoutError> {
    let bad = |reason: String| LayoutError::InvalidContainerName {
        name: name.to_string(),
        reason,
        suggestion: suggest_container_name(name),
    };
    let len = name.chars().count();
    if !(CONTAINER_MIN..=CONTAINER_MAX).contains(&len) {
        return Err(bad(format!(
            "it has {len} characters, Azure needs {CONTAINER_MIN} to {CONTAINER_MAX}"
        )));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        let reason = if c.is_ascii_uppercase() {
            format!("'{c}' is uppercase, Azure allows only lowercase letters, digits and '-'")
        } else {
            format!("'{c}' is not allowed, only lowercase letters, digits and '-'")
        };
        return Err(bad(reason));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err(bad("it must start and end with a letter or digit".into()));
    }
    if name.contains("--") {
        return Err(bad("hyphens must not be consecutive".into()));
    }
    Ok(())
}

/// Checks a container name against Azure's rules and LRS's (no "backup"/"backups", any case).
/// The error suggests a name that passes both.
pub fn validate_container_name(name: &str) -> Result<(), LayoutError> {
    validate_azure_container_name(name)?;
    if lrs_refuses_name(name) {
        return Err(LayoutError::ContainerNameRefusedByLrs {
            name: name.to_string(),
            suggestion: suggest_container_name(name),
        });
    }
    Ok(())
}

/// A container name that passes [`validate_container_name`], derived from `name`: "backup(s)"
/// becomes "bak(s)", letters are lowercased, other characters become single hyphens, and the
/// result is trimmed or padded to Azure's length.
pub fn suggest_container_name(name: &str) -> String {
    let safe = lrs_safe_name(name).to_ascii_lowercase();
    let mut out = String::with_capacity(safe.len());
    for c in safe.chars() {
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() {
            c
        } else {
            '-'
        };
        if c == '-' && (out.is_empty() || out.ends_with('-')) {
            continue;
        }
        out.push(c);
    }
    out.truncate(CONTAINER_MAX);
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        return "lrs-migration".to_string();
    }
    if out.len() < CONTAINER_MIN {
        out.push_str("-lrs");
    }
    // Replacing "backup" cannot create a new one (its replacement and '-' break the word), but
    // make sure anyway rather than hand out a name LRS refuses.
    while lrs_refuses_name(&out) {
        out = out.replace("backup", "bak");
    }
    out
}

/// The blob folder for database `db`: the name itself where possible, with '/', '\\', control
/// characters and `? # % "` replaced by '-' and trailing dots by '_'. Refuses an empty name, and a
/// name containing "backup" (LRS refuses such folders), suggesting an alternative.
pub fn database_folder_name(db: &str) -> Result<String, LayoutError> {
    if db.trim().is_empty() {
        return Err(LayoutError::EmptyDatabaseName);
    }
    let folder = sanitize_folder(db);
    if lrs_refuses_name(&folder) {
        return Err(LayoutError::FolderNameRefusedByLrs {
            database: db.to_string(),
            name: folder,
            suggestion: suggest_folder_name(db),
        });
    }
    Ok(folder)
}

/// A folder name for database `db` that [`database_folder_name`] and [`validate_folder_name`]
/// accept: as that function, with "backup(s)" replaced by "bak(s)"; "db" for an empty name.
pub fn suggest_folder_name(db: &str) -> String {
    if db.trim().is_empty() {
        return "db".to_string();
    }
    let mut folder = sanitize_folder(&lrs_safe_name(db));
    while lrs_refuses_name(&folder) {
        folder = sanitize_folder(&lrs_safe_name(&folder));
    }
    folder
}

/// Checks a folder name given directly (e.g. by the user): non-empty, no "backup", and unchanged
/// by the clean-up [`database_folder_name`] applies.
pub fn validate_folder_name(folder: &str) -> Result<(), LayoutError> {
    let suggestion = suggest_folder_name(folder);
    if folder.trim().is_empty() {
        return Err(LayoutError::InvalidFolderName {
            name: folder.to_string(),
            reason: "it is empty".into(),
            suggestion,
        });
    }
    if lrs_refuses_name(folder) {
        return Err(LayoutError::FolderNameRefusedByLrs {
            database: folder.to_string(),
            name: folder.to_string(),
            suggestion,
        });
    }
    if sanitize_folder(folder) != folder {
        return Err(LayoutError::InvalidFolderName {
            name: folder.to_string(),
            reason: "it holds '/', '\\', a control character, one of ? # % \" or ends with '.'"
                .into(),
            suggestion,
        });
    }
    Ok(())
}

fn sanitize_folder(name: &str) -> String {
    let replaced: String = name
        .chars()
        .map(|c| {
            if c.is_control() || "/\\?#%\"".contains(c) {
                '-'
            } else {
                c
            }
        })
        .collect();
    replace_trailing_dots(replaced)
}

/// Blob names (and their segments) must not end with '.': replace each trailing dot with '_'.
fn replace_trailing_dots(mut s: String) -> String {
    let dots = s.len() - s.trim_end_matches('.').len();
    if dots > 0 {
        s.truncate(s.len() - dots);
        s.push_str(&"_".repeat(dots));
    }
    s
}

/// A file name made safe for a blob and for LRS's `lastBackupName` (ASCII, no newline): control
/// characters, non-ASCII characters and `\ ? # % "` become '_', and so do trailing dots.
fn sanitize_file_name(name: &str) -> String {
    let replaced: String = name
        .chars()
        .map(|c| {
            if c.is_control() || !c.is_ascii() || "\\?#%\"".contains(c) {
                '_'
            } else {
                c
            }
        })
        .collect();
    replace_trailing_dots(replaced)
}

/// The components of a relative path ('/' or '\\' separated), without empty and "." parts.
fn relative_components(relative: &str) -> Result<Vec<&str>, LayoutError> {
    let bad = |reason| LayoutError::InvalidRelativePath {
        relative: relative.to_string(),
        reason,
    };
    if relative.starts_with('/') || relative.starts_with('\\') || relative.get(1..2) == Some(":") {
        return Err(bad(
            "it is absolute; give the path relative to the database's folder",
        ));
    }
    let parts: Vec<&str> = relative
        .split(['/', '\\'])
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.contains(&"..") {
        return Err(bad("'..' climbs out of the folder"));
    }
    if parts.is_empty() {
        return Err(bad("it names no file"));
    }
    Ok(parts)
}

/// Splits "x.bak" into ("x", ".bak"); a name without an extension (or a dot file) has none.
fn split_extension(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(i) if i > 0 => name.split_at(i),
        _ => (name, ""),
    }
}

/// The blob names of one database's files: `<folder>/<flat-name>`, flat names unique
/// (case-insensitively, so the layout also survives a case-insensitive copy) and stable once given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    folder: String,
    /// Local file -> flat name.
    by_local: BTreeMap<PathBuf, String>,
    /// Lowercased flat name -> local file.
    taken: HashMap<String, PathBuf>,
}

impl Layout {
    /// An empty layout for the database folder `folder`, as [`database_folder_name`] or
    /// [`suggest_folder_name`] give it. A folder that [`validate_folder_name`] refuses is replaced
    /// by [`suggest_folder_name`]`(folder)`, so blob names are always acceptable to LRS; see
    /// [`Layout::folder`] for the one used, or [`Layout::try_new`] to get an error instead.
    pub fn new(folder: &str) -> Self {
        let folder = match validate_folder_name(folder) {
            Ok(()) => folder.to_string(),
            Err(_) => suggest_folder_name(folder),
        };
        Layout {
            folder,
            by_local: BTreeMap::new(),
            taken: HashMap::new(),
        }
    }

    /// An empty layout for the folder `folder`, refused if [`validate_folder_name`] refuses it.
    pub fn try_new(folder: &str) -> Result<Self, LayoutError> {
        validate_folder_name(folder)?;
        Ok(Layout::new(folder))
    }

    /// Restores a saved mapping of local files to blob names (`<folder>/<flat-name>`, as
    /// [`Layout::entries`] gives them). Refuses blob names outside `folder`, nested names, and
    /// two files sharing a name.
    pub fn from_existing<I, P, S>(folder: &str, pairs: I) -> Result<Self, LayoutError>
    where
        I: IntoIterator<Item = (P, S)>,
        P: Into<PathBuf>,
        S: AsRef<str>,
    {
        let mut layout = Layout::try_new(folder)?;
        for (local, blob) in pairs {
            let local: PathBuf = local.into();
            let blob = blob.as_ref();
            let flat = blob
                .strip_prefix(folder)
                .and_then(|rest| rest.strip_prefix('/'))
                .ok_or_else(|| {
                    LayoutError::InconsistentMapping(format!(
                        "blob '{blob}' is not in the folder '{folder}'"
                    ))
                })?;
            if flat.is_empty() || flat.contains('/') || sanitize_file_name(flat) != flat {
                return Err(LayoutError::InconsistentMapping(format!(
                    "blob '{blob}' is not a flat file name in '{folder}'"
                )));
            }
            if !is_full_path(&local) {
                return Err(LayoutError::LocalPathNotAbsolute(local));
            }
            if let Some(previous) = layout.by_local.get(&local) {
                return Err(LayoutError::InconsistentMapping(format!(
                    "'{}' is mapped twice, to '{folder}/{previous}' and '{blob}'",
                    local.display()
                )));
            }
            if let Some(other) = layout.taken.get(&flat.to_lowercase()) {
                return Err(LayoutError::InconsistentMapping(format!(
                    "'{}' and '{}' both map to '{blob}'",
                    other.display(),
                    local.display()
                )));
            }
            layout.insert(local, flat.to_string());
        }
        Ok(layout)
    }

    /// The database folder.
    pub fn folder(&self) -> &str {
        &self.folder
    }

    /// The blob name of `local`, assigning one if it has none: the file's own name, or, if a
    /// different file already has that name, one derived from `relative` (its path inside the
    /// database's source folder, e.g. `LOG/x.bak` gives `LOG_x.bak`, then `LOG_x_2.bak`...).
    /// A file keeps the name it was given first. Refuses `..`, absolute or empty relative paths
    /// and relative local paths.
    pub fn assign(&mut self, local: &Path, relative: &str) -> Result<String, LayoutError> {
        if let Some(flat) = self.by_local.get(local) {
            return Ok(self.blob_of(flat));
        }
        if !is_full_path(local) {
            return Err(LayoutError::LocalPathNotAbsolute(local.to_path_buf()));
        }
        let parts = relative_components(relative)?;
        let file = parts.last().copied().unwrap_or_default();
        let mut candidates = vec![sanitize_file_name(file)];
        if parts.len() > 1 {
            candidates.push(sanitize_file_name(&parts.join("_")));
        }
        let flat = match candidates.iter().find(|c| !self.is_taken(c)) {
            Some(c) => c.clone(),
            None => {
                let base = candidates.last().cloned().unwrap_or_default();
                let (stem, ext) = split_extension(&base);
                (2u64..)
                    .map(|n| format!("{stem}_{n}{ext}"))
                    .find(|c| !self.is_taken(c))
                    .unwrap_or_default()
            }
        };
        self.insert(local.to_path_buf(), flat.clone());
        Ok(self.blob_of(&flat))
    }

    /// The blob name already given to `local`, if any.
    pub fn blob_name(&self, local: &Path) -> Option<String> {
        self.by_local.get(local).map(|f| self.blob_of(f))
    }

    /// The local file behind a blob name (`<folder>/<flat-name>` or the flat name alone), if any:
    /// maps file names LRS reports back to local files.
    pub fn local_for(&self, blob: &str) -> Option<&Path> {
        let flat = blob
            .strip_prefix(self.folder.as_str())
            .and_then(|r| r.strip_prefix('/'))
            .unwrap_or(blob);
        let local = self.taken.get(&flat.to_lowercase())?;
        (self.by_local.get(local).map(String::as_str) == Some(flat)).then_some(local.as_path())
    }

    /// Every (local file, blob name) pair, ordered by local path: what to save to resume.
    pub fn entries(&self) -> Vec<(PathBuf, String)> {
        self.by_local
            .iter()
            .map(|(l, f)| (l.clone(), self.blob_of(f)))
            .collect()
    }

    /// How many files have a name.
    pub fn len(&self) -> usize {
        self.by_local.len()
    }

    /// True if no file has a name yet.
    pub fn is_empty(&self) -> bool {
        self.by_local.is_empty()
    }

    fn blob_of(&self, flat: &str) -> String {
        format!("{}/{flat}", self.folder)
    }

    fn is_taken(&self, flat: &str) -> bool {
        self.taken.contains_key(&flat.to_lowercase())
    }

    fn insert(&mut self, local: PathBuf, flat: String) {
        self.taken.insert(flat.to_lowercase(), local.clone());
        self.by_local.insert(local, flat);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn abs(p: &str) -> PathBuf {
        if cfg!(windows) {
            PathBuf::from(format!("C:\\src{}", p.replace('/', "\\")))
        } else {
            PathBuf::from(format!("/src{p}"))
        }
    }

    // ---- containers

    #[test]
    fn azure_container_rules() {
        for ok in ["abc", "sql-migration-01", "a1b", &"a".repeat(63)] {
            assert_eq!(validate_container_name(ok), Ok(()), "{ok}");
        }
        for (bad, reason) in [
            ("ab", "2 characters"),
            (&"a".repeat(64) as &str, "64 characters"),
            ("Sql", "'S' is uppercase"),
            ("sql_db", "'_' is not allowed"),
            ("-sql", "start and end"),
            ("sql-", "start and end"),
            ("sql--db", "consecutive"),
            ("sqlé", "'é' is not allowed"),
        ] {
            let err = validate_container_name(bad).unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains(reason), "{bad}: {msg}");
            assert!(msg.contains(&format!("'{bad}'")), "{msg}");
            let LayoutError::InvalidContainerName { suggestion, .. } = err else {
                panic!("{bad}: {err:?}");
            };
            assert_eq!(
                validate_container_name(&suggestion),
                Ok(()),
                "{bad} -> {suggestion}"
            );
        }
    }

    #[test]
    fn lrs_container_rule() {
        let err = validate_container_name("sqlbackups").unwrap_err();
        assert_eq!(
            err,
            LayoutError::ContainerNameRefusedByLrs {
                name: "sqlbackups".into(),
                suggestion: "sqlbaks".into()
            }
        );
        assert!(err.to_string().contains("use 'sqlbaks'"));
        assert!(matches!(
            validate_container_name("my-backup-1"),
            Err(LayoutError::ContainerNameRefusedByLrs { ref suggestion, .. }) if suggestion == "my-bak-1"
        ));
        // Azure's rule comes first: the suggestion fixes both at once.
        let err = validate_container_name("SQL_Backups").unwrap_err();
        assert!(matches!(
            err,
            LayoutError::InvalidContainerName { ref suggestion, .. } if suggestion == "sql-baks"
        ));
        // Azure alone does not mind.
        assert_eq!(validate_azure_container_name("backups"), Ok(()));
    }

    #[test]
    fn container_suggestions() {
        assert_eq!(suggest_container_name("sqlbackups"), "sqlbaks");
        assert_eq!(suggest_container_name("My Backups!"), "my-baks");
        assert_eq!(suggest_container_name(""), "lrs-migration");
        assert_eq!(suggest_container_name("--"), "lrs-migration");
        assert_eq!(suggest_container_name("a"), "a-lrs");
        assert_eq!(suggest_container_name("backup"), "bak");
        assert_eq!(suggest_container_name(&"x".repeat(70)).len(), 63);
        assert_eq!(
            suggest_container_name(&format!("{}-y", "x".repeat(62))),
            "x".repeat(62)
        );
    }

    proptest! {
        #[test]
        fn container_suggestion_always_valid(name in "\\PC{0,80}") {
            let s = suggest_container_name(&name);
            prop_assert_eq!(validate_container_name(&s), Ok(()), "{:?} -> {:?}", name, s);
        }

        #[test]
        fn folder_suggestion_always_accepted(name in "\\PC{0,40}|[a-zA-Z./\\\\ ]{0,20}") {
            let s = suggest_folder_name(&name);
            prop_assert_eq!(database_folder_name(&s), Ok(s.clone()));
            prop_assert_eq!(validate_folder_name(&s), Ok(()));
            prop_assert!(!s.is_empty() && !s.ends_with('.') && !s.contains('/'));
        }

        #[test]
        fn valid_names_suggest_themselves(name in "[a-z0-9]{3,20}") {
            prop_assume!(!name.contains("backup"));
            prop_assert_eq!(suggest_container_name(&name), name);
        }
    }

    // ---- database folders

    #[test]
    fn folder_keeps_the_name_where_possible() {
        assert_eq!(database_folder_name("Sales").unwrap(), "Sales");
        assert_eq!(
            database_folder_name("Sales DB (EU)").unwrap(),
            "Sales DB (EU)"
        );
        assert_eq!(database_folder_name("Ventes_2024").unwrap(), "Ventes_2024");
        assert_eq!(database_folder_name("a/b\\c").unwrap(), "a-b-c");
        assert_eq!(database_folder_name("x\ny\t").unwrap(), "x-y-");
        assert_eq!(database_folder_name("db..").unwrap(), "db__");
        assert_eq!(database_folder_name("what?#%\"").unwrap(), "what----");
        assert_eq!(database_folder_name("Ünïcode").unwrap(), "Ünïcode");
    }

    #[test]
    fn folder_refusals() {
        assert_eq!(
            database_folder_name(""),
            Err(LayoutError::EmptyDatabaseName)
        );
        assert_eq!(
            database_folder_name("  "),
            Err(LayoutError::EmptyDatabaseName)
        );
        let err = database_folder_name("BackupTest").unwrap_err();
        assert_eq!(
            err,
            LayoutError::FolderNameRefusedByLrs {
                database: "BackupTest".into(),
                name: "BackupTest".into(),
                suggestion: "bakTest".into()
            }
        );
        assert!(err.to_string().contains("use 'bakTest'"), "{err}");
        assert_eq!(suggest_folder_name("Sales/Backups."), "Sales-baks_");
        assert_eq!(suggest_folder_name(""), "db");
        assert_eq!(suggest_folder_name("Sales"), "Sales");
    }

    #[test]
    fn folder_validation() {
        assert_eq!(validate_folder_name("Sales"), Ok(()));
        assert!(matches!(
            validate_folder_name("a/b"),
            Err(LayoutError::InvalidFolderName { ref suggestion, .. }) if suggestion == "a-b"
        ));
        assert!(matches!(
            validate_folder_name("x."),
            Err(LayoutError::InvalidFolderName { .. })
        ));
        assert!(matches!(
            validate_folder_name(""),
            Err(LayoutError::InvalidFolderName { .. })
        ));
        assert!(matches!(
            validate_folder_name("mybackups"),
            Err(LayoutError::FolderNameRefusedByLrs { ref suggestion, .. }) if suggestion == "mybaks"
        ));
        assert!(Layout::try_new("db_backup").is_err());
        assert!(Layout::try_new("a/b").is_err());
        assert_eq!(Layout::try_new("Sales").unwrap().folder(), "Sales");
        // The infallible constructor falls back on the suggestion.
        assert_eq!(Layout::new("db_backup").folder(), "db_bak");
        assert_eq!(Layout::new("a/b.").folder(), "a-b_");
        assert_eq!(Layout::new("").folder(), "db");
    }

    // ---- flattening

    #[test]
    fn ola_layout_is_flattened() {
        let mut l = Layout::new("Sales");
        let full = l
            .assign(
                &abs("/Sales/FULL/SRV_Sales_FULL_20240101_000000.bak"),
                "FULL/SRV_Sales_FULL_20240101_000000.bak",
            )
            .unwrap();
        assert_eq!(full, "Sales/SRV_Sales_FULL_20240101_000000.bak");
        let log = l
            .assign(
                &abs("/Sales/LOG/SRV_Sales_LOG_20240101_001500.trn"),
                "LOG/SRV_Sales_LOG_20240101_001500.trn",
            )
            .unwrap();
        assert_eq!(log, "Sales/SRV_Sales_LOG_20240101_001500.trn");
        assert_eq!(l.len(), 2);
        assert!(!l.is_empty());
        assert_eq!(l.folder(), "Sales");
    }

    #[test]
    fn equal_names_are_disambiguated_from_the_path() {
        let mut l = Layout::new("db");
        assert_eq!(
            l.assign(&abs("/FULL/x.bak"), "FULL/x.bak").unwrap(),
            "db/x.bak"
        );
        assert_eq!(
            l.assign(&abs("/LOG/x.bak"), "LOG/x.bak").unwrap(),
            "db/LOG_x.bak"
        );
        // A third "x.bak" at the top: its own name and path are both "x.bak".
        assert_eq!(l.assign(&abs("/x.bak"), "x.bak").unwrap(), "db/x_2.bak");
        // Another LOG/x.bak from elsewhere (case differs: still a collision).
        assert_eq!(
            l.assign(&abs("/other/LOG/X.bak"), "LOG/X.bak").unwrap(),
            "db/LOG_X_2.bak"
        );
        assert_eq!(
            l.assign(&abs("/more/LOG/x.bak"), "LOG/x.bak").unwrap(),
            "db/LOG_x_3.bak"
        );
        // Names without extension.
        assert_eq!(
            l.assign(&abs("/a/README"), "a/README").unwrap(),
            "db/README"
        );
        assert_eq!(
            l.assign(&abs("/b/README"), "b/README").unwrap(),
            "db/b_README"
        );
        assert_eq!(
            l.assign(&abs("/c/b/README"), "b/README").unwrap(),
            "db/b_README_2"
        );
        let names: Vec<String> = l.entries().into_iter().map(|(_, b)| b).collect();
        let mut unique = names.clone();
        unique.sort_by_key(|s| s.to_lowercase());
        unique.dedup_by_key(|s| s.to_lowercase());
        assert_eq!(unique.len(), names.len(), "{names:?}");
    }

    #[test]
    fn assignment_is_stable() {
        let mut l = Layout::new("db");
        let a = abs("/FULL/x.bak");
        let b = abs("/LOG/x.bak");
        assert_eq!(l.assign(&a, "FULL/x.bak").unwrap(), "db/x.bak");
        assert_eq!(l.assign(&b, "LOG/x.bak").unwrap(), "db/LOG_x.bak");
        // Asked again (even with another relative path), the same names come back.
        assert_eq!(l.assign(&b, "LOG/x.bak").unwrap(), "db/LOG_x.bak");
        assert_eq!(l.assign(&a, "elsewhere/y.bak").unwrap(), "db/x.bak");
        assert_eq!(l.blob_name(&b).as_deref(), Some("db/LOG_x.bak"));
        assert_eq!(l.blob_name(&abs("/none")), None);

        // A resumed run restores the mapping and assigns new files around it, in any order.
        let saved = l.entries();
        let mut resumed = Layout::from_existing("db", saved.clone()).unwrap();
        assert_eq!(resumed, l);
        assert_eq!(resumed.assign(&b, "LOG/x.bak").unwrap(), "db/LOG_x.bak");
        assert_eq!(
            resumed.assign(&abs("/DIFF/x.bak"), "DIFF/x.bak").unwrap(),
            "db/DIFF_x.bak"
        );
        assert_eq!(resumed.assign(&a, "FULL/x.bak").unwrap(), "db/x.bak");
        assert_eq!(resumed.entries().len(), 3);
    }

    #[test]
    fn local_for_maps_blob_names_back() {
        let mut l = Layout::new("db");
        l.assign(&abs("/FULL/x.bak"), "FULL/x.bak").unwrap();
        l.assign(&abs("/LOG/x.bak"), "LOG/x.bak").unwrap();
        assert_eq!(
            l.local_for("db/LOG_x.bak"),
            Some(abs("/LOG/x.bak").as_path())
        );
        assert_eq!(l.local_for("x.bak"), Some(abs("/FULL/x.bak").as_path()));
        assert_eq!(
            l.local_for("db/X.BAK"),
            None,
            "blob names are case-sensitive"
        );
        assert_eq!(l.local_for("db/none.bak"), None);
    }

    #[test]
    fn file_part_may_say_backup_and_is_made_safe() {
        let mut l = Layout::new("db");
        assert_eq!(
            l.assign(&abs("/db_backup_1.bak"), "db_backup_1.bak")
                .unwrap(),
            "db/db_backup_1.bak"
        );
        assert_eq!(l.assign(&abs("/é.bak"), "é.bak").unwrap(), "db/_.bak");
        assert_eq!(
            l.assign(&abs("/a?b#.trn"), "a?b#.trn").unwrap(),
            "db/a_b_.trn"
        );
        assert_eq!(l.assign(&abs("/end."), "end.").unwrap(), "db/end_");
        assert_eq!(l.assign(&abs("/w/x.bak"), "w\\x.bak").unwrap(), "db/x.bak");
        assert_eq!(l.assign(&abs("/y.bak"), "./y.bak").unwrap(), "db/y.bak");
    }

    #[test]
    fn bad_relative_paths_are_refused() {
        let mut l = Layout::new("db");
        for (rel, reason) in [
            ("../x.bak", "climbs"),
            ("LOG/../../x.bak", "climbs"),
            ("..\\x.bak", "climbs"),
            ("", "names no file"),
            ("./", "names no file"),
            ("/abs/x.bak", "absolute"),
            ("C:\\x.bak", "absolute"),
        ] {
            let err = l.assign(&abs("/q.bak"), rel).unwrap_err();
            assert!(err.to_string().contains(reason), "{rel}: {err}");
        }
        assert!(l.is_empty(), "nothing assigned on error");
        // A trailing separator leaves the last component as the file name.
        assert_eq!(l.assign(&abs("/LOG"), "LOG/").unwrap(), "db/LOG");
        assert!(matches!(
            l.assign(Path::new("relative/x.bak"), "x.bak"),
            Err(LayoutError::LocalPathNotAbsolute(_))
        ));
    }

    #[test]
    fn from_existing_refuses_inconsistent_mappings() {
        let a = abs("/a.bak");
        let b = abs("/b.bak");
        assert!(matches!(
            Layout::from_existing("db", [(a.clone(), "other/a.bak")]),
            Err(LayoutError::InconsistentMapping(_))
        ));
        assert!(matches!(
            Layout::from_existing("db", [(a.clone(), "db/sub/a.bak")]),
            Err(LayoutError::InconsistentMapping(_))
        ));
        assert!(matches!(
            Layout::from_existing("db", [(a.clone(), "db/")]),
            Err(LayoutError::InconsistentMapping(_))
        ));
        assert!(matches!(
            Layout::from_existing("db", [(a.clone(), "db/a.bak"), (b.clone(), "db/A.bak")]),
            Err(LayoutError::InconsistentMapping(_))
        ));
        assert!(matches!(
            Layout::from_existing("db", [(a.clone(), "db/a.bak"), (a.clone(), "db/b.bak")]),
            Err(LayoutError::InconsistentMapping(_))
        ));
        assert!(matches!(
            Layout::from_existing("db", [(PathBuf::from("rel.bak"), "db/rel.bak")]),
            Err(LayoutError::LocalPathNotAbsolute(_))
        ));
        assert!(matches!(
            Layout::from_existing("backups", Vec::<(PathBuf, String)>::new()),
            Err(LayoutError::FolderNameRefusedByLrs { .. })
        ));
        let l = Layout::from_existing("db", [(a.clone(), "db/a.bak")]).unwrap();
        assert_eq!(l.blob_name(&a).as_deref(), Some("db/a.bak"));
    }
}
