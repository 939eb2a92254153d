//! Where an SMB backup folder is: `\\server\share\path` (the Windows form DMS asks for) or
//! `smb://server[:port]/share/path`, parsed into [`SmbAddress`], and the user `DOMAIN\user`
//! (or `user@domain`) into [`SmbUser`]. Both forms become one canonical path,
//! `smb://server[:port]/share/path`, which is how the catalog, the uploader and the state name the
//! files of a share (the `BackupFolder` paths), so a message names the server and the share.

use std::fmt;
use std::path::{Path, PathBuf};

/// The SMB port (445) unless the address says otherwise.
pub const DEFAULT_PORT: u16 = 445;

/// A folder on an SMB share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmbAddress {
    pub host: String,
    pub port: u16,
    pub share: String,
    /// The folder inside the share, `/`-separated, without leading or trailing `/` ("" = the
    /// share's root).
    pub path: String,
}

/// `true` when `s` is written as a share (`\\server\share...`, `//server/share...` or `smb://...`)
/// rather than a local folder.
pub fn is_share(s: &str) -> bool {
    s.starts_with(r"\\") || s.starts_with("//") || s.to_ascii_lowercase().starts_with("smb://")
}

impl SmbAddress {
    /// Parses `\\server\share\path`, `//server/share/path` or `smb://server[:port]/share/path`.
    pub fn parse(s: &str) -> Result<SmbAddress, String> {
        let rest = if s.to_ascii_lowercase().starts_with("smb://") {
            &s[6..]
        } else if let Some(r) = s.strip_prefix(r"\\").or_else(|| s.strip_prefix("//")) {
            r
        } else {
            return Err(format!(
                "{s}: not a share; write it as \\\\server\\share\\folder or smb://server[:port]/share/folder"
            ));
        };
        let rest = rest.replace('\\', "/");
        let mut parts = rest.split('/').filter(|p| !p.is_empty());
        let server = parts.next().ok_or_else(|| {
            format!("{s}: the server is missing; write \\\\server\\share\\folder")
        })?;
        let (host, port) = split_port(server).map_err(|e| format!("{s}: {e}"))?;
        let share = parts.next().ok_or_else(|| {
            format!(
                "{s}: the share name is missing after the server; write \\\\{host}\\share\\folder"
            )
        })?;
        let path: Vec<&str> = parts.collect();
        if path.iter().any(|p| *p == "." || *p == "..") {
            return Err(format!(
                "{s}: `.` and `..` are not allowed in a share path; give the folder itself"
            ));
        }
        Ok(SmbAddress {
            host: host.to_string(),
            port,
            share: share.to_string(),
            path: path.join("/"),
        })
    }

    /// The canonical path of the share's root: `smb://host[:port]/share`.
    pub fn share_root(&self) -> PathBuf {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == DEFAULT_PORT {
            PathBuf::from(format!("smb://{host}/{}", self.share))
        } else {
            PathBuf::from(format!("smb://{host}:{}/{}", self.port, self.share))
        }
    }

    /// The canonical path of the folder: `smb://host[:port]/share/path`.
    pub fn to_path(&self) -> PathBuf {
        if self.path.is_empty() {
            self.share_root()
        } else {
            self.share_root().join(&self.path)
        }
    }

    /// `host:port` to connect to.
    pub fn socket_addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The path inside the share of `p`, a canonical path below this share's root (`None` when
    /// `p` is on another server or share).
    pub fn inside(&self, p: &Path) -> Option<String> {
        let rel = p.strip_prefix(self.share_root()).ok()?;
        let parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        Some(parts.join("/"))
    }
}

impl fmt::Display for SmbAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_path().display())
    }
}

fn split_port(server: &str) -> Result<(&str, u16), String> {
    // [v6]:port, v6 alone, host:port, host.
    if let Some(rest) = server.strip_prefix('[') {
        let (h, after) = rest
            .split_once(']')
            .ok_or("an IPv6 address must be closed with ]")?;
        return match after.strip_prefix(':') {
            Some(p) => Ok((h, parse_port(p)?)),
            None if after.is_empty() => Ok((h, DEFAULT_PORT)),
            None => Err(format!("unexpected {after:?} after the address")),
        };
    }
    match server.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => Ok((h, parse_port(p)?)),
        _ => Ok((server, DEFAULT_PORT)),
    }
}

fn parse_port(p: &str) -> Result<u16, String> {
    match p.parse::<u16>() {
        Ok(0) | Err(_) => Err(format!("port {p:?} is not a port number (1-65535)")),
        Ok(n) => Ok(n),
    }
}

