//! The restoreDetails resource of a Log Replay Service restore, accepting both the stable
//! (2021-11-01 / 2023-08-01) and the preview (2022-11-01-preview and later) response shapes.

use serde::{Deserialize, Deserializer, Serialize};

/// Status of one backup set in the preview shape's `fullBackupSets` / `diffBackupSets` / `logBackupSets`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupSetDetail {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub first_stripe_name: Option<String>,
    #[serde(default)]
    pub number_of_stripes: Option<i64>,
    #[serde(default, rename = "backupSizeMB")]
    pub backup_size_mb: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_started_timestamp_utc: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_finished_timestamp_utc: Option<String>,
}

/// `unrestorableFiles` is `["name"]` in the stable shape and `[{"name": ...}]` in preview.
fn names<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Item {
        Name(String),
        Obj { name: Option<String> },
    }
    let v: Option<Vec<Item>> = Option::deserialize(d)?;
    Ok(v.unwrap_or_default()
        .into_iter()
        .filter_map(|i| match i {
            Item::Name(n) => Some(n),
            Item::Obj { name } => name,
        })
        .collect())
}

/// `percentCompleted` is a double in the stable shape and an integer in preview.
fn percent<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let v: Option<serde_json::Value> = Option::deserialize(d)?;
    Ok(v.and_then(|v| v.as_f64()))
}

/// The properties of restoreDetails under their stable names (the preview-only ones are optional).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreDetails {
    /// "LRSRestore" in the preview shape (absent in stable).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub current_restoring_file_name: Option<String>,
    #[serde(default)]
    pub last_restored_file_name: Option<String>,
    #[serde(default)]
    pub last_restored_file_time: Option<String>,
    #[serde(default, deserialize_with = "percent")]
    pub percent_completed: Option<f64>,
    #[serde(default, deserialize_with = "names")]
    pub unrestorable_files: Vec<String>,
    #[serde(default)]
    pub number_of_files_detected: Option<i64>,
    #[serde(default)]
    pub last_uploaded_file_name: Option<String>,
    #[serde(default)]
    pub last_uploaded_file_time: Option<String>,
    #[serde(default)]
    pub block_reason: Option<String>,
    #[serde(
        default,
        rename = "currentRestoredSizeMB",
        skip_serializing_if = "Option::is_none"
    )]
    pub current_restored_size_mb: Option<f64>,
    #[serde(
        default,
        rename = "currentRestorePlanSizeMB",
        skip_serializing_if = "Option::is_none"
    )]
    pub current_restore_plan_size_mb: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_backup_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_of_files_queued: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_of_files_skipped: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_of_files_restoring: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_of_files_restored: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_of_files_unrestorable: Option<i64>,
    #[serde(default)]
    pub full_backup_sets: Vec<BackupSetDetail>,
    #[serde(default)]
    pub diff_backup_sets: Vec<BackupSetDetail>,
    #[serde(default)]
    pub log_backup_sets: Vec<BackupSetDetail>,
}

/// The ARM envelope: `{"properties": {...}, "id": ..., "name": ..., "type": ...}`.
#[derive(Debug, Clone, Deserialize)]
pub struct RestoreDetailsResource {
    #[serde(default)]
    pub properties: RestoreDetails,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

impl RestoreDetails {
    /// True when the service says the restore is LRS (preview `type`), or does not say (stable).
    pub fn is_lrs(&self) -> bool {
        self.kind
            .as_deref()
            .is_none_or(|k| k.eq_ignore_ascii_case("LRSRestore"))
    }

    /// "All backups restored": nothing restoring, nothing queued, and a last restored file.
    pub fn all_restored(&self) -> bool {
        self.last_restored_file_name.is_some()
            && self
                .current_restoring_file_name
                .as_deref()
                .is_none_or(|c| Some(c) == self.last_restored_file_name.as_deref())
            && self.number_of_files_queued.unwrap_or(0) == 0
            && self.number_of_files_restoring.unwrap_or(0) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(name: &str) -> Option<String> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/reference/lrs-examples")
            .join(name);
        match std::fs::read_to_string(&p) {
            Ok(s) => Some(s),
            Err(_) if std::env::var("CI").is_ok_and(|v| v == "true") => {
                panic!("{} missing: CI runs beside shared/", p.display())
            }
            Err(_) => {
                eprintln!("SKIPPED: {} not found", p.display());
                None
            }
        }
    }

    #[test]
    fn parses_the_stable_example() {
        let Some(s) = example("restore-details-stable-2023-08-01.json") else {
            return;
        };
        let r: RestoreDetailsResource = serde_json::from_str(&s).expect("stable shape");
        let d = r.properties;
        assert_eq!(d.status.as_deref(), Some("Restoring"));
        assert_eq!(d.current_restoring_file_name.as_deref(), Some("full_0"));
        assert_eq!(d.percent_completed, Some(0.0));
        assert_eq!(d.number_of_files_detected, Some(26));
        assert!(d.unrestorable_files.is_empty());
        assert_eq!(d.last_uploaded_file_name.as_deref(), Some("log2_3"));
        assert!(d.is_lrs());
    }

    #[test]
    fn parses_the_preview_example_and_its_relations() {
        let Some(s) = example("restore-details-preview-2022-11-01.json") else {
            return;
        };
        let r: RestoreDetailsResource = serde_json::from_str(&s).expect("preview shape");
        let d = r.properties;
        assert_eq!(d.kind.as_deref(), Some("LRSRestore"));
        assert_eq!(d.percent_completed, Some(53.0));
        assert_eq!(d.unrestorable_files, vec!["ImageFile.JPG".to_string()]);
        assert_eq!(d.log_backup_sets.len(), 10);
        assert_eq!(d.full_backup_sets[1].number_of_stripes, Some(3));
        // The relations the sandbox reproduces: detected = queued + skipped + restoring + restored + unrestorable.
        let sum = [
            d.number_of_files_queued,
            d.number_of_files_skipped,
            d.number_of_files_restoring,
            d.number_of_files_restored,
            d.number_of_files_unrestorable,
        ]
        .iter()
        .map(|v| v.unwrap_or(0))
        .sum::<i64>();
        assert_eq!(Some(sum), d.number_of_files_detected);
        // plan size = sum over non-skipped sets; restored size = sum over restored sets.
        let all: Vec<&BackupSetDetail> = d
            .full_backup_sets
            .iter()
            .chain(&d.diff_backup_sets)
            .chain(&d.log_backup_sets)
            .collect();
        let plan: i64 = all
            .iter()
            .filter(|s| s.status.as_deref() != Some("Skipped"))
            .filter_map(|s| s.backup_size_mb)
            .sum();
        let restored: i64 = all
            .iter()
            .filter(|s| s.status.as_deref() == Some("Restored"))
            .filter_map(|s| s.backup_size_mb)
            .sum();
        assert_eq!(Some(plan as f64), d.current_restore_plan_size_mb);
        assert_eq!(Some(restored as f64), d.current_restored_size_mb);
    }
}
