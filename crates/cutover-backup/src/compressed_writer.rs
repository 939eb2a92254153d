//! Writes an MTF stream as a compressed backup file (`MSSQLBAK` container, SQL Server 2014-2017
//! layout, see [`super::records`]): the 16-byte header, then the stream cut into XPRESS-Huffman records
//! of 64 KiB of output, with the filemarks written raw on sector boundaries, as in the samples (media
//! header record, filemark, each set's records up to its final header, filemark, its end-of-set records,
//! filemark). Every run of records ends padded to a sector, so the file is whole sectors.

use std::io::{self, Seek, SeekFrom, Write};

use super::records::{MAGIC, RecordHeader, SECTOR};
use super::writer::{MtfOut, sfmb};
use super::xpress;

/// Container version words after the magic (SQL Server 2014-2017).
const VERSION: (u32, u32) = (2, 3);

/// A `Write + Seek` that turns the MTF stream written into it into records. `stream_position` is the
/// offset in the MTF stream (what the MTF writer aligns blocks by); seeking forward leaves a hole, for
/// [`super::writer::Payload::Sparse`].
pub(crate) struct RecordSink<W: Write + Seek> {
    inner: W,
    /// Stream bytes not yet in a record.
    pending: Vec<u8>,
    /// Offset in the MTF stream.
    stream_pos: u64,
    /// Offset in the file.
    file_pos: u64,
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what.to_string())
}

impl<W: Write + Seek> RecordSink<W> {
    /// Writes the container header (padded to a sector) to `inner`, which must be at its start.
    pub fn new(mut inner: W) -> io::Result<Self> {
        let mut head = vec![0u8; SECTOR as usize];
        head[..MAGIC.len()].copy_from_slice(MAGIC);
        head[8..12].copy_from_slice(&VERSION.0.to_le_bytes());
        head[12..16].copy_from_slice(&VERSION.1.to_le_bytes());
        inner.write_all(&head)?;
        Ok(RecordSink {
            inner,
            pending: Vec::with_capacity(xpress::MAX_CHUNK),
            stream_pos: 0,
            file_pos: SECTOR,
        })
    }

    /// Writes `chunk` (a multiple of 512 bytes) as one record, or as several smaller ones when it does
    /// not compress into the 16-bit size of a record header.
    fn record(&mut self, chunk: &[u8]) -> io::Result<()> {
        let body = xpress::compress(chunk);
        let header = RecordHeader {
            output: chunk.len(),
            body: body.len(),
        }
        .encode();
        match header {
            Some(h) => {
                self.inner.write_all(&h)?;
                self.inner.write_all(&body)?;
                self.file_pos += (h.len() + body.len()) as u64;
                Ok(())
            }
            None if chunk.len() > SECTOR as usize => {
                let half = (chunk.len() / 2).div_ceil(SECTOR as usize) * SECTOR as usize;
                let (a, b) = chunk.split_at(half);
                self.record(a)?;
                self.record(b)
            }
            None => Err(invalid(
                "a 512-byte chunk does not fit in a compressed record",
            )),
        }
    }

    /// Writes the pending stream bytes as records and pads the file to a sector boundary.
    fn end_run(&mut self) -> io::Result<()> {
        if !self.pending.len().is_multiple_of(SECTOR as usize) {
            return Err(invalid(
                "a run of compressed records must end on a 512-byte boundary of the stream",
            ));
        }
        let pending = std::mem::take(&mut self.pending);
        for chunk in pending.chunks(xpress::MAX_CHUNK) {
            self.record(chunk)?;
        }
        self.pending = pending;
        self.pending.clear();
        let pad = self.file_pos.next_multiple_of(SECTOR) - self.file_pos;
        self.inner.write_all(&vec![0u8; pad as usize])?;
        self.file_pos += pad;
        Ok(())
    }

    /// Ends the last run of records and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.end_run()?;
        Ok(self.inner)
    }
}

impl<W: Write + Seek> Write for RecordSink<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = xpress::MAX_CHUNK - self.pending.len();
        let n = buf.len().min(room);
        self.pending.extend_from_slice(&buf[..n]);
        self.stream_pos += n as u64;
        if self.pending.len() == xpress::MAX_CHUNK {
            let chunk = std::mem::take(&mut self.pending);
            self.record(&chunk)?;
            self.pending = chunk;
            self.pending.clear();
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<W: Write + Seek> Seek for RecordSink<W> {
    /// Only the stream position and forward skips: zeros up to the next sector of the stream, a hole
    /// in the file for the whole sectors skipped (their records are never written), zeros for the rest.
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let SeekFrom::Current(delta) = pos else {
            return Err(invalid("the compressed writer only seeks forward"));
        };
        let Ok(mut left) = u64::try_from(delta) else {
            return Err(invalid("the compressed writer only seeks forward"));
        };
        let to_sector = (self.stream_pos.next_multiple_of(SECTOR) - self.stream_pos).min(left);
        self.write_all(&vec![0u8; to_sector as usize])?;
        left -= to_sector;
        let hole = left / SECTOR * SECTOR;
        if hole > 0 {
            self.end_run()?;
            self.inner.seek(SeekFrom::Current(hole as i64))?;
            self.file_pos += hole;
            self.stream_pos += hole;
            left -= hole;
        }
        self.write_all(&vec![0u8; left as usize])?;
        Ok(self.stream_pos)
    }
}

impl<W: Write + Seek> MtfOut for RecordSink<W> {
    fn filemark(&mut self) -> io::Result<()> {
        self.end_run()?;
        let mark = sfmb();
        self.inner.write_all(&mark)?;
        self.file_pos += mark.len() as u64;
        self.stream_pos += mark.len() as u64;
        Ok(())
    }
}
