//! Random-access byte sources the MTF walker reads from: a windowed reader over a file (a few small
//! reads per backup, whatever its size) and an in-memory buffer (decompressed chunks).
//!
//! The window reads through [`ReadAt`], so a backup file on another kind of storage (the root
//! crate's `BackupFolder` implementations: a local folder, an SMB share) is read by the same code.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

/// Bytes at an offset; fewer than asked near the end.
pub trait Source {
    fn len(&self) -> u64;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn read_at(&mut self, off: u64, n: usize) -> io::Result<&[u8]>;

    /// Copies the bytes at `off` into `buf` (fewer near the end) and returns how many: for the few
    /// bytes of a record header, without moving a reading window over the data around it.
    fn peek(&mut self, off: u64, buf: &mut [u8]) -> io::Result<usize> {
        let got = self.read_at(off, buf.len())?;
        let n = got.len();
        buf[..n].copy_from_slice(got);
        Ok(n)
    }
}

/// Positional reads from a file-like object: up to `buf.len()` bytes at `off` (fewer is not an
/// error; 0 means the end). What [`FileWindow`] needs from the file it reads.
pub trait ReadAt {
    fn read_at(&mut self, off: u64, buf: &mut [u8]) -> io::Result<usize>;
}

/// A local file: a seek and a read.
impl ReadAt for File {
    fn read_at(&mut self, off: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.seek(SeekFrom::Start(off))?;
        self.read(buf)
    }
}

impl<R: ReadAt + ?Sized> ReadAt for Box<R> {
    fn read_at(&mut self, off: u64, buf: &mut [u8]) -> io::Result<usize> {
        (**self).read_at(off, buf)
    }
}

/// Reads a file through one small window, so walking a multi-GB backup touches only a few KiB.
/// `F` is a local [`File`] unless another storage's file is given (any [`ReadAt`]).
pub struct FileWindow<F = File> {
    file: F,
    len: u64,
    buf: Vec<u8>,
    start: u64,
    bytes_read: u64,
    reads: u64,
}

const WINDOW: usize = 16 * 1024;

impl<F: ReadAt> FileWindow<F> {
    pub fn new(file: F, len: u64) -> Self {
        FileWindow {
            file,
            len,
            buf: Vec::with_capacity(WINDOW),
            start: 0,
            bytes_read: 0,
            reads: 0,
        }
    }

    /// Bytes read from the file so far (what a header read costs, whatever the file's size).
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// Reads from the file so far (window refills and small peeks).
    pub fn reads(&self) -> u64 {
        self.reads
    }

    /// Reads up to `buf.len()` bytes at `off` straight from the file.
    fn read_file(&mut self, off: u64, buf: &mut [u8]) -> io::Result<usize> {
        let mut got = 0;
        while got < buf.len() {
            let r = self.file.read_at(off + got as u64, &mut buf[got..])?;
            if r == 0 {
                break;
            }
            got += r;
        }
        self.reads += 1;
        self.bytes_read += got as u64;
        Ok(got)
    }
}

impl<F: ReadAt> Source for FileWindow<F> {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&mut self, off: u64, n: usize) -> io::Result<&[u8]> {
        let have_end = self.start + self.buf.len() as u64;
        let want_end = off.saturating_add(n as u64).min(self.len);
        if off < self.start || want_end > have_end {
            let size = n.max(WINDOW) as u64;
            let size = size.min(self.len.saturating_sub(off)) as usize;
            let mut buf = std::mem::take(&mut self.buf);
            buf.clear();
            buf.resize(size, 0);
            let got = self.read_file(off, &mut buf);
            buf.truncate(*got.as_ref().unwrap_or(&0));
            self.buf = buf;
            self.start = off;
            got?;
        }
        let from = (off - self.start) as usize;
        let to = (from + n).min(self.buf.len());
        Ok(self.buf.get(from..to).unwrap_or(&[]))
    }

    fn peek(&mut self, off: u64, buf: &mut [u8]) -> io::Result<usize> {
        let have_end = self.start + self.buf.len() as u64;
        if off >= self.start && off.saturating_add(buf.len() as u64) <= have_end {
            let from = (off - self.start) as usize;
            buf.copy_from_slice(&self.buf[from..from + buf.len()]);
            return Ok(buf.len());
        }
        let n = (buf.len() as u64).min(self.len.saturating_sub(off)) as usize;
        self.read_file(off, &mut buf[..n])
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
