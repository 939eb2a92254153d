//! Result sets: COLMETADATA (each column's TYPE_INFO) and ROW tokens, each value in its column's
//! type (PLP chunks for NVARCHAR(MAX), DATETIME ticks), and [`ReplyError`] for what does not fit.

use time::PrimitiveDateTime;
use time::macros::time;

use super::tokens::{COLLATION, put_b_varchar, put_utf16};
use super::types::{
    BIGVARCHAR, BITN, DATETIME_EPOCH, DATETIME_MIN, DATETIMEN, DECIMALN, INTN, NVARCHAR, PLP_NULL,
    TICKS_PER_DAY, cp1252_encode,
};
use crate::tds::{Column, ColumnType, Value};

const TOKEN_COLMETADATA: u8 = 0x81;
const TOKEN_ROW: u8 = 0xD1;

/// A row or column the backend built wrongly (a bug in the backend, answered as an ERROR).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {detail}")]
pub struct ReplyError {
    pub column: String,
    pub detail: String,
}

fn reply_error(column: &Column, detail: impl Into<String>) -> ReplyError {
    ReplyError {
        column: column.name.clone(),
        detail: detail.into(),
    }
}

/// Largest NVARCHAR(n) and VARCHAR(n) that are not MAX.
const NVARCHAR_LIMIT: u16 = 4000;
const VARCHAR_LIMIT: u16 = 8000;

/// DECIMALN value length for a precision (2.2.5.5.1.3).
fn decimal_len(precision: u8) -> Option<u8> {
    match precision {
        1..=9 => Some(5),
        10..=19 => Some(9),
        20..=28 => Some(13),
        29..=38 => Some(17),
        _ => None,
    }
}

/// TYPE_INFO of a column.
fn put_type_info(out: &mut Vec<u8>, column: &Column) -> Result<(), ReplyError> {
    match column.ty {
        ColumnType::NVarChar(0) | ColumnType::VarChar(0) => {
            return Err(reply_error(column, "zero length"));
        }
        ColumnType::NVarChar(n) if n > NVARCHAR_LIMIT => {
            out.extend_from_slice(&[NVARCHAR, 0xFF, 0xFF]);
            out.extend_from_slice(&COLLATION);
        }
        ColumnType::NVarChar(n) => {
            out.push(NVARCHAR);
            out.extend_from_slice(&(n * 2).to_le_bytes());
            out.extend_from_slice(&COLLATION);
        }
        ColumnType::VarChar(n) if n > VARCHAR_LIMIT => {
            return Err(reply_error(
                column,
                format!("varchar({n}) is longer than 8000"),
            ));
        }
        ColumnType::VarChar(n) => {
            out.push(BIGVARCHAR);
            out.extend_from_slice(&n.to_le_bytes());
            out.extend_from_slice(&COLLATION);
        }
        ColumnType::TinyInt => out.extend_from_slice(&[INTN, 1]),
        ColumnType::SmallInt => out.extend_from_slice(&[INTN, 2]),
        ColumnType::Int => out.extend_from_slice(&[INTN, 4]),
        ColumnType::BigInt => out.extend_from_slice(&[INTN, 8]),
        ColumnType::Bit => out.extend_from_slice(&[BITN, 1]),
        ColumnType::Decimal { precision, scale } => {
            let len = decimal_len(precision)
                .filter(|_| scale <= precision)
                .ok_or_else(|| reply_error(column, format!("decimal({precision},{scale})")))?;
            out.extend_from_slice(&[DECIMALN, len, precision, scale]);
        }
        ColumnType::DateTime => out.extend_from_slice(&[DATETIMEN, 8]),
        ColumnType::VarBinary(n) if n == 0 || n > VARCHAR_LIMIT => {
            return Err(reply_error(column, format!("varbinary({n})")));
        }
        ColumnType::VarBinary(n) => {
            out.push(BIGVARBINARY);
            out.extend_from_slice(&n.to_le_bytes());
        }
    }
    Ok(())
}

/// COLMETADATA: column count, then per column user type 0, flags 0x0001 (nullable), TYPE_INFO,
/// name (B_VARCHAR).
pub fn encode_colmetadata(out: &mut Vec<u8>, columns: &[Column]) -> Result<(), ReplyError> {
    let count = u16::try_from(columns.len())
        .ok()
        .filter(|n| *n < 0xFFFF)
        .ok_or_else(|| ReplyError {
            column: String::new(),
            detail: "too many columns".into(),
        })?;
    out.push(TOKEN_COLMETADATA);
    out.extend_from_slice(&count.to_le_bytes());
    for column in columns {
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&0x0001u16.to_le_bytes());
        put_type_info(out, column)?;
        put_b_varchar(out, &column.name);
    }
    Ok(())
}

