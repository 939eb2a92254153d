//! Screen 1, Source: server, port or instance, authentication, encryption, test connection; or the
//! backup folder alone, without a connection to the source (the databases then come from the
//! folder, and the operator stops traffic and takes the tail-log backup at cutover).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};

use super::form::{Field, Form};
use super::settings::{is_share, smb_account, smb_fields};
use super::values::{MigrationSettings, SecretText, SourceAuthKind, SourceForm, WizardValues};
use super::{JobStatus, WizardState, job_line};
use crate::theme::Theme;
use cutover_model::TRUST_CERTIFICATE_WARNING;

const AUTH: &[&str] = &["SQL login", "Entra ID token"];
const MODE: &[&str] = &["SQL Server connection", "Backup folder only"];

/// What cutover cannot do without a source connection (shown on the screen).
pub const FOLDER_ONLY_NOTE: &str = "No connection to the source: the databases come from the backup folder, and at cutover you stop the application's writes and take the tail-log backup yourself (or confirm that no more backups will come: a data-loss risk).";

pub fn form(v: &SourceForm, settings: &MigrationSettings) -> Form {
    let backup_folder = settings.backup_folder.as_str();
    let [smb_user, smb_password_env] = smb_fields(&settings.smb_user, &settings.smb_password_env);
    let auth = match v.auth {
        SourceAuthKind::SqlLogin => 0,
        SourceAuthKind::EntraToken => 1,
    };
    let mut f = Form::new(vec![
        Field::choice("mode", "Source", MODE, usize::from(v.folder_only)).help(
            "connect to the SQL Server, or work from the backup folder alone (Space chooses)",
        ),
        Field::text("server", "Server", &v.server)
            .show_if("mode", 0)
            .help("host name or IP address of the SQL Server"),
        Field::text("port", "Port or instance", &v.port_or_instance)
            .show_if("mode", 0)
            .help("a port number, a named instance (uses SQL Browser), or empty for 1433"),
        Field::choice("auth", "Authentication", AUTH, auth)
            .show_if("mode", 0)
            .help("Space or Left/Right chooses"),
        Field::text("user", "User", &v.user)
            .show_if("mode", 0)
            .show_if("auth", 0),
        Field::secret("password", "Password", v.password.expose())
            .show_if("mode", 0)
            .show_if("auth", 0),
        Field::secret("token", "Access token", v.token.expose())
            .show_if("mode", 0)
            .show_if("auth", 1),
        Field::toggle("encrypt", "Encrypt connection", v.encrypt)
            .show_if("mode", 0)
            .help("TLS; plain text is allowed only to a server on this machine (loopback)"),
        Field::toggle(
            "trust",
            "Trust server certificate",
            v.trust_server_certificate,
        )
        .show_if("mode", 0)
        .show_if("encrypt", 1),
        Field::text("folder", "Backup folder", backup_folder)
            .show_if("mode", 1)
            .help("the folder with the full, differential and log backups (flat or <db>/FULL|DIFF|LOG), or a share: \\\\server\\share\\folder or smb://server/share/folder"),
        smb_user,
        smb_password_env,
    ]);
    refresh(&mut f);
    f.focus(if v.folder_only { "folder" } else { "server" });
    f
}

/// The SMB account is asked only when the backup folder alone is the source and it is a share.
pub fn refresh(f: &mut Form) {
    let share = f.choice("mode") == 1 && is_share(f.text("folder"));
    f.set_hidden("smb_user", !share);
    f.set_hidden("smb_password_env", !share);
}

fn loopback(host: &str) -> bool {
    matches!(
        host.to_ascii_lowercase().as_str(),
        "localhost" | "127.0.0.1" | "::1" | "[::1]"
    )
}

