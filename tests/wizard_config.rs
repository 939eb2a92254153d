//! The wizard's values as a configuration file and as the engine's configuration: the file the
//! Summary saves (Ctrl-S) parses with the config loader, `config::engine_config` accepts it with the
//! values the wizard had, no secret is in it, an existing file is never replaced without the
//! second confirmation; the wizard's own migration goes through the same mapping; and `cutover`
//! without a terminal says what to use instead.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches: a failed unwrap fails the run

mod common;

use common::tmux::Tmux;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use azure_core::credentials::Secret;
use cutover::cli::wizard::{self, Backend};
use cutover::config::ConfigFile;
use cutover::config::{self, ProvidedSecrets, RunFlags};
use cutover::engine::TailMode;
use cutover::restore_target::lrs::StaticToken;
use cutover::sample;
use cutover::sandbox::blob::{DEV_ACCOUNT, DEV_KEY};
use cutover::storage::sas::{SasPermissions, service_sas_for_container};
use cutover::tui::WizardBackend;
use cutover::tui::wizard::{
    Mbps, MiAccess, SaveOutcome, SecretText, StorageAuthKind, TargetCredential, TargetForm,
    WizardValues,
};

const PASSWORD: &str = "s3cret!";
const UPLOAD_SAS: &str = "sv=2024-11-04&sr=c&sp=rcwl&se=2099-01-01T00:00:00Z&sig=upl0adSig";
const CLIENT_SECRET: &str = "cl1ent-s3cret";

/// A Read + List container SAS for the managed instance (what LRS accepts).
fn mi_sas(container: &str) -> String {
    service_sas_for_container(
        DEV_ACCOUNT,
        DEV_KEY,
        container,
        &SasPermissions::read_list(),
        None,
        time::OffsetDateTime::now_utc() + time::Duration::days(60),
    )
    .unwrap()
    .into_query()
}

/// The sample values on real folders: Sales and HR in `backups`, HR's own folder under Advanced.
fn values(root: &Path) -> WizardValues {
    let backups = root.join("backups");
    let hr = root.join("hr");
    std::fs::create_dir_all(&backups).unwrap();
    std::fs::create_dir_all(&hr).unwrap();
    let mut v = sample::wizard_values();
    v.source.password = SecretText(PASSWORD.to_string());
    v.source.port_or_instance = "1433".to_string();
    v.source.trust_server_certificate = true;
    v.target.credential = TargetCredential::ServicePrincipal;
    v.target.tenant_id = "11111111-2222-3333-4444-555555555555".to_string();
    v.target.app_id = "66666666-7777-8888-9999-000000000000".to_string();
    v.target.client_secret = SecretText(CLIENT_SECRET.to_string());
    v.databases = vec!["Sales".to_string(), "HR".to_string()];
    v.settings.backup_folder = backups.display().to_string();
    v.settings.server_folder = r"\\fileserver\backups\SQL01".to_string();
    v.settings
        .folder_overrides
        .insert("HR".to_string(), hr.display().to_string());
    v.settings.sas_token = SecretText(UPLOAD_SAS.to_string());
    v.settings.mi_sas_token = SecretText(mi_sas("migration"));
    v.settings.sas_expiry_days = 20;
    v.settings.concurrency = 6;
    v.settings.bandwidth_mbps = Some(Mbps(12.5));
    v
}

/// The secrets a `cutover run` operator would export, keyed by the variables the file names.
fn exported(v: &WizardValues) -> ProvidedSecrets {
    let mut p = ProvidedSecrets::default();
    for (var, s) in [
        ("CUTOVER_SOURCE_PASSWORD", PASSWORD.to_string()),
        ("CUTOVER_STORAGE_SAS", UPLOAD_SAS.to_string()),
        (
            "CUTOVER_MI_SAS",
            v.settings.mi_sas_token.expose().to_string(),
        ),
    ] {
        p.by_env.insert(var.to_string(), Secret::new(s));
    }
    p.credential = Some(Arc::new(StaticToken("test".into())));
    p
}

