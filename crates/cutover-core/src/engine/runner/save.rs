//! Saving the activity's state: the index once, then the file of each database that changed (a
//! transition, or a field that changes without one: blobs, traffic stopped, the tail awaited, the
//! restore's identity).

use super::Engine;
use crate::engine::{activities, persist};

impl Engine {
    /// Every database is saved again (a command may change what a transition does not show).
    pub(super) fn mark_all_unsaved(&mut self) {
        self.persist_dirty = true;
        for d in &mut self.dbs {
            d.unsaved = true;
        }
    }

    /// Writes the files of the databases that changed (and the index, once).
    pub(super) fn save(&mut self) -> Result<(), String> {
        self.save_logins()?;
        let path = &self.cfg.state_file;
        if self.index_unsaved {
            let names: Vec<&str> = self.dbs.iter().map(|d| d.cfg.name.as_str()).collect();
            let about = activities::about(&self.cfg);
            persist::save_index(path, &self.cfg.activity, &names, &about)?;
            self.index_unsaved = false;
        }
        for d in &mut self.dbs {
            let brief = d.brief();
            if !d.unsaved && d.saved.as_ref() == Some(&brief) {
                continue;
            }
            persist::save_database(path, &d.persisted())?;
            d.unsaved = false;
            d.saved = Some(brief);
        }
        Ok(())
    }
}
