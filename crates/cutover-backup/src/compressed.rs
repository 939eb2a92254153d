//! Compressed backups (`MSSQLBAK` container, SQL Server 2014-2017 layout): a sequence of records, each a
//! 28-byte header and one XPRESS-Huffman chunk. Only the first chunks (media and set headers) and the
//! chunks near the end (final set header) are decoded.

use std::path::Path;

use super::error::ReadError;
use super::header::BackupSet;
use super::mtf::{self, DBLK_HEADER_LEN, DblkHeader, STREAM_HEADER_LEN, StreamHeader, u32_at};
use super::reader::{
    Mode, RawSet, Walk, check_positions, disagreements, finish_walk, to_backup_set, walk,
};
use super::records::{
    FILE_HEADER_LEN, Piece, PieceKind, RecordHeader, RecordStream, UndecodableRecord, decode_piece,
    decode_record, next_piece, runs_past_end,
};
use super::scin;
use super::source::{MemSource, Source};

pub use super::records::MAGIC;
/// How much of the file start is searched for the first record.
const HEAD_SEARCH: u64 = 64 * 1024;
/// Decompressed bytes that always cover TAPE, SSET, VOLB and MSCI.
const HEAD_WANTED: usize = 64 * 1024;
/// How much of the file end is searched for the final set header: a small window first (the end-of-set
/// blocks compress to a few KiB), widened only if the header is not in it.
const TAIL_SEARCH: [u64; 3] = [32 * 1024, 256 * 1024, 1024 * 1024];

fn io_err(path: &Path, e: std::io::Error) -> ReadError {
    ReadError::Io {
        path: path.to_path_buf(),
        source: e,
    }
}

/// An I/O error from a [`RecordStream`] that is really a record that does not decode: "corrupt".
fn stream_err(path: &Path, e: ReadError) -> ReadError {
    if let ReadError::Io { source, .. } = &e
        && let Some(u) = source
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<UndecodableRecord>())
    {
        return ReadError::Corrupt {
            path: path.to_path_buf(),
            offset: u.at,
            what: u.to_string(),
        };
    }
    e
}

/// The output of the pieces that follow the one ending at `from`, until `want` bytes are out or no
/// further piece is found. A record that does not decode is skipped by re-synchronising after it.
fn decode_pieces<S: Source>(
    src: &mut S,
    path: &Path,
    from: u64,
    want: usize,
) -> Result<Vec<u8>, ReadError> {
    let mut out = Vec::new();
    let mut at = from;
    while out.len() < want {
        let Some(piece) = next_piece(src, at).map_err(|e| io_err(path, e))? else {
            break;
        };
        match decode_piece(src, &piece).map_err(|e| io_err(path, e))? {
            Some(chunk) => {
                out.extend_from_slice(&chunk);
                at = piece.end();
            }
            None => at = piece.at + 1,
        }
    }
    Ok(out)
}