/// The error of a configuration that must be refused.
fn refused<T>(r: Result<T, String>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

fn secrets_of(v: &WizardValues) -> Vec<String> {
    vec![
        v.source.password.expose().to_string(),
        v.settings.sas_token.expose().to_string(),
        v.settings.mi_sas_token.expose().to_string(),
        v.target.client_secret.expose().to_string(),
        "upl0adSig".to_string(),
    ]
}

#[test]
fn the_saved_file_parses_and_setup_accepts_it_with_the_wizard_values() {
    let tmp = tempfile::tempdir().unwrap();
    let v = values(tmp.path());
    let text = wizard::config_toml(&v, None).unwrap();
    if std::env::var_os("SHOW_CONFIG").is_some() {
        eprintln!("{text}");
    }
    for s in secrets_of(&v) {
        assert!(!text.contains(&s), "a secret is in the file:\n{text}");
    }
    for want in [
        "password_env = \"CUTOVER_SOURCE_PASSWORD\"",
        "sas_env = \"CUTOVER_STORAGE_SAS\"",
        "mi_sas_env = \"CUTOVER_MI_SAS\"",
        "credential = \"service-principal\"",
        // The ids are not secrets: the comment says which to export.
        "AZURE_TENANT_ID     (tenant 11111111-2222-3333-4444-555555555555)",
    ] {
        assert!(text.contains(want), "{want} missing:\n{text}");
    }

    let path = tmp.path().join("cutover.toml");
    let saved = wizard::write_config(&path, &text, false).unwrap();
    assert!(matches!(saved, SaveOutcome::Saved { .. }), "{saved:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600, "a new saved config is private");
        // Saving over it (the operator chose to overwrite) keeps it private.
        let again = wizard::write_config(&path, &text, true).unwrap();
        assert!(matches!(again, SaveOutcome::Saved { .. }), "{again:?}");
        assert_eq!(mode(&path), 0o600, "an overwritten saved config is private");
    }
    let file = ConfigFile::load(&path).unwrap_or_else(|e| panic!("{e}\n{text}"));

    // `cutover run --config` with the variables exported: the wizard's values.
    let (cfg, warnings) = config::engine_config_with(&file, &RunFlags::default(), &exported(&v))
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(cfg.activity, "contoso-2026-03");
    let dbs: Vec<(&str, &Path, Option<&str>)> = cfg
        .databases
        .iter()
        .map(|d| {
            (
                d.name.as_str(),
                d.folder.as_path(),
                d.server_folder.as_deref(),
            )
        })
        .collect();
    let server_folder = Some(r"\\fileserver\backups\SQL01");
    assert_eq!(
        dbs,
        [
            ("Sales", tmp.path().join("backups").as_path(), server_folder),
            ("HR", tmp.path().join("hr").as_path(), server_folder),
        ]
    );
    let src = cfg.source.as_ref().expect("a source connection");
    assert_eq!(src.server.to_string(), "sql01.contoso.local,1433");
    assert_eq!(
        cfg.container_url,
        "https://contosomig.blob.core.windows.net/migration"
    );
    assert_eq!(cfg.target_label, "mi-contoso");
    assert_eq!(cfg.upload.concurrency, 6);
    assert_eq!(cfg.upload.max_mbps, Some(12.5));
    assert!(!cfg.cutover_when_ready);
    assert_eq!(cfg.tail, TailMode::Wait);
    assert_eq!(cfg.stop_traffic, None);
    assert!(
        warnings.iter().any(|w| w.contains("certificate")),
        "trust server certificate warns: {warnings:?}"
    );

    // Read back into the wizard: the same values, without the secrets (and the service
    // principal's ids, which come from the environment).
    let mut expected = v.clone();
    expected.source.password = SecretText::default();
    expected.settings.sas_token = SecretText::default();
    expected.settings.mi_sas_token = SecretText::default();
    expected.target.client_secret = SecretText::default();
    expected.target.tenant_id.clear();
    expected.target.app_id.clear();
    let mut back = wizard::values_from_config(&file);
    // Secrets set in this process's environment would be picked up: none are expected here.
    back.source.password = SecretText::default();
    back.settings.sas_token = SecretText::default();
    back.settings.mi_sas_token = SecretText::default();
    back.target.client_secret = SecretText::default();
    back.target.tenant_id.clear();
    back.target.app_id.clear();
    assert_eq!(back, expected);

    // The wizard's own migration: the same configuration, with the secrets typed.
    let state = tmp.path().join("state");
    let (wcfg, _) = wizard::engine_config(&v, None, Some(state.clone())).unwrap();
    assert_eq!(wcfg.activity, cfg.activity);
    assert_eq!(
        wcfg.databases.iter().map(|d| &d.folder).collect::<Vec<_>>(),
        cfg.databases.iter().map(|d| &d.folder).collect::<Vec<_>>()
    );
    assert_eq!(wcfg.container_url, cfg.container_url);
    assert_eq!(wcfg.state_file, state.join("contoso-2026-03.json"));
    assert!(wcfg.source.is_some());
}

#[test]
fn backup_folder_only_has_no_source_and_cutover_cannot_take_the_tail() {
    let tmp = tempfile::tempdir().unwrap();
    let mut v = values(tmp.path());
    v.source.folder_only = true;
    v.target.sandbox = true;
    v.settings.storage_auth = StorageAuthKind::AccountKeyEnv;
    v.settings.account_key_env = "CUTOVER_TEST_WIZARD_KEY".to_string();
    v.settings.mi_access = MiAccess::Sas;
    v.settings.mi_sas_token = SecretText::default();
    v.settings.container_url = "http://127.0.0.1:10000/devstoreaccount1/migration".to_string();
    let arm = "http://127.0.0.1:9";
    let text = wizard::config_toml(&v, Some(arm)).unwrap();
    assert!(!text.contains("\n[source]\n"), "{text}");
    assert!(!text.contains(PASSWORD), "{text}");
    assert!(!text.contains("server_folder"), "{text}");
    assert!(
        text.contains("account_key_env = \"CUTOVER_TEST_WIZARD_KEY\""),
        "{text}"
    );
    assert!(!text.contains("mi_sas_env"), "signed from the key: {text}");
    assert!(
        text.contains(&format!("arm_endpoint = \"{arm}\"")),
        "{text}"
    );
    let file = ConfigFile::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let mut p = ProvidedSecrets::default();
    p.by_env.insert(
        "CUTOVER_TEST_WIZARD_KEY".to_string(),
        Secret::new(DEV_KEY.to_string()),
    );
    let (cfg, _) = config::engine_config_with(&file, &RunFlags::default(), &p)
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert!(cfg.source.is_none());
    assert_eq!(cfg.tail, TailMode::Wait);
    assert_eq!(
        cfg.source_label,
        tmp.path().join("backups").display().to_string()
    );
    // Without a source, cutover cannot take the tail-log backup.
    let flags = RunFlags {
        tail: Some(TailMode::Take),
        ..Default::default()
    };
    let e = refused(config::engine_config_with(&file, &flags, &p));
    assert!(e.contains("source connection"), "{e}");
    // Prefilled again, the wizard works from the folder.
    assert!(wizard::values_from_config(&file).source.folder_only);
}

#[test]
fn a_bad_value_is_refused_with_its_key() {
    let tmp = tempfile::tempdir().unwrap();
    let mut v = values(tmp.path());
    v.settings.container_url = "https://contosomig.blob.core.windows.net/backups".to_string();
    let e = refused(wizard::engine_config(&v, None, None));
    assert!(e.starts_with("[storage] container"), "{e}");
    // A missing secret names its variable.
    let v = values(tmp.path());
    let file = ConfigFile::parse(&wizard::config_toml(&v, None).unwrap()).unwrap();
    let mut p = exported(&v);
    p.by_env.remove("CUTOVER_SOURCE_PASSWORD");
    if std::env::var_os("CUTOVER_SOURCE_PASSWORD").is_none() {
        let e = refused(config::engine_config_with(&file, &RunFlags::default(), &p));
        assert!(e.contains("CUTOVER_SOURCE_PASSWORD"), "{e}");
    }
}

#[test]
fn an_existing_file_is_replaced_only_when_confirmed() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("cutover.toml");
    std::fs::write(&path, "# mine\n").unwrap();
    let r = wizard::write_config(&path, "[migration]\n", false).unwrap();
    assert!(matches!(r, SaveOutcome::Exists { .. }), "{r:?}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "# mine\n");
    let r = wizard::write_config(&path, "[migration]\n", true).unwrap();
    assert!(matches!(r, SaveOutcome::Saved { .. }), "{r:?}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "[migration]\n");
    // No temporary file is left beside it.
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
    // Errors name the file and what to do.
    let e = wizard::write_config(&tmp.path().join("no/such/x.toml"), "", false).unwrap_err();
    assert!(e.contains("does not exist"), "{e}");
    let e = wizard::write_config(tmp.path(), "", true).unwrap_err();
    assert!(e.contains("is a folder"), "{e}");
}

#[tokio::test]
async fn the_backend_saves_and_says_what_to_export() {
    let tmp = tempfile::tempdir().unwrap();
    let v = values(tmp.path());
    let b = Backend {
        sandbox_arm: None,
        sandbox_mi_sql: None,
    };
    let path = tmp.path().join("saved.toml");
    let p = path.display().to_string();
    let r = b.save_config(&p, &v, false).await.unwrap();
    let SaveOutcome::Saved { path: shown, env } = r else {
        panic!("{r:?}")
    };
    assert!(Path::new(&shown).is_absolute());
    for want in [
        "CUTOVER_SOURCE_PASSWORD",
        "AZURE_CLIENT_SECRET",
        "CUTOVER_STORAGE_SAS",
        "CUTOVER_MI_SAS",
    ] {
        assert!(env.iter().any(|e| e.contains(want)), "{want}: {env:?}");
    }
    let first = std::fs::read_to_string(&path).unwrap();
    let mut v2 = v.clone();
    v2.activity = "another".to_string();
    let r = b.save_config(&p, &v2, false).await.unwrap();
    assert!(matches!(r, SaveOutcome::Exists { .. }), "{r:?}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), first);
    let r = b.save_config(&p, &v2, true).await.unwrap();
    assert!(matches!(r, SaveOutcome::Saved { .. }), "{r:?}");
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .contains("activity = \"another\"")
    );
}

#[tokio::test]
async fn without_a_source_the_databases_come_from_the_folder() {
    let tmp = tempfile::tempdir().unwrap();
    common::write_chain(tmp.path(), "Sales", 2, true);
    common::write_chain(tmp.path(), "HR", 1, true);
    let b = Backend {
        sandbox_arm: None,
        sandbox_mi_sql: None,
    };
    let s = b
        .scan_folder(&tmp.path().display().to_string())
        .await
        .unwrap();
    let mut names: Vec<&str> = s.databases.iter().map(|d| d.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["HR", "Sales"]);
    let sales = s.databases.iter().find(|d| d.name == "Sales").unwrap();
    assert!(sales.size_bytes > 0);
    assert!(sales.last_full_backup.is_some() && sales.last_log_backup.is_some());
    assert!(s.server.contains("2 database(s)"), "{}", s.server);
    let e = b
        .scan_folder(&tmp.path().join("nothing").display().to_string())
        .await
        .unwrap_err();
    assert!(e.starts_with("Backup folder:"), "{e}");
    let empty = tempfile::tempdir().unwrap();
    let e = b
        .scan_folder(&empty.path().display().to_string())
        .await
        .unwrap_err();
    assert!(e.contains("no SQL Server backups"), "{e}");
}

#[test]
fn without_a_terminal_cutover_says_what_to_use() {
    for args in [&[][..], &["wizard"][..]] {
        let out = Command::new(env!("CARGO_BIN_EXE_cutover"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("cutover run --config FILE") && err.contains("cutover demo"),
            "{err}"
        );
    }
    // A configuration that cannot be read is named first.
    let out = Command::new(env!("CARGO_BIN_EXE_cutover"))
        .args(["wizard", "--config", "/nonexistent/cutover.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/cutover.toml"), "{err}");
}

/// `cutover wizard --config FILE` in a real terminal: prefilled from a backup-folder-only file,
/// saved back over it after the second confirmation (no secret in it), then Run opens the
/// dashboard of the migration, and quitting gives the terminal back. The endpoints are loopback
/// ports nobody listens on: the engine runs and reports the failures, nothing leaves the machine.
#[test]
fn the_wizard_from_a_config_file_to_the_dashboard_in_a_real_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let backups = tmp.path().join("backups");
    std::fs::create_dir_all(&backups).unwrap();
    common::write_chain(&backups, "Sales", 1, true);
    let config = tmp.path().join("cutover.toml");
    std::fs::write(
        &config,
        format!(
            "[backups]\nfolder = '{}'\n\n[target]\nsubscription = \"00000000-0000-0000-0000-000000000000\"\n\
             resource_group = \"rg\"\nmanaged_instance = \"mi-e2e\"\narm_endpoint = \"http://127.0.0.1:9\"\n\n\
             [storage]\ncontainer = \"http://127.0.0.1:9/devstoreaccount1/migration\"\nauth = \"account-key\"\n\
             account_key_env = \"CUTOVER_E2E_KEY\"\n\n[migration]\nactivity = \"e2e\"\ndatabases = [\"Sales\"]\n",
            backups.display()
        ),
    )
    .unwrap();
    let state = tmp.path().join("state");
    let cmd = format!(
        "CUTOVER_E2E_KEY='{DEV_KEY}' {} wizard --config {} --state-dir {} 2>{}; sleep 60",
        env!("CARGO_BIN_EXE_cutover"),
        config.display(),
        state.display(),
        tmp.path().join("stderr.txt").display(),
    );
    let Some(t) = Tmux::start("wizard-e2e", &cmd) else {
        return;
    };
    t.wait_for("source", &["Backup folder only", "Scan the folder"]);
    t.keys(&["Enter"]);
    let s = t.wait_for("target", &["Subscription ID", "mi-e2e"]);
    assert!(
        !s.contains("Sandbox"),
        "a real migration does not offer the sandbox:\n{s}"
    );
    t.keys(&["Enter"]);
    t.wait_for("databases", &["Sales", "1 of 1 selected"]);
    t.keys(&["Enter"]);
    t.wait_for("settings", &["Account key variable", "CUTOVER_E2E_KEY"]);
    t.keys(&["Enter"]);
    t.wait_for("summary", &["Preflight: 0 error(s)", "backup folder only"]);
    t.keys(&["C-s"]);
    t.wait_for("save prompt", &["Save the configuration", "cutover.toml_"]);
    t.keys(&["Enter"]);
    t.wait_for("overwrite?", &["exists already", "y replace it"]);
    t.keys(&["y"]);
    t.wait_for("saved", &["Saved", "CUTOVER_E2E_KEY"]);
    let saved = std::fs::read_to_string(&config).unwrap();
    assert!(!saved.contains(DEV_KEY), "{saved}");
    let file = ConfigFile::parse(&saved).unwrap_or_else(|e| panic!("{e}\n{saved}"));
    assert!(file.source.is_none());
    assert_eq!(
        file.target.and_then(|t| t.arm_endpoint).as_deref(),
        Some("http://127.0.0.1:9"),
        "kept from the file"
    );
    assert_eq!(
        file.migration.and_then(|m| m.state_dir).as_deref(),
        Some(state.as_path()),
        "the state folder of this run, so that `cutover run --config` re-attaches:\n{saved}"
    );
    // Run: the dashboard of the real engine.
    t.keys(&["Enter"]);
    t.wait_for("dashboard", &["Databases (1)", "Sales", "Events"]);
    t.keys(&["q"]);
    t.wait_for("quit?", &["Quit cutover?"]);
    t.keys(&["y"]);
    let s = t.wait_for("terminal back", &["the migration state is kept"]);
    assert!(!s.contains("Databases (1)"), "{s}");
    assert!(state.join("e2e.json").exists(), "the state file is written");
}

/// A configuration the wizard was prefilled from keeps, when it saves, the keys no screen edits:
/// connect timeout, settle time, per-database server folder and target name, location, collation,
/// the cutover/tail/stop-traffic choices, scan and poll intervals, the state folder.
#[test]
fn keys_no_screen_edits_survive_a_prefill_and_a_save() {
    let sample =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.sample.toml"))
            .expect("config.sample.toml");
    let text = sample
        .replace(
            "connect_timeout_seconds = 15",
            "connect_timeout_seconds = 42",
        )
        .replace("settle_seconds = 5", "settle_seconds = 7.5")
        .replace("target_name = \"Sales\"", "target_name = \"Sales_MI\"")
        .replace("cutover = \"never\"", "cutover = \"when-ready\"")
        .replace("tail = \"wait\"", "tail = \"take\"")
        .replace("stop_traffic = \"none\"", "stop_traffic = \"read-only\"")
        .replace("scan_seconds = 5", "scan_seconds = 3")
        .replace(
            "poll_seconds = 10",
            "poll_seconds = 20\nstate_dir = \"/var/lib/cutover\"",
        )
        .replace("# select = [", "select = [")
        .replace("remap_users = true", "remap_users = false")
        .replace("# [[logins.map]]", "[[logins.map]]")
        .replace("# windows = ", "windows = ")
        .replace("# entra = ", "entra = ");
    let before = ConfigFile::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let v = wizard::values_from_config(&before);
    let saved = wizard::config_toml(&v, None).unwrap();
    let after = ConfigFile::parse(&saved).unwrap_or_else(|e| panic!("{e}\n{saved}"));

    let (s0, s1) = (before.source.unwrap(), after.source.unwrap());
    assert_eq!(s1.connect_timeout_seconds, Some(42));
    assert_eq!(s1.connect_timeout_seconds, s0.connect_timeout_seconds);
    let (b0, b1) = (before.backups.unwrap(), after.backups.unwrap());
    assert_eq!(b1.settle_seconds, Some(7.5));
    assert_eq!(b1.server_folder, b0.server_folder);
    let (d0, d1) = (b0.database.unwrap(), b1.database.unwrap());
    assert_eq!(d1.len(), 1, "{saved}");
    assert_eq!(d1[0].name, d0[0].name);
    assert_eq!(d1[0].folder, d0[0].folder);
    assert_eq!(d1[0].server_folder, d0[0].server_folder);
    assert_eq!(d1[0].target_name.as_deref(), Some("Sales_MI"));
    let (t0, t1) = (before.target.unwrap(), after.target.unwrap());
    assert_eq!(t1.location, t0.location);
    assert_eq!(t1.collation, t0.collation);
    assert!(t1.location.is_some() && t1.collation.is_some());
    let (m0, m1) = (before.migration.unwrap(), after.migration.unwrap());
    assert_eq!(m1.cutover.as_deref(), Some("when-ready"));
    assert_eq!(m1.tail.as_deref(), Some("take"));
    assert_eq!(m1.stop_traffic, m0.stop_traffic);
    assert_eq!(m1.scan_seconds, Some(3.0));
    assert_eq!(m1.poll_seconds, Some(20.0));
    assert_eq!(m1.state_dir, m0.state_dir);
    assert!(m1.state_dir.is_some());
    // [logins]: the selection, remap_users and the Entra mapping come back as they were.
    let (l0, l1) = (before.logins.unwrap(), after.logins.unwrap());
    assert_eq!(
        l1.select.as_deref(),
        Some(&["app_sales".to_string(), "CONTOSO\\app".to_string()][..])
    );
    assert_eq!((l1.migrate, l1.remap_users), (Some(true), Some(false)));
    assert_eq!(l1.map, l0.map);
    assert_eq!(l1.map.unwrap().len(), 1);

    // Without a file to keep from, the wizard's own choices: the operator cuts over.
    let fresh = ConfigFile::parse(&wizard::config_toml(&sample::wizard_values(), None).unwrap())
        .expect("parses");
    let m = fresh.migration.unwrap();
    assert_eq!(
        (m.cutover.as_deref(), m.tail.as_deref(), m.state_dir),
        (Some("never"), Some("wait"), None)
    );
}

/// Every `[target] credential` the loader accepts comes back from a prefill and a save as itself
/// (workload identity and auto were once saved as azure-cli); unset stays auto, as `cutover run`
/// reads it.
#[test]
fn target_credential_survives_a_prefill_and_a_save() {
    let base = "[target]\nsubscription = \"00000000-0000-0000-0000-000000000000\"\n\
                resource_group = \"rg\"\nmanaged_instance = \"mi\"\n";
    for (written, expected) in [
        (Some("service-principal"), "service-principal"),
        (Some("azure-cli"), "azure-cli"),
        (Some("managed-identity"), "managed-identity"),
        (Some("workload-identity"), "workload-identity"),
        (Some("auto"), "auto"),
        (None, "auto"),
    ] {
        let text = match written {
            Some(c) => format!("{base}credential = \"{c}\"\n"),
            None => base.to_string(),
        };
        let before = ConfigFile::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let v = wizard::values_from_config(&before);
        let saved = wizard::config_toml(&v, None).unwrap();
        let after = ConfigFile::parse(&saved).unwrap_or_else(|e| panic!("{e}\n{saved}"));
        assert_eq!(
            after.target.and_then(|t| t.credential).as_deref(),
            Some(expected),
            "{written:?}:\n{saved}"
        );
    }
}

/// The sample values with the storage account key (cutover signs the managed instance's SAS)
/// and everything else at the wizard's defaults, on a real folder.
fn account_key_values(root: &Path) -> WizardValues {
    let mut v = sample::wizard_values();
    v.settings = Default::default();
    v.settings.backup_folder = root.display().to_string();
    v.settings.container_url = "https://contosomig.blob.core.windows.net/migration".to_string();
    v.settings.storage_auth = StorageAuthKind::AccountKeyEnv;
    v.settings.account_key_env = "H4_TEST_ACCOUNT_KEY".to_string();
    v
}

/// Defect 7: the wizard's defaults raise no configuration warning of their own. With the account
/// key cutover signs the managed instance's SAS for the migration's length and then checked it
/// against that same length a moment later: it always "expired during the migration".
#[test]
fn the_wizard_defaults_raise_no_warning_of_their_own() {
    let tmp = tempfile::tempdir().unwrap();
    let v = account_key_values(tmp.path());
    assert_eq!(v.settings.sas_expiry_days, 30, "LRS's job limit");
    let file = wizard::config_file(&v, None);
    let mut p = ProvidedSecrets::default();
    for (var, value) in [
        ("H4_TEST_ACCOUNT_KEY", DEV_KEY),
        ("CUTOVER_SOURCE_PASSWORD", PASSWORD),
    ] {
        p.by_env
            .insert(var.to_string(), Secret::new(value.to_string()));
    }
    p.credential = Some(Arc::new(StaticToken("test".into())));
    let (_, warnings) = config::engine_config_with(&file, &RunFlags::default(), &p)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(warnings.is_empty(), "{warnings:?}");

    // A given SAS valid for longer than the default length: no warning.
    let mut v = values(tmp.path());
    v.settings.sas_expiry_days = cutover::tui::wizard::MigrationSettings::default().sas_expiry_days;
    let file = wizard::config_file(&v, None);
    let (_, warnings) = config::engine_config_with(&file, &RunFlags::default(), &exported(&v))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !warnings.iter().any(|w| w.contains("SAS")),
        "a 60-day SAS outlives 30 days: {warnings:?}"
    );
}

/// Defect 7: the Summary's preflight carries what `cutover run` would print (a warning), or why
/// the values cannot start a migration (an error), before Run.
#[tokio::test]
async fn the_preflight_carries_the_configuration_check() {
    let tmp = tempfile::tempdir().unwrap();
    let b = Backend {
        sandbox_arm: None,
        sandbox_mi_sql: None,
    };
    let mut v = values(tmp.path());
    // Nobody listens there: the source cross-check is skipped quickly.
    v.source.server = "127.0.0.1".to_string();
    v.source.port_or_instance = "9".to_string();
    let r = b.preflight(&v).await;
    assert_eq!(r.config_error, None);
    assert!(
        r.config_warnings.iter().any(|w| w.contains("certificate")),
        "trust server certificate: {:?}",
        r.config_warnings
    );
    // The activity is named on the Summary after the preflight started: not an error of the check.
    let mut unnamed = v.clone();
    unnamed.activity.clear();
    assert_eq!(b.preflight(&unnamed).await.config_error, None);
    // A managed instance SAS that ends in 3 days: the warning is there before Run.
    v.settings.mi_sas_token = SecretText(
        service_sas_for_container(
            DEV_ACCOUNT,
            DEV_KEY,
            "migration",
            &SasPermissions::read_list(),
            None,
            time::OffsetDateTime::now_utc() + time::Duration::days(3),
        )
        .unwrap()
        .into_query(),
    );
    let r = b.preflight(&v).await;
    assert!(
        r.config_warnings
            .iter()
            .any(|w| w.contains("managed instance SAS") && w.contains("expires")),
        "{:?}",
        r.config_warnings
    );
    // The account key's variable is not set: the error says so.
    let v = account_key_values(tmp.path());
    let r = b.preflight(&v).await;
    assert!(
        r.config_error
            .as_deref()
            .is_some_and(|e| e.contains("H4_TEST_ACCOUNT_KEY")),
        "{r:?}"
    );
    // The demo's sandbox is not checked as a configuration (it runs with its own key).
    let mut v = account_key_values(tmp.path());
    v.target.sandbox = true;
    let r = b.preflight(&v).await;
    assert_eq!((r.config_error, r.config_warnings.len()), (None, 0));
}

/// Defect 6: the target test signs in and reads the managed instance; it fails with ARM's
/// answer when the subscription, group or instance is wrong, and says it could not when no
/// token can be had.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_target_test_reads_the_managed_instance() {
    let sb = cutover::sandbox::Sandbox::start(Default::default())
        .await
        .expect("sandbox");
    let i = &sb.info;
    // The sandbox is chosen explicitly (the Sandbox target, the demo's toggle): only then its fixed
    // token is sent.
    let form = TargetForm {
        sandbox: true,
        subscription: i.subscription_id.clone(),
        resource_group: i.resource_group.clone(),
        managed_instance: i.managed_instance.clone(),
        ..Default::default()
    };
    let b = Backend {
        sandbox_arm: Some(i.arm_endpoint.clone()),
        sandbox_mi_sql: None,
    };
    let ok = b.test_target(&form).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(ok.starts_with(&i.managed_instance), "{ok}");
    assert!(
        ok.contains("GeneralPurpose") && ok.contains("Ready"),
        "{ok}"
    );
    // The same loopback endpoint typed as an Azure endpoint, not as the sandbox: the real
    // credential is asked (here one that cannot give a token), never the sandbox's fixed token,
    // and the error says how to name the sandbox.
    let typed = TargetForm {
        sandbox: false,
        arm_endpoint: i.arm_endpoint.clone(),
        credential: TargetCredential::WorkloadIdentity,
        ..form.clone()
    };
    let no_sandbox = Backend {
        sandbox_arm: None,
        sandbox_mi_sql: None,
    };
    let e = tokio::time::timeout(
        std::time::Duration::from_secs(40),
        no_sandbox.test_target(&typed),
    )
    .await
    .expect("answers within its own timeout")
    .unwrap_err();
    assert!(e.contains("loopback") && e.contains("Sandbox"), "{e}");
    // The same endpoint from a loaded file that names it the sandbox ([target] sandbox = true):
    // the connection test uses the sandbox's token, as the run will.
    let named = TargetForm {
        arm_sandbox: true,
        ..typed.clone()
    };
    let ok = no_sandbox
        .test_target(&named)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(ok.starts_with(&i.managed_instance), "{ok}");

    for (what, f, code) in [
        (
            "subscription",
            TargetForm {
                subscription: "11111111-2222-3333-4444-555555555555".to_string(),
                ..form.clone()
            },
            "SubscriptionNotFound",
        ),
        (
            "group",
            TargetForm {
                resource_group: "rg-nope".to_string(),
                ..form.clone()
            },
            "ResourceGroupNotFound",
        ),
        (
            "instance",
            TargetForm {
                managed_instance: "mi-nope".to_string(),
                ..form.clone()
            },
            "ParentResourceNotFound",
        ),
    ] {
        let e = b.test_target(&f).await.unwrap_err();
        assert!(e.contains(code), "{what}: {e}");
    }
    // Azure itself, with a credential that cannot give a token (no workload identity here):
    // the test says it could not, and nothing says "Connected".
    let azure = TargetForm {
        sandbox: false,
        arm_endpoint: "https://management.invalid".to_string(),
        credential: TargetCredential::WorkloadIdentity,
        ..form.clone()
    };
    let e = tokio::time::timeout(std::time::Duration::from_secs(40), b.test_target(&azure))
        .await
        .expect("answers within its own timeout")
        .unwrap_err();
    assert!(!e.is_empty());
}

