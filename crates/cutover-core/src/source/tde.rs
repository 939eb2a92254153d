//! TDE over a SQL connection: the source's database encryption keys
//! (`sys.dm_database_encryption_keys`, joined in Rust to `sys.databases` for the names), the
//! certificates in master (`master.sys.certificates`; the instance's too, to see which it already
//! has), and `BACKUP CERTIFICATE ... WITH PRIVATE KEY` into a folder the server writes to. The
//! statement carries the file password as a literal (BACKUP CERTIFICATE takes no variables there):
//! it is sent, never shown; a server error is scrubbed of it before it is reported.

use std::collections::BTreeSet;

use tiberius::Row;

use super::client::SourceClient;
use super::error::SourceError;
use super::queries::RowError;
use super::quote::{quote_ident, quote_literal};
use crate::tde::SecretText;
use crate::tde::Thumbprint;
use crate::tde::plan::{EncryptionKey, SourceCertificate};

/// Every database encryption key (tempdb's included: filtered by the plan).
pub const ENCRYPTION_KEYS: &str = "SELECT k.database_id, k.encryption_state, k.encryptor_thumbprint, \
k.encryptor_type FROM sys.dm_database_encryption_keys k";

/// Database names by id.
pub const DATABASE_IDS: &str = "SELECT d.database_id, d.name FROM sys.databases d";

/// The certificates in master (where TDE's certificates live).
pub const CERTIFICATES: &str = "SELECT c.name, c.thumbprint, c.subject, c.pvt_key_encryption_type, \
c.expiry_date FROM master.sys.certificates c";

fn bad(column: &'static str, detail: impl std::fmt::Display) -> RowError {
    RowError {
        column,
        detail: detail.to_string(),
    }
}

fn int(row: &Row, c: &'static str) -> Result<i64, RowError> {
    if let Ok(Some(v)) = row.try_get::<i32, _>(c) {
        return Ok(i64::from(v));
    }
    if let Ok(Some(v)) = row.try_get::<i16, _>(c) {
        return Ok(i64::from(v));
    }
    row.try_get::<i64, _>(c)
        .map_err(|e| bad(c, e))?
        .ok_or_else(|| bad(c, "is NULL"))
}

fn text(row: &Row, c: &'static str) -> Result<Option<String>, RowError> {
    row.try_get::<&str, _>(c)
        .map(|v| v.map(str::to_string))
        .map_err(|e| bad(c, e))
}

fn bytes(row: &Row, c: &'static str) -> Result<Option<Vec<u8>>, RowError> {
    row.try_get::<&[u8], _>(c)
        .map(|v| v.map(<[u8]>::to_vec))
        .map_err(|e| bad(c, e))
}

/// The statement that writes certificate `name` and its private key (encrypted by `password`) to
/// the two paths, as the server sees them.
pub fn backup_certificate_sql(
    name: &str,
    cer_path: &str,
    pvk_path: &str,
    password: &SecretText,
) -> String {
    format!(
        "BACKUP CERTIFICATE {} TO FILE = {} WITH PRIVATE KEY (FILE = {}, ENCRYPTION BY PASSWORD = {})",
        quote_ident(name),
        quote_literal(cer_path),
        quote_literal(pvk_path),
        quote_literal(password.expose())
    )
}

/// `text` with every occurrence of the password (and its quoted form) replaced.
pub fn scrub(text: &str, password: &SecretText) -> String {
    let p = password.expose();
    if p.is_empty() {
        return text.to_string();
    }
    text.replace(&p.replace('\'', "''"), "<password>")
        .replace(p, "<password>")
}

impl SourceClient {
    fn tde_unexpected(&self, what: &'static str, e: RowError) -> SourceError {
        SourceError::Unexpected {
            server: self.label().to_string(),
            what,
            detail: e.to_string(),
        }
    }

