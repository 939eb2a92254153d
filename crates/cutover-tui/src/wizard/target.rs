//! Screen 2, Target: the sandbox, or the credential and the ARM endpoint (Advanced), then the
//! subscription and managed instance (picked from lists, or typed), then the instance's SQL
//! endpoint, user and password variable.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::form::{Field, Form};
use super::values::{CarriedKeys, SecretText, TargetCredential, TargetForm};
use super::{WizardState, job_line};
use crate::theme::Theme;
use cutover_model::{DEFAULT_ARM_ENDPOINT, is_local_endpoint};

const CREDENTIALS: &[&str] = &[
    "Service principal",
    "Azure CLI",
    "Managed identity",
    "Workload identity",
    "Auto (first that applies)",
];

/// The form: the sandbox, or the credential (and the ARM endpoint under Advanced), then the
/// subscription and the managed instance (picked from lists with Ctrl-L, or typed), then the
/// instance's SQL endpoint, user and password variable (`c`: the `[target] sql_*` keys).
pub fn form(v: &TargetForm, c: &CarriedKeys) -> Form {
    let cred = match v.credential {
        TargetCredential::ServicePrincipal => 0,
        TargetCredential::AzureCli => 1,
        TargetCredential::ManagedIdentity => 2,
        TargetCredential::WorkloadIdentity => 3,
        TargetCredential::Auto => 4,
    };
    let opt = |o: &Option<String>| o.clone().unwrap_or_default();
    Form::new(vec![
        Field::toggle("sandbox", "Sandbox (no Azure)", v.sandbox).help(
            "the project's local managed instance and blob service: try everything without Azure",
        ),
        Field::choice("credential", "Credential", CREDENTIALS, cred)
            .show_if("sandbox", 0)
            .help("how cutover signs in to Azure Resource Manager"),
        Field::text("tenant", "Tenant ID", &v.tenant_id)
            .show_if("sandbox", 0)
            .show_if("credential", 0),
        Field::text("app", "Application (client) ID", &v.app_id)
            .show_if("sandbox", 0)
            .show_if("credential", 0),
        Field::secret("secret", "Client secret", v.client_secret.expose())
            .show_if("sandbox", 0)
            .show_if("credential", 0),
        Field::toggle(
            "advanced",
            "Advanced: ARM endpoint",
            !v.arm_endpoint.trim().is_empty(),
        )
        .show_if("sandbox", 0),
        Field::text("arm", "ARM endpoint", &v.arm_endpoint)
            .show_if("sandbox", 0)
            .show_if("advanced", 1)
            .help("Azure Resource Manager of another cloud, or http://127.0.0.1:PORT of `cutover sandbox` (its arm_endpoint); empty: https://management.azure.com"),
        Field::text("subscription", "Subscription ID", &v.subscription)
            .show_if("sandbox", 0)
            .help("Ctrl-L lists the subscriptions the credential sees, then their managed instances"),
        Field::text("group", "Resource group", &v.resource_group)
            .show_if("sandbox", 0)
            .help("Ctrl-L picks the instance (it fills the group)"),
        Field::text("instance", "Managed instance", &v.managed_instance)
            .show_if("sandbox", 0)
            .help("the instance name (mi-contoso), not its host name; Ctrl-L lists them"),
        Field::text("sql_server", "Instance SQL endpoint", &opt(&c.sql_server))
            .show_if("sandbox", 0)
            .help("HOST,PORT of the instance's SQL side (filled from the picked instance): cutover checks the login, the names and the tier before the upload, and each database after completion; empty: no check"),
        Field::text("sql_user", "Instance SQL user", &opt(&c.sql_user))
            .show_if("sandbox", 0)
            .help("a SQL login of the instance (sysadmin, to restore and to read every database)"),
        Field::text(
            "sql_password_env",
            "SQL password variable",
            c.sql_password_env.as_deref().unwrap_or(DEFAULT_SQL_PASSWORD_ENV),
        )
        .show_if("sandbox", 0)
        .names_env()
        .help("the environment variable holding that login's password (never typed here nor saved)"),
    ])
}

/// The variable the instance's SQL password is read from when none is named.
pub const DEFAULT_SQL_PASSWORD_ENV: &str = "CUTOVER_MI_PASSWORD";

/// The `[target] sql_server / sql_user / sql_password_env` the screen gives (None when empty;
/// no password variable without a server). Err names the field.
/// `[target] sql_server`, `sql_user`, `sql_password_env`.
pub type SqlKeys = (Option<String>, Option<String>, Option<String>);

pub fn sql_keys(f: &Form) -> Result<SqlKeys, String> {
    if f.on("sandbox") {
        return Ok((None, None, None));
    }
    let some = |k: &str| Some(f.trimmed(k)).filter(|s| !s.is_empty());
    let server = some("sql_server");
    if server.is_none() {
        return Ok((None, some("sql_user"), None));
    }
    if server
        .as_deref()
        .is_some_and(|s| s.contains("://") || s.contains(' '))
    {
        return Err("Instance SQL endpoint: HOST,PORT such as mi-contoso.0123abcd.database.windows.net,1433".to_string());
    }
    let user = some("sql_user");
    if user.is_none() {
        return Err(
            "Instance SQL user: required with the SQL endpoint (or empty the endpoint: no check)"
                .to_string(),
        );
    }
    let env = f.trimmed("sql_password_env");
    if env.is_empty() || !env.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "SQL password variable: an environment variable name such as {DEFAULT_SQL_PASSWORD_ENV}"
        ));
    }
    Ok((server, user, Some(env)))
}

