//! The pieces of a compressed backup (`MSSQLBAK` container) and the MTF stream they hold.
//!
//! After the 16-byte file header the file is a sequence of pieces whose outputs, concatenated, are an
//! ordinary MTF stream:
//! - a record: a 28-byte header (u32 at 0: low byte 0x21, next byte = output size / 512, high 16 bits
//!   = compressed size) and one XPRESS-Huffman chunk;
//! - a filemark: a raw 512-byte `SFMB` block on a sector boundary (SQL Server writes the filemarks
//!   between sets uncompressed, as in the samples).
//!
//! Zero padding up to a sector boundary may follow a record. Records carry their lengths, so the
//! pieces are walked by reading 4 bytes per record; only the records that hold a descriptor block the
//! reader needs are decoded ([`RecordStream`]).

use std::io;

use super::mtf::{self, DblkHeader, SFMB_LEN, u32_at};
use super::source::Source;

pub const MAGIC: &[u8] = b"MSSQLBAK";
/// Bytes before the first piece that hold the container header (magic and version).
pub const FILE_HEADER_LEN: u64 = 16;
pub const RECORD_HEADER_LEN: u64 = 28;
pub const SECTOR: u64 = 512;
/// The largest output of one record.
pub const MAX_RECORD_OUTPUT: usize = 128 * 1024;
/// How far past the end of a piece the next one is looked for (padding, a damaged stretch).
pub const RESYNC: u64 = 64 * 1024;
/// A decoder may read a few bytes past the declared compressed size.
const DECODE_SLACK: usize = 16;
/// Pieces between two checkpoints of a [`RecordStream`]'s index.
const CHECKPOINT_EVERY: usize = 256;

/// What a record header declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    /// Bytes the record decodes to (a multiple of 512).
    pub output: usize,
    /// Bytes of the XPRESS chunk after the 28-byte header.
    pub body: usize,
}

impl RecordHeader {
    /// A header word that looks valid.
    pub fn parse(word: u32) -> Option<RecordHeader> {
        if word & 0xFF != 0x21 {
            return None;
        }
        let output = ((word >> 8) & 0xFF) as usize * 512;
        let body = (word >> 16) as usize;
        if output == 0 || output > MAX_RECORD_OUTPUT || body < 256 || body > output + 1024 {
            return None;
        }
        Some(RecordHeader { output, body })
    }

    /// The 28 header bytes (the fields after the size word are zero: the reader does not use them).
    #[cfg(feature = "write")]
    pub fn encode(self) -> Option<[u8; RECORD_HEADER_LEN as usize]> {
        let units = self.output / 512;
        if !self.output.is_multiple_of(512) || units == 0 || units > 0xFF || self.body > 0xFFFF {
            return None;
        }
        let word = 0x21 | (units as u32) << 8 | (self.body as u32) << 16;
        RecordHeader::parse(word)?;
        let mut h = [0u8; RECORD_HEADER_LEN as usize];
        h[0..4].copy_from_slice(&word.to_le_bytes());
        Some(h)
    }
}

/// One piece of the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    /// File offset of the piece.
    pub at: u64,
    pub kind: PieceKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PieceKind {
    Record(RecordHeader),
    Filemark,
}

impl Piece {
    /// Bytes of MTF stream the piece gives.
    pub fn output(&self) -> u64 {
        match self.kind {
            PieceKind::Record(h) => h.output as u64,
            PieceKind::Filemark => SFMB_LEN,
        }
    }

    /// File offset just past the piece.
    pub fn end(&self) -> u64 {
        match self.kind {
            PieceKind::Record(h) => self.at + RECORD_HEADER_LEN + h.body as u64,
            PieceKind::Filemark => self.at + SFMB_LEN,
        }
    }
}

/// The record header at `at` if it looks valid and its chunk ends inside the file (not decoded),
/// read through the source's window: for scans over neighbouring offsets.
pub fn record_header_at<S: Source>(src: &mut S, at: u64) -> io::Result<Option<RecordHeader>> {
    let word = u32_at(src.read_at(at, 4)?, 0);
    Ok(fitting_header(src, at, word))
}