    /// The database encryption keys with their databases' names (keys without a thumbprint, as
    /// tempdb's, are left out).
    pub async fn encryption_keys(&mut self) -> Result<Vec<EncryptionKey>, SourceError> {
        let rows = self.rows(DATABASE_IDS, &[]).await?;
        let mut names = std::collections::HashMap::new();
        for r in &rows {
            let id = int(r, "database_id").map_err(|e| self.tde_unexpected("sys.databases", e))?;
            let name = text(r, "name")
                .map_err(|e| self.tde_unexpected("sys.databases", e))?
                .unwrap_or_default();
            names.insert(id, name);
        }
        let rows = self.rows(ENCRYPTION_KEYS, &[]).await?;
        let mut out = Vec::new();
        for r in &rows {
            let what = "sys.dm_database_encryption_keys";
            let id = int(r, "database_id").map_err(|e| self.tde_unexpected(what, e))?;
            let state = int(r, "encryption_state").map_err(|e| self.tde_unexpected(what, e))?;
            let thumb =
                bytes(r, "encryptor_thumbprint").map_err(|e| self.tde_unexpected(what, e))?;
            let kind = text(r, "encryptor_type")
                .map_err(|e| self.tde_unexpected(what, e))?
                .unwrap_or_default();
            let Some(thumbprint) = thumb.as_deref().and_then(Thumbprint::from_bytes) else {
                continue;
            };
            let Some(database) = names.get(&id).cloned() else {
                continue;
            };
            out.push(EncryptionKey {
                database,
                encryption_state: state as i32,
                encryptor_type: kind,
                thumbprint,
            });
        }
        Ok(out)
    }

    /// The certificates in master.
    pub async fn certificates(&mut self) -> Result<Vec<SourceCertificate>, SourceError> {
        let rows = self.rows(CERTIFICATES, &[]).await?;
        let mut out = Vec::new();
        for r in &rows {
            let what = "sys.certificates";
            let thumb = bytes(r, "thumbprint").map_err(|e| self.tde_unexpected(what, e))?;
            let Some(thumbprint) = thumb.as_deref().and_then(Thumbprint::from_bytes) else {
                continue;
            };
            let expiry = r
                .try_get::<time::PrimitiveDateTime, _>("expiry_date")
                .ok()
                .flatten()
                .map(|d| format!("{} {}", d.date(), d.time()));
            out.push(SourceCertificate {
                name: text(r, "name")
                    .map_err(|e| self.tde_unexpected(what, e))?
                    .unwrap_or_default(),
                thumbprint,
                subject: text(r, "subject")
                    .map_err(|e| self.tde_unexpected(what, e))?
                    .unwrap_or_default(),
                private_key_encryption: text(r, "pvt_key_encryption_type")
                    .map_err(|e| self.tde_unexpected(what, e))?
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
                expiry,
            });
        }
        Ok(out)
    }

    /// The thumbprints of the certificates this server has (the target's check).
    pub async fn certificate_thumbprints(&mut self) -> Result<BTreeSet<Thumbprint>, SourceError> {
        Ok(self
            .certificates()
            .await?
            .into_iter()
            .map(|c| c.thumbprint)
            .collect())
    }

    /// `BACKUP CERTIFICATE` of `name` to `cer_path` / `pvk_path` (as the server sees them); the
    /// error, if any, scrubbed of the password.
    pub async fn backup_certificate(
        &mut self,
        name: &str,
        cer_path: &str,
        pvk_path: &str,
        password: &SecretText,
    ) -> Result<(), String> {
        let sql = backup_certificate_sql(name, cer_path, pvk_path, password);
        self.execute(&sql, &[])
            .await
            .map_err(|e| scrub(&e.to_string(), password))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_statement_quotes_names_and_paths_and_errors_lose_the_password() {
        let pw = SecretText::new("P'w-1234x".into());
        let sql = backup_certificate_sql("TDE]Cert", r"\\fs\b\x.cer", r"\\fs\b\x.pvk", &pw);
        assert_eq!(
            sql,
            r"BACKUP CERTIFICATE [TDE]]Cert] TO FILE = N'\\fs\b\x.cer' WITH PRIVATE KEY (FILE = N'\\fs\b\x.pvk', ENCRYPTION BY PASSWORD = N'P''w-1234x')"
        );
        let msg = scrub("Incorrect syntax near 'P''w-1234x' / P'w-1234x", &pw);
        assert!(!msg.contains("1234"), "{msg}");
    }
}
