//! TLS with the source, against a small TDS listener that does the TLS handshake inside PRELOGIN
//! packets as SQL Server does, with certificates made by `openssl`: a CA given with `--ca-file` is
//! trusted, and each failure says which it is (unknown CA, name mismatch, expired, self-signed)
//! without the TDS library's advice to developers.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches: a failed unwrap fails the run

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::Secret;
use cutover::sandbox::tds::protocol::{
    ENCRYPT_ON, PacketType, SERVER_VERSION, encode_login_failure, encode_message,
    encode_prelogin_reply,
};
use cutover::source::tls::CaFile;
use cutover::source::{Encryption, SourceAuth, SourceClient, SourceError, SourceOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// `openssl` with these arguments in `dir`; `None` (with the reason printed) when it is missing.
fn openssl(dir: &Path, args: &[&str]) -> Option<()> {
    match Command::new("openssl").args(args).current_dir(dir).output() {
        Ok(out) if out.status.success() => Some(()),
        Ok(out) => panic!(
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "openssl is needed for the TLS tests: {e}"
            );
            eprintln!("skipped: openssl is not installed ({e})");
            None
        }
    }
}

/// The certificates of the tests, in one folder.
struct Certs {
    dir: tempfile::TempDir,
}

impl Certs {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn make() -> Option<Certs> {
        let dir = tempfile::tempdir().expect("tmp");
        let d = dir.path();
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
        let mut ca = vec!["req", "-x509", "-nodes", "-days", "3"];
        ca.extend(ec);
        ca.extend([
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-subj",
            "/CN=cutover test CA",
        ]);
        openssl(d, &ca)?;
        // Leaves signed by the CA: (name, subjectAltName, days).
        for (name, san, days) in [
            ("good", "DNS:localhost,IP:127.0.0.1", "3"),
            ("wrongname", "DNS:sql01.example.com", "3"),
        ] {
            std::fs::write(
                d.join(format!("{name}.ext")),
                format!("subjectAltName={san}\n"),
            )
            .expect("ext");
            let mut req = vec!["req", "-nodes"];
            req.extend(ec);
            let key = format!("{name}.key");
            let csr = format!("{name}.csr");
            req.extend([
                "-keyout",
                &key,
                "-out",
                &csr,
                "-subj",
                "/CN=cutover-tls-test-server",
            ]);
            openssl(d, &req)?;
            let pem = format!("{name}.pem");
            let ext = format!("{name}.ext");
            openssl(
                d,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &csr,
                    "-CA",
                    "ca.pem",
                    "-CAkey",
                    "ca.key",
                    "-CAcreateserial",
                    "-days",
                    days,
                    "-extfile",
                    &ext,
                    "-out",
                    &pem,
                ],
            )?;
        }
        // An expired one (valid for a day in 2020), signed with `openssl ca`, which takes dates.
        std::fs::write(
            d.join("ca.cnf"),
            "[ca]\ndefault_ca = test\n[test]\ndatabase = index.txt\nnew_certs_dir = .\n\
             serial = ca.srl\ndefault_md = sha256\npolicy = any\n[any]\ncommonName = supplied\n",
        )
        .expect("ca.cnf");
        std::fs::write(d.join("index.txt"), "").expect("index");
        std::fs::write(
            d.join("expired.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
        )
        .expect("ext");
        let mut req = vec!["req", "-nodes"];
        req.extend(ec);
        req.extend([
            "-keyout",
            "expired.key",
            "-out",
            "expired.csr",
            "-subj",
            "/CN=cutover-tls-test-server",
        ]);
        openssl(d, &req)?;
        openssl(
            d,
            &[
                "ca",
                "-batch",
                "-config",
                "ca.cnf",
                "-cert",
                "ca.pem",
                "-keyfile",
                "ca.key",
                "-in",
                "expired.csr",
                "-out",
                "expired.pem",
                "-notext",
                "-startdate",
                "20200101000000Z",
                "-enddate",
                "20200102000000Z",
                "-extfile",
                "expired.ext",
            ],
        )?;
        // Self-signed server certificates: a proper one (CA:FALSE), and `openssl req -x509`'s
        // default, which marks it CA:TRUE.
        for (name, constraints) in [
            ("selfsigned", "basicConstraints=critical,CA:FALSE"),
            ("selfsignedca", "basicConstraints=critical,CA:TRUE"),
        ] {
            let key = format!("{name}.key");
            let pem = format!("{name}.pem");
            let mut selfsigned = vec!["req", "-x509", "-nodes", "-days", "3"];
            selfsigned.extend(ec);
            selfsigned.extend([
                "-keyout",
                &key,
                "-out",
                &pem,
                "-subj",
                "/CN=cutover-tls-test-server",
                "-addext",
                "subjectAltName=DNS:localhost,IP:127.0.0.1",
                "-addext",
                constraints,
            ]);
            openssl(d, &selfsigned)?;
        }
        Some(Certs { dir })
    }
}

