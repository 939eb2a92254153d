//! [`SmbFolder`]: backup files read straight from an SMB share (`\\server\share\folder`, a Windows
//! file server, Samba, or an Azure file share as `AZURE\<account>` with the account key), without
//! mounting it. The client is the pure-Rust `smb2` crate (SMB 2.1/3.x, NTLMv2, signing; never
//! SMB1), chosen by measurement (README, "Backups on an SMB share").
//!
//! The `BackupFolder` seam is blocking; `smb2` is async. The folder owns a small tokio runtime of
//! its own and each call waits for its future on a std channel, so it is safe from any thread:
//! the catalog's scan threads, `spawn_blocking`, even a runtime's worker. One SMB session (signed
//! in lazily, on first use) serves everything: listings and stats take it in turn, while open
//! files read at any offset concurrently over it (`smb2`'s `FileReader`, pipelined by credits).
//! Files are opened for reading only, sharing read, write and delete, so a SQL Server writing a
//! backup on the share is never blocked; an open refused with `STATUS_SHARING_VIOLATION` (the
//! writer's handle shares nothing) is "still being written" (`io::ErrorKind::ResourceBusy`).
//!
//! Paths are canonical `smb://host[:port]/share/...` paths (`SmbAddress::to_path`).

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use smb2::{ClientConfig, SmbClient, Tree};

use super::smb_address::{SmbAddress, SmbUser};
use super::smb_error::{self, Context, SmbFailure};
use super::{BackupFile, BackupFolder, FileStat, ListError, Listing};
use crate::backup::source::ReadAt;

/// The variable read for a share's password when no other is named (`--smb-password-env`,
/// `[backups] smb_password_env`).
pub const DEFAULT_PASSWORD_ENV: &str = "CUTOVER_SMB_PASSWORD";

/// How to reach a share: where, who, and the password (read from `password_env` by the caller).
#[derive(Clone)]
pub struct SmbLogin {
    pub user: SmbUser,
    /// The variable the password came from (named in messages; the password never is).
    pub password_env: String,
    pub password: String,
}

impl std::fmt::Debug for SmbLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmbLogin")
            .field("user", &self.user)
            .field("password_env", &self.password_env)
            .finish_non_exhaustive()
    }
}

impl SmbLogin {
    /// The login with the password from the environment variable `password_env`.
    pub fn from_env(user: &str, password_env: &str) -> Result<SmbLogin, String> {
        let user = SmbUser::parse(user)?;
        let password = std::env::var(password_env)
            .ok()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                format!(
                    "the SMB password variable {password_env} is not set or empty (export it first; for an Azure file share it holds the storage account key)"
                )
            })?;
        Ok(SmbLogin {
            user,
            password_env: password_env.to_string(),
            password,
        })
    }
}

struct Session {
    client: SmbClient,
    tree: Tree,
}

/// A share's folder tree as a `BackupFolder`.
pub struct SmbFolder {
    share: SmbAddress,
    login: SmbLogin,
    rt: Option<tokio::runtime::Runtime>,
    session: Arc<tokio::sync::Mutex<Option<Session>>>,
}

impl std::fmt::Debug for SmbFolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmbFolder")
            .field("share", &self.share.share_root())
            .field("login", &self.login)
            .finish_non_exhaustive()
    }
}

impl Drop for SmbFolder {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which panics inside another runtime; this does not.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl SmbFolder {
    /// A folder on the share of `address` (its `path` is not used: every path given later names
    /// its folder). Nothing is connected yet: [`SmbFolder::connect`] or the first call signs in.
    pub fn new(address: &SmbAddress, login: SmbLogin) -> io::Result<SmbFolder> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("cutover-smb")
            .enable_all()
            .build()?;
        let mut share = address.clone();
        share.path.clear();
        Ok(SmbFolder {
            share,
            login,
            rt: Some(rt),
            session: Arc::new(tokio::sync::Mutex::new(None)),
        })
    }

    /// A shared handle, for an `EngineConfig::backups`.
    pub fn shared(self) -> Arc<dyn BackupFolder> {
        Arc::new(self)
    }

