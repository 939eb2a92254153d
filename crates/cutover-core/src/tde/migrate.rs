//! Moving one TDE certificate: the source writes it with `BACKUP CERTIFICATE ... WITH PRIVATE KEY`
//! into the backup folder (as the server sees it), cutover reads the `.cer` and `.pvk` back through
//! the `BackupFolder` seam, removes them at once (`BackupFolder::remove_file`; a folder that cannot
//! remove leaves them named in the outcome for the operator), builds the PFX with a new password
//! and uploads it to the instance (`arm::tde`). The PVK and PFX passwords are generated here, live
//! in memory only and are dropped (zeroed) when this returns.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::{SecretBytes, SecretText, Thumbprint, build_pfx, pvk_to_pkcs8};
use crate::arm::ArmClient;
use crate::arm::tde::upload_tde_certificate;
use crate::backup_folder::BackupFolder;
use crate::restore_target::lrs::InstanceRef;
use crate::source::SourceClient;
use crate::source::tail::server_path_join;

/// Where the certificate is exported: the backup folder as cutover reads it and as the source
/// server writes to it.
pub struct ExportPlace<'a> {
    pub folder: &'a dyn BackupFolder,
    /// The folder's root as cutover opens it (local path or share path).
    pub local_root: PathBuf,
    /// The same folder as the source SQL Server sees it (`\\fs01\backups`, `D:\Backups`).
    pub server_folder: String,
    /// How long to wait for the written files to appear (a share's caches).
    pub appear_timeout: Duration,
}

/// What happened to one certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CertificateStatus {
    Uploaded,
    Failed { reason: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct CertificateOutcome {
    pub certificate: String,
    pub thumbprint: Thumbprint,
    #[serde(flatten)]
    pub status: CertificateStatus,
    /// Files cutover had written that could not be removed (delete them by hand: the `.pvk`
    /// holds the private key, encrypted by a password that is gone).
    pub left_on_share: Vec<String>,
}

fn read_all(folder: &dyn BackupFolder, path: &Path, timeout: Duration) -> io::Result<Vec<u8>> {
    let start = Instant::now();
    let file = loop {
        match folder.open(path) {
            Ok(f) => break f,
            Err(e) if e.kind() == io::ErrorKind::NotFound && start.elapsed() < timeout => {
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => return Err(e),
        }
    };
    let mut file = file;
    let len = file.len();
    if len > 1 << 20 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {len} bytes is not a certificate file", path.display()),
        ));
    }
    let mut out = vec![0u8; len as usize];
    let mut at = 0usize;
    while at < out.len() {
        let n = file.read_at(at as u64, &mut out[at..])?;
        if n == 0 {
            out.truncate(at);
            break;
        }
        at += n;
    }
    Ok(out)
}

/// Exports certificate `name` from the source, uploads it to the instance, and checks it is the
/// one with `expected` thumbprint.
pub async fn migrate_certificate(
    source: &mut SourceClient,
    place: &ExportPlace<'_>,
    arm: &ArmClient,
    instance: &InstanceRef,
    name: &str,
    expected: Thumbprint,
) -> CertificateOutcome {
    let stem = format!(
        "cutover-tde-{}-{:08x}",
        &expected.hex()[..16],
        rand::random::<u32>()
    );
    let cer = format!("{stem}.cer");
    let pvk = format!("{stem}.pvk");
    let pvk_password = SecretText::generate();
    let mut outcome = CertificateOutcome {
        certificate: name.to_string(),
        thumbprint: expected,
        status: CertificateStatus::Uploaded,
        left_on_share: Vec::new(),
    };
    let fail = |o: &mut CertificateOutcome, reason: String| {
        o.status = CertificateStatus::Failed { reason };
    };
    let written = source
        .backup_certificate(
            name,
            &server_path_join(&place.server_folder, &cer),
            &server_path_join(&place.server_folder, &pvk),
            &pvk_password,
        )
        .await;
    if let Err(e) = written {
        fail(
            &mut outcome,
            format!(
                "BACKUP CERTIFICATE [{name}] into {} failed: {e}; the source's service account needs write access to that folder (give --server-folder as the server sees the backup folder)",
                place.server_folder
            ),
        );
        return outcome;
    }
    let folder = place.folder;
    let timeout = place.appear_timeout;
    let (cer_path, pvk_path) = (place.local_root.join(&cer), place.local_root.join(&pvk));
    let read = tokio::task::block_in_place(|| {
        let c = read_all(folder, &cer_path, timeout);
        let p = read_all(folder, &pvk_path, timeout).map(SecretBytes::new);
        for path in [&cer_path, &pvk_path] {
            if let Err(e) = folder.remove_file(path)
                && e.kind() != io::ErrorKind::NotFound
            {
                outcome.left_on_share.push(format!(
                    "{} ({e})",
                    server_path_join(
                        &place.server_folder,
                        &path
                            .file_name()
                            .map(|f| f.to_string_lossy().into_owned())
                            .unwrap_or_default()
                    )
                ));
            }
        }
        (c, p)
    });
    let (cer_bytes, pvk_bytes) = match read {
        (Ok(c), Ok(p)) => (c, p),
        (Err(e), _) | (_, Err(e)) => {
            fail(
                &mut outcome,
                format!(
                    "the source wrote {cer} and {pvk} into {}, but cutover cannot read them from {}: {e}; check that --server-folder and the backup folder are the same place",
                    place.server_folder,
                    place.local_root.display()
                ),
            );
            return outcome;
        }
    };
    let key = match pvk_to_pkcs8(pvk_bytes.expose(), Some(&pvk_password)) {
        Ok(k) => k,
        Err(e) => {
            fail(&mut outcome, format!("{pvk}: {e}"));
            return outcome;
        }
    };
    let pfx_password = SecretText::generate();
    let pfx = match build_pfx(&cer_bytes, &key, &pfx_password, name) {
        Ok(p) => p,
        Err(e) => {
            fail(&mut outcome, format!("{cer}: {e}"));
            return outcome;
        }
    };
    if pfx.thumbprint != expected {
        fail(
            &mut outcome,
            format!(
                "the certificate the source wrote has thumbprint {}, not the database encryption key's {expected}",
                pfx.thumbprint
            ),
        );
        return outcome;
    }
    if let Err(e) = upload_tde_certificate(arm, instance, &pfx, &pfx_password).await {
        fail(
            &mut outcome,
            format!("uploading the certificate to the instance failed: {e}"),
        );
    }
    outcome
}
