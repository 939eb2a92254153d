//! An XPRESS-Huffman encoder ([MS-XCA] 2.2.4, "LZ77+Huffman"), the codec of SQL Server's compressed
//! backup records, for the writer. The crate `xpress-huffman` only decodes, and no maintained crate
//! encodes this variant, so this is a small greedy encoder: LZ77 matches found through a hash chain,
//! then one canonical Huffman code (lengths at most 15 bits) for the 512 symbols of the chunk.
//!
//! Layout of the output: a 256-byte table of 4-bit code lengths (symbol `2k` in the low nibble of byte
//! `k`), then a bit stream of 16-bit little-endian words read most significant bit first. The extra
//! match-length bytes sit between those words exactly where the decoder's cursor is when it reads them:
//! the decoder holds two words ahead, so the slot of word `j` (from the third on) is reserved at the
//! moment its bit `16 * (j - 1) + 1` is written.

/// The largest chunk one Huffman table covers (the decoder reads a new table every 64 KiB).
pub const MAX_CHUNK: usize = 64 * 1024;

const TABLE_LEN: usize = 256;
const SYMBOLS: usize = 512;
const MAX_CODE_LEN: u8 = 15;
const MIN_MATCH: usize = 3;
/// The longest match the length encoding can carry (a 16-bit length after the 255 escape).
const MAX_MATCH: usize = 0xFFFF + MIN_MATCH;
/// The farthest back a match may point (15 extra offset bits).
const MAX_OFFSET: usize = 0xFFFF;
/// Candidates tried per position: enough for the zero runs and repeated page headers of a backup.
const MAX_CHAIN: usize = 24;
const HASH_BITS: u32 = 14;

#[derive(Debug, Clone, Copy)]
enum Token {
    Literal(u8),
    Match { len: usize, offset: usize },
}

impl Token {
    fn symbol(self) -> usize {
        match self {
            Token::Literal(b) => b as usize,
            Token::Match { len, offset } => {
                256 + ((offset_bits(offset) as usize) << 4) + (len - MIN_MATCH).min(15)
            }
        }
    }
}

/// floor(log2(offset)) for offset >= 1.
fn offset_bits(offset: usize) -> u32 {
    usize::BITS - 1 - offset.leading_zeros()
}

/// Compresses one chunk of at most [`MAX_CHUNK`] bytes; `xpress_huffman::decompress(out, data.len())`
/// gives `data` back.
pub fn compress(data: &[u8]) -> Vec<u8> {
    debug_assert!(data.len() <= MAX_CHUNK);
    let tokens = tokenize(data);
    let mut freq = [0u32; SYMBOLS];
    for t in &tokens {
        freq[t.symbol()] += 1;
    }
    let lengths = code_lengths(&freq);
    let codes = canonical_codes(&lengths);

    let mut w = BitWriter::new(&lengths);
    for t in &tokens {
        let sym = t.symbol();
        w.bits(codes[sym], u32::from(lengths[sym]));
        if let Token::Match { len, offset } = *t {
            let extra = len - MIN_MATCH;
            if extra >= 15 {
                if extra - 15 < 255 {
                    w.byte((extra - 15) as u8);
                } else {
                    w.byte(255);
                    w.byte((extra & 0xFF) as u8);
                    w.byte((extra >> 8) as u8);
                }
            }
            let n = offset_bits(offset);
            w.bits((offset - (1 << n)) as u32, n);
        }
    }
    w.finish()
}

