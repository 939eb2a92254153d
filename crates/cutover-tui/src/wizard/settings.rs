//! Screen 4, Migration settings: backup folder (and per-database folders under Advanced), the
//! folder as the source server sees it, storage container and its authentication, how the managed
//! instance reads it, migration length (the SAS's lifetime), concurrency, bandwidth limit, and the
//! cutover, tail-log backup and stop-traffic modes the configuration saves.

use std::collections::BTreeMap;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};

use cutover_model::Severity;
use ratatui::widgets::{Paragraph, Wrap};

use super::form::{Field, Form};
use super::values::{
    CutoverMode, EnvCheck, Mbps, MiAccess, MigrationSettings, SecretText, StopTrafficChoice,
    StorageAuthKind, TailChoice,
};
use super::{JobStatus, WizardState};
use crate::theme::Theme;

const STORAGE_AUTH: &[&str] = &["SAS token", "Account key (env var)", "Entra ID"];
const MI_ACCESS: &[&str] = &["SAS (Read + List)", "Managed identity"];
/// In the order of [`CutoverMode::ALL`], [`TailChoice::ALL`], [`StopTrafficChoice::ALL`].
const CUTOVER: &[&str] = &["You, from the dashboard", "Automatic when ready"];
const TAIL: &[&str] = &["cutover takes it", "You take it (wait)", "Skip (data loss)"];
const STOP: &[&str] = &["READ_ONLY", "RESTRICTED_USER", "None (you stop it)"];

fn index_of<T: PartialEq>(all: &[T], v: &T) -> usize {
    all.iter().position(|x| x == v).unwrap_or(0)
}

/// The form of the screen; `folder_only`: the backup folder was chosen on the Source screen (and
/// no tail-log backup is written by cutover, so the server's view of the folder is not asked).
pub fn form(v: &MigrationSettings, databases: &[String], folder_only: bool) -> Form {
    let auth = match v.storage_auth {
        StorageAuthKind::Sas => 0,
        StorageAuthKind::AccountKeyEnv => 1,
        StorageAuthKind::EntraId => 2,
    };
    let mi = match v.mi_access {
        MiAccess::Sas => 0,
        MiAccess::ManagedIdentity => 1,
    };
    let mut folder = Field::text("folder", "Backup folder", &v.backup_folder)
        .help("where the full, differential and log backups are (flat or Ola Hallengren's <db>/FULL|DIFF|LOG)");
    folder.hidden = folder_only;
    let mut server_folder = Field::text("server_folder", "Server's path to folder", &v.server_folder)
        .help("where SQL Server writes the tail-log backup, e.g. \\\\fileserver\\backups (empty: the same path)");
    server_folder.hidden = folder_only;
    let [smb_user, smb_password_env] = smb_fields(&v.smb_user, &v.smb_password_env);
    let mut fields = vec![
        folder,
        server_folder,
        smb_user,
        smb_password_env,
        Field::text("container", "Storage container URL", &v.container_url)
            .help("https://ACCOUNT.blob.core.windows.net/CONTAINER (no 'backup' in the name: LRS refuses it); Ctrl-L picks the storage account (same region first), then the container or a new one"),
        Field::choice("storage_auth", "Container authentication", STORAGE_AUTH, auth),
        Field::secret("sas", "SAS token", v.sas_token.expose())
            .show_if("storage_auth", 0)
            .help("needs read, create, write, list (rcwl); no stored access policy"),
        Field::text("key_env", "Account key variable", &v.account_key_env)
            .show_if("storage_auth", 1)
            .names_env()
            .help("the environment variable holding the key (the key itself is never stored); it must be set in the shell that starts cutover"),
        Field::choice("mi_access", "MI reads backups with", MI_ACCESS, mi)
            .help("managed identity: the instance needs Storage Blob Data Reader on the account"),
        Field::secret("mi_sas", "MI SAS (Read + List)", v.mi_sas_token.expose())
            .show_if("mi_access", 0)
            .help("sp=rl only, container-wide, no stored access policy, valid for the whole migration"),
        Field::text("expiry", "Migration length (days)", &v.sas_expiry_days.to_string())
            .help("how long the migration may take, at most 30 (LRS's job limit): the SAS cutover signs for LRS lasts this long, and a SAS given must not expire sooner"),
        Field::text("concurrency", "Files uploaded at once", &v.concurrency.to_string()),
        Field::text(
            "bandwidth",
            "Bandwidth limit (Mbit/s)",
            &v.bandwidth_mbps.map(|b| b.to_string()).unwrap_or_default(),
        )
        .help("empty: no limit"),
        Field::choice(
            "cutover",
            "Cutover",
            CUTOVER,
            index_of(&CutoverMode::ALL, &v.cutover),
        )
        .help("you: begin the cutover from the dashboard; automatic: cutover completes each database as soon as it is ready ([migration] cutover)"),
        Field::choice("tail", "Tail-log backup", TAIL, index_of(&TailChoice::ALL, &v.tail))
            .help("cutover takes it: BACKUP LOG ... WITH NORECOVERY on the source; you: cutover waits for your file in the backup folder; skip: transactions after the last log backup are lost"),
        Field::choice(
            "stop_traffic",
            "Stop traffic with",
            STOP,
            index_of(&StopTrafficChoice::ALL, &v.stop_traffic),
        )
        .help("how cutover stops the application's writes before the tail-log backup (ALTER DATABASE ... SET READ_ONLY or RESTRICTED_USER), or none: you stop them"),
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
    let mut f = Form::new(fields);
    f.set_hidden("stop_traffic", folder_only);
    refresh(&mut f);
    f
}

/// The variable an SMB password is read from when no other is named (the core's default).
pub const DEFAULT_SMB_PASSWORD_ENV: &str = "CUTOVER_SMB_PASSWORD";

/// `\\server\share\...`, `//server/share/...` or `smb://server/share/...`: an SMB share (the core
/// parses it; this only decides whether the SMB account is asked).
pub fn is_share(folder: &str) -> bool {
    let t = folder.trim();
    t.starts_with("\\\\")
        || t.starts_with("//")
        || t.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("smb://"))
}

