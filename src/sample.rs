//! The sample snapshots of `cutover_core::sample` (deterministic, for snapshot tests, the render
//! benchmark and demonstrations), and the wizard's sample values (the wizard's types live in the
//! `cutover-tui` crate, which the core does not know).

pub use cutover_core::sample::*;

/// Wizard values as a config file would prefill them (secrets included, as typed).
pub fn wizard_values() -> crate::tui::wizard::WizardValues {
    use crate::tui::wizard::{SecretText, WizardValues};
    let mut v = WizardValues {
        activity: "contoso-2026-03".to_string(),
        ..Default::default()
    };
    v.source.server = "sql01.contoso.local".to_string();
    v.source.user = "migrator".to_string();
    v.source.password = SecretText("s3cret!".to_string());
    v.target.subscription = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0".to_string();
    v.target.resource_group = "rg-migration".to_string();
    v.target.managed_instance = "mi-contoso".to_string();
    v.databases = vec!["sales".to_string(), "legacy".to_string()];
    v.settings.backup_folder = "/backups".to_string();
    v.settings.container_url = "https://contosomig.blob.core.windows.net/migration".to_string();
    v.settings.sas_token = SecretText("sv=2024-11-04&sp=rcwl&sig=abc".to_string());
    v.settings.mi_sas_token = SecretText("sv=2024-11-04&sp=rl&sig=def".to_string());
    v
}
