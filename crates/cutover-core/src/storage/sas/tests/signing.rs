//! Signing: known answers computed independently, the string-to-sign layout, times, and the
//! input refused.

use super::*;

/// Expected signatures computed independently, once, with Python 3's standard library over
/// the string-to-sign written out by hand from Azure's "Create a service SAS" layout:
///
/// ```text
/// key = base64.b64decode(DEV_KEY)
/// sts = "\n".join(["rl", "2024-01-01T00:00:00Z", "2024-01-31T00:00:00Z",
///                  "/blob/devstoreaccount1/migration", "", "", "", "2022-11-02", "c",
///                  "", "", "", "", "", "", ""])          # 16 fields
/// base64.b64encode(hmac.new(key, sts.encode(), hashlib.sha256).digest())
/// ```
///
/// and confirmed with the official azure-storage-blob 12.31.1 for Python
/// (`generate_container_sas` with its version pinned to 2022-11-02), which produced the same
/// string-to-sign and signatures.
#[test]
fn service_sas_known_answer() {
    let token = dev_token(Some(datetime!(2024-01-01 00:00 UTC)));
    assert_eq!(
        token.as_query(),
        "sv=2022-11-02&st=2024-01-01T00%3A00%3A00Z&se=2024-01-31T00%3A00%3A00Z&sr=c&sp=rl\
         &sig=qqcKpTSbKFnktIbExvWP285ZqU6UTRAM4OizBEUHHFo%3D"
    );
    // Without a start time the line stays, empty.
    let token = dev_token(None);
    assert_eq!(
        sig_of(token.as_query()),
        "Y+XyInxBZFsc4jYlUa5lfTaqAxVHFJMZtP73QXuG9jo="
    );
    assert!(!token.as_query().contains("st="));
}

#[test]
fn service_string_to_sign_layout() {
    let sts = service_string_to_sign(&ServiceParams {
        permissions: "rl",
        start: "S",
        expiry: "E",
        canonical_resource: "/blob/a/c",
        identifier: "",
        ip: "",
        protocol: "",
        version: SAS_VERSION,
        resource: "c",
        snapshot: "",
        encryption_scope: "",
        overrides: ["", "", "", "", ""],
    });
    assert_eq!(
        sts,
        "rl\nS\nE\n/blob/a/c\n\n\n\n2022-11-02\nc\n\n\n\n\n\n\n"
    );
    assert_eq!(sts.split('\n').count(), 16);
    assert!(!sts.ends_with("\n\n\n\n\n\n\n\n"), "no trailing newline");
}

/// Computed independently with Python 3 over the 24-field user delegation layout for
/// versions 2020-12-06 to 2025-07-05 ("Create a user delegation SAS"):
///
/// ```text
/// sts = "\n".join(["rl", "2024-01-01T00:00:00Z", "2024-01-31T00:00:00Z",
///                  "/blob/devstoreaccount1/migration",
///                  "11111111-2222-3333-4444-555555555555", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
///                  "2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z", "b", "2022-11-02",
///                  "", "", "",  "", "",  "2022-11-02", "c", "", "",  "", "", "", "", ""])
/// base64.b64encode(hmac.new(bytes(range(32)), sts.encode(), hashlib.sha256).digest())
/// ```
///
/// (The Python SDK always signs the newest 28-field layout, so it cannot confirm this one;
/// the JavaScript SDK's version-gated code uses these 24 fields below 2025-07-05.)
#[test]
fn user_delegation_sas_known_answer() {
    let token = user_delegation_sas_for_container(
        DEV_ACCOUNT,
        "migration",
        &rl(),
        Some(datetime!(2024-01-01 00:00 UTC)),
        datetime!(2024-01-31 00:00 UTC),
        &test_udk(),
    )
    .unwrap();
    assert_eq!(
        sig_of(token.as_query()),
        "679BoPHAxVp9+o4oXUCbbMEL4zJkhb3C8DXLKS+0W2k="
    );
    let info = parse_sas(token.as_query()).unwrap();
    assert!(info.is_user_delegation);
    assert_eq!(info.resource.as_deref(), Some("c"));
    let raw = RawSas::parse(token.as_query()).unwrap();
    assert_eq!(
        raw.get("skoid"),
        Some("11111111-2222-3333-4444-555555555555")
    );
    assert_eq!(raw.get("ske"), Some("2024-02-01T00:00:00Z"));
    assert_eq!(raw.get("sks"), Some("b"));
    assert_eq!(raw.get("skv"), Some("2022-11-02"));
}

