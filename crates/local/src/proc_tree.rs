//! Reading the process table for the supervisor's watchdog: which processes descend from the
//! sandbox, which of them are Axon's own machinery (bubblewrap, the privilege drop, the
//! runner), and whether one is stopped. Only `/proc` is read; nothing is signalled here.

use std::path::Path;

/// Every process whose parent chain leads to `root` (not `root` itself).
pub fn descendants(root: i32) -> Vec<i32> {
    let mut parents: Vec<(i32, i32)> = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<i32>().ok())
            else {
                continue;
            };
            if let Some((_, ppid)) = stat(pid) {
                parents.push((pid, ppid));
            }
        }
    }
    let mut out = vec![];
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for (child, _) in parents.iter().filter(|(_, pp)| *pp == p) {
            if !out.contains(child) {
                out.push(*child);
                frontier.push(*child);
            }
        }
    }
    out
}

/// State letter and parent pid from `/proc/PID/stat`.
fn stat(pid: i32) -> Option<(char, i32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

/// Whether `pid` is stopped by a signal or a tracer.
pub fn is_stopped(pid: i32) -> bool {
    matches!(stat(pid), Some(('T' | 't', _)))
}

/// Whether `pid` is bubblewrap or the `axon` binary (`exe`): the machinery between the
/// supervisor and the agent, which the agent must not be able to freeze.
pub fn is_machinery(pid: i32, exe: &Path) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    use std::os::unix::ffi::OsStrExt;
    let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or_default();
    let argv0 = Path::new(std::ffi::OsStr::from_bytes(argv0));
    argv0 == exe || argv0.file_name().is_some_and(|n| n == "bwrap")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sees_a_stopped_child() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("sleep");
        let pid = child.id() as i32;
        let me = std::process::id() as i32;
        assert!(descendants(me).contains(&pid));
        assert!(!is_stopped(pid));
        // SAFETY: signalling our own child.
        unsafe { libc::kill(pid, libc::SIGSTOP) };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !is_stopped(pid) && std::time::Instant::now() < deadline {
            std::thread::yield_now();
        }
        assert!(is_stopped(pid));
        let _ = child.kill();
        let _ = child.wait();
    }
}