/// The account that reads the share.
#[derive(Clone, PartialEq, Eq)]
pub struct SmbUser {
    /// The domain (or the storage account's `AZURE`; "" = the server's own accounts).
    pub domain: String,
    pub user: String,
}

impl fmt::Debug for SmbUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for SmbUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.domain.is_empty() {
            write!(f, "{}", self.user)
        } else {
            write!(f, "{}\\{}", self.domain, self.user)
        }
    }
}

impl SmbUser {
    /// `DOMAIN\user`, `DOMAIN/user`, `user@domain` or `user`.
    pub fn parse(s: &str) -> Result<SmbUser, String> {
        let s = s.trim();
        let (domain, user) = if let Some((d, u)) = s.split_once(['\\', '/']) {
            (d, u)
        } else if let Some((u, d)) = s.rsplit_once('@') {
            (d, u)
        } else {
            ("", s)
        };
        if user.is_empty() {
            return Err(format!(
                "--smb-user {s:?}: the user name is missing; write DOMAIN\\user (or AZURE\\<storage account> for an Azure file share)"
            ));
        }
        Ok(SmbUser {
            domain: domain.to_string(),
            user: user.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_give_the_same_canonical_path() {
        let a = SmbAddress::parse(r"\\fs01.corp.example\backups\SQL01\db1").unwrap();
        let b = SmbAddress::parse("smb://fs01.corp.example/backups/SQL01/db1/").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.port, 445);
        assert_eq!(a.share, "backups");
        assert_eq!(a.path, "SQL01/db1");
        assert_eq!(
            a.to_path(),
            PathBuf::from("smb://fs01.corp.example/backups/SQL01/db1")
        );
        let c = SmbAddress::parse("smb://127.0.0.1:4445/backups").unwrap();
        assert_eq!((c.port, c.path.as_str()), (4445, ""));
        assert_eq!(c.to_path(), PathBuf::from("smb://127.0.0.1:4445/backups"));
        assert_eq!(c.socket_addr(), "127.0.0.1:4445");
        let v6 = SmbAddress::parse("smb://[::1]:4445/s/x").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 4445));
        assert_eq!(v6.socket_addr(), "[::1]:4445");
    }

    #[test]
    fn paths_below_the_share_are_found_again() {
        let a = SmbAddress::parse("smb://h:4445/backups/db1").unwrap();
        let f = a.to_path().join("LOG").join("x.trn");
        assert_eq!(a.inside(&f).unwrap(), "db1/LOG/x.trn");
        assert_eq!(a.inside(&a.share_root()).unwrap(), "");
        assert!(a.inside(Path::new("smb://h:4445/other/x")).is_none());
        assert!(a.inside(Path::new("/tmp/x")).is_none());
    }

    #[test]
    fn bad_addresses_say_what_is_missing() {
        assert!(
            SmbAddress::parse(r"\\server")
                .unwrap_err()
                .contains("share name is missing")
        );
        assert!(
            SmbAddress::parse("smb://")
                .unwrap_err()
                .contains("server is missing")
        );
        assert!(
            SmbAddress::parse("smb://h:0/s")
                .unwrap_err()
                .contains("port")
        );
        assert!(
            SmbAddress::parse("smb://h:x/s")
                .unwrap_err()
                .contains("port")
        );
        assert!(
            SmbAddress::parse("/local/folder")
                .unwrap_err()
                .contains("not a share")
        );
        assert!(SmbAddress::parse(r"\\h\s\..\t").unwrap_err().contains(".."));
        assert!(is_share(r"\\h\s") && is_share("SMB://h/s") && !is_share("/mnt/x"));
    }

    #[test]
    fn users_with_and_without_a_domain() {
        let u = SmbUser::parse(r"CORP\svc_backup").unwrap();
        assert_eq!((u.domain.as_str(), u.user.as_str()), ("CORP", "svc_backup"));
        let u = SmbUser::parse("svc@corp.example").unwrap();
        assert_eq!(
            (u.domain.as_str(), u.user.as_str()),
            ("corp.example", "svc")
        );
        let u = SmbUser::parse(r"AZURE\mystorage").unwrap();
        assert_eq!(u.to_string(), r"AZURE\mystorage");
        assert_eq!(SmbUser::parse("alice").unwrap().domain, "");
        assert!(SmbUser::parse(r"CORP\").is_err());
    }
}