    /// Signs in and connects to the share now (the connection test): the failure says why.
    pub fn connect(&self) -> Result<(), SmbFailure> {
        let session = self.session.clone();
        let (share, login) = (self.share.clone(), self.login.clone());
        self.block_on(async move {
            let mut guard = session.lock().await;
            if guard.is_none() {
                *guard = Some(open_session(&share, &login).await?);
            }
            Ok(())
        })
        .unwrap_or_else(|e| Err(stopped(&self.share, e)))
    }

    /// Drops the session (after its connection failed under an open file): the next call signs
    /// in again.
    fn forget_session(&self) {
        let session = self.session.clone();
        let _ = self.block_on(async move {
            *session.lock().await = None;
        });
    }

    /// The share's address (server, port, share).
    pub fn address(&self) -> &SmbAddress {
        &self.share
    }

    /// `\\host\share\path` for messages.
    fn unc(&self, inside: &str) -> String {
        let mut s = format!(r"\\{}\{}", self.share.host, self.share.share);
        if !inside.is_empty() {
            s.push('\\');
            s.push_str(&inside.replace('/', "\\"));
        }
        s
    }

    fn inside(&self, path: &Path) -> io::Result<String> {
        self.share.inside(path).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{}: not on the share {} this folder reads",
                    path.display(),
                    self.share.share_root().display()
                ),
            )
        })
    }

    /// Runs `fut` on the folder's runtime and waits for it on this thread.
    fn block_on<T: Send + 'static>(
        &self,
        fut: impl Future<Output = T> + Send + 'static,
    ) -> io::Result<T> {
        let rt = self
            .rt
            .as_ref()
            .ok_or_else(|| io::Error::other("the SMB client was stopped"))?;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        rt.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv()
            .map_err(|_| io::Error::other("the SMB client stopped before answering"))
    }

    /// Runs `op` with the signed-in session (signing in first when needed). A lost connection
    /// drops the session, and `op` runs once more on a new sign-in after a short pause (a server
    /// just restarted may drop the first connections); a second loss is the caller's.
    fn with_session<T, F>(&self, op: F) -> Result<T, SmbFailure>
    where
        T: Send + 'static,
        F: for<'a> Fn(
                &'a mut Session,
                Context<'a>,
            )
                -> std::pin::Pin<Box<dyn Future<Output = Result<T, SmbFailure>> + Send + 'a>>
            + Send
            + Sync
            + 'static,
    {
        let session = self.session.clone();
        let (share, login) = (self.share.clone(), self.login.clone());
        self.block_on(async move {
            let mut guard = session.lock().await;
            let server = share.socket_addr();
            let user = login.user.to_string();
            let mut attempt = 0;
            loop {
                attempt += 1;
                let last = attempt >= 2;
                if guard.is_none() {
                    match open_session(&share, &login).await {
                        Ok(s) => *guard = Some(s),
                        Err(e) if !last && connection_gone(&e) => {
                            tokio::time::sleep(RETRY_PAUSE).await;
                            continue;
                        }
                        Err(e) => return Err(e),
                    }
                }
                let Some(s) = guard.as_mut() else {
                    return Err(SmbFailure::Other {
                        server: server.clone(),
                        detail: "no session".into(),
                    });
                };
                let cx = Context {
                    server: &server,
                    host: &share.host,
                    share: &share.share,
                    user: &user,
                    password_env: &login.password_env,
                };
                let r = op(s, cx).await;
                if let Err(e) = &r
                    && connection_gone(e)
                {
                    *guard = None;
                    if !last {
                        tokio::time::sleep(RETRY_PAUSE).await;
                        continue;
                    }
                }
                return r;
            }
        })
        .unwrap_or_else(|e| Err(stopped(&self.share, e)))
    }
}

/// The pause before a call is tried again on a new sign-in after a lost connection.
const RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(500);

/// The session cannot be trusted after this failure (the connection dropped, the server went away
/// or answered something unexpected): the next call signs in again on a new connection.
fn connection_gone(e: &SmbFailure) -> bool {
    matches!(
        e,
        SmbFailure::ConnectionLost { .. }
            | SmbFailure::PortClosed { .. }
            | SmbFailure::Other { .. }
    )
}

fn stopped(share: &SmbAddress, e: io::Error) -> SmbFailure {
    SmbFailure::Other {
        server: share.socket_addr(),
        detail: e.to_string(),
    }
}

