//! [`ArmError`]: a failed Azure Resource Manager call, raw (the service's code and message as
//! given); a service client (the LRS client) turns it into its own error with explanations.

use serde_json::Value;

/// A failed ARM call. `op` and `subject` say which call, about what (e.g. `start`, `Sales`).
#[derive(Debug, Clone, thiserror::Error)]
pub enum ArmError {
    /// The service answered with an error status; `body` is its answer (JSON, or the text).
    #[error("{op} {subject}: HTTP {status}: {body}")]
    Status {
        op: &'static str,
        subject: String,
        status: u16,
        body: Value,
    },
    #[error("{op} {subject}: cannot reach {endpoint}: {message}")]
    Network {
        op: &'static str,
        subject: String,
        endpoint: String,
        message: String,
    },
    #[error(
        "cannot get an Azure AD token for Azure Resource Manager: {0}; run 'az login' or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET"
    )]
    Token(String),
    /// A long-running operation ended Failed or Canceled: its error code and message.
    #[error("{op} {subject}: the operation failed: {message}")]
    OperationFailed {
        op: &'static str,
        subject: String,
        code: Option<String>,
        message: String,
    },
    /// Refused before any request (an endpoint or URL the token must not go to).
    #[error("{0}")]
    Refused(String),
}
