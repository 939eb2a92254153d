//! What every parser here shares: [`ProtocolError`] and the bounds-checked [`Reader`] over a
//! client message (every read fails instead of panicking when the data runs out), and UTF-16LE
//! decoding.

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

pub(super) fn malformed(what: impl Into<String>) -> ProtocolError {
    ProtocolError::Malformed(what.into())
}

/// A cursor over a message that fails (instead of panicking) when the data runs out.
pub(super) struct Reader<'a> {
    buf: &'a [u8],
    pub(super) pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub(super) fn new(buf: &'a [u8], what: &'static str) -> Reader<'a> {
        Reader { buf, pos: 0, what }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], ProtocolError> {
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

    pub(super) fn array<const N: usize>(&mut self) -> Result<[u8; N], ProtocolError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(super) fn u8(&mut self) -> Result<u8, ProtocolError> {
        Ok(self.array::<1>()?[0])
    }

    pub(super) fn u16_le(&mut self) -> Result<u16, ProtocolError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    pub(super) fn u32_le(&mut self) -> Result<u32, ProtocolError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub(super) fn u64_le(&mut self) -> Result<u64, ProtocolError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// `chars` UTF-16LE code units.
    pub(super) fn utf16(&mut self, chars: usize) -> Result<String, ProtocolError> {
        let bytes = self.take(
            chars
                .checked_mul(2)
                .ok_or(ProtocolError::Truncated(self.what))?,
        )?;
        utf16_to_string(bytes)
    }
}

/// Decodes UTF-16LE bytes (even length, valid surrogates).
pub(super) fn utf16_to_string(bytes: &[u8]) -> Result<String, ProtocolError> {
    if !bytes.len().is_multiple_of(2) {
        return Err(malformed("UTF-16 text (odd byte count)"));
    }
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16(&units).map_err(|_| malformed("UTF-16 text (invalid surrogates)"))
}
