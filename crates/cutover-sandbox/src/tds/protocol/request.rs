//! Client requests: a SQL batch (MS-TDS 2.2.6.7) and an RPC calling `sp_executesql` (2.2.6.6),
//! with the decoding of its parameters' TYPE_INFO and values (integers, decimals, dates, text).

use time::{Date, Duration, PrimitiveDateTime, Time};

use super::reader::{ProtocolError, Reader, malformed, utf16_to_string};
use super::types::{
    BIGCHAR, BIGVARCHAR, BIT, BITN, DATEN, DATETIM4, DATETIME, DATETIME_EPOCH, DATETIME2_EPOCH,
    DATETIME2N, DATETIMEN, DECIMALN, INT1, INT2, INT4, INT8, INTN, NCHAR, NULLTYPE, NUMERICN,
    NVARCHAR, PLP_NULL, TICKS_PER_DAY, cp1252_decode,
};
use crate::tds::{Param, Request, Value};

/// sp_executesql's well-known procedure id (sent after the name length 0xFFFF).
pub const SP_EXECUTESQL_ID: u16 = 10;

/// Skips ALL_HEADERS (2.2.5.3): a u32 total length that includes itself.
fn skip_all_headers(r: &mut Reader<'_>) -> Result<(), ProtocolError> {
    let total = r.u32_le()? as usize;
    if total < 4 {
        return Err(malformed(format!("ALL_HEADERS length {total}")));
    }
    r.take(total - 4)?;
    Ok(())
}

/// The text of a SQL batch: ALL_HEADERS, then UTF-16LE.
pub fn parse_sql_batch(payload: &[u8]) -> Result<String, ProtocolError> {
    let mut r = Reader::new(payload, "SQL batch headers");
    skip_all_headers(&mut r)?;
    utf16_to_string(&payload[r.pos..])
}

/// An RPC request calling sp_executesql (by id 10 or by name): @stmt, @params (the declaration,
/// dropped), then the values of @P1... Parameter names lose their '@'; unnamed ones are "P1"...
pub fn parse_rpc(payload: &[u8]) -> Result<Request, ProtocolError> {
    let mut r = Reader::new(payload, "RPC request");
    skip_all_headers(&mut r)?;
    let name_len = r.u16_le()?;
    if name_len == 0xFFFF {
        let id = r.u16_le()?;
        if id != SP_EXECUTESQL_ID {
            return Err(ProtocolError::Unsupported(format!(
                "Could not find stored procedure with id {id}."
            )));
        }
    } else {
        let name = r.utf16(name_len as usize)?;
        let bare = name
            .rsplit('.')
            .next()
            .unwrap_or_default()
            .trim_matches(['[', ']']);
        if !bare.eq_ignore_ascii_case("sp_executesql") {
            return Err(ProtocolError::Unsupported(format!(
                "Could not find stored procedure '{name}'."
            )));
        }
    }
    let _option_flags = r.u16_le()?;
    let mut values = Vec::new();
    while !r.is_empty() {
        let name_len = r.u8()?;
        if name_len == 0xFF {
            return Err(ProtocolError::Unsupported(
                "several RPC calls in one request are not supported".into(),
            ));
        }
        let name = r.utf16(name_len as usize)?;
        let _status = r.u8()?;
        values.push((name, read_typed_value(&mut r)?));
    }
    let mut values = values.into_iter();
    let sql = match values.next() {
        Some((_, Value::Str(sql))) => sql,
        _ => {
            return Err(ProtocolError::Unsupported(
                "Procedure expects parameter '@statement' of type 'ntext/nchar/nvarchar'.".into(),
            ));
        }
    };
    let _declaration = values.next();
    let params = values
        .enumerate()
        .map(|(i, (name, value))| {
            let name = name.trim_start_matches('@');
            let name = if name.is_empty() {
                format!("P{}", i + 1)
            } else {
                name.to_string()
            };
            Param { name, value }
        })
        .collect();
    Ok(Request { sql, params })
}

