//! The backup-set header chunk `SCIN` inside an MQCI stream: offsets from the `SCIN` tag, identical on
//! SQL Server 10.50, 12.0 and 13.0 (see the project's backup-format reference).

use time::PrimitiveDateTime;

use super::collation::collation_name;
use super::header::BackupType;
use super::lsn::Lsn;
use super::mtf::{decode_date, format_guid, u16_at, u32_at, u64_at};
#[cfg(feature = "write")]
use super::{
    collation::collation_bytes,
    mtf::{encode_date, parse_guid, put_u16, put_u32, put_u64},
};

pub const TAG: [u8; 4] = *b"SCIN";
/// Size of the SCIN chunk SQL Server writes.
pub const SCIN_LEN: usize = 478;
/// Where the variable-length strings start inside the chunk.
#[cfg_attr(not(feature = "write"), allow(dead_code))] // only the writer fills it
const STRINGS_AT: usize = 400;

pub const FLAG_CHECKSUMS: u32 = 0x10;
pub const FLAG_ALWAYS: u32 = 0x200;
/// Unconfirmed on real files (no copy-only sample): documented as the probable copy-only bit.
pub const FLAG_COPY_ONLY: u32 = 0x400;
pub const FLAG_DIFFERENTIAL: u32 = 0x800;

const OFF_FLAGS: usize = 8;
const OFF_BUILD: usize = 24;
const OFF_MINOR: usize = 26;
const OFF_MAJOR: usize = 27;
const OFF_FIRST_LSN: usize = 32;
const OFF_LAST_LSN: usize = 42;
const OFF_CHECKPOINT_LSN: usize = 52;
const OFF_DB_BACKUP_LSN: usize = 62;
const OFF_CREATED: usize = 72;
const OFF_START: usize = 77;
const OFF_FINISH: usize = 82;
const OFF_TYPE: usize = 87;
#[cfg_attr(not(feature = "write"), allow(dead_code))] // only the writer fills it
const OFF_SORT_ORDER: usize = 88;
const OFF_COMPAT: usize = 91;
const OFF_DB_VERSION: usize = 94;
const OFF_SIZE: usize = 96;
const OFF_DB_NAME: usize = 104;
const OFF_SERVER_NAME: usize = 108;
#[cfg_attr(not(feature = "write"), allow(dead_code))] // only the writer fills it
const OFF_LOCALE: usize = 116;
#[cfg_attr(not(feature = "write"), allow(dead_code))] // only the writer fills it
const OFF_COMPARISON: usize = 120;
const OFF_FAMILY_GUID: usize = 124;
const OFF_COLLATION: usize = 216;
const OFF_DIFF_BASE_LSN: usize = 260;
const OFF_DIFF_BASE_GUID: usize = 272;

/// The values of one SCIN chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scin {
    pub flags: u32,
    pub version: (u8, u8, u16),
    pub first_lsn: Lsn,
    pub last_lsn: Lsn,
    pub checkpoint_lsn: Lsn,
    pub database_backup_lsn: Lsn,
    pub created: Option<PrimitiveDateTime>,
    pub start: Option<PrimitiveDateTime>,
    pub finish: Option<PrimitiveDateTime>,
    pub backup_type: BackupType,
    pub compatibility_level: u8,
    pub database_version: u16,
    pub backup_size: u64,
    pub database_name: String,
    pub server_name: String,
    pub family_guid: String,
    pub collation: String,
    pub differential_base_lsn: Lsn,
    pub differential_base_guid: String,
    /// The TDE encryptor's thumbprint, from a `TDE_TAG` chunk of the same MQCI stream (see there).
    pub tde_thumbprint: Option<[u8; 20]>,
}

/// The chunk cutover's writer puts after the file chunks of a TDE database's backup-set header:
/// `[tag][u32 size = 32][u32 encryptor type, 1 = certificate][20-byte thumbprint]`. SQL Server
/// keeps the database encryption key's thumbprint in its headers (RESTORE FILELISTONLY shows it as
/// TDEThumbprint), but where is not documented and no TDE sample was available: this tag is
/// cutover's own convention, so a real backup reads as "no thumbprint in the header" and the
/// source's `sys.dm_database_encryption_keys` is what detects TDE there.
pub const TDE_TAG: [u8; 4] = *b"SDEK";

