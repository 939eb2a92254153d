//! The TDS 7.4 wire format (MS-TDS) spoken by the sandbox's SQL Server: packets (2.2.3), PRELOGIN
//! (2.2.6.5), LOGIN7 (2.2.6.4), SQL batch (2.2.6.7), RPC as `sp_executesql` (2.2.6.6) and the reply
//! tokens (2.2.7). Pure functions over byte slices, no I/O. Every read is bounds-checked: malformed
//! input is a [`ProtocolError`], never a panic.
//!
//! One module a message kind, all re-exported here: `packet` (headers, messages, packet size),
//! `prelogin`, `login7`, `request` (SQL batch and RPC, parameter decoding), `tokens` (DONE,
//! ENVCHANGE, LOGINACK, ERROR/INFO, RETURNSTATUS), `rows` (COLMETADATA and ROW), `replies` (the
//! token streams answering a request or a login); `reader` (the bounds-checked reader) and `types`
//! (data type bytes, dates, code page 1252) serve them.

mod login7;
mod packet;
mod prelogin;
mod reader;
mod replies;
mod request;
mod rows;
mod tokens;
mod types;

pub use login7::{FedAuth, Login7, decode_password, obfuscate_password, parse_login7};
pub use packet::{
    DEFAULT_PACKET_SIZE, HEADER_LEN, MAX_PACKET_SIZE, MIN_PACKET_SIZE, Message, MessageAssembler,
    PacketHeader, PacketType, STATUS_EOM, STATUS_IGNORE, encode_message, negotiate_packet_size,
};
pub use prelogin::{
    ENCRYPT_NOT_SUP, ENCRYPT_OFF, ENCRYPT_ON, ENCRYPT_REQ, PreLogin, SERVER_VERSION, ServerVersion,
    encode_prelogin_reply, encode_prelogin_reply_fedauth, parse_prelogin,
};
pub use reader::ProtocolError;
pub use replies::{
    RequestKind, encode_attention_ack, encode_login_failure, encode_login_success,
    encode_login_success_fedauth, encode_replies, encode_request_error,
};
pub use request::{SP_EXECUTESQL_ID, parse_rpc, parse_sql_batch};
pub use rows::{ReplyError, encode_colmetadata, encode_row};
pub use tokens::{
    COLLATION, DONE_ATTN, DONE_COUNT, DONE_ERROR, DONE_MORE, DoneKind, PROGRAM_NAME, ServerMessage,
    TDS_VERSION_74, encode_done, encode_env_collation, encode_env_database, encode_env_packet_size,
    encode_error, encode_info, encode_login_ack, encode_return_status,
};

/// Byte builders the modules' tests share.
#[cfg(test)]
mod test_bytes {
    use crate::tds::{Column, ColumnType};

    pub(super) fn utf16(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    pub(super) fn b_varchar(s: &str) -> Vec<u8> {
        let mut v = vec![s.encode_utf16().count() as u8];
        v.extend(utf16(s));
        v
    }

    pub(super) fn col(name: &str, ty: ColumnType) -> Column {
        Column {
            name: name.into(),
            ty,
        }
    }
}