/// Hides what the other fields make unnecessary: with an account key cutover signs the managed
/// instance's SAS itself; the SMB account only for a share (the folder here, or the one chosen on
/// the Source screen when this screen does not ask it).
pub fn refresh(f: &mut Form) {
    let signed = f.choice("storage_auth") == 1;
    f.set_hidden("mi_sas", signed);
    let share = is_share(f.text("folder"))
        || (f.on("advanced")
            && f.fields
                .iter()
                .any(|x| x.key.starts_with("folder:") && is_share(&x.text)));
    f.set_hidden("smb_user", !share);
    f.set_hidden("smb_password_env", !share);
}

/// The SMB account a form's `smb_user` and `smb_password_env` fields give for a share; the error
/// names the field.
pub fn smb_account(f: &Form) -> Result<(String, String), String> {
    let user = f.trimmed("smb_user");
    if user.is_empty() {
        return Err("SMB user: required for a share (DOMAIN\\user, or AZURE\\<storage account> for an Azure file share)".to_string());
    }
    let env = f.trimmed("smb_password_env");
    if env.is_empty() || !env.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(
            "SMB password variable: an environment variable name such as CUTOVER_SMB_PASSWORD"
                .to_string(),
        );
    }
    Ok((user, env))
}

/// The SMB account's two fields, as both the Source screen (backup folder only) and this screen
/// ask them.
pub fn smb_fields(user: &str, password_env: &str) -> [Field; 2] {
    let smb_user = Field::text("smb_user", "SMB user", user).help(
        "the Windows account reading the share: DOMAIN\\user (AZURE\\<storage account> for an Azure file share); it needs read on the share and its folders",
    );
    let smb_password_env = Field::text(
        "smb_password_env",
        "SMB password variable",
        if password_env.is_empty() {
            DEFAULT_SMB_PASSWORD_ENV
        } else {
            password_env
        },
    )
    .names_env()
    .help("the environment variable holding the password (the storage account key for an Azure file share); never typed here nor saved");
    [smb_user, smb_password_env]
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

/// A bandwidth limit in megabits per second: any positive number (12.5 as well as 200), the same
/// range `[migration] max_mbps` takes, so a file's value survives the wizard unchanged.
fn rate(f: &Form, key: &str) -> Result<Mbps, String> {
    let t = f.trimmed(key);
    match t.parse::<f64>() {
        Ok(n) if n.is_finite() && n > 0.0 => Ok(Mbps(n)),
        _ => Err(format!(
            "{}: a positive number of megabits per second (e.g. 200 or 12.5), or empty for no limit",
            f.label(key)
        )),
    }
}

/// Validates the screen into `v`; `folder_only`: no source connection (cutover can neither take
/// the tail-log backup nor stop traffic).
pub fn apply(
    f: &Form,
    v: &mut MigrationSettings,
    databases: &[String],
    folder_only: bool,
) -> Result<(), String> {
    let folder = f.trimmed("folder");
    if folder.is_empty() {
        return Err("Backup folder: required".to_string());
    }
    // A SAS pasted with the URL is taken apart: it is a secret, kept masked like the SAS field.
    let (container, url_sas) = match f.trimmed("container").split_once('?') {
        Some((u, q)) => (u.to_string(), q.to_string()),
        None => (f.trimmed("container"), String::new()),
    };
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
    let typed_sas = f.text("sas").trim().to_string();
    let sas = if typed_sas.is_empty() {
        url_sas
    } else {
        typed_sas
    };
    if storage_auth == StorageAuthKind::Sas && sas.is_empty() {
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
        Some(rate(f, "bandwidth")?)
    };
    let mi_access = if f.choice("mi_access") == 1 {
        MiAccess::ManagedIdentity
    } else {
        MiAccess::Sas
    };
    let mi_sas = f.text("mi_sas").trim().to_string();
    if mi_access == MiAccess::Sas && storage_auth != StorageAuthKind::AccountKeyEnv {
        if mi_sas.is_empty() {
            return Err("MI SAS (Read + List): required (cutover signs one only from an account key; or choose Managed identity)".to_string());
        }
        let perms = mi_sas
            .trim_start_matches('?')
            .split('&')
            .find_map(|kv| kv.strip_prefix("sp="));
        if perms.is_some_and(|p| p.chars().any(|c| !matches!(c, 'r' | 'l'))) {
            return Err(
                "MI SAS (Read + List): LRS refuses a SAS with more than read and list (sp=rl)"
                    .to_string(),
            );
        }
    }
    let cutover = CutoverMode::ALL
        .get(f.choice("cutover"))
        .copied()
        .unwrap_or_default();
    let tail = TailChoice::ALL
        .get(f.choice("tail"))
        .copied()
        .unwrap_or_default();
    let stop_traffic = if folder_only {
        StopTrafficChoice::None
    } else {
        StopTrafficChoice::ALL
            .get(f.choice("stop_traffic"))
            .copied()
            .unwrap_or_default()
    };
    if folder_only && tail == TailChoice::Take {
        return Err("Tail-log backup: cutover takes it only with a connection to the source; choose 'You take it' or 'Skip'".to_string());
    }
    let mut overrides = BTreeMap::new();
    if f.on("advanced") {
        for db in databases {
            let t = f.trimmed(&format!("folder:{db}"));
            if !t.is_empty() {
                overrides.insert(db.clone(), t);
            }
        }
    }
    let share = is_share(&folder) || overrides.values().any(|o| is_share(o));
    let (smb_user, smb_password_env) = if share {
        smb_account(f)?
    } else {
        (String::new(), String::new())
    };
    *v = MigrationSettings {
        backup_folder: folder,
        server_folder: f.trimmed("server_folder"),
        folder_overrides: overrides,
        smb_user,
        smb_password_env,
        container_url: container,
        storage_auth,
        sas_token: SecretText(sas),
        account_key_env: key_env,
        mi_access,
        mi_sas_token: SecretText(if storage_auth == StorageAuthKind::AccountKeyEnv {
            String::new()
        } else {
            mi_sas
        }),
        sas_expiry_days: expiry,
        concurrency,
        bandwidth_mbps: bandwidth,
        cutover,
        tail,
        stop_traffic,
    };
    Ok(())
}

/// The account key is read from its variable when the migration starts, never typed: a variable
/// this shell does not have is refused here rather than after Run. (The sandbox signs with its
/// own development key.)
pub fn check_env(v: &MigrationSettings, sandbox: bool, env: &EnvCheck) -> Result<(), String> {
    let smb = v.smb_password_env.trim();
    if !v.smb_user.trim().is_empty() && !env.is_set(smb) {
        return Err(format!(
            "SMB password variable: {smb} is not set here: export it (the share's password, or the storage account key), then start cutover again (Ctrl-C leaves)"
        ));
    }
    let var = v.account_key_env.trim();
    if v.storage_auth == StorageAuthKind::AccountKeyEnv && !sandbox && !env.is_set(var) {
        return Err(format!(
            "Account key variable: {var} is not set here: export it, then start cutover again (Ctrl-C leaves), or choose another authentication"
        ));
    }
    Ok(())
}

pub fn render(frame: &mut Frame, area: Rect, s: &WizardState, theme: Theme) {
    // What the folder test found: a line per fact (databases, newest backups), or why it failed;
    // as many rows as it needs (at most 5), the form keeps the rest.
    let mut lines: Vec<Line> = match &s.backups_test {
        JobStatus::Done(Ok(found)) => found
            .lines()
            .map(|l| Line::styled(l.to_string(), theme.ok()))
            .collect(),
        job => vec![super::job_line(
            job,
            "Test the backup folder (Ctrl-T): lists its databases and newest backups",
            s.tick,
            theme,
            |r: &String| r.clone(),
        )],
    };
    // The picked storage account, and what its checks found (Ctrl-T), before the folder's lines.
    let mut storage: Vec<Line> = Vec::new();
    if let Some(a) = &s.azure.account {
        let same = s
            .azure
            .region()
            .is_some_and(|r| r.eq_ignore_ascii_case(&a.location));
        storage.push(Line::from(vec![
            Span::styled("Account: ", theme.title()),
            Span::raw(format!(
                "{} ({}{}, {}){}",
                a.name,
                a.location,
                if same { ", the instance's region" } else { "" },
                a.network,
                match &s.azure.container {
                    Some((c, true)) => format!("; container {c} is new: Ctrl-T creates it"),
                    _ => String::new(),
                }
            )),
        ]));
        match &s.azure.checks {
            JobStatus::Done(Ok(found)) => {
                for c in found {
                    let style = match c.severity {
                        Severity::Error => theme.error(),
                        Severity::Warning => theme.warn(),
                        Severity::Info => theme.ok(),
                    };
                    let mut spans = vec![
                        Span::styled(format!("{} ", c.code), style),
                        Span::raw(c.message.clone()),
                    ];
                    if !c.fix.is_empty() {
                        spans.push(Span::styled(format!(" -> {}", c.fix), theme.dim()));
                    }
                    storage.push(Line::from(spans));
                }
            }
            JobStatus::Done(Err(e)) => storage.push(Line::from(vec![
                Span::styled("Storage check failed: ", theme.error()),
                Span::raw(e.clone()),
            ])),
            JobStatus::Running { .. } => lines.push(Line::styled(
                "checking the storage account...",
                theme.busy(),
            )),
            JobStatus::Idle => {}
        }
    }
    storage.extend(lines);
    let lines = storage;
    let width = usize::from(area.width.max(1));
    let rows: usize = lines.iter().map(|l| l.width().div_ceil(width).max(1)).sum();
    let rows = u16::try_from(rows.min(8)).unwrap_or(8);
    let [form_area, info] =
        Layout::vertical([Constraint::Min(6), Constraint::Length(rows)]).areas(area);
    super::form::render(frame, form_area, &s.settings, &s.env, theme);
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), info);
}