/// Reads one TDS packet: (header, payload).
async fn read_packet(s: &mut TcpStream) -> std::io::Result<([u8; 8], Vec<u8>)> {
    let mut header = [0u8; 8];
    s.read_exact(&mut header).await?;
    let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
    let mut payload = vec![0u8; len.saturating_sub(8)];
    s.read_exact(&mut payload).await?;
    Ok((header, payload))
}

/// One connection: PRELOGIN answered with ENCRYPT_ON, the TLS handshake inside PRELOGIN packets, then
/// the LOGIN7 read over TLS and refused (so a client that got that far proves the handshake passed).
async fn serve_tls(mut tcp: TcpStream, config: Arc<rustls::ServerConfig>) -> Option<()> {
    read_packet(&mut tcp).await.ok()?;
    let reply = encode_prelogin_reply(SERVER_VERSION, ENCRYPT_ON);
    tcp.write_all(&encode_message(PacketType::TabularResult, &reply, 4096, 0))
        .await
        .ok()?;
    let mut tls = rustls::ServerConnection::new(config).ok()?;
    while tls.is_handshaking() {
        if tls.wants_write() {
            let mut out = Vec::new();
            tls.write_tls(&mut out).ok()?;
            tcp.write_all(&encode_message(PacketType::PreLogin, &out, 4096, 0))
                .await
                .ok()?;
            continue;
        }
        let (_, payload) = read_packet(&mut tcp).await.ok()?;
        tls.read_tls(&mut payload.as_slice()).ok()?;
        if tls.process_new_packets().is_err() {
            return None;
        }
    }
    // From here on, raw TLS records.
    let mut plain = Vec::new();
    while plain.len() < 8 {
        if tls.wants_write() {
            let mut out = Vec::new();
            tls.write_tls(&mut out).ok()?;
            tcp.write_all(&out).await.ok()?;
        }
        let mut buf = vec![0u8; 16 * 1024];
        let n = tcp.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        tls.read_tls(&mut &buf[..n]).ok()?;
        tls.process_new_packets().ok()?;
        let mut chunk = Vec::new();
        let _ = tls.reader().read_to_end(&mut chunk);
        plain.extend(chunk);
    }
    let refused = encode_login_failure("probe", "TLSTEST");
    tls.writer()
        .write_all(&encode_message(
            PacketType::TabularResult,
            &refused,
            4096,
            0,
        ))
        .ok()?;
    let mut out = Vec::new();
    tls.write_tls(&mut out).ok()?;
    tcp.write_all(&out).await.ok()?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    Some(())
}

/// A TDS listener presenting `cert` (PEM chain) with `key`; returns its port.
async fn tls_listener(cert: &Path, key: &Path) -> u16 {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .expect("cert file")
        .collect::<Result<_, _>>()
        .expect("certs");
    let key = PrivateKeyDer::from_pem_file(key).expect("key");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server config");
    let config = Arc::new(config);
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = l.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = l.accept().await {
            tokio::spawn(serve_tls(tcp, config.clone()));
        }
    });
    port
}

fn options(server: &str, ca: Option<&Path>) -> SourceOptions {
    let mut o = SourceOptions::new(
        server.parse().expect("address"),
        SourceAuth::SqlLogin {
            user: "probe".into(),
            password: Secret::new("x".to_string()),
        },
        Encryption::Tls {
            trust_server_certificate: false,
        },
    );
    o.connect_timeout = Duration::from_secs(5);
    o.ca_file = ca.map(|p| CaFile::load(p).expect("ca file"));
    o
}

async fn connect(certs: &Certs, leaf: &str, host: &str, ca: Option<&str>) -> SourceError {
    let port = tls_listener(
        &certs.path(&format!("{leaf}.pem")),
        &certs.path(&format!("{leaf}.key")),
    )
    .await;
    let ca = ca.map(|c| certs.path(c));
    SourceClient::connect(&options(&format!("{host},{port}"), ca.as_deref()))
        .await
        .expect_err("the listener always refuses the login")
}

