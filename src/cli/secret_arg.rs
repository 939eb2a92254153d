//! Secrets given to a command: from `--X-env VAR` (the form to use), from the flag itself (kept
//! working, with a warning: process arguments are visible to every user through `ps`), or from the
//! command's default environment variable.

/// One secret-taking option of a command.
pub struct SecretArg<'a> {
    /// The flag that takes the secret itself, e.g. `--sas`.
    pub flag: &'static str,
    /// Its value, when given on the command line.
    pub value: Option<&'a str>,
    /// The flag that names an environment variable instead, e.g. `--sas-env`.
    pub env_flag: &'static str,
    /// The variable named with `env_flag`.
    pub env_name: Option<&'a str>,
    /// The variable read when neither flag is given, e.g. `CUTOVER_STORAGE_SAS`.
    pub default_env: &'static str,
}

/// Where a secret came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// The command line (visible in the process list).
    CommandLine,
    /// This environment variable.
    Env(String),
}

impl SecretArg<'_> {
    /// The secret and where it came from (`None` when it was not given at all); a warning is printed
    /// on stderr when it came on the command line.
    pub fn resolve(&self) -> Result<Option<(String, SecretSource)>, String> {
        let resolved = self.resolve_quietly()?;
        if let Some((_, SecretSource::CommandLine)) = &resolved {
            eprintln!("warning: {}", self.command_line_warning());
        }
        Ok(resolved)
    }

    /// As `resolve`, without printing.
    pub fn resolve_quietly(&self) -> Result<Option<(String, SecretSource)>, String> {
        match (self.value, self.env_name) {
            (Some(_), Some(_)) => Err(format!(
                "give only one of {} and {}",
                self.flag, self.env_flag
            )),
            (None, Some(var)) => read_env(var)
                .map(|v| Some((v, SecretSource::Env(var.to_string()))))
                .ok_or_else(|| {
                    format!(
                        "{} {var}: the environment variable {var} is not set or empty (export it first)",
                        self.env_flag
                    )
                }),
            (Some(v), None) => Ok(Some((v.to_string(), SecretSource::CommandLine))),
            (None, None) => Ok(read_env(self.default_env)
                .map(|v| (v, SecretSource::Env(self.default_env.to_string())))),
        }
    }

    /// How to name where the secret came from in a message, e.g. `--sas-env MY_SAS`.
    pub fn label(&self, source: &SecretSource) -> String {
        match source {
            SecretSource::CommandLine => self.flag.to_string(),
            SecretSource::Env(var) if var == self.default_env => format!("${var}"),
            SecretSource::Env(var) => format!("{} {var}", self.env_flag),
        }
    }

    /// What to say when the secret came on the command line.
    pub fn command_line_warning(&self) -> String {
        format!(
            "{} puts the secret in the process arguments, where `ps` shows it to every user of this machine (and shell history keeps it); export it and give {} VAR instead (or set {})",
            self.flag, self.env_flag, self.default_env
        )
    }
}

/// The warning for a SAS found in a URL given on the command line; `instead` says where the SAS
/// belongs (e.g. "the SAS with --sas-env VAR").
pub fn sas_in_url_warning(url_flag: &str, instead: &str) -> String {
    format!(
        "the {url_flag} URL carries a SAS token, which puts it in the process arguments where `ps` shows it to every user of this machine; give the URL without '?...' and {instead}"
    )
}

fn read_env(var: &str) -> Option<String> {
    std::env::var(var)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arg<'a>(value: Option<&'a str>, env_name: Option<&'a str>) -> SecretArg<'a> {
        SecretArg {
            flag: "--sas",
            value,
            env_flag: "--sas-env",
            env_name,
            default_env: "CUTOVER_TEST_SECRET_ARG_DEFAULT_UNSET",
        }
    }

    #[test]
    fn env_form_command_line_form_and_conflicts() {
        // PATH is set in every test environment; its value stands for a secret here.
        let path = std::env::var("PATH").expect("PATH");
        assert_eq!(
            arg(None, Some("PATH")).resolve_quietly(),
            Ok(Some((
                path.trim().to_string(),
                SecretSource::Env("PATH".into())
            )))
        );
        assert_eq!(
            arg(Some("sig=x"), None).resolve_quietly(),
            Ok(Some(("sig=x".into(), SecretSource::CommandLine)))
        );
        assert_eq!(arg(None, None).resolve_quietly(), Ok(None));
        let both = arg(Some("sig=x"), Some("PATH"))
            .resolve_quietly()
            .expect_err("both");
        assert!(
            both.contains("--sas") && both.contains("--sas-env"),
            "{both}"
        );
        let missing = arg(None, Some("CUTOVER_TEST_SECRET_ARG_UNSET"))
            .resolve_quietly()
            .expect_err("unset");
        assert!(
            missing.contains("--sas-env CUTOVER_TEST_SECRET_ARG_UNSET"),
            "{missing}"
        );
        let w = arg(Some("sig=x"), None).command_line_warning();
        assert!(w.contains("ps") && w.contains("--sas-env VAR"), "{w}");
        assert!(!w.contains("sig=x"));
    }
}