/// A TYPE_INFO followed by its value (an RPC parameter).
fn read_typed_value(r: &mut Reader<'_>) -> Result<Value, ProtocolError> {
    let ty = r.u8()?;
    let value = match ty {
        NULLTYPE => Value::Null,
        INT1 => Value::Int(r.u8()? as i64),
        BIT => Value::Int((r.u8()? != 0) as i64),
        INT2 => int_value(r.take(2)?),
        INT4 => int_value(r.take(4)?),
        INT8 => int_value(r.take(8)?),
        DATETIME => datetime_value(r.take(8)?)?,
        DATETIM4 => datetime_value(r.take(4)?)?,
        INTN | BITN | DATETIMEN => {
            let _max = r.u8()?;
            match r.u8()? as usize {
                0 => Value::Null,
                len @ (1 | 2 | 4 | 8) if ty == INTN => int_value(r.take(len)?),
                1 if ty == BITN => Value::Int((r.u8()? != 0) as i64),
                len @ (4 | 8) if ty == DATETIMEN => datetime_value(r.take(len)?)?,
                len => return Err(malformed(format!("type 0x{ty:02X} value of {len} bytes"))),
            }
        }
        DECIMALN | NUMERICN => {
            let (_max, _precision, scale) = (r.u8()?, r.u8()?, r.u8()?);
            match r.u8()? as usize {
                0 => Value::Null,
                len @ 2..=17 => decimal_value(r.take(len)?, scale)?,
                len => return Err(malformed(format!("decimal value of {len} bytes"))),
            }
        }
        DATEN => match r.u8()? {
            0 => Value::Null,
            3 => Value::DateTime(PrimitiveDateTime::new(
                date_from_days(r.take(3)?)?,
                Time::MIDNIGHT,
            )),
            len => return Err(malformed(format!("date value of {len} bytes"))),
        },
        DATETIME2N => {
            let scale = r.u8()?;
            match r.u8()? as usize {
                0 => Value::Null,
                len => datetime2_value(r.take(len)?, scale)?,
            }
        }
        NVARCHAR | NCHAR | BIGVARCHAR | BIGCHAR => {
            let max = r.u16_le()?;
            let _collation = r.take(5)?;
            let bytes = if max == 0xFFFF {
                read_plp(r)?
            } else {
                match r.u16_le()? {
                    0xFFFF => None,
                    len => Some(r.take(len as usize)?.to_vec()),
                }
            };
            match bytes {
                None => Value::Null,
                Some(b) if ty == NVARCHAR || ty == NCHAR => Value::Str(utf16_to_string(&b)?),
                Some(b) => Value::Str(cp1252_decode(&b)),
            }
        }
        other => {
            return Err(ProtocolError::Unsupported(format!(
                "parameters of TDS type 0x{other:02X} are not supported"
            )));
        }
    };
    Ok(value)
}

/// A PLP value (2.2.5.2.3): u64 total length (`u64::MAX` = NULL), u32-length chunks, a 0 chunk.
fn read_plp(r: &mut Reader<'_>) -> Result<Option<Vec<u8>>, ProtocolError> {
    if r.u64_le()? == PLP_NULL {
        return Ok(None);
    }
    let mut out = Vec::new();
    loop {
        match r.u32_le()? as usize {
            0 => return Ok(Some(out)),
            len => out.extend_from_slice(r.take(len)?),
        }
    }
}

/// A little-endian signed integer of 1 (unsigned: TINYINT), 2, 4 or 8 bytes.
fn int_value(b: &[u8]) -> Value {
    Value::Int(match *b {
        [v] => v as i64,
        [a, b] => i16::from_le_bytes([a, b]) as i64,
        [a, b, c, d] => i32::from_le_bytes([a, b, c, d]) as i64,
        _ => {
            let mut w = [0u8; 8];
            w[..b.len().min(8)].copy_from_slice(&b[..b.len().min(8)]);
            i64::from_le_bytes(w)
        }
    })
}

/// DECIMAL/NUMERIC: sign byte (1 = positive), magnitude little-endian. Scale 0 gives
/// `Value::Decimal`; a non-zero scale (lost in `Value`) gives the exact decimal text as `Value::Str`.
fn decimal_value(b: &[u8], scale: u8) -> Result<Value, ProtocolError> {
    let (sign, magnitude) = b.split_first().ok_or(ProtocolError::Truncated("decimal"))?;
    let mut m = [0u8; 16];
    m[..magnitude.len()].copy_from_slice(magnitude);
    let magnitude =
        i128::try_from(u128::from_le_bytes(m)).map_err(|_| malformed("decimal magnitude"))?;
    let unscaled = match sign {
        1 => magnitude,
        0 => -magnitude,
        other => return Err(malformed(format!("decimal sign {other}"))),
    };
    Ok(match scale {
        0 => Value::Decimal(unscaled),
        s => Value::Str(format_decimal(unscaled, s)),
    })
}

