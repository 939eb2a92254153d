//! Reads every backup set's header from a backup file: walks the MTF descriptor blocks, skipping the
//! data streams by their lengths, so only the first and last few KiB of each set are read.
//!
//! What the format protects: every descriptor block and stream header carries an XOR checksum (of the
//! header, not of the data), and the set header (SCIN) is written twice, at the start (MSCI) and the
//! end (MSLS) of the set; the reader compares the two copies, so the LSNs, backup type, database and
//! server names, start and creation dates, flags and versions are cross-checked. Other header fields
//! are not integrity-protected: the media set GUID and family count/sequence (stored once, in the TAPE
//! block's RAID stream, whose data no checksum covers) and the backup size and finish date (only in the
//! end copy). A flipped bit there reads as a plausible value. In compressed files a record is only
//! checked to decode to its declared size; the blocks inside keep their checksums. Reading headers
//! (`cutover inspect`) does not validate a chain; `cutover check` does (LSN links, bases, stripes).

use std::fs::File;
use std::path::Path;

use time::PrimitiveDateTime;

use super::compressed;
use super::error::ReadError;
use super::header::BackupSet;
use super::mtf::{
    self, DBLK_HEADER_LEN, DblkHeader, SFMB_LEN, STREAM_HEADER_LEN, StreamHeader, decode_date,
    format_guid, u16_at, u32_at,
};
use super::scin::{self, Scin};
use super::source::{FileWindow, MemSource, Source};

/// The largest MQCI stream the reader will load (real ones are ~3 KiB).
const MAX_MQCI: u64 = 1 << 20;
/// Streams in one block before the block is considered corrupt.
const MAX_STREAMS_PER_BLOCK: usize = 4096;
/// SQL Server writes a backup to at most 64 devices (media families, stripes).
const MAX_FAMILIES: u16 = 64;

/// What the TAPE block says about the media family (stripes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TapeInfo {
    pub media_set_guid: String,
    pub family_count: u16,
    pub family_sequence: u16,
}

/// One backup set as seen while walking.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawSet {
    pub position: u16,
    /// SSET attributes (0x4 full or log, 0x8 differential): kept for diagnostics (Debug), not reported.
    #[allow(dead_code)]
    pub sset_attributes: u32,
    pub sset_date: Option<PrimitiveDateTime>,
    pub first: Option<Scin>,
    pub last: Option<Scin>,
    pub offset: u64,
}

/// The outcome of a walk over an MTF stream.
#[derive(Debug, Default)]
pub(crate) struct Walk {
    pub tape: TapeInfo,
    pub sets: Vec<RawSet>,
    /// A set still open where the walk stopped.
    pub open: Option<RawSet>,
    /// The type of the last complete descriptor block (a whole file ends with a filemark, SFMB).
    pub last_block: Option<[u8; 4]>,
}

/// How to treat the end of the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The source is the whole file: running out of bytes is truncation.
    WholeFile,
    /// The source is only the first decompressed chunks: stop quietly where they end.
    Head,
}

fn io_err(path: &Path, e: std::io::Error) -> ReadError {
    ReadError::Io {
        path: path.to_path_buf(),
        source: e,
    }
}

fn truncated(path: &Path, offset: u64, what: impl Into<String>) -> ReadError {
    ReadError::Truncated {
        path: path.to_path_buf(),
        offset,
        what: what.into(),
    }
}

fn corrupt(path: &Path, offset: u64, what: impl Into<String>) -> ReadError {
    ReadError::Corrupt {
        path: path.to_path_buf(),
        offset,
        what: what.into(),
    }
}

