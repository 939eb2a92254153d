//! PRELOGIN (MS-TDS 2.2.6.5): the client's option table and the server's reply, and the server
//! version both PRELOGIN and LOGINACK report.

use super::reader::{ProtocolError, Reader, malformed};

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
const PL_FEDAUTHREQUIRED: u8 = 0x06;
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
    /// FEDAUTHREQUIRED: the client will authenticate with a Microsoft Entra token.
    pub fed_auth_required: Option<bool>,
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
            PL_FEDAUTHREQUIRED if len >= 1 => out.fed_auth_required = Some(data[0] != 0),
            PL_VERSION | PL_ENCRYPTION | PL_MARS | PL_FEDAUTHREQUIRED => {
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
    encode_prelogin_reply_fedauth(version, encryption, false)
}

/// [`encode_prelogin_reply`], with FEDAUTHREQUIRED (0x01) after MARS when the client sent it
/// (MS-TDS 2.2.6.5: the server answers it only then; the client echoes it in LOGIN7's FEDAUTH).
pub fn encode_prelogin_reply_fedauth(
    version: ServerVersion,
    encryption: u8,
    fed_auth_required: bool,
) -> Vec<u8> {
    let build = version.build.to_be_bytes();
    let version_bytes = [version.major, version.minor, build[0], build[1], 0, 0];
    let encryption_bytes = [encryption];
    let mut options: Vec<(u8, &[u8])> = vec![
        (PL_VERSION, &version_bytes),
        (PL_ENCRYPTION, &encryption_bytes),
        (PL_INSTOPT, &[0x00]),
        (PL_THREADID, &[]),
        (PL_MARS, &[0x00]),
    ];
    if fed_auth_required {
        options.push((PL_FEDAUTHREQUIRED, &[0x01]));
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
