//! Writes backup files in the real on-disk format (MTF blocks, MQCI/SCIN header, page payload), block for
//! block as SQL Server lays them out. Used by tests, the sandbox and the demo to make new full,
//! differential and log backups whose LSNs continue a chain.

use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::Path;

use time::PrimitiveDateTime;

use super::header::BackupType;
use super::lsn::Lsn;
use super::mtf::{
    self, LOGICAL_BLOCK, SFMB_LEN, STREAM_HEADER_LEN, encode_date, parse_guid, put_u16, put_u32,
    stream_header_bytes, write_dblk_header,
};
use super::scin::{self, Scin};

/// How the data pages of a set are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    /// 8 KiB pages, each with a small page header carrying its page id and the set's LSN: distinct
    /// content per backup (what upload tests need).
    Pages,
    /// A hole: the file is extended without writing (multi-GB test files in no disk space).
    Sparse,
    /// 8 KiB pages of pseudo-random bytes (derived from the set's LSN and the page id, so stable):
    /// what already compressed or encrypted data looks like, which XPRESS cannot shrink (compressed
    /// files of a real size from few pages).
    Noise,
}

/// Everything that defines one backup set to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetSpec {
    pub database_name: String,
    pub server_name: String,
    pub backup_type: BackupType,
    pub first_lsn: Lsn,
    pub last_lsn: Lsn,
    pub checkpoint_lsn: Lsn,
    pub database_backup_lsn: Lsn,
    pub differential_base_lsn: Lsn,
    pub differential_base_guid: String,
    pub checksums: bool,
    pub copy_only: bool,
    pub version: (u8, u8, u16),
    pub database_version: u16,
    pub compatibility_level: u8,
    pub created: Option<PrimitiveDateTime>,
    pub start: Option<PrimitiveDateTime>,
    pub finish: Option<PrimitiveDateTime>,
    pub collation: String,
    pub family_guid: String,
    /// Bytes of data pages (full/diff) or log (log backups) in the set.
    pub data_bytes: u64,
    pub payload: Payload,
    /// A TDE database's encryptor thumbprint, written in a `scin::TDE_TAG` chunk.
    pub tde_thumbprint: Option<[u8; 20]>,
}

/// The media (file) level: stripes share a media set GUID and count, each file has its sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaSpec {
    pub media_set_guid: String,
    pub family_count: u16,
    pub family_sequence: u16,
    pub media_date: Option<PrimitiveDateTime>,
}