/// Greedy LZ77 parse of `data` with a hash chain over 3-byte prefixes.
fn tokenize(data: &[u8]) -> Vec<Token> {
    let n = data.len();
    let mut head = vec![u32::MAX; 1 << HASH_BITS];
    let mut prev = vec![u32::MAX; n];
    let hash = |i: usize| -> usize {
        let v = u32::from(data[i]) | u32::from(data[i + 1]) << 8 | u32::from(data[i + 2]) << 16;
        (v.wrapping_mul(0x9E37_79B1) >> (32 - HASH_BITS)) as usize
    };
    let insert = |i: usize, head: &mut [u32], prev: &mut [u32]| {
        if i + MIN_MATCH <= n {
            let h = hash(i);
            prev[i] = head[h];
            head[h] = i as u32;
        }
    };
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < n {
        let (mut best_len, mut best_off) = (0, 0);
        if i + MIN_MATCH <= n {
            let max_len = (n - i).min(MAX_MATCH);
            let mut cand = head[hash(i)];
            let mut tries = 0;
            while cand != u32::MAX && tries < MAX_CHAIN {
                let c = cand as usize;
                let off = i - c;
                if off > MAX_OFFSET {
                    break;
                }
                let len = data[c..]
                    .iter()
                    .zip(&data[i..i + max_len])
                    .take_while(|(a, b)| a == b)
                    .count();
                if len > best_len {
                    (best_len, best_off) = (len, off);
                    if len == max_len {
                        break;
                    }
                }
                cand = prev[c];
                tries += 1;
            }
        }
        if best_len >= MIN_MATCH {
            tokens.push(Token::Match {
                len: best_len,
                offset: best_off,
            });
            for k in i..i + best_len {
                insert(k, &mut head, &mut prev);
            }
            i += best_len;
        } else {
            tokens.push(Token::Literal(data[i]));
            insert(i, &mut head, &mut prev);
            i += 1;
        }
    }
    tokens
}

/// Huffman code lengths (at most 15 bits) for the symbol frequencies; at least two symbols get a code
/// so the table is a complete prefix code.
fn code_lengths(freq: &[u32; SYMBOLS]) -> [u8; SYMBOLS] {
    let mut f: Vec<u64> = freq.iter().map(|&x| u64::from(x)).collect();
    let mut s = 0;
    while f.iter().filter(|&&x| x > 0).count() < 2 {
        if f[s] == 0 {
            f[s] = 1;
        }
        s += 1;
    }
    loop {
        let lengths = huffman_lengths(&f);
        if lengths.iter().all(|&l| l <= MAX_CODE_LEN) {
            return lengths;
        }
        // Too deep: flatten the distribution and build again (keeps every used symbol).
        for x in f.iter_mut().filter(|x| **x > 0) {
            *x = (*x >> 1) | 1;
        }
    }
}

/// Unlimited Huffman code lengths for the non-zero frequencies.
fn huffman_lengths(f: &[u64]) -> [u8; SYMBOLS] {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    // Nodes: leaves 0..SYMBOLS, internal nodes after; parent links give the depths.
    let mut parent: Vec<usize> = vec![usize::MAX; SYMBOLS];
    let mut heap = BinaryHeap::new();
    for (s, &x) in f.iter().enumerate() {
        if x > 0 {
            heap.push(Reverse((x, s)));
        }
    }
    while heap.len() > 1 {
        let (Some(Reverse((a, na))), Some(Reverse((b, nb)))) = (heap.pop(), heap.pop()) else {
            break;
        };
        let id = parent.len();
        parent.push(usize::MAX);
        parent[na] = id;
        parent[nb] = id;
        heap.push(Reverse((a + b, id)));
    }
    let mut lengths = [0u8; SYMBOLS];
    for (s, len) in lengths.iter_mut().enumerate() {
        if f[s] == 0 {
            continue;
        }
        let (mut depth, mut node) = (0u32, s);
        while parent[node] != usize::MAX {
            node = parent[node];
            depth += 1;
        }
        *len = depth.min(u32::from(u8::MAX)) as u8;
    }
    lengths
}

/// Canonical codes as the decoder assigns them: symbols ordered by (length, symbol), counting up.
fn canonical_codes(lengths: &[u8; SYMBOLS]) -> [u32; SYMBOLS] {
    let mut order: Vec<usize> = (0..SYMBOLS).filter(|&s| lengths[s] > 0).collect();
    order.sort_by_key(|&s| (lengths[s], s));
    let mut codes = [0u32; SYMBOLS];
    let (mut code, mut bits) = (0u32, 0u8);
    for s in order {
        code <<= lengths[s] - bits;
        bits = lengths[s];
        codes[s] = code;
        code += 1;
    }
    codes
}

/// Writes the table, then bits into 16-bit word slots reserved ahead, and bytes in between.
struct BitWriter {
    out: Vec<u8>,
    word: u32,
    word_bits: u32,
    slot: usize,
    next_slot: usize,
}

impl BitWriter {
    fn new(lengths: &[u8; SYMBOLS]) -> Self {
        let mut out = Vec::with_capacity(TABLE_LEN + MAX_CHUNK / 4);
        for pair in lengths.chunks(2) {
            out.push(pair[0] | pair[1] << 4);
        }
        out.extend_from_slice(&[0; 4]);
        BitWriter {
            out,
            word: 0,
            word_bits: 0,
            slot: TABLE_LEN,
            next_slot: TABLE_LEN + 2,
        }
    }

