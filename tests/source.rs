//! The source SQL Server client against the sandbox's local SQL Server (TDS on loopback): every query
//! returns the sandbox's state, login failures, a database named `we]ird 'name`, stop traffic and undo,
//! the tail-log backup as the next link of the chain, msdb history vs the folder, connection failures
//! with clear errors, named instances through a SQL Browser, the CLI, and an independent client (pytds).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches: a failed unwrap fails the run

use std::path::{Path, PathBuf};
mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use azure_core::credentials::Secret;
use cutover::backup::BackupType;
use cutover::catalog::{self, Code, ScanOptions, Severity};
use cutover::sandbox::{Sandbox, SandboxOptions};
use cutover::source::tail::{StopTraffic, TailRequest, take_tail_log_backup};
use cutover::source::{
    Encryption, ServerAddress, SourceAuth, SourceClient, SourceError, SourceOptions, crosscheck,
};

const WEIRD: &str = "we]ird 'name";

async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxOptions::default())
        .await
        .expect("sandbox starts")
}

fn options(sb: &Sandbox, password: &str) -> SourceOptions {
    let server: ServerAddress = sb.info.sql_server.parse().expect("sandbox address");
    let mut o = SourceOptions::new(
        server,
        SourceAuth::SqlLogin {
            user: sb.info.sql_user.clone(),
            password: Secret::new(password.to_string()),
        },
        Encryption::Plaintext,
    );
    o.connect_timeout = Duration::from_secs(5);
    o
}

async fn connect(sb: &Sandbox) -> SourceClient {
    SourceClient::connect(&options(sb, &sb.info.sql_password))
        .await
        .expect("connects to the sandbox")
}

