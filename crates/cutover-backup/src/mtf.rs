//! Microsoft Tape Format primitives shared by the reader and the writer: descriptor block (DBLK) and
//! stream headers, their XOR checksums, and the 5-byte MTF date.

use time::{Date, Month, PrimitiveDateTime, Time};

/// Length of the common header every descriptor block starts with.
pub const DBLK_HEADER_LEN: usize = 52;
/// Length of a stream header.
pub const STREAM_HEADER_LEN: usize = 22;
/// A soft filemark block occupies one 512-byte unit in every sample.
pub const SFMB_LEN: u64 = 512;
/// The format logical block size SQL Server writes (TAPE +84).
pub const LOGICAL_BLOCK: u64 = 1024;

pub const TAPE: [u8; 4] = *b"TAPE";
pub const SFMB: [u8; 4] = *b"SFMB";
pub const SSET: [u8; 4] = *b"SSET";
pub const VOLB: [u8; 4] = *b"VOLB";
pub const MSCI: [u8; 4] = *b"MSCI";
pub const MSDA: [u8; 4] = *b"MSDA";
pub const MSTL: [u8; 4] = *b"MSTL";
pub const MSLS: [u8; 4] = *b"MSLS";
pub const ESET: [u8; 4] = *b"ESET";
pub const EOTM: [u8; 4] = *b"EOTM";

pub const SPAD: [u8; 4] = *b"SPAD";
pub const APAD: [u8; 4] = *b"APAD";
pub const RAID: [u8; 4] = *b"RAID";
pub const MQCI: [u8; 4] = *b"MQCI";
pub const MQDA: [u8; 4] = *b"MQDA";
pub const MQTL: [u8; 4] = *b"MQTL";
pub const OTCP: [u8; 4] = *b"OTCP";
pub const TSMP: [u8; 4] = *b"TSMP";

/// Descriptor block types the reader knows.
pub const KNOWN_DBLKS: [[u8; 4]; 10] = [TAPE, SFMB, SSET, VOLB, MSCI, MSDA, MSTL, MSLS, ESET, EOTM];

/// XOR of the little-endian 16-bit words of `bytes` (even length). A valid header XORs to zero.
pub fn xor16(bytes: &[u8]) -> u16 {
    bytes
        .chunks_exact(2)
        .fold(0u16, |acc, w| acc ^ u16::from_le_bytes([w[0], w[1]]))
}

pub fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at + 2).map(|s| u16::from_le_bytes([s[0], s[1]]))
}

pub fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

pub fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    let s = b.get(at..at + 8)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(u64::from_le_bytes(a))
}

#[cfg(feature = "write")]
pub fn put_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

#[cfg(feature = "write")]
pub fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

#[cfg(feature = "write")]
pub fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// The common header of a descriptor block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DblkHeader {
    pub kind: [u8; 4],
    pub attributes: u32,
    pub first_stream_offset: u16,
}

impl DblkHeader {
    /// Parses and checksums the 52-byte common header. `None` if it is not a valid DBLK header.
    pub fn parse(b: &[u8]) -> Option<DblkHeader> {
        let h = b.get(..DBLK_HEADER_LEN)?;
        if xor16(h) != 0 {
            return None;
        }
        let mut kind = [0u8; 4];
        kind.copy_from_slice(&h[0..4]);
        if !KNOWN_DBLKS.contains(&kind) {
            return None;
        }
        Some(DblkHeader {
            kind,
            attributes: u32_at(h, 4)?,
            first_stream_offset: u16_at(h, 8)?,
        })
    }

    pub fn kind_str(&self) -> String {
        String::from_utf8_lossy(&self.kind).into_owned()
    }
}

/// Writes a DBLK common header into `b[..52]`, including the checksum word at 50.
#[cfg(feature = "write")]
pub fn write_dblk_header(b: &mut [u8], kind: [u8; 4], attributes: u32, first_stream_offset: u16) {
    b[0..4].copy_from_slice(&kind);
    put_u32(b, 4, attributes);
    put_u16(b, 8, first_stream_offset);
    // OS id / version as SQL Server writes them (0x0e, 0x01), string type 2 (Unicode).
    b[10] = 0x0e;
    b[11] = 0x01;
    b[48] = 0x02;
    put_u16(b, 50, 0);
    let sum = xor16(&b[..DBLK_HEADER_LEN]);
    put_u16(b, 50, sum);
}

/// A stream header: id, data length and whether its checksum held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamHeader {
    pub id: [u8; 4],
    pub length: u64,
    pub encryption: u16,
    pub compression: u16,
}

impl StreamHeader {
    pub fn parse(b: &[u8]) -> Option<StreamHeader> {
        let h = b.get(..STREAM_HEADER_LEN)?;
        if xor16(h) != 0 {
            return None;
        }
        let mut id = [0u8; 4];
        id.copy_from_slice(&h[0..4]);
        Some(StreamHeader {
            id,
            length: u64_at(h, 8)?,
            encryption: u16_at(h, 16)?,
            compression: u16_at(h, 18)?,
        })
    }

