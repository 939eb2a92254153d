//! [`StaticToken`]: a fixed bearer token, for the local sandbox (which accepts any token), so local
//! runs need no Azure AD.

use azure_core::credentials::{AccessToken, Secret, TokenCredential, TokenRequestOptions};

/// A fixed bearer token: the sandbox accepts any token, so local runs need no Azure AD.
#[derive(Debug)]
pub struct StaticToken(pub String);

#[async_trait::async_trait]
impl TokenCredential for StaticToken {
    async fn get_token(
        &self,
        _scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        Ok(AccessToken::new(
            Secret::new(self.0.clone()),
            time::OffsetDateTime::now_utc() + time::Duration::hours(1),
        ))
    }
}
