//! Tests of the SAS module, one file per concern, sharing the fixtures below: Azurite's
//! development account and key, a container SAS signed with them, and a user delegation key.

mod lrs;
mod parsing;
mod permissions;
mod redaction;
mod signing;
mod verification;

use super::encoding::{percent_decode, percent_encode};
use super::parse::RawSas;
use super::string_to_sign::{ServiceParams, service_string_to_sign};
use super::times::{format_time, human_duration, parse_time};
use super::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

/// Azurite's well-known development account.
const DEV_ACCOUNT: &str = "devstoreaccount1";
const DEV_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

fn rl() -> SasPermissions {
    SasPermissions::read_list()
}

fn dev_token(start: Option<OffsetDateTime>) -> SasToken {
    service_sas_for_container(
        DEV_ACCOUNT,
        DEV_KEY,
        "migration",
        &rl(),
        start,
        datetime!(2024-01-31 00:00 UTC),
    )
    .unwrap()
}

fn test_udk() -> UserDelegationKey {
    UserDelegationKey {
        signed_oid: "11111111-2222-3333-4444-555555555555".into(),
        signed_tid: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee".into(),
        signed_start: "2024-01-01T00:00:00Z".into(),
        signed_expiry: "2024-02-01T00:00:00Z".into(),
        signed_service: "b".into(),
        signed_version: "2022-11-02".into(),
        // base64 of the bytes 0, 1, ..., 31.
        value_b64: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into(),
    }
}

fn sig_of(token: &str) -> String {
    let raw = RawSas::parse(token).unwrap();
    raw.get("sig").unwrap().to_string()
}

fn now() -> OffsetDateTime {
    datetime!(2024-01-10 00:00 UTC)
}
