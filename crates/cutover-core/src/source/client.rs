//! A connection to the source SQL Server: connect (TLS by default, plain TDS for loopback test servers,
//! named instances through the SQL Server Browser), then the inspection queries.

use std::time::Duration;

use tiberius::{AuthMethod, Client, Config, EncryptionLevel, SqlBrowser};
use tokio::net::TcpStream;
use tokio_util::compat::{Compat, TokioAsyncWriteCompatExt};

use super::error::{SourceError, server_error_fix};
use super::options::{Encryption, SourceAuth, SourceOptions};
use super::queries::{
    BACKUP_HISTORY, DATABASES, HistoryEntry, MEMORY_OPTIMIZED_FILEGROUPS, SERVER_INFO,
    SERVER_UTC_OFFSET, ServerInfo, SourceDatabase, source_database_from_row, utc_offset_from_row,
};
use super::quote::quote_ident;
use super::tls::TlsProblem;
use super::tls_probe;

/// An open, logged-in connection.
pub struct SourceClient {
    client: Client<Compat<TcpStream>>,
    label: String,
    /// The longest wait for one answer (named when it runs out).
    command_timeout: Duration,
}

impl std::fmt::Debug for SourceClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceClient")
            .field("server", &self.label)
            .finish()
    }
}

/// `token`: the Entra access token fetched for [`SourceAuth::Entra`] (unused otherwise).
fn tiberius_config(opts: &SourceOptions, command_timeout: Duration, token: &str) -> Config {
    let mut config = Config::new();
    config.host(&opts.server.host);
    if let Some(instance) = &opts.server.instance {
        config.instance_name(instance);
        // With an instance name, the port is the SQL Browser's unless one was given.
        config.port(opts.server.port.unwrap_or(opts.browser_port));
    } else {
        config.port(
            opts.server
                .port
                .unwrap_or(super::ServerAddress::DEFAULT_PORT),
        );
    }
    config.database(&opts.database);
    config.application_name("cutover");
    match opts.encryption {
        Encryption::Plaintext => config.encryption(EncryptionLevel::NotSupported),
        Encryption::Tls {
            trust_server_certificate,
        } => {
            config.encryption(EncryptionLevel::Required);
            // One or the other: tiberius refuses (panics on) both at once.
            if trust_server_certificate {
                config.trust_cert();
            } else if let Some(ca) = &opts.ca_file {
                config.trust_cert_ca_bundle(ca.pem().to_vec());
            }
        }
    }
    match &opts.auth {
        SourceAuth::SqlLogin { user, password } => {
            config.authentication(AuthMethod::sql_server(user, password.secret()));
        }
        SourceAuth::AadToken(token) => {
            config.authentication(AuthMethod::aad_token(token.secret()));
        }
        SourceAuth::Entra(_) => config.authentication(AuthMethod::aad_token(token)),
    }
    config.handshake_timeout(Some(opts.connect_timeout));
    config.command_timeout(Some(command_timeout));
    config
}

/// An access token for Azure SQL from `credential`, within `wait`.
async fn entra_token(
    credential: &dyn azure_core::credentials::TokenCredential,
    wait: Duration,
) -> Result<azure_core::credentials::Secret, String> {
    match tokio::time::timeout(
        wait,
        credential.get_token(&[super::options::AZURE_SQL_SCOPE], None),
    )
    .await
    {
        Ok(Ok(t)) => Ok(t.token),
        Ok(Err(e)) => Err(format!(
            "cannot get a Microsoft Entra token for Azure SQL: {e}; sign in (az login) or check the credential ([target] credential)"
        )),
        Err(_) => Err(format!(
            "no Microsoft Entra token for Azure SQL within {} s; check the credential ([target] credential) and the network to Entra ID",
            wait.as_secs()
        )),
    }
}

