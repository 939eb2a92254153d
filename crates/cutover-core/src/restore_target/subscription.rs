//! Which Azure subscription a command uses when `--subscription` is not given, as the Azure CLI
//! does: `AZURE_SUBSCRIPTION_ID`, else the CLI's default subscription (`isDefault` in
//! `azureProfile.json`, under `AZURE_CONFIG_DIR` or `~/.azure`), read from the file: no `az` process.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A subscription and where it came from (said to the operator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChosenSubscription {
    pub id: String,
    /// e.g. "--subscription", "AZURE_SUBSCRIPTION_ID", "the Azure CLI's default subscription 'Prod' (...)".
    pub source: String,
}

#[derive(Deserialize)]
struct Profile {
    #[serde(default)]
    subscriptions: Vec<ProfileSubscription>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProfileSubscription {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    is_default: bool,
}

/// The Azure CLI's profile file: `$AZURE_CONFIG_DIR/azureProfile.json`, else `~/.azure/azureProfile.json`.
pub fn azure_cli_profile_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("AZURE_CONFIG_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("azureProfile.json"));
    }
    directories::BaseDirs::new().map(|b| b.home_dir().join(".azure").join("azureProfile.json"))
}

/// The default subscription in an Azure CLI profile file (`None` when the file does not exist).
pub fn default_in_profile(path: &Path) -> Result<Option<ChosenSubscription>, String> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(format!(
                "{}: cannot read the Azure CLI profile: {e}",
                path.display()
            ));
        }
    };
    // The Azure CLI writes the file with a UTF-8 byte-order mark.
    let text = String::from_utf8_lossy(&bytes);
    let text = text.trim_start_matches('\u{feff}');
    let profile: Profile = serde_json::from_str(text).map_err(|e| {
        format!(
            "{}: not an Azure CLI profile ({e}); give --subscription ID or run `az login`",
            path.display()
        )
    })?;
    Ok(profile
        .subscriptions
        .into_iter()
        .find(|s| s.is_default)
        .map(|s| ChosenSubscription {
            source: format!(
                "the Azure CLI's default subscription '{}' ({})",
                s.name,
                path.display()
            ),
            id: s.id,
        }))
}

/// `--subscription`, else `AZURE_SUBSCRIPTION_ID`, else the Azure CLI's default subscription.
pub fn choose_subscription(
    flag: Option<&str>,
    env: Option<&str>,
    profile: Option<&Path>,
) -> Result<ChosenSubscription, String> {
    let given = |v: Option<&str>| {
        v.map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    if let Some(id) = given(flag) {
        return Ok(ChosenSubscription {
            id,
            source: "--subscription".into(),
        });
    }
    if let Some(id) = given(env) {
        return Ok(ChosenSubscription {
            id,
            source: "AZURE_SUBSCRIPTION_ID".into(),
        });
    }
    if let Some(path) = profile
        && let Some(chosen) = default_in_profile(path)?
    {
        return Ok(chosen);
    }
    Err(format!(
        "no subscription: give --subscription ID, set AZURE_SUBSCRIPTION_ID, or choose a default with `az account set --subscription ID` (looked for {})",
        profile.map_or_else(
            || "an Azure CLI profile".to_string(),
            |p| p.display().to_string()
        )
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROFILE: &str = "\u{feff}{\"installationId\": \"x\", \"subscriptions\": [\
        {\"id\": \"1111\", \"name\": \"Dev\", \"isDefault\": false, \"state\": \"Enabled\"},\
        {\"id\": \"2222\", \"name\": \"Prod\", \"isDefault\": true, \"state\": \"Enabled\", \"user\": {\"name\": \"a@b\", \"type\": \"user\"}}]}";

    #[test]
    fn flag_then_environment_then_the_azure_cli_default() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("azureProfile.json");
        std::fs::write(&path, PROFILE).expect("write");
        let p = Some(path.as_path());
        let c = choose_subscription(Some("9999"), Some("8888"), p).expect("flag");
        assert_eq!(
            (c.id.as_str(), c.source.as_str()),
            ("9999", "--subscription")
        );
        let c = choose_subscription(None, Some("8888"), p).expect("env");
        assert_eq!(
            (c.id.as_str(), c.source.as_str()),
            ("8888", "AZURE_SUBSCRIPTION_ID")
        );
        let c = choose_subscription(None, Some(" "), p).expect("profile");
        assert_eq!(c.id, "2222");
        assert!(
            c.source.contains("'Prod'") && c.source.contains("azureProfile.json"),
            "{}",
            c.source
        );
        // No default anywhere: the error says the three ways.
        let e = choose_subscription(None, None, Some(&dir.path().join("none.json")))
            .expect_err("nothing");
        assert!(
            e.contains("--subscription")
                && e.contains("AZURE_SUBSCRIPTION_ID")
                && e.contains("az account set"),
            "{e}"
        );
        std::fs::write(&path, "{not json").expect("write");
        let e = choose_subscription(None, None, p).expect_err("garbage");
        assert!(e.contains("azureProfile.json"), "{e}");
    }
}
