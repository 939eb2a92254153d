//! Random-access byte sources the MTF walker reads from: a windowed reader over a file (a few small
//! reads per backup, whatever its size) and an in-memory buffer (decompressed chunks).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

/// Bytes at an offset; fewer than asked near the end.
pub trait Source {
    fn len(&self) -> u64;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn read_at(&mut self, off: u64, n: usize) -> io::Result<&[u8]>;
}

/// Reads a file through one small window, so walking a multi-GB backup touches only a few KiB.
pub struct FileWindow {
    file: File,
    len: u64,
    buf: Vec<u8>,
    start: u64,
}

const WINDOW: usize = 16 * 1024;

impl FileWindow {
    pub fn new(file: File, len: u64) -> Self {
        FileWindow {
            file,
            len,
            buf: Vec::with_capacity(WINDOW),
            start: 0,
        }
    }
}

impl Source for FileWindow {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&mut self, off: u64, n: usize) -> io::Result<&[u8]> {
        let have_end = self.start + self.buf.len() as u64;
        let want_end = off.saturating_add(n as u64).min(self.len);
        if off < self.start || want_end > have_end {
            let size = n.max(WINDOW) as u64;
            let size = size.min(self.len.saturating_sub(off)) as usize;
            self.buf.clear();
            self.buf.resize(size, 0);
            self.file.seek(SeekFrom::Start(off))?;
            let mut got = 0;
            while got < size {
                let r = self.file.read(&mut self.buf[got..])?;
                if r == 0 {
                    break;
                }
                got += r;
            }
            self.buf.truncate(got);
            self.start = off;
        }
        let from = (off - self.start) as usize;
        let to = (from + n).min(self.buf.len());
        Ok(self.buf.get(from..to).unwrap_or(&[]))
    }
}

/// A buffer in memory (used for decompressed chunks and in tests).
pub struct MemSource<'a> {
    pub data: &'a [u8],
}

impl Source for MemSource<'_> {
    fn len(&self) -> u64 {
        self.data.len() as u64
    }

    fn read_at(&mut self, off: u64, n: usize) -> io::Result<&[u8]> {
        let Ok(from) = usize::try_from(off) else {
            return Ok(&[]);
        };
        if from >= self.data.len() {
            return Ok(&[]);
        }
        let to = from.saturating_add(n).min(self.data.len());
        Ok(&self.data[from..to])
    }
}
