//! Screen 5, Summary: the activity name, everything chosen, the preflight findings per database
//! and the configuration check's warnings (everything `cutover run --config` would print). Errors
//! block Run; warnings need the explicit acknowledgement (Space on the toggle).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::form::{Field, Form};
use super::values::{
    MiAccess, PreflightReport, SourceAuthKind, StorageAuthKind, TargetCredential, WizardValues,
};
use super::{JobStatus, WizardState};
use crate::dashboard::findings;
use crate::format;
use crate::theme::Theme;
use cutover_model::Severity;

pub fn form(v: &WizardValues) -> Form {
    let mut ack = Field::toggle("ack", "Acknowledge warnings", false)
        .help("Space acknowledges the warnings listed below");
    ack.hidden = true;
    Form::new(vec![
        Field::text("activity", "Activity name", &v.activity)
            .help("names this migration and its state file: letters, digits, '.', '-', '_'"),
        ack,
    ])
}

pub fn apply_activity(f: &Form, v: &mut WizardValues) -> Result<(), String> {
    let a = f.trimmed("activity");
    if a.is_empty() {
        return Err("Activity name: required".to_string());
    }
    if a.len() > 64
        || !a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    {
        return Err("Activity name: at most 64 letters, digits, '.', '-' or '_'".to_string());
    }
    v.activity = a;
    Ok(())
}

/// (errors, warnings) in the preflight's findings and the configuration check.
pub fn counts(pre: &PreflightReport) -> (usize, usize) {
    let all = pre.databases.iter().flat_map(|(_, f)| f.iter());
    let mut e = usize::from(pre.config_error.is_some());
    let mut w = pre.config_warnings.len();
    for f in all {
        match f.severity {
            Severity::Error => e += 1,
            Severity::Warning => w += 1,
            Severity::Info => {}
        }
    }
    (e, w)
}

fn review(v: &WizardValues) -> Vec<Line<'static>> {
    let s = &v.source;
    let auth = match s.auth {
        SourceAuthKind::SqlLogin => format!("SQL login {}", s.user),
        SourceAuthKind::EntraToken => "Entra ID token".to_string(),
    };
    let tls = match (s.encrypt, s.trust_server_certificate) {
        (false, _) => "no encryption",
        (true, false) => "encrypted",
        (true, true) => "encrypted, certificate NOT validated",
    };
    let t = &v.target;
    let target = if t.sandbox {
        "sandbox (local)".to_string()
    } else {
        let cred = match t.credential {
            TargetCredential::ServicePrincipal => format!("service principal {}", t.app_id),
            TargetCredential::AzureCli => "Azure CLI".to_string(),
            TargetCredential::ManagedIdentity => "managed identity".to_string(),
            TargetCredential::WorkloadIdentity => "workload identity".to_string(),
            TargetCredential::Auto => "first credential that applies".to_string(),
        };
        let arm = if t.arm_endpoint.trim().is_empty() {
            String::new()
        } else {
            format!(", ARM {}", t.arm_endpoint.trim())
        };
        format!(
            "{} in {} / {} ({cred}{arm})",
            t.managed_instance, t.resource_group, t.subscription
        )
    };
    let m = &v.settings;
    let storage_auth = match m.storage_auth {
        StorageAuthKind::Sas => "SAS token".to_string(),
        StorageAuthKind::AccountKeyEnv => format!("account key from ${}", m.account_key_env),
        StorageAuthKind::EntraId => "Entra ID".to_string(),
    };
    let mi = match (m.mi_access, m.storage_auth) {
        (MiAccess::ManagedIdentity, _) => "MI reads with its managed identity",
        (MiAccess::Sas, StorageAuthKind::AccountKeyEnv) => "MI reads with a SAS cutover signs",
        (MiAccess::Sas, _) => "MI reads with the Read + List SAS given",
    };
    let bw = m
        .bandwidth_mbps
        .map_or_else(|| "no limit".to_string(), |b| format!("{b} Mbit/s"));
    let source = if s.folder_only {
        "backup folder only (no connection: you stop traffic and take the tail-log backup)"
            .to_string()
    } else {
        format!("{} ({auth}, {tls})", s.address())
    };
    let mut lines = vec![kv("Source", source), kv("Target", target)];
    if let Some(server) = &v.carried.sql_server {
        lines.push(kv(
            "Instance SQL",
            format!(
                "{server} as {} (password from ${}){}",
                v.carried.sql_user.as_deref().unwrap_or("?"),
                v.carried.sql_password_env.as_deref().unwrap_or("?"),
                v.carried
                    .location
                    .as_deref()
                    .map(|l| format!(", region {l}"))
                    .unwrap_or_default()
            ),
        ));
    }
    lines.push(kv("Databases", v.databases.join(", ")));
    if !s.folder_only {
        let logins = match &v.logins {
            None => "those the databases' users need".to_string(),
            Some(l) if l.is_empty() => "none".to_string(),
            Some(l) => l.join(", "),
        };
        lines.push(kv("Logins", logins));
    }
    lines.push(kv("Backup folder", m.backup_folder.clone()));
    if !s.folder_only && !m.server_folder.is_empty() {
        lines.push(kv(
            "",
            format!("as the server sees it: {}", m.server_folder),
        ));
    }
    for (db, f) in &m.folder_overrides {
        lines.push(kv("", format!("{db}: {f}")));
    }
    lines.push(kv(
        "Container",
        format!(
            "{} ({storage_auth}; {mi}, SAS {} days)",
            crate::format::without_query(&m.container_url),
            m.sas_expiry_days
        ),
    ));
    lines.push(kv(
        "Uploads",
        format!("{} files at once, {bw}", m.concurrency),
    ));
    let cutover = match m.cutover {
        super::CutoverMode::Never => "you cut over (dashboard)",
        super::CutoverMode::WhenReady => "automatic when ready",
    };
    lines.push(kv(
        "Cutover",
        format!(
            "{cutover}; tail-log backup: {}; stop traffic: {}",
            m.tail.word(),
            m.stop_traffic.word()
        ),
    ));
    if let Some(d) = &v.carried.state_dir {
        lines.push(kv("State folder", d.clone()));
    }
    lines
}

