//! TDE certificates the migrated databases need on the Managed Instance. A database encrypted with
//! Transparent Data Encryption restores only where its database encryption key's certificate is:
//! LRS fails with MissingThumbprint otherwise. Pure: the certificate's `thumbprint` (SHA-1 of
//! its DER), the `pvk` private key file `BACKUP CERTIFICATE` writes, the `pfx` built from the two
//! (no Windows `pvk2pfx`), the `plan` per TDE database against the instance's certificates, and
//! `secret` wrappers that keep the key and passwords out of logs, state and screens. The source's
//! queries and `BACKUP CERTIFICATE` live in `source::tde`, the upload in `arm::tde`; `migrate`
//! drives the three for one certificate.

pub mod migrate;
pub mod pfx;
pub mod plan;
pub mod pvk;
pub mod record;
pub mod secret;
pub mod thumbprint;

pub use pfx::{Pfx, PfxError, build_pfx};
pub use plan::{TdeAction, TdeDatabase, TdeFinding, TdePlan, plan_tde};
pub use pvk::{PvkError, pvk_to_pkcs8};
pub use secret::{SecretBytes, SecretText};
pub use thumbprint::Thumbprint;
