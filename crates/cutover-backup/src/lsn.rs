//! Log sequence numbers.
//!
//! SQL Server stores an LSN as (VLF sequence u32, log block u32, slot u16) and prints it as the decimal
//! `vlf * 10^15 + block * 10^5 + slot`, which exceeds 2^63, so the decimal form is computed in u128.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A log sequence number. Ordering is the numeric ordering of the decimal form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Lsn {
    pub vlf: u32,
    pub block: u32,
    pub slot: u16,
}

const BLOCK_FACTOR: u128 = 100_000;
const VLF_FACTOR: u128 = 1_000_000_000_000_000;

impl Lsn {
    pub const ZERO: Lsn = Lsn {
        vlf: 0,
        block: 0,
        slot: 0,
    };

    pub fn new(vlf: u32, block: u32, slot: u16) -> Self {
        Lsn { vlf, block, slot }
    }

    /// Decodes the 10-byte on-disk form (u32 vlf, u32 block, u16 slot, little-endian).
    pub fn from_le_bytes(b: [u8; 10]) -> Self {
        Lsn {
            vlf: u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            block: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
            slot: u16::from_le_bytes([b[8], b[9]]),
        }
    }

    pub fn to_le_bytes(self) -> [u8; 10] {
        let mut out = [0u8; 10];
        out[0..4].copy_from_slice(&self.vlf.to_le_bytes());
        out[4..8].copy_from_slice(&self.block.to_le_bytes());
        out[8..10].copy_from_slice(&self.slot.to_le_bytes());
        out
    }

    /// The decimal value SQL Server prints (e.g. in RESTORE HEADERONLY and msdb).
    pub fn as_decimal(self) -> u128 {
        self.vlf as u128 * VLF_FACTOR + self.block as u128 * BLOCK_FACTOR + self.slot as u128
    }

    pub fn is_zero(self) -> bool {
        self == Lsn::ZERO
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_decimal())
    }
}

/// Why a decimal string is not an LSN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LsnParseError {
    #[error("'{0}' is not a decimal LSN (digits only, e.g. 24000000011700034)")]
    NotDecimal(String),
    #[error("'{0}' is not a valid LSN: block or slot part out of range")]
    OutOfRange(String),
}

impl FromStr for Lsn {
    type Err = LsnParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(LsnParseError::NotDecimal(s.to_string()));
        }
        let v: u128 = t
            .parse()
            .map_err(|_| LsnParseError::OutOfRange(s.to_string()))?;
        let vlf = v / VLF_FACTOR;
        let rest = v % VLF_FACTOR;
        let block = rest / BLOCK_FACTOR;
        let slot = rest % BLOCK_FACTOR;
        let (Ok(vlf), Ok(block), Ok(slot)) = (
            u32::try_from(vlf),
            u32::try_from(block),
            u16::try_from(slot),
        ) else {
            return Err(LsnParseError::OutOfRange(s.to_string()));
        };
        Ok(Lsn { vlf, block, slot })
    }
}

impl Serialize for Lsn {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Lsn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn prints_sql_server_decimal_form() {
        let l = Lsn::new(24, 117, 34);
        assert_eq!(l.to_string(), "24000000011700034");
    }

    #[test]
    fn exceeds_i64() {
        let l = Lsn::new(u32::MAX, u32::MAX, u16::MAX);
        assert!(l.as_decimal() > i64::MAX as u128);
        assert_eq!(l.to_string().parse::<Lsn>(), Ok(l));
    }

    #[test]
    fn rejects_garbage() {
        assert!("12a".parse::<Lsn>().is_err());
        assert!("".parse::<Lsn>().is_err());
        // slot part 99999 does not fit in u16
        assert!("99999".parse::<Lsn>().is_err());
    }

    proptest! {
        #[test]
        fn decimal_round_trip_and_order(a in any::<(u32, u32, u16)>(), b in any::<(u32, u32, u16)>()) {
            let x = Lsn::new(a.0, a.1, a.2);
            let y = Lsn::new(b.0, b.1, b.2);
            prop_assert_eq!(x.to_string().parse::<Lsn>().ok(), Some(x));
            prop_assert_eq!(x.cmp(&y), x.as_decimal().cmp(&y.as_decimal()));
            prop_assert_eq!(Lsn::from_le_bytes(x.to_le_bytes()), x);
        }
    }
}
