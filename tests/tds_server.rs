//! The sandbox's TDS server (`cutover::sandbox::tds`) against real clients: tiberius 0.13 (the
//! client `cutover` itself uses) and, independently, Python's `pytds`
//! (`tests/tools/tds_python_client.py`). A small test backend gives the statements a meaning.
//!
//! The pytds part says it skipped when python-tds is not installed, and fails on CI
//! (`CI=true`). No assertion depends on timing (timeouts only guard against hangs).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches: a failed unwrap fails the run

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cutover::sandbox::tds::server::TdsServer;
use cutover::sandbox::tds::{
    Column, ColumnType, LoginError, Reply, Request, Session, SqlBackend, Value,
};
use tiberius::numeric::Numeric;
use tiberius::{AuthMethod, Client, Config, EncryptionLevel};
use time::PrimitiveDateTime;
use time::macros::datetime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::compat::{Compat, TokioAsyncWriteCompatExt};

const USER: &str = "sa";
const PASSWORD: &str = "Passw0rd!";
/// Longest any single step may take before the test fails (a hang guard).
const GUARD: Duration = Duration::from_secs(60);

/// The meaning of the few statements the tests send.
struct TestBackend;

/// How many `WAITFOR` statements were dropped (cancelled) before they finished.
static CANCELLED: AtomicUsize = AtomicUsize::new(0);

/// Counts a running statement whose future is dropped.
struct CountDrop;

impl Drop for CountDrop {
    fn drop(&mut self) {
        CANCELLED.fetch_add(1, Ordering::SeqCst);
    }
}

fn col(name: &str, ty: ColumnType) -> Column {
    Column {
        name: name.into(),
        ty,
    }
}

fn databases() -> Reply {
    Reply::Rows {
        columns: vec![col("name", ColumnType::NVarChar(128))],
        rows: vec![
            vec![Value::Str("master".into())],
            vec![Value::Str("db1".into())],
        ],
    }
}

/// One row per type, then a row of NULLs.
fn every_type() -> Reply {
    let columns = vec![
        col("name", ColumnType::NVarChar(50)),
        col("type", ColumnType::VarChar(1)),
        col("tiny", ColumnType::TinyInt),
        col("small", ColumnType::SmallInt),
        col("int", ColumnType::Int),
        col("big", ColumnType::BigInt),
        col("flag", ColumnType::Bit),
        col(
            "lsn",
            ColumnType::Decimal {
                precision: 25,
                scale: 0,
            },
        ),
        col(
            "money",
            ColumnType::Decimal {
                precision: 10,
                scale: 2,
            },
        ),
        col("finished", ColumnType::DateTime),
    ];
    let values = vec![
        Value::Str("dbé".into()),
        Value::Str("D".into()),
        Value::Int(255),
        Value::Int(-300),
        Value::Int(-5),
        Value::Int(1 << 40),
        Value::Int(1),
        Value::Decimal(1_234_567_890_123_456_789_012_345),
        Value::Decimal(-12_345),
        Value::DateTime(datetime!(2024-03-01 12:34:56.5)),
    ];
    let nulls = vec![Value::Null; columns.len()];
    Reply::Rows {
        columns,
        rows: vec![values, nulls],
    }
}

/// The statement text, then each parameter as a column named after it.
fn echo(request: &Request) -> Reply {
    let mut columns = vec![col("sql", ColumnType::NVarChar(4000))];
    let mut row = vec![Value::Str(request.sql.clone())];
    for p in &request.params {
        let ty = match &p.value {
            Value::Str(s) if s.encode_utf16().count() > 4000 => ColumnType::NVARCHAR_MAX,
            Value::Str(_) => ColumnType::NVarChar(4000),
            Value::Decimal(_) => ColumnType::Decimal {
                precision: 38,
                scale: 0,
            },
            Value::DateTime(_) => ColumnType::DateTime,
            Value::Bytes(_) => ColumnType::VarBinary(8000),
            Value::Int(_) | Value::Null => ColumnType::BigInt,
        };
        columns.push(col(&p.name, ty));
        row.push(p.value.clone());
    }
    Reply::Rows {
        columns,
        rows: vec![row],
    }
}