fn folder_of(sb: &Sandbox, db: &str) -> PathBuf {
    sb.sql.database_dir(db)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_return_the_sandbox_state() {
    let sb = sandbox().await;
    let mut c = connect(&sb).await;
    let info = c.server_info().await.expect("server info");
    assert_eq!(info.server_name, "SANDBOX");
    assert!(info.is_sysadmin);
    assert_eq!(info.login_name, "sa");
    assert_eq!(info.major_version(), Some(16));

    let dbs = c.databases().await.expect("databases");
    let names: Vec<&str> = dbs.iter().map(|d| d.name.as_str()).collect();
    let mut expected = sb.info.databases.clone();
    expected.sort();
    assert_eq!(
        names,
        expected.iter().map(String::as_str).collect::<Vec<_>>()
    );
    let legacy = dbs.iter().find(|d| d.name == "Legacy").expect("Legacy");
    assert_eq!(legacy.recovery_model, "SIMPLE");
    assert!(
        legacy.last_log_backup.is_none(),
        "a SIMPLE database has no log backups"
    );
    let sales = dbs.iter().find(|d| d.name == "Sales").expect("Sales");
    assert_eq!(sales.recovery_model, "FULL");
    assert_eq!(sales.state, "ONLINE");
    assert!(sales.size_bytes > 0);
    assert!(sales.last_full_backup.is_some() && sales.last_log_backup.is_some());

    // msdb history agrees with the files the sandbox wrote, LSN for LSN.
    let history = c.backup_history("Sales").await.expect("history");
    assert_eq!(
        history.iter().map(|h| h.backup_type).collect::<Vec<_>>(),
        vec![BackupType::Full, BackupType::Log, BackupType::Log]
    );
    for h in &history {
        let sets =
            cutover::backup::read_backup_file(Path::new(&h.device)).expect("device is a real file");
        assert_eq!(sets[0].first_lsn, h.first_lsn, "{}", h.device);
        assert_eq!(sets[0].last_lsn, h.last_lsn);
        assert_eq!(sets[0].has_backup_checksums, h.has_checksums);
    }
    assert_eq!(
        history[1].first_lsn, history[0].first_lsn,
        "the first log starts at the full"
    );
    assert_eq!(history[2].first_lsn, history[1].last_lsn, "logs continue");
    let inventory = c.backup_history("Inventory").await.expect("history");
    assert!(inventory.iter().all(|h| !h.has_checksums));
    assert!(c.backup_history("nope").await.expect("history").is_empty());
    c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_password_gives_login_failed() {
    let sb = sandbox().await;
    let e = SourceClient::connect(&options(&sb, "wrong"))
        .await
        .expect_err("wrong password must fail");
    let msg = e.to_string();
    assert!(matches!(e, SourceError::LoginFailed { .. }), "{e:?}");
    assert!(msg.contains("Login failed for user 'sa'"), "{msg}");
    assert!(msg.contains(&sb.info.sql_server), "names the server: {msg}");
    assert!(
        !msg.contains(&sb.info.sql_password),
        "never shows a password: {msg}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weird_name_end_to_end_stop_traffic_tail_and_chain() {
    let sb = sandbox().await;
    let opts = options(&sb, &sb.info.sql_password);
    let mut c = connect(&sb).await;
    assert!(
        c.databases()
            .await
            .expect("dbs")
            .iter()
            .any(|d| d.name == WEIRD)
    );
    let history = c
        .backup_history(WEIRD)
        .await
        .expect("history of the weird name");
    assert_eq!(history.len(), 3);

    // Stop traffic and undo it.
    c.stop_traffic(WEIRD, StopTraffic::ReadOnly)
        .await
        .expect("read only");
    assert_eq!(sb.sql.database_read_only(WEIRD), Some(true));
    c.undo_stop_traffic(WEIRD, StopTraffic::ReadOnly)
        .await
        .expect("read write");
    assert_eq!(sb.sql.database_read_only(WEIRD), Some(false));
    c.stop_traffic(WEIRD, StopTraffic::RestrictedUser)
        .await
        .expect("restricted");

    // The tail-log backup lands in the folder as the next link of the chain.
    let folder = folder_of(&sb, WEIRD);
    let req = TailRequest {
        database: WEIRD.into(),
        server_folder: folder.to_string_lossy().into_owned(),
        local_folder: folder.clone(),
        appear_timeout: Duration::from_secs(5),
    };
    let before = history.last().expect("a log").last_lsn;
    let tail = take_tail_log_backup(&opts, &req)
        .await
        .expect("tail-log backup");
    assert_eq!(tail.set.first_lsn, before);
    assert!(tail.set.has_backup_checksums, "WITH CHECKSUM");
    assert_eq!(sb.sql.database_state(WEIRD).as_deref(), Some("RESTORING"));

    let scan = catalog::scan_folder(&folder, &ScanOptions::default()).expect("scan");
    let report = catalog::check(&scan);
    let plan = report.database(WEIRD).expect("planned");
    assert!(!plan.has_errors(), "{:?}", plan.findings);
    let last = plan.last().expect("plan");
    assert_eq!(
        last.file, tail.file_name,
        "the tail is the last file of the plan"
    );
    assert_eq!(last.last_lsn, tail.set.last_lsn);

    // msdb now holds the tail too; nothing is missing from the folder.
    let history = c.backup_history(WEIRD).await.expect("history");
    assert_eq!(history.last().map(|h| h.last_lsn), Some(tail.set.last_lsn));
    let sets: Vec<_> = scan
        .files
        .iter()
        .filter_map(|f| f.sets.as_ref().ok())
        .flatten()
        .collect();
    assert!(crosscheck::history_findings(WEIRD, &history, &sets, Some(plan)).is_empty());

    // A restoring database takes no second tail and no ALTER.
    let e = take_tail_log_backup(&opts, &req)
        .await
        .expect_err("restoring");
    assert_eq!(e.number(), Some(927), "{e}");
    let e = c
        .undo_stop_traffic(WEIRD, StopTraffic::RestrictedUser)
        .await
        .expect_err("restoring");
    assert_eq!(e.number(), Some(5052), "{e}");
    c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_backup_written_elsewhere_is_found_and_server_rules_hold() {
    let sb = sandbox().await;
    let opts = options(&sb, &sb.info.sql_password);
    let mut c = connect(&sb).await;
    // Someone takes an ad-hoc log backup to another folder: the chain in the backup folder breaks.
    let elsewhere = tempfile::tempdir().expect("tmp");
    let adhoc = elsewhere.path().join("adhoc.trn");
    c.execute_params(
        "BACKUP LOG @P1 TO DISK = @P2 WITH CHECKSUM, INIT",
        &["Sales", &adhoc.to_string_lossy()],
    )
    .await
    .expect("ad-hoc log backup");
    sb.sql
        .backup_now("Sales", true)
        .expect("the next scheduled log");
    let folder = folder_of(&sb, "Sales");
    let scan = catalog::scan_folder(&folder, &ScanOptions::default()).expect("scan");
    let report = catalog::check(&scan);
    assert!(
        report
            .database("Sales")
            .expect("planned")
            .findings
            .iter()
            .any(|f| f.code == Code::LogChainGap)
    );
    let history = c.backup_history("Sales").await.expect("history");
    let sets: Vec<_> = scan
        .files
        .iter()
        .filter_map(|f| f.sets.as_ref().ok())
        .flatten()
        .collect();
    let f = crosscheck::history_findings("Sales", &history, &sets, report.database("Sales"));
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].code, Code::MsdbBackupNotInFolder);
    assert_eq!(f[0].severity, Severity::Error);
    assert!(
        f[0].message.contains(&*adhoc.to_string_lossy()),
        "{}",
        f[0].message
    );

    // SIMPLE recovery: no BACKUP LOG, and a finding.
    let e = c
        .execute_params(
            "BACKUP LOG @P1 TO DISK = @P2 WITH INIT",
            &["Legacy", &elsewhere.path().join("l.trn").to_string_lossy()],
        )
        .await
        .expect_err("SIMPLE");
    assert_eq!(e.number(), Some(4208), "{e}");
    let dbs = c.databases().await.expect("dbs");
    let legacy = dbs.iter().find(|d| d.name == "Legacy").expect("Legacy");
    assert_eq!(
        crosscheck::database_findings(legacy)[0].code,
        Code::SimpleRecovery
    );
    // A path the server cannot write to, a database that does not exist.
    let e = c
        .execute_params(
            "BACKUP LOG @P1 TO DISK = @P2 WITH INIT",
            &["Sales", "/nonexistent/dir/x.trn"],
        )
        .await
        .expect_err("bad path");
    assert_eq!(e.number(), Some(3201), "{e}");
    assert!(
        e.to_string().contains("service account"),
        "says what to check: {e}"
    );
    let e = take_tail_log_backup(
        &opts,
        &TailRequest {
            database: "NoSuchDb".into(),
            server_folder: folder.to_string_lossy().into_owned(),
            local_folder: folder.clone(),
            appear_timeout: Duration::from_secs(1),
        },
    )
    .await
    .expect_err("no such database");
    assert_eq!(e.number(), Some(911), "{e}");
    // Unknown SQL is an error, never an empty success.
    let e = c
        .execute_params("SELECT * FROM dbo.Orders WHERE id = @P1", &["1"])
        .await
        .expect_err("unknown SQL");
    assert_eq!(e.number(), Some(102), "{e}");
    c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_failures_are_clear_and_quick() {
    let sb = sandbox().await;
    let auth = || SourceAuth::SqlLogin {
        user: "sa".into(),
        password: Secret::new("x".to_string()),
    };
    let opts = |server: &str, enc: Encryption| {
        let mut o = SourceOptions::new(server.parse().expect("address"), auth(), enc);
        o.connect_timeout = Duration::from_secs(2);
        o
    };
    // A closed port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let t = Instant::now();
    let e = SourceClient::connect(&opts(&format!("127.0.0.1,{port}"), Encryption::Plaintext))
        .await
        .expect_err("closed port");
    assert!(matches!(e, SourceError::Connect { .. }), "{e:?}");
    assert!(
        e.to_string().contains(&format!("127.0.0.1,{port}")) && e.to_string().contains("firewall"),
        "{e}"
    );
    assert!(t.elapsed() < Duration::from_secs(3));
    // A host that does not resolve.
    let e = SourceClient::connect(&opts(
        "no-such-host.invalid,1433",
        Encryption::Tls {
            trust_server_certificate: false,
        },
    ))
    .await
    .expect_err("no such host");
    assert!(
        matches!(e, SourceError::Resolve { .. } | SourceError::Timeout { .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("no-such-host.invalid"), "{e}");
    // A server that answers garbage, and one that answers nothing.
    for garbage in [true, false] {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = l.local_addr().expect("addr").port();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let mut buf = [0u8; 512];
                    let _ = s.read(&mut buf).await;
                    if garbage {
                        let _ = s
                            .write_all(
                                b"HTTP/1.1 400 Bad Request\r\n\r\nnot tds at all, really not",
                            )
                            .await;
                    }
                    tokio::time::sleep(Duration::from_secs(10)).await;
                });
            }
        });
        let t = Instant::now();
        let e = SourceClient::connect(&opts(&format!("127.0.0.1,{port}"), Encryption::Plaintext))
            .await
            .expect_err("not a SQL Server");
        assert!(
            t.elapsed() < Duration::from_secs(4),
            "within the timeout: {:?}",
            t.elapsed()
        );
        assert!(
            matches!(
                e,
                SourceError::Protocol { .. } | SourceError::Timeout { .. } | SourceError::Io { .. }
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains(&format!("127.0.0.1,{port}")), "{e}");
    }
    // Plain text is refused for anything but loopback, before any connection is tried.
    let e = SourceClient::connect(&opts("10.1.2.3,1433", Encryption::Plaintext))
        .await
        .expect_err("plaintext to a remote host");
    assert!(
        matches!(e, SourceError::PlaintextNotLoopback { .. }),
        "{e:?}"
    );
    // TLS to the sandbox (which has no certificate) fails with a TLS-or-protocol error naming it.
    let e = SourceClient::connect(&opts(
        &sb.info.sql_server,
        Encryption::Tls {
            trust_server_certificate: true,
        },
    ))
    .await
    .expect_err("the sandbox does not speak TLS");
    assert!(e.to_string().contains(&sb.info.sql_server), "{e}");
    // Said as what it is (the server offers no encryption), not as "not TDS".
    assert!(
        matches!(e, SourceError::EncryptionNotOffered { .. }),
        "{e:?}"
    );
    assert!(!e.to_string().contains("not TDS"), "{e}");
    assert!(e.to_string().contains("--plaintext"), "{e}");
}

/// A proxy in front of the sandbox that passes the pre-login and login answers, then swallows
/// every later answer: a server that accepts a login and then never answers a query.
async fn silent_after_login(target: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let target = target.replace(',', ":");
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = l.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((client, _)) = l.accept().await {
            let Ok(server) = tokio::net::TcpStream::connect(&target).await else {
                return;
            };
            let (mut cr, mut cw) = client.into_split();
            let (mut sr, mut sw) = server.into_split();
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut cr, &mut sw).await;
            });
            tokio::spawn(async move {
                // Forward two whole messages (pre-login reply, login reply), then nothing.
                let mut messages = 0;
                while messages < 2 {
                    let mut header = [0u8; 8];
                    if sr.read_exact(&mut header).await.is_err() {
                        return;
                    }
                    let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
                    let mut body = vec![0u8; len.saturating_sub(8)];
                    if sr.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    let _ = cw.write_all(&header).await;
                    let _ = cw.write_all(&body).await;
                    if header[1] & 0x01 != 0 {
                        messages += 1;
                    }
                }
                let mut sink = vec![0u8; 4096];
                while matches!(sr.read(&mut sink).await, Ok(n) if n > 0) {}
                drop(cw);
            });
        }
    });
    format!("127.0.0.1,{port}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_timeout_under_a_second_is_shown_in_milliseconds() {
    let sb = sandbox().await;
    let proxy = silent_after_login(&sb.info.sql_server).await;
    let mut o = options(&sb, &sb.info.sql_password);
    o.server = proxy.parse().expect("address");
    let mut client = SourceClient::connect_with_timeout(&o, Duration::from_millis(300))
        .await
        .expect("login passes through the proxy");
    let t = Instant::now();
    let e = client.server_info().await.expect_err("no answer");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert!(matches!(e, SourceError::Timeout { .. }), "{e:?}");
    assert!(e.to_string().contains("within 300 ms"), "{e}");
    assert!(e.to_string().contains(&proxy), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_instance_is_found_through_the_sql_browser() {
    let sb = sandbox().await;
    let port: u16 = sb
        .info
        .sql_server
        .rsplit(',')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    // A SQL Server Browser (SSRP, MS-SQLR) answering CLNT_UCAST_INST for instance SANDBOX.
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("udp");
    let browser_port = udp.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let mut buf = [0u8; 256];
        while let Ok((n, from)) = udp.recv_from(&mut buf).await {
            if n < 2 || buf[0] != 0x04 || &buf[1..n] != b"SANDBOX" {
                continue;
            }
            let text = format!(
                "ServerName;LOCAL;InstanceName;SANDBOX;IsClustered;No;Version;16.0.4135.4;tcp;{port};;"
            );
            let mut reply = vec![0x05];
            reply.extend_from_slice(&(text.len() as u16).to_le_bytes());
            reply.extend_from_slice(text.as_bytes());
            let _ = udp.send_to(&reply, from).await;
        }
    });
    let mut o = options(&sb, &sb.info.sql_password);
    o.server = r"127.0.0.1\SANDBOX".parse().expect("named");
    o.browser_port = browser_port;
    let mut c = SourceClient::connect(&o)
        .await
        .expect("connects through the browser");
    assert_eq!(c.server_info().await.expect("info").server_name, "SANDBOX");
    c.close().await;
    o.server = r"127.0.0.1\OTHER".parse().expect("named");
    o.connect_timeout = Duration::from_secs(3);
    let e = SourceClient::connect(&o)
        .await
        .expect_err("unknown instance");
    assert!(
        matches!(e, SourceError::Browser { .. } | SourceError::Timeout { .. }),
        "{e:?}"
    );
    assert!(
        e.to_string().contains("OTHER") || e.to_string().contains("Browser"),
        "{e}"
    );
}