/// The same as [`record_header_at`] for one header far from the last read (walking records by their
/// lengths): 4 bytes read, the window left where it is.
fn record_header_peek<S: Source>(src: &mut S, at: u64) -> io::Result<Option<RecordHeader>> {
    let mut word = [0u8; 4];
    let got = src.peek(at, &mut word)?;
    Ok(fitting_header(
        src,
        at,
        (got == 4).then(|| u32::from_le_bytes(word)),
    ))
}

fn fitting_header<S: Source>(src: &S, at: u64, word: Option<u32>) -> Option<RecordHeader> {
    let h = RecordHeader::parse(word?)?;
    (at + RECORD_HEADER_LEN + h.body as u64 <= src.len()).then_some(h)
}

/// Whether a plausible record header at `at` declares a chunk longer than what is left of the file.
pub fn runs_past_end<S: Source>(src: &mut S, at: u64) -> io::Result<bool> {
    let len = src.len();
    let Some(h) = u32_at(src.read_at(at, 4)?, 0) else {
        return Ok(false);
    };
    Ok(RecordHeader::parse(h).is_some_and(|h| at + RECORD_HEADER_LEN + h.body as u64 > len))
}

/// Decodes the record at `at`: its output and the offset just past it, or `None` when there is no
/// record there or it does not decode to its declared size.
pub fn decode_record<S: Source>(src: &mut S, at: u64) -> io::Result<Option<(Vec<u8>, u64)>> {
    let Some(h) = record_header_at(src, at)? else {
        return Ok(None);
    };
    let body_at = at + RECORD_HEADER_LEN;
    let body = src.read_at(body_at, h.body + DECODE_SLACK)?;
    match xpress_huffman::decompress(body, h.output) {
        Ok(out) if out.len() == h.output => Ok(Some((out, body_at + h.body as u64))),
        _ => Ok(None),
    }
}

/// Whether a raw filemark (`SFMB` descriptor block, checksum valid) is at `at`.
fn filemark_at<S: Source>(src: &mut S, at: u64) -> io::Result<bool> {
    if !at.is_multiple_of(SECTOR) || at + SFMB_LEN > src.len() {
        return Ok(false);
    }
    let head = src.read_at(at, mtf::DBLK_HEADER_LEN)?;
    Ok(DblkHeader::parse(head).is_some_and(|h| h.kind == mtf::SFMB))
}

/// The output of a piece: the decoded record or the filemark's 512 bytes (`None`: does not decode).
pub fn decode_piece<S: Source>(src: &mut S, piece: &Piece) -> io::Result<Option<Vec<u8>>> {
    match piece.kind {
        PieceKind::Record(_) => Ok(decode_record(src, piece.at)?.map(|(out, _)| out)),
        PieceKind::Filemark => {
            let b = src.read_at(piece.at, SFMB_LEN as usize)?;
            Ok((b.len() as u64 == SFMB_LEN).then(|| b.to_vec()))
        }
    }
}

/// The piece that follows a piece ending at `from`: a record header right there is trusted (its
/// chunk is decoded only when its output is needed); otherwise the first filemark on a sector
/// boundary or record that decodes within [`RESYNC`] bytes (padding, raw blocks, damage).
pub fn next_piece<S: Source>(src: &mut S, from: u64) -> io::Result<Option<Piece>> {
    if let Some(h) = record_header_peek(src, from)? {
        return Ok(Some(Piece {
            at: from,
            kind: PieceKind::Record(h),
        }));
    }
    resync(src, from)
}

/// The first filemark or decodable record in `[from, from + RESYNC)`.
pub fn resync<S: Source>(src: &mut S, from: u64) -> io::Result<Option<Piece>> {
    let limit = from.saturating_add(RESYNC).min(src.len());
    let mut at = from;
    while at < limit {
        if filemark_at(src, at)? {
            return Ok(Some(Piece {
                at,
                kind: PieceKind::Filemark,
            }));
        }
        if let Some(h) = record_header_at(src, at)?
            && decode_record(src, at)?.is_some()
        {
            return Ok(Some(Piece {
                at,
                kind: PieceKind::Record(h),
            }));
        }
        at += 1;
    }
    Ok(None)
}