/// The thumbprint of a `TDE_TAG` chunk among the MQCI stream's chunks, if there is one.
pub fn tde_thumbprint(stream: &[u8]) -> Option<[u8; 20]> {
    let mut at = 0usize;
    while at + 8 <= stream.len() {
        let size = u32_at(stream, at + 4)? as usize;
        if size < 8 {
            return None;
        }
        if stream[at..at + 4] == TDE_TAG && size >= 32 {
            return stream
                .get(at + 12..at + 32)
                .and_then(|t| <[u8; 20]>::try_from(t).ok());
        }
        at += size;
    }
    None
}

/// Why a SCIN chunk could not be decoded (offset is relative to the chunk).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScinError {
    pub offset: usize,
    pub what: String,
}

fn lsn_at(b: &[u8], at: usize) -> Result<Lsn, ScinError> {
    let s = b.get(at..at + 10).ok_or_else(|| short(at))?;
    let mut a = [0u8; 10];
    a.copy_from_slice(s);
    Ok(Lsn::from_le_bytes(a))
}

fn short(at: usize) -> ScinError {
    ScinError {
        offset: at,
        what: "SCIN header chunk is shorter than its fields".into(),
    }
}

fn utf16_at(b: &[u8], at: usize, field: &str) -> Result<String, ScinError> {
    let len = u16_at(b, at).ok_or_else(|| short(at))? as usize;
    let off = u16_at(b, at + 2).ok_or_else(|| short(at))? as usize;
    let bytes = b.get(off..off + len).ok_or_else(|| ScinError {
        offset: at,
        what: format!("{field} points outside the SCIN chunk ({len} bytes at {off})"),
    })?;
    if !len.is_multiple_of(2) {
        return Err(ScinError {
            offset: at,
            what: format!("{field} has an odd UTF-16 byte length {len}"),
        });
    }
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16(&units).map_err(|_| ScinError {
        offset: at,
        what: format!("{field} is not valid UTF-16"),
    })
}

/// Decodes a SCIN chunk (`b` starts at the `SCIN` tag).
pub fn decode(b: &[u8]) -> Result<Scin, ScinError> {
    if b.get(0..4) != Some(&TAG[..]) {
        return Err(ScinError {
            offset: 0,
            what: "MQCI stream does not start with a SCIN chunk".into(),
        });
    }
    let tde = tde_thumbprint(b);
    let declared = u32_at(b, 4).ok_or_else(|| short(4))? as usize;
    let b = b.get(..declared.min(b.len())).ok_or_else(|| short(4))?;
    if b.len() < OFF_DIFF_BASE_GUID + 16 {
        return Err(short(b.len()));
    }
    let type_letter = b[OFF_TYPE];
    let backup_type = BackupType::from_letter(type_letter).ok_or_else(|| ScinError {
        offset: OFF_TYPE,
        what: format!("unknown backup type byte 0x{type_letter:02x}"),
    })?;
    Ok(Scin {
        flags: u32_at(b, OFF_FLAGS).ok_or_else(|| short(OFF_FLAGS))?,
        version: (
            b[OFF_MAJOR],
            b[OFF_MINOR],
            u16_at(b, OFF_BUILD).ok_or_else(|| short(OFF_BUILD))?,
        ),
        first_lsn: lsn_at(b, OFF_FIRST_LSN)?,
        last_lsn: lsn_at(b, OFF_LAST_LSN)?,
        checkpoint_lsn: lsn_at(b, OFF_CHECKPOINT_LSN)?,
        database_backup_lsn: lsn_at(b, OFF_DB_BACKUP_LSN)?,
        created: decode_date(&b[OFF_CREATED..OFF_CREATED + 5]),
        start: decode_date(&b[OFF_START..OFF_START + 5]),
        finish: decode_date(&b[OFF_FINISH..OFF_FINISH + 5]),
        backup_type,
        compatibility_level: b[OFF_COMPAT],
        database_version: u16_at(b, OFF_DB_VERSION).ok_or_else(|| short(OFF_DB_VERSION))?,
        backup_size: u64_at(b, OFF_SIZE).ok_or_else(|| short(OFF_SIZE))?,
        database_name: utf16_at(b, OFF_DB_NAME, "DatabaseName")?,
        server_name: utf16_at(b, OFF_SERVER_NAME, "ServerName")?,
        family_guid: format_guid(&b[OFF_FAMILY_GUID..OFF_FAMILY_GUID + 16]),
        collation: collation_name(&b[OFF_COLLATION..OFF_COLLATION + 5]),
        differential_base_lsn: lsn_at(b, OFF_DIFF_BASE_LSN)?,
        differential_base_guid: format_guid(&b[OFF_DIFF_BASE_GUID..OFF_DIFF_BASE_GUID + 16]),
        tde_thumbprint: tde,
    })
}

