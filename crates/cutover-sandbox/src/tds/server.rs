//! The TDS listener: an accept loop on 127.0.0.1 and one tokio task per connection.
//!
//! A connection goes PRELOGIN -> LOGIN7 -> requests. A reader task turns packets into messages, so
//! that an ATTENTION can cancel a running statement. Whatever a client sends, the worst outcome is
//! that its own connection closes: nothing here panics on input or stops the accept loop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::protocol::{
    self, Message, MessageAssembler, PacketHeader, PacketType, ProtocolError, RequestKind,
};
use super::{Request, Session, SqlBackend};

/// Largest request message accepted (a batch or RPC with its parameters).
const MAX_MESSAGE: usize = 64 * 1024 * 1024;
/// SQL Server's "The incoming tabular data stream (TDS) protocol stream is incorrect."
const ERR_PROTOCOL: u32 = 4002;
/// "Could not find stored procedure" / unsupported requests.
const ERR_UNSUPPORTED: u32 = 2812;

/// A TDS 7.4 server bound to 127.0.0.1, answering with a [`SqlBackend`].
pub struct TdsServer {
    listener: TcpListener,
    addr: SocketAddr,
    backend: Arc<dyn SqlBackend>,
}

impl TdsServer {
    /// Binds 127.0.0.1 on a free port.
    pub async fn bind(backend: Arc<dyn SqlBackend>) -> std::io::Result<TdsServer> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        Ok(TdsServer {
            listener,
            addr,
            backend,
        })
    }

    /// The address clients connect to.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Accepts connections until the task is dropped; each one runs in its own task.
    pub async fn serve(self) {
        tracing::info!(addr = %self.addr, "TDS server listening");
        loop {
            match self.listener.accept().await {
                Ok((stream, peer)) => {
                    let backend = self.backend.clone();
                    tokio::spawn(async move {
                        match Connection::start(stream, backend).run().await {
                            Ok(()) => tracing::debug!(%peer, "TDS connection closed"),
                            Err(e) => tracing::info!(%peer, error = %e, "TDS connection closed"),
                        }
                    });
                }
                Err(e) => {
                    // E.g. out of file descriptors: back off instead of spinning.
                    tracing::warn!(error = %e, "TDS accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
}

/// Why a connection ended early.
#[derive(Debug, thiserror::Error)]
enum ConnError {
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("protocol: {0}")]
    Protocol(#[from] ProtocolError),
    #[error("{0}")]
    Refused(String),
}

/// What the reader task hands over: a message, or why the stream cannot go on.
type Incoming = Result<Message, ProtocolError>;

/// One client connection.
struct Connection {
    rx: mpsc::Receiver<Incoming>,
    writer: OwnedWriteHalf,
    reader: tokio::task::JoinHandle<()>,
    backend: Arc<dyn SqlBackend>,
    packet_size: u32,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Connection {
    fn start(stream: TcpStream, backend: Arc<dyn SqlBackend>) -> Connection {
        let _ = stream.set_nodelay(true);
        let (read, writer) = stream.into_split();
        let (tx, rx) = mpsc::channel(2);
        let reader = tokio::spawn(read_messages(read, tx));
        Connection {
            rx,
            writer,
            reader,
            backend,
            packet_size: protocol::DEFAULT_PACKET_SIZE,
        }
    }

    async fn run(mut self) -> Result<(), ConnError> {
        let Some(mut session) = self.handshake().await? else {
            return Ok(());
        };
        while let Some(incoming) = self.rx.recv().await {
            let msg = match incoming {
                Ok(msg) => msg,
                Err(e) => return self.fail(e).await,
            };
            match msg.ty {
                PacketType::SqlBatch => match protocol::parse_sql_batch(&msg.payload) {
                    Ok(sql) => {
                        let request = Request {
                            sql,
                            params: Vec::new(),
                        };
                        self.execute(&mut session, request, RequestKind::Batch)
                            .await?;
                    }
                    Err(e) => return self.fail(e).await,
                },
                PacketType::Rpc => match protocol::parse_rpc(&msg.payload) {
                    Ok(request) => {
                        self.execute(&mut session, request, RequestKind::Rpc)
                            .await?
                    }
                    Err(ProtocolError::Unsupported(why)) => self.unsupported(&why).await?,
                    Err(e) => return self.fail(e).await,
                },
                PacketType::Attention => self.send(&protocol::encode_attention_ack()).await?,
                PacketType::TransactionManager | PacketType::BulkLoad => {
                    let why = format!("{:?} requests are not supported by this server.", msg.ty);
                    self.unsupported(&why).await?;
                }
                other => {
                    let e = ProtocolError::Malformed(format!("a {other:?} message after login"));
                    return self.fail(e).await;
                }
            }
        }
        Ok(())
    }

    /// PRELOGIN and LOGIN7; `None` when the client left or the login was refused.
    async fn handshake(&mut self) -> Result<Option<Session>, ConnError> {
        let Some(prelogin) = self.next_message(PacketType::PreLogin).await? else {
            return Ok(None);
        };
        let request = match protocol::parse_prelogin(&prelogin.payload) {
            Ok(p) => p,
            Err(e) => return self.fail(e).await.map(|()| None),
        };
        if matches!(
            request.encryption,
            Some(protocol::ENCRYPT_ON | protocol::ENCRYPT_REQ)
        ) {
            tracing::info!("client asked for TLS; this server has none (ENCRYPT_NOT_SUP)");
        }
        let fed_auth_required = request.fed_auth_required == Some(true);
        let reply = protocol::encode_prelogin_reply_fedauth(
            protocol::SERVER_VERSION,
            protocol::ENCRYPT_NOT_SUP,
            fed_auth_required,
        );
        self.send_as(PacketType::TabularResult, &reply).await?;

        let Some(login) = self.next_message(PacketType::Login7).await? else {
            return Ok(None);
        };
        let login = match protocol::parse_login7(&login.payload) {
            Ok(l) => l,
            Err(e) => return self.fail(e).await.map(|()| None),
        };
        let server = self.backend.server_name();
        let result = if login.sspi {
            Err("integrated authentication is not supported".to_string())
        } else if let Some(fed) = &login.fed_auth {
            if fed.echo != fed_auth_required {
                Err("FEDAUTH's echo does not match the PRELOGIN's FEDAUTHREQUIRED".to_string())
            } else {
                self.backend
                    .login_token(&fed.token, &login.database)
                    .map_err(|e| e.message)
            }
        } else {
            self.backend
                .login(&login.user, &login.password, &login.database)
                .map_err(|e| e.message)
        };
        match result {
            Ok(session) => {
                let granted = protocol::negotiate_packet_size(login.packet_size);
                let reply = if login.fed_auth.is_some() {
                    protocol::encode_login_success_fedauth(&session.database, granted)
                } else {
                    protocol::encode_login_success(&session.database, granted)
                };
                self.send(&reply).await?;
                self.packet_size = granted;
                tracing::debug!(user = %session.user, database = %session.database, "TDS login");
                Ok(Some(session))
            }
            Err(why) => {
                // Like SQL Server: the client learns only that the login failed; the log says why.
                tracing::info!(user = %login.user, reason = %why, "TDS login refused");
                // An Entra login names no user: the failure says whose token it was, as Azure SQL.
                let user = if login.fed_auth.is_some() {
                    "<token-identified principal>"
                } else {
                    login.user.as_str()
                };
                self.send(&protocol::encode_login_failure(user, &server))
                    .await?;
                Err(ConnError::Refused(format!(
                    "login refused for {:?}",
                    login.user
                )))
            }
        }
    }

    /// The next message, which must be of type `expected` (any other is a protocol error).
    async fn next_message(&mut self, expected: PacketType) -> Result<Option<Message>, ConnError> {
        match self.rx.recv().await {
            None => Ok(None),
            Some(Ok(msg)) if msg.ty == expected => Ok(Some(msg)),
            Some(Ok(msg)) => {
                let e = ProtocolError::Malformed(format!(
                    "a {:?} message where {expected:?} was due",
                    msg.ty
                ));
                self.fail(e).await.map(|()| None)
            }
            Some(Err(e)) => self.fail(e).await.map(|()| None),
        }
    }

    /// Runs a request; an ATTENTION arriving meanwhile cancels it (the backend future is dropped).
    async fn execute(
        &mut self,
        session: &mut Session,
        request: Request,
        kind: RequestKind,
    ) -> Result<(), ConnError> {
        let backend = self.backend.clone();
        let replies = tokio::select! {
            replies = backend.execute(session, request) => replies,
            incoming = self.rx.recv() => {
                return match incoming {
                    None => Ok(()),
                    Some(Ok(msg)) if msg.ty == PacketType::Attention => {
                        tracing::debug!("request cancelled by ATTENTION");
                        self.send(&protocol::encode_attention_ack()).await
                    }
                    Some(Ok(msg)) => {
                        let why = format!("a {:?} message while a request was running", msg.ty);
                        self.fail(ProtocolError::Malformed(why)).await
                    }
                    Some(Err(e)) => self.fail(e).await,
                };
            }
        };
        let bytes = protocol::encode_replies(&replies, kind, &backend.server_name());
        self.send(&bytes).await
    }

    /// Answers a request this server does not implement with an ERROR; the connection stays.
    async fn unsupported(&mut self, why: &str) -> Result<(), ConnError> {
        tracing::info!(reason = %why, "TDS request not supported");
        let server = self.backend.server_name();
        self.send(&protocol::encode_request_error(
            ERR_UNSUPPORTED,
            16,
            why,
            &server,
        ))
        .await
    }

    /// Answers a protocol violation with an ERROR (best effort), then ends the connection.
    async fn fail(&mut self, e: ProtocolError) -> Result<(), ConnError> {
        let server = self.backend.server_name();
        let message =
            format!("The incoming tabular data stream (TDS) protocol stream is incorrect: {e}.");
        let _ = self
            .send(&protocol::encode_request_error(
                ERR_PROTOCOL,
                16,
                &message,
                &server,
            ))
            .await;
        let _ = self.writer.shutdown().await;
        Err(ConnError::Protocol(e))
    }

    async fn send(&mut self, payload: &[u8]) -> Result<(), ConnError> {
        self.send_as(PacketType::TabularResult, payload).await
    }

    async fn send_as(&mut self, ty: PacketType, payload: &[u8]) -> Result<(), ConnError> {
        let bytes = protocol::encode_message(ty, payload, self.packet_size, 0);
        self.writer.write_all(&bytes).await?;
        Ok(())
    }
}

/// Reads packets, joins them into messages and sends them on; stops at EOF, on an I/O error or
/// after sending the first protocol error.
async fn read_messages(mut read: OwnedReadHalf, tx: mpsc::Sender<Incoming>) {
    let mut assembler = MessageAssembler::new(MAX_MESSAGE);
    loop {
        let mut header = [0u8; protocol::HEADER_LEN];
        if read.read_exact(&mut header).await.is_err() {
            return;
        }
        let header = match PacketHeader::parse(&header) {
            Ok(h) => h,
            Err(e) => {
                let _ = tx.send(Err(e)).await;
                return;
            }
        };
        let mut payload = vec![0u8; header.payload_len()];
        if read.read_exact(&mut payload).await.is_err() {
            return;
        }
        let item = match assembler.push(&header, &payload) {
            Ok(None) => continue,
            Ok(Some(msg)) => Ok(msg),
            Err(e) => Err(e),
        };
        let stop = item.is_err();
        if tx.send(item).await.is_err() || stop {
            return;
        }
    }
}
