//! `cutover logins list|migrate` against the sandbox: the source SQL Server's logins of every kind,
//! and the Managed Instance's SQL side (`sandbox::mi_sql`, on its own port). Migrated SQL logins
//! keep their SID (checked with an independent client, pytds) and password (the migrated login
//! logs in with the source's password), a second migrate changes nothing, a login of the same name
//! with another SID is a finding and is not overwritten, and no password hash reaches the output.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap fails the run

mod common;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::Secret;
use cutover::logins::LoginKind;
use cutover::sandbox::instance::LoginSpec;
use cutover::sandbox::mi_sql::ManagedInstanceSql;
use cutover::sandbox::sample_logins::{SQL_LOGINS, WINDOWS_GROUP, WINDOWS_LOGIN};
use cutover::sandbox::{Sandbox, SandboxOptions};
use cutover::source::{Encryption, SourceAuth, SourceClient, SourceOptions};

const MI_ADMIN: &str = "miadmin";
const MI_PASSWORD: &str = "Mi-Admin-Test-1!";

fn options(server: &str, user: &str, password: &str) -> SourceOptions {
    let mut o = SourceOptions::new(
        server.parse().expect("address"),
        SourceAuth::SqlLogin {
            user: user.into(),
            password: Secret::new(password.to_string()),
        },
        Encryption::Plaintext,
    );
    o.connect_timeout = Duration::from_secs(5);
    o
}

struct Setup {
    sb: Sandbox,
    mi: Arc<ManagedInstanceSql>,
    mi_server: String,
    _task: tokio::task::JoinHandle<()>,
}

async fn setup() -> Setup {
    let sb = Sandbox::start(SandboxOptions::default())
        .await
        .expect("sandbox starts");
    let mi = Arc::new(ManagedInstanceSql::new(
        "sandbox-mi",
        vec![LoginSpec {
            user: MI_ADMIN.into(),
            password: MI_PASSWORD.into(),
            sysadmin: true,
        }],
    ));
    let (addr, task) = mi.clone().serve().await.expect("mi serves");
    Setup {
        sb,
        mi,
        mi_server: format!("127.0.0.1,{}", addr.port()),
        _task: task,
    }
}

/// Runs the binary with the source and target passwords in the environment only.
async fn cutover(s: &Setup, args: &[&str]) -> (i32, String, String) {
    let mut a: Vec<String> = args.iter().map(|x| x.to_string()).collect();
    a.extend(
        [
            "--server",
            &s.sb.info.sql_server,
            "--user",
            "sa",
            "--password-env",
            "SBX_PW",
            "--plaintext",
        ]
        .map(String::from),
    );
    let pw = s.sb.info.sql_password.clone();
    tokio::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_cutover"))
            .args(&a)
            .env_remove("CUTOVER_SOURCE_PASSWORD")
            .env("SBX_PW", pw)
            .env("CUTOVER_TARGET_PASSWORD", MI_PASSWORD)
            .output()
            .expect("run cutover");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .expect("join")
}

fn target_args(s: &Setup) -> Vec<String> {
    [
        "--target-server",
        &s.mi_server,
        "--target-user",
        MI_ADMIN,
        "--target-plaintext",
    ]
    .map(String::from)
    .to_vec()
}

/// Every SQL login's hash as the source gives it, in the forms a leak could take.
async fn hash_forms(s: &Setup) -> Vec<String> {
    let mut c = SourceClient::connect(&options(
        &s.sb.info.sql_server,
        "sa",
        &s.sb.info.sql_password,
    ))
    .await
    .unwrap();
    let inv = c.login_inventory(&[]).await.unwrap();
    let mut out = Vec::new();
    for l in &inv.logins {
        if let LoginKind::Sql(d) = &l.kind {
            let hex = d.password_hash.as_ref().expect("a hash").expose_hex();
            let bare = hex.trim_start_matches("0x").to_string();
            out.push(bare.to_lowercase());
            out.push(bare);
        }
    }
    assert!(
        out.len() >= 6,
        "the sample has three SQL logins with hashes"
    );
    out
}

