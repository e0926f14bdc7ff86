//! Axon's agent seccomp filter under real bubblewrap and the real kernel.
//!
//! Each check runs twice in the same sandbox, with `--cap-add ALL` so that nothing but the
//! filter stands in the way: once with `--seccomp FD` (the escapes must fail with the errno the
//! filter gives, ordinary work must succeed) and once without (the control: the same escapes
//! succeed, so it is the filter that stops them). Probes that need a system call are this test
//! binary itself, bound into the sandbox and re-executed with `AXON_SECCOMP_PROBE` set.
//!
//! Run as root, `passes_as_an_unprivileged_user_too` re-runs the other tests as `nobody`
//! (bubblewrap then needs `--unshare-user`, which `bwrap()` adds for non-root callers).

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

/// Set in the re-executed probe: which probe to run.
const PROBE_ENV: &str = "AXON_SECCOMP_PROBE";
/// Where the test binary is bound inside the sandbox.
const PROBE_PATH: &str = "/tmp/axon-seccomp-probe";

/// The two tests that `passes_as_an_unprivileged_user_too` re-runs as `nobody`.
const SANDBOX_TESTS: &[&str] = &[
    "syscall_escapes_fail_with_the_filter_and_succeed_without",
    "shell_escapes_fail_and_ordinary_work_succeeds",
];

fn is_root() -> bool {
    // SAFETY: geteuid cannot fail and touches no memory.
    unsafe { libc::geteuid() == 0 }
}

/// The sandbox of the brief: read-only root, fresh /dev, /proc and /tmp, own PID namespace.
/// Non-root callers need a user namespace for bubblewrap to work at all.
fn bwrap(filter: Option<&OwnedFd>) -> Command {
    let mut cmd = Command::new("bwrap");
    if !is_root() {
        cmd.arg("--unshare-user");
    }
    cmd.args(["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"])
        .args(["--tmpfs", "/tmp", "--unshare-pid", "--die-with-parent"])
        .args(["--cap-add", "ALL"]);
    if let Some(fd) = filter {
        cmd.arg("--seccomp").arg(fd.as_raw_fd().to_string());
    }
    cmd
}

/// Runs `cmd` (a `bwrap` with its program appended) and returns its `probe:NAME=VALUE` lines.
fn probe_lines(mut cmd: Command) -> BTreeMap<String, String> {
    let out = cmd.output().expect("run bwrap");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "sandbox failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    stdout
        .lines()
        // libtest may print "test probe_entry ... " on the same line, ahead of the first one.
        .filter_map(|line| line.split_once("probe:").map(|(_, probe)| probe))
        .filter_map(|line| line.split_once('='))
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

/// Runs this binary's `probe_entry` inside the sandbox, with or without the filter.
fn run_syscall_probes(with_filter: bool) -> BTreeMap<String, String> {
    let fd = with_filter.then(|| axon_local::seccomp::agent_filter_fd().expect("filter memfd"));
    let exe = std::env::current_exe().expect("path of the test binary");
    let mut cmd = bwrap(fd.as_ref());
    cmd.arg("--ro-bind").arg(&exe).arg(PROBE_PATH);
    cmd.args(["--", PROBE_PATH, "--exact", "probe_entry"])
        .args(["--nocapture", "--test-threads=1"])
        .env(PROBE_ENV, "syscalls");
    let lines = probe_lines(cmd);
    drop(fd);
    lines
}

/// Without the filter, mounting works as root. Unprivileged, bubblewrap's `--dev` puts the
/// sandbox in a second user namespace that does not own the mount namespace, so the kernel
/// refuses it already (the filter is shown to refuse it with every capability, as root).
fn control_mount() -> &'static str {
    if is_root() { "ok" } else { "EPERM" }
}

