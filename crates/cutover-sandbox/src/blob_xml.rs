//! XML for the sandbox Blob service: escaping for the response bodies it writes (List Blobs, List
//! Containers, Get Block List, errors) and a strict reader for the one XML body it accepts, the
//! `<BlockList>` of Put Block List.
//!
//! The reader accepts what Azure documents and the SDKs send: an optional XML declaration,
//! comments, whitespace between elements, `<BlockList>` holding `<Latest>`, `<Committed>` and
//! `<Uncommitted>` elements in any order, text with the five predefined entities and character
//! references. Anything else is an error naming what was found, never a panic.

use std::fmt::Write as _;

/// Which list a block id of Put Block List is looked up in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BlockKind {
    /// `<Committed>`: the committed block list.
    Committed,
    /// `<Uncommitted>`: the uncommitted blocks.
    Uncommitted,
    /// `<Latest>`: the uncommitted block if there is one, else the committed one.
    Latest,
}

/// Why a Put Block List body was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BlockListXmlError {
    /// Not well-formed XML, or not the `<BlockList>` shape.
    Syntax(String),
}

impl std::fmt::Display for BlockListXmlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BlockListXmlError::Syntax(s) => f.write_str(s),
        }
    }
}

/// Escapes text for an XML element or a double-quoted attribute.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// True if XML 1.0 can carry the character in text (Char production).
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// A blob name as a `<Name>` element: plain when XML can carry it, otherwise percent-encoded with
/// `Encoded="true"`, as Azure does for names holding characters XML 1.0 forbids.
pub(crate) fn name_element(name: &str) -> String {
    if name.chars().all(xml_char) {
        format!("<Name>{}</Name>", escape(name))
    } else {
        let mut enc = String::with_capacity(name.len() * 3);
        for b in name.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
                enc.push(b as char);
            } else {
                let _ = write!(enc, "%{b:02X}");
            }
        }
        format!("<Name Encoded=\"true\">{enc}</Name>")
    }
}

/// An element with escaped text, or an empty element when the value is empty.
pub(crate) fn element(out: &mut String, tag: &str, value: &str) {
    if value.is_empty() {
        let _ = write!(out, "<{tag} />");
    } else {
        let _ = write!(out, "<{tag}>{}</{tag}>", escape(value));
    }
}

/// Parses a Put Block List body into `(kind, base64 id text)` pairs, in document order.
pub(crate) fn parse_block_list(body: &[u8]) -> Result<Vec<(BlockKind, String)>, BlockListXmlError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| BlockListXmlError::Syntax("the body is not UTF-8 text".into()))?;
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let mut p = Parser { s: text, pos: 0 };
    p.skip_misc()?;
    if p.rest().starts_with("<?xml") {
        p.skip_past("?>", "an unterminated XML declaration")?;
    }
    p.skip_misc()?;
    let (root, self_closing) = p.open_tag()?;
    if root != "BlockList" {
        return Err(syntax(format!(
            "the root element is <{root}>, expected <BlockList>"
        )));
    }
    let mut out = Vec::new();
    if !self_closing {
        loop {
            p.skip_misc()?;
            if p.rest().starts_with("</") {
                let end = p.close_tag()?;
                if end != "BlockList" {
                    return Err(syntax(format!(
                        "</{end}> closes <BlockList>: the document is not well-formed"
                    )));
                }
                break;
            }
            let (tag, empty) = p.open_tag()?;
            let kind = match tag {
                "Latest" => BlockKind::Latest,
                "Committed" => BlockKind::Committed,
                "Uncommitted" => BlockKind::Uncommitted,
                other => {
                    return Err(syntax(format!(
                        "<{other}> is not allowed in <BlockList> (only Latest, Committed, \
                         Uncommitted)"
                    )));
                }
            };
            let value = if empty {
                String::new()
            } else {
                let raw = p.text()?;
                let end = p.close_tag()?;
                if end != tag {
                    return Err(syntax(format!("</{end}> closes <{tag}>")));
                }
                decode_entities(raw)?
            };
            out.push((kind, value.trim().to_string()));
        }
    }
    p.skip_misc()?;
    if !p.rest().is_empty() {
        return Err(syntax("content after </BlockList>".into()));
    }
    Ok(out)
}