/// Walks the descriptor blocks of an MTF stream.
pub(crate) fn walk<S: Source>(src: &mut S, path: &Path, mode: Mode) -> Result<Walk, ReadError> {
    let len = src.len();
    let mut out = Walk::default();
    let mut pos: u64 = 0;
    let mut blocks: u64 = 0;
    while pos < len {
        blocks += 1;
        let head = src
            .read_at(pos, DBLK_HEADER_LEN)
            .map_err(|e| io_err(path, e))?;
        if head.len() < DBLK_HEADER_LEN {
            if mode == Mode::Head {
                return Ok(out);
            }
            return Err(truncated(
                path,
                pos,
                "the file ends inside a descriptor block header",
            ));
        }
        let Some(dblk) = DblkHeader::parse(head) else {
            if mode == Mode::Head {
                return Ok(out);
            }
            let kind = String::from_utf8_lossy(&head[0..4]).into_owned();
            let printable = head[0..4].iter().all(|b| b.is_ascii_alphanumeric());
            let what = if printable && mtf::KNOWN_DBLKS.iter().any(|k| &head[0..4] == k) {
                format!("header checksum of the '{kind}' descriptor block does not match")
            } else if head.iter().all(|&b| b == 0) {
                "expected a descriptor block, found zeros (the file may be incomplete)".to_string()
            } else {
                "expected an MTF descriptor block, found unknown bytes".to_string()
            };
            return Err(corrupt(path, pos, what));
        };
        if blocks == 1 && dblk.kind != mtf::TAPE {
            return Err(corrupt(path, 0, "the first block is not a TAPE header"));
        }
        if dblk.kind == mtf::SFMB {
            if pos.saturating_add(SFMB_LEN) > len {
                if mode == Mode::Head {
                    return Ok(out);
                }
                return Err(truncated(
                    path,
                    pos,
                    "the file ends inside a filemark block",
                ));
            }
            pos = pos.saturating_add(SFMB_LEN);
            out.last_block = Some(dblk.kind);
            continue;
        }
        let fso = dblk.first_stream_offset as u64;
        if fso < DBLK_HEADER_LEN as u64 {
            return Err(corrupt(
                path,
                pos,
                format!(
                    "'{}' block has an impossible first stream offset {fso}",
                    dblk.kind_str()
                ),
            ));
        }
        // Block-specific fixed fields (all within the first 100 bytes).
        if dblk.kind == mtf::SSET {
            let fixed = src.read_at(pos, 100).map_err(|e| io_err(path, e))?;
            if fixed.len() < 100 {
                if mode == Mode::Head {
                    return Ok(out);
                }
                return Err(truncated(
                    path,
                    pos,
                    "the file ends inside a backup set header",
                ));
            }
            if let Some(open) = out.open.take() {
                return Err(corrupt(
                    path,
                    pos,
                    format!(
                        "backup set {} (at byte {}) has no end-of-set block before the next set",
                        open.position, open.offset
                    ),
                ));
            }
            out.open = Some(RawSet {
                position: u16_at(fixed, 62).unwrap_or(0),
                sset_attributes: u32_at(fixed, 52).unwrap_or(0),
                sset_date: decode_date(&fixed[88..93]),
                offset: pos,
                ..RawSet::default()
            });
        }
        if dblk.kind == mtf::ESET
            && let Some(set) = out.open.take()
        {
            out.sets.push(set);
        }
        // Streams until SPAD.
        let mut s = pos
            .checked_add(fso)
            .ok_or_else(|| corrupt(path, pos, "offset overflow"))?;
        let mut n = 0usize;
        loop {
            n += 1;
            if n > MAX_STREAMS_PER_BLOCK {
                return Err(corrupt(
                    path,
                    pos,
                    format!(
                        "'{}' block has no end-of-block padding stream",
                        dblk.kind_str()
                    ),
                ));
            }
            let sh_bytes = src
                .read_at(s, STREAM_HEADER_LEN)
                .map_err(|e| io_err(path, e))?;
            if sh_bytes.len() < STREAM_HEADER_LEN {
                if mode == Mode::Head {
                    return Ok(out);
                }
                return Err(truncated(
                    path,
                    s,
                    format!(
                        "the file ends inside a stream of the '{}' block",
                        dblk.kind_str()
                    ),
                ));
            }
            let Some(sh) = StreamHeader::parse(sh_bytes) else {
                if mode == Mode::Head {
                    return Ok(out);
                }
                return Err(corrupt(
                    path,
                    s,
                    format!(
                        "stream header checksum in the '{}' block does not match",
                        dblk.kind_str()
                    ),
                ));
            };
            if sh.encryption != 0 {
                return Err(ReadError::Encrypted {
                    path: path.to_path_buf(),
                    what: format!("stream '{}' at byte {s} is marked encrypted", sh.id_str()),
                });
            }
            let end = sh
                .end(s)
                .ok_or_else(|| corrupt(path, s, "stream length overflows"))?;
            if end > len.saturating_add(3) {
                if mode == Mode::Head {
                    return Ok(out);
                }
                return Err(truncated(
                    path,
                    s,
                    format!(
                        "stream '{}' of {} bytes runs past the end of the file ({len} bytes)",
                        sh.id_str(),
                        sh.length
                    ),
                ));
            }
            let data_at = s + STREAM_HEADER_LEN as u64;
            if dblk.kind == mtf::TAPE && sh.id == mtf::RAID {
                let raid = src.read_at(data_at, 32).map_err(|e| io_err(path, e))?;
                if raid.len() >= 26 {
                    out.tape = TapeInfo {
                        media_set_guid: format_guid(&raid[0..16]),
                        family_count: u16_at(raid, 20).unwrap_or(1),
                        family_sequence: u16_at(raid, 24).unwrap_or(1),
                    };
                    let (count, seq) = (out.tape.family_count, out.tape.family_sequence);
                    if count > MAX_FAMILIES || (count > 0 && seq > count) {
                        return Err(corrupt(
                            path,
                            data_at + 20,
                            format!(
                                "media family {seq} of {count} is impossible (at most {MAX_FAMILIES} stripes)"
                            ),
                        ));
                    }
                }
            }
            if (dblk.kind == mtf::MSCI || dblk.kind == mtf::MSLS) && sh.id == mtf::MQCI {
                if sh.length > MAX_MQCI {
                    return Err(corrupt(
                        path,
                        s,
                        format!(
                            "backup-set header stream is implausibly large ({} bytes)",
                            sh.length
                        ),
                    ));
                }
                let data = src
                    .read_at(data_at, sh.length as usize)
                    .map_err(|e| io_err(path, e))?;
                if (data.len() as u64) < sh.length {
                    if mode == Mode::Head {
                        return Ok(out);
                    }
                    return Err(truncated(
                        path,
                        data_at,
                        "the file ends inside the backup-set header",
                    ));
                }
                let decoded = scin::decode(data).map_err(|e| {
                    corrupt(
                        path,
                        data_at + e.offset as u64,
                        format!("backup-set header: {}", e.what),
                    )
                })?;
                let Some(set) = out.open.as_mut() else {
                    return Err(corrupt(path, pos, "backup-set header outside a backup set"));
                };
                if dblk.kind == mtf::MSCI {
                    set.first = Some(decoded);
                } else {
                    set.last = Some(decoded);
                }
            }
            s = end;
            if sh.id == mtf::SPAD {
                break;
            }
        }
        pos = s;
        out.last_block = Some(dblk.kind);
    }
    Ok(out)
}

