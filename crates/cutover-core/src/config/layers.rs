//! The layers of the configuration: flag > environment > file > default. Each layer is written
//! into one TOML table keyed like the file (`[migration] max_mbps`), so the merged result is read
//! by the same serde shape ([`ConfigFile`]) and refused the same way; beside it, [`Origins`]
//! remembers which flag or environment variable gave each key, so an error names the key AND where
//! its value came from: `[migration] max_mbps (from CUTOVER_MAX_MBPS) = -3: must be > 0`.
//!
//! The environment layer ([`ENVIRONMENT`]) holds the non-secret keys only; secrets stay in the
//! variables the file names (`password_env`, `sas_env`, ...), never in a layer.

use std::collections::BTreeMap;

use super::file::ConfigFile;

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layer {
    /// A command-line flag, e.g. `--activity`.
    Flag(String),
    /// An environment variable, e.g. `CUTOVER_MAX_MBPS`.
    Env(String),
    /// The configuration file.
    File,
    /// Not set anywhere: the default.
    Default,
}

/// Which layer gave each key (`[section] key`) that did not come from the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origins {
    by_key: BTreeMap<String, Layer>,
}

impl Origins {
    /// The layer of `key` as `[section] key`; a key not recorded came from the file (or is unset).
    pub fn layer(&self, key: &str) -> Layer {
        self.by_key.get(key).cloned().unwrap_or(Layer::File)
    }

    /// `key` as errors name it: `[migration] max_mbps`, or with its layer when a flag or the
    /// environment gave it: `[migration] max_mbps (from CUTOVER_MAX_MBPS)`.
    pub fn name(&self, key: &str) -> String {
        match self.by_key.get(key) {
            Some(Layer::Flag(f)) | Some(Layer::Env(f)) => format!("{key} (from {f})"),
            _ => key.to_string(),
        }
    }

    /// Whether a flag gave `key`.
    pub fn is_flag(&self, key: &str) -> bool {
        matches!(self.by_key.get(key), Some(Layer::Flag(_)))
    }

    fn set(&mut self, key: String, layer: Layer) {
        self.by_key.insert(key, layer);
    }
}

/// The merged configuration and where each value came from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layered {
    pub file: ConfigFile,
    pub origins: Origins,
}

impl Layered {
    /// The file alone (no environment, no flags): what the wizard and the tests give.
    pub fn file_only(file: &ConfigFile) -> Layered {
        Layered {
            file: file.clone(),
            origins: Origins::default(),
        }
    }
}

/// How an environment variable's text becomes a TOML value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    /// A whole number >= 0.
    Whole,
    /// Any number (`4`, `0.5`).
    Number,
    /// `true` / `false` (also `1` / `0`, `yes` / `no`).
    Bool,
    /// Comma-separated words, e.g. `Sales,HR`.
    List,
}

/// A non-secret key the environment may set.
#[derive(Debug, Clone, Copy)]
pub struct EnvKey {
    pub var: &'static str,
    pub section: &'static str,
    pub key: &'static str,
    pub kind: Kind,
}

const fn env(var: &'static str, section: &'static str, key: &'static str, kind: Kind) -> EnvKey {
    EnvKey {
        var,
        section,
        key,
        kind,
    }
}

/// The environment layer of `cutover run` (documented in config.sample.toml and the README). The
/// names of `cutover lrs`'s own variables (`CUTOVER_RESOURCE_GROUP`, `CUTOVER_MANAGED_INSTANCE`,
/// `CUTOVER_ARM_ENDPOINT`) mean the same keys here.
pub const ENVIRONMENT: &[EnvKey] = &[
    env("CUTOVER_SOURCE_SERVER", "source", "server", Kind::Text),
    env("CUTOVER_SOURCE_USER", "source", "user", Kind::Text),
    env("CUTOVER_BACKUP_FOLDER", "backups", "folder", Kind::Text),
    env("CUTOVER_SMB_USER", "backups", "smb_user", Kind::Text),
    env("CUTOVER_SUBSCRIPTION", "target", "subscription", Kind::Text),
    env(
        "CUTOVER_RESOURCE_GROUP",
        "target",
        "resource_group",
        Kind::Text,
    ),
    env(
        "CUTOVER_MANAGED_INSTANCE",
        "target",
        "managed_instance",
        Kind::Text,
    ),
    env(
        "CUTOVER_TARGET_SQL_SERVER",
        "target",
        "sql_server",
        Kind::Text,
    ),
    env("CUTOVER_TARGET_SQL_USER", "target", "sql_user", Kind::Text),
    env("CUTOVER_ARM_ENDPOINT", "target", "arm_endpoint", Kind::Text),
    env("CUTOVER_CREDENTIAL", "target", "credential", Kind::Text),
    env("CUTOVER_CONTAINER", "storage", "container", Kind::Text),
    env("CUTOVER_ACTIVITY", "migration", "activity", Kind::Text),
    env("CUTOVER_DATABASES", "migration", "databases", Kind::List),
    env("CUTOVER_CUTOVER", "migration", "cutover", Kind::Text),
    env("CUTOVER_TAIL", "migration", "tail", Kind::Text),
    env(
        "CUTOVER_STOP_TRAFFIC",
        "migration",
        "stop_traffic",
        Kind::Text,
    ),
    env(
        "CUTOVER_CONCURRENCY",
        "migration",
        "concurrency",
        Kind::Whole,
    ),
    env("CUTOVER_MAX_MBPS", "migration", "max_mbps", Kind::Number),
    env(
        "CUTOVER_SCAN_SECONDS",
        "migration",
        "scan_seconds",
        Kind::Number,
    ),
    env(
        "CUTOVER_POLL_SECONDS",
        "migration",
        "poll_seconds",
        Kind::Number,
    ),
    env("CUTOVER_STATE_DIR", "migration", "state_dir", Kind::Text),
];

