//! The server address forms DBAs type: `HOST`, `HOST,PORT` (SQL Server's own form), `HOST\INSTANCE`
//! (port found by the SQL Server Browser), `tcp:HOST,PORT`, and `.`/`(local)`/`localhost`.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// Where the source SQL Server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerAddress {
    pub host: String,
    /// TCP port; `None` = 1433, or the SQL Browser's answer for a named instance.
    pub port: Option<u16>,
    /// Named instance (`HOST\INSTANCE`).
    pub instance: Option<String>,
}

impl ServerAddress {
    /// The TCP port used when none is given and no instance name asks the SQL Browser.
    pub const DEFAULT_PORT: u16 = 1433;

    /// True when the host is a loopback name or address (127.0.0.0/8, ::1, localhost). Plain-text TDS is
    /// only allowed there.
    pub fn is_loopback(&self) -> bool {
        let h = self.host.trim_start_matches('[').trim_end_matches(']');
        if h.eq_ignore_ascii_case("localhost") {
            return true;
        }
        h.parse::<IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
    }
}

impl fmt::Display for ServerAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.host)?;
        if let Some(i) = &self.instance {
            write!(f, "\\{i}")?;
        }
        if let Some(p) = self.port {
            write!(f, ",{p}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "server address {input:?}: {reason}; write HOST, HOST,PORT (e.g. sql01,1433) or HOST\\INSTANCE"
)]
pub struct AddressError {
    pub input: String,
    pub reason: String,
}

impl FromStr for ServerAddress {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| AddressError {
            input: s.to_string(),
            reason: reason.to_string(),
        };
        let mut t = s.trim();
        if let Some(rest) = t.strip_prefix("tcp:").or_else(|| t.strip_prefix("TCP:")) {
            t = rest;
        }
        if t.is_empty() {
            return Err(err("it is empty"));
        }
        let (rest, port) = match t.rsplit_once(',') {
            Some((h, p)) => {
                let p = p.trim();
                let port: u16 = p
                    .parse()
                    .map_err(|_| err(&format!("port {p:?} is not a number from 1 to 65535")))?;
                if port == 0 {
                    return Err(err("port 0 is not a valid port"));
                }
                (h.trim(), Some(port))
            }
            None => (t, None),
        };
        let (host, instance) = match rest.split_once('\\') {
            Some((h, i)) => {
                let i = i.trim();
                if i.is_empty() || i.contains('\\') {
                    return Err(err(
                        "the instance name after '\\' is empty or has another '\\'",
                    ));
                }
                (h.trim(), Some(i.to_string()))
            }
            None => (rest, None),
        };
        if host.is_empty() {
            return Err(err("the host name is empty"));
        }
        if host.chars().any(|c| c.is_whitespace() || c == '/') {
            return Err(err("the host name has a space or '/'"));
        }
        let host = match host {
            "." | "(local)" | "(LOCAL)" => "localhost".to_string(),
            h => h.to_string(),
        };
        Ok(ServerAddress {
            host,
            port,
            instance,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> ServerAddress {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn forms() {
        assert_eq!(
            parse("sql01"),
            ServerAddress {
                host: "sql01".into(),
                port: None,
                instance: None
            }
        );
        assert_eq!(parse("sql01,14330").port, Some(14330));
        assert_eq!(parse("tcp:10.0.0.5, 1433").host, "10.0.0.5");
        let named = parse(r"SQLPROD01\FINANCE");
        assert_eq!(named.host, "SQLPROD01");
        assert_eq!(named.instance.as_deref(), Some("FINANCE"));
        assert_eq!(parse(r".\SQLEXPRESS").host, "localhost");
        assert_eq!(parse("127.0.0.1,50000").to_string(), "127.0.0.1,50000");
        assert_eq!(parse(r"h\i,5").to_string(), r"h\i,5");
    }

    #[test]
    fn refused_forms_name_the_problem() {
        for (input, reason) in [
            ("", "empty"),
            ("sql01,abc", "not a number"),
            ("sql01,0", "port 0"),
            ("sql01,70000", "not a number"),
            (r"sql01\", "instance name"),
            (",1433", "host name is empty"),
            ("my host", "space"),
        ] {
            let e = input.parse::<ServerAddress>().expect_err(input);
            assert!(e.to_string().contains(reason), "{input}: {e}");
            assert!(e.to_string().contains("HOST,PORT"), "{e}");
        }
    }

    #[test]
    fn loopback() {
        assert!(parse("127.0.0.1,5").is_loopback());
        assert!(parse("127.8.9.1").is_loopback());
        assert!(parse("localhost").is_loopback());
        assert!(parse("[::1]").is_loopback());
        assert!(parse(".").is_loopback());
        assert!(!parse("10.0.0.1").is_loopback());
        assert!(!parse("sql01").is_loopback());
        assert!(!parse("127.0.0.1.example.com").is_loopback());
    }
}
