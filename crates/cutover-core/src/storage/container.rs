//! Container URLs: `https://ACCOUNT.blob.core.windows.net/CONTAINER` (virtual-host style) and the
//! emulator form `http://127.0.0.1:10000/ACCOUNT/CONTAINER` (path style), with an optional SAS query.

use std::fmt;

use url::Url;

pub use crate::model::is_loopback;

/// A parsed container URL. The SAS (if the user pasted one in the URL) is kept apart and never shown.
#[derive(Clone, PartialEq, Eq)]
pub struct ContainerUrl {
    /// Scheme, host, port and (path style) the account segment, without a trailing slash.
    base: Url,
    pub account: String,
    pub container: String,
    /// A SAS query string found in the URL (without '?').
    pub sas_in_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContainerUrlError {
    #[error(
        "'{0}' is not a URL; give the container URL, e.g. https://ACCOUNT.blob.core.windows.net/CONTAINER or http://127.0.0.1:10000/devstoreaccount1/CONTAINER"
    )]
    NotAUrl(String),
    #[error("'{0}': the scheme must be https (or http for a local emulator on a loopback address)")]
    Scheme(String),
    #[error("'{0}' names no container; add it to the path, e.g. .../CONTAINER")]
    NoContainer(String),
    #[error(
        "'{0}' points inside the container ('{1}'); give the container URL only (cutover makes one folder per database)"
    )]
    HasBlobPath(String, String),
}

/// Host suffixes of the public and sovereign Azure clouds (virtual-host style URLs).
const BLOB_SUFFIXES: &[&str] = &[
    ".blob.core.windows.net",
    ".blob.core.chinacloudapi.cn",
    ".blob.core.usgovcloudapi.net",
    ".blob.storage.azure.net",
];

impl ContainerUrl {
    pub fn parse(s: &str) -> Result<ContainerUrl, ContainerUrlError> {
        // Never echo a SAS back in an error.
        let shown = s.split('?').next().unwrap_or(s).to_string();
        let url = Url::parse(s.trim()).map_err(|_| ContainerUrlError::NotAUrl(shown.clone()))?;
        let host = url.host_str().unwrap_or_default().to_string();
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&host) => {}
            _ => return Err(ContainerUrlError::Scheme(shown)),
        }
        let segments: Vec<String> = url
            .path_segments()
            .map(|s| s.filter(|p| !p.is_empty()).map(str::to_string).collect())
            .unwrap_or_default();
        let virtual_host = BLOB_SUFFIXES.iter().any(|suf| host.ends_with(suf));
        let (account, container, rest, base_path) = if virtual_host {
            let account = host.split('.').next().unwrap_or_default().to_string();
            let container = segments
                .first()
                .cloned()
                .ok_or_else(|| ContainerUrlError::NoContainer(shown.clone()))?;
            (
                account,
                container,
                segments.get(1..).map(|r| r.join("/")).unwrap_or_default(),
                String::new(),
            )
        } else {
            let account = segments
                .first()
                .cloned()
                .ok_or_else(|| ContainerUrlError::NoContainer(shown.clone()))?;
            let container = segments
                .get(1)
                .cloned()
                .ok_or_else(|| ContainerUrlError::NoContainer(shown.clone()))?;
            let base_path = format!("/{account}");
            (
                account,
                container,
                segments.get(2..).map(|r| r.join("/")).unwrap_or_default(),
                base_path,
            )
        };
        if !rest.is_empty() {
            return Err(ContainerUrlError::HasBlobPath(shown, rest));
        }
        let mut base = url.clone();
        base.set_query(None);
        base.set_fragment(None);
        base.set_path(&base_path);
        let sas_in_url = url.query().filter(|q| !q.is_empty()).map(str::to_string);
        Ok(ContainerUrl {
            base,
            account,
            container,
            sas_in_url,
        })
    }

    /// `scheme://host[:port][/account]` without a trailing slash.
    pub fn service_url(&self) -> String {
        self.base.as_str().trim_end_matches('/').to_string()
    }

    /// The container URL without any query.
    pub fn container_url(&self) -> String {
        format!("{}/{}", self.service_url(), self.container)
    }

    /// The URL of a blob (path segments percent-encoded), with `query` appended if given.
    pub fn blob_url(&self, blob: &str, query: Option<&str>) -> Result<Url, ContainerUrlError> {
        let mut u = Url::parse(&self.container_url())
            .map_err(|_| ContainerUrlError::NotAUrl(self.container_url()))?;
        if let Ok(mut segs) = u.path_segments_mut() {
            for part in blob.split('/') {
                segs.push(part);
            }
        }
        u.set_query(query);
        Ok(u)
    }

    /// The container URL with `query` appended if given.
    pub fn container_url_with(&self, query: Option<&str>) -> Result<Url, ContainerUrlError> {
        let mut u = Url::parse(&self.container_url())
            .map_err(|_| ContainerUrlError::NotAUrl(self.container_url()))?;
        u.set_query(query);
        Ok(u)
    }

    pub fn is_emulator(&self) -> bool {
        self.base.host_str().is_some_and(is_loopback)
    }
}

impl fmt::Display for ContainerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.container_url())
    }
}

impl fmt::Debug for ContainerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ContainerUrl({}{})",
            self.container_url(),
            if self.sas_in_url.is_some() {
                "?<SAS redacted>"
            } else {
                ""
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_host_and_emulator_forms() {
        let c = ContainerUrl::parse("https://acct.blob.core.windows.net/migr?sv=x&sig=secret")
            .expect("parse");
        assert_eq!((c.account.as_str(), c.container.as_str()), ("acct", "migr"));
        assert_eq!(c.container_url(), "https://acct.blob.core.windows.net/migr");
        assert_eq!(c.sas_in_url.as_deref(), Some("sv=x&sig=secret"));
        assert!(!format!("{c:?}").contains("secret"));
        let e = ContainerUrl::parse("http://127.0.0.1:10000/devstoreaccount1/migr").expect("parse");
        assert_eq!(
            (e.account.as_str(), e.container.as_str()),
            ("devstoreaccount1", "migr")
        );
        assert_eq!(e.service_url(), "http://127.0.0.1:10000/devstoreaccount1");
        let b = e
            .blob_url("Sales DB/log 1.trn", Some("sv=1"))
            .expect("blob url");
        assert_eq!(
            b.as_str(),
            "http://127.0.0.1:10000/devstoreaccount1/migr/Sales%20DB/log%201.trn?sv=1"
        );
    }

    #[test]
    fn refuses_bad_urls_without_echoing_sas() {
        assert!(matches!(
            ContainerUrl::parse("http://acct.blob.core.windows.net/c"),
            Err(ContainerUrlError::Scheme(_))
        ));
        assert!(matches!(
            ContainerUrl::parse("https://acct.blob.core.windows.net/"),
            Err(ContainerUrlError::NoContainer(_))
        ));
        assert!(matches!(
            ContainerUrl::parse("https://acct.blob.core.windows.net/c/db/x.bak"),
            Err(ContainerUrlError::HasBlobPath(..))
        ));
        let e = ContainerUrl::parse("ftp://x/y?sig=topsecret").expect_err("bad");
        assert!(!e.to_string().contains("topsecret"));
        assert!(matches!(
            ContainerUrl::parse("not a url"),
            Err(ContainerUrlError::NotAUrl(_))
        ));
    }
}