fn cutover(args: &[&str], envs: &[(&str, &str)]) -> (i32, String, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cutover"));
    c.args(args).env_remove("CUTOVER_SOURCE_PASSWORD");
    for (k, v) in envs {
        c.env(k, v);
    }
    let out = c.output().expect("run cutover");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_source_command() {
    let sb = sandbox().await;
    let server = sb.info.sql_server.clone();
    let pw = sb.info.sql_password.clone();
    let run = move |args: Vec<String>, pw: String| {
        tokio::task::spawn_blocking(move || {
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            cutover(&a, &[("SBX_PW", &pw)])
        })
    };
    let base = |cmd: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = vec!["source".into()];
        v.extend(cmd.iter().map(|s| s.to_string()));
        v.extend(
            [
                "--server",
                &server,
                "--user",
                "sa",
                "--password-env",
                "SBX_PW",
                "--plaintext",
            ]
            .map(String::from),
        );
        v
    };
    let (code, out, err) = run(base(&["databases", "--json"]), pw.clone())
        .await
        .expect("join");
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let names: Vec<&str> = v["databases"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|d| d["name"].as_str())
        .collect();
    assert!(
        names.contains(&WEIRD) && names.contains(&"Legacy"),
        "{names:?}"
    );
    assert!(
        !out.contains(&pw) && !err.contains(&pw),
        "the password is never printed"
    );

    // The server and user from the environment's layer (as `cutover run` reads them).
    let (srv, p2) = (server.clone(), pw.clone());
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        cutover(
            &[
                "source",
                "databases",
                "--password-env",
                "SBX_PW",
                "--plaintext",
            ],
            &[
                ("SBX_PW", p2.as_str()),
                ("CUTOVER_SOURCE_SERVER", srv.as_str()),
                ("CUTOVER_SOURCE_USER", "sa"),
            ],
        )
    })
    .await
    .expect("join");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Legacy"), "{out}");

    let (code, out, err) = run(base(&["history", WEIRD]), pw.clone())
        .await
        .expect("join");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("FULL") && out.contains("LOG"), "{out}");

    let (code, out, _) = run(
        base(&["check", "--backups", &sb.info.backup_dir]),
        pw.clone(),
    )
    .await
    .expect("join");
    assert_eq!(code, 1, "Legacy is SIMPLE: an error\n{out}");
    assert!(
        out.contains("SIMPLE_RECOVERY") && out.contains("Legacy"),
        "{out}"
    );

    let (code, _, err) = run(base(&["databases"]), "wrong".into())
        .await
        .expect("join");
    assert_eq!(code, 1);
    assert!(err.contains("Login failed"), "{err}");
    let (code, _, err) = run(
        vec![
            "source".into(),
            "databases".into(),
            "--server".into(),
            "db01".into(),
            "--user".into(),
            "sa".into(),
        ],
        pw.clone(),
    )
    .await
    .expect("join");
    assert_eq!(code, 2);
    assert!(err.contains("CUTOVER_SOURCE_PASSWORD"), "{err}");
    let (code, _, err) = run(vec!["source".into(), "databases".into()], pw.clone())
        .await
        .expect("join");
    assert_eq!(code, 2);
    assert!(err.contains("--server"), "{err}");
    let (code, _, err) = run(
        vec![
            "source".into(),
            "databases".into(),
            "--server".into(),
            "db01,x".into(),
            "--user".into(),
            "sa".into(),
            "--password-env".into(),
            "SBX_PW".into(),
        ],
        pw.clone(),
    )
    .await
    .expect("join");
    assert_eq!(code, 2);
    assert!(err.contains("--server") && err.contains("port"), "{err}");

    // The config file's [source] section, with an unknown key refused by name.
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, format!("[source]\nserver = \"{server}\"\nuser = \"sa\"\npassword_env = \"SBX_PW\"\nplaintext = true\n")).expect("write");
    let (code, out, err) = run(
        vec![
            "source".into(),
            "databases".into(),
            "--config".into(),
            cfg.to_string_lossy().into_owned(),
        ],
        pw.clone(),
    )
    .await
    .expect("join");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Sales"));
    std::fs::write(&cfg, "[source]\nsever = \"x\"\n").expect("write");
    let (code, _, err) = run(
        vec![
            "source".into(),
            "databases".into(),
            "--config".into(),
            cfg.to_string_lossy().into_owned(),
        ],
        pw,
    )
    .await
    .expect("join");
    assert_eq!(code, 2);
    assert!(err.contains("sever") && err.contains("c.toml"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_independent_client_lists_the_databases() {
    if !common::pytds_or_skip("the independent-client test") {
        return;
    }
    let sb = sandbox().await;
    let port = sb
        .info
        .sql_server
        .rsplit(',')
        .next()
        .expect("port")
        .to_string();
    let pw = sb.info.sql_password.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg("-c")
            .arg(
                "import sys, pytds\n\
                 with pytds.connect(server='127.0.0.1', port=int(sys.argv[1]), user='sa', password=sys.argv[2], database='master', autocommit=True) as c:\n\
                 \x20   cur = c.cursor()\n\
                 \x20   cur.execute('SELECT name FROM sys.databases')\n\
                 \x20   print('\\n'.join(r[0] for r in cur.fetchall()))\n",
            )
            .args([&port, &pw])
            .output()
            .expect("python3 runs")
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "pytds failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let names: Vec<&str> = stdout.lines().collect();
    for db in ["master", "msdb", "Sales", "Inventory", WEIRD, "Legacy"] {
        assert!(names.contains(&db), "{db} missing from {names:?}");
    }
}