fn assert_no_hash(hashes: &[String], texts: &[&str]) {
    for t in texts {
        for h in hashes {
            assert!(!t.contains(h.as_str()), "a password hash leaked: {t}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_shows_every_kind_without_hashes() {
    let s = setup().await;
    let (code, out, err) = cutover(&s, &["logins", "list", "--json"]).await;
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let logins = v["logins"].as_array().unwrap();
    let find = |n: &str| {
        logins
            .iter()
            .find(|l| l["name"] == n)
            .unwrap_or_else(|| panic!("{n} missing: {out}"))
    };
    let [(app, _), (weird, _), (retired, _)] = SQL_LOGINS;
    assert_eq!(find(app)["kind"], "sql");
    assert_eq!(find(weird)["kind"], "sql");
    assert_eq!(
        find(weird)["server_roles"],
        serde_json::json!(["dbcreator"])
    );
    assert_eq!(find(retired)["disabled"], true);
    assert_eq!(find(retired)["check_expiration"], true);
    assert_eq!(find(WINDOWS_LOGIN)["kind"], "windows_login");
    assert_eq!(find(WINDOWS_GROUP)["kind"], "windows_group");
    assert_eq!(find(app)["sid"].as_str().unwrap().len(), 2 + 32);
    let used: Vec<&str> = find(app)["used_by"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert!(used.contains(&"Sales.app_sales"), "{used:?}");
    assert!(
        find(weird)["used_by"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u == "we]ird 'name.we]ird 'user"),
        "{out}"
    );
    for system in [
        "sa",
        "NT AUTHORITY\\SYSTEM",
        "##MS_PolicyTsqlExecutionLogin##",
    ] {
        assert!(
            !logins.iter().any(|l| l["name"] == system),
            "{system} listed"
        );
    }
    // The table too, and with a target the plan, hashes shown as <hash>.
    let mut args = vec!["logins".to_string(), "list".into()];
    args.extend(target_args(&s));
    args.extend([
        "--map".to_string(),
        format!("{WINDOWS_LOGIN}=app@contoso.com"),
    ]);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, table, err2) = cutover(&s, &a).await;
    assert_eq!(code, 0, "{err2}");
    assert!(
        table.contains("Windows group") && table.contains("disabled"),
        "{table}"
    );
    assert!(
        table.contains("CREATE LOGIN [we]]ird 'login] WITH PASSWORD = <hash> HASHED"),
        "{table}"
    );
    assert!(
        table.contains("CREATE LOGIN [app@contoso.com] FROM EXTERNAL PROVIDER"),
        "{table}"
    );
    assert!(table.contains("WINDOWS_LOGIN_UNMAPPED"), "{table}");
    let hashes = hash_forms(&s).await;
    assert_no_hash(&hashes, &[&out, &err, &table, &err2]);
    // Listing changed nothing on the target.
    assert!(s.mi.principals().login(app).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_keeps_sids_and_passwords_and_is_idempotent() {
    let s = setup().await;
    let mut args = vec!["logins".to_string(), "migrate".into(), "--json".into()];
    args.extend(target_args(&s));
    args.extend([
        "--map".to_string(),
        format!("{WINDOWS_LOGIN}=app@contoso.com"),
    ]);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out, err) = cutover(&s, &a).await;
    assert_eq!(code, 0, "{out}\n{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rows = v["logins"].as_array().unwrap();
    let status = |n: &str| {
        rows.iter()
            .find(|r| r["login"] == n)
            .map(|r| r["status"].as_str().unwrap().to_string())
            .unwrap()
    };
    for (name, _) in SQL_LOGINS {
        assert_eq!(status(name), "created", "{out}");
    }
    assert_eq!(status(WINDOWS_LOGIN), "created");
    assert_eq!(status(WINDOWS_GROUP), "skipped");

    // Same SIDs on the target as on the source.
    let mut src = SourceClient::connect(&options(
        &s.sb.info.sql_server,
        "sa",
        &s.sb.info.sql_password,
    ))
    .await
    .unwrap();
    let inv = src.login_inventory(&[]).await.unwrap();
    let mi = s.mi.principals();
    for (name, _) in SQL_LOGINS {
        let source_sid = &inv.logins.iter().find(|l| l.name == name).unwrap().sid.0;
        assert_eq!(&mi.login(name).unwrap().sid, source_sid, "{name}");
    }
    assert_eq!(mi.login("app@contoso.com").unwrap().kind, 'E');
    assert!(mi.login(WINDOWS_GROUP).is_none());
    assert!(mi.login("retired").unwrap().is_disabled);

    // The password travelled as its hash: the login logs in with the source's password.
    let [(app, app_pw), (weird, weird_pw), (retired, retired_pw)] = SQL_LOGINS;
    for (user, pw) in [(app, app_pw), (weird, weird_pw)] {
        let c = SourceClient::connect(&options(&s.mi_server, user, pw)).await;
        assert!(
            c.is_ok(),
            "{user} cannot log in to the target: {:?}",
            c.err()
        );
    }
    assert!(
        SourceClient::connect(&options(&s.mi_server, app, "wrong"))
            .await
            .is_err()
    );
    assert!(
        SourceClient::connect(&options(&s.mi_server, retired, retired_pw))
            .await
            .is_err(),
        "a disabled login logs in"
    );

    // Again: nothing to do.
    let (code, out2, err2) = cutover(&s, &a).await;
    assert_eq!(code, 0, "{out2}\n{err2}");
    let v: serde_json::Value = serde_json::from_str(&out2).unwrap();
    for r in v["logins"].as_array().unwrap() {
        assert!(
            r["sent"].as_array().unwrap().is_empty(),
            "second run sent {r}"
        );
        assert!(r["status"] == "exists" || r["status"] == "skipped", "{r}");
    }
    let hashes = hash_forms(&s).await;
    assert_no_hash(&hashes, &[&out, &err, &out2, &err2]);
    independent_client_sees_the_sids(&s, &inv).await;
}

/// pytds reads the target's sys.server_principals: the SIDs are the source's.
async fn independent_client_sees_the_sids(s: &Setup, inv: &cutover::logins::LoginInventory) {
    if !common::pytds_or_skip("the independent-client check") {
        return;
    }
    let port = s.mi_server.rsplit(',').next().unwrap().to_string();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg("-c")
            .arg(
                "import sys, pytds\n\
                 with pytds.connect(server='127.0.0.1', port=int(sys.argv[1]), user=sys.argv[2], password=sys.argv[3], database='master', autocommit=True) as c:\n\
                 \x20   cur = c.cursor()\n\
                 \x20   cur.execute('SELECT name, sid FROM sys.server_principals')\n\
                 \x20   for n, sid in cur.fetchall():\n\
                 \x20       print(n + '\\t' + ('0x' + sid.hex().upper() if sid else ''))\n",
            )
            .args([&port, MI_ADMIN, MI_PASSWORD])
            .output()
            .expect("python3 runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "pytds: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (name, _) in SQL_LOGINS {
        let sid = inv
            .logins
            .iter()
            .find(|l| l.name == name)
            .unwrap()
            .sid
            .hex();
        assert!(
            stdout.lines().any(|l| l == format!("{name}\t{sid}")),
            "{name} {sid} not in {stdout}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_with_another_sid_is_a_finding_and_is_kept() {
    let s = setup().await;
    let [(app, _), ..] = SQL_LOGINS;
    {
        let mut admin = SourceClient::connect(&options(&s.mi_server, MI_ADMIN, MI_PASSWORD))
            .await
            .unwrap();
        admin
            .execute_params(
                &format!("CREATE LOGIN [{app}] WITH PASSWORD = N'someone else''s'"),
                &[],
            )
            .await
            .unwrap();
        admin.close().await;
    }
    let before = s.mi.principals().login(app).unwrap().clone();
    let mut args = vec!["logins".to_string(), "migrate".into(), "--json".into()];
    args.extend(target_args(&s));
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out, err) = cutover(&s, &a).await;
    assert_eq!(code, 1, "a conflict fails the run: {out}\n{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let row = v["logins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["login"] == app)
        .unwrap()
        .clone();
    assert_eq!(row["status"], "failed");
    assert_eq!(row["finding"]["code"], "LOGIN_SID_CONFLICT");
    let reason = row["reason"].as_str().unwrap();
    let target_sid = cutover::logins::Sid(before.sid.clone()).hex();
    assert!(
        reason.contains(&target_sid) && reason.contains(row["sid"].as_str().unwrap()),
        "{reason}"
    );
    assert!(reason.contains("DROP LOGIN [app_sales]"), "{reason}");
    assert_eq!(
        s.mi.principals().login(app).unwrap(),
        &before,
        "the target login was changed"
    );
    // The others went on.
    assert!(s.mi.principals().login("retired").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphans_after_cutover_are_listed_and_remapped() {
    let s = setup().await;
    // The restored database brings its users with the source's SIDs.
    let mut src = SourceClient::connect(&options(
        &s.sb.info.sql_server,
        "sa",
        &s.sb.info.sql_password,
    ))
    .await
    .unwrap();
    let users = src.database_users("Sales").await.unwrap();
    assert!(users.iter().any(|u| u.name == "app") && users.iter().any(|u| u.name == "old_report"));
    let kinds: Vec<(String, char, Vec<u8>)> = users
        .iter()
        .map(|u| {
            (
                u.name.clone(),
                if u.name == "app" { 'U' } else { 'S' },
                u.sid.0.clone(),
            )
        })
        .collect();
    s.mi.add_restored_database("Sales", &kinds);
    let map = format!("{WINDOWS_LOGIN}=app@contoso.com");
    let mut migrate = vec!["logins".to_string(), "migrate".into()];
    migrate.extend(target_args(&s));
    migrate.extend(["--map".to_string(), map.clone()]);
    let a: Vec<&str> = migrate.iter().map(String::as_str).collect();
    assert_eq!(cutover(&s, &a).await.0, 0);

    let mut orphans = vec![
        "logins".to_string(),
        "orphans".into(),
        "--json".into(),
        "--database".into(),
        "Sales".into(),
    ];
    orphans.extend(target_args(&s));
    orphans.extend(["--map".to_string(), map]);
    let a: Vec<&str> = orphans.iter().map(String::as_str).collect();
    let (code, out, err) = cutover(&s, &a).await;
    assert_eq!(code, 1, "{out}\n{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let found: Vec<&str> = v["orphaned"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["user"].as_str().unwrap())
        .collect();
    assert_eq!(found.len(), 2, "{out}");
    assert!(
        found.contains(&"app") && found.contains(&"old_report"),
        "{out}"
    );
    let app = v["orphaned"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["user"] == "app")
        .unwrap();
    assert_eq!(
        app["remap"],
        "USE [Sales]; ALTER USER [app] WITH LOGIN = [app@contoso.com]"
    );

    let mut fix = orphans.clone();
    fix.push("--fix".into());
    let a: Vec<&str> = fix.iter().map(String::as_str).collect();
    let (code, out, _) = cutover(&s, &a).await;
    assert_eq!(code, 1, "old_report has no login anywhere: {out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["remapped"].as_array().unwrap().len(), 1, "{out}");
    let left: Vec<&str> = v["orphaned"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["user"].as_str().unwrap())
        .collect();
    assert_eq!(left, ["old_report"]);
    let entra_sid =
        s.mi.principals()
            .login("app@contoso.com")
            .unwrap()
            .sid
            .clone();
    assert!(
        s.mi.principals()
            .database
            .iter()
            .any(|(d, u)| d == "Sales" && u.name == "app" && u.sid.as_ref() == Some(&entra_sid))
    );
}