    fn bits(&mut self, value: u32, n: u32) {
        for k in (0..n).rev() {
            if self.word_bits == 16 {
                self.flush_word();
                self.slot = self.next_slot;
                self.next_slot = self.out.len();
                self.out.extend_from_slice(&[0, 0]);
            }
            self.word = self.word << 1 | (value >> k) & 1;
            self.word_bits += 1;
        }
    }

    fn byte(&mut self, b: u8) {
        self.out.push(b);
    }

    fn flush_word(&mut self) {
        let w = ((self.word << (16 - self.word_bits)) & 0xFFFF) as u16;
        self.out[self.slot..self.slot + 2].copy_from_slice(&w.to_le_bytes());
        self.word = 0;
        self.word_bits = 0;
    }

    /// The last partial word, and two bytes more: the decoder decodes a symbol only while its cursor is
    /// inside the input, and its cursor may already stand at the end when the last symbol starts.
    fn finish(mut self) -> Vec<u8> {
        self.flush_word();
        self.out.extend_from_slice(&[0, 0]);
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(data: &[u8]) -> usize {
        let c = compress(data);
        let back = xpress_huffman::decompress(&c, data.len()).expect("decodes");
        assert_eq!(back.len(), data.len());
        assert!(back == data, "round trip differs for {} bytes", data.len());
        c.len()
    }

    /// Deterministic pseudo-random bytes (xorshift).
    fn noise(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn chunks_of_every_kind_decode_back_with_the_reference_decoder() {
        round_trip(&[7]);
        round_trip(b"TAPE");
        round_trip(&[0u8; 512]);
        // One long run: the 16-bit match length after the 255 escape.
        assert!(round_trip(&[0u8; MAX_CHUNK]) < 400);
        // Runs of every length around the escapes (15, 270).
        let mut runs = Vec::new();
        for len in [2usize, 3, 4, 17, 18, 19, 269, 270, 271, 272, 273, 1000] {
            runs.extend(std::iter::repeat_n((len % 251) as u8, len));
            runs.extend_from_slice(b"xyz");
        }
        round_trip(&runs);
        // Incompressible: literals only, about one byte each.
        let n = noise(MAX_CHUNK, 42);
        let size = round_trip(&n);
        assert!(size < MAX_CHUNK + 1024, "{size} bytes");
        // Text-like data with repeats at every distance up to the limit.
        let mut text = Vec::new();
        while text.len() < MAX_CHUNK {
            let i = text.len();
            text.extend_from_slice(format!("page {} lsn {} ", i % 977, i / 7).as_bytes());
        }
        text.truncate(MAX_CHUNK);
        round_trip(&text);
        // Far matches (offset near 65535) with noise between.
        let mut far = noise(MAX_CHUNK, 7);
        let (a, b) = far.split_at_mut(MAX_CHUNK / 2);
        b[..1000].copy_from_slice(&a[..1000]);
        far[MAX_CHUNK - 600..].copy_from_slice(&noise(600, 7)[..600]);
        round_trip(&far);
    }

    #[test]
    fn skewed_frequencies_keep_codes_within_fifteen_bits() {
        // Fibonacci frequencies: an unlimited Huffman tree would be 39 levels deep.
        let mut freq = [0u32; SYMBOLS];
        let (mut a, mut b) = (1u32, 1u32);
        for f in freq.iter_mut().take(40) {
            *f = a;
            (a, b) = (b, a.saturating_add(b));
        }
        let lengths = code_lengths(&freq);
        assert!(lengths.iter().all(|&l| l <= MAX_CODE_LEN));
        assert!(lengths[..40].iter().all(|&l| l > 0));
        // A complete prefix code: the Kraft sum is exactly 1.
        let kraft: u64 = lengths
            .iter()
            .filter(|&&l| l > 0)
            .map(|&l| 1u64 << (MAX_CODE_LEN - l))
            .sum();
        assert_eq!(kraft, 1 << MAX_CODE_LEN);
        // A single used symbol still gets a two-symbol code.
        let mut one = [0u32; SYMBOLS];
        one[0] = 100;
        assert_eq!(code_lengths(&one).iter().filter(|&&l| l > 0).count(), 2);
        round_trip(&[0u8; 2]);
    }
}
