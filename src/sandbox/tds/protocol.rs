//! The TDS 7.4 wire format (MS-TDS) spoken by the sandbox's SQL Server: packets (2.2.3), PRELOGIN
//! (2.2.6.5), LOGIN7 (2.2.6.4), SQL batch (2.2.6.7), RPC as `sp_executesql` (2.2.6.6) and the reply
//! tokens (2.2.7). Pure functions over byte slices, no I/O. Every read is bounds-checked: malformed
//! input is a [`ProtocolError`], never a panic.

use time::macros::{date, time};
use time::{Date, Duration, PrimitiveDateTime, Time};

use super::{Column, ColumnType, Param, Reply, Request, Value};

// ---------------------------------------------------------------------------------------------
// Errors and the bounds-checked reader
// ---------------------------------------------------------------------------------------------

/// Why a client message could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// The input ended before the named structure was complete.
    #[error("truncated {0}")]
    Truncated(&'static str),
    /// The bytes are not valid TDS.
    #[error("malformed {0}")]
    Malformed(String),
    /// Valid TDS this server does not implement: answered with an ERROR, the connection stays open.
    #[error("{0}")]
    Unsupported(String),
}

fn malformed(what: impl Into<String>) -> ProtocolError {
    ProtocolError::Malformed(what.into())
}

/// A cursor over a message that fails (instead of panicking) when the data runs out.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], what: &'static str) -> Reader<'a> {
        Reader { buf, pos: 0, what }
    }

    fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ProtocolError> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or(ProtocolError::Truncated(self.what))?;
        let bytes = self
            .buf
            .get(self.pos..end)
            .ok_or(ProtocolError::Truncated(self.what))?;
        self.pos = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ProtocolError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, ProtocolError> {
        Ok(self.array::<1>()?[0])
    }

    fn u16_le(&mut self) -> Result<u16, ProtocolError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    fn u32_le(&mut self) -> Result<u32, ProtocolError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64_le(&mut self) -> Result<u64, ProtocolError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// `chars` UTF-16LE code units.
    fn utf16(&mut self, chars: usize) -> Result<String, ProtocolError> {
        let bytes = self.take(
            chars
                .checked_mul(2)
                .ok_or(ProtocolError::Truncated(self.what))?,
        )?;
        utf16_to_string(bytes)
    }
}

/// Decodes UTF-16LE bytes (even length, valid surrogates).
fn utf16_to_string(bytes: &[u8]) -> Result<String, ProtocolError> {
    if !bytes.len().is_multiple_of(2) {
        return Err(malformed("UTF-16 text (odd byte count)"));
    }
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16(&units).map_err(|_| malformed("UTF-16 text (invalid surrogates)"))
}

// ---------------------------------------------------------------------------------------------
// Packets (2.2.3) and messages
// ---------------------------------------------------------------------------------------------

/// Length of a packet header.
pub const HEADER_LEN: usize = 8;
/// Packet size before LOGIN7 negotiates one (and when the client asks for 0).
pub const DEFAULT_PACKET_SIZE: u32 = 4096;
/// Smallest and largest packet size a server may grant (tiberius rejects others).
pub const MIN_PACKET_SIZE: u32 = 512;
/// See [`MIN_PACKET_SIZE`].
pub const MAX_PACKET_SIZE: u32 = 32767;
/// Packet status: last packet of a message.
pub const STATUS_EOM: u8 = 0x01;
/// Packet status: the client cancels the message being sent (with EOM); ignore it.
pub const STATUS_IGNORE: u8 = 0x02;
/// Status bits a client may set (EOM, IGNORE, RESETCONNECTION, RESETCONNECTIONSKIPTRAN).
const CLIENT_STATUS_BITS: u8 = 0x01 | 0x02 | 0x08 | 0x10;

/// The packet types of 2.2.3.1.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketType {
    /// 0x01: SQL batch (`simple_query`).
    SqlBatch,
    /// 0x03: RPC (`query`/`execute`: sp_executesql).
    Rpc,
    /// 0x04: every server reply.
    TabularResult,
    /// 0x06: cancel the running request.
    Attention,
    /// 0x07: bulk load data (not supported).
    BulkLoad,
    /// 0x0E: transaction manager request (not supported).
    TransactionManager,
    /// 0x10: LOGIN7.
    Login7,
    /// 0x11: SSPI (not supported).
    Sspi,
    /// 0x12: PRELOGIN.
    PreLogin,
    /// Any other byte: not TDS (or not a client message).
    Unknown(u8),
}

impl PacketType {
    /// The type of a header's first byte.
    pub fn from_u8(b: u8) -> PacketType {
        match b {
            0x01 => PacketType::SqlBatch,
            0x03 => PacketType::Rpc,
            0x04 => PacketType::TabularResult,
            0x06 => PacketType::Attention,
            0x07 => PacketType::BulkLoad,
            0x0E => PacketType::TransactionManager,
            0x10 => PacketType::Login7,
            0x11 => PacketType::Sspi,
            0x12 => PacketType::PreLogin,
            other => PacketType::Unknown(other),
        }
    }

    /// The byte on the wire.
    pub fn as_u8(self) -> u8 {
        match self {
            PacketType::SqlBatch => 0x01,
            PacketType::Rpc => 0x03,
            PacketType::TabularResult => 0x04,
            PacketType::Attention => 0x06,
            PacketType::BulkLoad => 0x07,
            PacketType::TransactionManager => 0x0E,
            PacketType::Login7 => 0x10,
            PacketType::Sspi => 0x11,
            PacketType::PreLogin => 0x12,
            PacketType::Unknown(b) => b,
        }
    }
}

/// The 8-byte packet header. `length` is big-endian on the wire and includes the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketHeader {
    pub ty: PacketType,
    pub status: u8,
    pub length: u16,
    pub spid: u16,
    pub packet_id: u8,
    pub window: u8,
}

impl PacketHeader {
    /// Parses a header a client sent: known client packet type, known status bits, length >= 8.
    pub fn parse(bytes: &[u8; HEADER_LEN]) -> Result<PacketHeader, ProtocolError> {
        let ty = PacketType::from_u8(bytes[0]);
        if matches!(ty, PacketType::Unknown(_) | PacketType::TabularResult) {
            return Err(malformed(format!("packet header: type 0x{:02X}", bytes[0])));
        }
        let status = bytes[1];
        if status & !CLIENT_STATUS_BITS != 0 {
            return Err(malformed(format!("packet header: status 0x{status:02X}")));
        }
        let length = u16::from_be_bytes([bytes[2], bytes[3]]);
        if (length as usize) < HEADER_LEN {
            return Err(malformed(format!("packet header: length {length}")));
        }
        Ok(PacketHeader {
            ty,
            status,
            length,
            spid: u16::from_be_bytes([bytes[4], bytes[5]]),
            packet_id: bytes[6],
            window: bytes[7],
        })
    }