/// A record that a reader needed and that does not decode: carried through `io::Error` by
/// [`RecordStream`] and turned into a "corrupt" error naming the offset by the reader.
#[derive(Debug)]
pub struct UndecodableRecord {
    pub at: u64,
}

impl std::fmt::Display for UndecodableRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the compressed record at byte {} does not decode",
            self.at
        )
    }
}

impl std::error::Error for UndecodableRecord {}

/// The MTF stream of a compressed file as a [`Source`]: an index of the pieces (a checkpoint every
/// [`CHECKPOINT_EVERY`] pieces, built by walking the record headers once) and the output of the few
/// pieces last read. Reading at an offset walks record headers from the nearest checkpoint and decodes
/// only the pieces that hold the bytes asked for, so the MTF walker, which skips data streams by their
/// lengths, decodes a handful of records per backup set.
pub struct RecordStream<'a, S: Source> {
    src: &'a mut S,
    len: u64,
    /// (stream offset, piece) of every `CHECKPOINT_EVERY`-th piece.
    checkpoints: Vec<(u64, Piece)>,
    /// Output of consecutive pieces starting at stream offset `buf_start`.
    buf: Vec<u8>,
    buf_start: u64,
    /// The last piece decoded into `buf` and its stream offset: where a later read continues from.
    cursor: Option<(u64, Piece)>,
}

impl<'a, S: Source> RecordStream<'a, S> {
    /// Indexes the pieces from the one at `first` to the last one found.
    pub fn index(src: &'a mut S, first: Piece) -> io::Result<Self> {
        let mut checkpoints = Vec::new();
        let (mut out, mut piece, mut n) = (0u64, first, 0usize);
        loop {
            if n.is_multiple_of(CHECKPOINT_EVERY) {
                checkpoints.push((out, piece));
            }
            n += 1;
            out += piece.output();
            match next_piece(src, piece.end())? {
                Some(p) => piece = p,
                None => break,
            }
        }
        Ok(RecordStream {
            src,
            len: out,
            checkpoints,
            buf: Vec::new(),
            buf_start: 0,
            cursor: None,
        })
    }

    /// The piece holding stream offset `off`, and its stream offset.
    fn locate(&mut self, off: u64) -> io::Result<Option<(u64, Piece)>> {
        let i = self.checkpoints.partition_point(|(o, _)| *o <= off);
        let Some(&(mut at, mut piece)) = i.checked_sub(1).and_then(|i| self.checkpoints.get(i))
        else {
            return Ok(None);
        };
        if let Some((c_at, c_piece)) = self.cursor
            && c_at <= off
            && c_at > at
        {
            (at, piece) = (c_at, c_piece);
        }
        while at + piece.output() <= off {
            at += piece.output();
            match next_piece(self.src, piece.end())? {
                Some(p) => piece = p,
                None => return Ok(None),
            }
        }
        Ok(Some((at, piece)))
    }

    fn decode(&mut self, piece: &Piece) -> io::Result<Vec<u8>> {
        decode_piece(self.src, piece)?.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                UndecodableRecord { at: piece.at },
            )
        })
    }
}

impl<S: Source> Source for RecordStream<'_, S> {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&mut self, off: u64, n: usize) -> io::Result<&[u8]> {
        let want_end = off.saturating_add(n as u64).min(self.len);
        let have_end = self.buf_start + self.buf.len() as u64;
        if off >= self.buf_start && want_end <= have_end {
            let from = (off - self.buf_start) as usize;
            let to = from + (want_end - off) as usize;
            return Ok(&self.buf[from..to]);
        }
        self.buf.clear();
        let Some((at, mut piece)) = self.locate(off)? else {
            self.buf_start = off;
            return Ok(&[]);
        };
        self.buf_start = at;
        let mut end = at;
        loop {
            let out = self.decode(&piece)?;
            end += out.len() as u64;
            self.buf.extend_from_slice(&out);
            self.cursor = Some((end - out.len() as u64, piece));
            if end >= want_end {
                break;
            }
            match next_piece(self.src, piece.end())? {
                Some(p) => piece = p,
                None => break,
            }
        }
        let from = (off - self.buf_start) as usize;
        let to = ((want_end - self.buf_start) as usize).min(self.buf.len());
        Ok(self.buf.get(from..to).unwrap_or(&[]))
    }
}

