//! TDE on the sandbox's SQL Server (an estate with a `DatabaseSpec::tde` database): the certificate in master that encrypts its TDE databases' keys,
//! `master.sys.certificates` and `sys.dm_database_encryption_keys` with their documented columns
//! (tempdb listed as SQL Server lists it once a database uses TDE: encrypted, with no thumbprint),
//! and `BACKUP CERTIFICATE [name] TO FILE = '...' WITH PRIVATE KEY (FILE = '...', ENCRYPTION BY
//! PASSWORD = '...')`, which writes the DER `.cer` and the PVK `.pvk` where the server sees the path,
//! refusing an existing file (15240), an unknown certificate (15151) and a password the policy
//! refuses (15118), as SQL Server does.

use super::super::sql::Token;
use super::super::sql_select::{Asks, Select};
use super::super::tde::ServerCertificate;
use super::super::tds::{Column, ColumnType, Reply, Value};
use super::{SqlError, SqlInstance};

/// A row of `sys.dm_database_encryption_keys`.
struct KeyRow {
    database_id: i64,
    state: i64,
    thumbprint: Vec<u8>,
    encryptor_type: &'static str,
}

type Col<R> = (ColumnType, fn(&R) -> Value);

fn key_column(name: &str) -> Option<Col<KeyRow>> {
    let c: Col<KeyRow> = match name {
        "database_id" => (ColumnType::Int, |r| Value::Int(r.database_id)),
        "encryption_state" => (ColumnType::Int, |r| Value::Int(r.state)),
        "encryptor_thumbprint" => (ColumnType::VarBinary(32), |r| {
            Value::Bytes(r.thumbprint.clone())
        }),
        "encryptor_type" => (ColumnType::NVarChar(32), |r| {
            Value::Str(r.encryptor_type.into())
        }),
        "key_algorithm" => (ColumnType::NVarChar(32), |_| Value::Str("AES".into())),
        "key_length" => (ColumnType::Int, |_| Value::Int(256)),
        _ => return None,
    };
    Some(c)
}

fn cert_column(name: &str) -> Option<Col<ServerCertificate>> {
    let c: Col<ServerCertificate> = match name {
        "name" => (ColumnType::NVarChar(128), |c| Value::Str(c.name.clone())),
        "subject" => (ColumnType::NVarChar(4000), |c| {
            Value::Str(c.subject.clone())
        }),
        "thumbprint" => (ColumnType::VarBinary(32), |c| {
            Value::Bytes(c.thumbprint.to_vec())
        }),
        "pvt_key_encryption_type" => (ColumnType::VarChar(2), |c| {
            Value::Str(if c.name.starts_with("##") { "NA" } else { "MK" }.into())
        }),
        "pvt_key_encryption_type_desc" => (ColumnType::NVarChar(60), |c| {
            Value::Str(
                if c.name.starts_with("##") {
                    "NO_PRIVATE_KEY"
                } else {
                    "ENCRYPTED_BY_MASTER_KEY"
                }
                .into(),
            )
        }),
        "expiry_date" => (ColumnType::DateTime, |c| Value::DateTime(c.expiry)),
        _ => return None,
    };
    Some(c)
}

fn rows<R>(
    sel: &Select,
    lookup: fn(&str) -> Option<Col<R>>,
    data: &[R],
) -> Result<Reply, SqlError> {
    if !sel.filter.is_empty() || sel.from.len() != 1 {
        return Err(SqlError::new(
            102,
            15,
            "The cutover sandbox answers sys.certificates and sys.dm_database_encryption_keys without WHERE or JOIN; filter the rows in the client.",
        ));
    }
    let mut cols = Vec::new();
    for i in &sel.items {
        let Asks::Column(c) = &i.asks else {
            return Err(SqlError::new(
                207,
                16,
                format!("Invalid column name '{}'.", i.name),
            ));
        };
        let (ty, f) = lookup(c)
            .ok_or_else(|| SqlError::new(207, 16, format!("Invalid column name '{c}'.")))?;
        cols.push((
            Column {
                name: i.name.clone(),
                ty,
            },
            f,
        ));
    }
    Ok(Reply::Rows {
        rows: data
            .iter()
            .map(|r| cols.iter().map(|(_, f)| f(r)).collect())
            .collect(),
        columns: cols.into_iter().map(|(c, _)| c).collect(),
    })
}

/// Whether `p` passes the Windows password policy SQL Server checks for ENCRYPTION BY PASSWORD
/// (8+ characters, three of: upper case, lower case, digits, symbols).
fn complex_enough(p: &str) -> bool {
    let classes = [
        p.chars().any(|c| c.is_uppercase()),
        p.chars().any(|c| c.is_lowercase()),
        p.chars().any(|c| c.is_ascii_digit()),
        p.chars().any(|c| !c.is_alphanumeric()),
    ];
    p.chars().count() >= 8 && classes.iter().filter(|x| **x).count() >= 3
}

impl SqlInstance {
    /// The instance's certificates in master (the TDE one and a system one).
    pub fn certificates(&self) -> Vec<ServerCertificate> {
        self.lock().certificates.clone()
    }

    /// The passwords BACKUP CERTIFICATE was given, oldest first.
    pub fn certificate_passwords_seen(&self) -> Vec<String> {
        self.lock().certificate_passwords.clone()
    }

