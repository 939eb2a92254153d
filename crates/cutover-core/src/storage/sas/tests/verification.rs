//! Verification: round trips with signing, tampering, what cannot be checked, older versions
//! and user delegation SAS.

use super::*;

#[test]
fn verify_round_trips_with_generation() {
    for start in [None, Some(datetime!(2024-01-01 00:00 UTC))] {
        let token = dev_token(start);
        let info = verify_service_sas(token.as_query(), DEV_ACCOUNT, DEV_KEY, "migration").unwrap();
        assert_eq!(info.permissions, rl());
        assert_eq!(info.start, start);
        // A container SAS covers any blob of the container, in any resource spelling.
        for resource in [
            "/migration",
            "migration/db1/x.bak",
            "/blob/devstoreaccount1/migration",
            "/blob/devstoreaccount1/migration/db1/LOG_x.trn",
        ] {
            verify_service_sas(token.as_query(), DEV_ACCOUNT, DEV_KEY, resource).unwrap();
        }
        let with_q = format!("?{}", token.as_query());
        verify_service_sas(&with_q, DEV_ACCOUNT, DEV_KEY, "migration").unwrap();
    }
    // Other permission sets and containers too.
    let perms: SasPermissions = "racwl".parse().unwrap();
    let token = service_sas_for_container(
        DEV_ACCOUNT,
        DEV_KEY,
        "other-one",
        &perms,
        None,
        datetime!(2030-01-01 00:00 UTC),
    )
    .unwrap();
    verify_service_sas(token.as_query(), DEV_ACCOUNT, DEV_KEY, "other-one").unwrap();
}

#[test]
fn verify_rejects_tampering() {
    let token = dev_token(Some(datetime!(2024-01-01 00:00 UTC)));
    let q = token.as_query();
    let tampered = [
        q.replace("sp=rl", "sp=rwl"),
        q.replace("se=2024-01-31", "se=2025-01-31"),
        q.replace("st=2024-01-01T00%3A00%3A00Z&", ""),
        format!("{q}&sip=1.2.3.4"),
        format!("{q}&spr=https"),
        format!("{q}&rsct=text%2Fhtml"),
        q.replace("sig=qqcK", "sig=qqcL"),
        q.replace(
            "sig=qqcKpTSbKFnktIbExvWP285ZqU6UTRAM4OizBEUHHFo%3D",
            "sig=!!",
        ),
    ];
    for t in &tampered {
        assert_eq!(
            verify_service_sas(t, DEV_ACCOUNT, DEV_KEY, "migration").unwrap_err(),
            SasError::SignatureMismatch,
            "{t}"
        );
    }
    // Another container, account or key.
    assert_eq!(
        verify_service_sas(q, DEV_ACCOUNT, DEV_KEY, "other").unwrap_err(),
        SasError::SignatureMismatch
    );
    assert!(matches!(
        verify_service_sas(
            q,
            "otheraccount",
            DEV_KEY,
            "/blob/devstoreaccount1/migration"
        ),
        Err(SasError::ResourceMismatch { .. })
    ));
    assert_eq!(
        verify_service_sas(q, "otheraccount", DEV_KEY, "migration").unwrap_err(),
        SasError::SignatureMismatch
    );
    let other_key = BASE64.encode([7u8; 64]);
    assert_eq!(
        verify_service_sas(q, DEV_ACCOUNT, &other_key, "migration").unwrap_err(),
        SasError::SignatureMismatch
    );
}