async fn open_session(share: &SmbAddress, login: &SmbLogin) -> Result<Session, SmbFailure> {
    let server = share.socket_addr();
    let user = login.user.to_string();
    let cx = Context {
        server: &server,
        host: &share.host,
        share: &share.share,
        user: &user,
        password_env: &login.password_env,
    };
    // Name resolution first: its failure is its own message, not a refused port.
    let host = share.host.clone();
    let port = share.port;
    let resolved = tokio::net::lookup_host((host.as_str(), port)).await;
    match resolved {
        Ok(mut addrs) => {
            if addrs.next().is_none() {
                return Err(SmbFailure::NameNotResolved {
                    server,
                    detail: "no address".into(),
                });
            }
        }
        Err(e) => {
            return Err(SmbFailure::NameNotResolved {
                server,
                detail: e.to_string(),
            });
        }
    }
    let config = ClientConfig {
        addr: server.clone(),
        username: login.user.user.clone(),
        password: login.password.clone(),
        domain: login.user.domain.clone(),
        auto_reconnect: true,
        // Backups are mostly incompressible (or already compressed): LZ4 would cost CPU for nothing.
        compression: false,
        // A namespace link taking the reads to another server is not followed silently.
        dfs_enabled: false,
        ..Default::default()
    };
    let mut client = SmbClient::connect(config)
        .await
        .map_err(|e| smb_error::connect_failure(&cx, &e))?;
    let tree = match client.connect_share(&share.share).await {
        Ok(t) => t,
        Err(e) => return Err(smb_error::share_failure(&cx, &e)),
    };
    Ok(Session { client, tree })
}

fn to_stat(size: u64, is_dir: bool, modified: Option<SystemTime>) -> FileStat {
    FileStat {
        len: if is_dir { 0 } else { size },
        modified,
        is_file: !is_dir,
        is_dir,
    }
}

impl BackupFolder for SmbFolder {
    fn list(&self, root: &Path) -> Result<Listing, ListError> {
        let inside = self.inside(root).map_err(|e| ListError::Unreadable {
            path: root.to_path_buf(),
            source: e,
        })?;
        let share_root = self.share.share_root();
        let unc_root = self.unc(&inside);
        let start = inside.clone();
        let r = self.with_session(move |s, cx| {
            let (start, unc_root) = (start.clone(), unc_root.clone());
            Box::pin(async move {
                // The root's own time (and that it is a folder).
                let root_time = if start.is_empty() {
                    None
                } else {
                    let st = s
                        .client
                        .stat(&mut s.tree, &start)
                        .await
                        .map_err(|e| smb_error::path_failure(&cx, &unc_root, &e))?;
                    if !st.is_directory {
                        return Ok(Err(()));
                    }
                    st.modified.to_system_time()
                };
                let mut files = Vec::new();
                let mut folders = vec![(start.clone(), root_time)];
                let mut queue = vec![start.clone()];
                while let Some(dir) = queue.pop() {
                    let entries =
                        s.client
                            .list_directory(&mut s.tree, &dir)
                            .await
                            .map_err(|e| {
                                let unc = format!(
                                    r"\\{}\{}{}{}",
                                    cx.host,
                                    cx.share,
                                    if dir.is_empty() { "" } else { "\\" },
                                    dir.replace('/', "\\")
                                );
                                smb_error::path_failure(&cx, &unc, &e)
                            })?;
                    for e in entries {
                        if e.name == "." || e.name == ".." || e.is_link() {
                            continue;
                        }
                        let p = if dir.is_empty() {
                            e.name.clone()
                        } else {
                            format!("{dir}/{}", e.name)
                        };
                        let t = e.modified.to_system_time();
                        if e.is_directory {
                            folders.push((p.clone(), t));
                            queue.push(p);
                        } else {
                            files.push((p, to_stat(e.size, false, t)));
                        }
                    }
                }
                Ok(Ok((files, folders)))
            })
        });
        let path_of = |p: &str| {
            if p.is_empty() {
                share_root.clone()
            } else {
                share_root.join(p)
            }
        };
        match r {
            Ok(Ok((mut files, mut folders))) => {
                files.sort_by(|a, b| a.0.cmp(&b.0));
                folders.sort_by(|a, b| a.0.cmp(&b.0));
                Ok(Listing {
                    files: files
                        .into_iter()
                        .map(|(p, st)| (path_of(&p), Some(st)))
                        .collect(),
                    folders: folders.into_iter().map(|(p, t)| (path_of(&p), t)).collect(),
                })
            }
            Ok(Err(())) => Err(ListError::NotAFolder(root.to_path_buf())),
            Err(SmbFailure::PathNotFound { .. }) if !inside.is_empty() => {
                Err(ListError::Unreadable {
                    path: root.to_path_buf(),
                    source: SmbFailure::PathNotFound {
                        unc: self.unc(&inside),
                    }
                    .into_io(),
                })
            }
            Err(e) => Err(ListError::Unreadable {
                path: root.to_path_buf(),
                source: e.into_io(),
            }),
        }
    }

