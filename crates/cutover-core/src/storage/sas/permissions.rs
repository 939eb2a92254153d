//! [`SasPermissions`]: the `sp` letters, parsed in any order and printed in Azure's canonical
//! order, with their English names.

use std::fmt;
use std::str::FromStr;

use super::SasError;

/// The permission letters in the order Azure wants them in `sp` for a service SAS, with names.
/// `u` (Update) only exists in account SAS; it is printed last.
const PERMISSIONS: [(char, &str); 16] = [
    ('r', "Read"),
    ('a', "Add"),
    ('c', "Create"),
    ('w', "Write"),
    ('d', "Delete"),
    ('x', "Delete version"),
    ('y', "Permanent delete"),
    ('l', "List"),
    ('t', "Tags"),
    ('f', "Filter by tags"),
    ('m', "Move"),
    ('e', "Execute"),
    ('o', "Ownership"),
    ('p', "Permissions/Process"),
    ('i', "Set immutability policy"),
    ('u', "Update"),
];

fn permission_bit(letter: char) -> Option<u16> {
    PERMISSIONS
        .iter()
        .position(|(c, _)| *c == letter)
        .map(|i| 1u16 << i)
}

/// A set of SAS permissions (`sp`). Parses letters in any order; prints them in Azure's canonical
/// order (`racwdxyltfmeopi`, then `u`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SasPermissions {
    bits: u16,
}

impl SasPermissions {
    /// No permission.
    pub const fn empty() -> Self {
        SasPermissions { bits: 0 }
    }

    /// Read and List: what LRS needs.
    pub const fn read_list() -> Self {
        SasPermissions {
            bits: bit('r') | bit('l'),
        }
    }

    /// Parses an `sp` value: letters in any order, repeats allowed, unknown letters refused.
    pub fn parse(sp: &str) -> Result<Self, SasError> {
        let mut bits = 0u16;
        for letter in sp.chars() {
            bits |= permission_bit(letter).ok_or_else(|| SasError::UnknownPermission {
                letter,
                sp: sp.to_string(),
            })?;
        }
        Ok(SasPermissions { bits })
    }

    /// Adds a permission letter.
    pub fn insert(&mut self, letter: char) -> Result<(), SasError> {
        self.bits |= permission_bit(letter).ok_or_else(|| SasError::UnknownPermission {
            letter,
            sp: letter.to_string(),
        })?;
        Ok(())
    }

    /// True if the letter is granted.
    pub fn contains(&self, letter: char) -> bool {
        permission_bit(letter).is_some_and(|b| self.bits & b != 0)
    }

    /// True if nothing is granted.
    pub fn is_empty(&self) -> bool {
        self.bits == 0
    }

    /// True if exactly Read and List are granted, as LRS requires.
    pub fn is_read_list_only(&self) -> bool {
        self.bits == bit('r') | bit('l')
    }

    /// The granted letters in canonical order.
    pub fn letters(&self) -> Vec<char> {
        PERMISSIONS
            .iter()
            .enumerate()
            .filter(|(i, _)| self.bits & (1 << i) != 0)
            .map(|(_, (c, _))| *c)
            .collect()
    }

    /// The granted letters other than Read and List, in canonical order.
    pub fn beyond_read_list(&self) -> Vec<char> {
        self.letters()
            .into_iter()
            .filter(|c| *c != 'r' && *c != 'l')
            .collect()
    }

    /// The English name of a permission letter ("List" for 'l').
    pub fn name_of(letter: char) -> Option<&'static str> {
        PERMISSIONS
            .iter()
            .find(|(c, _)| *c == letter)
            .map(|(_, n)| *n)
    }
}

const fn bit(letter: char) -> u16 {
    let mut i = 0;
    while i < PERMISSIONS.len() {
        if PERMISSIONS[i].0 == letter {
            return 1 << i;
        }
        i += 1;
    }
    0
}

impl fmt::Display for SasPermissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.letters() {
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

impl FromStr for SasPermissions {
    type Err = SasError;
    fn from_str(s: &str) -> Result<Self, SasError> {
        SasPermissions::parse(s)
    }
}