/// Validates the screen into `values` (the source, and the backup folder when the source is the
/// folder alone); the error names the field.
pub fn apply(f: &Form, values: &mut WizardValues) -> Result<(), String> {
    if f.choice("mode") == 1 {
        let folder = f.trimmed("folder");
        if folder.is_empty() {
            return Err(
                "Backup folder: required when working from the backup folder only".to_string(),
            );
        }
        let (smb_user, smb_password_env) = if is_share(&folder) {
            smb_account(f)?
        } else {
            (
                values.settings.smb_user.clone(),
                values.settings.smb_password_env.clone(),
            )
        };
        values.source.folder_only = true;
        values.settings.backup_folder = folder;
        values.settings.smb_user = smb_user;
        values.settings.smb_password_env = smb_password_env;
        return Ok(());
    }
    let v = &mut values.source;
    let server = f.trimmed("server");
    if server.is_empty() {
        return Err("Server: required".to_string());
    }
    if server.contains(char::is_whitespace) || server.contains(['\\', ',']) {
        return Err(
            "Server: a host name or address only (put a port or instance in 'Port or instance')"
                .to_string(),
        );
    }
    let port = f.trimmed("port");
    if !port.is_empty() && port.chars().all(|c| c.is_ascii_digit()) {
        match port.parse::<u16>() {
            Ok(p) if p > 0 => {}
            _ => return Err("Port or instance: a port is 1 to 65535".to_string()),
        }
    } else if port.contains(|c: char| c.is_whitespace() || c == '\\') {
        return Err("Port or instance: an instance name has no spaces or backslashes".to_string());
    }
    let auth = if f.choice("auth") == 1 {
        SourceAuthKind::EntraToken
    } else {
        SourceAuthKind::SqlLogin
    };
    match auth {
        SourceAuthKind::SqlLogin => {
            if f.trimmed("user").is_empty() {
                return Err("User: required for a SQL login".to_string());
            }
            if f.text("password").is_empty() {
                return Err("Password: required for a SQL login".to_string());
            }
        }
        SourceAuthKind::EntraToken => {
            if f.text("token").trim().is_empty() {
                return Err("Access token: required for Entra ID authentication".to_string());
            }
        }
    }
    let encrypt = f.on("encrypt");
    if !encrypt && !loopback(&server) {
        return Err(format!(
            "Encrypt connection: plain text is allowed only to a loopback server, not {server}"
        ));
    }
    *v = SourceForm {
        folder_only: false,
        server,
        port_or_instance: port,
        auth,
        user: f.trimmed("user"),
        password: SecretText(f.text("password").to_string()),
        token: SecretText(f.text("token").trim().to_string()),
        encrypt,
        trust_server_certificate: encrypt && f.on("trust"),
    };
    Ok(())
}

pub fn render(frame: &mut Frame, area: Rect, s: &WizardState, theme: Theme) {
    let [form_area, info] =
        Layout::vertical([Constraint::Min(6), Constraint::Length(5)]).areas(area);
    super::form::render(frame, form_area, &s.source, &s.env, theme);
    let mut lines = Vec::new();
    if s.source.choice("mode") == 1 {
        lines.push(Line::styled(FOLDER_ONLY_NOTE, theme.warn()));
        lines.push(job_line(
            &s.source_test,
            "Scan the folder (Ctrl-T)",
            s.tick,
            theme,
            |r| format!("{} ({} databases)", r.server, r.databases.len()),
        ));
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), info);
        return;
    }
    let trust = s.source.on("trust") && s.source.on("encrypt");
    if trust {
        lines.push(Line::styled(
            format!("Warning: {TRUST_CERTIFICATE_WARNING}"),
            theme.warn(),
        ));
    }
    lines.push(job_line(
        &s.source_test,
        "Test connection (Ctrl-T)",
        s.tick,
        theme,
        |r| format!("Connected: {} ({} databases)", r.server, r.databases.len()),
    ));
    if matches!(s.source_test, JobStatus::Idle) {
        lines.push(Line::styled(
            "The list of databases is read from the source on the next screen.",
            theme.dim(),
        ));
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), info);
}