/// Maps a tiberius error to what the operator should read; `waited` is the timeout that applied.
pub(crate) fn map_error(
    label: &str,
    login: &str,
    waited: Duration,
    e: tiberius::error::Error,
) -> SourceError {
    use tiberius::error::{Error, IoErrorKind};
    match e {
        Error::Server(t) if t.code() == 18456 || t.code() == 18452 || t.code() == 4060 => {
            SourceError::LoginFailed {
                server: label.to_string(),
                login: login.to_string(),
                message: t.message().to_string(),
            }
        }
        Error::Server(t) => SourceError::Server {
            server: label.to_string(),
            number: t.code(),
            message: t.message().to_string(),
            fix: server_error_fix(t.code()),
        },
        Error::Tls(d) => SourceError::Tls {
            server: label.to_string(),
            problem: TlsProblem::from_library(&d),
        },
        Error::Protocol(m) if m.contains("does not allow the requested encryption level") => {
            SourceError::EncryptionNotOffered {
                server: label.to_string(),
            }
        }
        Error::Io {
            kind: IoErrorKind::TimedOut,
            ..
        } => SourceError::Timeout {
            server: label.to_string(),
            step: "waiting for the server's answer",
            after: waited,
        },
        Error::Io { message, .. } if message.contains("CA source") => SourceError::Tls {
            server: label.to_string(),
            problem: TlsProblem::Other { detail: message },
        },
        Error::Io { message, .. } => SourceError::Io {
            server: label.to_string(),
            detail: message,
        },
        Error::Routing { host, port } => SourceError::Unexpected {
            server: label.to_string(),
            what: "login",
            detail: format!("the server redirects to {host},{port}; connect there directly"),
        },
        other => SourceError::Protocol {
            server: label.to_string(),
            detail: other.to_string(),
        },
    }
}

async fn open_tcp(
    opts: &SourceOptions,
    config: &Config,
    label: &str,
) -> Result<TcpStream, SourceError> {
    let timeout = opts.connect_timeout;
    if let Some(instance) = &opts.server.instance {
        let port = opts.server.port.unwrap_or(opts.browser_port);
        return match tokio::time::timeout(timeout, TcpStream::connect_named(config)).await {
            Err(_) => Err(SourceError::Timeout {
                server: label.to_string(),
                step: "asking the SQL Server Browser and connecting",
                after: timeout,
            }),
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => Err(SourceError::Browser {
                server: opts.server.host.clone(),
                instance: instance.clone(),
                port,
                detail: e.to_string(),
            }),
        };
    }
    let port = opts
        .server
        .port
        .unwrap_or(super::ServerAddress::DEFAULT_PORT);
    let host = opts
        .server
        .host
        .trim_start_matches('[')
        .trim_end_matches(']');
    let addrs: Vec<std::net::SocketAddr> =
        match tokio::time::timeout(timeout, tokio::net::lookup_host((host, port))).await {
            Err(_) => {
                return Err(SourceError::Timeout {
                    server: label.to_string(),
                    step: "resolving the host name",
                    after: timeout,
                });
            }
            Ok(Err(e)) => {
                return Err(SourceError::Resolve {
                    server: label.to_string(),
                    detail: e.to_string(),
                });
            }
            Ok(Ok(a)) => a.collect(),
        };
    if opts.encryption == Encryption::Plaintext && !addrs.iter().all(|a| a.ip().is_loopback()) {
        return Err(SourceError::PlaintextNotLoopback {
            server: label.to_string(),
        });
    }
    let mut last = None;
    for addr in &addrs {
        match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Err(_) => {
                return Err(SourceError::Timeout {
                    server: label.to_string(),
                    step: "opening the TCP connection",
                    after: timeout,
                });
            }
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Ok(Err(e)) => last = Some((addr.to_string(), e)),
        }
    }
    let (addr, detail) = match last {
        Some((a, e)) => (a, e.to_string()),
        None => (format!("{host}:{port}"), "no address".to_string()),
    };
    Err(SourceError::Connect {
        server: label.to_string(),
        addr,
        port,
        detail,
    })
}