pub(crate) fn read_compressed<S: Source>(
    src: &mut S,
    path: &Path,
) -> Result<Vec<BackupSet>, ReadError> {
    let len = src.len();
    let head = src.read_at(0, 16).map_err(|e| io_err(path, e))?.to_vec();
    if head.len() < 16 {
        return Err(ReadError::Truncated {
            path: path.to_path_buf(),
            offset: head.len() as u64,
            what: "the file ends inside the compressed-backup header".into(),
        });
    }
    // SQL Server writes backup files in whole 512-byte sectors (every sample is), and the end of a
    // compressed file is padding the reader cannot otherwise check: a partial sector is a cut file.
    if !len.is_multiple_of(512) {
        return Err(ReadError::Truncated {
            path: path.to_path_buf(),
            offset: len,
            what: format!("the file size ({len} bytes) is not a whole number of 512-byte sectors"),
        });
    }
    let (major, minor) = (
        u32_at(&head, 8).unwrap_or(0),
        u32_at(&head, 12).unwrap_or(0),
    );

    // The first record that decodes must give the media header.
    let mut first = None;
    let mut non_tape_decode = None;
    // A record header that looks valid but whose body runs past the end: the file was cut.
    let mut cut_record = None;
    let mut at = FILE_HEADER_LEN;
    while at < HEAD_SEARCH.min(len) {
        if let Some((chunk, next)) = decode_record(src, at).map_err(|e| io_err(path, e))? {
            if chunk.starts_with(b"TAPE") {
                first = Some((at, chunk, next));
                break;
            }
            non_tape_decode.get_or_insert(at);
        } else if cut_record.is_none() && runs_past_end(src, at).map_err(|e| io_err(path, e))? {
            cut_record = Some(at);
        }
        at += 1;
    }
    let Some((first_at, mut stream, next)) = first else {
        if let (Some(off), None) = (cut_record, non_tape_decode) {
            return Err(ReadError::Truncated {
                path: path.to_path_buf(),
                offset: len,
                what: format!(
                    "the first compressed record (at byte {off}) runs past the end of the file"
                ),
            });
        }
        if let Some(off) = non_tape_decode {
            return Err(ReadError::Encrypted {
                path: path.to_path_buf(),
                what: format!(
                    "the compressed record at byte {off} does not decode to a media header"
                ),
            });
        }
        return Err(ReadError::Unsupported {
            path: path.to_path_buf(),
            offset: 16,
            what: format!(
                "compressed container version {major}.{minor} with no readable XPRESS record (SQL Server 2008/2012 and 2019+ compressed layouts are not supported yet); take the backup without compression or restore it on SQL Server and back up again"
            ),
        });
    };
    let first_piece = Piece {
        at: first_at,
        kind: PieceKind::Record(RecordHeader {
            output: stream.len(),
            body: (next - first_at - super::records::RECORD_HEADER_LEN) as usize,
        }),
    };
    let run = decode_pieces(src, path, next, HEAD_WANTED)?;
    // decode_pieces stops short of what it was asked for only where no further piece is found.
    let head_cut = run.len() < HEAD_WANTED;
    stream.extend(run);

    let Walk {
        tape,
        mut sets,
        mut open,
        ..
    } = walk(&mut MemSource { data: &stream }, path, Mode::Head)?;
    if sets.is_empty() && open.is_none() {
        if head_cut {
            return Err(ReadError::Truncated {
                path: path.to_path_buf(),
                offset: len,
                what: "the file ends before the backup set header".into(),
            });
        }
        return Err(ReadError::Corrupt {
            path: path.to_path_buf(),
            offset: next,
            what: "the first compressed chunks hold no backup set header".into(),
        });
    }
    // Several sets in the first chunks alone: sets appended in one file.
    if sets.len() + usize::from(open.is_some()) > 1 {
        return read_every_set(src, path, first_piece);
    }
    // The final header of the last set is near the end of the file.
    let mut final_header = None;
    for window in TAIL_SEARCH {
        let tail_start = len.saturating_sub(window).max(next);
        final_header = find_final_header(src, path, tail_start, len)?;
        if final_header.is_some() || tail_start == next {
            break;
        }
    }
    // Without it the set would be reported from its start copy alone, as if the file were whole.
    let Some((last, ended)) = final_header else {
        return Err(ReadError::Truncated {
            path: path.to_path_buf(),
            offset: len,
            what: "no end-of-set backup-set header (MSLS block) decodes near the end of the file"
                .into(),
        });
    };
    if !ended {
        return Err(ReadError::Truncated {
            path: path.to_path_buf(),
            offset: len,
            what: "the last backup set has no end-of-set (ESET) block after its final header"
                .into(),
        });
    }
    // The final header near the end is the last set's. When it is not the first set's (the start
    // copy disagrees), more sets follow the first (BACKUP ... WITH NOINIT), or a copy is damaged:
    // walking every set tells which.
    let first_copy = open
        .as_ref()
        .or(sets.first())
        .and_then(|s| s.first.as_ref());
    if first_copy.is_some_and(|f| !disagreements(f, &last).is_empty()) {
        return read_every_set(src, path, first_piece);
    }
    if let Some(o) = open.as_mut() {
        o.last = Some(last);
    } else if let Some(s) = sets.last_mut()
        && s.last.is_none()
    {
        s.last = Some(last);
    }
    if let Some(o) = open.take() {
        sets.push(o);
    }
    check_positions(path, &sets)?;
    sets.iter()
        .map(|raw: &RawSet| to_backup_set(path, &tape, raw, true))
        .collect()
}

/// Every set of a file holding several: the MTF walker over the whole decompressed stream
/// ([`RecordStream`]). It decodes only the records that hold the descriptor blocks it reads (the
/// first and last few of each set) and skips the data streams by their lengths; every other record
/// costs the 4 bytes of its header.
fn read_every_set<S: Source>(
    src: &mut S,
    path: &Path,
    first: Piece,
) -> Result<Vec<BackupSet>, ReadError> {
    let file_len = src.len();
    let mut stream = RecordStream::index(src, first).map_err(|e| io_err(path, e))?;
    let w = walk(&mut stream, path, Mode::WholeFile).map_err(|e| in_stream(path, e))?;
    finish_walk(path, &w, file_len, true).map_err(|e| in_stream(path, e))
}

/// Errors from walking the decompressed stream: an undecodable record is corruption at its file
/// offset; other offsets are positions in the decompressed stream, and say so.
fn in_stream(path: &Path, e: ReadError) -> ReadError {
    match stream_err(path, e) {
        ReadError::Corrupt { path, offset, what } if !what.starts_with("the compressed record") => {
            ReadError::Corrupt {
                path,
                offset,
                what: format!("{what} (an offset in the decompressed backup stream)"),
            }
        }
        other => other,
    }
}

