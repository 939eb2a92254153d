//! Logins in a whole `cutover run` (headless, `--cutover when-ready`) against the sandbox: its source
//! SQL Server has SQL logins (one needing quoting, one disabled), a Windows login and a Windows
//! group, users mapped to them in the databases; the instance's SQL side gets the databases' users
//! with the source's SIDs when LRS completes. After the run every SQL login is on the instance with
//! the source's SID (read with an independent client, pytds), the mapped Windows login was created
//! FROM EXTERNAL PROVIDER and its user mapped to it, the unmapped group is a skipped finding, no
//! user whose login was migrated is orphaned, a second run sends nothing again, and no password
//! hash of the source is in the state folder, the logs or the output.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap fails the run

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use cutover::logins::LoginKind;
use cutover::sandbox::sample_logins::{SQL_LOGINS, WINDOWS_GROUP, WINDOWS_LOGIN};
use cutover::source::SourceClient;
use serde_json::Value;

const DATABASES: [&str; 2] = ["Sales", "we]ird 'name"];
const ENTRA: &str = "app@contoso.com";

use common::running::{Running, sql_options as options};

fn start() -> Running {
    common::running::start(200.0)
}

fn toml_str(s: &str) -> String {
    format!("{s:?}")
}

fn write_config(r: &Running, dir: &Path) -> PathBuf {
    let i = &r.sb.info;
    let mut cfg = format!(
        r#"
[source]
server = "{sql}"
user = "{user}"
password_env = "SBX_PW"
plaintext = true
[target]
subscription = "{sub}"
resource_group = "{rg}"
managed_instance = "{mi}"
arm_endpoint = "{arm}"
sandbox = true
sql_server = "{mi_sql}"
sql_user = "{mi_user}"
sql_password_env = "SBX_MI_PW"
[storage]
container = "{blob}/{container}"
account_key_env = "SBX_KEY"
[migration]
activity = "logins-run"
databases = [{dbs}]
cutover = "when-ready"
tail = "skip"
scan_seconds = 0.3
poll_seconds = 0.3
state_dir = "{state}"
[logins]
select = ["*"]
[[logins.map]]
windows = {win}
entra = "{ENTRA}"
"#,
        sql = i.sql_server,
        user = i.sql_user,
        sub = i.subscription_id,
        rg = i.resource_group,
        mi = i.managed_instance,
        arm = i.arm_endpoint,
        mi_sql = i.mi_sql_server,
        mi_user = i.mi_sql_user,
        blob = i.blob_endpoint,
        container = i.container,
        dbs = DATABASES.map(toml_str).join(", "),
        state = dir.join("state").display(),
        win = toml_str(WINDOWS_LOGIN),
    );
    cfg.push_str("[backups]\n");
    for db in DATABASES {
        cfg.push_str(&format!(
            "[[backups.database]]\nname = {}\nfolder = {}\n",
            toml_str(db),
            toml_str(&r.sb.sql.database_dir(db).display().to_string())
        ));
    }
    let p = dir.join("cutover.toml");
    std::fs::write(&p, cfg).unwrap();
    p
}