    pub fn id_str(&self) -> String {
        String::from_utf8_lossy(&self.id).into_owned()
    }

    /// Offset just past this stream's data (padded to 4 bytes), from the header at `at`.
    pub fn end(&self, at: u64) -> Option<u64> {
        let end = at
            .checked_add(STREAM_HEADER_LEN as u64)?
            .checked_add(self.length)?;
        end.checked_add(3).map(|e| e & !3)
    }
}

#[cfg(feature = "write")]
pub fn stream_header_bytes(id: [u8; 4], length: u64) -> [u8; STREAM_HEADER_LEN] {
    let mut b = [0u8; STREAM_HEADER_LEN];
    b[0..4].copy_from_slice(&id);
    put_u64(&mut b, 8, length);
    let sum = xor16(&b);
    put_u16(&mut b, 20, sum);
    b
}

/// Decodes a 5-byte MTF date (big-endian bit packing: 14 bits year, 4 month, 5 day, 5 hour, 6 minute,
/// 6 second). All-zero means "not set".
pub fn decode_date(b: &[u8]) -> Option<PrimitiveDateTime> {
    let b = b.get(..5)?;
    let v = b.iter().fold(0u64, |acc, &x| (acc << 8) | x as u64);
    if v == 0 {
        return None;
    }
    let year = (v >> 26) as i32;
    let month = ((v >> 22) & 0xF) as u8;
    let day = ((v >> 17) & 0x1F) as u8;
    let hour = ((v >> 12) & 0x1F) as u8;
    let minute = ((v >> 6) & 0x3F) as u8;
    let second = (v & 0x3F) as u8;
    let date = Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()?;
    let time = Time::from_hms(hour, minute, second).ok()?;
    Some(PrimitiveDateTime::new(date, time))
}

#[cfg(feature = "write")]
pub fn encode_date(dt: Option<PrimitiveDateTime>) -> [u8; 5] {
    let Some(dt) = dt else { return [0; 5] };
    let v: u64 = ((dt.year() as u64 & 0x3FFF) << 26)
        | ((u8::from(dt.month()) as u64) << 22)
        | ((dt.day() as u64) << 17)
        | ((dt.hour() as u64) << 12)
        | ((dt.minute() as u64) << 6)
        | dt.second() as u64;
    let mut out = [0u8; 5];
    for (i, o) in out.iter_mut().enumerate() {
        *o = (v >> (8 * (4 - i))) as u8;
    }
    out
}

/// Formats a 16-byte GUID the way SQL Server prints a uniqueidentifier.
pub fn format_guid(b: &[u8]) -> String {
    if b.len() < 16 {
        return String::new();
    }
    format!(
        "{:02X}{:02X}{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}{:02X}{:02X}{:02X}{:02X}",
        b[3],
        b[2],
        b[1],
        b[0],
        b[5],
        b[4],
        b[7],
        b[6],
        b[8],
        b[9],
        b[10],
        b[11],
        b[12],
        b[13],
        b[14],
        b[15]
    )
}

/// Parses the SQL Server GUID form back into its 16 bytes.
#[cfg(feature = "write")]
pub fn parse_guid(s: &str) -> Option<[u8; 16]> {
    let hex: String = s.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 {
        return None;
    }
    let mut raw = [0u8; 16];
    for (i, r) in raw.iter_mut().enumerate() {
        *r = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    let mut b = raw;
    b[0..4].copy_from_slice(&[raw[3], raw[2], raw[1], raw[0]]);
    b[4..6].copy_from_slice(&[raw[5], raw[4]]);
    b[6..8].copy_from_slice(&[raw[7], raw[6]]);
    Some(b)
}

// Every test round-trips through the writer's encoders.
#[cfg(all(test, feature = "write"))]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn date_round_trip() {
        let d = datetime!(2018-12-21 11:26:31);
        assert_eq!(decode_date(&encode_date(Some(d))), Some(d));
        assert_eq!(decode_date(&[0; 5]), None);
    }

    #[test]
    fn dblk_header_checksum() {
        let mut b = [0u8; 64];
        write_dblk_header(&mut b, SSET, 0, 180);
        let h = DblkHeader::parse(&b).expect("valid header");
        assert_eq!(h.kind, SSET);
        assert_eq!(h.first_stream_offset, 180);
        b[20] ^= 1;
        assert!(DblkHeader::parse(&b).is_none());
    }

    #[test]
    fn guid_round_trip() {
        let g = [1u8, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
        let s = format_guid(&g);
        assert_eq!(s, "04030201-0605-0807-090A-0B0C0D0E0F10");
        assert_eq!(parse_guid(&s), Some(g));
    }
}
