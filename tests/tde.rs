//! TDE certificates: the PFX cutover builds from the `.cer` and `.pvk` that BACKUP CERTIFICATE
//! writes opens with a standard tool (`openssl pkcs12 -info`), carries the source certificate
//! (same SHA-1 thumbprint) and its key; the sandbox's `.pvk` is a real PVK (openssl reads it).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap fails the run

use std::process::Command;

use cutover::sandbox::tde::ServerCertificate;
use cutover::tde::{SecretText, Thumbprint, build_pfx, pvk_to_pkcs8};

fn openssl() -> Option<&'static str> {
    let ok = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok && std::env::var("CI").as_deref() == Ok("true") {
        panic!("openssl is needed by tests/tde.rs under CI (apt-get install openssl)");
    }
    ok.then_some("openssl")
}

#[test]
fn pvk_and_cer_become_a_pfx_openssl_opens_with_the_source_thumbprint() {
    let Some(openssl) = openssl() else {
        eprintln!("openssl missing: skipped");
        return;
    };
    let cert = ServerCertificate::create("TDECert", "TDE certificate for Payroll").unwrap();
    let pvk_password = SecretText::generate();
    let pvk = cert.pvk(pvk_password.expose()).unwrap();
    let key = pvk_to_pkcs8(&pvk, Some(&pvk_password)).unwrap();
    // A wrong password is refused, not turned into a garbage key.
    let wrong = SecretText::new("Wrong-Password-1".into());
    assert!(pvk_to_pkcs8(&pvk, Some(&wrong)).is_err());

    let pfx_password = SecretText::generate();
    let pfx = build_pfx(&cert.der, &key, &pfx_password, "TDECert").unwrap();
    assert_eq!(pfx.thumbprint, Thumbprint(cert.thumbprint));

    let dir = tempfile::tempdir().unwrap();
    let pfx_path = dir.path().join("tde.pfx");
    std::fs::write(&pfx_path, pfx.bytes.expose()).unwrap();
    let info = Command::new(openssl)
        .args(["pkcs12", "-info", "-nokeys", "-in"])
        .arg(&pfx_path)
        .args(["-passin", "env:TDE_PFX_PW"])
        .env("TDE_PFX_PW", pfx_password.expose())
        .output()
        .unwrap();
    assert!(
        info.status.success(),
        "openssl pkcs12 -info failed: {}",
        String::from_utf8_lossy(&info.stderr)
    );
    let text = String::from_utf8_lossy(&info.stdout).to_string();
    assert!(text.contains("BEGIN CERTIFICATE"), "{text}");
    let pem_path = dir.path().join("cert.pem");
    std::fs::write(&pem_path, &text).unwrap();
    let fp = Command::new(openssl)
        .args(["x509", "-noout", "-fingerprint", "-sha1", "-in"])
        .arg(&pem_path)
        .output()
        .unwrap();
    let fp = String::from_utf8_lossy(&fp.stdout).to_string();
    let hex = fp.trim().rsplit('=').next().unwrap();
    assert_eq!(
        Thumbprint::parse(hex),
        Some(Thumbprint(cert.thumbprint)),
        "{fp}"
    );

    // The key in the PFX is the certificate's: openssl's modulus of both agree.
    let keyout = Command::new(openssl)
        .args(["pkcs12", "-nocerts", "-nodes", "-in"])
        .arg(&pfx_path)
        .args(["-passin", "env:TDE_PFX_PW"])
        .env("TDE_PFX_PW", pfx_password.expose())
        .output()
        .unwrap();
    assert!(keyout.status.success());
    let key_pem = dir.path().join("key.pem");
    std::fs::write(&key_pem, &keyout.stdout).unwrap();
    let modulus = |args: &[&str], path: &std::path::Path| {
        let o = Command::new(openssl).args(args).arg(path).output().unwrap();
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    let km = modulus(&["rsa", "-noout", "-modulus", "-in"], &key_pem);
    let cm = modulus(&["x509", "-noout", "-modulus", "-in"], &pem_path);
    assert!(km.starts_with("Modulus=") && km == cm);

    // A wrong PFX password does not open it.
    let bad = Command::new(openssl)
        .args(["pkcs12", "-info", "-nokeys", "-in"])
        .arg(&pfx_path)
        .args(["-passin", "pass:not-the-password"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
}

#[test]
fn the_sandbox_pvk_is_a_pvk_openssl_reads() {
    let Some(openssl) = openssl() else {
        return;
    };
    let cert = ServerCertificate::create("C", "pvk check").unwrap();
    let pw = SecretText::generate();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("k.pvk");
    std::fs::write(&p, cert.pvk(pw.expose()).unwrap()).unwrap();
    let o = Command::new(openssl)
        .args([
            "rsa",
            "-inform",
            "PVK",
            "-noout",
            "-modulus",
            "-provider",
            "legacy",
            "-provider",
            "default",
            "-in",
        ])
        .arg(&p)
        .args(["-passin", "env:PVK_PW"])
        .env("PVK_PW", pw.expose())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let cer = dir.path().join("c.cer");
    std::fs::write(&cer, &cert.der).unwrap();
    let c = Command::new(openssl)
        .args(["x509", "-inform", "DER", "-noout", "-modulus", "-in"])
        .arg(&cer)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        String::from_utf8_lossy(&c.stdout).trim()
    );
}