/// `unscaled / 10^scale` as text, e.g. (-12345, 2) -> "-123.45".
fn format_decimal(unscaled: i128, scale: u8) -> String {
    let digits = unscaled.unsigned_abs().to_string();
    let scale = scale as usize;
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = padded.split_at(padded.len() - scale);
    let sign = if unscaled < 0 { "-" } else { "" };
    format!("{sign}{int}.{frac}")
}

fn add_days(epoch: Date, days: i64) -> Result<Date, ProtocolError> {
    epoch
        .checked_add(Duration::days(days))
        .ok_or_else(|| malformed("date out of range"))
}

/// DATETIME (i32 days since 1900, u32 1/300 s) or SMALLDATETIME (u16 days, u16 minutes).
fn datetime_value(b: &[u8]) -> Result<Value, ProtocolError> {
    let (days, nanos) = match *b {
        [a, b, c, d, e, f, g, h] => {
            let ticks = u32::from_le_bytes([e, f, g, h]) as u64;
            if ticks >= TICKS_PER_DAY {
                return Err(malformed("datetime time of day"));
            }
            (
                i32::from_le_bytes([a, b, c, d]) as i64,
                ticks * 1_000_000_000 / 300,
            )
        }
        [a, b, c, d] => {
            let minutes = u16::from_le_bytes([c, d]) as u64;
            if minutes >= 1440 {
                return Err(malformed("smalldatetime time of day"));
            }
            (u16::from_le_bytes([a, b]) as i64, minutes * 60_000_000_000)
        }
        _ => return Err(malformed("datetime length")),
    };
    let date = add_days(DATETIME_EPOCH, days)?;
    Ok(Value::DateTime(PrimitiveDateTime::new(
        date,
        time_from_nanos(nanos),
    )))
}

fn time_from_nanos(nanos: u64) -> Time {
    Time::MIDNIGHT + Duration::nanoseconds(nanos as i64)
}

/// DATE: 3-byte days since 0001-01-01.
fn date_from_days(b: &[u8]) -> Result<Date, ProtocolError> {
    let days = b
        .iter()
        .rev()
        .fold(0i64, |acc, byte| (acc << 8) | *byte as i64);
    add_days(DATETIME2_EPOCH, days)
}

/// DATETIME2(scale): time in 10^-scale s (3, 4 or 5 bytes by scale), then a DATE.
fn datetime2_value(b: &[u8], scale: u8) -> Result<Value, ProtocolError> {
    let time_len = match scale {
        0..=2 => 3,
        3..=4 => 4,
        5..=7 => 5,
        _ => return Err(malformed(format!("datetime2 scale {scale}"))),
    };
    if b.len() != time_len + 3 {
        return Err(malformed(format!(
            "datetime2({scale}) value of {} bytes",
            b.len()
        )));
    }
    let units = b[..time_len]
        .iter()
        .rev()
        .fold(0u64, |acc, byte| (acc << 8) | *byte as u64);
    let nanos = units * 10u64.pow(9 - scale as u32);
    if nanos >= 86_400_000_000_000 {
        return Err(malformed("datetime2 time of day"));
    }
    let date = date_from_days(&b[time_len..])?;
    Ok(Value::DateTime(PrimitiveDateTime::new(
        date,
        time_from_nanos(nanos),
    )))
}

#[cfg(test)]
mod tests {
    use super::super::test_bytes::{b_varchar, utf16};
    use super::*;
    use time::macros::{date, datetime};

    fn all_headers() -> Vec<u8> {
        let mut v = Vec::new();
        v.extend(22u32.to_le_bytes());
        v.extend(18u32.to_le_bytes());
        v.extend(2u16.to_le_bytes());
        v.extend([0u8; 8]);
        v.extend(1u32.to_le_bytes());
        v
    }

