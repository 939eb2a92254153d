//! The reply tokens (MS-TDS 2.2.7) other than result sets: DONE / DONEPROC / DONEINPROC,
//! ENVCHANGE, LOGINACK, ERROR and INFO, RETURNSTATUS, and the length-prefixed UTF-16 strings they carry.

use super::prelogin::ServerVersion;

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
pub(super) const CMD_SELECT: u16 = 0x00C1;

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

pub(super) fn put_utf16(out: &mut Vec<u8>, units: &[u16]) {
    for u in units {
        out.extend_from_slice(&u.to_le_bytes());
    }
}

/// B_VARCHAR: u8 character count, UTF-16LE (cut at 255 characters).
pub(super) fn put_b_varchar(out: &mut Vec<u8>, s: &str) {
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

#[cfg(test)]
mod tests {
    use super::super::prelogin::SERVER_VERSION;
    use super::super::replies::encode_attention_ack;
    use super::super::test_bytes::{b_varchar, utf16};
    use super::*;

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
}
