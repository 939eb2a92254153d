//! Reading tokens: every field, URLs, Azure's time forms, malformed input, percent-encoding.

use super::*;

#[test]
fn parse_reads_every_field() {
    let info = parse_sas(
        "?sv=2022-11-02&ss=b&srt=co&sp=rl&st=2024-01-01&se=2024-01-31T10%3A30Z\
         &spr=https&sip=10.0.0.1-10.0.0.9&si=policy1&ses=scope&sig=abc%3D",
    )
    .unwrap();
    assert_eq!(info.version.as_deref(), Some("2022-11-02"));
    assert_eq!(info.permissions, rl());
    assert_eq!(info.start, Some(datetime!(2024-01-01 00:00 UTC)));
    assert_eq!(info.expiry, Some(datetime!(2024-01-31 10:30 UTC)));
    assert!(info.is_account_sas);
    assert_eq!(info.services.as_deref(), Some("b"));
    assert_eq!(info.resource_types.as_deref(), Some("co"));
    assert_eq!(info.protocol.as_deref(), Some("https"));
    assert_eq!(info.ip.as_deref(), Some("10.0.0.1-10.0.0.9"));
    assert_eq!(info.signed_identifier.as_deref(), Some("policy1"));
    assert_eq!(info.encryption_scope.as_deref(), Some("scope"));
    assert!(info.has_signature);
    assert!(!info.is_user_delegation);
    assert_eq!(info.resource, None);
}

#[test]
fn parse_accepts_urls_and_azure_time_forms() {
    let info = parse_sas(
        "https://a.blob.core.windows.net/c?sr=c&sp=rl&se=2024-01-31T10:30:15.1234567Z&sig=x",
    )
    .unwrap();
    assert_eq!(
        info.expiry,
        Some(datetime!(2024-01-31 10:30:15.1234567 UTC))
    );
    assert!(!info.is_account_sas);
    let info = parse_sas("se=2024-01-31T12:30:00%2B02:00&sig=x").unwrap();
    assert_eq!(info.expiry, Some(datetime!(2024-01-31 10:30 UTC)));
    let info = parse_sas("sp=rl").unwrap();
    assert!(!info.has_signature);
    assert_eq!(info.expiry, None);
}

#[test]
fn parse_refuses_malformed_tokens() {
    assert!(matches!(parse_sas(""), Err(SasError::Malformed { .. })));
    assert!(matches!(parse_sas("?"), Err(SasError::Malformed { .. })));
    assert!(matches!(
        parse_sas("=x&sp=r"),
        Err(SasError::Malformed { .. })
    ));
    assert_eq!(
        parse_sas("sp=r&SP=l").unwrap_err(),
        SasError::DuplicateParameter { name: "sp".into() }
    );
    let err = parse_sas("se=tomorrow").unwrap_err();
    assert_eq!(
        err,
        SasError::InvalidTime {
            field: "se",
            value: "tomorrow".into()
        }
    );
    assert!(err.to_string().contains("YYYY-MM-DD"));
    assert!(matches!(
        parse_sas("se=2024-13-01"),
        Err(SasError::InvalidTime { .. })
    ));
    assert!(matches!(
        parse_sas("sp=rq"),
        Err(SasError::UnknownPermission { letter: 'q', .. })
    ));
    assert!(matches!(
        parse_sas("sp=r%C3"),
        Err(SasError::Malformed { .. })
    ));
}

#[test]
fn percent_round_trip() {
    let s = "a+b/c=d:e f%g&h?é";
    assert_eq!(percent_decode("x", &percent_encode(s)).unwrap(), s);
    assert_eq!(percent_encode("Ab9-._~"), "Ab9-._~");
    assert_eq!(percent_decode("x", "a+b").unwrap(), "a+b");
}

#[test]
fn parse_time_forms() {
    assert_eq!(
        parse_time("se", "2024-02-29").unwrap(),
        datetime!(2024-02-29 00:00 UTC)
    );
    assert_eq!(
        parse_time("se", "2024-02-29T23:59Z").unwrap(),
        datetime!(2024-02-29 23:59 UTC)
    );
    assert_eq!(
        parse_time("se", "2024-02-29T23:59:58Z").unwrap(),
        datetime!(2024-02-29 23:59:58 UTC)
    );
    assert!(parse_time("se", "2023-02-29").is_err());
    assert!(parse_time("se", "2024-02-29T24:00Z").is_err());
    assert!(parse_time("se", "2024-02-29 10:00:00").is_err());
    assert_eq!(
        format_time("se", datetime!(2024-02-29 23:59:58.999 UTC)).unwrap(),
        "2024-02-29T23:59:58Z"
    );
    assert!(matches!(
        format_time("se", datetime!(-0001-01-01 00:00 UTC)),
        Err(SasError::TimeOutOfRange { .. })
    ));
}

#[test]
fn human_durations() {
    assert_eq!(human_duration(Duration::seconds(30)), "30s");
    assert_eq!(human_duration(Duration::minutes(45)), "45m");
    assert_eq!(human_duration(Duration::minutes(125)), "2h 5m");
    assert_eq!(human_duration(Duration::hours(76)), "3d 4h");
    assert_eq!(human_duration(Duration::seconds(-5)), "0s");
}

proptest::proptest! {
    /// Whatever a user pastes, reading and checking it never panics.
    #[test]
    fn arbitrary_tokens_never_panic(token in "\\PC{0,120}|([a-z]{1,5}=[%A-Za-z0-9+/:=-]{0,12}&?){0,8}") {
        let _ = parse_sas(&token);
        let _ = check_lrs_sas(&token, now(), Duration::days(1));
        let _ = verify_service_sas(&token, DEV_ACCOUNT, DEV_KEY, "migration");
        let _ = verify_user_delegation_sas(&token, DEV_ACCOUNT, "migration", &test_udk());
        let _ = redact_sas(&token);
    }
}