/// ROW: each value in its column's type (NULL is valid for every type).
pub fn encode_row(
    out: &mut Vec<u8>,
    columns: &[Column],
    values: &[Value],
) -> Result<(), ReplyError> {
    if columns.len() != values.len() {
        return Err(ReplyError {
            column: String::new(),
            detail: format!(
                "a row of {} values for {} columns",
                values.len(),
                columns.len()
            ),
        });
    }
    out.push(TOKEN_ROW);
    for (column, value) in columns.iter().zip(values) {
        put_value(out, column, value)?;
    }
    Ok(())
}

fn put_value(out: &mut Vec<u8>, column: &Column, value: &Value) -> Result<(), ReplyError> {
    let mismatch = || reply_error(column, format!("{value:?} in a {:?} column", column.ty));
    match (column.ty, value) {
        (ColumnType::NVarChar(n), Value::Null) if n > NVARCHAR_LIMIT => {
            out.extend_from_slice(&PLP_NULL.to_le_bytes())
        }
        (
            ColumnType::NVarChar(_) | ColumnType::VarChar(_) | ColumnType::VarBinary(_),
            Value::Null,
        ) => out.extend_from_slice(&[0xFF, 0xFF]),
        (ColumnType::NVarChar(n), Value::Str(s)) => {
            let units: Vec<u16> = s.encode_utf16().collect();
            if n > NVARCHAR_LIMIT {
                let mut bytes = Vec::with_capacity(units.len() * 2);
                put_utf16(&mut bytes, &units);
                put_plp(out, &bytes);
            } else if units.len() > n as usize {
                return Err(reply_error(
                    column,
                    format!("{} characters in nvarchar({n})", units.len()),
                ));
            } else {
                out.extend_from_slice(&((units.len() * 2) as u16).to_le_bytes());
                put_utf16(out, &units);
            }
        }
        (ColumnType::VarBinary(n), Value::Bytes(b)) => {
            if b.len() > n as usize {
                return Err(reply_error(
                    column,
                    format!("{} bytes in varbinary({n})", b.len()),
                ));
            }
            out.extend_from_slice(&(b.len() as u16).to_le_bytes());
            out.extend_from_slice(b);
        }
        (ColumnType::VarChar(n), Value::Str(s)) => {
            let bytes = cp1252_encode(s);
            if bytes.len() > n as usize {
                return Err(reply_error(
                    column,
                    format!("{} bytes in varchar({n})", bytes.len()),
                ));
            }
            out.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
            out.extend_from_slice(&bytes);
        }
        (
            ColumnType::TinyInt
            | ColumnType::SmallInt
            | ColumnType::Int
            | ColumnType::BigInt
            | ColumnType::Bit
            | ColumnType::Decimal { .. }
            | ColumnType::DateTime,
            Value::Null,
        ) => out.push(0),
        (ColumnType::TinyInt, Value::Int(v)) => {
            let v = u8::try_from(*v).map_err(|_| mismatch())?;
            out.extend_from_slice(&[1, v]);
        }
        (ColumnType::SmallInt, Value::Int(v)) => {
            let v = i16::try_from(*v).map_err(|_| mismatch())?;
            out.push(2);
            out.extend_from_slice(&v.to_le_bytes());
        }
        (ColumnType::Int, Value::Int(v)) => {
            let v = i32::try_from(*v).map_err(|_| mismatch())?;
            out.push(4);
            out.extend_from_slice(&v.to_le_bytes());
        }
        (ColumnType::BigInt, Value::Int(v)) => {
            out.push(8);
            out.extend_from_slice(&v.to_le_bytes());
        }
        (ColumnType::Bit, Value::Int(v @ (0 | 1))) => out.extend_from_slice(&[1, *v as u8]),
        (ColumnType::Decimal { precision, scale }, Value::Decimal(_) | Value::Int(_)) => {
            let unscaled = match value {
                Value::Decimal(v) => Some(*v),
                Value::Int(v) => 10i128
                    .checked_pow(scale as u32)
                    .and_then(|f| f.checked_mul(*v as i128)),
                _ => None,
            };
            let limit = 10u128.checked_pow(precision as u32);
            let len = decimal_len(precision);
            let (Some(unscaled), Some(limit), Some(len)) = (unscaled, limit, len) else {
                return Err(mismatch());
            };
            if unscaled.unsigned_abs() >= limit {
                return Err(reply_error(
                    column,
                    format!("{unscaled} does not fit decimal({precision},{scale})"),
                ));
            }
            out.extend_from_slice(&[len, (unscaled >= 0) as u8]);
            out.extend_from_slice(&unscaled.unsigned_abs().to_le_bytes()[..len as usize - 1]);
        }
        (ColumnType::DateTime, Value::DateTime(dt)) => {
            let (days, ticks) = datetime_parts(*dt).ok_or_else(mismatch)?;
            out.push(8);
            out.extend_from_slice(&days.to_le_bytes());
            out.extend_from_slice(&ticks.to_le_bytes());
        }
        _ => return Err(mismatch()),
    }
    Ok(())
}

