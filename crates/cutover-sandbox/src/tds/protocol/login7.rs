//! LOGIN7 (MS-TDS 2.2.6.4): the fixed part, the variable fields it points to, and the password
//! obfuscation.

use super::reader::{ProtocolError, Reader, malformed, utf16_to_string};

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
    /// FEDAUTH in the FeatureExt block: a Microsoft Entra access token.
    pub fed_auth: Option<FedAuth>,
}

/// LOGIN7's FEDAUTH feature (MS-TDS 2.2.6.4, FeatureExt, FeatureId 0x02) with the
/// SECURITYTOKEN library: the token the client got from Microsoft Entra ID.
#[derive(Clone, PartialEq, Eq)]
pub struct FedAuth {
    /// fFedAuthEcho: the client saw FEDAUTHREQUIRED in the server's PRELOGIN.
    pub echo: bool,
    pub token: String,
}

impl std::fmt::Debug for FedAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FedAuth")
            .field("echo", &self.echo)
            .field("token", &"<redacted>")
            .finish()
    }
}

const FEATURE_FEDAUTH: u8 = 0x02;
const FEATURE_TERMINATOR: u8 = 0xFF;
/// bFedAuthLibrary SECURITYTOKEN: the client already holds the token.
const FEDAUTH_LIBRARY_SECURITYTOKEN: u8 = 0x01;
/// OptionFlags3's fExtension: ibExtension points at the FeatureExt block's offset.
const OPTION_FLAGS3_EXTENSION: u8 = 0x10;

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
    let option_flags3 = *body
        .get(27)
        .ok_or(ProtocolError::Truncated("LOGIN7 fixed part"))?;
    let fed_auth = if option_flags3 & OPTION_FLAGS3_EXTENSION != 0 {
        let at = u16_at(56)? as usize;
        let ptr = body
            .get(at..at + 4)
            .ok_or(ProtocolError::Truncated("LOGIN7 extension offset"))?;
        let start = u32::from_le_bytes([ptr[0], ptr[1], ptr[2], ptr[3]]) as usize;
        parse_feature_ext(
            body.get(start..)
                .ok_or(ProtocolError::Truncated("LOGIN7 FeatureExt"))?,
        )?
    } else {
        None
    };
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
        fed_auth,
    })
}

/// The FeatureExt block: (FeatureId, FeatureDataLen u32 LE, data) until 0xFF; FEDAUTH read,
/// other features skipped.
fn parse_feature_ext(block: &[u8]) -> Result<Option<FedAuth>, ProtocolError> {
    let mut r = Reader::new(block, "LOGIN7 FeatureExt");
    let mut fed_auth = None;
    loop {
        let id = r.u8()?;
        if id == FEATURE_TERMINATOR {
            return Ok(fed_auth);
        }
        let len = r.u32_le()? as usize;
        let data = r.take(len)?;
        if id != FEATURE_FEDAUTH {
            continue;
        }
        let mut d = Reader::new(data, "LOGIN7 FEDAUTH");
        let options = d.u8()?;
        if options >> 1 != FEDAUTH_LIBRARY_SECURITYTOKEN {
            return Err(malformed(format!(
                "FEDAUTH library 0x{:02X} (this server takes SECURITYTOKEN, 0x01)",
                options >> 1
            )));
        }
        let token_len = d.u32_le()? as usize;
        let token = utf16_to_string(d.take(token_len)?)?;
        fed_auth = Some(FedAuth {
            echo: options & 1 == 1,
            token,
        });
    }
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

#[cfg(test)]
mod tests {
    use super::super::test_bytes::utf16;
    use super::super::tokens::TDS_VERSION_74;
    use super::*;

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
}