    fn stat(&self, path: &Path) -> io::Result<FileStat> {
        let inside = self.inside(path)?;
        let unc = self.unc(&inside);
        self.with_session(move |s, cx| {
            let (inside, unc) = (inside.clone(), unc.clone());
            Box::pin(async move {
                let st = s
                    .client
                    .stat(&mut s.tree, &inside)
                    .await
                    .map_err(|e| smb_error::path_failure(&cx, &unc, &e))?;
                Ok(to_stat(
                    st.size,
                    st.is_directory,
                    st.modified.to_system_time(),
                ))
            })
        })
        .map_err(SmbFailure::into_io)
    }

    /// Deletes a TDE certificate export (`.cer`, `.pvk`) the source wrote on the share, with the
    /// operator's SMB account (which then needs the right to delete there; without it the caller
    /// names the file for the operator). Any other file is refused before anything is sent.
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let is_export = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("cer") || e.eq_ignore_ascii_case("pvk"));
        if !is_export {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "{}: cutover removes only the certificate files (.cer, .pvk) it had the source write on the share",
                    path.display()
                ),
            ));
        }
        let inside = self.inside(path)?;
        let unc = self.unc(&inside);
        self.with_session(move |s, cx| {
            let (inside, unc) = (inside.clone(), unc.clone());
            Box::pin(async move {
                s.client
                    .delete_file(&s.tree, &inside)
                    .await
                    .map_err(|e| smb_error::path_failure(&cx, &unc, &e))
            })
        })
        .map_err(SmbFailure::into_io)
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn BackupFile>> {
        let inside = self.inside(path)?;
        let unc = self.unc(&inside);
        let unc2 = unc.clone();
        // The session is held only to take the share's tree and connection (cheap clones); the
        // open itself runs beside other opens and reads (the scan's threads, the uploader's).
        let (tree, conn) = self
            .with_session(move |s, cx| {
                let unc2 = unc2.clone();
                Box::pin(async move {
                    let conn = s
                        .client
                        .connection_for(&s.tree)
                        .map_err(|e| smb_error::path_failure(&cx, &unc2, &e))?;
                    Ok((Arc::new(s.tree.clone()), conn))
                })
            })
            .map_err(SmbFailure::into_io)?;
        let cx_server = self.share.socket_addr();
        let cx_user = self.login.user.to_string();
        let (host, share_name, env) = (
            self.share.host.clone(),
            self.share.share.clone(),
            self.login.password_env.clone(),
        );
        let unc3 = unc.clone();
        let path_in_share = self.inside(path)?;
        let reader = self
            .block_on(async move {
                smb2::client::stream::open_file_reader(tree, conn, &path_in_share)
                    .await
                    .map_err(|e| {
                        let cx = Context {
                            server: &cx_server,
                            host: &host,
                            share: &share_name,
                            user: &cx_user,
                            password_env: &env,
                        };
                        smb_error::path_failure(&cx, &unc3, &e)
                    })
            })?
            .map_err(|f| {
                if connection_gone(&f) {
                    self.forget_session();
                }
                f.into_io()
            })?;
        if reader.info().is_directory {
            return Err(io::Error::other("is a folder, not a backup file"));
        }
        let rt = self
            .rt
            .as_ref()
            .map(|r| r.handle().clone())
            .ok_or_else(|| io::Error::other("the SMB client was stopped"))?;
        Ok(Box::new(SmbFile {
            len: reader.size(),
            reader,
            rt,
            unc,
            server: self.share.socket_addr(),
        }))
    }
}

