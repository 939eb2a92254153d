//! What every discovery request passes before it is answered, as Azure Resource Manager does:
//! a bearer token, throttling on demand (429 + Retry-After), an api-version the resource provider
//! knows, and a subscription that exists and that the credential may read.

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The api-versions each provider answers in the sandbox: the ones the published examples and
/// `lrs-api.md` name (and, for storage, the version in the published containers `nextLink`).
pub fn known_versions(provider: Provider) -> &'static [&'static str] {
    match provider {
        Provider::Resources => &["2016-06-01", "2020-01-01", "2021-01-01", "2022-12-01"],
        Provider::Sql => &[
            "2021-11-01",
            "2022-11-01-preview",
            "2023-08-01",
            "2024-05-01-preview",
            "2025-01-01",
        ],
        Provider::Storage => &[
            "2022-09-01",
            "2023-01-01",
            "2023-05-01",
            "2025-08-01",
            "2026-06-01",
            "2026-09-01",
        ],
        Provider::Authorization => &["2022-04-01"],
    }
}

/// The resource provider a path belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Resources,
    Sql,
    Storage,
    Authorization,
}

impl Provider {
    fn namespace(self) -> &'static str {
        match self {
            Provider::Resources => "Microsoft.Resources",
            Provider::Sql => "Microsoft.Sql",
            Provider::Storage => "Microsoft.Storage",
            Provider::Authorization => "Microsoft.Authorization",
        }
    }
}

/// An ARM error answer: `{"error": {"code", "message"}}`.
pub fn arm_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = json!({"error": {"code": code, "message": message.into()}});
    (status, Json(body)).into_response()
}

/// 429 with Retry-After (seconds), as ARM throttles a caller.
pub fn throttled() -> Response {
    let mut r = arm_error(
        StatusCode::TOO_MANY_REQUESTS,
        "TooManyRequests",
        "The request is being throttled: too many requests from this client. Retry after the delay in the Retry-After header.",
    );
    r.headers_mut()
        .insert("retry-after", HeaderValue::from_static("1"));
    r
}

/// The bearer token: missing or not Bearer is 401 AuthenticationFailed; with `required`, another
/// token is 401 InvalidAuthenticationToken.
#[allow(clippy::result_large_err)] // an axum Response, returned at once by the handler
pub fn check_auth(headers: &HeaderMap, required: Option<&str>) -> Result<(), Response> {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(token) = auth
        .strip_prefix("Bearer ")
        .filter(|t| !t.trim().is_empty())
    else {
        return Err(arm_error(
            StatusCode::UNAUTHORIZED,
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing or is not a Bearer token.",
        ));
    };
    if required.is_some_and(|r| r != token) {
        return Err(arm_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "The access token is invalid.",
        ));
    }
    Ok(())
}

/// The api-version: missing is 400 MissingApiVersionParameter; one the provider does not know is
/// 400 InvalidApiVersionParameter (subscriptions) or NoRegisteredProviderFound (providers).
#[allow(clippy::result_large_err)]
pub fn check_api_version(api: Option<&str>, provider: Provider) -> Result<String, Response> {
    let Some(api) = api.filter(|a| !a.is_empty()) else {
        return Err(arm_error(
            StatusCode::BAD_REQUEST,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        ));
    };
    let known = known_versions(provider);
    if known.contains(&api) {
        return Ok(api.to_string());
    }
    let list = known.join(", ");
    Err(match provider {
        Provider::Resources => arm_error(
            StatusCode::BAD_REQUEST,
            "InvalidApiVersionParameter",
            format!("The api-version '{api}' is invalid. The supported versions are '{list}'."),
        ),
        p => arm_error(
            StatusCode::BAD_REQUEST,
            "NoRegisteredProviderFound",
            format!(
                "No registered resource provider found for API version '{api}' of namespace '{}'. The supported api-versions are '{list}'.",
                p.namespace()
            ),
        ),
    })
}

/// 403 for a subscription the credential can list but not read.
pub fn forbidden(sub: &str, action: &str) -> Response {
    arm_error(
        StatusCode::FORBIDDEN,
        "AuthorizationFailed",
        format!(
            "The client 'cutover-sandbox' with object id '00000000-0000-4000-8000-0000000c11e7' does not have authorization to perform action '{action}' over scope '/subscriptions/{sub}' or the scope is invalid. If access was recently granted, please refresh your credentials."
        ),
    )
}

/// 404 for a subscription that does not exist.
pub fn no_subscription(sub: &str) -> Response {
    arm_error(
        StatusCode::NOT_FOUND,
        "SubscriptionNotFound",
        format!("The subscription '{sub}' could not be found."),
    )
}
