//! Waking a command that waits for the store to change (`axon wait`) as soon as a status
//! write is committed, instead of on its next poll.
//!
//! Why: `wait` polled the store every 10 ms, so a finished Task was noticed 5 ms late on
//! average (a visible share of `bench/local.sh`'s per-Task overhead). A waiter binds a Unix
//! datagram socket in `AXON_HOME/waiters/` for as long as it waits; a committed status update
//! sends one byte to each socket there ([`announce`]), and the waiter then reads the store as
//! before. The store stays the only truth: a wake-up only says "look again", and the poll
//! remains as the fallback (a socket that could not be bound, a full queue, writes that do not
//! announce themselves, such as a delete). A socket whose waiter died refuses the byte and is
//! removed by the next announcement.
//!
//! Not inotify: the store's own files are written before a commit is visible (SQLite publishes
//! it in the shared-memory index, which makes no file event), and closing an inotify
//! descriptor that held a watch waits for a kernel grace period (up to 20 ms measured), which
//! would have cost more than the poll it replaces.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::UnixDatagram;

/// The directory under AXON_HOME holding the waiters' sockets.
const WAITERS: &str = "waiters";

/// A waiter's socket; removed when dropped.
pub(crate) struct StoreWatch {
    sock: UnixDatagram,
    path: PathBuf,
}

impl StoreWatch {
    /// Bind a waiter's socket under `home` (AXON_HOME); `None` when it cannot be made (then
    /// callers poll).
    pub(crate) fn new(home: &Path) -> Option<StoreWatch> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let dir = home.join(WAITERS);
        std::fs::create_dir_all(&dir).ok()?;
        let name = format!(
            "{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let path = dir.join(name);
        // A socket of a dead process that had this pid.
        let _ = std::fs::remove_file(&path);
        let sock = UnixDatagram::bind(&path).ok()?;
        Some(StoreWatch { sock, path })
    }

    /// Resolves when a change was announced since the last call, or after `at_most`.
    pub(crate) async fn changed(&self, at_most: Duration) {
        let mut buf = [0u8; 16];
        if tokio::time::timeout(at_most, self.sock.recv(&mut buf))
            .await
            .is_ok()
        {
            // One look at the store covers every announcement queued meanwhile.
            while self.sock.try_recv(&mut buf).is_ok() {}
        }
    }
}

impl Drop for StoreWatch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Wake every waiter under `home` (AXON_HOME): called after a committed status update. Best
/// effort and non-blocking; the sockets of waiters that are gone are removed.
pub(crate) fn announce(home: &Path) {
    let Ok(entries) = std::fs::read_dir(home.join(WAITERS)) else {
        return;
    };
    let Ok(sock) = std::os::unix::net::UnixDatagram::unbound() else {
        return;
    };
    let _ = sock.set_nonblocking(true);
    for entry in entries.flatten() {
        let path = entry.path();
        if let Err(e) = sock.send_to(b"c", &path)
            && matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::NotFound
            )
        {
            let _ = std::fs::remove_file(&path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_announcement_wakes_the_waiter_before_the_fallback() {
        let home = tempfile::tempdir().expect("dir");
        let watch = StoreWatch::new(home.path()).expect("socket");
        let root = home.path().to_path_buf();
        let writer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            announce(&root);
        });
        let t = std::time::Instant::now();
        watch.changed(Duration::from_secs(30)).await;
        assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
        writer.await.expect("writer");
        // Nothing more announced: the fallback ends the wait.
        let t = std::time::Instant::now();
        watch.changed(Duration::from_millis(100)).await;
        assert!(
            t.elapsed() >= Duration::from_millis(100),
            "{:?}",
            t.elapsed()
        );
        // Dropped, its socket goes; a socket nobody listens on is removed by the next
        // announcement.
        let path = watch.path.clone();
        drop(watch);
        assert!(!path.exists());
        let stale = home.path().join(WAITERS).join("1-0");
        drop(std::os::unix::net::UnixDatagram::bind(&stale).expect("bind"));
        announce(home.path());
        assert!(!stale.exists());
    }
}