fn int_rows(name: &str, v: i64) -> Reply {
    Reply::Rows {
        columns: vec![col(name, ColumnType::Int)],
        rows: vec![vec![Value::Int(v)]],
    }
}

#[async_trait::async_trait]
impl SqlBackend for TestBackend {
    fn server_name(&self) -> String {
        "TESTSRV".into()
    }

    fn login(&self, user: &str, password: &str, database: &str) -> Result<Session, LoginError> {
        if user == USER && password == PASSWORD {
            let database = if database.is_empty() {
                "master"
            } else {
                database
            };
            Ok(Session {
                user: user.into(),
                database: database.into(),
            })
        } else {
            Err(LoginError {
                message: "wrong password".into(),
            })
        }
    }

    async fn execute(&self, _session: &mut Session, request: Request) -> Vec<Reply> {
        match request.sql.trim() {
            "SELECT name FROM sys.databases" => vec![databases()],
            "SELECT every type" => vec![every_type()],
            "SELECT 1; SELECT 2" => vec![int_rows("a", 1), int_rows("b", 2)],
            "BACKUP DATABASE db1" => vec![
                Reply::Info {
                    number: 4035,
                    message: "Processed 2 pages for database 'db1'.".into(),
                },
                int_rows("position", 1),
            ],
            "ALTER DATABASE db1" => vec![Reply::Done {
                rows_affected: None,
            }],
            "WAITFOR DELAY '01:00:00'" => {
                let guard = CountDrop;
                tokio::time::sleep(Duration::from_secs(3600)).await;
                std::mem::forget(guard);
                vec![Reply::Done {
                    rows_affected: None,
                }]
            }
            sql if sql.starts_with("SELECT @P") => vec![echo(&request)],
            "SELECT 1/0" => vec![Reply::Error {
                number: 8134,
                state: 1,
                class: 16,
                message: "Divide by zero error encountered.".into(),
            }],
            other => vec![Reply::Error {
                number: 102,
                state: 1,
                class: 15,
                message: format!("Incorrect syntax near '{other}'."),
            }],
        }
    }
}

/// Starts a server on this test's runtime.
async fn start() -> SocketAddr {
    let server = TdsServer::bind(Arc::new(TestBackend)).await.expect("bind");
    let addr = server.local_addr();
    assert!(addr.ip().is_loopback());
    tokio::spawn(server.serve());
    addr
}

type TdsClient = Client<Compat<TcpStream>>;

async fn connect_as(addr: SocketAddr, user: &str, password: &str) -> tiberius::Result<TdsClient> {
    let mut config = Config::new();
    config.host("127.0.0.1");
    config.port(addr.port());
    config.authentication(AuthMethod::sql_server(user, password));
    config.encryption(EncryptionLevel::NotSupported);
    config.database("master");
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    tokio::time::timeout(GUARD, Client::connect(config, tcp.compat_write()))
        .await
        .expect("login hangs")
}

async fn connect(addr: SocketAddr) -> TdsClient {
    connect_as(addr, USER, PASSWORD).await.expect("login")
}