/// A deterministic GUID in SQL Server's printed form (`XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX`),
/// derived from `seed` with FNV-1a, so it is stable across runs and Rust versions: the family and
/// media set GUIDs of written backups (tests, sandbox, benches) that must not change between runs.
pub fn guid_from(seed: &str) -> String {
    let mut bytes = [0u8; 16];
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        for b in seed.bytes().chain([i as u8]) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        chunk.copy_from_slice(&h.to_le_bytes());
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

impl SetSpec {
    /// The SCIN flags word SQL Server writes for these options.
    pub fn flags(&self) -> u32 {
        let mut f = scin::FLAG_ALWAYS;
        if self.checksums {
            f |= scin::FLAG_CHECKSUMS;
        }
        if self.copy_only {
            f |= scin::FLAG_COPY_ONLY;
        }
        if matches!(
            self.backup_type,
            BackupType::Diff | BackupType::FileDiff | BackupType::PartialDiff
        ) {
            f |= scin::FLAG_DIFFERENTIAL;
        }
        f
    }

    /// The size RESTORE HEADERONLY reports for the set: its blocks and payload.
    pub fn backup_size(&self) -> u64 {
        let pages = self.data_bytes.div_ceil(8192) * 8192;
        pages + 8 * LOGICAL_BLOCK
    }

    fn scin(&self, final_copy: bool) -> Scin {
        Scin {
            flags: self.flags(),
            version: self.version,
            first_lsn: self.first_lsn,
            last_lsn: self.last_lsn,
            checkpoint_lsn: self.checkpoint_lsn,
            database_backup_lsn: self.database_backup_lsn,
            created: self.created,
            start: self.start,
            // The start-of-set copy has no finish date yet, as SQL Server writes it.
            finish: if final_copy { self.finish } else { None },
            backup_type: self.backup_type,
            compatibility_level: self.compatibility_level,
            database_version: self.database_version,
            backup_size: self.backup_size(),
            database_name: self.database_name.clone(),
            server_name: self.server_name.clone(),
            family_guid: self.family_guid.clone(),
            collation: self.collation.clone(),
            differential_base_lsn: self.differential_base_lsn,
            differential_base_guid: self.differential_base_guid.clone(),
            tde_thumbprint: self.tde_thumbprint,
        }
    }
}

/// The MQCI stream: SCIN, then the filegroup (SFGI) and file (SFIN) chunks.
fn mqci_stream(set: &SetSpec, final_copy: bool) -> Vec<u8> {
    let mut out = scin::encode(&set.scin(final_copy));
    let mut chunk = |tag: &[u8; 4], name: &str, min: usize| {
        let mut c = Vec::with_capacity(min);
        c.extend_from_slice(tag);
        c.extend_from_slice(&[0; 4]);
        c.extend_from_slice(&[0; 24]);
        for u in name.encode_utf16() {
            c.extend_from_slice(&u.to_le_bytes());
        }
        if c.len() < min {
            c.resize(min, 0);
        }
        let l = c.len() as u32;
        c[4..8].copy_from_slice(&l.to_le_bytes());
        out.extend_from_slice(&c);
    };
    chunk(b"SFGI", "PRIMARY", 238);
    chunk(b"SFIN", &set.database_name, 1230);
    chunk(b"SFIN", &format!("{}_log", set.database_name), 1246);
    if let Some(t) = set.tde_thumbprint {
        out.extend_from_slice(&scin::TDE_TAG);
        out.extend_from_slice(&32u32.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(&t);
    }
    out
}

/// A descriptor block: header with `fso` bytes of fixed area (filled by `fixed`), the given streams,
/// and the SPAD stream that pads the block to a multiple of the logical block size.
fn block(
    kind: [u8; 4],
    fso: u16,
    fixed: impl FnOnce(&mut [u8]),
    streams: &[([u8; 4], &[u8])],
) -> Vec<u8> {
    let mut b = vec![0u8; fso as usize];
    fixed(&mut b);
    write_dblk_header(&mut b, kind, 0, fso);
    for (id, data) in streams {
        b.extend_from_slice(&stream_header_bytes(*id, data.len() as u64));
        b.extend_from_slice(data);
        while !b.len().is_multiple_of(4) {
            b.push(0);
        }
    }
    pad_block(&mut b);
    b
}

/// Appends the SPAD stream that ends a block at the next logical-block multiple.
fn pad_block(b: &mut Vec<u8>) {
    let lb = LOGICAL_BLOCK as usize;
    let mut end = (b.len() + STREAM_HEADER_LEN).div_ceil(lb) * lb;
    if end - b.len() < STREAM_HEADER_LEN {
        end += lb;
    }
    let pad = end - b.len() - STREAM_HEADER_LEN;
    b.extend_from_slice(&stream_header_bytes(mtf::SPAD, pad as u64));
    b.resize(end, 0);
}

pub(crate) fn sfmb() -> Vec<u8> {
    let mut b = vec![0u8; SFMB_LEN as usize];
    write_dblk_header(&mut b, mtf::SFMB, 0, SFMB_LEN as u16);
    b
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()
}

fn tape_block(media: &MediaSpec) -> Vec<u8> {
    let mut raid = [0u8; 32];
    if let Some(g) = parse_guid(&media.media_set_guid) {
        raid[0..16].copy_from_slice(&g);
    }
    put_u16(&mut raid, 20, media.family_count.max(1));
    put_u16(&mut raid, 24, media.family_sequence.max(1));
    put_u16(&mut raid, 26, 1);
    let software = utf16("Microsoft SQL Server");
    let mut b = block(
        mtf::TAPE,
        140,
        |b| {
            // MTF_TAPE: attributes at 4 (header) are 0; soft filemark size 64, logical block 84,
            // media date 88, MTF major version 93, software name (tape address) 80.
            put_u16(b, 64, 1);
            put_u16(b, 84, LOGICAL_BLOCK as u16);
            b[88..93].copy_from_slice(&encode_date(media.media_date));
            b[93] = 1;
            let off = 140 - software.len().min(80);
            put_u16(b, 80, software.len().min(80) as u16);
            put_u16(b, 82, off as u16);
            let n = software.len().min(80);
            b[off..off + n].copy_from_slice(&software[..n]);
        },
        &[(mtf::RAID, &raid)],
    );
    // TAPE attributes as SQL Server sets them (0x30000).
    write_dblk_header(&mut b, mtf::TAPE, 0x30000, 140);
    b
}

fn sset_block(set: &SetSpec, position: u16) -> Vec<u8> {
    let user = utf16("NT AUTHORITY\\SYSTEM");
    let attr: u32 = match set.backup_type {
        BackupType::Diff | BackupType::FileDiff | BackupType::PartialDiff => 0x8,
        _ => 0x4,
    };
    block(
        mtf::SSET,
        180,
        |b| {
            put_u32(b, 52, attr);
            put_u16(b, 62, position);
            let n = user.len().min(180 - 100);
            put_u16(b, 76, n as u16);
            put_u16(b, 78, 100);
            b[100..100 + n].copy_from_slice(&user[..n]);
            b[88..93].copy_from_slice(&encode_date(set.start));
        },
        &[],
    )
}

/// Number of empty MSTL blocks SQL Server writes after the log of every set (seen in the samples).
const TRAILING_MSTL: usize = 17;
/// Bytes of log a full or differential backup carries after its data pages.
const FULL_LOG_BYTES: u64 = 65536;

/// The stream SQL Server writes after the data of a block in a backup taken WITH CHECKSUM.
const CSUM: [u8; 4] = *b"CSUM";

/// Writes one data block (MSDA with MQDA, or MSTL with MQTL) whose payload starts on a 512-byte boundary.
/// With `checksum` the data stream is followed by a 4-byte CSUM stream, as in WITH CHECKSUM backups.
fn write_data_block<W: Write + Seek>(
    w: &mut W,
    kind: [u8; 4],
    stream: [u8; 4],
    bytes: u64,
    payload: Payload,
    lsn: Lsn,
    checksum: bool,
) -> io::Result<()> {
    let start = w.stream_position()?;
    let fso: u16 = if kind == mtf::MSDA { 60 } else { 596 };
    let mut head = vec![0u8; fso as usize];
    write_dblk_header(&mut head, kind, 0, fso);
    // APAD so that the payload (after a 2-byte prefix) starts on a 512-byte boundary, as in the samples
    // (where the MSDA pad is one sector longer than needed).
    let apad_data_at = start + fso as u64 + STREAM_HEADER_LEN as u64;
    let mut apad = (512 - (apad_data_at + STREAM_HEADER_LEN as u64 + 2) % 512) % 512;
    if kind == mtf::MSDA {
        apad += 512;
    }
    head.extend_from_slice(&stream_header_bytes(mtf::APAD, apad));
    head.resize(head.len() + apad as usize, 0);
    head.extend_from_slice(&stream_header_bytes(stream, bytes + 2));
    head.extend_from_slice(&[0, 0]);
    w.write_all(&head)?;
    write_payload(w, bytes, payload, lsn)?;
    // Stream data padded to 4, then (MSDA only) the empty MQDA stream, then SPAD.
    let mut tail = Vec::new();
    let pos = w.stream_position()?;
    let rel = (pos - start) as usize;
    tail.resize((4 - rel % 4) % 4, 0);
    if checksum {
        // The value's algorithm is not known (the reader does not check it); zero, which a real
        // sample also carries.
        tail.extend_from_slice(&stream_header_bytes(CSUM, 4));
        tail.extend_from_slice(&[0; 4]);
        while !(rel + tail.len()).is_multiple_of(4) {
            tail.push(0);
        }
    }
    if kind == mtf::MSDA {
        tail.extend_from_slice(&stream_header_bytes(mtf::MQDA, 0));
        while !(rel + tail.len()).is_multiple_of(4) {
            tail.push(0);
        }
    }
    // Pad the block to a logical-block multiple (relative to its start).
    let mut fake = vec![0u8; rel + tail.len()];
    pad_block(&mut fake);
    tail.extend_from_slice(&fake[rel + tail.len()..]);
    w.write_all(&tail)
}

fn write_payload<W: Write + Seek>(
    w: &mut W,
    bytes: u64,
    payload: Payload,
    lsn: Lsn,
) -> io::Result<()> {
    match payload {
        Payload::Sparse => {
            w.seek(SeekFrom::Current(bytes as i64))?;
        }
        Payload::Noise => {
            let mut x = u64::from(lsn.vlf) << 32 | u64::from(lsn.block) | 1;
            let mut page = vec![0u8; 8192];
            let mut left = bytes;
            while left > 0 {
                for b in page.chunks_mut(8) {
                    // xorshift64*
                    x ^= x >> 12;
                    x ^= x << 25;
                    x ^= x >> 27;
                    let v = x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
                    b.copy_from_slice(&v[..b.len()]);
                }
                let n = left.min(8192) as usize;
                w.write_all(&page[..n])?;
                left -= n as u64;
            }
        }
        Payload::Pages => {
            let mut page = vec![0u8; 8192];
            let mut left = bytes;
            let mut id: u32 = 0;
            while left > 0 {
                page.iter_mut().for_each(|b| *b = 0);
                // A page header: type 1, page id, file id 1, m_lsn.
                page[0] = 1;
                page[1] = 1;
                put_u32(&mut page, 32, id);
                put_u16(&mut page, 36, 1);
                page[46..56].copy_from_slice(&lsn.to_le_bytes());
                let n = left.min(8192) as usize;
                w.write_all(&page[..n])?;
                left -= n as u64;
                id = id.wrapping_add(1);
            }
        }
    }
    Ok(())
}

/// Where the writer puts the MTF stream: a plain file, or the records of a compressed one. Filemarks
/// are their own call because a compressed file keeps them out of its records.
pub(crate) trait MtfOut: Write + Seek {
    fn filemark(&mut self) -> io::Result<()> {
        self.write_all(&sfmb())
    }
}

impl<W: Write + Seek> MtfOut for BufWriter<W> {}

/// Writes a backup file with one or more sets (more than one = appended WITH NOINIT). Creates or
/// truncates `path`; never used on user files.
pub fn write_backup(path: &Path, media: &MediaSpec, sets: &[SetSpec]) -> io::Result<()> {
    let file = File::create(path)?;
    let mut w = BufWriter::with_capacity(256 * 1024, file);
    write_mtf(&mut w, media, sets)?;
    w.flush()?;
    let file = w.into_inner().map_err(|e| e.into_error())?;
    file.sync_data()
}

/// Writes the same backup as [`write_backup`] as SQL Server does `WITH COMPRESSION` (the `MSSQLBAK`
/// container of XPRESS-Huffman records, see [`super::compressed_writer`]). With [`Payload::Sparse`]
/// the data pages are a hole in the file: the reader reads a single-set file from its first records
/// and its last ones, never the middle, but a file of several sets is walked record by record and
/// must be written with [`Payload::Pages`] (refused otherwise).
pub fn write_compressed_backup(path: &Path, media: &MediaSpec, sets: &[SetSpec]) -> io::Result<()> {
    if sets.len() > 1 && sets.iter().any(|s| s.payload == Payload::Sparse) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a compressed backup with appended sets needs Payload::Pages: a sparse hole cannot be walked",
        ));
    }
    let file = File::create(path)?;
    let mut w =
        super::compressed_writer::RecordSink::new(BufWriter::with_capacity(256 * 1024, file))?;
    write_mtf(&mut w, media, sets)?;
    let mut inner = w.finish()?;
    inner.flush()?;
    let file = inner.into_inner().map_err(|e| e.into_error())?;
    file.sync_data()
}