    /// The header's wire form.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let len = self.length.to_be_bytes();
        let spid = self.spid.to_be_bytes();
        [
            self.ty.as_u8(),
            self.status,
            len[0],
            len[1],
            spid[0],
            spid[1],
            self.packet_id,
            self.window,
        ]
    }

    /// Bytes of data after the header.
    pub fn payload_len(&self) -> usize {
        (self.length as usize).saturating_sub(HEADER_LEN)
    }

    /// Last packet of its message.
    pub fn is_end_of_message(&self) -> bool {
        self.status & STATUS_EOM != 0
    }
}

/// A complete client message (all its packets' data, in order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub ty: PacketType,
    pub payload: Vec<u8>,
}

/// Joins packets into messages (a message ends at the packet with the EOM bit).
#[derive(Debug)]
pub struct MessageAssembler {
    current: Option<Message>,
    max_len: usize,
}

impl MessageAssembler {
    /// An assembler refusing messages longer than `max_len` bytes.
    pub fn new(max_len: usize) -> MessageAssembler {
        MessageAssembler {
            current: None,
            max_len,
        }
    }

    /// Adds one packet; returns the message it completes, if any. A message the client flagged
    /// IGNORE is dropped (returns `None`).
    pub fn push(
        &mut self,
        header: &PacketHeader,
        payload: &[u8],
    ) -> Result<Option<Message>, ProtocolError> {
        if payload.len() != header.payload_len() {
            return Err(ProtocolError::Truncated("packet"));
        }
        let msg = self.current.get_or_insert_with(|| Message {
            ty: header.ty,
            payload: Vec::new(),
        });
        if msg.ty != header.ty {
            return Err(malformed(format!(
                "message: a {:?} packet inside a {:?} message",
                header.ty, msg.ty
            )));
        }
        if msg.payload.len() + payload.len() > self.max_len {
            return Err(malformed(format!(
                "message: longer than {} bytes",
                self.max_len
            )));
        }
        msg.payload.extend_from_slice(payload);
        if !header.is_end_of_message() {
            return Ok(None);
        }
        let msg = self.current.take();
        if header.status & STATUS_IGNORE != 0 {
            return Ok(None);
        }
        Ok(msg)
    }
}

/// Splits a server message into packets of at most `packet_size` bytes (header included; clamped
/// to 512..=32767), EOM on the last one, packet ids counting from 1.
pub fn encode_message(ty: PacketType, payload: &[u8], packet_size: u32, spid: u16) -> Vec<u8> {
    let chunk = packet_size.clamp(MIN_PACKET_SIZE, MAX_PACKET_SIZE) as usize - HEADER_LEN;
    let count = payload.len().div_ceil(chunk).max(1);
    let mut out = Vec::with_capacity(payload.len() + count * HEADER_LEN);
    for i in 0..count {
        let data = &payload[(i * chunk).min(payload.len())..((i + 1) * chunk).min(payload.len())];
        let header = PacketHeader {
            ty,
            status: if i + 1 == count { STATUS_EOM } else { 0 },
            // At most 32767: the chunk is bounded by the clamped packet size.
            length: (data.len() + HEADER_LEN) as u16,
            spid,
            packet_id: (i as u8).wrapping_add(1),
            window: 0,
        };
        out.extend_from_slice(&header.encode());
        out.extend_from_slice(data);
    }
    out
}

/// The packet size granted for a LOGIN7 request (0 = the default 4096).
pub fn negotiate_packet_size(requested: u32) -> u32 {
    if requested == 0 {
        DEFAULT_PACKET_SIZE
    } else {
        requested.clamp(MIN_PACKET_SIZE, MAX_PACKET_SIZE)
    }
}

// ---------------------------------------------------------------------------------------------
// PRELOGIN (2.2.6.5)
// ---------------------------------------------------------------------------------------------

/// PRELOGIN ENCRYPTION values.
pub const ENCRYPT_OFF: u8 = 0x00;
/// See [`ENCRYPT_OFF`].
pub const ENCRYPT_ON: u8 = 0x01;
/// See [`ENCRYPT_OFF`]: this server's answer (plain TCP).
pub const ENCRYPT_NOT_SUP: u8 = 0x02;
/// See [`ENCRYPT_OFF`].
pub const ENCRYPT_REQ: u8 = 0x03;

const PL_VERSION: u8 = 0x00;
const PL_ENCRYPTION: u8 = 0x01;
const PL_INSTOPT: u8 = 0x02;
const PL_THREADID: u8 = 0x03;
const PL_MARS: u8 = 0x04;
const PL_TERMINATOR: u8 = 0xFF;

/// A server version as LOGINACK and PRELOGIN report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerVersion {
    pub major: u8,
    pub minor: u8,
    pub build: u16,
}

/// SQL Server 2022 (16.0.4135).
pub const SERVER_VERSION: ServerVersion = ServerVersion {
    major: 16,
    minor: 0,
    build: 4135,
};

/// What a client's PRELOGIN said (options it did not send are `None`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PreLogin {
    /// Client library version (u32) and sub-build.
    pub version: Option<(u32, u16)>,
    pub encryption: Option<u8>,
    pub instance: Option<String>,
    pub mars: Option<bool>,
}

/// Parses a PRELOGIN request: the option table (token, offset u16 BE, length u16 BE) up to 0xFF,
/// each option's data inside the payload. Unknown options are skipped.
pub fn parse_prelogin(payload: &[u8]) -> Result<PreLogin, ProtocolError> {
    let mut table = Reader::new(payload, "PRELOGIN option table");
    let mut out = PreLogin::default();
    loop {
        let token = table.u8()?;
        if token == PL_TERMINATOR {
            return Ok(out);
        }
        let [o1, o2, l1, l2] = table.array::<4>()?;
        let (offset, len) = (
            u16::from_be_bytes([o1, o2]) as usize,
            u16::from_be_bytes([l1, l2]) as usize,
        );
        let data = payload
            .get(offset..offset + len)
            .ok_or(ProtocolError::Truncated("PRELOGIN option data"))?;
        match token {
            PL_VERSION if len >= 6 => {
                let v = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
                out.version = Some((v, u16::from_be_bytes([data[4], data[5]])));
            }
            PL_ENCRYPTION if len >= 1 => out.encryption = Some(data[0]),
            PL_INSTOPT => {
                let name = data.split(|b| *b == 0).next().unwrap_or_default();
                out.instance = Some(String::from_utf8_lossy(name).into_owned());
            }
            PL_MARS if len >= 1 => out.mars = Some(data[0] != 0),
            PL_VERSION | PL_ENCRYPTION | PL_MARS => {
                return Err(malformed(format!(
                    "PRELOGIN option 0x{token:02X} of {len} bytes"
                )));
            }
            _ => {}
        }
    }
}