/// Defect 8: the state folder the wizard's run uses is saved, so that `cutover run --config`
/// re-attaches to the same activity; the cutover, tail and stop-traffic modes chosen on the
/// Settings screen are saved and run as chosen.
#[test]
fn the_saved_file_names_the_state_folder_and_the_modes() {
    use cutover::source::tail::StopTraffic;
    use cutover::tui::wizard::{CutoverMode, StopTrafficChoice, TailChoice};
    let tmp = tempfile::tempdir().unwrap();
    let mut v = values(tmp.path());
    let state = tmp.path().join("state");
    v.carried.state_dir = Some(state.display().to_string());
    v.settings.cutover = CutoverMode::WhenReady;
    v.settings.tail = TailChoice::Take;
    v.settings.stop_traffic = StopTrafficChoice::RestrictedUser;
    let text = wizard::config_toml(&v, None).unwrap();
    let file = ConfigFile::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let m = file.migration.clone().unwrap();
    assert_eq!(m.state_dir.as_deref(), Some(state.as_path()), "{text}");
    let (cfg, _) = config::engine_config_with(&file, &RunFlags::default(), &exported(&v))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.state_file.parent(), Some(state.as_path()));
    assert!(cfg.cutover_when_ready);
    assert_eq!(cfg.tail, TailMode::Take);
    assert_eq!(cfg.stop_traffic, Some(StopTraffic::RestrictedUser));
    // The wizard's own run: the same state folder and modes.
    let (wcfg, _) = wizard::engine_config(&v, None, None).unwrap();
    assert_eq!(wcfg.state_file, cfg.state_file);
    assert!(wcfg.cutover_when_ready);
    // Read back: the same choices on the Settings screen.
    let back = wizard::values_from_config(&file);
    assert_eq!(
        (
            back.settings.cutover,
            back.settings.tail,
            back.settings.stop_traffic
        ),
        (
            CutoverMode::WhenReady,
            TailChoice::Take,
            StopTrafficChoice::RestrictedUser
        )
    );
}