fn expected(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|&(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn syscall_escapes_fail_with_the_filter_and_succeed_without() {
    let mut filtered = run_syscall_probes(true);
    let mut control = run_syscall_probes(false);

    // x32 calls: refused by the filter; without it the kernel decides (ENOSYS where x32 is off).
    if cfg!(target_arch = "x86_64") {
        assert_eq!(filtered.remove("x32_getpid").as_deref(), Some("EPERM"));
        let unfiltered = control.remove("x32_getpid").expect("x32 probe ran");
        assert_ne!(
            unfiltered, "EPERM",
            "without the filter x32 is not refused with EPERM"
        );
    }

    let mut want_filtered = vec![
        ("mount_tmpfs", "EPERM"),
        ("unshare_user", "EPERM"),
        ("unshare_nothing", "EPERM"),
        ("setns", "EPERM"),
        ("add_key", "EPERM"),
        ("keyctl", "EPERM"),
        ("ptrace_traceme", "EPERM"),
        ("clone_newuser_high_bits", "EPERM"),
        ("clone3", "ENOSYS"),
        ("ioctl_tiocsti", "EPERM"),
        ("ioctl_tiocsti_high_bits", "EPERM"),
        ("ioctl_tioclinux", "EPERM"),
        ("ioctl_tiocgwinsz", "ENOTTY"),
        ("personality_query", "ok"),
        ("personality_linux32", "EPERM"),
        ("clone_plain", "ok"),
        ("thread", "ok"),
        ("fork_exec", "ok"),
        ("seccomp_mode", "2"),
    ];
    let mut want_control = vec![
        ("mount_tmpfs", control_mount()),
        ("unshare_user", "ok"),
        ("unshare_nothing", "ok"),
        ("setns", "EBADF"),
        ("add_key", "ok"),
        ("keyctl", "ok"),
        ("ptrace_traceme", "ok"),
        ("clone_newuser_high_bits", "ok"),
        ("clone3", "EINVAL"),
        ("ioctl_tiocsti", "ENOTTY"),
        ("ioctl_tiocsti_high_bits", "ENOTTY"),
        ("ioctl_tioclinux", "ENOTTY"),
        ("ioctl_tiocgwinsz", "ENOTTY"),
        ("personality_query", "ok"),
        ("personality_linux32", "ok"),
        ("clone_plain", "ok"),
        ("thread", "ok"),
        ("fork_exec", "ok"),
        ("seccomp_mode", "0"),
    ];
    for &(flag, _) in NAMESPACE_FLAGS {
        want_filtered.push((flag, "EPERM"));
        want_control.push((flag, "ok"));
    }
    assert_eq!(filtered, expected(&want_filtered), "with the filter");
    assert_eq!(
        control,
        expected(&want_control),
        "without the filter (control)"
    );
}

/// Commands a shell runs inside the sandbox; each prints `probe:NAME=ok` or `=failed: OUTPUT`.
const SHELL_PROBES: &str = r#"
check() {
    name=$1; shift
    if "$@" >/tmp/out 2>&1; then r=ok; else r="failed: $(tr '\n' ' ' </tmp/out)"; fi
    echo "probe:$name=$r"
}
check unshare_user unshare -U true
mkdir /tmp/y
check mount_tmpfs mount -t tmpfs x /tmp/y
check git_version git --version
check write_tmp sh -c 'echo hi > /tmp/x && test "$(cat /tmp/x)" = hi'
check fork_exec sh -c '/bin/echo forked | grep -q forked'
echo "probe:seccomp_mode=$(awk '/^Seccomp:/ {print $2}' /proc/self/status)"
"#;

#[test]
fn shell_escapes_fail_and_ordinary_work_succeeds() {
    let run = |with_filter: bool| {
        let fd = with_filter.then(|| axon_local::seccomp::agent_filter_fd().expect("filter memfd"));
        let mut cmd = bwrap(fd.as_ref());
        cmd.args(["--", "sh", "-c", SHELL_PROBES]);
        probe_lines(cmd)
    };
    let mut filtered = run(true);
    let mut control = run(false);
    // Unprivileged, the kernel refuses it already (see `control_mount`).
    let unfiltered_mount = control.remove("mount_tmpfs").expect("mount probe ran");
    assert_eq!(
        unfiltered_mount.starts_with("failed"),
        !is_root(),
        "mount without the filter: {unfiltered_mount}"
    );

    let unshare = filtered.remove("unshare_user").expect("unshare probe ran");
    assert!(
        unshare.starts_with("failed") && unshare.contains("Operation not permitted"),
        "unshare -U: {unshare}"
    );
    // mount(8) words EPERM as "permission denied" for root and "must be superuser" for others;
    // the errno itself is checked by the syscall probe.
    let mount = filtered.remove("mount_tmpfs").expect("mount probe ran");
    let words = mount.to_lowercase();
    assert!(
        mount.starts_with("failed")
            && (words.contains("permission denied") || words.contains("must be superuser")),
        "mount: {mount}"
    );
    assert_eq!(
        filtered,
        expected(&[
            ("git_version", "ok"),
            ("write_tmp", "ok"),
            ("fork_exec", "ok"),
            ("seccomp_mode", "2"),
        ]),
        "with the filter"
    );
    assert_eq!(
        control,
        expected(&[
            ("unshare_user", "ok"),
            ("git_version", "ok"),
            ("write_tmp", "ok"),
            ("fork_exec", "ok"),
            ("seccomp_mode", "0"),
        ]),
        "without the filter (control)"
    );
}

#[test]
fn passes_as_an_unprivileged_user_too() {
    if !is_root() || std::env::var_os(PROBE_ENV).is_some() {
        eprintln!("skipped: not root (the other tests already run unprivileged)");
        return;
    }
    // A copy nobody can read: the build tree may not be.
    let dir = tempfile::Builder::new()
        .prefix("axon-seccomp-")
        .tempdir()
        .expect("temp dir");
    let copy = dir.path().join("seccomp_filter");
    let exe = std::env::current_exe().expect("path of the test binary");
    std::fs::copy(&exe, &copy).expect("copy the test binary");
    for path in [dir.path(), copy.as_path()] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    for name in SANDBOX_TESTS {
        let out = Command::new("setpriv")
            .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
            .arg(&copy)
            .args(["--exact", name])
            .current_dir("/")
            .output()
            .expect("run setpriv");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "{name} as nobody ({}):\n{stdout}\n{stderr}",
            out.status
        );
    }
}

// ---- the probe, run inside the sandbox ---------------------------------------------------

const NAMESPACE_FLAGS: &[(&str, libc::c_int)] = &[
    ("CLONE_NEWNS", libc::CLONE_NEWNS),
    ("CLONE_NEWUTS", libc::CLONE_NEWUTS),
    ("CLONE_NEWIPC", libc::CLONE_NEWIPC),
    ("CLONE_NEWUSER", libc::CLONE_NEWUSER),
    ("CLONE_NEWPID", libc::CLONE_NEWPID),
    ("CLONE_NEWNET", libc::CLONE_NEWNET),
    ("CLONE_NEWCGROUP", libc::CLONE_NEWCGROUP),
    ("CLONE_NEWTIME", libc::CLONE_NEWTIME),
];

/// Not a test of its own: the entry point of the probe when re-executed in the sandbox.
#[test]
fn probe_entry() {
    if std::env::var(PROBE_ENV).as_deref() == Ok("syscalls") {
        for (name, result) in syscall_probes() {
            println!("probe:{name}={result}");
        }
    }
}

fn errno_name(errno: i32) -> String {
    match errno {
        libc::EPERM => "EPERM".into(),
        libc::ENOSYS => "ENOSYS".into(),
        libc::EINVAL => "EINVAL".into(),
        libc::EBADF => "EBADF".into(),
        libc::ENOTTY => "ENOTTY".into(),
        libc::EFAULT => "EFAULT".into(),
        libc::EACCES => "EACCES".into(),
        other => format!("errno {other}"),
    }
}

/// "ok" for a non-negative return, else the errno's name.
fn outcome(ret: libc::c_long) -> String {
    if ret >= 0 {
        "ok".into()
    } else {
        errno_name(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    }
}

/// Waits for `pid` and turns its exit code (0 or an errno) into an outcome.
fn reap(pid: libc::pid_t) -> String {
    let mut status = 0;
    // SAFETY: waiting for our own child, with a valid status pointer.
    // __WALL: also children whose exit signal is not SIGCHLD (see CLONE_NEWTIME).
    if unsafe { libc::waitpid(pid, &mut status, libc::__WALL) } != pid {
        return format!("waitpid: {}", std::io::Error::last_os_error());
    }
    match (libc::WIFEXITED(status), libc::WEXITSTATUS(status)) {
        (true, 0) => "ok".into(),
        (true, errno) => errno_name(errno),
        _ => format!("child status {status:#x}"),
    }
}

/// Runs `f` in a forked child, which exits with 0 or the errno; for calls that change the
/// calling process for good (new namespace, being traced).
fn in_child(f: impl FnOnce() -> libc::c_long) -> String {
    // SAFETY: the child only makes a raw system call and `_exit`s.
    match unsafe { libc::fork() } {
        -1 => outcome(-1),
        0 => {
            let code = if f() >= 0 {
                0
            } else {
                std::io::Error::last_os_error().raw_os_error().unwrap_or(1)
            };
            // SAFETY: leaving the forked child without running anything of the parent's.
            unsafe { libc::_exit(code) }
        }
        pid => reap(pid),
    }
}

/// The raw `clone` system call with no new stack (fork-like); the child exits at once.
fn raw_clone(flags: u64) -> String {
    // SAFETY: without CLONE_VM the child gets a copy of the address space, like fork.
    let ret = unsafe { libc::syscall(libc::SYS_clone, flags, 0, 0, 0, 0) };
    match ret {
        0 => unsafe { libc::_exit(0) }, // SAFETY: the child leaves at once.
        pid if pid > 0 => match libc::pid_t::try_from(pid) {
            Ok(pid) => reap(pid),
            Err(_) => format!("clone returned {pid}"),
        },
        _ => outcome(ret),
    }
}

fn syscall_probes() -> Vec<(String, String)> {
    let mut results: Vec<(String, String)> = Vec::new();
    let mut record = |name: &str, result: String| results.push((name.to_string(), result));
    let sigchld = libc::SIGCHLD as u64;
    let null = std::ptr::null::<libc::c_char>();

    // SAFETY (whole block): raw system calls with valid pointers to local C strings and
    // buffers, or deliberately invalid arguments the kernel rejects without touching memory.
    unsafe {
        libc::mkdir(c"/tmp/y".as_ptr(), 0o755);
        let ret = libc::mount(
            c"x".as_ptr(),
            c"/tmp/y".as_ptr(),
            c"tmpfs".as_ptr(),
            0,
            std::ptr::null(),
        );
        record("mount_tmpfs", outcome(ret.into()));
        record(
            "unshare_user",
            in_child(|| libc::unshare(libc::CLONE_NEWUSER).into()),
        );
        record("unshare_nothing", outcome(libc::unshare(0).into()));
        record("setns", outcome(libc::setns(-1, libc::CLONE_NEWNET).into()));
        let payload = b"secret";
        record(
            "add_key",
            outcome(libc::syscall(
                libc::SYS_add_key,
                c"user".as_ptr(),
                c"axon-probe".as_ptr(),
                payload.as_ptr(),
                payload.len(),
                libc::KEY_SPEC_PROCESS_KEYRING,
            )),
        );
        record(
            "keyctl",
            outcome(libc::syscall(
                libc::SYS_keyctl,
                libc::KEYCTL_GET_KEYRING_ID,
                libc::KEY_SPEC_PROCESS_KEYRING,
                1,
            )),
        );
        record(
            "ptrace_traceme",
            in_child(|| libc::ptrace(libc::PTRACE_TRACEME, 0, null, null)),
        );
        record("clone_plain", raw_clone(sigchld));
        for &(name, flag) in NAMESPACE_FLAGS {
            record(name, raw_clone(flag as u64 | sigchld));
        }
        // The kernel only reads the low 32 bits of clone's flags.
        let high = libc::CLONE_NEWUSER as u64 | sigchld | (1 << 32);
        record("clone_newuser_high_bits", raw_clone(high));
        record("clone3", outcome(libc::syscall(libc::SYS_clone3, null, 0)));

        let dev_null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        let mut byte: libc::c_char = b'x' as libc::c_char;
        let ioctl = |request: u64, arg: *mut libc::c_char| {
            outcome(libc::syscall(libc::SYS_ioctl, dev_null, request, arg))
        };
        record("ioctl_tiocsti", ioctl(libc::TIOCSTI, &mut byte));
        record(
            "ioctl_tiocsti_high_bits",
            ioctl(libc::TIOCSTI | 1 << 32, &mut byte),
        );
        record("ioctl_tioclinux", ioctl(libc::TIOCLINUX, &mut byte));
        let mut winsize = [0u8; 8];
        record(
            "ioctl_tiocgwinsz",
            ioctl(libc::TIOCGWINSZ, winsize.as_mut_ptr().cast()),
        );
        libc::close(dev_null);

        record(
            "personality_query",
            outcome(libc::personality(0xffff_ffff).into()),
        );
        record(
            "personality_linux32",
            outcome(libc::personality(0x0008).into()),
        );
        libc::personality(0);

        #[cfg(target_arch = "x86_64")]
        record(
            "x32_getpid",
            outcome(libc::syscall(0x4000_0000 | libc::SYS_getpid)),
        );
    }

    let thread = std::thread::spawn(|| 42).join();
    record(
        "thread",
        if matches!(thread, Ok(42)) {
            "ok".into()
        } else {
            "thread failed".into()
        },
    );
    let fork_exec = Command::new("/bin/true").status();
    record(
        "fork_exec",
        match fork_exec {
            Ok(status) if status.success() => "ok".into(),
            other => format!("{other:?}"),
        },
    );
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let mode = status
        .lines()
        .find_map(|line| line.strip_prefix("Seccomp:"))
        .map(str::trim)
        .unwrap_or("missing");
    record("seccomp_mode", mode.to_string());
    results
}