/// The server's PRELOGIN reply: VERSION, ENCRYPTION, INSTOPT (0x00 = instance accepted),
/// THREADID (empty), MARS (off).
pub fn encode_prelogin_reply(version: ServerVersion, encryption: u8) -> Vec<u8> {
    let build = version.build.to_be_bytes();
    let options: [(u8, &[u8]); 5] = [
        (
            PL_VERSION,
            &[version.major, version.minor, build[0], build[1], 0, 0],
        ),
        (PL_ENCRYPTION, &[encryption]),
        (PL_INSTOPT, &[0x00]),
        (PL_THREADID, &[]),
        (PL_MARS, &[0x00]),
    ];
    let mut table = Vec::new();
    let mut data = Vec::new();
    let mut offset = options.len() * 5 + 1;
    for (token, value) in options {
        table.push(token);
        table.extend_from_slice(&(offset as u16).to_be_bytes());
        table.extend_from_slice(&(value.len() as u16).to_be_bytes());
        data.extend_from_slice(value);
        offset += value.len();
    }
    table.push(PL_TERMINATOR);
    table.extend_from_slice(&data);
    table
}

// ---------------------------------------------------------------------------------------------
// LOGIN7 (2.2.6.4)
// ---------------------------------------------------------------------------------------------

/// Length of LOGIN7's fixed part.
const LOGIN7_FIXED_LEN: usize = 94;

/// What a LOGIN7 request carries that this server uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login7 {
    /// As sent (little-endian on the wire; 0x74000004 = TDS 7.4).
    pub tds_version: u32,
    /// Requested packet size (0 = server default).
    pub packet_size: u32,
    pub host_name: String,
    pub user: String,
    /// De-obfuscated.
    pub password: String,
    pub app_name: String,
    pub server_name: String,
    /// "" = the login's default database.
    pub database: String,
    /// The client asked for integrated (SSPI) authentication.
    pub sspi: bool,
}

/// Parses LOGIN7: the 94-byte fixed part, then (offset, length in characters) pairs pointing
/// into the message (offsets from the start of LOGIN7).
pub fn parse_login7(payload: &[u8]) -> Result<Login7, ProtocolError> {
    let mut fixed = Reader::new(payload, "LOGIN7 fixed part");
    let length = fixed.u32_le()? as usize;
    if length < LOGIN7_FIXED_LEN || length > payload.len() {
        return Err(malformed(format!(
            "LOGIN7 length {length} (message has {})",
            payload.len()
        )));
    }
    let body = &payload[..length];
    let u16_at = |at: usize| -> Result<u16, ProtocolError> {
        body.get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .ok_or(ProtocolError::Truncated("LOGIN7 fixed part"))
    };
    let bytes_of = |at: usize| -> Result<&[u8], ProtocolError> {
        let (offset, chars) = (u16_at(at)? as usize, u16_at(at + 2)? as usize);
        body.get(offset..offset + chars * 2)
            .ok_or(ProtocolError::Truncated("LOGIN7 variable data"))
    };
    let string_at = |at: usize| -> Result<String, ProtocolError> { utf16_to_string(bytes_of(at)?) };
    let tds_version = fixed.u32_le()?;
    let packet_size = fixed.u32_le()?;
    Ok(Login7 {
        tds_version,
        packet_size,
        host_name: string_at(36)?,
        user: string_at(40)?,
        password: decode_password(bytes_of(44)?)?,
        app_name: string_at(48)?,
        server_name: string_at(52)?,
        database: string_at(68)?,
        sspi: u16_at(80)? != 0,
    })
}

/// LOGIN7's password obfuscation: per byte, swap the nibbles, then XOR 0xA5.
pub fn obfuscate_password(password: &str) -> Vec<u8> {
    password
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .map(|b| b.rotate_left(4) ^ 0xA5)
        .collect()
}

/// The inverse of [`obfuscate_password`]: XOR 0xA5, swap the nibbles, decode UTF-16LE.
pub fn decode_password(bytes: &[u8]) -> Result<String, ProtocolError> {
    let plain: Vec<u8> = bytes.iter().map(|b| (b ^ 0xA5).rotate_left(4)).collect();
    utf16_to_string(&plain)
}

// ---------------------------------------------------------------------------------------------
// SQL batch (2.2.6.7) and RPC / sp_executesql (2.2.6.6)
// ---------------------------------------------------------------------------------------------

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

// TDS data types (2.2.5.4).
const NULLTYPE: u8 = 0x1F;
const INT1: u8 = 0x30;
const BIT: u8 = 0x32;
const INT2: u8 = 0x34;
const INT4: u8 = 0x38;
const DATETIM4: u8 = 0x3A;
const DATETIME: u8 = 0x3D;
const INT8: u8 = 0x7F;
const INTN: u8 = 0x26;
const BITN: u8 = 0x68;
const DECIMALN: u8 = 0x6A;
const NUMERICN: u8 = 0x6C;
const DATETIMEN: u8 = 0x6F;
const DATEN: u8 = 0x28;
const DATETIME2N: u8 = 0x2A;
const BIGVARCHAR: u8 = 0xA7;
const BIGCHAR: u8 = 0xAF;
const NVARCHAR: u8 = 0xE7;
const NCHAR: u8 = 0xEF;

/// PLP total length of NULL (2.2.5.2.3).
const PLP_NULL: u64 = u64::MAX;

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

const DATETIME_EPOCH: Date = date!(1900 - 01 - 01);
const DATETIME2_EPOCH: Date = date!(0001 - 01 - 01);
const DATETIME_MIN: Date = date!(1753 - 01 - 01);
/// 1/300 s ticks in a day.
const TICKS_PER_DAY: u64 = 300 * 86_400;

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

/// Windows-1252 bytes 0x80..=0x9F (the rest is Latin-1; the 5 unassigned bytes map to themselves,
/// as WHATWG and encoding_rs do).
const CP1252_HIGH: [char; 32] = [
    '\u{20AC}', '\u{81}', '\u{201A}', '\u{192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}',
    '\u{2C6}', '\u{2030}', '\u{160}', '\u{2039}', '\u{152}', '\u{8D}', '\u{17D}', '\u{8F}',
    '\u{90}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}',
    '\u{2DC}', '\u{2122}', '\u{161}', '\u{203A}', '\u{153}', '\u{9D}', '\u{17E}', '\u{178}',
];

/// Single-byte text in the server collation's code page (1252).
fn cp1252_decode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            0x80..=0x9F => CP1252_HIGH[(b - 0x80) as usize],
            _ => b as char,
        })
        .collect()
}