fn assert_tls(e: &SourceError, kind: &str) {
    match e {
        SourceError::Tls { problem, .. } => assert_eq!(problem.kind(), kind, "{e}"),
        other => panic!("expected a TLS failure ({kind}), got: {other:?}"),
    }
    let shown = e.to_string();
    assert!(shown.contains(kind), "{shown}");
    for dev in ["Config::", "trust_cert_ca(", "native-tls", "Encrypt=false"] {
        assert!(!shown.contains(dev), "developer advice in: {shown}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_failures_say_which_and_a_ca_file_is_trusted() {
    let Some(certs) = Certs::make() else {
        return;
    };
    // Trusted through --ca-file: the handshake passes and the login reaches the server.
    let e = connect(&certs, "good", "localhost", Some("ca.pem")).await;
    assert!(matches!(e, SourceError::LoginFailed { .. }), "{e:?}");

    // The same server without the CA file: unknown CA, and the fix names --ca-file.
    let e = connect(&certs, "good", "localhost", None).await;
    assert_tls(&e, "unknown CA");
    assert!(e.to_string().contains("--ca-file"), "{e}");

    // A certificate for another name.
    let e = connect(&certs, "wrongname", "localhost", Some("ca.pem")).await;
    assert_tls(&e, "name mismatch");
    assert!(e.to_string().contains("sql01.example.com"), "{e}");

    // An expired certificate.
    let e = connect(&certs, "expired", "localhost", Some("ca.pem")).await;
    assert_tls(&e, "expired");
    assert!(
        e.to_string().contains("expired on 2020-01-02 00:00 UTC"),
        "{e}"
    );

    // A self-signed server certificate: said as such (cutover looks at the certificate the server
    // presents), trusted when it is itself given as the CA file.
    let e = connect(&certs, "selfsigned", "localhost", None).await;
    assert_tls(&e, "self-signed");
    assert!(e.to_string().contains("--ca-file"), "{e}");
    let e = connect(&certs, "selfsigned", "localhost", Some("selfsigned.pem")).await;
    assert!(matches!(e, SourceError::LoginFailed { .. }), "{e:?}");
    // One marked CA:TRUE (openssl's default) cannot be a server certificate even when trusted:
    // said as self-signed, with how to re-create it.
    let e = connect(
        &certs,
        "selfsignedca",
        "localhost",
        Some("selfsignedca.pem"),
    )
    .await;
    assert_tls(&e, "self-signed");
    assert!(e.to_string().contains("CA:FALSE"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_takes_ca_file_and_explains_an_unknown_ca() {
    let Some(certs) = Certs::make() else {
        return;
    };
    let port = tls_listener(&certs.path("good.pem"), &certs.path("good.key")).await;
    let server = format!("localhost,{port}");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "source",
            "databases",
            "--server",
            &server,
            "--user",
            "probe",
        ];
        args.extend_from_slice(extra);
        let exe = env!("CARGO_BIN_EXE_cutover").to_string();
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        async move {
            tokio::task::spawn_blocking(move || {
                Command::new(exe)
                    .args(&args)
                    .env("CUTOVER_SOURCE_PASSWORD", "x")
                    .output()
                    .expect("run cutover")
            })
            .await
            .expect("join")
        }
    };
    let ca = certs.path("ca.pem").to_string_lossy().into_owned();
    let out = run(&["--ca-file", &ca]).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("login to SQL Server") && err.contains("failed"),
        "{err}"
    );

    let out = run(&[]).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("unknown CA") && err.contains("--ca-file"),
        "{err}"
    );
    assert!(!err.contains("Config::"), "{err}");

    // A CA file that is not PEM is refused before connecting, naming the file.
    let der = certs.path("ca.der");
    std::fs::write(&der, [0x30u8, 0x82, 0x01]).expect("write");
    let out = run(&["--ca-file", &der.to_string_lossy()]).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--ca-file") && err.contains("ca.der"), "{err}");
    // And it excludes --trust-server-certificate.
    let out = run(&["--ca-file", &ca, "--trust-server-certificate"]).await;
    assert_eq!(out.status.code(), Some(2));
}

/// `[source] ca_file` survives the wizard: prefilled from a file and saved again, it is still there.
#[test]
fn a_ca_file_in_the_config_survives_a_prefill_and_a_save() {
    use cutover::config::ConfigFile;
    let sample =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.sample.toml"))
            .expect("config.sample.toml");
    let text = sample.replace(
        "# ca_file = \"/etc/ssl/corp-ca.pem\"",
        "ca_file = \"/etc/ssl/corp-ca.pem\"",
    );
    let before = ConfigFile::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let want = Some(PathBuf::from("/etc/ssl/corp-ca.pem"));
    assert_eq!(before.source.as_ref().and_then(|s| s.ca_file.clone()), want);
    let v = cutover::cli::wizard::values_from_config(&before);
    let saved = cutover::cli::wizard::config_toml(&v, None).unwrap();
    let after = ConfigFile::parse(&saved).unwrap_or_else(|e| panic!("{e}\n{saved}"));
    assert_eq!(after.source.and_then(|s| s.ca_file), want, "{saved}");
}
