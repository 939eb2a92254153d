//! The managed instance's own SQL endpoint against the sandbox (`Sandbox::start` serves it beside
//! the ARM endpoints, its sys.databases fed by the sandbox's LRS): the login is told sysadmin or
//! not, a target name taken on the instance stops `cutover run` before anything is uploaded (the
//! container stays empty), and a run's database shows RESTORING on the instance while LRS restores
//! it and ONLINE after completion, with its compatibility level and recovery model read over SQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap fails the run

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cutover::model::Code;
use cutover::sandbox::mi_catalog::MiDatabase;
use cutover::source::{Encryption, SourceAuth, SourceClient, SourceOptions};
use cutover::target_sql::{InstanceReport, TargetSql, checks};
use serde_json::Value;

use common::running::{Running, sql_options as options};

fn start() -> Running {
    common::running::start(50.0)
}

impl Running {
    fn admin(&self) -> SourceOptions {
        let i = &self.sb.info;
        options(&i.mi_sql_server, &i.mi_sql_user, &i.mi_sql_password)
    }

    fn report_as(&self, o: &SourceOptions) -> InstanceReport {
        self.rt.block_on(async {
            let mut t = TargetSql::connect(o).await.expect("connects");
            let r = t.report().await.expect("report");
            t.close().await;
            r
        })
    }

    fn blobs(&self) -> Vec<String> {
        self.sb
            .blob
            .list_blobs(&self.sb.info.container, "")
            .unwrap()
            .into_iter()
            .map(|b| b.name)
            .collect()
    }
}

/// A configuration migrating `db` from `folder` with the instance's SQL endpoint named.
fn write_config(r: &Running, dir: &Path, db: &str, folder: &Path, activity: &str) -> PathBuf {
    let i = &r.sb.info;
    let cfg = format!(
        r#"
[backups]
folder = "{folder}"
[target]
subscription = "{sub}"
resource_group = "{rg}"
managed_instance = "{mi}"
arm_endpoint = "{arm}"
sandbox = true
sql_server = "{sql}"
sql_user = "{user}"
sql_password_env = "SBX_MI_PW"
[storage]
container = "{blob}/{container}"
account_key_env = "SBX_KEY"
[migration]
activity = "{activity}"
databases = ["{db}"]
cutover = "when-ready"
tail = "skip"
scan_seconds = 0.3
poll_seconds = 0.3
state_dir = "{state}"
"#,
        folder = folder.display(),
        sub = i.subscription_id,
        rg = i.resource_group,
        mi = i.managed_instance,
        arm = i.arm_endpoint,
        sql = i.mi_sql_server,
        user = i.mi_sql_user,
        blob = i.blob_endpoint,
        container = i.container,
        state = dir.join("state").display(),
    );
    let p = dir.join("cutover.toml");
    std::fs::write(&p, cfg).unwrap();
    p
}

fn cutover(r: &Running, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cutover"));
    c.args(args)
        .env("SBX_KEY", &r.sb.info.account_key)
        .env("SBX_MI_PW", &r.sb.info.mi_sql_password)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn output(mut c: Command) -> (i32, String, String) {
    let out = c.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_login_is_told_sysadmin_or_not() {
    let r = start();
    let admin = r.report_as(&r.admin());
    assert!(admin.info.is_sysadmin, "{admin:?}");
    assert_eq!(admin.info.engine_edition, 8);
    assert_eq!(admin.info.login_name, r.sb.info.mi_sql_user);
    let res = admin
        .resources
        .clone()
        .expect("a managed instance's resources");
    assert_eq!(res.sku, "GeneralPurpose");
    assert!(res.reserved_storage_mb > 0 && res.storage_used_mb > 0.0);
    assert_eq!(admin.info.xtp_supported, Some(false));
    assert_eq!(admin.user_databases().count(), 0);
    assert!(checks::pre_upload(&admin, &[]).is_empty());

    // A login that is not sysadmin, created over the same endpoint.
    r.rt.block_on(async {
        let mut c = SourceClient::connect(&r.admin()).await.unwrap();
        c.execute_params("CREATE LOGIN [app] WITH PASSWORD = 'App-Login-1!'", &[])
            .await
            .unwrap();
        c.close().await;
    });
    let app = r.report_as(&options(&r.sb.info.mi_sql_server, "app", "App-Login-1!"));
    assert!(!app.info.is_sysadmin);
    let f = checks::pre_upload(&app, &[]);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].finding.code, Code::TargetNotSysadmin);
    assert!(f[0].finding.message.contains("app"), "{f:?}");

    // Through the CLI: `target check --json` with a configuration naming that login.
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("Payroll");
    std::fs::create_dir_all(&folder).unwrap();
    common::write_chain(&folder, "Payroll", 2, true);
    let cfg = write_config(&r, tmp.path(), "Payroll", &folder, "cli-check");
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        &format!("sql_user = \"{}\"", r.sb.info.mi_sql_user),
        "sql_user = \"app\"",
    );
    std::fs::write(&cfg, text).unwrap();
    let mut c = cutover(
        &r,
        &[
            "target",
            "check",
            "--json",
            "--config",
            cfg.to_str().unwrap(),
        ],
    );
    c.env("SBX_MI_PW", "App-Login-1!");
    let (code, out, err) = output(c);
    assert_eq!(code, 1, "{out}{err}");
    let v: Value = serde_json::from_str(out.trim()).expect("one JSON object");
    assert_eq!(v["findings"][0]["code"], "TARGET_NOT_SYSADMIN", "{v}");
    assert_eq!(v["instance"]["info"]["is_sysadmin"], false);
    assert!(!out.contains("App-Login-1!") && !err.contains("App-Login-1!"));
}

