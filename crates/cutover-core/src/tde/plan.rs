//! Which TDE databases can restore on the instance, and what to migrate: each encrypted database's
//! encryptor (from the source's `sys.dm_database_encryption_keys`, or a backup header's thumbprint)
//! against the source's certificates (`master.sys.certificates`) and the instance's.

use std::collections::BTreeSet;

use serde::Serialize;

pub use crate::model::Severity;

use super::thumbprint::Thumbprint;

/// Stable finding codes.
pub mod codes {
    /// A TDE database whose certificate is not on the instance yet: its restore would fail with
    /// LRS's MissingThumbprint; its upload waits.
    pub const TDE_CERTIFICATE_MISSING: &str = "TDE_CERTIFICATE_MISSING";
    /// The encryptor is not a certificate in the source's master (an EKM asymmetric key, or the
    /// certificate was dropped): cutover cannot move it.
    pub const TDE_CERTIFICATE_NOT_ON_SOURCE: &str = "TDE_CERTIFICATE_NOT_ON_SOURCE";
    /// The certificate's private key is not in the source (`pvt_key_encryption_type` NA).
    pub const TDE_PRIVATE_KEY_MISSING: &str = "TDE_PRIVATE_KEY_MISSING";
    /// BACKUP CERTIFICATE, the PFX or the upload failed.
    pub const TDE_MIGRATION_FAILED: &str = "TDE_MIGRATION_FAILED";
}

/// A database encryption key as the source reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EncryptionKey {
    pub database: String,
    /// 0 none, 1 unencrypted, 2 encryption in progress, 3 encrypted, 4 key change, 5 decryption in
    /// progress, 6 protection change (`encryption_state`).
    pub encryption_state: i32,
    /// `CERTIFICATE` or `ASYMMETRIC KEY` (`encryptor_type`).
    pub encryptor_type: String,
    pub thumbprint: Thumbprint,
}

/// A certificate in the source's master.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceCertificate {
    pub name: String,
    pub thumbprint: Thumbprint,
    pub subject: String,
    /// `MK` (by the master key), `PW` (by a password), `NA` (no private key), ...
    pub private_key_encryption: String,
    pub expiry: Option<String>,
}

