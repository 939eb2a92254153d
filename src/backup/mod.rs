//! SQL Server backup files: the header reader (plain MTF and compressed), the writer that produces new
//! files in the same format, and the types they share.

pub mod collation;
pub mod compressed;
pub(crate) mod compressed_writer;
pub mod error;
pub mod header;
pub mod lsn;
pub mod mtf;
pub mod reader;
pub mod records;
pub mod scin;
pub mod source;
pub mod writer;
pub mod xpress;

pub use error::ReadError;
pub use header::{BackupSet, BackupType};
pub use lsn::Lsn;
pub use reader::{read_backup_bytes, read_backup_file, read_backup_from};