/// The fields in which the start-of-set (MSCI) and end-of-set (MSLS) copies of a set's header differ.
/// SQL Server writes the same values in both, except the finish date and the final size, which only
/// the end copy has: any other difference means one copy is damaged.
pub(crate) fn disagreements(a: &Scin, b: &Scin) -> Vec<&'static str> {
    let checks = [
        ("BackupType", a.backup_type == b.backup_type),
        ("DatabaseName", a.database_name == b.database_name),
        ("ServerName", a.server_name == b.server_name),
        ("FirstLSN", a.first_lsn == b.first_lsn),
        ("LastLSN", a.last_lsn == b.last_lsn),
        ("CheckpointLSN", a.checkpoint_lsn == b.checkpoint_lsn),
        (
            "DatabaseBackupLSN",
            a.database_backup_lsn == b.database_backup_lsn,
        ),
        (
            "DifferentialBaseLSN",
            a.differential_base_lsn == b.differential_base_lsn,
        ),
        (
            "DifferentialBaseGUID",
            a.differential_base_guid == b.differential_base_guid,
        ),
        ("flags", a.flags == b.flags),
        ("SoftwareVersion", a.version == b.version),
        ("DatabaseVersion", a.database_version == b.database_version),
        (
            "CompatibilityLevel",
            a.compatibility_level == b.compatibility_level,
        ),
        ("DatabaseCreationDate", a.created == b.created),
        ("BackupStartDate", a.start == b.start),
        ("Collation", a.collation == b.collation),
        ("FamilyGUID", a.family_guid == b.family_guid),
    ];
    checks
        .iter()
        .filter(|(_, same)| !same)
        .map(|(name, _)| *name)
        .collect()
}

/// Builds the public header from what the walk found. `compressed` is the container kind.
pub(crate) fn to_backup_set(
    path: &Path,
    tape: &TapeInfo,
    raw: &RawSet,
    compressed: bool,
) -> Result<BackupSet, ReadError> {
    let Some(first) = raw.first.as_ref().or(raw.last.as_ref()) else {
        return Err(corrupt(
            path,
            raw.offset,
            format!(
                "backup set {} has no backup-set header (MSCI) block",
                raw.position
            ),
        ));
    };
    let last = raw.last.as_ref().unwrap_or(first);
    let differ = disagreements(first, last);
    if !differ.is_empty() {
        return Err(corrupt(
            path,
            raw.offset,
            format!(
                "backup set {}: the start and end copies of its header disagree on {} (database '{}' vs '{}')",
                raw.position,
                differ.join(", "),
                first.database_name,
                last.database_name
            ),
        ));
    }
    let is_diff = matches!(
        last.backup_type,
        super::header::BackupType::Diff
            | super::header::BackupType::FileDiff
            | super::header::BackupType::PartialDiff
    );
    Ok(BackupSet {
        file: path.to_path_buf(),
        database_name: last.database_name.clone(),
        server_name: last.server_name.clone(),
        backup_type: last.backup_type,
        position: raw.position,
        first_lsn: last.first_lsn,
        last_lsn: last.last_lsn,
        checkpoint_lsn: last.checkpoint_lsn,
        database_backup_lsn: last.database_backup_lsn,
        differential_base_lsn: is_diff.then_some(last.differential_base_lsn),
        differential_base_guid: is_diff.then(|| last.differential_base_guid.clone()),
        has_backup_checksums: last.flags & scin::FLAG_CHECKSUMS != 0,
        is_copy_only: last.flags & scin::FLAG_COPY_ONLY != 0,
        compressed,
        software_version: format!("{}.{}.{}", last.version.0, last.version.1, last.version.2),
        database_version: last.database_version,
        compatibility_level: last.compatibility_level,
        database_creation_date: last.created,
        backup_start_date: last.start.or(raw.sset_date),
        backup_finish_date: last.finish.or(first.finish),
        backup_size: last.backup_size.max(first.backup_size),
        collation: last.collation.clone(),
        family_guid: last.family_guid.clone(),
        media_set_guid: tape.media_set_guid.clone(),
        family_count: tape.family_count.max(1),
        family_sequence_number: tape.family_sequence.max(1),
        flags: last.flags,
        tde_thumbprint: last.tde_thumbprint.or(first.tde_thumbprint).map(|t| {
            format!(
                "0x{}",
                t.iter().map(|b| format!("{b:02X}")).collect::<String>()
            )
        }),
    })
}