#[cfg(feature = "write")]
fn put_utf16(b: &mut Vec<u8>, at: usize, s: &str) {
    let off = b.len();
    for u in s.encode_utf16() {
        b.extend_from_slice(&u.to_le_bytes());
    }
    let len = b.len() - off;
    put_u16(b, at, len as u16);
    put_u16(b, at + 2, off as u16);
}

/// Encodes a SCIN chunk as SQL Server lays it out. Names longer than the chunk allows are cut to
/// 128 characters (SQL Server's sysname limit).
#[cfg(feature = "write")]
pub fn encode(s: &Scin) -> Vec<u8> {
    let mut b = vec![0u8; STRINGS_AT];
    b[0..4].copy_from_slice(&TAG);
    put_u32(&mut b, OFF_FLAGS, s.flags);
    put_u16(&mut b, OFF_BUILD, s.version.2);
    b[OFF_MINOR] = s.version.1;
    b[OFF_MAJOR] = s.version.0;
    b[OFF_FIRST_LSN..OFF_FIRST_LSN + 10].copy_from_slice(&s.first_lsn.to_le_bytes());
    b[OFF_LAST_LSN..OFF_LAST_LSN + 10].copy_from_slice(&s.last_lsn.to_le_bytes());
    b[OFF_CHECKPOINT_LSN..OFF_CHECKPOINT_LSN + 10].copy_from_slice(&s.checkpoint_lsn.to_le_bytes());
    b[OFF_DB_BACKUP_LSN..OFF_DB_BACKUP_LSN + 10]
        .copy_from_slice(&s.database_backup_lsn.to_le_bytes());
    b[OFF_CREATED..OFF_CREATED + 5].copy_from_slice(&encode_date(s.created));
    b[OFF_START..OFF_START + 5].copy_from_slice(&encode_date(s.start));
    b[OFF_FINISH..OFF_FINISH + 5].copy_from_slice(&encode_date(s.finish));
    b[OFF_TYPE] = s.backup_type.letter();
    let coll = collation_bytes(&s.collation);
    b[OFF_SORT_ORDER] = coll[4];
    b[OFF_COMPAT] = s.compatibility_level;
    put_u16(&mut b, OFF_DB_VERSION, s.database_version);
    put_u64(&mut b, OFF_SIZE, s.backup_size);
    let lcid = u32::from_le_bytes([coll[0], coll[1], coll[2], 0]) & 0x000F_FFFF;
    put_u32(&mut b, OFF_LOCALE, lcid);
    put_u32(&mut b, OFF_COMPARISON, 0x0003_0001);
    if let Some(g) = parse_guid(&s.family_guid) {
        b[OFF_FAMILY_GUID..OFF_FAMILY_GUID + 16].copy_from_slice(&g);
    }
    b[OFF_COLLATION..OFF_COLLATION + 5].copy_from_slice(&coll);
    b[OFF_DIFF_BASE_LSN..OFF_DIFF_BASE_LSN + 10]
        .copy_from_slice(&s.differential_base_lsn.to_le_bytes());
    if let Some(g) = parse_guid(&s.differential_base_guid) {
        b[OFF_DIFF_BASE_GUID..OFF_DIFF_BASE_GUID + 16].copy_from_slice(&g);
    }
    let db: String = s.database_name.chars().take(128).collect();
    let server: String = s.server_name.chars().take(128).collect();
    put_utf16(&mut b, OFF_DB_NAME, &db);
    put_utf16(&mut b, OFF_SERVER_NAME, &server);
    if b.len() < SCIN_LEN {
        b.resize(SCIN_LEN, 0);
    }
    let len = b.len();
    put_u32(&mut b, 4, len as u32);
    b
}
