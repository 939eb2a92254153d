//! Screen 4, Migration settings: backup folder (and per-database folders under Advanced), storage
//! container and its authentication, SAS expiry, concurrency, bandwidth limit.

use std::collections::BTreeMap;

use ratatui::Frame;
use ratatui::layout::Rect;

use super::WizardState;
use super::form::{Field, Form};
use super::values::{MigrationSettings, SecretText, StorageAuthKind};
use crate::tui::theme::Theme;

const STORAGE_AUTH: &[&str] = &["SAS token", "Account key (env var)", "Entra ID"];

pub fn form(v: &MigrationSettings, databases: &[String]) -> Form {
    let auth = match v.storage_auth {
        StorageAuthKind::Sas => 0,
        StorageAuthKind::AccountKeyEnv => 1,
        StorageAuthKind::EntraId => 2,
    };
    let mut fields = vec![
        Field::text("folder", "Backup folder", &v.backup_folder)
            .help("where the full, differential and log backups are (flat or Ola Hallengren's <db>/FULL|DIFF|LOG)"),
        Field::text("container", "Storage container URL", &v.container_url)
            .help("https://ACCOUNT.blob.core.windows.net/CONTAINER (no 'backup' in the name: LRS refuses it)"),
        Field::choice("storage_auth", "Container authentication", STORAGE_AUTH, auth),
        Field::secret("sas", "SAS token", v.sas_token.expose())
            .show_if("storage_auth", 0)
            .help("needs read, create, write, list (rcwl); no stored access policy"),
        Field::text("key_env", "Account key variable", &v.account_key_env)
            .show_if("storage_auth", 1)
            .help("the environment variable holding the key (the key itself is never stored)"),
        Field::text("expiry", "SAS expiry (days)", &v.sas_expiry_days.to_string())
            .help("lifetime of the read SAS given to LRS; at most 30 (LRS's own limit)"),
        Field::text("concurrency", "Files uploaded at once", &v.concurrency.to_string()),
        Field::text(
            "bandwidth",
            "Bandwidth limit (Mbit/s)",
            &v.bandwidth_mbps.map(|b| b.to_string()).unwrap_or_default(),
        )
        .help("empty: no limit"),
        Field::toggle("advanced", "Advanced: per-db folders", !v.folder_overrides.is_empty()),
    ];
    for db in databases {
        let value = v.folder_overrides.get(db).map_or("", String::as_str);
        fields.push(
            Field::text(format!("folder:{db}"), format!("  folder of {db}"), value)
                .show_if("advanced", 1)
                .help("empty: <backup folder>/<database> or the backup folder itself"),
        );
    }
    Form::new(fields)
}

fn number(f: &Form, key: &str, lo: u32, hi: u32) -> Result<u32, String> {
    let t = f.trimmed(key);
    match t.parse::<u32>() {
        Ok(n) if (lo..=hi).contains(&n) => Ok(n),
        _ => Err(format!(
            "{}: a whole number from {lo} to {hi}",
            f.label(key)
        )),
    }
}

pub fn apply(f: &Form, v: &mut MigrationSettings, databases: &[String]) -> Result<(), String> {
    let folder = f.trimmed("folder");
    if folder.is_empty() {
        return Err("Backup folder: required".to_string());
    }
    let container = f.trimmed("container");
    if container.is_empty() {
        return Err("Storage container URL: required".to_string());
    }
    match url::Url::parse(&container) {
        Ok(u)
            if matches!(u.scheme(), "https" | "http") && !u.path().trim_matches('/').is_empty() => {
        }
        _ => {
            return Err(
                "Storage container URL: https://ACCOUNT.blob.core.windows.net/CONTAINER"
                    .to_string(),
            );
        }
    }
    let storage_auth = match f.choice("storage_auth") {
        1 => StorageAuthKind::AccountKeyEnv,
        2 => StorageAuthKind::EntraId,
        _ => StorageAuthKind::Sas,
    };
    if storage_auth == StorageAuthKind::Sas
        && f.text("sas").trim().is_empty()
        && !container.contains('?')
    {
        return Err("SAS token: required (or choose another container authentication)".to_string());
    }
    let key_env = f.trimmed("key_env");
    if storage_auth == StorageAuthKind::AccountKeyEnv
        && (key_env.is_empty()
            || !key_env
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_'))
    {
        return Err(
            "Account key variable: an environment variable name such as AZURE_STORAGE_KEY"
                .to_string(),
        );
    }
    let expiry = number(f, "expiry", 1, 30)?;
    let concurrency = number(f, "concurrency", 1, 64)?;
    let bandwidth = if f.trimmed("bandwidth").is_empty() {
        None
    } else {
        Some(number(f, "bandwidth", 1, 1_000_000)?)
    };
    let mut overrides = BTreeMap::new();
    if f.on("advanced") {
        for db in databases {
            let t = f.trimmed(&format!("folder:{db}"));
            if !t.is_empty() {
                overrides.insert(db.clone(), t);
            }
        }
    }
    *v = MigrationSettings {
        backup_folder: folder,
        folder_overrides: overrides,
        container_url: container,
        storage_auth,
        sas_token: SecretText(f.text("sas").trim().to_string()),
        account_key_env: key_env,
        sas_expiry_days: expiry,
        concurrency,
        bandwidth_mbps: bandwidth,
    };
    Ok(())
}

pub fn render(frame: &mut Frame, area: Rect, s: &WizardState, theme: Theme) {
    super::form::render(frame, area, &s.settings, true, theme);
}