/// An unknown issuer, or a self-signed certificate: told apart by looking at the certificate the
/// server presents on one more connection (never trusted, nothing sent over it).
async fn unknown_issuer_or_self_signed(
    opts: &SourceOptions,
    config: &Config,
    label: &str,
) -> TlsProblem {
    let Ok(tcp) = open_tcp(opts, config, label).await else {
        return TlsProblem::UnknownCa;
    };
    match tls_probe::presented_certificate(tcp, &opts.server.host, opts.connect_timeout).await {
        Some(der) if tls_probe::is_self_signed(&der) => TlsProblem::SelfSignedUntrusted,
        _ => TlsProblem::UnknownCa,
    }
}

impl SourceClient {
    /// Connects and logs in, with the ordinary command timeout.
    pub async fn connect(opts: &SourceOptions) -> Result<SourceClient, SourceError> {
        Self::connect_with_timeout(opts, opts.command_timeout).await
    }

    /// Connects with a given per-answer timeout (BACKUP uses `opts.backup_timeout`).
    pub async fn connect_with_timeout(
        opts: &SourceOptions,
        command_timeout: Duration,
    ) -> Result<SourceClient, SourceError> {
        let label = opts.server.to_string();
        // Host names are checked again after resolution (in `open_tcp`): a name may point at loopback.
        if opts.encryption == Encryption::Plaintext
            && opts.server.instance.is_some()
            && !opts.server.is_loopback()
        {
            return Err(SourceError::PlaintextNotLoopback { server: label });
        }
        let login = opts.auth.login_name().to_string();
        let token = match &opts.auth {
            SourceAuth::Entra(credential) => Some(
                entra_token(credential.as_ref(), opts.connect_timeout)
                    .await
                    .map_err(|message| SourceError::EntraToken {
                        server: label.clone(),
                        message,
                    })?,
            ),
            _ => None,
        };
        let config = tiberius_config(
            opts,
            command_timeout,
            token.as_ref().map_or("", |t| t.secret()),
        );
        drop(token);
        let tcp = open_tcp(opts, &config, &label).await?;
        match tokio::time::timeout(
            opts.connect_timeout,
            Client::connect(config.clone(), tcp.compat_write()),
        )
        .await
        {
            Err(_) => Err(SourceError::Timeout {
                server: label,
                step: "logging in (TDS pre-login, TLS and login)",
                after: opts.connect_timeout,
            }),
            Ok(Err(e)) => Err(match map_error(&label, &login, opts.connect_timeout, e) {
                SourceError::Timeout { server, .. } => SourceError::Timeout {
                    server,
                    step: "logging in (TDS pre-login, TLS and login)",
                    after: opts.connect_timeout,
                },
                SourceError::Tls {
                    server,
                    problem: TlsProblem::UnknownCa,
                } => SourceError::Tls {
                    problem: unknown_issuer_or_self_signed(opts, &config, &server).await,
                    server,
                },
                SourceError::LoginFailed {
                    server, message, ..
                } if matches!(opts.auth, SourceAuth::Entra(_)) => SourceError::EntraToken {
                    server,
                    message: format!(
                        "the server refused the token's principal ({message}); it needs a login there (CREATE LOGIN [name] FROM EXTERNAL PROVIDER) or to be the instance's Microsoft Entra administrator"
                    ),
                },
                other => other,
            }),
            Ok(Ok(client)) => Ok(SourceClient {
                client,
                label,
                command_timeout,
            }),
        }
    }

    /// The server as the operator wrote it (for messages).
    pub fn label(&self) -> &str {
        &self.label
    }

    fn err(&self, e: tiberius::error::Error) -> SourceError {
        map_error(&self.label, "", self.command_timeout, e)
    }

    pub(crate) async fn rows(
        &mut self,
        sql: &str,
        params: &[&dyn tiberius::ToSql],
    ) -> Result<Vec<tiberius::Row>, SourceError> {
        let (label, waited) = (&self.label, self.command_timeout);
        let stream = if params.is_empty() {
            self.client.simple_query(sql).await
        } else {
            self.client.query(sql, params).await
        };
        let stream = stream.map_err(|e| map_error(label, "", waited, e))?;
        stream
            .into_first_result()
            .await
            .map_err(|e| map_error(label, "", waited, e))
    }