// Both tests build records with the writer's encoder.
#[cfg(all(test, feature = "write"))]
mod tests {
    use super::*;
    use crate::source::MemSource;

    #[test]
    fn record_headers_encode_what_they_parse_and_refuse_impossible_sizes() {
        let h = RecordHeader {
            output: 64 * 1024,
            body: 1868,
        };
        let bytes = h.encode().expect("a 64 KiB record");
        // As in the real sample: 0x21, 0x80 (64 KiB / 512), then the compressed size.
        assert_eq!(&bytes[0..4], &[0x21, 0x80, 0x4C, 0x07]);
        assert_eq!(
            RecordHeader::parse(u32::from_le_bytes([0x21, 0x80, 0x4C, 0x07])),
            Some(h)
        );
        for bad in [
            RecordHeader {
                output: 1000,
                body: 300,
            },
            RecordHeader {
                output: 512,
                body: 2000,
            },
            RecordHeader {
                output: 512,
                body: 100,
            },
            RecordHeader {
                output: 256 * 512,
                body: 300,
            },
        ] {
            assert_eq!(bad.encode(), None, "{bad:?}");
        }
    }

    /// Pieces written by hand: a record, padding to a sector, a raw filemark, a record. The walk finds
    /// them in order and the stream view gives their outputs back to back, decoding only what it reads.
    #[test]
    fn pieces_are_walked_over_padding_and_filemarks() {
        let a: Vec<u8> = (0..2048u32).map(|i| (i % 251) as u8).collect();
        let b = vec![7u8; 1024];
        let mut file = vec![0u8; 512];
        file[..8].copy_from_slice(MAGIC);
        let put_record = |file: &mut Vec<u8>, data: &[u8]| {
            let body = crate::xpress::compress(data);
            let h = RecordHeader {
                output: data.len(),
                body: body.len(),
            };
            file.extend_from_slice(&h.encode().expect("header"));
            file.extend_from_slice(&body);
        };
        put_record(&mut file, &a);
        file.resize(file.len().next_multiple_of(512), 0);
        let mark_at = file.len() as u64;
        file.extend_from_slice(&crate::writer::sfmb());
        put_record(&mut file, &b);
        file.resize(file.len().next_multiple_of(512), 0);

        let mut src = MemSource { data: &file };
        let first = next_piece(&mut src, 512)
            .expect("read")
            .expect("first record");
        assert_eq!(first.at, 512);
        let mark = next_piece(&mut src, first.end())
            .expect("read")
            .expect("filemark");
        assert_eq!((mark.at, mark.kind), (mark_at, PieceKind::Filemark));
        let last = next_piece(&mut src, mark.end())
            .expect("read")
            .expect("last record");
        assert_eq!(last.at, mark_at + SFMB_LEN);
        assert_eq!(next_piece(&mut src, last.end()).expect("read"), None);

        let mut stream = RecordStream::index(&mut src, first).expect("index");
        assert_eq!(stream.len(), 2048 + 512 + 1024);
        let across = stream.read_at(2000, 600).expect("read").to_vec();
        assert_eq!(&across[..48], &a[2000..]);
        assert_eq!(&across[48..52], b"SFMB");
        assert_eq!(stream.read_at(2560 + 1000, 100).expect("read"), &b[1000..]);
        // Backwards again: from the index's checkpoint.
        assert_eq!(stream.read_at(10, 4).expect("read"), &a[10..14]);
    }
}