/// `cutover demo`: the Databases screen comes with the demo's databases selected.
#[test]
fn the_demo_preselects_its_databases() {
    let tmp = tempfile::tempdir().unwrap();
    let cmd = format!(
        "{} demo --state-dir {} --data-dir {} 2>{}; sleep 60",
        env!("CARGO_BIN_EXE_cutover"),
        tmp.path().join("state").display(),
        tmp.path().join("data").display(),
        tmp.path().join("stderr.txt").display(),
    );
    let Some(t) = Tmux::start("demo-preselect", &cmd) else {
        return;
    };
    t.wait_for("source", &["Test connection (Ctrl-T)"]);
    t.keys(&["Enter"]);
    t.wait_for("target", &["Sandbox"]);
    t.keys(&["Enter"]);
    let s = t.wait_for("databases", &["4 of 4 selected"]);
    assert!(!s.contains("[ ]"), "{s}");
    t.keys(&["C-c"]);
    t.wait_for("leave?", &["Leave the wizard?"]);
    t.keys(&["y"]);
}

/// The saved file is the `toml` serializer's text of the values' file shape: it parses back to
/// exactly that shape, a prefill from it saves the same file again, no secret is in it, and the
/// sandbox is named explicitly (`sandbox = true`) when the target is the sandbox.
#[test]
fn the_saved_file_round_trips_and_holds_no_secret() {
    let tmp = tempfile::tempdir().unwrap();
    let v = values(tmp.path());
    let text = wizard::config_toml(&v, None).unwrap();
    for s in secrets_of(&v) {
        assert!(!text.contains(&s), "a secret is in the file:\n{text}");
    }
    let parsed = ConfigFile::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(parsed, wizard::config_file(&v, None), "{text}");
    let back = wizard::values_from_config(&parsed);
    assert_eq!(wizard::config_file(&back, None), parsed, "{text}");
    assert_eq!(parsed.target.as_ref().and_then(|t| t.sandbox), None);

    let mut sandboxed = v.clone();
    sandboxed.target.sandbox = true;
    let arm = "http://127.0.0.1:9";
    let text = wizard::config_toml(&sandboxed, Some(arm)).unwrap();
    let parsed = ConfigFile::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(parsed, wizard::config_file(&sandboxed, Some(arm)), "{text}");
    let t = parsed.target.clone().unwrap();
    assert_eq!(
        (t.arm_endpoint.as_deref(), t.sandbox),
        (Some(arm), Some(true))
    );
    assert!(
        text.contains("# The ARM endpoint is the local sandbox"),
        "{text}"
    );
    // Prefilled from it, the wizard keeps the sandbox named when it saves again.
    let back = wizard::values_from_config(&parsed);
    let again = wizard::config_file(&back, None);
    assert_eq!(again.target.and_then(|t| t.sandbox), Some(true));
}