/// BIGVARBINARY (2.2.5.4.3): TYPE_INFO is the maximum length (USHORT), a value its length then bytes.
const BIGVARBINARY: u8 = 0xA5;

/// Largest PLP chunk this server writes.
const PLP_CHUNK: usize = 8000;

/// A PLP value: known total length, chunks, 0 terminator.
fn put_plp(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    for chunk in bytes.chunks(PLP_CHUNK) {
        out.extend_from_slice(&(chunk.len() as u32).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&0u32.to_le_bytes());
}

/// DATETIME's (days since 1900-01-01, 1/300 s ticks), rounded to the nearest tick; `None` outside
/// 1753-01-01..=9999-12-31.
fn datetime_parts(dt: PrimitiveDateTime) -> Option<(i32, u32)> {
    let since_midnight = dt.time() - time!(0:00);
    let nanos = u64::try_from(since_midnight.whole_nanoseconds()).ok()?;
    let mut ticks = (nanos * 300 + 500_000_000) / 1_000_000_000;
    let mut date = dt.date();
    if ticks >= TICKS_PER_DAY {
        ticks -= TICKS_PER_DAY;
        date = date.next_day()?;
    }
    if date < DATETIME_MIN {
        return None;
    }
    let days = i32::try_from((date - DATETIME_EPOCH).whole_days()).ok()?;
    Some((days, ticks as u32))
}

#[cfg(test)]
mod tests {
    use super::super::test_bytes::col;
    use super::*;
    use time::macros::datetime;

    #[test]
    fn colmetadata_and_row_nvarchar_are_byte_exact() {
        let cols = [col("n", ColumnType::NVarChar(10))];
        let mut out = Vec::new();
        encode_colmetadata(&mut out, &cols).unwrap();
        assert_eq!(
            out,
            [
                0x81, 1, 0, 0, 0, 0, 0, 1, 0, 0xE7, 20, 0, 9, 4, 0xD0, 0, 0x34, 1, b'n', 0
            ]
        );
        let mut row = Vec::new();
        encode_row(&mut row, &cols, &[Value::Str("ab".into())]).unwrap();
        encode_row(&mut row, &cols, &[Value::Null]).unwrap();
        assert_eq!(row, [0xD1, 4, 0, b'a', 0, b'b', 0, 0xD1, 0xFF, 0xFF]);
    }

    #[test]
    fn every_column_type_encodes() {
        use ColumnType::*;
        let cases: Vec<(ColumnType, Vec<u8>, Value, Vec<u8>)> = vec![
            (
                VarChar(1),
                vec![0xA7, 1, 0, 9, 4, 0xD0, 0, 0x34],
                Value::Str("D".into()),
                vec![1, 0, b'D'],
            ),
            (
                VarChar(3),
                vec![0xA7, 3, 0, 9, 4, 0xD0, 0, 0x34],
                Value::Str("é€✓".into()),
                vec![3, 0, 0xE9, 0x80, b'?'],
            ),
            (TinyInt, vec![0x26, 1], Value::Int(255), vec![1, 255]),
            (SmallInt, vec![0x26, 2], Value::Int(-2), vec![2, 0xFE, 0xFF]),
            (Int, vec![0x26, 4], Value::Int(1), vec![4, 1, 0, 0, 0]),
            (
                BigInt,
                vec![0x26, 8],
                Value::Int(-1),
                vec![8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
            ),
            (Bit, vec![0x68, 1], Value::Int(1), vec![1, 1]),
            (
                Decimal {
                    precision: 25,
                    scale: 0,
                },
                vec![0x6A, 13, 25, 0],
                Value::Decimal((1i128 << 64) + 5),
                vec![13, 1, 5, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0],
            ),
            (
                Decimal {
                    precision: 5,
                    scale: 2,
                },
                vec![0x6A, 5, 5, 2],
                Value::Int(3),
                vec![5, 1, 0x2C, 1, 0, 0],
            ),
            (
                Decimal {
                    precision: 38,
                    scale: 0,
                },
                vec![0x6A, 17, 38, 0],
                Value::Decimal(-1),
                {
                    let mut v = vec![17, 0, 1];
                    v.extend([0u8; 15]);
                    v
                },
            ),
            (
                DateTime,
                vec![0x6F, 8],
                Value::DateTime(datetime!(1900-01-02 00:00:01)),
                vec![8, 1, 0, 0, 0, 0x2C, 1, 0, 0],
            ),
            (
                ColumnType::NVARCHAR_MAX,
                vec![0xE7, 0xFF, 0xFF, 9, 4, 0xD0, 0, 0x34],
                Value::Str("ab".into()),
                vec![
                    4, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, b'a', 0, b'b', 0, 0, 0, 0, 0,
                ],
            ),
        ];
        for (ty, type_info, value, bytes) in cases {
            let cols = [col("c", ty)];
            let mut meta = Vec::new();
            encode_colmetadata(&mut meta, &cols).unwrap();
            assert_eq!(&meta[9..meta.len() - 3], &type_info[..], "{ty:?} TYPE_INFO");
            let mut row = Vec::new();
            encode_row(&mut row, &cols, &[value]).unwrap();
            assert_eq!(&row[1..], &bytes[..], "{ty:?} value");
            let mut null = Vec::new();
            encode_row(&mut null, &cols, &[Value::Null]).unwrap();
            let expected_null: &[u8] = match ty {
                NVarChar(n) if n > 4000 => &[0xFF; 8],
                NVarChar(_) | VarChar(_) => &[0xFF, 0xFF],
                _ => &[0],
            };
            assert_eq!(&null[1..], expected_null, "{ty:?} NULL");
        }
    }

    #[test]
    fn plp_values_are_chunked() {
        let cols = [col("c", ColumnType::NVARCHAR_MAX)];
        let mut row = Vec::new();
        encode_row(&mut row, &cols, &[Value::Str("y".repeat(4500))]).unwrap();
        assert_eq!(&row[1..9], &9000u64.to_le_bytes());
        assert_eq!(&row[9..13], &8000u32.to_le_bytes());
        assert_eq!(&row[13 + 8000..17 + 8000], &1000u32.to_le_bytes());
        assert_eq!(&row[row.len() - 4..], &[0, 0, 0, 0]);
        assert_eq!(row.len(), 1 + 8 + 4 + 8000 + 4 + 1000 + 4);
    }

    #[test]
    fn values_that_do_not_fit_are_errors() {
        use ColumnType::*;
        let bad: Vec<(ColumnType, Value)> = vec![
            (TinyInt, Value::Int(256)),
            (SmallInt, Value::Int(40_000)),
            (Int, Value::Int(1 << 40)),
            (Bit, Value::Int(2)),
            (Int, Value::Str("1".into())),
            (NVarChar(2), Value::Str("abc".into())),
            (VarChar(1), Value::Str("ab".into())),
            (
                Decimal {
                    precision: 2,
                    scale: 0,
                },
                Value::Decimal(100),
            ),
            (DateTime, Value::DateTime(datetime!(1752-12-31 0:00))),
            (DateTime, Value::Int(0)),
        ];
        for (ty, value) in bad {
            assert!(
                encode_row(
                    &mut Vec::new(),
                    &[col("c", ty)],
                    std::slice::from_ref(&value)
                )
                .is_err(),
                "{ty:?} {value:?}"
            );
        }
        assert!(
            encode_row(&mut Vec::new(), &[col("c", Int)], &[]).is_err(),
            "arity"
        );
        assert!(
            encode_colmetadata(
                &mut Vec::new(),
                &[col(
                    "c",
                    Decimal {
                        precision: 39,
                        scale: 0
                    }
                )]
            )
            .is_err()
        );
        assert!(encode_colmetadata(&mut Vec::new(), &[col("c", VarChar(8001))]).is_err());
    }

    #[test]
    fn datetime_rounds_to_ticks() {
        assert_eq!(datetime_parts(datetime!(1900-01-01 0:00)), Some((0, 0)));
        assert_eq!(
            datetime_parts(datetime!(1899-12-31 0:00:00.5)),
            Some((-1, 150))
        );
        assert_eq!(
            datetime_parts(datetime!(2000-01-01 23:59:59.999)),
            Some((36525, 0)),
            "rolls over"
        );
        assert_eq!(
            datetime_parts(datetime!(9999-12-31 23:59:59.997)),
            Some((2_958_463, 25_919_999))
        );
        assert_eq!(datetime_parts(datetime!(9999-12-31 23:59:59.999)), None);
    }
}