/// Encodes to code page 1252; characters it lacks become '?', as SQL Server converts them.
fn cp1252_encode(s: &str) -> Vec<u8> {
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

// ---------------------------------------------------------------------------------------------
// Reply tokens (2.2.7)
// ---------------------------------------------------------------------------------------------

const TOKEN_COLMETADATA: u8 = 0x81;
const TOKEN_ROW: u8 = 0xD1;
const TOKEN_ENVCHANGE: u8 = 0xE3;
const TOKEN_LOGINACK: u8 = 0xAD;
const TOKEN_INFO: u8 = 0xAB;
const TOKEN_ERROR: u8 = 0xAA;
const TOKEN_RETURNSTATUS: u8 = 0x79;

/// DONE status: more results follow.
pub const DONE_MORE: u16 = 0x0001;
/// DONE status: the statement failed.
pub const DONE_ERROR: u16 = 0x0002;
/// DONE status: the row count is valid.
pub const DONE_COUNT: u16 = 0x0010;
/// DONE status: acknowledges an ATTENTION.
pub const DONE_ATTN: u16 = 0x0020;
/// DONE cur_cmd of a SELECT.
const CMD_SELECT: u16 = 0x00C1;

/// The server collation: SQL_Latin1_General_CP1_CI_AS (LCID 0x0409, sort id 52).
pub const COLLATION: [u8; 5] = [0x09, 0x04, 0xD0, 0x00, 0x34];
/// TDS version in LOGINACK (7.4), written big-endian.
pub const TDS_VERSION_74: u32 = 0x7400_0004;
/// The program name real servers put in LOGINACK.
pub const PROGRAM_NAME: &str = "Microsoft SQL Server";

/// The three DONE tokens (same layout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DoneKind {
    /// 0xFD: end of a SQL statement / batch.
    Done,
    /// 0xFE: end of a stored procedure (RPC).
    DoneProc,
    /// 0xFF: end of a statement inside a procedure.
    DoneInProc,
}

/// DONE/DONEPROC/DONEINPROC: status u16, cur_cmd u16, row count u64.
pub fn encode_done(out: &mut Vec<u8>, kind: DoneKind, status: u16, cur_cmd: u16, rows: u64) {
    out.push(match kind {
        DoneKind::Done => 0xFD,
        DoneKind::DoneProc => 0xFE,
        DoneKind::DoneInProc => 0xFF,
    });
    out.extend_from_slice(&status.to_le_bytes());
    out.extend_from_slice(&cur_cmd.to_le_bytes());
    out.extend_from_slice(&rows.to_le_bytes());
}

/// UTF-16LE units of `s`, at most `max` (longer text is cut: names and messages are bounded).
fn utf16_units(s: &str, max: usize) -> Vec<u16> {
    s.encode_utf16().take(max).collect()
}

fn put_utf16(out: &mut Vec<u8>, units: &[u16]) {
    for u in units {
        out.extend_from_slice(&u.to_le_bytes());
    }
}

/// B_VARCHAR: u8 character count, UTF-16LE (cut at 255 characters).
fn put_b_varchar(out: &mut Vec<u8>, s: &str) {
    let units = utf16_units(s, 255);
    out.push(units.len() as u8);
    put_utf16(out, &units);
}

/// US_VARCHAR: u16 character count, UTF-16LE (cut at 65535 characters).
fn put_us_varchar(out: &mut Vec<u8>, s: &str) {
    let units = utf16_units(s, 0xFFFF);
    out.extend_from_slice(&(units.len() as u16).to_le_bytes());
    put_utf16(out, &units);
}

/// A token whose body follows a u16 length.
fn put_length_prefixed(out: &mut Vec<u8>, token: u8, body: &[u8]) {
    out.push(token);
    // Bodies here are bounded well below 64 KiB except messages, which are cut to fit.
    out.extend_from_slice(&(body.len().min(0xFFFF) as u16).to_le_bytes());
    out.extend_from_slice(&body[..body.len().min(0xFFFF)]);
}

/// ENVCHANGE type 1: the current database.
pub fn encode_env_database(out: &mut Vec<u8>, new: &str, old: &str) {
    let mut body = vec![0x01];
    put_b_varchar(&mut body, new);
    put_b_varchar(&mut body, old);
    put_length_prefixed(out, TOKEN_ENVCHANGE, &body);
}

/// ENVCHANGE type 7: the SQL collation (new value 5 bytes, old value empty).
pub fn encode_env_collation(out: &mut Vec<u8>, collation: [u8; 5]) {
    let mut body = vec![0x07, 5];
    body.extend_from_slice(&collation);
    body.push(0);
    put_length_prefixed(out, TOKEN_ENVCHANGE, &body);
}

/// ENVCHANGE type 4: the packet size, both values as decimal text.
pub fn encode_env_packet_size(out: &mut Vec<u8>, new: u32, old: u32) {
    let mut body = vec![0x04];
    put_b_varchar(&mut body, &new.to_string());
    put_b_varchar(&mut body, &old.to_string());
    put_length_prefixed(out, TOKEN_ENVCHANGE, &body);
}

/// LOGINACK: interface 1 (T-SQL), TDS version (big-endian), program name, version
/// (major, minor, build high byte, build low byte).
pub fn encode_login_ack(out: &mut Vec<u8>, program: &str, version: ServerVersion) {
    let mut body = vec![0x01];
    body.extend_from_slice(&TDS_VERSION_74.to_be_bytes());
    put_b_varchar(&mut body, program);
    body.extend_from_slice(&[version.major, version.minor]);
    body.extend_from_slice(&version.build.to_be_bytes());
    put_length_prefixed(out, TOKEN_LOGINACK, &body);
}

/// The fields of an ERROR or INFO token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerMessage<'a> {
    pub number: u32,
    pub state: u8,
    pub class: u8,
    pub message: &'a str,
    pub server: &'a str,
    pub procedure: &'a str,
    pub line: u32,
}

fn encode_server_message(out: &mut Vec<u8>, token: u8, m: &ServerMessage<'_>) {
    let mut body = Vec::new();
    body.extend_from_slice(&m.number.to_le_bytes());
    body.extend_from_slice(&[m.state, m.class]);
    // Keep the whole body under 64 KiB: cut the message to 30000 characters.
    put_us_varchar(
        &mut body,
        &m.message.chars().take(30_000).collect::<String>(),
    );
    put_b_varchar(&mut body, m.server);
    put_b_varchar(&mut body, m.procedure);
    body.extend_from_slice(&m.line.to_le_bytes());
    put_length_prefixed(out, token, &body);
}

/// ERROR (0xAA): number, state, class, message, server, procedure, line.
pub fn encode_error(out: &mut Vec<u8>, m: &ServerMessage<'_>) {
    encode_server_message(out, TOKEN_ERROR, m);
}