// ---- creation errors

#[test]
fn creation_refuses_bad_input() {
    let exp = datetime!(2024-01-31 00:00 UTC);
    let err =
        service_sas_for_container(DEV_ACCOUNT, "not base64!", "c1x", &rl(), None, exp).unwrap_err();
    assert_eq!(
        err,
        SasError::InvalidKey {
            what: "account key"
        }
    );
    assert!(!err.to_string().contains("not base64!"));
    assert!(matches!(
        service_sas_for_container(DEV_ACCOUNT, "", "abc", &rl(), None, exp),
        Err(SasError::InvalidKey { .. })
    ));
    assert!(matches!(
        service_sas_for_container(DEV_ACCOUNT, DEV_KEY, "Bad_Name", &rl(), None, exp),
        Err(SasError::InvalidName {
            field: "container",
            ..
        })
    ));
    assert!(matches!(
        service_sas_for_container("", DEV_KEY, "abc", &rl(), None, exp),
        Err(SasError::InvalidName {
            field: "account",
            ..
        })
    ));
    assert!(matches!(
        service_sas_for_container("a/b", DEV_KEY, "abc", &rl(), None, exp),
        Err(SasError::InvalidName {
            field: "account",
            ..
        })
    ));
    assert_eq!(
        service_sas_for_container(
            DEV_ACCOUNT,
            DEV_KEY,
            "abc",
            &SasPermissions::empty(),
            None,
            exp
        )
        .unwrap_err(),
        SasError::NoPermissions
    );
    let err =
        service_sas_for_container(DEV_ACCOUNT, DEV_KEY, "abc", &rl(), Some(exp), exp).unwrap_err();
    assert!(matches!(err, SasError::ExpiryNotAfterStart { .. }));
    assert!(err.to_string().contains("2024-01-31T00:00:00Z"));
    // A container named "backups" is valid for Azure: only LRS refuses it (see layout).
    assert!(service_sas_for_container(DEV_ACCOUNT, DEV_KEY, "backups", &rl(), None, exp).is_ok());
}

#[test]
fn times_are_utc_whole_seconds() {
    let start = datetime!(2024-01-01 02:00:00.75 +02:00);
    let token = service_sas_for_container(
        DEV_ACCOUNT,
        DEV_KEY,
        "migration",
        &rl(),
        Some(start),
        datetime!(2024-01-31 00:00 UTC),
    )
    .unwrap();
    // 02:00:00.75 at +02:00 is midnight UTC, truncated: the same token as the known answer.
    assert_eq!(
        sig_of(token.as_query()),
        "qqcKpTSbKFnktIbExvWP285ZqU6UTRAM4OizBEUHHFo="
    );
}

#[test]
fn user_delegation_refuses_bad_keys() {
    let exp = datetime!(2024-01-31 00:00 UTC);
    let mut k = test_udk();
    k.signed_oid.clear();
    assert_eq!(
        user_delegation_sas_for_container(DEV_ACCOUNT, "abc", &rl(), None, exp, &k).unwrap_err(),
        SasError::IncompleteDelegationKey {
            field: "signed_oid"
        }
    );
    let mut k = test_udk();
    k.signed_expiry = "next week".into();
    assert!(matches!(
        user_delegation_sas_for_container(DEV_ACCOUNT, "abc", &rl(), None, exp, &k),
        Err(SasError::InvalidTime { field: "ske", .. })
    ));
    let mut k = test_udk();
    k.value_b64 = "%%%".into();
    assert_eq!(
        user_delegation_sas_for_container(DEV_ACCOUNT, "abc", &rl(), None, exp, &k).unwrap_err(),
        SasError::InvalidKey {
            what: "user delegation key value"
        }
    );
    // The SAS may not outlive its key.
    let err = user_delegation_sas_for_container(
        DEV_ACCOUNT,
        "abc",
        &rl(),
        None,
        datetime!(2024-03-01 00:00 UTC),
        &test_udk(),
    )
    .unwrap_err();
    assert!(matches!(err, SasError::ExpiryAfterKeyExpiry { .. }));
    assert!(err.to_string().contains("2024-02-01T00:00:00Z"));
}