/// Decodes every record that can be found in `[from, to)` (each candidate tried at every offset, so a
/// false start cannot hide a real record), joins the ones that follow each other, and looks for an
/// MSLS block with its MQCI stream. Returns the last one found and whether an ESET block (end of set)
/// follows it.
fn find_final_header<S: Source>(
    src: &mut S,
    path: &Path,
    from: u64,
    to: u64,
) -> Result<Option<(scin::Scin, bool)>, ReadError> {
    // The window is read once: candidates at every offset (most of them false starts whose declared
    // chunk runs far) then cost no further reads. Offsets below are relative to `from`.
    let tail = src
        .read_at(from, (to - from) as usize)
        .map_err(|e| io_err(path, e))?
        .to_vec();
    let mut tail_src = MemSource { data: &tail };
    let mut decoded: Vec<(u64, u64, Vec<u8>)> = Vec::new();
    let mut at = 0;
    while at + super::records::RECORD_HEADER_LEN < tail.len() as u64 {
        if let Some((chunk, next)) =
            decode_record(&mut tail_src, at).map_err(|e| io_err(path, e))?
        {
            decoded.push((at, next, chunk));
        }
        at += 1;
    }
    // (header, file offset of the record it was found in, whether an ESET follows in the same buffer)
    let mut found: Option<(scin::Scin, u64, bool)> = None;
    for i in 0..decoded.len() {
        // Join record i with the records that directly follow it (at most a few, enough for one block).
        let mut buf = decoded[i].2.clone();
        let mut end = decoded[i].1;
        for _ in 0..4 {
            let Some(n) = decoded.iter().find(|d| d.0 == end) else {
                break;
            };
            buf.extend_from_slice(&n.2);
            end = n.1;
        }
        if let Some((s, at)) = scan_for_msls(&buf) {
            found = Some((s, decoded[i].0, has_dblk(&buf, mtf::ESET, at)));
        }
    }
    Ok(found.map(|(s, record_at, eset_here)| {
        let eset_later = decoded
            .iter()
            .any(|d| d.0 > record_at && has_dblk(&d.2, mtf::ESET, 0));
        (s, eset_here || eset_later)
    }))
}

/// Whether `buf` holds a valid descriptor block header of type `kind` at or after `from`.
fn has_dblk(buf: &[u8], kind: [u8; 4], from: usize) -> bool {
    (from..buf.len().saturating_sub(DBLK_HEADER_LEN)).any(|i| {
        buf[i..i + 4] == kind && DblkHeader::parse(&buf[i..]).is_some_and(|h| h.kind == kind)
    })
}

/// The last MSLS block in `buf` whose MQCI stream decodes, and where it starts.
fn scan_for_msls(buf: &[u8]) -> Option<(scin::Scin, usize)> {
    let mut found = None;
    for i in 0..buf.len().saturating_sub(DBLK_HEADER_LEN) {
        if buf[i..i + 4] != mtf::MSLS {
            continue;
        }
        let Some(h) = DblkHeader::parse(&buf[i..]) else {
            continue;
        };
        let s = i + h.first_stream_offset as usize;
        let Some(sh) = buf.get(s..).and_then(StreamHeader::parse) else {
            continue;
        };
        if sh.id != mtf::MQCI {
            continue;
        }
        let data_at = s + STREAM_HEADER_LEN;
        let Some(data) = buf.get(data_at..data_at + sh.length as usize) else {
            continue;
        };
        if let Ok(sc) = scin::decode(data) {
            found = Some((sc, i));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::records::record_header_at;

    /// The real compressed sample, when `../shared` is beside the project (on CI it must be).
    fn sample() -> Option<(PathBuf, Vec<u8>)> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(
            "../../../shared/samples/appveyor-lab/compressed/SharePoint_Config_compressed.bak",
        );
        match std::fs::read(&path) {
            Ok(data) => Some((path, data)),
            Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
                panic!("{}: {e}: CI must run beside shared/", path.display())
            }
            Err(e) => {
                eprintln!("SKIPPED: {}: {e}", path.display());
                None
            }
        }
    }

    /// The walk over every record (the path taken for appended sets) on a real SQL Server file: its
    /// pieces (records, the raw filemarks between them, padding) give a whole MTF stream, and the set
    /// read from it equals the one read from the first records and the tail.
    #[test]
    fn walking_every_record_of_the_real_sample_reads_the_same_set() {
        let Some((path, data)) = sample() else {
            return;
        };
        let fast = read_compressed(&mut MemSource { data: &data }, &path).expect("fast path");
        let mut src = MemSource { data: &data };
        let first_at = 480;
        let header = record_header_at(&mut src, first_at)
            .expect("read")
            .expect("the first record of the sample is at byte 480");
        let first = Piece {
            at: first_at,
            kind: PieceKind::Record(header),
        };
        let walked = read_every_set(&mut src, &path, first).expect("walk");
        assert_eq!(walked, fast);
        assert_eq!(walked.len(), 1);
        let stream = RecordStream::index(&mut src, first).expect("index");
        // TAPE record, 227 data records, the end-of-set record, three raw filemarks.
        assert_eq!(stream.len(), 14_767_104 + 3 * 512);
    }
}