#[test]
fn a_name_taken_on_the_instance_stops_the_run_before_any_upload() {
    let r = start();
    r.sb.mi_sql
        .add_database(MiDatabase::new("Payroll", 1 << 30));
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("Payroll");
    std::fs::create_dir_all(&folder).unwrap();
    common::write_chain(&folder, "Payroll", 2, true);
    let cfg = write_config(&r, tmp.path(), "Payroll", &folder, "clash");

    let (code, out, err) = output(cutover(
        &r,
        &[
            "target",
            "check",
            "--json",
            "--config",
            cfg.to_str().unwrap(),
        ],
    ));
    assert_eq!(code, 1, "{out}{err}");
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    let f = &v["findings"][0];
    assert_eq!(f["code"], "TARGET_NAME_IN_USE", "{v}");
    assert_eq!(f["severity"], "error");
    assert_eq!(f["database"], "Payroll");
    let names: Vec<&str> = v["instance"]["databases"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["name"].as_str())
        .collect();
    assert!(
        names.contains(&"Payroll") && names.contains(&"master"),
        "{names:?}"
    );

    let (code, out, err) = output(cutover(
        &r,
        &["run", "--json", "--config", cfg.to_str().unwrap()],
    ));
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("TARGET_NAME_IN_USE") && err.contains("Payroll"),
        "{err}"
    );
    assert!(err.contains("nothing was uploaded"), "{err}");
    assert!(r.blobs().is_empty(), "uploaded: {:?}", r.blobs());
    // And the LRS side refuses the name too, as the instance would.
    assert!(r.sb.lrs.restores().is_empty());

    // Under another target name the same run is not refused by the check.
    let (code, out, err) = output(cutover(
        &r,
        &["target", "check", "--config", cfg.to_str().unwrap()],
    ));
    assert_eq!(code, 1, "{out}{err}");
    let renamed = std::fs::read_to_string(&cfg).unwrap().replace(
        "[target]",
        "[[backups.database]]\nname = \"Payroll\"\ntarget_name = \"Payroll_new\"\n[target]",
    );
    std::fs::write(&cfg, renamed).unwrap();
    let (code, out, err) = output(cutover(
        &r,
        &["target", "check", "--config", cfg.to_str().unwrap()],
    ));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("no findings"), "{out}");
}