/// Checks that the sets of a file are numbered 1, 2, ... in order (RESTORE HEADERONLY's Position):
/// SQL Server numbers the sets of a disk file from 1 and only appends, and the number is outside every
/// checksum, so a wrong one is damage.
pub(crate) fn check_positions(path: &Path, sets: &[RawSet]) -> Result<(), ReadError> {
    for (i, raw) in sets.iter().enumerate() {
        if usize::from(raw.position) != i + 1 {
            return Err(corrupt(
                path,
                raw.offset + 62,
                format!(
                    "backup set {} of the file is numbered {} in its header",
                    i + 1,
                    raw.position
                ),
            ));
        }
    }
    Ok(())
}

/// The sets of a stream walked to its end: every set closed, at least one, the filemark after the
/// last, positions 1, 2, ... `len` is the file's length (where a cut file ends).
pub(crate) fn finish_walk(
    path: &Path,
    w: &Walk,
    len: u64,
    compressed: bool,
) -> Result<Vec<BackupSet>, ReadError> {
    if let Some(open) = &w.open {
        return Err(truncated(
            path,
            len,
            format!(
                "backup set {} (started at byte {}) has no end-of-set block",
                open.position, open.offset
            ),
        ));
    }
    if w.sets.is_empty() {
        return Err(truncated(path, len, "the media header holds no backup set"));
    }
    if w.last_block != Some(mtf::SFMB) {
        return Err(truncated(
            path,
            len,
            "the file does not end with the filemark that follows the last backup set",
        ));
    }
    check_positions(path, &w.sets)?;
    w.sets
        .iter()
        .map(|raw| to_backup_set(path, &w.tape, raw, compressed))
        .collect()
}

/// Reads the headers of every backup set in a file, like `RESTORE HEADERONLY`. The file is opened
/// read-only and never read whole.
pub fn read_backup_file(path: &Path) -> Result<Vec<BackupSet>, ReadError> {
    let file = File::open(path).map_err(|e| io_err(path, e))?;
    let meta = file.metadata().map_err(|e| io_err(path, e))?;
    if meta.is_dir() {
        return Err(io_err(
            path,
            std::io::Error::other("is a folder, not a backup file"),
        ));
    }
    read_backup_from(&mut FileWindow::new(file, meta.len()), path)
}

/// Reads headers from bytes in memory (used by the fuzzer and tests): same rules as a file.
pub fn read_backup_bytes(path: &Path, data: &[u8]) -> Result<Vec<BackupSet>, ReadError> {
    read_backup_from(&mut MemSource { data }, path)
}

/// Reads headers from any [`Source`] (a [`FileWindow`] counts the bytes it reads: tests measure the
/// reader's cost with it). `path` names the file in errors.
pub fn read_backup_from<S: Source>(src: &mut S, path: &Path) -> Result<Vec<BackupSet>, ReadError> {
    let magic = src.read_at(0, 8).map_err(|e| io_err(path, e))?.to_vec();
    if magic.starts_with(b"TAPE") {
        let w = walk(src, path, Mode::WholeFile)?;
        finish_walk(path, &w, src.len(), false)
    } else if magic.starts_with(compressed::MAGIC) {
        compressed::read_compressed(src, path)
    } else if !magic.is_empty()
        && magic.len() < 8
        && (b"TAPE".starts_with(&magic) || compressed::MAGIC.starts_with(&magic))
    {
        Err(truncated(
            path,
            magic.len() as u64,
            "the file ends inside the signature",
        ))
    } else {
        Err(ReadError::NotABackup {
            path: path.to_path_buf(),
        })
    }
}