/// INFO (0xAB): same layout as ERROR.
pub fn encode_info(out: &mut Vec<u8>, m: &ServerMessage<'_>) {
    encode_server_message(out, TOKEN_INFO, m);
}

/// RETURNSTATUS (0x79): the procedure's i32 return value.
pub fn encode_return_status(out: &mut Vec<u8>, status: i32) {
    out.push(TOKEN_RETURNSTATUS);
    out.extend_from_slice(&status.to_le_bytes());
}

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
        (ColumnType::NVarChar(_) | ColumnType::VarChar(_), Value::Null) => {
            out.extend_from_slice(&[0xFF, 0xFF])
        }
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

// ---------------------------------------------------------------------------------------------
// Whole replies
// ---------------------------------------------------------------------------------------------

/// Which request a reply answers: statement results end with DONE (batch) or DONEINPROC (RPC,
/// followed by RETURNSTATUS and DONEPROC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    Batch,
    Rpc,
}

/// ERROR number used when the backend built a reply this module cannot encode.
const INTERNAL_ERROR: u32 = 50000;

/// The token stream answering one request. Batch: every statement ends with DONE, with DONE_MORE
/// on all but the last; a reply list ending in INFO (or empty) gets a final DONE. RPC: statements
/// end with DONEINPROC (always DONE_MORE), then RETURNSTATUS (1 if any statement failed) and
/// DONEPROC. A `Rows` reply the backend built wrongly becomes an ERROR (class 16).
pub fn encode_replies(replies: &[Reply], kind: RequestKind, server_name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let statement_done = match kind {
        RequestKind::Batch => DoneKind::Done,
        RequestKind::Rpc => DoneKind::DoneInProc,
    };
    let mut failed = false;
    for (i, reply) in replies.iter().enumerate() {
        let more = if kind == RequestKind::Rpc || i + 1 < replies.len() {
            DONE_MORE
        } else {
            0
        };
        match reply {
            Reply::Rows { columns, rows } => match encode_rows(columns, rows) {
                Ok(tokens) => {
                    out.extend_from_slice(&tokens);
                    encode_done(
                        &mut out,
                        statement_done,
                        DONE_COUNT | more,
                        CMD_SELECT,
                        rows.len() as u64,
                    );
                }
                Err(e) => {
                    tracing::error!(error = %e, "the SQL backend built a result set that cannot be sent");
                    failed = true;
                    let message = format!("The server could not send a result set: {e}.");
                    encode_error(
                        &mut out,
                        &message_token(INTERNAL_ERROR, 1, 16, &message, server_name),
                    );
                    encode_done(&mut out, statement_done, DONE_ERROR | more, 0, 0);
                }
            },
            Reply::Info { number, message } => {
                encode_info(
                    &mut out,
                    &message_token(*number, 1, 0, message, server_name),
                );
            }
            Reply::Error {
                number,
                state,
                class,
                message,
            } => {
                failed = true;
                encode_error(
                    &mut out,
                    &message_token(*number, *state, *class, message, server_name),
                );
                encode_done(&mut out, statement_done, DONE_ERROR | more, 0, 0);
            }
            Reply::Done { rows_affected } => {
                let status = if rows_affected.is_some() {
                    DONE_COUNT
                } else {
                    0
                };
                encode_done(
                    &mut out,
                    statement_done,
                    status | more,
                    0,
                    rows_affected.unwrap_or(0),
                );
            }
        }
    }
    match kind {
        RequestKind::Batch => {
            if matches!(replies.last(), None | Some(Reply::Info { .. })) {
                encode_done(&mut out, DoneKind::Done, 0, 0, 0);
            }
        }
        RequestKind::Rpc => {
            encode_return_status(&mut out, failed as i32);
            encode_done(
                &mut out,
                DoneKind::DoneProc,
                if failed { DONE_ERROR } else { 0 },
                0,
                0,
            );
        }
    }
    out
}

fn encode_rows(columns: &[Column], rows: &[Vec<Value>]) -> Result<Vec<u8>, ReplyError> {
    let mut out = Vec::new();
    encode_colmetadata(&mut out, columns)?;
    for row in rows {
        encode_row(&mut out, columns, row)?;
    }
    Ok(out)
}

fn message_token<'a>(
    number: u32,
    state: u8,
    class: u8,
    message: &'a str,
    server: &'a str,
) -> ServerMessage<'a> {
    ServerMessage {
        number,
        state,
        class,
        message,
        server,
        procedure: "",
        line: 1,
    }
}

/// The reply to a successful LOGIN7: ENVCHANGE database, ENVCHANGE collation, LOGINACK,
/// ENVCHANGE packet size, DONE.
pub fn encode_login_success(database: &str, packet_size: u32) -> Vec<u8> {
    let mut out = Vec::new();
    encode_env_database(&mut out, database, "");
    encode_env_collation(&mut out, COLLATION);
    encode_login_ack(&mut out, PROGRAM_NAME, SERVER_VERSION);
    encode_env_packet_size(&mut out, packet_size, DEFAULT_PACKET_SIZE);
    encode_done(&mut out, DoneKind::Done, 0, 0, 0);
    out
}

/// The reply to a refused LOGIN7: ERROR 18456 class 14 state 1, DONE with DONE_ERROR.
pub fn encode_login_failure(user: &str, server_name: &str) -> Vec<u8> {
    let message = format!("Login failed for user '{user}'.");
    encode_request_error(18456, 14, &message, server_name)
}

/// A request answered by one ERROR (state 1) and DONE with DONE_ERROR.
pub fn encode_request_error(number: u32, class: u8, message: &str, server_name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    encode_error(
        &mut out,
        &message_token(number, 1, class, message, server_name),
    );
    encode_done(&mut out, DoneKind::Done, DONE_ERROR, 0, 0);
    out
}

