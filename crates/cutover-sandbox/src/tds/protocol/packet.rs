//! Packets (MS-TDS 2.2.3) and messages: the 8-byte header, joining a client's packets into one
//! message, splitting a server message into packets, and the packet size LOGIN7 negotiates.

use super::reader::{ProtocolError, malformed};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
