//! Screen 2, Target: subscription, resource group, managed instance, credential, the ARM endpoint
//! (Advanced), or the sandbox.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::{Paragraph, Wrap};

use super::form::{Field, Form};
use super::values::{SecretText, TargetCredential, TargetForm};
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

pub fn form(v: &TargetForm) -> Form {
    let cred = match v.credential {
        TargetCredential::ServicePrincipal => 0,
        TargetCredential::AzureCli => 1,
        TargetCredential::ManagedIdentity => 2,
        TargetCredential::WorkloadIdentity => 3,
        TargetCredential::Auto => 4,
    };
    Form::new(vec![
        Field::toggle("sandbox", "Sandbox (no Azure)", v.sandbox).help(
            "the project's local managed instance and blob service: try everything without Azure",
        ),
        Field::text("subscription", "Subscription ID", &v.subscription).show_if("sandbox", 0),
        Field::text("group", "Resource group", &v.resource_group).show_if("sandbox", 0),
        Field::text("instance", "Managed instance", &v.managed_instance)
            .show_if("sandbox", 0)
            .help("the instance name (mi-contoso), not its host name"),
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
    ])
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

pub fn apply(f: &Form, v: &mut TargetForm) -> Result<(), String> {
    let sandbox = f.on("sandbox");
    let credential = match f.choice("credential") {
        0 => TargetCredential::ServicePrincipal,
        2 => TargetCredential::ManagedIdentity,
        3 => TargetCredential::WorkloadIdentity,
        4 => TargetCredential::Auto,
        _ => TargetCredential::AzureCli,
    };
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
        if credential == TargetCredential::ServicePrincipal && !is_local_endpoint(&arm) {
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
    }
    *v = TargetForm {
        sandbox,
        subscription: f.trimmed("subscription"),
        resource_group: f.trimmed("group"),
        managed_instance: f.trimmed("instance"),
        credential,
        tenant_id: f.trimmed("tenant"),
        app_id: f.trimmed("app"),
        client_secret: SecretText(f.text("secret").to_string()),
        // The file named its endpoint the sandbox: kept while the endpoint is the same one.
        arm_sandbox: v.arm_sandbox && !sandbox && arm == v.arm_endpoint,
        arm_endpoint: if sandbox { v.arm_endpoint.clone() } else { arm },
    };
    Ok(())
}

pub fn render(frame: &mut Frame, area: Rect, s: &WizardState, theme: Theme) {
    let [form_area, info] =
        Layout::vertical([Constraint::Min(6), Constraint::Length(5)]).areas(area);
    super::form::render(frame, form_area, &s.target, &s.env, theme);
    let line = job_line(
        &s.target_test,
        "Test connection (Ctrl-T)",
        s.tick,
        theme,
        |r| format!("Connected: {r}"),
    );
    frame.render_widget(Paragraph::new(line).wrap(Wrap { trim: true }), info);
}
