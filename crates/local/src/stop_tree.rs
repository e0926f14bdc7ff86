//! Stopping a sandbox's whole process tree when Axon ends a run (a cancel, a budget, a
//! timeout): every process descending from the sandbox is frozen first (SIGSTOP, looked for
//! again until no new one appears, so nothing forks its way out while it is killed), then
//! killed (SIGKILL) with the sandbox's process group. The sandbox's PID namespace already takes
//! its processes down with its first one; this also covers `--sandbox none` and a process that
//! left the group (`setsid`).

use crate::lock::{signal, signal_group};
use crate::proc_tree::descendants;

/// How many times the tree is looked for new processes while it is frozen.
const ROUNDS: usize = 20;

/// Kill `root` (the sandbox's first process and process group) and every process under it.
pub fn kill_tree(root: i32) {
    if root <= 0 {
        return;
    }
    let mut frozen: Vec<i32> = vec![root];
    signal(root, libc::SIGSTOP);
    for _ in 0..ROUNDS {
        let fresh: Vec<i32> = descendants(root)
            .into_iter()
            .filter(|p| !frozen.contains(p))
            .collect();
        if fresh.is_empty() {
            break;
        }
        for p in fresh {
            signal(p, libc::SIGSTOP);
            frozen.push(p);
        }
    }
    signal_group(root, libc::SIGKILL);
    for p in frozen {
        signal(p, libc::SIGKILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt as _;
    use std::time::{Duration, Instant};

    fn alive(pid: i32) -> bool {
        // A zombie is gone for our purpose: it runs nothing.
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit(')')
                    .next()
                    .map(|r| r.trim_start().starts_with('Z'))
            })
            .is_some_and(|zombie| !zombie)
    }

    #[test]
    fn kills_children_that_left_the_group() {
        // A shell whose children start a new session: out of its process group.
        let mut child = std::process::Command::new("sh")
            .args(["-c", "setsid sleep 3601 & sleep 3602 & wait"])
            .process_group(0)
            .spawn()
            .expect("sh");
        let root = child.id() as i32;
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut tree = descendants(root);
        while tree.len() < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
            tree = descendants(root);
        }
        assert!(tree.len() >= 2, "{tree:?}");
        kill_tree(root);
        let _ = child.wait();
        let deadline = Instant::now() + Duration::from_secs(10);
        while tree.iter().any(|p| alive(*p)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!tree.iter().any(|p| alive(*p)), "left running: {tree:?}");
    }
}