/// What to do for one TDE database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum TdeAction {
    /// The instance already has the certificate.
    OnTarget,
    /// Migrate this source certificate (BACKUP CERTIFICATE, PFX, upload).
    Migrate { certificate: String },
    /// Cannot be migrated by cutover: the finding says why and what to do.
    Blocked,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TdeDatabase {
    pub database: String,
    pub thumbprint: Thumbprint,
    /// The source certificate's name, when it is in master.
    pub certificate: Option<String>,
    #[serde(flatten)]
    pub action: TdeAction,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TdeFinding {
    pub code: &'static str,
    pub severity: Severity,
    pub database: String,
    pub message: String,
    pub fix: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct TdePlan {
    pub databases: Vec<TdeDatabase>,
    pub findings: Vec<TdeFinding>,
}

impl TdePlan {
    /// The source certificates to migrate, each once (several databases may share one).
    pub fn certificates_to_migrate(&self) -> Vec<(String, Thumbprint)> {
        let mut seen = BTreeSet::new();
        self.databases
            .iter()
            .filter_map(|d| match &d.action {
                TdeAction::Migrate { certificate } if seen.insert(d.thumbprint) => {
                    Some((certificate.clone(), d.thumbprint))
                }
                _ => None,
            })
            .collect()
    }

    /// Whether `database`'s upload must wait for its certificate (a blocking finding names it).
    pub fn blocks(&self, database: &str) -> bool {
        self.databases
            .iter()
            .any(|d| d.database == database && d.action != TdeAction::OnTarget)
    }
}

/// Plans the TDE databases among `selected` (all when empty): keys with encryption state 2..=6
/// count as encrypted (a backup taken while encryption runs already needs the certificate).
pub fn plan_tde(
    keys: &[EncryptionKey],
    certificates: &[SourceCertificate],
    target_thumbprints: &BTreeSet<Thumbprint>,
    selected: &[String],
) -> TdePlan {
    let mut plan = TdePlan::default();
    for k in keys {
        if !(2..=6).contains(&k.encryption_state) {
            continue;
        }
        if !selected.is_empty() && !selected.iter().any(|s| s == &k.database) {
            continue;
        }
        if matches!(
            k.database.to_lowercase().as_str(),
            "tempdb" | "master" | "model" | "msdb"
        ) {
            continue;
        }
        let cert = certificates.iter().find(|c| c.thumbprint == k.thumbprint);
        let on_target = target_thumbprints.contains(&k.thumbprint);
        let action = if on_target {
            TdeAction::OnTarget
        } else {
            match cert {
                Some(c) if c.private_key_encryption != "NA" => TdeAction::Migrate {
                    certificate: c.name.clone(),
                },
                Some(c) => {
                    plan.findings.push(TdeFinding {
                        code: codes::TDE_PRIVATE_KEY_MISSING,
                        severity: Severity::Error,
                        database: k.database.clone(),
                        message: format!(
                            "{} is encrypted by certificate [{}] ({}), whose private key is not in the source's master, so it cannot be exported",
                            k.database, c.name, k.thumbprint
                        ),
                        fix: format!(
                            "restore the certificate with its private key into master (CREATE CERTIFICATE [{}] FROM FILE ... WITH PRIVATE KEY ...) from the backup kept when TDE was set up, then run `cutover tde migrate`",
                            c.name
                        ),
                    });
                    TdeAction::Blocked
                }
                None => {
                    plan.findings.push(TdeFinding {
                        code: codes::TDE_CERTIFICATE_NOT_ON_SOURCE,
                        severity: Severity::Error,
                        database: k.database.clone(),
                        message: format!(
                            "{} is encrypted by {} {} that is not a certificate in the source's master",
                            k.database,
                            k.encryptor_type.to_lowercase(),
                            k.thumbprint
                        ),
                        fix: "Managed Instance takes TDE certificates only: an EKM asymmetric key cannot be moved; re-encrypt the database with a certificate in master (ALTER DATABASE ENCRYPTION KEY ENCRYPTION BY SERVER CERTIFICATE ...), take a new full backup, then run `cutover tde migrate`".into(),
                    });
                    TdeAction::Blocked
                }
            }
        };
        if let TdeAction::Migrate { certificate } = &action {
            plan.findings.push(TdeFinding {
                code: codes::TDE_CERTIFICATE_MISSING,
                severity: Severity::Error,
                database: k.database.clone(),
                message: format!(
                    "{} is encrypted with TDE by certificate [{certificate}] ({}), which the instance does not have: LRS would fail with MissingThumbprint",
                    k.database, k.thumbprint
                ),
                fix: "run `cutover tde migrate` (it exports the certificate with BACKUP CERTIFICATE into the backup folder, builds the PFX and uploads it to the instance); the upload starts once the certificate is there".into(),
            });
        }
        plan.databases.push(TdeDatabase {
            database: k.database.clone(),
            thumbprint: k.thumbprint,
            certificate: cert.map(|c| c.name.clone()),
            action,
        });
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(db: &str, state: i32, t: u8) -> EncryptionKey {
        EncryptionKey {
            database: db.into(),
            encryption_state: state,
            encryptor_type: "CERTIFICATE".into(),
            thumbprint: Thumbprint([t; 20]),
        }
    }

    fn cert(name: &str, t: u8, pk: &str) -> SourceCertificate {
        SourceCertificate {
            name: name.into(),
            thumbprint: Thumbprint([t; 20]),
            subject: "CN=x".into(),
            private_key_encryption: pk.into(),
            expiry: None,
        }
    }

    #[test]
    fn plans_each_database_against_both_sides() {
        let keys = vec![
            key("A", 3, 1),
            key("B", 3, 1),
            key("C", 3, 2),
            key("D", 1, 3),
            key("E", 3, 4),
            key("tempdb", 3, 9),
            key("F", 3, 5),
        ];
        let certs = vec![
            cert("c1", 1, "MK"),
            cert("c2", 2, "MK"),
            cert("c5", 5, "NA"),
        ];
        let target: BTreeSet<_> = [Thumbprint([2; 20])].into();
        let p = plan_tde(&keys, &certs, &target, &[]);
        let action = |db: &str| {
            p.databases
                .iter()
                .find(|d| d.database == db)
                .map(|d| d.action.clone())
        };
        assert_eq!(
            action("A"),
            Some(TdeAction::Migrate {
                certificate: "c1".into()
            })
        );
        assert_eq!(action("C"), Some(TdeAction::OnTarget));
        assert_eq!(action("D"), None, "unencrypted");
        assert_eq!(action("tempdb"), None);
        assert_eq!(action("E"), Some(TdeAction::Blocked));
        assert_eq!(action("F"), Some(TdeAction::Blocked));
        assert_eq!(
            p.certificates_to_migrate(),
            vec![("c1".to_string(), Thumbprint([1; 20]))]
        );
        assert!(p.blocks("A") && p.blocks("E") && !p.blocks("C") && !p.blocks("D"));
        let codes: Vec<_> = p
            .findings
            .iter()
            .map(|f| (f.database.as_str(), f.code))
            .collect();
        assert!(codes.contains(&("A", codes::TDE_CERTIFICATE_MISSING)));
        assert!(codes.contains(&("E", codes::TDE_CERTIFICATE_NOT_ON_SOURCE)));
        assert!(codes.contains(&("F", codes::TDE_PRIVATE_KEY_MISSING)));
        let only_b = plan_tde(&keys, &certs, &target, &["B".to_string()]);
        assert_eq!(only_b.databases.len(), 1);
    }
}
