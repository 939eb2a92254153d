//! The operator's mapping of Windows logins and groups to Microsoft Entra principals
//! (`[[logins.map]] windows = "CONTOSO\\app" entra = "app@contoso.com"`, or `--map
//! 'CONTOSO\app=app@contoso.com'`): Managed Instance has no Windows logins, so each one is created
//! `FROM EXTERNAL PROVIDER` under its Entra name, or skipped with a finding when it has no entry.

use serde::{Deserialize, Serialize};

/// One `[[logins.map]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EntraMap {
    /// The Windows login or group as the source names it (`DOMAIN\name`).
    pub windows: String,
    /// The Entra user, group or application (`app@contoso.com`, a group's display name).
    pub entra: String,
}

/// Every entry, checked: no empty names, no Windows name mapped twice to different principals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntraMapping(Vec<EntraMap>);

impl EntraMapping {
    /// Checks the entries; `origin` names where they came from for the error
    /// (`[[logins.map]] in cutover.toml`, `--map`).
    pub fn new(entries: Vec<EntraMap>, origin: &str) -> Result<Self, String> {
        for (i, e) in entries.iter().enumerate() {
            if e.windows.trim().is_empty() || e.entra.trim().is_empty() {
                return Err(format!(
                    "{origin}: entry {} has an empty windows or entra name; write windows = \"DOMAIN\\\\name\" entra = \"name@tenant\"",
                    i + 1
                ));
            }
            if !e.windows.contains('\\') {
                return Err(format!(
                    "{origin}: windows = \"{}\" is not a Windows name (DOMAIN\\name); give the login as the source lists it (cutover logins list)",
                    e.windows
                ));
            }
            if let Some(other) = entries[..i]
                .iter()
                .find(|o| o.windows.eq_ignore_ascii_case(&e.windows) && o.entra != e.entra)
            {
                return Err(format!(
                    "{origin}: {} is mapped twice, to {} and to {}; keep one entry",
                    e.windows, other.entra, e.entra
                ));
            }
        }
        Ok(EntraMapping(entries))
    }

    /// Reads `WINDOWS=ENTRA` (the `--map` flag's form).
    pub fn parse_pair(s: &str) -> Result<EntraMap, String> {
        match s.rsplit_once('=') {
            Some((w, e)) if !w.trim().is_empty() && !e.trim().is_empty() => Ok(EntraMap {
                windows: w.trim().to_string(),
                entra: e.trim().to_string(),
            }),
            _ => Err(format!(
                "--map '{s}': write --map 'DOMAIN\\name=name@tenant' (the Windows login, '=', the Entra principal)"
            )),
        }
    }

    /// Adds entries (flags after the file's); the same checks apply.
    pub fn extend(self, more: Vec<EntraMap>, origin: &str) -> Result<Self, String> {
        let mut all = self.0;
        all.extend(more);
        EntraMapping::new(all, origin)
    }

    /// The Entra principal a Windows login maps to (Windows names are case-insensitive).
    pub fn entra_for(&self, windows: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|e| e.windows.eq_ignore_ascii_case(windows))
            .map(|e| e.entra.as_str())
    }

    pub fn entries(&self) -> &[EntraMap] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(w: &str, e: &str) -> EntraMap {
        EntraMap {
            windows: w.into(),
            entra: e.into(),
        }
    }

    #[test]
    fn looks_up_case_insensitively_and_refuses_bad_entries() {
        let map = EntraMapping::new(vec![m("CONTOSO\\app", "app@contoso.com")], "test").unwrap();
        assert_eq!(map.entra_for("contoso\\APP"), Some("app@contoso.com"));
        assert_eq!(map.entra_for("CONTOSO\\other"), None);
        let e = EntraMapping::new(vec![m("app", "a@b")], "[[logins.map]]").unwrap_err();
        assert!(
            e.contains("[[logins.map]]") && e.contains("DOMAIN\\name"),
            "{e}"
        );
        let e = EntraMapping::new(vec![m("D\\a", "x"), m("d\\A", "y")], "f").unwrap_err();
        assert!(e.contains("mapped twice"), "{e}");
        assert!(EntraMapping::new(vec![m("D\\a", " ")], "f").is_err());
        assert_eq!(
            EntraMapping::parse_pair("CONTOSO\\app=app@contoso.com").unwrap(),
            m("CONTOSO\\app", "app@contoso.com")
        );
        assert!(EntraMapping::parse_pair("CONTOSO\\app").is_err());
    }
}