async fn database_names(client: &mut TdsClient) -> Vec<String> {
    let rows = client
        .simple_query("SELECT name FROM sys.databases")
        .await
        .expect("query")
        .into_first_result()
        .await
        .expect("rows");
    rows.iter()
        .map(|r| r.get::<&str, _>(0).expect("a name").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_and_simple_query() {
    let addr = start().await;
    let mut client = connect(addr).await;
    assert_eq!(database_names(&mut client).await, ["master", "db1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_password_is_login_failed() {
    let addr = start().await;
    let err = connect_as(addr, USER, "wrong")
        .await
        .expect_err("the login must fail");
    assert!(
        err.to_string().contains("Login failed for user 'sa'."),
        "{err}"
    );
    match err {
        tiberius::error::Error::Server(e) => {
            assert_eq!((e.code(), e.class(), e.state()), (18456, 14, 1));
            assert_eq!(e.server(), "TESTSRV");
        }
        other => panic!("expected a server error, got {other:?}"),
    }
    // The refusal closed only that connection.
    let mut client = connect(addr).await;
    assert_eq!(database_names(&mut client).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_requiring_tls_fails_with_its_own_error() {
    let addr = start().await;
    let mut config = Config::new();
    config.port(addr.port());
    config.authentication(AuthMethod::sql_server(USER, PASSWORD));
    config.encryption(EncryptionLevel::Required);
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let result = tokio::time::timeout(GUARD, Client::connect(config, tcp.compat_write()))
        .await
        .expect("the handshake hangs");
    let err = result.expect_err("no TLS on this server");
    assert!(err.to_string().contains("encryption"), "{err}");
    let mut client = connect(addr).await;
    assert_eq!(database_names(&mut client).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_params_round_trip() {
    let addr = start().await;
    let mut client = connect(addr).await;
    let long: String = "ünïcødé ".repeat(700); // 5600 characters: sent as NVARCHAR(MAX) in PLP
    let sql = "SELECT @P1, @P2, @P3, @P4, @P5, @P6, @P7";
    let none: Option<i32> = None;
    let row = client
        .query(
            sql,
            &[
                &1i32,
                &"we]ird 'name",
                &(-5i64 << 40),
                &true,
                &long,
                &none,
                &false,
            ],
        )
        .await
        .expect("query")
        .into_row()
        .await
        .expect("a row")
        .expect("one row");
    let names: Vec<&str> = row.columns().iter().map(|c| c.name()).collect();
    assert_eq!(names, ["sql", "P1", "P2", "P3", "P4", "P5", "P6", "P7"]);
    assert_eq!(row.get::<&str, _>(0), Some(sql));
    // Integers come back as BIGINT: the test backend does not know the declared widths.
    assert_eq!(row.get::<i64, _>(1), Some(1));
    assert_eq!(row.get::<&str, _>(2), Some("we]ird 'name"));
    assert_eq!(row.get::<i64, _>(3), Some(-5i64 << 40));
    assert_eq!(row.get::<i64, _>(4), Some(1));
    assert_eq!(row.get::<&str, _>(5), Some(long.as_str()));
    assert_eq!(row.get::<i64, _>(6), None);
    assert_eq!(row.get::<i64, _>(7), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decimal_and_datetime_params() {
    let addr = start().await;
    let mut client = connect(addr).await;
    let lsn = Numeric::new_with_scale(39_000_000_048_800_071_000_000, 0);
    let when = datetime!(2024-03-01 12:34:56.5);
    let row = client
        .query("SELECT @P1, @P2", &[&lsn, &when])
        .await
        .expect("query")
        .into_row()
        .await
        .expect("a row")
        .expect("one row");
    let got: Numeric = row.get(1).expect("decimal");
    assert_eq!(
        (got.value(), got.scale()),
        (39_000_000_048_800_071_000_000, 0)
    );
    assert_eq!(row.get::<PrimitiveDateTime, _>(2), Some(when));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_column_type_reads_back() {
    let addr = start().await;
    let mut client = connect(addr).await;
    // Through both request kinds: SQL batch and sp_executesql.
    for via_rpc in [false, true] {
        let stream = if via_rpc {
            client.query("SELECT every type", &[]).await
        } else {
            client.simple_query("SELECT every type").await
        };
        let rows = stream
            .expect("query")
            .into_first_result()
            .await
            .expect("rows");
        assert_eq!(rows.len(), 2);
        let r = &rows[0];
        assert_eq!(r.get::<&str, _>("name"), Some("dbé"));
        assert_eq!(r.get::<&str, _>("type"), Some("D"));
        assert_eq!(r.get::<u8, _>("tiny"), Some(255));
        assert_eq!(r.get::<i16, _>("small"), Some(-300));
        assert_eq!(r.get::<i32, _>("int"), Some(-5));
        assert_eq!(r.get::<i64, _>("big"), Some(1 << 40));
        assert_eq!(r.get::<bool, _>("flag"), Some(true));
        let lsn: Numeric = r.get("lsn").expect("lsn");
        assert!(lsn.value() > i64::MAX as i128);
        assert_eq!(
            (lsn.value(), lsn.scale()),
            (1_234_567_890_123_456_789_012_345, 0)
        );
        let money: Numeric = r.get("money").expect("money");
        assert_eq!((money.value(), money.scale()), (-12_345, 2));
        assert_eq!(
            r.get::<PrimitiveDateTime, _>("finished"),
            Some(datetime!(2024-03-01 12:34:56.5))
        );

        let n = &rows[1];
        assert_eq!(n.get::<&str, _>("name"), None);
        assert_eq!(n.get::<&str, _>("type"), None);
        assert_eq!(n.get::<u8, _>("tiny"), None);
        assert_eq!(n.get::<i16, _>("small"), None);
        assert_eq!(n.get::<i32, _>("int"), None);
        assert_eq!(n.get::<i64, _>("big"), None);
        assert_eq!(n.get::<bool, _>("flag"), None);
        assert_eq!(n.get::<Numeric, _>("lsn"), None);
        assert_eq!(n.get::<Numeric, _>("money"), None);
        assert_eq!(n.get::<PrimitiveDateTime, _>("finished"), None);
    }
}

fn server_error(err: tiberius::error::Error) -> (u32, String) {
    match err {
        tiberius::error::Error::Server(e) => (e.code(), e.message().to_string()),
        other => panic!("expected a server error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_surface_as_server_errors() {
    let addr = start().await;
    let mut client = connect(addr).await;
    let batch = async {
        client
            .simple_query("SELECT 1/0")
            .await?
            .into_results()
            .await
    };
    let (code, message) = server_error(batch.await.expect_err("batch error"));
    assert_eq!(
        (code, message.as_str()),
        (8134, "Divide by zero error encountered.")
    );

    let rpc = async { client.query("SELECT 1/0", &[]).await?.into_results().await };
    let (code, _) = server_error(rpc.await.expect_err("rpc error"));
    assert_eq!(code, 8134);

    let exec = client.execute("SELECT 1/0", &[]).await;
    assert_eq!(server_error(exec.expect_err("execute error")).0, 8134);

    // The connection is still usable after errors.
    assert_eq!(database_names(&mut client).await, ["master", "db1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_result_sets_info_and_done() {
    let addr = start().await;
    let mut client = connect(addr).await;
    let sets = client
        .simple_query("SELECT 1; SELECT 2")
        .await
        .expect("query")
        .into_results()
        .await
        .expect("results");
    assert_eq!(sets.len(), 2);
    assert_eq!(sets[0][0].get::<i32, _>("a"), Some(1));
    assert_eq!(sets[1][0].get::<i32, _>("b"), Some(2));

    // INFO before a result set: the rows still arrive.
    let rows = client
        .simple_query("BACKUP DATABASE db1")
        .await
        .expect("backup")
        .into_first_result()
        .await
        .expect("rows");
    assert_eq!(rows[0].get::<i32, _>(0), Some(1));

    // A statement without rows.
    let done = client
        .execute("ALTER DATABASE db1", &[])
        .await
        .expect("alter");
    assert_eq!(done.total(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_and_concurrent_connections() {
    let addr = start().await;
    let mut first = connect(addr).await;
    let mut second = connect(addr).await;
    for i in 0..20i32 {
        let client = if i % 2 == 0 { &mut first } else { &mut second };
        let row = client
            .query("SELECT @P1", &[&i])
            .await
            .expect("query")
            .into_row()
            .await
            .expect("row")
            .expect("one row");
        assert_eq!(row.get::<i64, _>(1), Some(i as i64));
    }
    let (a, b) = tokio::join!(database_names(&mut first), database_names(&mut second));
    assert_eq!(a, b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attention_cancels_a_running_statement() {
    let addr = start().await;
    let mut client = connect(addr).await;
    let before = CANCELLED.load(Ordering::SeqCst);
    // The statement runs for an hour: stop waiting for it, then cancel it on the server.
    let finished = {
        let wait = client.simple_query("WAITFOR DELAY '01:00:00'");
        tokio::time::timeout(Duration::from_millis(300), wait)
            .await
            .is_ok()
    };
    assert!(!finished, "the statement cannot have finished");
    tokio::time::timeout(GUARD, client.cancel_query())
        .await
        .expect("no DONE_ATTN")
        .expect("cancel");
    assert_eq!(
        CANCELLED.load(Ordering::SeqCst),
        before + 1,
        "the backend future was dropped"
    );
    assert_eq!(database_names(&mut client).await, ["master", "db1"]);

    // An ATTENTION with nothing running is acknowledged too.
    tokio::time::timeout(GUARD, client.cancel_query())
        .await
        .expect("no DONE_ATTN")
        .expect("idle cancel");
    assert_eq!(database_names(&mut client).await, ["master", "db1"]);
}

/// Writes `bytes` on a raw connection and reads until the server closes it.
async fn raw_exchange(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(bytes).await.expect("write");
    let mut got = Vec::new();
    tokio::time::timeout(GUARD, tcp.read_to_end(&mut got))
        .await
        .expect("the server must close the connection")
        .expect("read");
    got
}

/// A one-packet client message.
fn packet(ty: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![ty, 0x01];
    v.extend(((payload.len() + 8) as u16).to_be_bytes());
    v.extend([0, 0, 1, 0]);
    v.extend_from_slice(payload);
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_closes_only_that_connection() {
    let addr = start().await;
    let mut client = connect(addr).await;

    // Not TDS at all: closed (after an ERROR message).
    let got = raw_exchange(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(got.first(), Some(&0x04), "a TDS reply before closing");
    assert!(got.len() > 8 && got[8] == 0xAA, "an ERROR token");
    // A PRELOGIN whose option table points past its end.
    raw_exchange(addr, &packet(0x12, &[0x00, 0x00, 0xF0, 0x00, 0x06, 0xFF])).await;
    // A SQL batch before any login.
    raw_exchange(addr, &packet(0x01, &[22, 0, 0, 0])).await;
    // A header claiming 4 bytes: shorter than itself.
    raw_exchange(addr, &[0x12, 0x01, 0x00, 0x04, 0, 0, 0, 0]).await;

    // A valid (empty) PRELOGIN, then a malformed LOGIN7.
    let prelogin = [0xFF];
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(&packet(0x12, &prelogin))
        .await
        .expect("prelogin");
    let mut header = [0u8; 8];
    tcp.read_exact(&mut header).await.expect("prelogin reply");
    let len = u16::from_be_bytes([header[2], header[3]]) as usize;
    let mut reply = vec![0u8; len - 8];
    tcp.read_exact(&mut reply)
        .await
        .expect("prelogin reply body");
    tcp.write_all(&packet(0x10, &[1, 2, 3]))
        .await
        .expect("bad login");
    let mut rest = Vec::new();
    tokio::time::timeout(GUARD, tcp.read_to_end(&mut rest))
        .await
        .expect("closed after a malformed LOGIN7")
        .expect("read");

    // The server still serves, old and new connections alike.
    assert_eq!(database_names(&mut client).await, ["master", "db1"]);
    let mut fresh = connect(addr).await;
    assert_eq!(database_names(&mut fresh).await, ["master", "db1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pytds_reads_the_database_names() {
    if !common::pytds_or_skip("pytds reading the database names") {
        return;
    }
    let addr = start().await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/tools/tds_python_client.py"
    );
    let port = addr.port().to_string();
    let run = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .args([script, &port, USER, PASSWORD])
            .output()
    });
    let out = tokio::time::timeout(GUARD, run)
        .await
        .expect("pytds hangs")
        .expect("join")
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "pytds failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines, ["name=master", "name=db1", "param=it's [pytds]"]);
}