/// The acknowledgement of an ATTENTION: DONE with DONE_ATTN.
pub fn encode_attention_ack() -> Vec<u8> {
    let mut out = Vec::new();
    encode_done(&mut out, DoneKind::Done, DONE_ATTN, 0, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn utf16(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    fn b_varchar(s: &str) -> Vec<u8> {
        let mut v = vec![s.encode_utf16().count() as u8];
        v.extend(utf16(s));
        v
    }

    /// Splits a server message back into (header, payload) pairs.
    fn packets(mut bytes: &[u8]) -> Vec<(PacketHeader, Vec<u8>)> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let mut h = [0u8; 8];
            h.copy_from_slice(&bytes[..8]);
            h[0] = 0x01; // parse() accepts client types only
            let mut header = PacketHeader::parse(&h).unwrap();
            header.ty = PacketType::from_u8(bytes[0]);
            let len = header.length as usize;
            out.push((header, bytes[8..len].to_vec()));
            bytes = &bytes[len..];
        }
        out
    }

    // ---- packets ---------------------------------------------------------------------------

    #[test]
    fn header_round_trips_big_endian_length() {
        let h = PacketHeader {
            ty: PacketType::Rpc,
            status: STATUS_EOM,
            length: 0x1234,
            spid: 0x0102,
            packet_id: 7,
            window: 0,
        };
        let bytes = h.encode();
        assert_eq!(bytes, [0x03, 0x01, 0x12, 0x34, 0x01, 0x02, 0x07, 0x00]);
        assert_eq!(PacketHeader::parse(&bytes), Ok(h));
        assert_eq!(h.payload_len(), 0x1234 - 8);
    }

    #[test]
    fn header_rejects_garbage() {
        assert!(
            PacketHeader::parse(&[0x01, 0x01, 0x00, 0x07, 0, 0, 0, 0]).is_err(),
            "length < 8"
        );
        assert!(
            PacketHeader::parse(&[0xDE, 0xAD, 0xBE, 0xEF, 0, 0, 0, 0]).is_err(),
            "unknown type"
        );
        assert!(
            PacketHeader::parse(&[0x04, 0x01, 0x00, 0x08, 0, 0, 0, 0]).is_err(),
            "server type"
        );
        assert!(
            PacketHeader::parse(&[0x01, 0x40, 0x00, 0x08, 0, 0, 0, 0]).is_err(),
            "status bit"
        );
        assert!(PacketHeader::parse(&[0x12, 0x01, 0x00, 0x08, 0, 0, 0, 0]).is_ok());
    }

    #[test]
    fn messages_split_at_the_packet_size_and_reassemble() {
        let payload: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let bytes = encode_message(PacketType::TabularResult, &payload, 4096, 0);
        let parts = packets(&bytes);
        let lens: Vec<u16> = parts.iter().map(|(h, _)| h.length).collect();
        assert_eq!(lens, vec![4096, 4096, (10_000 - 2 * 4088 + 8) as u16]);
        let eoms: Vec<bool> = parts.iter().map(|(h, _)| h.is_end_of_message()).collect();
        assert_eq!(eoms, vec![false, false, true]);
        let ids: Vec<u8> = parts.iter().map(|(h, _)| h.packet_id).collect();
        assert_eq!(ids, vec![1, 2, 3]);
        assert!(parts.iter().all(|(h, _)| h.ty == PacketType::TabularResult));

        let mut asm = MessageAssembler::new(1 << 20);
        let mut done = None;
        for (mut h, p) in parts {
            h.ty = PacketType::SqlBatch;
            assert!(done.is_none(), "a message before the last packet");
            done = asm.push(&h, &p).unwrap();
        }
        assert_eq!(
            done,
            Some(Message {
                ty: PacketType::SqlBatch,
                payload
            })
        );
    }

    #[test]
    fn empty_message_is_one_header() {
        assert_eq!(
            encode_message(PacketType::TabularResult, &[], 4096, 0),
            vec![4, 1, 0, 8, 0, 0, 1, 0]
        );
    }

    #[test]
    fn tiny_packet_sizes_are_clamped() {
        let bytes = encode_message(PacketType::TabularResult, &[0u8; 600], 8, 0);
        assert_eq!(
            packets(&bytes)
                .iter()
                .map(|(h, _)| h.length)
                .collect::<Vec<_>>(),
            vec![512, 600 - 504 + 8]
        );
    }

    #[test]
    fn assembler_rejects_mixed_types_oversize_and_short_payloads() {
        let h = |ty, status, len: u16| PacketHeader {
            ty,
            status,
            length: len + 8,
            spid: 0,
            packet_id: 1,
            window: 0,
        };
        let mut asm = MessageAssembler::new(10);
        assert_eq!(asm.push(&h(PacketType::Rpc, 0, 2), &[1, 2]), Ok(None));
        assert!(asm.push(&h(PacketType::SqlBatch, 1, 2), &[1, 2]).is_err());

        let mut asm = MessageAssembler::new(10);
        assert_eq!(asm.push(&h(PacketType::Rpc, 0, 8), &[0; 8]), Ok(None));
        assert!(
            asm.push(&h(PacketType::Rpc, 1, 8), &[0; 8]).is_err(),
            "16 > 10 bytes"
        );

        let mut asm = MessageAssembler::new(10);
        assert!(asm.push(&h(PacketType::Rpc, 1, 4), &[0; 3]).is_err());
    }

    #[test]
    fn assembler_drops_ignored_messages() {
        let h = |status| PacketHeader {
            ty: PacketType::SqlBatch,
            status,
            length: 9,
            spid: 0,
            packet_id: 1,
            window: 0,
        };
        let mut asm = MessageAssembler::new(100);
        assert_eq!(asm.push(&h(0), &[1]), Ok(None));
        assert_eq!(asm.push(&h(STATUS_EOM | STATUS_IGNORE), &[2]), Ok(None));
        assert_eq!(
            asm.push(&h(STATUS_EOM), &[3]),
            Ok(Some(Message {
                ty: PacketType::SqlBatch,
                payload: vec![3]
            }))
        );
    }

    #[test]
    fn packet_size_negotiation() {
        assert_eq!(negotiate_packet_size(0), 4096);
        assert_eq!(negotiate_packet_size(8192), 8192);
        assert_eq!(negotiate_packet_size(100), 512);
        assert_eq!(negotiate_packet_size(65536), 32767);
    }

    // ---- PRELOGIN --------------------------------------------------------------------------

    #[test]
    fn prelogin_reply_is_byte_exact() {
        let expected = [
            0x00, 0x00, 0x1A, 0x00, 0x06, // VERSION at 26, 6 bytes
            0x01, 0x00, 0x20, 0x00, 0x01, // ENCRYPTION at 32
            0x02, 0x00, 0x21, 0x00, 0x01, // INSTOPT at 33
            0x03, 0x00, 0x22, 0x00, 0x00, // THREADID, empty
            0x04, 0x00, 0x22, 0x00, 0x01, // MARS at 34
            0xFF, //
            0x10, 0x00, 0x10, 0x27, 0x00, 0x00, // 16.0.4135.0
            0x02, // ENCRYPT_NOT_SUP
            0x00, // instance accepted
            0x00, // MARS off
        ];
        assert_eq!(
            encode_prelogin_reply(SERVER_VERSION, ENCRYPT_NOT_SUP),
            expected
        );
        // The reply is itself a valid PRELOGIN.
        let parsed = parse_prelogin(&expected).unwrap();
        assert_eq!(parsed.encryption, Some(ENCRYPT_NOT_SUP));
        assert_eq!(parsed.version, Some((0x1000_1027, 0)));
        assert_eq!(parsed.mars, Some(false));
    }

    #[test]
    fn prelogin_request_parses_and_garbage_fails() {
        // What tiberius sends: VERSION, ENCRYPTION, INSTOPT "", THREADID, MARS.
        let mut req = vec![
            0x00, 0x00, 0x1A, 0x00, 0x06, 0x01, 0x00, 0x20, 0x00, 0x01, 0x02, 0x00, 0x21, 0x00,
            0x01, 0x03, 0x00, 0x22, 0x00, 0x04, 0x04, 0x00, 0x26, 0x00, 0x01, 0xFF,
        ];
        req.extend_from_slice(&[0, 13, 0, 0, 0, 0, ENCRYPT_REQ, 0, 0, 0, 0, 7, 1]);
        let p = parse_prelogin(&req).unwrap();
        assert_eq!(p.encryption, Some(ENCRYPT_REQ));
        assert_eq!(p.instance.as_deref(), Some(""));
        assert_eq!(p.mars, Some(true));
        for cut in 0..req.len() - 13 {
            assert!(
                parse_prelogin(&req[..cut]).is_err(),
                "prefix of {cut} bytes"
            );
        }
        assert!(
            parse_prelogin(&[0x01, 0x00, 0xF0, 0x00, 0x01, 0xFF]).is_err(),
            "offset past the end"
        );
        assert!(
            parse_prelogin(&[0x16, 0x03, 0x01, 0x00]).is_err(),
            "a TLS record"
        );
    }

    // ---- LOGIN7 ----------------------------------------------------------------------------

    fn login7(user: &str, password: &str, database: &str, packet_size: u32) -> Vec<u8> {
        let mut fixed = vec![0u8; LOGIN7_FIXED_LEN];
        fixed[4..8].copy_from_slice(&TDS_VERSION_74.to_le_bytes());
        fixed[8..12].copy_from_slice(&packet_size.to_le_bytes());
        let mut data = Vec::new();
        let fields: [(usize, Vec<u8>); 6] = [
            (36, utf16("host")),
            (40, utf16(user)),
            (44, obfuscate_password(password)),
            (48, utf16("app")),
            (52, utf16("srv")),
            (68, utf16(database)),
        ];
        for (at, bytes) in fields {
            let offset = (LOGIN7_FIXED_LEN + data.len()) as u16;
            fixed[at..at + 2].copy_from_slice(&offset.to_le_bytes());
            fixed[at + 2..at + 4].copy_from_slice(&((bytes.len() / 2) as u16).to_le_bytes());
            data.extend(bytes);
        }
        let total = (fixed.len() + data.len()) as u32;
        fixed[0..4].copy_from_slice(&total.to_le_bytes());
        fixed.extend(data);
        fixed
    }

    #[test]
    fn password_obfuscation_matches_ms_tds() {
        // 's' 0x73 -> swap 0x37 -> ^A5 0x92; 'a' 0x61 -> 0x16 -> 0xB3; 0x00 -> 0xA5.
        assert_eq!(obfuscate_password("sa"), vec![0x92, 0xA5, 0xB3, 0xA5]);
        assert_eq!(decode_password(&[0x92, 0xA5, 0xB3, 0xA5]).unwrap(), "sa");
        assert_eq!(
            decode_password(&obfuscate_password("Passw0rd!é€")).unwrap(),
            "Passw0rd!é€"
        );
        assert!(decode_password(&[0x92]).is_err(), "odd length");
    }

    #[test]
    fn login7_parses_fields() {
        let l = parse_login7(&login7("sa", "Passw0rd!", "master", 8192)).unwrap();
        assert_eq!(l.user, "sa");
        assert_eq!(l.password, "Passw0rd!");
        assert_eq!(l.database, "master");
        assert_eq!(l.host_name, "host");
        assert_eq!(l.app_name, "app");
        assert_eq!(l.server_name, "srv");
        assert_eq!(l.packet_size, 8192);
        assert_eq!(l.tds_version, TDS_VERSION_74);
        assert!(!l.sspi);
    }

    #[test]
    fn login7_truncated_or_lying_fails() {
        let good = login7("sa", "pw", "db", 4096);
        for cut in 0..good.len() {
            assert!(parse_login7(&good[..cut]).is_err(), "prefix of {cut} bytes");
        }
        let mut bad = good.clone();
        bad[42] = 0xFF; // user name length past the end
        assert!(parse_login7(&bad).is_err());
        let mut bad = good;
        bad[0..4].copy_from_slice(&10u32.to_le_bytes());
        assert!(parse_login7(&bad).is_err(), "length below the fixed part");
    }

    // ---- SQL batch and RPC -----------------------------------------------------------------

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

    // ---- tokens ----------------------------------------------------------------------------

    #[test]
    fn envchange_tokens_match_ms_tds_examples() {
        let mut out = Vec::new();
        encode_env_database(&mut out, "master", "master");
        let mut expected = vec![0xE3, 0x1B, 0x00, 0x01];
        expected.extend(b_varchar("master"));
        expected.extend(b_varchar("master"));
        assert_eq!(out, expected);

        let mut out = Vec::new();
        encode_env_packet_size(&mut out, 4096, 4096);
        let mut expected = vec![0xE3, 0x13, 0x00, 0x04];
        expected.extend(b_varchar("4096"));
        expected.extend(b_varchar("4096"));
        assert_eq!(out, expected);

        let mut out = Vec::new();
        encode_env_collation(&mut out, COLLATION);
        assert_eq!(
            out,
            [
                0xE3, 0x08, 0x00, 0x07, 0x05, 0x09, 0x04, 0xD0, 0x00, 0x34, 0x00
            ]
        );
    }

    #[test]
    fn loginack_is_byte_exact() {
        let mut out = Vec::new();
        encode_login_ack(&mut out, PROGRAM_NAME, SERVER_VERSION);
        let mut expected = vec![0xAD, 0x32, 0x00, 0x01, 0x74, 0x00, 0x00, 0x04, 20];
        expected.extend(utf16("Microsoft SQL Server"));
        expected.extend([0x10, 0x00, 0x10, 0x27]);
        assert_eq!(out, expected);
    }

    #[test]
    fn done_tokens_are_byte_exact() {
        let mut out = Vec::new();
        encode_done(&mut out, DoneKind::Done, DONE_COUNT, CMD_SELECT, 2);
        encode_done(&mut out, DoneKind::DoneInProc, DONE_MORE, 0, 0);
        encode_done(&mut out, DoneKind::DoneProc, 0, 0, 0);
        assert_eq!(
            out,
            [
                0xFD, 0x10, 0x00, 0xC1, 0x00, 2, 0, 0, 0, 0, 0, 0, 0, //
                0xFF, 0x01, 0x00, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, //
                0xFE, 0x00, 0x00, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,
            ]
        );
        assert_eq!(
            encode_attention_ack(),
            [0xFD, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        let mut rs = Vec::new();
        encode_return_status(&mut rs, 1);
        assert_eq!(rs, [0x79, 1, 0, 0, 0]);
    }

    #[test]
    fn error_and_info_are_byte_exact() {
        let mut out = Vec::new();
        let m = ServerMessage {
            number: 18456,
            state: 1,
            class: 14,
            message: "No",
            server: "S",
            procedure: "",
            line: 1,
        };
        encode_error(&mut out, &m);
        let mut body = vec![0x18, 0x48, 0, 0, 1, 14, 2, 0];
        body.extend(utf16("No"));
        body.extend(b_varchar("S"));
        body.push(0);
        body.extend(1u32.to_le_bytes());
        let mut expected = vec![0xAA, body.len() as u8, 0];
        expected.extend(&body);
        assert_eq!(out, expected);

        let mut info = Vec::new();
        encode_info(&mut info, &m);
        expected[0] = 0xAB;
        assert_eq!(info, expected);
    }

    #[test]
    fn login_failure_reply() {
        let out = encode_login_failure("bob", "SANDBOX");
        assert_eq!(out[0], 0xAA);
        assert_eq!(&out[3..9], &[0x18, 0x48, 0, 0, 1, 14]);
        let text = utf16("Login failed for user 'bob'.");
        assert!(out.windows(text.len()).any(|w| w == text));
        assert_eq!(
            &out[out.len() - 13..out.len() - 8],
            &[0xFD, 0x02, 0x00, 0x00, 0x00]
        );
    }

    #[test]
    fn login_success_reply_order() {
        let out = encode_login_success("master", 8192);
        let mut expected = Vec::new();
        encode_env_database(&mut expected, "master", "");
        encode_env_collation(&mut expected, COLLATION);
        encode_login_ack(&mut expected, PROGRAM_NAME, SERVER_VERSION);
        encode_env_packet_size(&mut expected, 8192, 4096);
        encode_done(&mut expected, DoneKind::Done, 0, 0, 0);
        assert_eq!(out, expected);
    }

    fn col(name: &str, ty: ColumnType) -> Column {
        Column {
            name: name.into(),
            ty,
        }
    }

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

    #[test]
    fn cp1252_round_trips() {
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(cp1252_encode(&cp1252_decode(&all)), all);
        assert_eq!(cp1252_decode(&[0x80, 0x9F, 0xE9]), "€Ÿé");
    }

    // ---- whole replies ---------------------------------------------------------------------

    fn done(kind: DoneKind, status: u16, cmd: u16, rows: u64) -> Vec<u8> {
        let mut v = Vec::new();
        encode_done(&mut v, kind, status, cmd, rows);
        v
    }

    fn rows_reply() -> (Reply, Vec<u8>) {
        let columns = vec![col("name", ColumnType::NVarChar(128))];
        let rows = vec![
            vec![Value::Str("master".into())],
            vec![Value::Str("db1".into())],
        ];
        let mut tokens = Vec::new();
        encode_colmetadata(&mut tokens, &columns).unwrap();
        for r in &rows {
            encode_row(&mut tokens, &columns, r).unwrap();
        }
        (Reply::Rows { columns, rows }, tokens)
    }

    #[test]
    fn batch_replies_set_more_on_all_but_the_last_done() {
        let (rows, tokens) = rows_reply();
        let replies = vec![
            Reply::Done {
                rows_affected: Some(3),
            },
            rows,
        ];
        let mut expected = done(DoneKind::Done, DONE_COUNT | DONE_MORE, 0, 3);
        expected.extend(&tokens);
        expected.extend(done(DoneKind::Done, DONE_COUNT, CMD_SELECT, 2));
        assert_eq!(encode_replies(&replies, RequestKind::Batch, "S"), expected);
    }

    #[test]
    fn batch_info_last_and_empty_get_a_final_done() {
        assert_eq!(
            encode_replies(&[], RequestKind::Batch, "S"),
            done(DoneKind::Done, 0, 0, 0)
        );
        let replies = vec![
            Reply::Done {
                rows_affected: None,
            },
            Reply::Info {
                number: 4035,
                message: "Processed".into(),
            },
        ];
        let mut expected = done(DoneKind::Done, DONE_MORE, 0, 0);
        encode_info(&mut expected, &message_token(4035, 1, 0, "Processed", "S"));
        expected.extend(done(DoneKind::Done, 0, 0, 0));
        assert_eq!(encode_replies(&replies, RequestKind::Batch, "S"), expected);
    }

    #[test]
    fn batch_error_reply() {
        let replies = vec![Reply::Error {
            number: 208,
            state: 1,
            class: 16,
            message: "Invalid object name 'x'.".into(),
        }];
        let mut expected = Vec::new();
        encode_error(
            &mut expected,
            &message_token(208, 1, 16, "Invalid object name 'x'.", "S"),
        );
        expected.extend(done(DoneKind::Done, DONE_ERROR, 0, 0));
        assert_eq!(encode_replies(&replies, RequestKind::Batch, "S"), expected);
    }

    #[test]
    fn rpc_replies_end_with_returnstatus_and_doneproc() {
        let (rows, tokens) = rows_reply();
        let mut expected = tokens;
        expected.extend(done(
            DoneKind::DoneInProc,
            DONE_COUNT | DONE_MORE,
            CMD_SELECT,
            2,
        ));
        expected.extend([0x79, 0, 0, 0, 0]);
        expected.extend(done(DoneKind::DoneProc, 0, 0, 0));
        assert_eq!(encode_replies(&[rows], RequestKind::Rpc, "S"), expected);

        let err = Reply::Error {
            number: 50000,
            state: 2,
            class: 16,
            message: "boom".into(),
        };
        let mut expected = Vec::new();
        encode_error(&mut expected, &message_token(50000, 2, 16, "boom", "S"));
        expected.extend(done(DoneKind::DoneInProc, DONE_ERROR | DONE_MORE, 0, 0));
        expected.extend([0x79, 1, 0, 0, 0]);
        expected.extend(done(DoneKind::DoneProc, DONE_ERROR, 0, 0));
        assert_eq!(encode_replies(&[err], RequestKind::Rpc, "S"), expected);
    }

    #[test]
    fn a_broken_result_set_becomes_an_error() {
        let bad = Reply::Rows {
            columns: vec![col("i", ColumnType::TinyInt)],
            rows: vec![vec![Value::Int(-1)]],
        };
        let out = encode_replies(&[bad], RequestKind::Batch, "S");
        assert_eq!(out[0], 0xAA, "ERROR token, no half-written COLMETADATA");
        assert_eq!(&out[out.len() - 13..out.len() - 10], &[0xFD, 0x02, 0x00]);
    }
}