/// The MTF stream of a backup file: media header, then each set as SQL Server lays it out.
fn write_mtf<W: MtfOut>(w: &mut W, media: &MediaSpec, sets: &[SetSpec]) -> io::Result<()> {
    w.write_all(&tape_block(media))?;
    w.filemark()?;
    for (i, set) in sets.iter().enumerate() {
        let position = (i + 1) as u16;
        w.write_all(&sset_block(set, position))?;
        w.write_all(&block(mtf::VOLB, 108, |_| {}, &[]))?;
        w.write_all(&block(
            mtf::MSCI,
            56,
            |_| {},
            &[(mtf::MQCI, &mqci_stream(set, false))],
        ))?;
        match set.backup_type {
            // A log backup with no log records (an empty log) has no log data block at all.
            BackupType::Log if set.data_bytes == 0 => {}
            BackupType::Log => {
                write_data_block(
                    w,
                    mtf::MSTL,
                    mtf::MQTL,
                    set.data_bytes,
                    set.payload,
                    set.last_lsn,
                    set.checksums,
                )?;
            }
            _ => {
                write_data_block(
                    w,
                    mtf::MSDA,
                    mtf::MQDA,
                    set.data_bytes,
                    set.payload,
                    set.last_lsn,
                    set.checksums,
                )?;
                write_data_block(
                    w,
                    mtf::MSTL,
                    mtf::MQTL,
                    FULL_LOG_BYTES,
                    Payload::Pages,
                    set.last_lsn,
                    set.checksums,
                )?;
            }
        }
        for _ in 0..TRAILING_MSTL {
            w.write_all(&block(mtf::MSTL, 596, |_| {}, &[]))?;
        }
        w.write_all(&block(
            mtf::MSLS,
            56,
            |_| {},
            &[(mtf::MQCI, &mqci_stream(set, true))],
        ))?;
        w.filemark()?;
        w.write_all(&block(
            mtf::ESET,
            88,
            |_| {},
            &[(mtf::OTCP, &[0u8; 914]), (mtf::TSMP, &[0u8; 254])],
        ))?;
        w.write_all(&block(mtf::ESET, 88, |_| {}, &[]))?;
        w.filemark()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_from_is_stable_and_round_trips() {
        let g = guid_from("family:app");
        assert_eq!(g, guid_from("family:app"));
        assert_ne!(g, guid_from("family:app2"));
        assert_eq!(g, "E89AEBF9-00CA-5801-4410-738EBD0B93D2");
        let bytes = parse_guid(&g).expect("a GUID in SQL Server's form");
        assert_eq!(mtf::format_guid(&bytes), g);
    }
}
