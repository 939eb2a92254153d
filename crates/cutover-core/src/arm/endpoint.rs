//! The ARM endpoint's rules: https, or http only on a loopback address (the sandbox), checked before
//! any request; the default endpoint and token scope; names as URL path segments.

use super::ArmError;
use crate::storage::container::is_loopback;

pub const ARM_SCOPE: &str = "https://management.azure.com/.default";
/// The default endpoint and the loopback test are values the wizard shows too: they live in the model.
pub use crate::model::{DEFAULT_ARM_ENDPOINT, is_local_endpoint};

/// The ARM endpoint's origin, refused (before any request) unless it is https, or http on a
/// loopback address (the sandbox): the bearer token and the storage SAS must never travel in clear.
pub fn arm_origin(endpoint: &str) -> Result<url::Origin, ArmError> {
    let url = url::Url::parse(endpoint.trim()).map_err(|_| {
        ArmError::Refused(format!(
            "the ARM endpoint '{endpoint}' is not a URL; give e.g. {DEFAULT_ARM_ENDPOINT} (--arm-endpoint / [target] arm_endpoint)"
        ))
    })?;
    let loopback = url.host_str().is_some_and(is_loopback);
    match url.scheme() {
        "https" => Ok(url.origin()),
        "http" if loopback => Ok(url.origin()),
        scheme => Err(ArmError::Refused(format!(
            "the ARM endpoint '{}' uses {scheme}://, which would send the Azure AD token and the storage SAS in clear text; use https:// (e.g. {DEFAULT_ARM_ENDPOINT}; http:// only for a local sandbox on a loopback address) (--arm-endpoint / [target] arm_endpoint)",
            url.origin().ascii_serialization()
        ))),
    }
}

/// A name as one URL path segment (percent-encoded, spaces as %20).
pub fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
