//! SQL Server backup files: the header reader (plain MTF and compressed), the writer that produces new
//! files in the same format, and the types they share.
//!
//! The reader is what the product needs; the writer (`writer`, the `MSSQLBAK` container it writes and
//! the XPRESS-Huffman encoder, plus the encoding halves of `mtf`, `scin`, `collation` and `records`) is
//! compiled only with the `write` feature: tests, the sandbox and the demo make backups with it.

pub mod collation;
pub mod compressed;
#[cfg(feature = "write")]
pub(crate) mod compressed_writer;
pub mod error;
pub mod header;
pub mod lsn;
pub mod mtf;
pub mod reader;
pub mod records;
pub mod scin;
pub mod source;
#[cfg(feature = "write")]
pub mod writer;
#[cfg(feature = "write")]
pub mod xpress;

pub use error::ReadError;
pub use header::{BackupSet, BackupType};
pub use lsn::Lsn;
pub use reader::{read_backup_bytes, read_backup_file, read_backup_from};
