//! Advisory file locks (`flock`) that prove a process is alive: the kernel drops a lock when
//! its holder dies, however it dies, so a stale pid file can never make a dead engine or
//! supervisor look alive (and pid reuse cannot fool it).

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::Path;

/// A held exclusive lock; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct Lock {
    file: File,
}

impl Lock {
    /// Take the lock at `path` without waiting: `Ok(None)` when someone else holds it.
    pub fn try_acquire(path: &Path) -> std::io::Result<Option<Lock>> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)?;
        // SAFETY: flock on a valid, owned descriptor.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc == 0 {
            Ok(Some(Lock { file }))
        } else {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
                Ok(None)
            } else {
                Err(e)
            }
        }
    }

    /// Take the lock at `path`, waiting for it.
    pub fn acquire(path: &Path) -> std::io::Result<Lock> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)?;
        loop {
            // SAFETY: flock on a valid, owned descriptor.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
            if rc == 0 {
                return Ok(Lock { file });
            }
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINTR) {
                return Err(e);
            }
        }
    }

    /// Adopt a lock inherited as descriptor `fd` from the parent (the engine hands a Task's run
    /// lock to the supervisor this way, so the run is never unlocked in between). The
    /// descriptor is marked close-on-exec so the sandbox does not inherit it.
    pub fn from_inherited_fd(fd: i32) -> std::io::Result<Lock> {
        use std::os::fd::FromRawFd;
        // SAFETY: fcntl on a descriptor number; fails cleanly if it is not open.
        let rc = unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: the descriptor is open (checked above) and ours from now on.
        let file = unsafe { File::from_raw_fd(fd) };
        Ok(Lock { file })
    }

    /// The raw descriptor (to hand it to a child).
    pub fn raw_fd(&self) -> i32 {
        self.file.as_raw_fd()
    }
}

/// Whether a lock at `path` is held by a live process (without keeping it).
pub fn is_held(path: &Path) -> bool {
    if !path.exists() {
        return false;
    }
    match Lock::try_acquire(path) {
        Ok(Some(_)) => false,
        Ok(None) => true,
        Err(_) => false,
    }
}

/// Read a pid file.
pub fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .filter(|p: &i32| *p > 1)
}

/// Send `sig` to a process; false if it does not exist.
pub fn signal(pid: i32, sig: i32) -> bool {
    if pid <= 1 {
        return false;
    }
    // SAFETY: kill(2) with a positive pid.
    unsafe { libc::kill(pid, sig) == 0 }
}

/// Send `sig` to a process group.
pub fn signal_group(pgid: i32, sig: i32) -> bool {
    if pgid <= 1 {
        return false;
    }
    // SAFETY: kill(2) with a negative pid addresses the group.
    unsafe { libc::kill(-pgid, sig) == 0 }
}
