//! `--smb-user DOMAIN\user` and `--smb-password-env VAR`: where a command that takes a backup
//! folder reads it when the folder is a share (`\\server\share\path` or
//! `smb://server[:port]/share/path`). The password only ever comes from the environment.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::backup_folder::{BackupFolder, LocalFolder, SmbAddress, SmbFolder, SmbLogin};

pub use crate::backup_folder::smb::DEFAULT_PASSWORD_ENV;

#[derive(Debug, Clone, Default, clap::Args)]
pub struct SmbArgs {
    /// The account that reads the share (`DOMAIN\user`; `AZURE\<storage account>` for an Azure
    /// file share). Only for a folder given as \\server\share\path or smb://server[:port]/share/path.
    #[arg(long, value_name = "DOMAIN\\USER")]
    pub smb_user: Option<String>,
    /// The environment variable holding the share's password (the storage account key for an
    /// Azure file share) [default: CUTOVER_SMB_PASSWORD].
    #[arg(long, value_name = "VAR")]
    pub smb_password_env: Option<String>,
}

/// A backup folder as the command reads it: its path (canonical `smb://` for a share) and the
/// `BackupFolder` that reads it.
pub struct Opened {
    pub root: PathBuf,
    pub folder: Arc<dyn BackupFolder>,
    /// The share, when it is one.
    pub share: Option<SmbAddress>,
}

/// `dir` as given on the command line: a local folder, or a share signed in to with `smb`
/// (connected now, so that a wrong password or an unknown share fails before any work).
pub fn open(dir: &Path, smb: &SmbArgs) -> Result<Opened, String> {
    let text = dir.to_string_lossy();
    if !crate::backup_folder::smb_address::is_share(&text) {
        if smb.smb_user.is_some() || smb.smb_password_env.is_some() {
            return Err(format!(
                "{}: --smb-user and --smb-password-env are for a share (\\\\server\\share\\folder or smb://server/share/folder), and this is a local folder",
                dir.display()
            ));
        }
        return Ok(Opened {
            root: dir.to_path_buf(),
            folder: LocalFolder::shared(),
            share: None,
        });
    }
    let address = SmbAddress::parse(&text)?;
    let user = smb.smb_user.as_deref().ok_or_else(|| {
        format!(
            "{address}: a share needs --smb-user DOMAIN\\user (and its password in the variable named by --smb-password-env, default {DEFAULT_PASSWORD_ENV})"
        )
    })?;
    let env = smb
        .smb_password_env
        .as_deref()
        .unwrap_or(DEFAULT_PASSWORD_ENV);
    let login = SmbLogin::from_env(user, env).map_err(|e| format!("{address}: {e}"))?;
    let folder = SmbFolder::new(&address, login)
        .map_err(|e| format!("{address}: cannot start the SMB client: {e}"))?;
    folder.connect().map_err(|e| e.to_string())?;
    Ok(Opened {
        root: address.to_path(),
        folder: folder.shared(),
        share: Some(address),
    })
}
