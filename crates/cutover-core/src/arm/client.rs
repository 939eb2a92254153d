//! [`ArmClient`]: Azure Resource Manager requests for one endpoint — a token for the endpoint's own
//! scope, retries on 429/5xx/network failures (honouring Retry-After), long-running operations
//! followed until they end, and the bearer token never sent to another scheme, host or port.

use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::TokenCredential;
use serde_json::Value;

use super::ArmError;
use super::endpoint::arm_origin;

/// Requests to one ARM endpoint with one credential.
#[derive(Clone)]
pub struct ArmClient {
    http: reqwest::Client,
    endpoint: String,
    /// The endpoint's scheme, host and port: the only place the bearer token is sent to.
    origin: url::Origin,
    /// The token's scope, `<origin>/.default`: a token issued for the endpoint and nothing else.
    scope: String,
    credential: Arc<dyn TokenCredential>,
    /// Delay between polls of a long-running operation when the service gives no Retry-After.
    pub poll_interval: Duration,
    /// Attempts for 429/5xx/network failures.
    pub max_attempts: u32,
}

impl ArmClient {
    /// A client of `endpoint`, refused unless it is https (or http on a loopback address).
    pub fn new(endpoint: &str, credential: Arc<dyn TokenCredential>) -> Result<Self, ArmError> {
        let origin = arm_origin(endpoint)?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| ArmError::Refused(format!("cannot build the HTTP client: {e}")))?;
        Ok(ArmClient {
            http,
            endpoint: endpoint.trim().trim_end_matches('/').to_string(),
            scope: format!("{}/.default", origin.ascii_serialization()),
            origin,
            credential,
            poll_interval: Duration::from_secs(5),
            max_attempts: 6,
        })
    }

    /// The endpoint, without a trailing `/`: resource URLs start with it.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Refuses a URL outside the ARM endpoint (another host, port or scheme, e.g. an operation URL a
    /// response pointed to): the bearer token is only ever sent where it was issued for.
    fn check_same_origin(
        &self,
        op: &'static str,
        subject: &str,
        url: &str,
    ) -> Result<(), ArmError> {
        let target = url::Url::parse(url).map(|u| u.origin()).ok();
        if target.as_ref() == Some(&self.origin) {
            return Ok(());
        }
        let shown = target.map_or_else(|| url.to_string(), |o| o.ascii_serialization());
        Err(ArmError::Refused(format!(
            "{op} {subject}: the service pointed cutover to {shown}, which is not the ARM endpoint {}: refusing to send the Azure AD token there; check --arm-endpoint / [target] arm_endpoint, or follow the operation in the Azure portal",
            self.origin.ascii_serialization()
        )))
    }

    async fn token(&self) -> Result<String, ArmError> {
        self.credential
            .get_token(&[&self.scope], None)
            .await
            .map(|t| t.token.secret().to_string())
            .map_err(|e| ArmError::Token(e.to_string()))
    }

    /// One HTTP call with retries on 429/5xx/network errors (honouring Retry-After). An error
    /// status after the retries is [`ArmError::Status`] with the service's answer.
    pub async fn call(
        &self,
        op: &'static str,
        subject: &str,
        method: reqwest::Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<(u16, reqwest::header::HeaderMap, Value), ArmError> {
        self.check_same_origin(op, subject, url)?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let token = self.token().await?;
            let mut req = self.http.request(method.clone(), url).bearer_auth(token);
            if let Some(b) = body {
                req = req.json(b);
            }
            let result = req.send().await;
            let (status, headers, text) = match result {
                Ok(r) => {
                    let status = r.status().as_u16();
                    let headers = r.headers().clone();
                    let text = r.text().await.unwrap_or_default();
                    (status, headers, text)
                }
                Err(e) if attempt < self.max_attempts => {
                    tracing::warn!(op, db = subject, attempt, error = %e, "LRS call failed, retrying");
                    tokio::time::sleep(backoff(attempt, None)).await;
                    continue;
                }
                Err(e) => {
                    return Err(ArmError::Network {
                        op,
                        subject: subject.to_string(),
                        endpoint: self.endpoint.clone(),
                        message: e.to_string(),
                    });
                }
            };
            if (status == 429 || status >= 500) && attempt < self.max_attempts {
                let ra = headers
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                tracing::warn!(
                    op,
                    db = subject,
                    attempt,
                    status,
                    "LRS call throttled or failed, retrying"
                );
                tokio::time::sleep(backoff(attempt, ra)).await;
                continue;
            }
            let json: Value = if text.trim().is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or(Value::String(text.clone()))
            };
            if status >= 400 {
                return Err(ArmError::Status {
                    op,
                    subject: subject.to_string(),
                    status,
                    body: json,
                });
            }
            return Ok((status, headers, json));
        }
    }

    /// Follows a long-running operation from its first response until it ends
    /// (`Azure-AsyncOperation`, else `Location`); an operation that ends Failed or Canceled is
    /// [`ArmError::OperationFailed`] with its error code and message.
    pub async fn follow(
        &self,
        op: &'static str,
        subject: &str,
        status: u16,
        headers: &reqwest::header::HeaderMap,
        body: Value,
    ) -> Result<Value, ArmError> {
        if status != 201 && status != 202 {
            return Ok(body);
        }
        let async_op = headers
            .get("azure-asyncoperation")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let location = headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let Some(poll_url) = async_op.clone().or(location.clone()) else {
            return Ok(body);
        };
        loop {
            let wait = headers
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .map(Duration::from_secs)
                .unwrap_or(self.poll_interval);
            tokio::time::sleep(wait.min(Duration::from_secs(60))).await;
            let (st, _h, v) = self
                .call(op, subject, reqwest::Method::GET, &poll_url, None)
                .await?;
            if async_op.is_some() {
                match v.get("status").and_then(Value::as_str) {
                    Some(s) if s.eq_ignore_ascii_case("Succeeded") => return Ok(v),
                    Some(s)
                        if s.eq_ignore_ascii_case("Failed")
                            || s.eq_ignore_ascii_case("Canceled") =>
                    {
                        let err = v.get("error");
                        let code = err
                            .and_then(|e| e.get("code"))
                            .and_then(Value::as_str)
                            .map(str::to_string);
                        let message = err
                            .and_then(|e| e.get("message"))
                            .and_then(Value::as_str)
                            .unwrap_or(s)
                            .to_string();
                        return Err(ArmError::OperationFailed {
                            op,
                            subject: subject.to_string(),
                            code,
                            message,
                        });
                    }
                    _ => continue,
                }
            } else if st == 200 || st == 204 {
                return Ok(v);
            }
        }
    }
}

fn backoff(attempt: u32, retry_after: Option<Duration>) -> Duration {
    let exp = Duration::from_millis(500)
        .saturating_mul(1 << attempt.min(6))
        .min(Duration::from_secs(30));
    let jittered = exp.mul_f64(rand::random::<f64>().clamp(0.2, 1.0));
    retry_after.map_or(jittered, |ra| ra.max(Duration::from_millis(100)))
}