    /// Runs a statement that returns no rows (ALTER DATABASE, BACKUP).
    pub(crate) async fn execute(
        &mut self,
        sql: &str,
        params: &[&dyn tiberius::ToSql],
    ) -> Result<(), SourceError> {
        let r = if params.is_empty() {
            match self.client.simple_query(sql).await {
                Ok(s) => s.into_results().await.map(|_| ()),
                Err(e) => Err(e),
            }
        } else {
            self.client.execute(sql, params).await.map(|_| ())
        };
        r.map_err(|e| self.err(e))
    }

    /// Runs a statement without result rows, its string parameters bound as @P1, @P2... (never
    /// spliced into the text).
    pub async fn execute_params(&mut self, sql: &str, params: &[&str]) -> Result<(), SourceError> {
        let p: Vec<&dyn tiberius::ToSql> =
            params.iter().map(|s| s as &dyn tiberius::ToSql).collect();
        self.execute(sql, &p).await
    }

    /// Version, edition, and whether the login is sysadmin.
    pub async fn server_info(&mut self) -> Result<ServerInfo, SourceError> {
        let rows = self.rows(SERVER_INFO, &[]).await?;
        let row = rows.first().ok_or_else(|| SourceError::Unexpected {
            server: self.label.clone(),
            what: "the server-information query",
            detail: "no row".into(),
        })?;
        ServerInfo::from_row(row).map_err(|e| SourceError::Unexpected {
            server: self.label.clone(),
            what: "the server-information query",
            detail: e.to_string(),
        })
    }

    /// User databases (database_id > 4), with In-Memory OLTP filegroups looked up where FILESTREAM-type
    /// files exist.
    pub async fn databases(&mut self) -> Result<Vec<SourceDatabase>, SourceError> {
        let rows = self.rows(DATABASES, &[]).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(
                source_database_from_row(row).map_err(|e| SourceError::Unexpected {
                    server: self.label.clone(),
                    what: "the databases query",
                    detail: e.to_string(),
                })?,
            );
        }
        for db in out.iter_mut() {
            if db.filestream_files > 0 && db.state == "ONLINE" {
                let sql = MEMORY_OPTIMIZED_FILEGROUPS.replace("{db}", &quote_ident(&db.name));
                let rows = self.rows(&sql, &[]).await?;
                db.memory_optimized_filegroups = rows
                    .first()
                    .and_then(|r| r.try_get::<i32, _>(0).ok().flatten())
                    .unwrap_or(0);
            }
        }
        Ok(out)
    }

    /// The server's offset from UTC in minutes (local time minus UTC): what turns the backups'
    /// start times (server local time) into UTC.
    pub async fn utc_offset_minutes(&mut self) -> Result<i32, SourceError> {
        let rows = self.rows(SERVER_UTC_OFFSET, &[]).await?;
        let unexpected = |detail: String| SourceError::Unexpected {
            server: self.label.clone(),
            what: "the time zone query",
            detail,
        };
        let row = rows.first().ok_or_else(|| unexpected("no row".into()))?;
        utc_offset_from_row(row).map_err(|e| unexpected(e.to_string()))
    }

    /// msdb's backup history of one database, oldest first (one entry per stripe).
    pub async fn backup_history(
        &mut self,
        database: &str,
    ) -> Result<Vec<HistoryEntry>, SourceError> {
        let rows = self.rows(BACKUP_HISTORY, &[&database]).await?;
        rows.iter()
            .map(|r| {
                HistoryEntry::from_row(r).map_err(|e| SourceError::Unexpected {
                    server: self.label.clone(),
                    what: "the backup history query",
                    detail: e.to_string(),
                })
            })
            .collect()
    }

    /// Closes the connection politely.
    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}
