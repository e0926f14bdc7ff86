//! A Task's log: the raw bytes its agent wrote to stdout and stderr, kept in a file per run.
//! Following reads new bytes as they arrive and returns once the Task has finished and
//! everything it wrote has been copied. The gateway's request records (`requests.jsonl`) are
//! copied and followed the same way.

use crate::error::LocalError;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

/// Copy the file at `path` (a log) from `offset`; returns the new offset. A file not written
/// yet is empty.
pub fn copy_from(
    path: &Path,
    offset: u64,
    out: &mut (dyn Write + Send),
) -> Result<u64, LocalError> {
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(offset),
        Err(e) => return Err(LocalError::io(format!("read {}", path.display()), e)),
    };
    let reading = || format!("read {}", path.display());
    f.seek(SeekFrom::Start(offset))
        .map_err(|e| LocalError::io(reading(), e))?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut at = offset;
    loop {
        let n = f.read(&mut buf).map_err(|e| LocalError::io(reading(), e))?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n])
            .map_err(|e| LocalError::io("write the log", e))?;
        at += n as u64;
    }
    out.flush()
        .map_err(|e| LocalError::io("write the log", e))?;
    Ok(at)
}

/// How often a follower looks for new bytes.
pub const FOLLOW_INTERVAL: Duration = Duration::from_millis(100);
