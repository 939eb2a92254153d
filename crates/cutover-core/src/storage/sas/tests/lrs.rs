//! The LRS rules: permissions, scope, stored policies, expiry and the warnings.

use super::*;

fn check(token: &str) -> Result<Vec<SasWarning>, SasError> {
    check_lrs_sas(token, now(), Duration::days(7))
}

#[test]
fn lrs_accepts_a_generated_read_list_sas() {
    let token = dev_token(Some(datetime!(2024-01-01 00:00 UTC)));
    assert_eq!(check(token.as_query()).unwrap(), vec![]);
}

#[test]
fn lrs_refuses_extra_permissions_naming_them() {
    let err = check("sv=2022-11-02&sr=c&sp=rwdl&se=2024-02-01&sig=x").unwrap_err();
    assert_eq!(
        err.to_string(),
        "SAS grants w, d: LRS needs Read and List only; generate one with sp=rl (found sp=rwdl)"
    );
    let err = check("sv=2022-11-02&sr=c&sp=racwdl&se=2024-02-01&sig=x").unwrap_err();
    assert!(matches!(err, SasError::ExtraPermissions { ref extra, .. } if extra == "a, c, w, d"));
}

#[test]
fn lrs_needs_both_read_and_list() {
    let err = check("sr=c&sp=r&se=2024-02-01&sig=x").unwrap_err();
    assert!(err.to_string().contains("List (l)"), "{err}");
    let err = check("sr=c&sp=l&se=2024-02-01&sig=x").unwrap_err();
    assert!(err.to_string().contains("Read (r)"), "{err}");
    assert_eq!(
        check("sr=c&se=2024-02-01&sig=x").unwrap_err(),
        SasError::NoPermissions
    );
}

#[test]
fn lrs_refuses_stored_policies_and_unsigned_tokens() {
    assert_eq!(
        check("sr=c&sp=rl&se=2024-02-01").unwrap_err(),
        SasError::MissingSignature
    );
    let err = check("sr=c&si=mypolicy&sig=x").unwrap_err();
    assert_eq!(
        err,
        SasError::StoredAccessPolicy {
            identifier: "mypolicy".into()
        }
    );
    assert!(err.to_string().contains("si=mypolicy"));
}

#[test]
fn lrs_needs_container_scope() {
    let err = check("sr=b&sp=rl&se=2024-02-01&sig=x").unwrap_err();
    assert!(matches!(err, SasError::NotContainerScoped { ref resource, .. } if resource == "b"));
    assert!(err.to_string().contains("sr=c"));
    assert!(matches!(
        check("sp=rl&se=2024-02-01&sig=x").unwrap_err(),
        SasError::MissingParameter { name: "sr", .. }
    ));
    // Account SAS: must cover blobs, containers and objects.
    assert_eq!(
        check("ss=b&srt=co&sp=rl&se=2024-02-01&sig=x").unwrap(),
        vec![]
    );
    assert!(matches!(
        check("ss=q&srt=co&sp=rl&se=2024-02-01&sig=x").unwrap_err(),
        SasError::AccountSasScope { field: "ss", .. }
    ));
    assert!(matches!(
        check("ss=b&srt=o&sp=rl&se=2024-02-01&sig=x").unwrap_err(),
        SasError::AccountSasScope { field: "srt", .. }
    ));
}

#[test]
fn lrs_expiry_rules() {
    let err = check("sr=c&sp=rl&se=2024-01-09&sig=x").unwrap_err();
    assert_eq!(
        err,
        SasError::Expired {
            expiry: datetime!(2024-01-09 00:00 UTC),
            now: now()
        }
    );
    assert!(err.to_string().contains("2024-01-09T00:00:00Z"), "{err}");
    assert!(matches!(
        check("sr=c&sp=rl&sig=x").unwrap_err(),
        SasError::MissingParameter { name: "se", .. }
    ));
    // Valid for 2 more days, migration expected to take 7: a warning.
    let w = check("sr=c&sp=rl&se=2024-01-12&sig=x").unwrap();
    assert_eq!(
        w,
        vec![SasWarning::ExpiresDuringMigration {
            expiry: datetime!(2024-01-12 00:00 UTC),
            remaining: Duration::days(2)
        }]
    );
    assert!(w[0].to_string().contains("in 2d 0h"), "{}", w[0]);
    // Valid for 8 days: fine.
    assert_eq!(check("sr=c&sp=rl&se=2024-01-18&sig=x").unwrap(), vec![]);
}

#[test]
fn lrs_start_time_skew() {
    // 4 minutes ahead: within tolerance.
    assert_eq!(
        check("sr=c&sp=rl&st=2024-01-10T00:04Z&se=2024-02-01&sig=x").unwrap(),
        vec![]
    );
    let w = check("sr=c&sp=rl&st=2024-01-10T01:00Z&se=2024-02-01&sig=x").unwrap();
    assert_eq!(
        w,
        vec![SasWarning::StartsInFuture {
            start: datetime!(2024-01-10 01:00 UTC),
            ahead: Duration::hours(1)
        }]
    );
    assert!(w[0].to_string().contains("1h 0m"));
    let w = check("sr=c&sp=rl&sip=1.2.3.4&se=2024-02-01&sig=x").unwrap();
    assert_eq!(
        w,
        vec![SasWarning::IpRestricted {
            ip: "1.2.3.4".into()
        }]
    );
}

#[test]
fn check_time_window() {
    let info = parse_sas("st=2024-01-05&se=2024-01-20&sig=x").unwrap();
    assert!(info.check_time(now()).is_ok());
    assert!(matches!(
        info.check_time(datetime!(2024-01-04 00:00 UTC)),
        Err(SasError::NotYetValid { .. })
    ));
    assert!(matches!(
        info.check_time(datetime!(2024-01-20 00:00 UTC)),
        Err(SasError::Expired { .. })
    ));
}