/// `[section] key`, as errors name a key.
pub fn key_name(section: &str, key: &str) -> String {
    format!("[{section}] {key}")
}

/// Builds the layers from the lowest up: the file, then the environment, then the flags.
#[derive(Debug, Clone)]
pub struct Layers {
    table: toml::Table,
    origins: Origins,
}

impl Layers {
    /// The file's layer (defaults are applied where values are read: an unset key stays unset).
    pub fn file(file: &ConfigFile) -> Result<Layers, String> {
        let table = toml::Table::try_from(file)
            .map_err(|e| format!("the configuration cannot be layered: {e}"))?;
        Ok(Layers {
            table,
            origins: Origins::default(),
        })
    }

    /// Puts the environment layer on top: each variable of [`ENVIRONMENT`] that `lookup` finds
    /// non-empty. A value that is not of its key's kind is refused naming both.
    pub fn environment(
        mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Layers, String> {
        for k in ENVIRONMENT {
            let Some(text) = lookup(k.var).filter(|t| !t.trim().is_empty()) else {
                continue;
            };
            let value = env_value(k, text.trim())?;
            self.put(k.section, k.key, value, Layer::Env(k.var.to_string()));
        }
        Ok(self)
    }

    /// Puts one flag's value on top (`flag`: how the command line spells it, e.g. `--activity`).
    pub fn flag(mut self, section: &str, key: &str, value: toml::Value, flag: &str) -> Layers {
        self.put(section, key, value, Layer::Flag(flag.to_string()));
        self
    }

    fn put(&mut self, section: &str, key: &str, value: toml::Value, layer: Layer) {
        let entry = self
            .table
            .entry(section.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        if let toml::Value::Table(t) = entry {
            t.insert(key.to_string(), value);
        }
        self.origins.set(key_name(section, key), layer);
    }

    /// The merged configuration, read by the file's serde shape (a value of the wrong type from a
    /// layer is refused naming the key and the layer).
    pub fn finish(self) -> Result<Layered, String> {
        let origins = self.origins;
        // Through the text, so toml's error points at the line of the key refused.
        let text = toml::to_string(&self.table)
            .map_err(|e| format!("the configuration cannot be layered: {e}"))?;
        let file: ConfigFile = toml::from_str(&text).map_err(|e: toml::de::Error| {
            let msg = e.message().trim().to_string();
            match e.span().and_then(|s| key_at(&text, s.start)) {
                Some(key) => format!("{} = {}: {msg}", origins.name(&key.0), key.1),
                None => msg,
            }
        })?;
        Ok(Layered { file, origins })
    }
}

/// The `[section] key` and the value text of the line holding byte `at` of `text`.
fn key_at(text: &str, at: usize) -> Option<(String, String)> {
    let before = text.get(..at.min(text.len()))?;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = text.get(line_start..)?.lines().next()?;
    let (key, value) = line.split_once(" = ")?;
    let section = before
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix('[').and_then(|l| l.strip_suffix(']')))
        .unwrap_or("");
    Some((
        key_name(section.trim_matches(['[', ']']), key.trim()),
        value.trim().to_string(),
    ))
}

fn env_value(k: &EnvKey, text: &str) -> Result<toml::Value, String> {
    let bad = |what: &str| {
        format!(
            "{} (from {}) = {text:?}: {what}",
            key_name(k.section, k.key),
            k.var
        )
    };
    Ok(match k.kind {
        Kind::Text => toml::Value::String(text.to_string()),
        Kind::Whole => {
            let n: u32 = text
                .parse()
                .map_err(|_| bad("must be a whole number >= 0"))?;
            toml::Value::Integer(i64::from(n))
        }
        Kind::Number => {
            let n: f64 = text.parse().map_err(|_| bad("must be a number"))?;
            toml::Value::Float(n)
        }
        Kind::Bool => match text.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => toml::Value::Boolean(true),
            "false" | "0" | "no" => toml::Value::Boolean(false),
            _ => return Err(bad("must be true or false")),
        },
        Kind::List => toml::Value::Array(
            text.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_string()))
                .collect(),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    fn file(text: &str) -> ConfigFile {
        ConfigFile::parse(text).unwrap()
    }

    #[test]
    fn flag_beats_environment_beats_file_beats_default() {
        let f = file("[migration]\nactivity = \"from-file\"\nconcurrency = 2\ntail = \"skip\"\n");
        let env = vars(&[
            ("CUTOVER_ACTIVITY", "from-env"),
            ("CUTOVER_CONCURRENCY", "8"),
            ("CUTOVER_MAX_MBPS", "50"),
        ]);
        let l = Layers::file(&f)
            .unwrap()
            .environment(&env)
            .unwrap()
            .flag(
                "migration",
                "activity",
                toml::Value::String("from-flag".into()),
                "--activity",
            )
            .finish()
            .unwrap();
        let m = l.file.migration.clone().unwrap();
        // flag > env
        assert_eq!(m.activity.as_deref(), Some("from-flag"));
        assert_eq!(
            l.origins.layer("[migration] activity"),
            Layer::Flag("--activity".into())
        );
        // env > file
        assert_eq!(m.concurrency, Some(8));
        assert_eq!(
            l.origins.layer("[migration] concurrency"),
            Layer::Env("CUTOVER_CONCURRENCY".into())
        );
        // env > default
        assert_eq!(m.max_mbps, Some(50.0));
        // file > default
        assert_eq!(m.tail.as_deref(), Some("skip"));
        assert_eq!(l.origins.layer("[migration] tail"), Layer::File);
        // default: unset
        assert_eq!(m.poll_seconds, None);
        // Without env and flags, the file alone.
        let alone = Layers::file(&f)
            .unwrap()
            .environment(vars(&[]))
            .unwrap()
            .finish()
            .unwrap();
        assert_eq!(alone, Layered::file_only(&f));
    }

    #[test]
    fn errors_name_the_key_and_the_layer() {
        let f = ConfigFile::default();
        let e = Layers::file(&f)
            .unwrap()
            .environment(vars(&[("CUTOVER_CONCURRENCY", "-3")]))
            .unwrap_err();
        assert_eq!(
            e,
            "[migration] concurrency (from CUTOVER_CONCURRENCY) = \"-3\": must be a whole number >= 0"
        );
        let e = Layers::file(&f)
            .unwrap()
            .environment(vars(&[("CUTOVER_MAX_MBPS", "fast")]))
            .unwrap_err();
        assert!(
            e.starts_with("[migration] max_mbps (from CUTOVER_MAX_MBPS)"),
            "{e}"
        );
        let l = Layers::file(&f)
            .unwrap()
            .environment(vars(&[("CUTOVER_MAX_MBPS", "-3")]))
            .unwrap()
            .finish()
            .unwrap();
        assert_eq!(
            l.origins.name("[migration] max_mbps"),
            "[migration] max_mbps (from CUTOVER_MAX_MBPS)"
        );
        assert_eq!(l.origins.name("[migration] tail"), "[migration] tail");
        // A flag of the wrong type for the file's shape names the flag.
        let e = Layers::file(&f)
            .unwrap()
            .flag(
                "target",
                "sandbox",
                toml::Value::String("yes".into()),
                "--sandbox",
            )
            .finish()
            .unwrap_err();
        assert!(e.contains("--sandbox"), "{e}");
    }

    #[test]
    fn empty_variables_are_not_a_layer_and_lists_split() {
        let l = Layers::file(&ConfigFile::default())
            .unwrap()
            .environment(vars(&[
                ("CUTOVER_ACTIVITY", "  "),
                ("CUTOVER_DATABASES", "Sales, HR"),
            ]))
            .unwrap()
            .finish()
            .unwrap();
        let m = l.file.migration.unwrap();
        assert_eq!(m.activity, None);
        assert_eq!(
            m.databases,
            Some(vec!["Sales".to_string(), "HR".to_string()])
        );
    }
}