/// A share as the backup folder: the wizard saves `[backups] smb_user` and `smb_password_env`
/// (the variable's name, never a password), and a file prefilled back gives the same values.
#[test]
fn a_share_and_its_account_round_trip_through_the_saved_file() {
    let tmp = tempfile::tempdir().unwrap();
    let mut v = values(tmp.path());
    v.settings.backup_folder = r"\\fs01.corp.local\backups\sql".to_string();
    v.settings.server_folder = String::new();
    v.settings.smb_user = r"CORP\svc_backup".to_string();
    v.settings.smb_password_env = "CORP_SMB_PASSWORD".to_string();
    // Every folder on the one share (a local override beside a share is refused by the run).
    v.settings.folder_overrides.clear();
    let db = v.databases[0].clone();
    v.settings
        .folder_overrides
        .insert(db, r"\\fs01.corp.local\backups\other".to_string());
    let text = wizard::config_toml(&v, None).unwrap();
    assert!(
        text.contains(r"smb_user = 'CORP\svc_backup'")
            || text.contains(r#"smb_user = "CORP\\svc_backup""#),
        "{text}"
    );
    assert!(
        text.contains("smb_password_env = \"CORP_SMB_PASSWORD\""),
        "{text}"
    );
    let file = ConfigFile::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let back = wizard::values_from_config(&file);
    assert_eq!(back.settings.smb_user, v.settings.smb_user);
    assert_eq!(back.settings.smb_password_env, v.settings.smb_password_env);
    assert_eq!(back.settings.backup_folder, v.settings.backup_folder);
    assert_eq!(back.settings.folder_overrides, v.settings.folder_overrides);
    // Saved again: the same [backups].
    let again = ConfigFile::parse(&wizard::config_toml(&back, None).unwrap()).unwrap();
    assert_eq!(again.backups, file.backups);
    // A local folder saves no SMB key (the run would refuse them without a share).
    let local = values(tmp.path());
    let text = wizard::config_toml(&local, None).unwrap();
    assert!(!text.contains("smb_"), "{text}");
}

/// What the lists pick (subscription, group, instance, its region and SQL endpoint, the SQL user
/// and password variable, the storage container, managed-identity access) is saved and read back
/// the same, the Target screen is prefilled with it, and no secret is in the file.
#[test]
fn the_picks_round_trip_through_the_saved_file_without_a_secret() {
    let tmp = tempfile::tempdir().unwrap();
    let mut v = values(tmp.path());
    // The Azure CLI's sign-in (a service principal's IDs come from its environment variables).
    v.target.credential = TargetCredential::AzureCli;
    v.target.subscription = "5a4d1000-0000-4000-8000-0000000000bb".into();
    v.target.resource_group = "rg-northeurope".into();
    v.target.managed_instance = "mi-contoso-bc".into();
    v.carried.location = Some("northeurope".into());
    v.carried.sql_server = Some("mi-contoso-bc.0123abcd.database.windows.net,1433".into());
    v.carried.sql_user = Some("migrator".into());
    v.carried.sql_password_env = Some("CUTOVER_MI_PASSWORD".into());
    v.settings.container_url = "https://stmigrate.blob.core.windows.net/cutover-2026".into();
    v.settings.mi_access = MiAccess::ManagedIdentity;
    v.settings.mi_sas_token = SecretText::default();
    let text = wizard::config_toml(&v, None).unwrap();
    for s in secrets_of(&v).into_iter().filter(|s| !s.is_empty()) {
        assert!(!text.contains(&s), "a secret is in the file:\n{text}");
    }
    let parsed = ConfigFile::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let t = parsed.target.clone().unwrap();
    assert_eq!(
        (
            t.subscription.as_deref(),
            t.resource_group.as_deref(),
            t.managed_instance.as_deref(),
            t.location.as_deref(),
            t.sql_server.as_deref(),
            t.sql_user.as_deref(),
            t.sql_password_env.as_deref()
        ),
        (
            Some("5a4d1000-0000-4000-8000-0000000000bb"),
            Some("rg-northeurope"),
            Some("mi-contoso-bc"),
            Some("northeurope"),
            Some("mi-contoso-bc.0123abcd.database.windows.net,1433"),
            Some("migrator"),
            Some("CUTOVER_MI_PASSWORD")
        ),
        "{text}"
    );
    let st = parsed.storage.clone().unwrap();
    assert_eq!(
        st.container.as_deref(),
        Some("https://stmigrate.blob.core.windows.net/cutover-2026")
    );
    assert_eq!(st.mi_access.as_deref(), Some("managed-identity"));
    let back = wizard::values_from_config(&parsed);
    assert_eq!(back.target.managed_instance, v.target.managed_instance);
    assert_eq!(back.carried.sql_server, v.carried.sql_server);
    assert_eq!(back.carried.location, v.carried.location);
    assert_eq!(wizard::config_file(&back, None), parsed, "{text}");
    // The Target screen shows the picks, and applying it keeps them.
    let mut s = cutover::tui::wizard::WizardState::new(back).without_sandbox();
    assert_eq!(
        s.target.trimmed("sql_server"),
        "mi-contoso-bc.0123abcd.database.windows.net,1433"
    );
    assert_eq!(s.target.trimmed("sql_user"), "migrator");
    s.screen = cutover::tui::wizard::Screen::Target;
    s.handle_key(crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Enter,
        crossterm::event::KeyModifiers::NONE,
    ));
    assert_eq!(s.error, None);
    assert_eq!(s.values.carried.sql_user.as_deref(), Some("migrator"));
    assert_eq!(wizard::config_file(&s.values, None), parsed);
}