#[test]
fn verify_refuses_what_it_cannot_check() {
    let q = dev_token(None).into_query();
    assert_eq!(
        verify_service_sas(
            &q.replace("&sig=", "&nosig="),
            DEV_ACCOUNT,
            DEV_KEY,
            "migration"
        )
        .unwrap_err(),
        SasError::MissingSignature
    );
    assert!(matches!(
        verify_service_sas(&format!("{q}&ss=b"), DEV_ACCOUNT, DEV_KEY, "migration"),
        Err(SasError::WrongKind(_))
    ));
    assert!(matches!(
        verify_service_sas(
            &q.replace("sv=2022-11-02", "sv=2015-04-05"),
            DEV_ACCOUNT,
            DEV_KEY,
            "migration"
        ),
        Err(SasError::UnsupportedVersion { .. })
    ));
    assert!(matches!(
        verify_service_sas(
            &q.replace("sv=2022-11-02", "sv=latest"),
            DEV_ACCOUNT,
            DEV_KEY,
            "migration"
        ),
        Err(SasError::UnsupportedVersion { .. })
    ));
    assert!(matches!(
        verify_service_sas(
            &q.replace("sr=c", "sr=d"),
            DEV_ACCOUNT,
            DEV_KEY,
            "migration"
        ),
        Err(SasError::NotContainerScoped { .. })
    ));
    assert!(matches!(
        verify_service_sas(
            &q.replace("sr=c", "sr=b"),
            DEV_ACCOUNT,
            DEV_KEY,
            "migration"
        ),
        Err(SasError::ResourceMismatch { .. })
    ));
    assert!(matches!(
        verify_service_sas(&q, DEV_ACCOUNT, DEV_KEY, ""),
        Err(SasError::ResourceMismatch { .. })
    ));
}

/// A blob SAS (sr=b) of an older version (15 lines: no encryption scope line). Signature
/// computed independently with Python 3's hmac/hashlib/base64 over
/// `"\n".join(["r", "", "2024-01-31T00:00:00Z", "/blob/devstoreaccount1/c1/db/x.bak", "", "",
/// "", "2019-12-12", "b", "", "", "", "", "", ""])` with the Azurite key.
#[test]
fn verify_handles_blob_scope_and_older_versions() {
    let token = "sv=2019-12-12&se=2024-01-31T00%3A00%3A00Z&sr=b&sp=r\
                 &sig=vSNDEBfHbZzqKZXWFyigGKZyC3XtHa71kyd2kD3DKdM%3D";
    verify_service_sas(token, DEV_ACCOUNT, DEV_KEY, "c1/db/x.bak").unwrap();
    assert_eq!(
        verify_service_sas(token, DEV_ACCOUNT, DEV_KEY, "c1/db/y.bak").unwrap_err(),
        SasError::SignatureMismatch
    );
}

#[test]
fn verify_user_delegation_round_trip() {
    let key = test_udk();
    let token = user_delegation_sas_for_container(
        DEV_ACCOUNT,
        "migration",
        &rl(),
        None,
        datetime!(2024-01-31 00:00 UTC),
        &key,
    )
    .unwrap();
    let q = token.as_query();
    verify_user_delegation_sas(q, DEV_ACCOUNT, "migration/db/x.bak", &key).unwrap();
    assert_eq!(
        verify_user_delegation_sas(&q.replace("sp=rl", "sp=r"), DEV_ACCOUNT, "migration", &key)
            .unwrap_err(),
        SasError::SignatureMismatch
    );
    let mut other = key.clone();
    other.value_b64 = BASE64.encode([9u8; 32]);
    assert_eq!(
        verify_user_delegation_sas(q, DEV_ACCOUNT, "migration", &other).unwrap_err(),
        SasError::SignatureMismatch
    );
    let mut other = key.clone();
    other.signed_oid = "someone-else".into();
    assert_eq!(
        verify_user_delegation_sas(q, DEV_ACCOUNT, "migration", &other).unwrap_err(),
        SasError::SignatureMismatch
    );
    // The account-key verifier refuses it, and vice versa.
    assert!(matches!(
        verify_service_sas(q, DEV_ACCOUNT, DEV_KEY, "migration"),
        Err(SasError::WrongKind(_))
    ));
    let service = dev_token(None);
    assert!(matches!(
        verify_user_delegation_sas(service.as_query(), DEV_ACCOUNT, "migration", &key),
        Err(SasError::WrongKind(_))
    ));
}
