//! Re-scanning a backup folder cheaply: only new or changed files (size or modification time) have
//! their headers read again; an unchanged listing costs one directory walk and no planning at all.
//! This keeps an engine watching 100 folders of 1,000 files nearly idle between backups.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::backup::BackupSet;
use crate::catalog::{self, CheckReport, Scan, ScanOptions, ScannedFile};

type Stat = (u64, Option<SystemTime>);

/// What the last scan saw.
#[derive(Debug, Default)]
pub struct FolderCache {
    listing: Vec<(PathBuf, Stat)>,
    sets: HashMap<PathBuf, (Stat, Vec<BackupSet>)>,
}

fn stat(p: &Path) -> Option<Stat> {
    let m = std::fs::metadata(p).ok()?;
    Some((m.len(), m.modified().ok()))
}

impl FolderCache {
    /// Scans `root`; `Ok(None)` when nothing changed since the last call.
    pub fn rescan(&mut self, root: &Path) -> Result<Option<CheckReport>, String> {
        let paths = catalog::scan::list_files(root).map_err(|e| e.to_string())?;
        let listing: Vec<(PathBuf, Stat)> = paths
            .iter()
            .filter_map(|p| stat(p).map(|s| (p.clone(), s)))
            .collect();
        if listing == self.listing && !listing.is_empty() {
            return Ok(None);
        }
        let changed: Vec<PathBuf> = listing
            .iter()
            .filter(|(p, s)| self.sets.get(p).is_none_or(|(cs, _)| cs != s))
            .map(|(p, _)| p.clone())
            .collect();
        let fresh = catalog::scan::read_all(root, &changed, &ScanOptions::default());
        let mut by_path: HashMap<PathBuf, ScannedFile> =
            fresh.into_iter().map(|f| (f.path.clone(), f)).collect();
        let mut files = Vec::with_capacity(listing.len());
        let mut sets = HashMap::with_capacity(listing.len());
        for (p, s) in &listing {
            let f = match by_path.remove(p) {
                Some(f) => f,
                None => match self.sets.remove(p) {
                    Some((cs, v)) => ScannedFile {
                        path: p.clone(),
                        relative: catalog::scan::relative(root, p),
                        size: cs.0,
                        modified: cs.1,
                        sets: Ok(v),
                        changing: false,
                    },
                    None => continue,
                },
            };
            // Only complete, readable, settled headers are remembered; the rest are read again.
            if let (Ok(v), false) = (&f.sets, f.changing) {
                sets.insert(p.clone(), (*s, v.clone()));
            }
            files.push(f);
        }
        self.sets = sets;
        self.listing = listing;
        let scan = Scan {
            root: root.to_path_buf(),
            files,
        };
        Ok(Some(catalog::check(&scan)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unchanged_folders_are_not_planned_again_and_new_files_are() {
        let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR")
            .map(|d| PathBuf::from(d).join("../shared/samples/appveyor-lab/restoretimeclean2016"))
            .filter(|d| d.is_dir())
        else {
            eprintln!("SKIPPED: ../shared samples not found");
            return;
        };
        let tmp = tempfile::tempdir().unwrap();
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        names.sort();
        let (first, rest) = names.split_at(names.len() - 1);
        for p in first {
            std::fs::copy(p, tmp.path().join(p.file_name().unwrap())).unwrap();
        }
        let mut c = FolderCache::default();
        let full =
            catalog::check(&catalog::scan_folder(tmp.path(), &ScanOptions::default()).unwrap());
        let r = c.rescan(tmp.path()).unwrap().expect("first scan plans");
        assert_eq!(r.databases[0].plan.len(), full.databases[0].plan.len());
        assert!(c.rescan(tmp.path()).unwrap().is_none(), "nothing changed");
        std::fs::copy(&rest[0], tmp.path().join(rest[0].file_name().unwrap())).unwrap();
        let r = c
            .rescan(tmp.path())
            .unwrap()
            .expect("a new file plans again");
        let all =
            catalog::check(&catalog::scan_folder(tmp.path(), &ScanOptions::default()).unwrap());
        assert_eq!(r.databases[0].plan.len(), all.databases[0].plan.len());
        assert_eq!(
            r.databases[0]
                .plan
                .iter()
                .map(|s| &s.file)
                .collect::<Vec<_>>(),
            all.databases[0]
                .plan
                .iter()
                .map(|s| &s.file)
                .collect::<Vec<_>>()
        );
    }
}
