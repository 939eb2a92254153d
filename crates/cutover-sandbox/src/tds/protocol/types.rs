//! What decoding parameters and encoding rows share: the TDS data type bytes (MS-TDS 2.2.5.4), the
//! PLP NULL length, the DATETIME / DATETIME2 epochs, and code page 1252 for single-byte text.

use time::Date;
use time::macros::date;

// TDS data types (2.2.5.4).
pub(super) const NULLTYPE: u8 = 0x1F;
pub(super) const INT1: u8 = 0x30;
pub(super) const BIT: u8 = 0x32;
pub(super) const INT2: u8 = 0x34;
pub(super) const INT4: u8 = 0x38;
pub(super) const DATETIM4: u8 = 0x3A;
pub(super) const DATETIME: u8 = 0x3D;
pub(super) const INT8: u8 = 0x7F;
pub(super) const INTN: u8 = 0x26;
pub(super) const BITN: u8 = 0x68;
pub(super) const DECIMALN: u8 = 0x6A;
pub(super) const NUMERICN: u8 = 0x6C;
pub(super) const DATETIMEN: u8 = 0x6F;
pub(super) const DATEN: u8 = 0x28;
pub(super) const DATETIME2N: u8 = 0x2A;
pub(super) const BIGVARCHAR: u8 = 0xA7;
pub(super) const BIGCHAR: u8 = 0xAF;
pub(super) const NVARCHAR: u8 = 0xE7;
pub(super) const NCHAR: u8 = 0xEF;

/// PLP total length of NULL (2.2.5.2.3).
pub(super) const PLP_NULL: u64 = u64::MAX;

pub(super) const DATETIME_EPOCH: Date = date!(1900 - 01 - 01);
pub(super) const DATETIME2_EPOCH: Date = date!(0001 - 01 - 01);
pub(super) const DATETIME_MIN: Date = date!(1753 - 01 - 01);
/// 1/300 s ticks in a day.
pub(super) const TICKS_PER_DAY: u64 = 300 * 86_400;

/// Windows-1252 bytes 0x80..=0x9F (the rest is Latin-1; the 5 unassigned bytes map to themselves,
/// as WHATWG and encoding_rs do).
const CP1252_HIGH: [char; 32] = [
    '\u{20AC}', '\u{81}', '\u{201A}', '\u{192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}',
    '\u{2C6}', '\u{2030}', '\u{160}', '\u{2039}', '\u{152}', '\u{8D}', '\u{17D}', '\u{8F}',
    '\u{90}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}',
    '\u{2DC}', '\u{2122}', '\u{161}', '\u{203A}', '\u{153}', '\u{9D}', '\u{17E}', '\u{178}',
];

/// Single-byte text in the server collation's code page (1252).
pub(super) fn cp1252_decode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            0x80..=0x9F => CP1252_HIGH[(b - 0x80) as usize],
            _ => b as char,
        })
        .collect()
}

/// Encodes to code page 1252; characters it lacks become '?', as SQL Server converts them.
pub(super) fn cp1252_encode(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| match c as u32 {
            v @ (0..=0x7F | 0xA0..=0xFF) => v as u8,
            _ => CP1252_HIGH
                .iter()
                .position(|h| *h == c)
                .map_or(b'?', |i| 0x80 + i as u8),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cp1252_round_trips() {
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(cp1252_encode(&cp1252_decode(&all)), all);
        assert_eq!(cp1252_decode(&[0x80, 0x9F, 0xE9]), "€Ÿé");
    }
}