fn run(r: &Running, cfg: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cutover"))
        .args(["run", "--json", "--config", cfg.to_str().unwrap()])
        .env("SBX_PW", &r.sb.info.sql_password)
        .env("SBX_KEY", &r.sb.info.account_key)
        .env("SBX_MI_PW", &r.sb.info.mi_sql_password)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every SQL login's hash as the source gives it, in the forms a leak could take, and the SIDs.
fn source_logins(r: &Running) -> (Vec<String>, Vec<(String, String)>) {
    let i = &r.sb.info;
    r.rt.block_on(async {
        let mut c = SourceClient::connect(&options(&i.sql_server, &i.sql_user, &i.sql_password))
            .await
            .unwrap();
        let inv = c.login_inventory(&[]).await.unwrap();
        c.close().await;
        let mut hashes = Vec::new();
        let mut sids = Vec::new();
        for l in &inv.logins {
            if let LoginKind::Sql(d) = &l.kind {
                let hex = d.password_hash.as_ref().expect("a hash").expose_hex();
                let bare = hex.trim_start_matches("0x").to_string();
                hashes.push(bare.to_lowercase());
                hashes.push(bare);
                sids.push((l.name.clone(), l.sid.hex()));
            }
        }
        (hashes, sids)
    })
}

/// The instance's logins as pytds reads them: `name\tsid\ttype`.
fn target_principals(r: &Running) -> Option<String> {
    if !common::pytds_or_skip("the independent-client check") {
        return None;
    }
    let i = &r.sb.info;
    let port = i.mi_sql_server.rsplit(',').next().unwrap().to_string();
    let out = Command::new("python3")
        .arg("-c")
        .arg(
            "import sys, pytds\n\
             with pytds.connect(server='127.0.0.1', port=int(sys.argv[1]), user=sys.argv[2], password=sys.argv[3], database='master', autocommit=True) as c:\n\
             \x20   cur = c.cursor()\n\
             \x20   cur.execute('SELECT name, sid, type FROM sys.server_principals')\n\
             \x20   for n, sid, t in cur.fetchall():\n\
             \x20       print(n + '\\t' + ('0x' + sid.hex().upper() if sid else '') + '\\t' + t)\n",
        )
        .args([&port, &i.mi_sql_user, &i.mi_sql_password])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "pytds: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn a_run_migrates_the_logins_keeps_sids_and_leaves_no_orphan() {
    let r = start();
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write_config(&r, tmp.path());
    let (code, out, err) = run(&r, &cfg);
    assert_eq!(code, 0, "{out}\n{err}");
    let summary: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    for d in summary["databases"].as_array().unwrap() {
        assert_eq!(d["status"], "Completed", "{summary}");
    }

    // Per login: every SQL login Created, the mapped Windows login Created as its Entra name, the
    // unmapped group Skipped with what to do.
    let logins = summary["logins"].as_array().expect("logins in the summary");
    let row = |name: &str| {
        logins
            .iter()
            .find(|l| l["login"] == name)
            .unwrap_or_else(|| panic!("{name} not in {summary}"))
    };
    for (name, _) in SQL_LOGINS {
        assert_eq!(row(name)["status"], "created", "{name}: {summary}");
    }
    assert_eq!(row(WINDOWS_LOGIN)["status"], "created");
    assert_eq!(row(WINDOWS_LOGIN)["target"], ENTRA);
    assert_eq!(row(WINDOWS_GROUP)["status"], "skipped");
    let reason = row(WINDOWS_GROUP)["reason"].as_str().unwrap();
    assert!(reason.contains("[[logins.map]]"), "{reason}");
    assert!(
        !logins.iter().any(|l| l["login"] == "sa"),
        "the server's own logins are not migrated: {summary}"
    );

    // The instance, read with pytds: the source's SIDs; the Entra login from the external provider.
    let (hashes, sids) = source_logins(&r);
    assert!(hashes.len() >= 6, "the sample has three SQL logins");
    if let Some(principals) = target_principals(&r) {
        for (name, sid) in &sids {
            if SQL_LOGINS.iter().any(|(n, _)| n == name) {
                assert!(
                    principals.lines().any(|l| l == format!("{name}\t{sid}\tS")),
                    "{name} {sid} not in {principals}"
                );
            }
        }
        assert!(
            principals
                .lines()
                .any(|l| l.starts_with(&format!("{ENTRA}\t")) && l.ends_with("\tE")),
            "{ENTRA} (type E) not in {principals}"
        );
        assert!(!principals.contains(WINDOWS_GROUP), "{principals}");
    }
    let mi = r.sb.mi_sql.principals();
    assert!(
        mi.login("retired").unwrap().is_disabled,
        "the disabled state travels"
    );

    // After cutover: the Windows user was mapped to its Entra login; the only orphan left is the
    // user whose login was dropped on the source long ago (orphaned there already).
    let entra_sid = mi.login(ENTRA).unwrap().sid.clone();
    assert!(
        mi.database
            .iter()
            .any(|(d, u)| d == "Sales" && u.name == "app" && u.sid.as_ref() == Some(&entra_sid)),
        "the user app is mapped to {ENTRA}"
    );
    for d in summary["databases"].as_array().unwrap() {
        let orphans: Vec<&str> = d["orphaned_users"]
            .as_array()
            .map(|a| a.iter().map(|f| f["message"].as_str().unwrap()).collect())
            .unwrap_or_default();
        assert_eq!(orphans.len(), 1, "{}: {orphans:?}", d["name"]);
        assert!(
            orphans[0].contains("[old_report]") && orphans[0].contains("as on the source already"),
            "{orphans:?}"
        );
        // Not the migration's doing: information, not a warning.
        assert_eq!(d["orphaned_users"][0]["severity"], "info", "{d}");
    }
    for db in DATABASES {
        let orphaned_sql_user = mi.database.iter().any(|(d, u)| {
            d == db
                && u.name != "old_report"
                && u.sid
                    .as_ref()
                    .is_some_and(|s| !mi.server.iter().any(|l| &l.sid == s))
                && u.kind != 'R'
                && !["dbo", "guest", "sys", "INFORMATION_SCHEMA"].contains(&u.name.as_str())
        });
        assert!(
            !orphaned_sql_user,
            "an orphaned user in {db}: {:?}",
            mi.database
        );
    }
    assert!(
        out.contains("user mapped to its migrated login: USE [Sales]; ALTER USER [app] WITH LOGIN = [app@contoso.com]"),
        "{out}"
    );

    // A second run of the same activity sends nothing again.
    let state = tmp.path().join("state");
    let logins_file = state.join("logins-run.d").join("logins.json");
    let before = std::fs::read_to_string(&logins_file).expect("the logins' state");
    let (code2, out2, err2) = run(&r, &cfg);
    assert_eq!(code2, 0, "{out2}\n{err2}");
    assert!(
        out2.contains("were migrated by an earlier run; nothing is sent again"),
        "{out2}"
    );
    assert!(!out2.contains("created on the instance"), "{out2}");
    assert_eq!(std::fs::read_to_string(&logins_file).unwrap(), before);

    // No hash anywhere: state folder (states, logins, logs) and everything printed.
    let mut files = Vec::new();
    files_under(&state, &mut files);
    assert!(
        files.iter().any(|f| f.to_string_lossy().contains("logs")),
        "the run logs into the state folder: {files:?}"
    );
    let mut texts = vec![out, err, out2, err2];
    for f in &files {
        texts.push(String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned());
    }
    for t in &texts {
        for h in &hashes {
            assert!(!t.contains(h.as_str()), "a password hash leaked: {t}");
        }
    }
}

/// A login of the same name with another SID on the instance: that login Failed with both SIDs and
/// the fix, never overwritten; the others and the databases go on; the next run of the activity
/// tries the failed one again (and only it) once the operator dropped the conflicting login.
#[test]
fn a_conflicting_login_fails_alone_and_is_retried_on_resume() {
    let r = start();
    let i = &r.sb.info;
    let admin = options(&i.mi_sql_server, &i.mi_sql_user, &i.mi_sql_password);
    let [(app, _), ..] = SQL_LOGINS;
    let sql = |stmt: String| {
        r.rt.block_on(async {
            let mut c = SourceClient::connect(&admin).await.unwrap();
            c.execute_params(&stmt, &[]).await.unwrap();
            c.close().await;
        })
    };
    sql(format!(
        "CREATE LOGIN [{app}] WITH PASSWORD = N'someone else''s'"
    ));
    let before = r.sb.mi_sql.principals().login(app).unwrap().clone();
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write_config(&r, tmp.path());
    let (code, out, err) = run(&r, &cfg);
    assert_eq!(
        code, 0,
        "a failed login does not fail the run: {out}\n{err}"
    );
    let summary: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    for d in summary["databases"].as_array().unwrap() {
        assert_eq!(d["status"], "Completed", "{summary}");
    }
    let row = |s: &Value, name: &str| {
        s["logins"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["login"] == name)
            .unwrap()
            .clone()
    };
    let failed = row(&summary, app);
    assert_eq!(failed["status"], "failed", "{summary}");
    let reason = failed["reason"].as_str().unwrap();
    assert!(
        reason.contains(&cutover::logins::Sid(before.sid.clone()).hex())
            && reason.contains("DROP LOGIN [app_sales]"),
        "{reason}"
    );
    assert_eq!(r.sb.mi_sql.principals().login(app).unwrap(), &before);
    assert_eq!(row(&summary, "retired")["status"], "created");
    // The users of app_sales are orphaned (their SID has no login): said after cutover.
    assert!(
        out.contains("ORPHANED_USER") && out.contains("[app_sales]"),
        "{out}"
    );

    // The operator drops the conflicting login; the next run creates only it.
    sql(format!("DROP LOGIN [{app}]"));
    let (code, out2, err2) = run(&r, &cfg);
    assert_eq!(code, 0, "{out2}\n{err2}");
    assert!(out2.contains("1 to migrate to the instance"), "{out2}");
    assert!(
        out2.contains("login [app_sales]: created on the instance"),
        "{out2}"
    );
    assert!(!out2.contains("login [retired]: created"), "{out2}");
    let summary: Value = serde_json::from_str(out2.lines().last().unwrap()).unwrap();
    assert_eq!(row(&summary, app)["status"], "created");
    assert_eq!(row(&summary, "retired")["status"], "created");
}