fn kv(k: &str, v: String) -> Line<'static> {
    Line::from(vec![Span::raw(format!("{k:<14}")), Span::raw(v)])
}

pub fn render(frame: &mut Frame, area: Rect, s: &WizardState, theme: Theme) {
    let [form_area, rest] =
        Layout::vertical([Constraint::Length(3), Constraint::Min(4)]).areas(area);
    super::form::render(frame, form_area, &s.summary, &s.env, theme);
    // The findings first (they decide whether Run is possible), then everything chosen.
    let mut lines = Vec::new();
    match &s.preflight {
        JobStatus::Idle | JobStatus::Running { .. } => lines.push(Line::styled(
            format!(
                "{} preflight: checking the backups and the source...",
                format::spinner(s.tick)
            ),
            theme.busy(),
        )),
        JobStatus::Done(Err(e)) => lines.push(Line::styled(
            format!("preflight failed: {e}"),
            theme.error(),
        )),
        JobStatus::Done(Ok(pre)) => {
            let (e, w) = counts(pre);
            let head = format!("Preflight: {e} error(s), {w} warning(s)");
            lines.push(Line::styled(
                head,
                if e > 0 {
                    theme.error()
                } else if w > 0 {
                    theme.warn()
                } else {
                    theme.ok()
                },
            ));
            if let Some(err) = &pre.config_error {
                lines.push(Line::from(vec![
                    Span::styled("Configuration: ", theme.title()),
                    Span::styled(format!("error: {err}"), theme.error()),
                ]));
            }
            if !pre.config_warnings.is_empty() {
                lines.push(Line::styled("Configuration:", theme.title()));
                for w in &pre.config_warnings {
                    lines.push(Line::from(vec![
                        Span::styled("  warning ", theme.warn()),
                        Span::raw(w.clone()),
                    ]));
                }
            }
            for (db, f) in &pre.databases {
                if f.is_empty() {
                    lines.push(Line::from(vec![
                        Span::styled(format!("{db}: "), theme.title()),
                        Span::styled("no findings", theme.ok()),
                    ]));
                } else {
                    lines.push(Line::styled(format!("{db}:"), theme.title()));
                    lines.extend(findings::lines(f, theme));
                }
            }
            if e > 0 {
                lines.push(Line::styled(
                    "Run is blocked until the errors are fixed (Esc goes back).",
                    theme.error(),
                ));
            } else if w > 0 && !s.summary.on("ack") {
                lines.push(Line::styled(
                    "Acknowledge the warnings (the toggle above) to run.",
                    theme.warn(),
                ));
            }
        }
    }
    lines.push(Line::raw(""));
    lines.extend(review(&s.values));
    let block = crate::layout::panel(true).title(Span::styled(" Review ", theme.title()));
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .scroll((s.summary_scroll, 0))
            .block(block),
        rest,
    );
}