/// The wizard backend's lists and storage checks against the sandbox's ARM: subscriptions (one
/// listed but unreadable: its refusal names the subscription and the right), instances with tier,
/// region and host name, storage accounts with their network, containers; a new container created;
/// the firewall, region and reader-role checks as findings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backend_lists_and_checks_the_sandbox_estate() {
    use cutover::tui::wizard::StorageCheckRequest;
    let sb = cutover::sandbox::Sandbox::start(Default::default())
        .await
        .expect("sandbox");
    let i = &sb.info;
    let form = TargetForm {
        sandbox: false,
        arm_sandbox: true,
        arm_endpoint: i.arm_endpoint.clone(),
        ..Default::default()
    };
    let b = Backend {
        sandbox_arm: None,
        sandbox_mi_sql: None,
    };
    let subs = b.azure_subscriptions(&form).await.unwrap();
    assert!(subs.len() >= 3, "{subs:?}");
    assert!(subs.iter().any(|s| s.id == i.subscription_id));
    // A subscription listed but not readable: the refusal names it and the right.
    let mut refused_one = false;
    for s in subs.iter().filter(|s| s.id != i.subscription_id) {
        if let Err(e) = b.azure_instances(&form, &s.id).await {
            assert!(e.contains(&s.id) && e.contains("Reader"), "{e}");
            assert!(e.contains("managedInstances/read"), "{e}");
            refused_one = true;
        }
    }
    assert!(refused_one, "one sandbox subscription refuses reads");
    let instances = b.azure_instances(&form, &i.subscription_id).await.unwrap();
    let mi = instances
        .iter()
        .find(|m| m.name == i.managed_instance)
        .unwrap_or_else(|| panic!("{instances:?}"));
    assert_eq!(
        (
            mi.tier.as_str(),
            mi.location.as_str(),
            mi.resource_group.as_str()
        ),
        (
            "GeneralPurpose",
            i.location.as_str(),
            i.resource_group.as_str()
        )
    );
    assert!(mi.sql_endpoint().is_some_and(|e| e.ends_with(",1433")));
    let bc = instances
        .iter()
        .find(|m| m.tier == "BusinessCritical")
        .expect("a Business Critical instance");
    assert_ne!(bc.location, mi.location);
    let accounts = b
        .azure_storage_accounts(&form, &i.subscription_id)
        .await
        .unwrap();
    let served = accounts
        .iter()
        .find(|a| a.name == i.account_name)
        .unwrap_or_else(|| panic!("{accounts:?}"));
    assert_eq!(served.blob_endpoint, i.blob_endpoint.trim_end_matches('/'));
    let locked = accounts
        .iter()
        .find(|a| a.network == "firewall")
        .expect("an account behind a firewall");
    let containers = b.azure_containers(&form, served).await.unwrap();
    assert!(
        containers.iter().any(|c| c.name == i.container),
        "{containers:?}"
    );

    let request = |account: &cutover::model::AzureStorageAccount, container: &str, create| {
        StorageCheckRequest {
            target: TargetForm {
                subscription: i.subscription_id.clone(),
                managed_instance: i.managed_instance.clone(),
                ..form.clone()
            },
            account: account.clone(),
            instance: Some(mi.clone()),
            container: container.to_string(),
            create,
            mi_access: MiAccess::ManagedIdentity,
        }
    };
    let found = b
        .azure_storage_checks(&request(served, "picked-new", true))
        .await
        .unwrap();
    let codes: Vec<&str> = found.iter().map(|c| c.code.as_str()).collect();
    assert_eq!(
        codes,
        [
            "CONTAINER_CREATED",
            "STORAGE_FIREWALL_OPEN",
            "MI_STORAGE_ROLE_OK"
        ],
        "{found:?}"
    );
    assert!(found[0].message.contains("created"), "{found:?}");
    let containers = b.azure_containers(&form, served).await.unwrap();
    assert!(
        containers.iter().any(|c| c.name == "picked-new"),
        "{containers:?}"
    );
    // Behind a firewall without the instance's subnet, and no role for its identity.
    let found = b
        .azure_storage_checks(&request(locked, "migration", false))
        .await
        .unwrap();
    let codes: Vec<&str> = found.iter().map(|c| c.code.as_str()).collect();
    assert_eq!(
        codes,
        [
            "STORAGE_FIREWALL_BLOCKS_INSTANCE",
            "MI_STORAGE_ROLE_MISSING"
        ],
        "{found:?}"
    );
    assert!(found.iter().all(|c| !c.fix.is_empty()), "{found:?}");
}