#[test]
fn a_run_shows_restoring_then_online_with_the_instances_facts() {
    let r = start();
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("Payroll");
    std::fs::create_dir_all(&folder).unwrap();
    common::write_chain(&folder, "Payroll", 3, true);
    let cfg = write_config(&r, tmp.path(), "Payroll", &folder, "online");
    let child = cutover(&r, &["run", "--json", "--config", cfg.to_str().unwrap()])
        .spawn()
        .unwrap();
    // While LRS restores it, the instance lists it RESTORING.
    let admin = r.admin();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut states = Vec::new();
    while Instant::now() < deadline {
        let rep = r.report_as(&admin);
        if let Some(d) = rep.database("Payroll") {
            if states.last() != Some(&d.state) {
                states.push(d.state.clone());
            }
            if d.state == "ONLINE" {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert_eq!(states, ["RESTORING", "ONLINE"], "{stderr}");

    let rep = r.report_as(&admin);
    let d = rep.database("Payroll").unwrap();
    // The backups' header says level 130 (SQL Server 2016): the database keeps it.
    assert_eq!((d.state.as_str(), d.compatibility_level), ("ONLINE", 130));
    assert_eq!(d.recovery_model, "FULL");
    assert!(
        stderr.contains("target: Payroll: ONLINE, compatibility level 130, FULL recovery"),
        "{stderr}"
    );
    assert!(stderr.contains("TARGET_COMPATIBILITY_LEVEL"), "{stderr}");
    // The engine read it too, once completed: an event, and the finding on the database.
    assert!(
        stdout.contains("on the instance: ONLINE, compatibility level 130, FULL recovery"),
        "{stdout}"
    );

    // `target databases` reads the same, with the applications' connection string.
    let (code, out, err) = output(cutover(
        &r,
        &[
            "target",
            "databases",
            "--json",
            "--config",
            cfg.to_str().unwrap(),
        ],
    ));
    assert_eq!(code, 0, "{out}{err}");
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    let db = &v["databases"][0];
    assert_eq!(db["state"], "ONLINE");
    assert_eq!(db["compatibility_level"], 130);
    let conn = db["connection_string"].as_str().unwrap();
    assert!(
        conn.contains(&format!(
            "Server=tcp:127.0.0.1,{}",
            r.sb.info.mi_sql_server.rsplit(',').next().unwrap()
        )) && conn.contains("Database=Payroll"),
        "{conn}"
    );
    assert!(!conn.contains(&r.sb.info.mi_sql_password));

    // A second run of the same activity is not refused: the ONLINE database is its own.
    let (code, out, err) = output(cutover(
        &r,
        &["target", "check", "--config", cfg.to_str().unwrap()],
    ));
    assert_eq!(code, 0, "{out}{err}");
}

/// The wizard's Summary: with the sandbox as target, the backend reads the instance's SQL
/// endpoint and a taken name is an error on the database (which blocks Run), before any upload.
#[test]
fn the_summary_shows_a_name_taken_on_the_instance() {
    use cutover::cli::wizard::Backend;
    use cutover::model::Severity;
    use cutover::tui::WizardBackend;

    let r = start();
    let tmp = tempfile::tempdir().unwrap();
    common::write_chain(tmp.path(), "Payroll", 1, true);
    common::write_chain(tmp.path(), "Hr", 1, true);
    let mut v = cutover::sample::wizard_values();
    v.target.sandbox = true;
    v.source.folder_only = true;
    v.activity = "summary".into();
    v.carried.state_dir = Some(tmp.path().join("state").display().to_string());
    v.databases = vec!["Payroll".into(), "Hr".into()];
    v.settings.backup_folder = tmp.path().display().to_string();
    v.settings.folder_overrides.clear();
    let i = &r.sb.info;
    let b = Backend {
        sandbox_arm: Some(i.arm_endpoint.clone()),
        sandbox_mi_sql: Some((
            i.mi_sql_server.clone(),
            i.mi_sql_user.clone(),
            i.mi_sql_password.clone(),
        )),
    };
    let target_codes = |rep: &cutover::tui::wizard::values::PreflightReport, db: &str| {
        rep.databases
            .iter()
            .find(|(n, _)| n == db)
            .map(|(_, f)| {
                f.iter()
                    .filter(|f| f.code.as_str().starts_with("TARGET_"))
                    .map(|f| (f.code, f.severity))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    let clean = r.rt.block_on(b.preflight(&v));
    assert_eq!(clean.config_error, None);
    assert!(target_codes(&clean, "Payroll").is_empty(), "{clean:?}");

    r.sb.mi_sql
        .add_database(MiDatabase::new("Payroll", 1 << 20));
    let rep = r.rt.block_on(b.preflight(&v));
    assert_eq!(
        target_codes(&rep, "Payroll"),
        vec![(Code::TargetNameInUse, Severity::Error)],
        "{rep:?}"
    );
    assert!(target_codes(&rep, "Hr").is_empty(), "{rep:?}");
    assert!(r.blobs().is_empty());

    // Without a way to the instance's SQL endpoint the Summary has no target findings to show.
    let blind = Backend {
        sandbox_arm: Some(i.arm_endpoint.clone()),
        sandbox_mi_sql: None,
    };
    let rep = r.rt.block_on(blind.preflight(&v));
    assert!(target_codes(&rep, "Payroll").is_empty(), "{rep:?}");
}

/// `cutover sandbox` serves the instance's SQL endpoint and prints how to reach it.
#[test]
fn cutover_sandbox_prints_the_instance_sql_endpoint() {
    use std::io::{BufRead, BufReader};
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = Kill(
        Command::new(env!("CARGO_BIN_EXE_cutover"))
            .arg("sandbox")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let v: Value = serde_json::from_str(&line).unwrap();
    let server = v["mi_sql_server"].as_str().unwrap();
    let user = v["mi_sql_user"].as_str().unwrap();
    let password = v["mi_sql_password"].as_str().unwrap();
    assert_ne!(server, v["sql_server"].as_str().unwrap());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let rep = rt.block_on(async {
        let mut t = TargetSql::connect(&options(server, user, password))
            .await
            .unwrap();
        let r = t.report().await.unwrap();
        t.close().await;
        r
    });
    assert!(rep.info.is_sysadmin);
    assert_eq!(
        rep.info.server_name,
        v["managed_instance"].as_str().unwrap()
    );
    // A wrong password is refused as SQL Server refuses it.
    let e = rt
        .block_on(TargetSql::connect(&options(server, user, "wrong")))
        .unwrap_err();
    assert!(e.to_string().contains("Login failed"), "{e}");
}

/// A configured endpoint that cannot be used stops the run before any upload, naming the key.
#[test]
fn an_unusable_instance_endpoint_stops_the_run_naming_the_key() {
    let r = start();
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("Payroll");
    std::fs::create_dir_all(&folder).unwrap();
    common::write_chain(&folder, "Payroll", 1, true);
    let cfg = write_config(&r, tmp.path(), "Payroll", &folder, "unusable");

    // The password variable is not set.
    let mut c = cutover(&r, &["run", "--config", cfg.to_str().unwrap()]);
    c.env_remove("SBX_MI_PW");
    let (code, out, err) = output(c);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("[target] sql_password_env") && err.contains("SBX_MI_PW"),
        "{err}"
    );

    // A wrong password: the login failure, named.
    let mut c = cutover(&r, &["run", "--config", cfg.to_str().unwrap()]);
    c.env("SBX_MI_PW", "not-the-password");
    let (code, out, err) = output(c);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("[target] sql_server") && err.contains("Login failed"),
        "{err}"
    );
    assert!(!err.contains("not-the-password"), "{err}");

    // Nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace(&r.sb.info.mi_sql_server, &format!("127.0.0.1,{port}"));
    std::fs::write(&cfg, text).unwrap();
    let (code, out, err) = output(cutover(&r, &["run", "--config", cfg.to_str().unwrap()]));
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("[target] sql_server") && err.contains(&port.to_string()),
        "{err}"
    );
    assert!(r.blobs().is_empty(), "uploaded: {:?}", r.blobs());
}

/// An instance with Microsoft Entra-only authentication: `[target] sql_authentication = "entra"`
/// signs in with the target's credential (a token for Azure SQL asked for at each connection), as
/// the instance's Entra administrator (sysadmin); a token the instance refuses says what the
/// principal needs, not "check the password".
#[test]
fn an_entra_only_instance_is_reached_with_the_credential() {
    use cutover::arm::StaticToken;
    use std::sync::Arc;
    let r = start();
    let entra = |token: &str| {
        let mut o = SourceOptions::new(
            r.sb.info.mi_sql_server.parse().unwrap(),
            SourceAuth::Entra(Arc::new(StaticToken(token.into()))),
            Encryption::Plaintext,
        );
        o.connect_timeout = Duration::from_secs(5);
        o
    };
    let report = r.report_as(&entra("a-token-from-entra"));
    assert_eq!(report.info.login_name, r.sb.info.mi_entra_admin);
    assert!(report.info.is_sysadmin, "{report:?}");
    let Err(e) = r.rt.block_on(TargetSql::connect(&entra(""))) else {
        panic!("an empty token is refused");
    };
    let e = e.to_string();
    assert!(
        e.contains("Microsoft Entra") && e.contains("FROM EXTERNAL PROVIDER"),
        "{e}"
    );
    assert!(!e.contains("password"), "{e}");

    // Through the configuration: no SQL login, no password variable.
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("Payroll");
    std::fs::create_dir_all(&folder).unwrap();
    common::write_chain(&folder, "Payroll", 2, true);
    let cfg = write_config(&r, tmp.path(), "Payroll", &folder, "entra-check");
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace(
            &format!("sql_user = \"{}\"", r.sb.info.mi_sql_user),
            "sql_authentication = \"entra\"",
        )
        .replace("sql_password_env = \"SBX_MI_PW\"\n", "");
    std::fs::write(&cfg, text).unwrap();
    let mut c = cutover(
        &r,
        &[
            "target",
            "check",
            "--json",
            "--config",
            cfg.to_str().unwrap(),
        ],
    );
    c.env_remove("SBX_MI_PW");
    let (code, out, err) = output(c);
    assert_eq!(code, 0, "{out}{err}");
    let v: Value = serde_json::from_str(out.trim()).expect("one JSON object");
    assert_eq!(
        v["instance"]["info"]["login_name"],
        r.sb.info.mi_entra_admin
    );
    assert_eq!(v["instance"]["info"]["is_sysadmin"], true);

    // A token from a variable (`aad-token`) names the variable when it is missing.
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "sql_authentication = \"entra\"",
        "sql_authentication = \"aad-token\"\nsql_token_env = \"SBX_NO_SUCH_TOKEN\"",
    );
    std::fs::write(&cfg, text).unwrap();
    let (code, out, err) = output(cutover(
        &r,
        &["target", "check", "--config", cfg.to_str().unwrap()],
    ));
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("[target] sql_token_env") && err.contains("SBX_NO_SUCH_TOKEN"),
        "{err}"
    );
}