/// A file of the share, open for reading (sharing read, write and delete).
struct SmbFile {
    reader: smb2::FileReader,
    len: u64,
    rt: tokio::runtime::Handle,
    unc: String,
    server: String,
}

/// A large read is split into pieces of this size, all asked at once (one SMB READ each, in
/// flight together on the session), so a read costs about one round trip, not one per piece.
const PIPELINED_PIECE: usize = 1 << 20;

/// Reads into `buf` at `off` as pieces in flight together, each answer copied straight into its
/// part of `buf`; returns the bytes read (fewer than `buf.len()` only at the end of the file).
async fn read_pipelined(
    reader: &smb2::FileReader,
    off: u64,
    buf: &mut [u8],
) -> Result<usize, smb2::Error> {
    let pieces = buf
        .chunks_mut(PIPELINED_PIECE)
        .enumerate()
        .map(|(i, part)| reader.read_at_into(off + (i * PIPELINED_PIECE) as u64, part));
    let got = futures::future::try_join_all(pieces).await?;
    Ok(bytes_before_a_gap(&got, buf.len()))
}

/// The bytes read in order by pieces of `PIPELINED_PIECE` (the last may be shorter) whose reads
/// returned `got`: up to and including the first short one (the end of the file).
fn bytes_before_a_gap(got: &[usize], len: usize) -> usize {
    let mut n = 0;
    for &g in got {
        let asked = PIPELINED_PIECE.min(len - n);
        n += g;
        if g < asked {
            break;
        }
    }
    n
}

impl ReadAt for SmbFile {
    fn read_at(&mut self, off: u64, buf: &mut [u8]) -> io::Result<usize> {
        // Polled on this (blocking) thread with the folder's runtime entered for its timers; the
        // answers arrive through the runtime's connection task. Borrowing `buf` this way is
        // what lets every answer be copied once, straight into it.
        let _runtime = self.rt.enter();
        futures::executor::block_on(read_pipelined(&self.reader, off, buf)).map_err(|e| {
            let f = match e.kind() {
                smb2::ErrorKind::ConnectionLost
                | smb2::ErrorKind::SessionExpired
                | smb2::ErrorKind::TimedOut => SmbFailure::ConnectionLost {
                    server: self.server.clone(),
                    detail: format!("reading {}: {e}", self.unc),
                },
                _ => SmbFailure::Other {
                    server: self.server.clone(),
                    detail: format!("reading {} at offset {off}: {e}", self.unc),
                },
            };
            f.into_io()
        })
    }
}

impl BackupFile for SmbFile {
    fn len(&self) -> u64 {
        self.len
    }
    /// 4 MiB: four pieces in flight per read (and the uploader reads several blocks at once).
    fn preferred_read(&self) -> usize {
        4 << 20
    }
}

/// The canonical path of `s` when it is a share (`\\server\share\...` or `smb://...`).
pub fn share_path(s: &str) -> Option<Result<(SmbAddress, PathBuf), String>> {
    if !super::smb_address::is_share(s) {
        return None;
    }
    Some(SmbAddress::parse(s).map(|a| {
        let p = a.to_path();
        (a, p)
    }))
}

#[cfg(test)]
mod tests {
    use super::{PIPELINED_PIECE, bytes_before_a_gap};

    const P: usize = PIPELINED_PIECE;

    #[test]
    fn whole_pieces_count_in_full() {
        assert_eq!(bytes_before_a_gap(&[P, P, P], 3 * P), 3 * P);
        // The last piece of a read that is not a multiple of the piece size is shorter.
        assert_eq!(bytes_before_a_gap(&[P, 10], P + 10), P + 10);
    }

    #[test]
    fn the_first_short_piece_ends_the_read() {
        // The file ends inside the second piece: what later pieces say is not counted.
        assert_eq!(bytes_before_a_gap(&[P, 7, 0, 0], 4 * P), P + 7);
        assert_eq!(bytes_before_a_gap(&[0, 0], 2 * P), 0);
    }
}
