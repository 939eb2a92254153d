//! What a Managed Instance accepts as the SAS of a Log Replay Service restore, from the LRS
//! documentation (`../shared/reference/lrs-api.md`, "Rules LRS enforces"): a container-wide SAS
//! (`sr=c`) with Read and List ONLY ("any extra permission makes LRS fail to start"), no stored
//! access policy, signed and not expired. The signature itself is checked by the storage account
//! ([`super::verify_service_sas`]).

use time::OffsetDateTime;

use super::token::SasFields;

/// The permissions LRS needs, and the only ones it accepts.
pub const LRS_SAS_PERMISSIONS: [char; 2] = ['r', 'l'];

/// Why the instance refuses a SAS for LRS.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LrsSasRefusal {
    #[error("the SAS has no signature (sig=)")]
    NoSignature,
    #[error("the SAS refers to the stored access policy si={0}; LRS needs an ad hoc SAS")]
    StoredPolicy(String),
    #[error("LRS needs a container SAS (sr=c) with Read and List, this SAS is {0}")]
    NotContainer(String),
    #[error("LRS needs Read and List permissions only (sp=rl), the SAS grants sp={0}")]
    Permissions(String),
    #[error("the SAS has no expiry (se=)")]
    NoExpiry,
    #[error("the SAS expiry is not valid: {0}")]
    BadTime(String),
    #[error("the SAS expired at {0}")]
    Expired(OffsetDateTime),
}

/// Checks `token` against LRS's SAS rule at `now`.
pub fn check_mi_sas(token: &str, now: OffsetDateTime) -> Result<(), LrsSasRefusal> {
    let f = SasFields::parse(token);
    if f.get("sig").is_none_or(str::is_empty) {
        return Err(LrsSasRefusal::NoSignature);
    }
    if let Some(si) = f.get("si") {
        return Err(LrsSasRefusal::StoredPolicy(si.to_string()));
    }
    if f.is_account_sas() {
        return Err(LrsSasRefusal::NotContainer(
            "an account SAS (ss/srt)".into(),
        ));
    }
    if f.is_user_delegation() {
        return Err(LrsSasRefusal::NotContainer(
            "a user delegation SAS (skoid)".into(),
        ));
    }
    match f.get("sr") {
        Some("c") => {}
        Some(other) => return Err(LrsSasRefusal::NotContainer(format!("sr={other}"))),
        None => return Err(LrsSasRefusal::NotContainer("without sr=".into())),
    }
    let sp = f.permissions();
    let mut letters: Vec<char> = sp.chars().collect();
    letters.sort_unstable();
    letters.dedup();
    let mut wanted = LRS_SAS_PERMISSIONS.to_vec();
    wanted.sort_unstable();
    if letters != wanted || sp.chars().count() != LRS_SAS_PERMISSIONS.len() {
        return Err(LrsSasRefusal::Permissions(sp.to_string()));
    }
    match f.expiry() {
        Err(e) => Err(LrsSasRefusal::BadTime(e)),
        Ok(None) => Err(LrsSasRefusal::NoExpiry),
        Ok(Some(se)) if se <= now => Err(LrsSasRefusal::Expired(se)),
        Ok(Some(_)) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn read_and_list_only() {
        let now = datetime!(2024-01-15 00:00 UTC);
        let t = |sp: &str| format!("sv=2022-11-02&sr=c&sp={sp}&se=2024-02-01T00%3A00%3A00Z&sig=x");
        check_mi_sas(&t("rl"), now).unwrap();
        check_mi_sas(&t("lr"), now).unwrap();
        for sp in ["r", "l", "rwl", "rlw", "racwdl", "rll", ""] {
            assert!(
                matches!(
                    check_mi_sas(&t(sp), now),
                    Err(LrsSasRefusal::Permissions(_))
                ),
                "{sp}"
            );
        }
        assert!(check_mi_sas(&t("rl").replace("sr=c", "sr=b"), now).is_err());
        assert!(check_mi_sas(&format!("{}&si=p", t("rl")), now).is_err());
        assert!(check_mi_sas(&t("rl").replace("&sig=x", ""), now).is_err());
        assert!(check_mi_sas(&t("rl"), datetime!(2024-02-01 00:00 UTC)).is_err());
        assert!(check_mi_sas("sv=2022-11-02&ss=b&srt=co&sp=rl&se=2024-02-01&sig=x", now).is_err());
    }
}
