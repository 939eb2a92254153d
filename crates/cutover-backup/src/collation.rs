//! The 5-byte TDS collation stored in a backup header, and its SQL Server name.

/// Names of SQL collations by sort id (the fifth byte), for the ones seen in the field.
const SQL_SORT_IDS: &[(u8, &str)] = &[
    (30, "SQL_Latin1_General_CP437_BIN"),
    (31, "SQL_Latin1_General_CP437_CS_AS"),
    (32, "SQL_Latin1_General_CP437_CI_AS"),
    (33, "SQL_Latin1_General_Pref_CP437_CI_AS"),
    (34, "SQL_Latin1_General_CP437_CI_AI"),
    (40, "SQL_Latin1_General_CP850_BIN"),
    (41, "SQL_Latin1_General_CP850_CS_AS"),
    (42, "SQL_Latin1_General_CP850_CI_AS"),
    (43, "SQL_Latin1_General_Pref_CP850_CI_AS"),
    (44, "SQL_Latin1_General_CP850_CI_AI"),
    (51, "SQL_Latin1_General_CP1_CS_AS"),
    (52, "SQL_Latin1_General_CP1_CI_AS"),
    (53, "SQL_Latin1_General_Pref_CP1_CI_AS"),
    (54, "SQL_Latin1_General_CP1_CI_AI"),
    (55, "SQL_AltDiction_CP850_CS_AS"),
    (56, "SQL_AltDiction_Pref_CP850_CI_AS"),
    (57, "SQL_AltDiction_CP850_CI_AI"),
    (58, "SQL_Scandinavian_Pref_CP850_CI_AS"),
    (59, "SQL_Scandinavian_CP850_CS_AS"),
    (60, "SQL_Scandinavian_CP850_CI_AS"),
    (61, "SQL_AltDiction_CP850_CI_AS"),
];

/// Windows collation name prefixes by LCID.
const WINDOWS_LCIDS: &[(u32, &str)] = &[
    (1025, "Arabic"),
    (1028, "Chinese_Taiwan_Stroke"),
    (1029, "Czech"),
    (1030, "Danish_Norwegian"),
    (1031, "Latin1_General"),
    (1032, "Greek"),
    (1033, "Latin1_General"),
    (1034, "Traditional_Spanish"),
    (1035, "Finnish_Swedish"),
    (1036, "French"),
    (1037, "Hebrew"),
    (1038, "Hungarian"),
    (1041, "Japanese"),
    (1042, "Korean_Wansung"),
    (1045, "Polish"),
    (1049, "Cyrillic_General"),
    (1053, "Finnish_Swedish"),
    (1054, "Thai"),
    (1055, "Turkish"),
    (2052, "Chinese_PRC"),
    (3082, "Modern_Spanish"),
];

const IGNORE_CASE: u8 = 0x01;
const IGNORE_ACCENT: u8 = 0x02;
const IGNORE_KANA: u8 = 0x04;
const IGNORE_WIDTH: u8 = 0x08;
const BINARY: u8 = 0x10;
const BINARY2: u8 = 0x20;
const UTF8: u8 = 0x40;

/// The collation name for the 5 raw bytes, or a descriptive fallback for unknown ones.
pub fn collation_name(raw: &[u8]) -> String {
    let Some(raw) = raw.get(..5) else {
        return String::new();
    };
    if raw.iter().all(|&b| b == 0) {
        return String::new();
    }
    let info = u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]);
    let lcid = info & 0x000F_FFFF;
    let flags = ((info >> 20) & 0xFF) as u8;
    let version = (info >> 28) & 0x0F;
    let sort_id = raw[4];
    if sort_id != 0 {
        return SQL_SORT_IDS
            .iter()
            .find(|(id, _)| *id == sort_id)
            .map(|(_, n)| n.to_string())
            .unwrap_or_else(|| format!("SQL collation (sort id {sort_id}, LCID {lcid})"));
    }
    let Some(prefix) = WINDOWS_LCIDS
        .iter()
        .find(|(l, _)| *l == lcid)
        .map(|(_, n)| *n)
    else {
        return format!("Windows collation (LCID {lcid}, flags 0x{flags:02x})");
    };
    let mut name = prefix.to_string();
    match version {
        1 => name.push_str("_100"),
        2 => name.push_str("_140"),
        _ => {}
    }
    if flags & BINARY2 != 0 {
        name.push_str("_BIN2");
    } else if flags & BINARY != 0 {
        name.push_str("_BIN");
    } else {
        name.push_str(if flags & IGNORE_CASE != 0 {
            "_CI"
        } else {
            "_CS"
        });
        name.push_str(if flags & IGNORE_ACCENT != 0 {
            "_AI"
        } else {
            "_AS"
        });
        if flags & IGNORE_KANA == 0 {
            name.push_str("_KS");
        }
        if flags & IGNORE_WIDTH == 0 {
            name.push_str("_WS");
        }
    }
    if flags & UTF8 != 0 {
        name.push_str("_UTF8");
    }
    name
}

/// The raw bytes for a collation name the writer is asked to use (the SQL collations of the table and
/// the common Windows ones). Unknown names fall back to SQL_Latin1_General_CP1_CI_AS.
#[cfg(feature = "write")]
pub fn collation_bytes(name: &str) -> [u8; 5] {
    if let Some((id, _)) = SQL_SORT_IDS.iter().find(|(_, n)| *n == name) {
        return [0x09, 0x04, 0xD0, 0x00, *id];
    }
    let mut rest = name;
    let mut lcid = None;
    for (l, prefix) in WINDOWS_LCIDS {
        if let Some(r) = name.strip_prefix(prefix) {
            lcid = Some(*l);
            rest = r;
            break;
        }
    }
    let Some(lcid) = lcid else {
        return [0x09, 0x04, 0xD0, 0x00, 52];
    };
    let mut version = 0u32;
    if let Some(r) = rest.strip_prefix("_100") {
        version = 1;
        rest = r;
    } else if let Some(r) = rest.strip_prefix("_140") {
        version = 2;
        rest = r;
    }
    let mut flags = 0u8;
    if rest.contains("_BIN2") {
        flags |= BINARY2;
    } else if rest.contains("_BIN") {
        flags |= BINARY;
    } else {
        if rest.contains("_CI") {
            flags |= IGNORE_CASE;
        }
        if rest.contains("_AI") {
            flags |= IGNORE_ACCENT;
        }
        if !rest.contains("_KS") {
            flags |= IGNORE_KANA;
        }
        if !rest.contains("_WS") {
            flags |= IGNORE_WIDTH;
        }
    }
    if rest.contains("_UTF8") {
        flags |= UTF8;
    }
    let info = lcid | ((flags as u32) << 20) | (version << 28);
    let b = info.to_le_bytes();
    [b[0], b[1], b[2], b[3], 0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_latin1_from_tds_bytes() {
        assert_eq!(
            collation_name(&[0x09, 0x04, 0xD0, 0x00, 0x34]),
            "SQL_Latin1_General_CP1_CI_AS"
        );
    }

    #[test]
    #[cfg(feature = "write")]
    fn windows_names_round_trip() {
        for n in [
            "Latin1_General_CI_AS",
            "Latin1_General_100_CS_AS_KS_WS",
            "French_BIN2",
            "Cyrillic_General_CI_AI",
            "SQL_Latin1_General_CP1_CS_AS",
        ] {
            assert_eq!(collation_name(&collation_bytes(n)), n);
        }
    }
}
