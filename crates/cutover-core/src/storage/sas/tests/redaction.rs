//! Secrets stay out of output: tokens, keys, free text and error messages.

use super::*;

#[test]
fn token_display_and_debug_redact_the_signature() {
    let token = dev_token(None);
    let real_sig = "Y%2BXyInxBZFsc4jYlUa5lfTaqAxVHFJMZtP73QXuG9jo%3D";
    assert!(token.as_query().contains(real_sig));
    for shown in [format!("{token}"), format!("{token:?}")] {
        assert!(!shown.contains("XyInx"), "{shown}");
        assert!(shown.contains("sig=REDACTED"), "{shown}");
        assert!(shown.contains("sp=rl"), "{shown}");
    }
    assert_eq!(SasToken::new("?sv=1&sig=abc").as_query(), "sv=1&sig=abc");
    assert_eq!(SasToken::new("sv=1").into_query(), "sv=1");
}

#[test]
fn delegation_key_debug_redacts_the_value() {
    let shown = format!("{:?}", test_udk());
    assert!(!shown.contains("AAECAwQF"), "{shown}");
    assert!(shown.contains("REDACTED"));
    assert!(shown.contains("11111111-2222"));
}

#[test]
fn redact_sas_in_free_text() {
    assert_eq!(
        redact_sas(
            "GET https://a.blob.core.windows.net/c/x.bak?sv=2022-11-02&sig=ab%2Bc%3D&sp=rl failed"
        ),
        "GET https://a.blob.core.windows.net/c/x.bak?sv=2022-11-02&sig=REDACTED&sp=rl failed"
    );
    assert_eq!(redact_sas("SIG=abc+/="), "SIG=REDACTED");
    assert_eq!(redact_sas("token \"sig=xyz\""), "token \"sig=REDACTED\"");
    // Not a parameter boundary: left alone.
    assert_eq!(redact_sas("mysig=abc"), "mysig=abc");
    assert_eq!(redact_sas("sig="), "sig=");
    assert_eq!(redact_sas("é sig=1 ü"), "é sig=REDACTED ü");
    assert_eq!(redact_sas("a&sig=1&sig=2"), "a&sig=REDACTED&sig=REDACTED");
}

#[test]
fn errors_never_show_the_signature() {
    let token = dev_token(None);
    let tampered = token.as_query().replace("sp=rl", "sp=rwl");
    let err = verify_service_sas(&tampered, DEV_ACCOUNT, DEV_KEY, "migration").unwrap_err();
    assert!(!err.to_string().contains("XyInx"));
    let err = parse_sas("sv=2022-11-02&sig=%ZZsecret").unwrap_err();
    assert!(!err.to_string().contains("secret"), "{err}");
    assert!(err.to_string().contains("'sig'"));
}

proptest::proptest! {
    /// Any signature value, however encoded and wherever the token is quoted, is redacted.
    #[test]
    fn signatures_are_always_redacted(
        sig in "[A-Za-z0-9+/]{8,44}={0,2}",
        prefix in "[ -~]{0,20}",
        encode in proptest::bool::ANY,
    ) {
        let value = if encode { percent_encode(&sig) } else { sig.clone() };
        let text = format!("{prefix} https://a.blob.core.windows.net/c?sv=2022-11-02&sig={value}&sp=rl");
        let shown = redact_sas(&text);
        proptest::prop_assert!(!shown.contains(&value), "{}", shown);
        proptest::prop_assert!(shown.ends_with("&sig=REDACTED&sp=rl"), "{}", shown);
        proptest::prop_assert_eq!(redact_sas(&shown), shown.clone());
    }
}