    #[test]
    fn sql_batch_skips_all_headers() {
        let mut msg = all_headers();
        msg.extend(utf16("SELECT N'é'"));
        assert_eq!(parse_sql_batch(&msg).unwrap(), "SELECT N'é'");
        let mut odd = msg.clone();
        odd.push(0);
        assert!(parse_sql_batch(&odd).is_err());
        assert!(
            parse_sql_batch(&[0xFF, 0xFF, 0, 0, 1, 2]).is_err(),
            "header length past the end"
        );
        assert!(
            parse_sql_batch(&[2, 0, 0, 0]).is_err(),
            "header length below 4"
        );
        assert!(parse_sql_batch(&[]).is_err());
    }

    fn param(name: &str, type_and_value: &[u8]) -> Vec<u8> {
        let mut v = b_varchar(name);
        v.push(0);
        v.extend_from_slice(type_and_value);
        v
    }

    fn nvarchar(s: &str) -> Vec<u8> {
        let mut v = vec![NVARCHAR, 0x40, 0x1F, 0, 0, 0, 0, 0];
        v.extend(((s.len() * 2) as u16).to_le_bytes());
        v.extend(utf16(s));
        v
    }

    /// NVARCHAR(MAX) in PLP chunks of `chunk` bytes, unknown total length (as tiberius sends).
    fn nvarchar_plp(s: &str, chunk: usize) -> Vec<u8> {
        let mut v = vec![NVARCHAR, 0xFF, 0xFF, 0, 0, 0, 0, 0];
        v.extend(0xFFFF_FFFF_FFFF_FFFEu64.to_le_bytes());
        for c in utf16(s).chunks(chunk) {
            v.extend((c.len() as u32).to_le_bytes());
            v.extend_from_slice(c);
        }
        v.extend(0u32.to_le_bytes());
        v
    }

    fn rpc(proc_header: &[u8], params: &[Vec<u8>]) -> Vec<u8> {
        let mut v = all_headers();
        v.extend_from_slice(proc_header);
        v.extend(0u16.to_le_bytes());
        for p in params {
            v.extend_from_slice(p);
        }
        v
    }

    const BY_ID: [u8; 4] = [0xFF, 0xFF, 0x0A, 0x00];

    fn rich_rpc() -> (Vec<u8>, String) {
        let long = "x".repeat(2500) + "é]'";
        let mut dt2 = vec![DATETIME2N, 7, 8];
        // 12:00:00.5 in 100 ns units, then days since 0001-01-01 for 2024-03-01.
        dt2.extend(&(432_005_000_000u64.to_le_bytes()[..5]));
        let days = (date!(2024 - 03 - 01) - DATETIME2_EPOCH).whole_days() as u32;
        dt2.extend(&days.to_le_bytes()[..3]);
        let params = vec![
            param("stmt", &nvarchar("SELECT @P1")),
            param("params", &nvarchar("@P1 int, ...")),
            param("@P1", &[INTN, 4, 4, 0xFE, 0xFF, 0xFF, 0xFF]),
            param("@P2", &[INTN, 8, 8, 1, 0, 0, 0, 1, 0, 0, 0]),
            param("@P3", &[BITN, 1, 1, 1]),
            param("@P4", &nvarchar_plp(&long, 1000)),
            param(
                "@P5",
                &[
                    BIGVARCHAR, 0x40, 0x1F, 9, 4, 0xD0, 0, 0x34, 2, 0, 0x80, 0xE9,
                ],
            ),
            param(
                "@P6",
                &[
                    NUMERICN, 17, 25, 0, 17, 1, 5, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,
                ],
            ),
            param("@P7", &[NUMERICN, 5, 5, 2, 5, 0, 0x39, 0x30, 0, 0]),
            param("@P8", &[DATETIMEN, 8, 8, 1, 0, 0, 0, 0x2C, 1, 0, 0]),
            param("@P9", &dt2),
            param("@P10", &[NULLTYPE]),
            param("@P11", &[INTN, 4, 0]),
            param("", &[NVARCHAR, 0x40, 0x1F, 0, 0, 0, 0, 0, 0xFF, 0xFF]),
            param("@P13", &[INTN, 1, 1, 200]),
        ];
        (rpc(&BY_ID, &params), long)
    }

