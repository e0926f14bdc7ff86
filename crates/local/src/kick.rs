//! Starting and waking the engine. Any command that creates work (or a supervisor that frees a
//! slot) "kicks": it pokes the engine's socket and, if no process holds the engine lock,
//! starts a detached `axon __local engine` (double-forked, own session, survives the command).
//! Two kickers racing start two engines; the loser finds the lock taken and exits.

use crate::lock::Lock;
use crate::paths::Home;
use std::os::unix::net::UnixDatagram;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

/// Wake a running engine (best effort).
pub fn notify(home: &Home) {
    if let Ok(s) = UnixDatagram::unbound() {
        let _ = s.send_to(b"k", home.engine_sock());
    }
}

/// Make sure an engine runs and knows there is work.
pub fn kick(home: &Home, exe: &Path) -> std::io::Result<()> {
    notify(home);
    ensure_engine(home, exe)
}

/// Start an engine if none runs (without waking a running one).
pub fn ensure_engine(home: &Home, exe: &Path) -> std::io::Result<()> {
    match Lock::try_acquire(&home.engine_lock())? {
        Some(lock) => {
            drop(lock);
            spawn_detached(
                exe,
                &[
                    "__local".as_ref(),
                    "engine".as_ref(),
                    "--home".as_ref(),
                    home.root().as_os_str(),
                ],
                &home.engine_log(),
            )
        }
        None => Ok(()),
    }
}

/// Run `exe args` as a daemon: new session, reparented to init (no zombie left behind),
/// stdin and stdout closed, stderr appended to `log`.
pub fn spawn_detached(exe: &Path, args: &[&std::ffi::OsStr], log: &Path) -> std::io::Result<()> {
    let err = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err);
    // SAFETY: only async-signal-safe calls (setsid, fork, _exit) between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            match libc::fork() {
                -1 => Err(std::io::Error::last_os_error()),
                0 => Ok(()),
                _ => libc::_exit(0),
            }
        });
    }
    let mut child = cmd.spawn()?;
    child.wait()?;
    Ok(())
}