/// The ARM endpoint typed (empty: Azure's), refused unless https (or http on this machine: the
/// sandbox), as the LRS client would.
fn arm_endpoint(f: &Form) -> Result<String, String> {
    if !f.on("advanced") {
        return Ok(String::new());
    }
    let arm = f.trimmed("arm").trim_end_matches('/').to_string();
    if arm.is_empty() {
        return Ok(arm);
    }
    match url::Url::parse(&arm) {
        Ok(u) if u.scheme() == "https" && u.host_str().is_some() => Ok(arm),
        Ok(u) if u.scheme() == "http" && is_local_endpoint(&arm) => Ok(arm),
        _ => Err(format!(
            "ARM endpoint: https://... such as {DEFAULT_ARM_ENDPOINT} (http:// only for a sandbox on this machine), or empty"
        )),
    }
}

fn guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

fn credential(f: &Form) -> TargetCredential {
    match f.choice("credential") {
        0 => TargetCredential::ServicePrincipal,
        2 => TargetCredential::ManagedIdentity,
        3 => TargetCredential::WorkloadIdentity,
        4 => TargetCredential::Auto,
        _ => TargetCredential::AzureCli,
    }
}

/// The service principal's fields, checked (they sign in for the lists as for the run).
fn check_service_principal(f: &Form, arm: &str) -> Result<(), String> {
    if credential(f) == TargetCredential::ServicePrincipal && !is_local_endpoint(arm) {
        if !guid(&f.trimmed("tenant")) {
            return Err("Tenant ID: a GUID is required for a service principal".to_string());
        }
        if f.trimmed("app").is_empty() {
            return Err("Application (client) ID: required for a service principal".to_string());
        }
        if f.text("secret").is_empty() {
            return Err("Client secret: required for a service principal".to_string());
        }
    }
    Ok(())
}

/// The screen's values as they stand (the credential and ARM endpoint checked, the names not):
/// what the lists are read with.
pub fn read(f: &Form, v: &TargetForm) -> Result<TargetForm, String> {
    let sandbox = f.on("sandbox");
    let arm = arm_endpoint(f)?;
    if !sandbox {
        check_service_principal(f, &arm)?;
    }
    Ok(TargetForm {
        sandbox,
        subscription: f.trimmed("subscription"),
        resource_group: f.trimmed("group"),
        managed_instance: f.trimmed("instance"),
        credential: credential(f),
        tenant_id: f.trimmed("tenant"),
        app_id: f.trimmed("app"),
        client_secret: SecretText(f.text("secret").to_string()),
        // The file named its endpoint the sandbox: kept while the endpoint is the same one.
        arm_sandbox: v.arm_sandbox && !sandbox && arm == v.arm_endpoint,
        arm_endpoint: if sandbox { v.arm_endpoint.clone() } else { arm },
    })
}

pub fn apply(f: &Form, v: &mut TargetForm) -> Result<(), String> {
    let sandbox = f.on("sandbox");
    let arm = arm_endpoint(f)?;
    if !sandbox {
        let sub = f.trimmed("subscription");
        if sub.is_empty() {
            return Err("Subscription ID: required".to_string());
        }
        if !guid(&sub) {
            return Err(
                "Subscription ID: a GUID such as 00000000-0000-0000-0000-000000000000".to_string(),
            );
        }
        if f.trimmed("group").is_empty() {
            return Err("Resource group: required".to_string());
        }
        let mi = f.trimmed("instance");
        if mi.is_empty() {
            return Err("Managed instance: required".to_string());
        }
        if mi.contains('.') {
            return Err("Managed instance: the name only, not the host name".to_string());
        }
        check_service_principal(f, &arm)?;
    }
    sql_keys(f)?;
    *v = read(f, v)?;
    Ok(())
}

pub fn render(frame: &mut Frame, area: Rect, s: &WizardState, theme: Theme) {
    let [form_area, info] =
        Layout::vertical([Constraint::Min(6), Constraint::Length(4)]).areas(area);
    super::form::render(frame, form_area, &s.target, &s.env, theme);
    let mut lines = Vec::new();
    if let Some(i) = s
        .azure
        .instance
        .as_ref()
        .filter(|i| i.name == s.target.trimmed("instance") && !s.target.on("sandbox"))
    {
        let mut spans = vec![
            Span::styled("Picked: ", theme.title()),
            Span::raw(format!("{} ({})", i.name, i.describe())),
        ];
        if let Some(p) = i.public_sql_endpoint() {
            spans.push(Span::styled(
                format!("; from outside its network: {p}"),
                theme.dim(),
            ));
        }
        if !i.state.eq_ignore_ascii_case("Ready") {
            spans.push(Span::styled(
                format!(
                    " - {}: LRS restores only to a Ready instance; start it first",
                    i.state
                ),
                theme.warn(),
            ));
        }
        lines.push(Line::from(spans));
    }
    lines.push(job_line(
        &s.target_test,
        if s.target.on("sandbox") {
            "Test connection (Ctrl-T)"
        } else {
            "Test connection (Ctrl-T); Ctrl-L picks the subscription and instance from lists"
        },
        s.tick,
        theme,
        |r| format!("Connected: {r}"),
    ));
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), info);
}
