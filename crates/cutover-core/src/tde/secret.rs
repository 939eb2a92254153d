//! Secret bytes and text of the TDE migration (the certificate's private key, the PVK and PFX
//! passwords, the PFX itself): redacted in `Debug`, never `Display`ed or serialized, overwritten with
//! zeros when dropped.

use std::fmt;

/// Bytes that must not reach a log, a state file or the screen.
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    pub fn new(bytes: Vec<u8>) -> Self {
        SecretBytes(bytes)
    }

    /// The bytes, for the one place that needs them (a cipher, an encoder, an upload body).
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The bytes, writable (decrypted in place).
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Drop for SecretBytes {
    fn drop(&mut self) {
        for b in self.0.iter_mut() {
            // A plain store may be optimised away only if nothing reads the buffer again; the
            // volatile-free form is the best safe Rust offers without a dependency.
            *b = 0;
        }
        std::hint::black_box(&self.0);
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes(<{} bytes redacted>)", self.0.len())
    }
}

/// A password (text) that must not reach a log, a state file or the screen.
pub struct SecretText(String);

impl SecretText {
    pub fn new(text: String) -> Self {
        SecretText(text)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A new password for `BACKUP CERTIFICATE ... ENCRYPTION BY PASSWORD` and the PFX: 32
    /// characters from upper and lower case letters, digits and symbols, at least one of each (so it
    /// passes the Windows password policy SQL Server applies to it). Only ASCII: the PVK key is
    /// derived from the password's bytes and tools disagree on other encodings.
    pub fn generate() -> SecretText {
        const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
        const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
        const DIGIT: &[u8] = b"23456789";
        const SYMBOL: &[u8] = b"-_.+=";
        let pick = |set: &[u8]| set[rand::random_range(0..set.len())] as char;
        let mut s: Vec<char> = vec![pick(UPPER), pick(LOWER), pick(DIGIT), pick(SYMBOL)];
        let all: Vec<u8> = [UPPER, LOWER, DIGIT, SYMBOL].concat();
        while s.len() < 32 {
            s.push(pick(&all));
        }
        // Shuffle so the classes are not always in the first four places.
        for i in (1..s.len()).rev() {
            let j = rand::random_range(0..=i);
            s.swap(i, j);
        }
        SecretText(s.into_iter().collect())
    }
}

impl Drop for SecretText {
    fn drop(&mut self) {
        // SAFETY-free zeroing: replace the text with zeros of the same length in place.
        let zeros = "\0".repeat(self.0.len());
        self.0.replace_range(.., &zeros);
        std::hint::black_box(&self.0);
    }
}

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretText(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_secret_and_generated_passwords_mix_classes() {
        let p = SecretText::generate();
        assert_eq!(p.expose().len(), 32);
        assert!(!format!("{p:?}").contains(p.expose()));
        let has = |f: fn(char) -> bool| p.expose().chars().any(f);
        assert!(has(|c| c.is_ascii_uppercase()));
        assert!(has(|c| c.is_ascii_lowercase()));
        assert!(has(|c| c.is_ascii_digit()));
        assert!(has(|c| !c.is_ascii_alphanumeric()));
        assert_ne!(p.expose(), SecretText::generate().expose());
        let b = SecretBytes::new(vec![7, 8, 9]);
        assert!(!format!("{b:?}").contains('7'));
    }
}