    #[test]
    fn rpc_decodes_sp_executesql_params() {
        let (msg, long) = rich_rpc();
        let req = parse_rpc(&msg).unwrap();
        assert_eq!(req.sql, "SELECT @P1");
        let got: Vec<(&str, &Value)> = req
            .params
            .iter()
            .map(|p| (p.name.as_str(), &p.value))
            .collect();
        let expected: Vec<(&str, Value)> = vec![
            ("P1", Value::Int(-2)),
            ("P2", Value::Int(1 | (1 << 32))),
            ("P3", Value::Int(1)),
            ("P4", Value::Str(long)),
            ("P5", Value::Str("€é".into())),
            ("P6", Value::Decimal((1i128 << 64) + 5)),
            ("P7", Value::Str("-123.45".into())),
            ("P8", Value::DateTime(datetime!(1900-01-02 00:00:01))),
            ("P9", Value::DateTime(datetime!(2024-03-01 12:00:00.5))),
            ("P10", Value::Null),
            ("P11", Value::Null),
            ("P12", Value::Null),
            ("P13", Value::Int(200)),
        ];
        assert_eq!(got.len(), expected.len());
        for ((name, value), (en, ev)) in got.iter().zip(&expected) {
            assert_eq!((name, *value), (en, ev));
        }
    }

    #[test]
    fn rpc_by_name_and_other_procedures() {
        let mut by_name = 13u16.to_le_bytes().to_vec();
        by_name.extend(utf16("sp_executesql"));
        let req = parse_rpc(&rpc(&by_name, &[param("", &nvarchar("SELECT 1"))])).unwrap();
        assert_eq!(
            req,
            Request {
                sql: "SELECT 1".into(),
                params: vec![]
            }
        );

        let mut other = 7u16.to_le_bytes().to_vec();
        other.extend(utf16("sp_who2"));
        let err = parse_rpc(&rpc(&other, &[])).unwrap_err();
        assert_eq!(
            err,
            ProtocolError::Unsupported("Could not find stored procedure 'sp_who2'.".into())
        );
        assert!(matches!(
            parse_rpc(&rpc(&[0xFF, 0xFF, 0x0B, 0x00], &[])),
            Err(ProtocolError::Unsupported(_))
        ));
        assert!(
            matches!(
                parse_rpc(&rpc(&BY_ID, &[])),
                Err(ProtocolError::Unsupported(_))
            ),
            "no @stmt"
        );
        let float = param("@P1", &[0x6D, 8, 8, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F]);
        let err = parse_rpc(&rpc(
            &BY_ID,
            &[param("", &nvarchar("x")), param("", &nvarchar("")), float],
        ));
        assert!(matches!(err, Err(ProtocolError::Unsupported(_))));
    }

    #[test]
    fn plp_null_and_empty() {
        let mut null = vec![NVARCHAR, 0xFF, 0xFF, 0, 0, 0, 0, 0];
        null.extend(u64::MAX.to_le_bytes());
        let empty = nvarchar_plp("", 10);
        let msg = rpc(
            &BY_ID,
            &[
                param("", &nvarchar("s")),
                param("", &nvarchar("")),
                param("", &null),
                param("", &empty),
            ],
        );
        let req = parse_rpc(&msg).unwrap();
        assert_eq!(req.params[0].value, Value::Null);
        assert_eq!(req.params[1].value, Value::Str(String::new()));
    }

    #[test]
    fn truncated_or_corrupt_rpc_fails_without_panic() {
        let (msg, _) = rich_rpc();
        for cut in 0..msg.len() - 1 {
            match parse_rpc(&msg[..cut]) {
                Err(_) => {}
                Ok(req) => assert!(
                    req.params.len() < 13,
                    "a prefix of {cut} bytes decoded everything"
                ),
            }
        }
        // Flip every byte in turn: any result is fine, a panic is not.
        for i in 0..msg.len().min(600) {
            let mut m = msg.clone();
            m[i] ^= 0xFF;
            let _ = parse_rpc(&m);
        }
        let bad_sign = rpc(
            &BY_ID,
            &[
                param("", &nvarchar("s")),
                param("", &nvarchar("")),
                param("", &[DECIMALN, 5, 5, 0, 5, 7, 1, 0, 0, 0]),
            ],
        );
        assert!(parse_rpc(&bad_sign).is_err());
    }

    #[test]
    fn decimal_text_keeps_the_scale() {
        assert_eq!(format_decimal(-12345, 2), "-123.45");
        assert_eq!(format_decimal(5, 3), "0.005");
        assert_eq!(format_decimal(0, 1), "0.0");
    }
}