fn syntax(s: String) -> BlockListXmlError {
    BlockListXmlError::Syntax(s)
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        self.s.get(self.pos..).unwrap_or("")
    }

    /// Skips whitespace and comments.
    fn skip_misc(&mut self) -> Result<(), BlockListXmlError> {
        loop {
            let rest = self.rest();
            let trimmed = rest.trim_start_matches([' ', '\t', '\r', '\n']);
            self.pos += rest.len() - trimmed.len();
            if self.rest().starts_with("<!--") {
                self.skip_past("-->", "an unterminated comment")?;
            } else {
                return Ok(());
            }
        }
    }

    fn skip_past(&mut self, end: &str, what: &str) -> Result<(), BlockListXmlError> {
        match self.rest().find(end) {
            Some(i) => {
                self.pos += i + end.len();
                Ok(())
            }
            None => Err(syntax(what.to_string())),
        }
    }

    /// Reads `<Name attr="..." ...>` or `<Name/>`; returns the name and whether it self-closes.
    fn open_tag(&mut self) -> Result<(&'a str, bool), BlockListXmlError> {
        let rest = self.rest();
        if !rest.starts_with('<') || rest.starts_with("</") || rest.starts_with("<!") {
            let shown: String = rest.chars().take(20).collect();
            return Err(syntax(format!("expected an element, found '{shown}'")));
        }
        let Some(end) = rest.find('>') else {
            return Err(syntax("an unterminated tag".into()));
        };
        let inner = &rest[1..end];
        let (inner, self_closing) = match inner.strip_suffix('/') {
            Some(i) => (i, true),
            None => (inner, false),
        };
        let name_end = inner
            .find(|c: char| c.is_whitespace())
            .unwrap_or(inner.len());
        let name = &inner[..name_end];
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_alphanumeric() || "_-.:".contains(c))
        {
            return Err(syntax(format!("'<{inner}>' is not a valid tag")));
        }
        self.pos += end + 1;
        Ok((name, self_closing))
    }

    /// Reads `</Name>`.
    fn close_tag(&mut self) -> Result<&'a str, BlockListXmlError> {
        let rest = self.rest();
        let Some(body) = rest.strip_prefix("</") else {
            return Err(syntax("expected a closing tag".into()));
        };
        let Some(end) = body.find('>') else {
            return Err(syntax("an unterminated closing tag".into()));
        };
        let name = body[..end].trim_end();
        self.pos += 2 + end + 1;
        Ok(name)
    }

    /// Text up to the next '<' (no nested elements allowed).
    fn text(&mut self) -> Result<&'a str, BlockListXmlError> {
        let rest = self.rest();
        let end = rest
            .find('<')
            .ok_or_else(|| syntax("an element is not closed".into()))?;
        if !rest[end..].starts_with("</") {
            return Err(syntax(
                "a block id element holds another element: it must hold text only".into(),
            ));
        }
        self.pos += end;
        Ok(&rest[..end])
    }
}

/// Decodes `&amp;`, `&lt;`, `&gt;`, `&quot;`, `&apos;`, `&#N;` and `&#xH;`.
fn decode_entities(s: &str) -> Result<String, BlockListXmlError> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let Some(semi) = after.find(';') else {
            return Err(syntax("an '&' that starts no entity".into()));
        };
        let ent = &after[..semi];
        let c = match ent {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = if let Some(hex) = ent.strip_prefix("#x") {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(dec) = ent.strip_prefix('#') {
                    dec.parse::<u32>().ok()
                } else {
                    None
                };
                code.and_then(char::from_u32)
                    .ok_or_else(|| syntax(format!("unknown entity '&{ent};'")))?
            }
        };
        out.push(c);
        rest = &after[semi + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_sdk_shapes() {
        let body = br#"<?xml version="1.0" encoding="utf-8"?>
<BlockList>
  <Latest>QUFB</Latest>
  <!-- a comment -->
  <Committed>QkJC</Committed>
  <Uncommitted>Q0ND</Uncommitted>
</BlockList>"#;
        assert_eq!(
            parse_block_list(body).unwrap(),
            vec![
                (BlockKind::Latest, "QUFB".into()),
                (BlockKind::Committed, "QkJC".into()),
                (BlockKind::Uncommitted, "Q0ND".into())
            ]
        );
        // Python's serializer: single quotes in the declaration, no whitespace.
        let py =
            b"<?xml version='1.0' encoding='utf-8'?>\n<BlockList><Latest>YQ==</Latest></BlockList>";
        assert_eq!(
            parse_block_list(py).unwrap(),
            vec![(BlockKind::Latest, "YQ==".into())]
        );
        // Entities, BOM, an empty list.
        let ent = "\u{FEFF}<BlockList><Latest>a&#43;b&#x2F;c&amp;</Latest></BlockList>";
        assert_eq!(
            parse_block_list(ent.as_bytes()).unwrap(),
            vec![(BlockKind::Latest, "a+b/c&".into())]
        );
        assert_eq!(parse_block_list(b"<BlockList/>").unwrap(), vec![]);
        assert_eq!(
            parse_block_list(b"<BlockList></BlockList>").unwrap(),
            vec![]
        );
    }

    #[test]
    fn refuses_malformed_bodies() {
        for bad in [
            &b""[..],
            b"not xml",
            b"<Blocks><Latest>a</Latest></Blocks>",
            b"<BlockList><Latest>a</Committed></BlockList>",
            b"<BlockList><Other>a</Other></BlockList>",
            b"<BlockList><Latest>a</Latest>",
            b"<BlockList><Latest><x/></Latest></BlockList>",
            b"<BlockList><Latest>a&bogus;</Latest></BlockList>",
            b"<BlockList></BlockList>trailing",
            b"<BlockList><!-- open </BlockList>",
            b"\xff\xfe",
        ] {
            assert!(
                parse_block_list(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    proptest::proptest! {
        /// Whatever the body, parsing never panics.
        #[test]
        fn arbitrary_bodies_never_panic(
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..200),
            text in "(<|>|/|&|;|#|x|[A-Za-z]{1,12}|\\PC){0,40}",
        ) {
            let _ = parse_block_list(&body);
            let _ = parse_block_list(text.as_bytes());
            let _ = parse_block_list(format!("<BlockList><Latest>{text}</Latest></BlockList>").as_bytes());
        }
    }

    #[test]
    fn names_that_xml_cannot_carry_are_encoded() {
        assert_eq!(name_element("db/a&b.bak"), "<Name>db/a&amp;b.bak</Name>");
        assert_eq!(
            name_element("a\u{1}b"),
            "<Name Encoded=\"true\">a%01b</Name>"
        );
        let mut s = String::new();
        element(&mut s, "Prefix", "");
        element(&mut s, "Marker", "x<y");
        assert_eq!(s, "<Prefix /><Marker>x&lt;y</Marker>");
    }
}
