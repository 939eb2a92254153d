//! Feeds arbitrary bytes to the backup header reader: it must return Ok or Err, never panic, loop
//! forever or allocate without bound.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = cutover::backup::read_backup_bytes(Path::new("fuzz.bak"), data);
});