    /// Answers the TDE views; `None` when `sel` reads neither.
    pub(super) fn answer_tde(&self, sel: &Select) -> Option<Result<Reply, SqlError>> {
        let st = self.lock();
        if sel.reads("sys.certificates") {
            return Some(rows(sel, cert_column, &st.certificates));
        }
        if !sel.reads("sys.dm_database_encryption_keys") {
            return None;
        }
        let tde_cert = st
            .certificates
            .iter()
            .find(|c| !c.name.starts_with("##"))
            .map(|c| c.thumbprint.to_vec());
        let mut keys: Vec<KeyRow> = st
            .dbs
            .iter()
            .filter(|d| d.spec.tde)
            .map(|d| KeyRow {
                database_id: i64::from(d.id),
                state: 3,
                thumbprint: tde_cert.clone().unwrap_or_default(),
                encryptor_type: "CERTIFICATE",
            })
            .collect();
        if !keys.is_empty() {
            keys.insert(
                0,
                KeyRow {
                    database_id: 2,
                    state: 3,
                    thumbprint: Vec::new(),
                    encryptor_type: "ASYMMETRIC KEY",
                },
            );
        }
        Some(rows(sel, key_column, &keys))
    }

    /// `BACKUP CERTIFICATE ...`, or `None` if the tokens are not one.
    pub(super) fn backup_certificate(
        &self,
        user_is_sysadmin: bool,
        tokens: &[Token],
        originals: &[String],
    ) -> Option<Result<Vec<Reply>, SqlError>> {
        let is = |i: usize, w: &str| matches!(tokens.get(i), Some(Token::Word(x)) if x == w);
        if !(is(0, "BACKUP") && is(1, "CERTIFICATE")) {
            return None;
        }
        Some(self.backup_certificate_parsed(user_is_sysadmin, tokens, originals))
    }

    fn backup_certificate_parsed(
        &self,
        sysadmin: bool,
        tokens: &[Token],
        originals: &[String],
    ) -> Result<Vec<Reply>, SqlError> {
        let syntax = |i: usize| {
            SqlError::new(
                102,
                15,
                format!(
                    "Incorrect syntax near '{}'.",
                    originals.get(i).map(String::as_str).unwrap_or("")
                ),
            )
        };
        let name = match tokens.get(2) {
            Some(Token::Ident(s)) => s.clone(),
            Some(Token::Word(_)) => originals.get(2).cloned().unwrap_or_default(),
            _ => return Err(syntax(2)),
        };
        // TO FILE = 'x'
        let word = |i: usize, w: &str| matches!(tokens.get(i), Some(Token::Word(x)) if x == w);
        let punct = |i: usize, p: &str| matches!(tokens.get(i), Some(Token::Punct(x)) if x == p);
        let string = |i: usize| match tokens.get(i) {
            Some(Token::Str(s)) => Some(s.clone()),
            _ => None,
        };
        if !(word(3, "TO") && word(4, "FILE") && punct(5, "=")) {
            return Err(syntax(3));
        }
        let cer_path = string(6).ok_or_else(|| syntax(6))?;
        let mut i = 7;
        let mut key_file = None;
        let mut password = None;
        if word(i, "WITH") {
            if !(word(i + 1, "PRIVATE") && word(i + 2, "KEY") && punct(i + 3, "(")) {
                return Err(syntax(i + 1));
            }
            i += 4;
            loop {
                if word(i, "FILE") && punct(i + 1, "=") {
                    key_file = Some(string(i + 2).ok_or_else(|| syntax(i + 2))?);
                    i += 3;
                } else if word(i, "ENCRYPTION")
                    && word(i + 1, "BY")
                    && word(i + 2, "PASSWORD")
                    && punct(i + 3, "=")
                {
                    password = Some(string(i + 4).ok_or_else(|| syntax(i + 4))?);
                    i += 5;
                } else {
                    return Err(syntax(i));
                }
                if punct(i, ",") {
                    i += 1;
                } else if punct(i, ")") {
                    i += 1;
                    break;
                } else {
                    return Err(syntax(i));
                }
            }
        }
        if punct(i, ";") {
            i += 1;
        }
        if i != tokens.len() {
            return Err(syntax(i));
        }
        let cert = self
            .lock()
            .certificates
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(&name))
            .cloned()
            .filter(|_| sysadmin)
            .ok_or_else(|| {
                SqlError::new(
                    15151,
                    16,
                    format!(
                        "Cannot find the certificate '{name}', because it does not exist or you do not have permission."
                    ),
                )
            })?;
        let cannot_write = |p: &str| {
            SqlError::new(
                15240,
                16,
                format!(
                    "Cannot write into file '{p}'. Verify that you have write permissions, that the file path is valid, and that the file does not already exist."
                ),
            )
        };
        let write_new = |p: &str, bytes: &[u8]| -> Result<(), SqlError> {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(p)
                .map_err(|_| cannot_write(p))?;
            f.write_all(bytes).map_err(|_| cannot_write(p))
        };
        let pvk = match (&key_file, &password) {
            (Some(_), Some(pw)) => {
                self.lock().certificate_passwords.push(pw.clone());
                if !complex_enough(pw) {
                    return Err(SqlError::new(
                        15118,
                        16,
                        "Password validation failed. The password does not meet the operating system policy requirements because it is not complex enough.",
                    ));
                }
                Some(cert.pvk(pw).map_err(|e| SqlError::new(15240, 16, e))?)
            }
            (Some(_), None) => return Err(syntax(i.saturating_sub(1))),
            _ => None,
        };
        if cert.name.starts_with("##") && pvk.is_some() {
            return Err(SqlError::new(
                15232,
                16,
                format!(
                    "A certificate with name '{}' has no private key.",
                    cert.name
                ),
            ));
        }
        write_new(&cer_path, &cert.der)?;
        if let (Some(p), Some(bytes)) = (&key_file, &pvk)
            && let Err(e) = write_new(p, bytes)
        {
            let _ = std::fs::remove_file(&cer_path);
            return Err(e);
        }
        Ok(vec![Reply::Done {
            rows_affected: None,
        }])
    }
}
