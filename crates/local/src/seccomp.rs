//! The seccomp filter bubblewrap applies to every agent (`bwrap --seccomp FD`).
//!
//! Namespaces and a read-only root keep an agent away from the host's files, but the agent
//! still talks to the host's kernel. An agent that is hostile (or merely talked into it) could
//! create its own user namespace and mount over what bubblewrap set up, trace or read the memory
//! of other processes, load kernel modules, change the clock, or push keystrokes into the
//! terminal that started Axon (`TIOCSTI`). When `axon` runs as root some of these are one
//! capability away. This filter takes those system calls away from the agent altogether: they
//! fail with `EPERM`, which tools already handle as "not allowed here".
//!
//! It is a deny list on purpose: everything else stays allowed (default `ALLOW`), so compilers,
//! package managers, git, language servers and test suites run unchanged.
//!
//! The program is compiled by [`seccompiler`] from the table `COMMON` (plus `ARCH_ONLY`),
//! not written by hand. Two small things `seccompiler` cannot express are added around it,
//! each covered by the unit tests below (they run the program through a BPF interpreter) and
//! by `tests/seccomp_filter.rs` (real kernel, real bubblewrap):
//!
//! * `clone3` must fail with `ENOSYS`, not `EPERM`: glibc then falls back to `clone`, whose
//!   flags the filter can inspect (`clone3` passes them in memory, out of the filter's reach),
//!   while an `EPERM` would make every `pthread_create` fail. A `seccompiler` filter has a
//!   single match action, so `clone3` is compiled as a second filter and chained (`chain`) behind the
//!   first: every `ALLOW` exit of the first continues into the second.
//! * On x86_64 a process can make x32 system calls (numbers with bit 30 set) which the arch
//!   check does not tell apart from native ones and which would slip past every rule keyed on
//!   a native number. `x32_guard` refuses them all, as Docker and systemd do.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch, sock_filter,
};

/// Why the filter could not be built or handed over.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// Neither x86_64 nor aarch64.
    #[error(
        "Axon's sandbox has no seccomp filter for the {arch} architecture (only x86_64 and \
         aarch64 are supported); run on one of those, or use `--sandbox none` knowing the agent \
         is then not isolated at all"
    )]
    UnsupportedArch {
        /// `std::env::consts::ARCH` of this build.
        arch: &'static str,
    },
    /// `seccompiler` refused the rule table: a bug in this module, not in the environment.
    #[error(
        "Axon's seccomp rule for {what} does not compile ({source}); this is a bug in Axon, \
         please report it"
    )]
    Compile {
        /// The system call (or "the filter") whose rule failed.
        what: &'static str,
        /// What `seccompiler` said.
        #[source]
        source: seccompiler::BackendError,
    },
    /// The compiled program is longer than the kernel accepts.
    #[error(
        "Axon's seccomp filter has {0} instructions, more than the kernel's limit of \
         {BPF_MAXINSNS}; this is a bug in Axon, please report it"
    )]
    TooLong(usize),
    /// `memfd_create` failed (kernel older than 3.17, or out of file descriptors/memory).
    #[error(
        "cannot create an in-memory file for the seccomp filter (memfd_create: {0}); Axon needs \
         Linux 3.17 or newer and a free file descriptor"
    )]
    Memfd(#[source] io::Error),
    /// Writing, rewinding or sealing the memfd failed.
    #[error("cannot prepare the in-memory seccomp filter file ({what}: {source})")]
    Prepare {
        /// The step that failed.
        what: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

/// When a listed system call is refused.
#[derive(Clone, Copy, Debug)]
enum When {
    /// Always.
    Always,
    /// When the 32-bit argument `arg` equals one of `values`.
    ArgIs {
        arg: u8,
        values: &'static [(&'static str, u64)],
    },
    /// When the 32-bit argument `arg` has any of the `bits` set.
    ArgHasAnyBit {
        arg: u8,
        bits: &'static [(&'static str, u64)],
    },
    /// Unless the 32-bit argument `arg` equals one of `values`.
    ArgIsNot {
        arg: u8,
        values: &'static [(&'static str, u64)],
    },
}

/// One refused system call.
#[derive(Clone, Copy, Debug)]
struct Rule {
    name: &'static str,
    nr: i64,
    when: When,
}

const fn always(name: &'static str, nr: i64) -> Rule {
    Rule {
        name,
        nr,
        when: When::Always,
    }
}

/// `ioctl` requests that inject input into, or reprogram, the controlling terminal. The kernel
/// reads the request as an `unsigned int`, so the comparison is on the low 32 bits only (a
/// full 64-bit comparison is bypassed by setting high bits: CVE-2019-10063).
#[allow(clippy::unnecessary_cast)] // the request's type differs between glibc and musl
const TERMINAL_INJECTION: &[(&str, u64)] = &[
    ("TIOCSTI", libc::TIOCSTI as u64),
    ("TIOCLINUX", libc::TIOCLINUX as u64),
];

/// `clone` flags that create a namespace. On `clone` (unlike `clone3` and `unshare`) the bit of
/// `CLONE_NEWTIME` falls in the exit-signal byte, where no real signal number has it; refusing
/// it costs nothing.
const NAMESPACE_FLAGS: &[(&str, u64)] = &[
    ("CLONE_NEWNS", libc::CLONE_NEWNS as u64),
    ("CLONE_NEWUTS", libc::CLONE_NEWUTS as u64),
    ("CLONE_NEWIPC", libc::CLONE_NEWIPC as u64),
    ("CLONE_NEWUSER", libc::CLONE_NEWUSER as u64),
    ("CLONE_NEWPID", libc::CLONE_NEWPID as u64),
    ("CLONE_NEWNET", libc::CLONE_NEWNET as u64),
    ("CLONE_NEWCGROUP", libc::CLONE_NEWCGROUP as u64),
    ("CLONE_NEWTIME", libc::CLONE_NEWTIME as u64),
];

/// The only `personality` calls allowed: reset to Linux, turn off ASLR (`setarch -R`, used by
/// debuggers), and the query.
const HARMLESS_PERSONALITY: &[(&str, u64)] = &[
    ("PER_LINUX", 0),
    ("ADDR_NO_RANDOMIZE", 0x0040000),
    ("query", 0xffff_ffff),
];

/// Refused with `EPERM` on every architecture.
const COMMON: &[Rule] = &[
    // Mounts: an agent must not rearrange the file system bubblewrap built.
    always("mount", libc::SYS_mount),
    always("umount2", libc::SYS_umount2),
    always("pivot_root", libc::SYS_pivot_root),
    always("move_mount", libc::SYS_move_mount),
    always("open_tree", libc::SYS_open_tree),
    always("fsopen", libc::SYS_fsopen),
    always("fsconfig", libc::SYS_fsconfig),
    always("fsmount", libc::SYS_fsmount),
    always("fspick", libc::SYS_fspick),
    always("mount_setattr", libc::SYS_mount_setattr),
    // Namespaces: new ones would hand the agent capabilities again.
    always("unshare", libc::SYS_unshare),
    always("setns", libc::SYS_setns),
    Rule {
        name: "clone",
        nr: libc::SYS_clone,
        when: When::ArgHasAnyBit {
            arg: 0,
            bits: NAMESPACE_FLAGS,
        },
    },
    // Kernel keyrings are not namespaced: keys of other users and containers live there.
    always("add_key", libc::SYS_add_key),
    always("request_key", libc::SYS_request_key),
    always("keyctl", libc::SYS_keyctl),
    // Kernel code and kernel state.
    always("bpf", libc::SYS_bpf),
    always("init_module", libc::SYS_init_module),
    always("finit_module", libc::SYS_finit_module),
    always("delete_module", libc::SYS_delete_module),
    always("kexec_load", libc::SYS_kexec_load),
    always("kexec_file_load", libc::SYS_kexec_file_load),
    always("reboot", libc::SYS_reboot),
    always("swapon", libc::SYS_swapon),
    always("swapoff", libc::SYS_swapoff),
    always("acct", libc::SYS_acct),
    always("quotactl", libc::SYS_quotactl),
    always("syslog", libc::SYS_syslog),
    always("lookup_dcookie", libc::SYS_lookup_dcookie),
    // The clock is shared with the whole machine.
    always("clock_settime", libc::SYS_clock_settime),
    always("clock_adjtime", libc::SYS_clock_adjtime),
    always("adjtimex", libc::SYS_adjtimex),
    always("settimeofday", libc::SYS_settimeofday),
    // Other processes' memory, and side channels.
    always("ptrace", libc::SYS_ptrace),
    always("process_vm_readv", libc::SYS_process_vm_readv),
    always("process_vm_writev", libc::SYS_process_vm_writev),
    always("perf_event_open", libc::SYS_perf_event_open),
    always("userfaultfd", libc::SYS_userfaultfd),
    // io_uring: a large kernel attack surface that also bypasses this filter's view of the
    // syscalls it performs; runtimes (libuv, Tokio) fall back to threads when it is refused.
    always("io_uring_setup", libc::SYS_io_uring_setup),
    always("io_uring_enter", libc::SYS_io_uring_enter),
    always("io_uring_register", libc::SYS_io_uring_register),
    // File handles open files by inode number, past the mount tree (the "shocker" escape).
    always("open_by_handle_at", libc::SYS_open_by_handle_at),
    always("name_to_handle_at", libc::SYS_name_to_handle_at),
    // Execution domains that weaken the process (READ_IMPLIES_EXEC and the like).
    Rule {
        name: "personality",
        nr: libc::SYS_personality,
        when: When::ArgIsNot {
            arg: 0,
            values: HARMLESS_PERSONALITY,
        },
    },
    // Typing into the terminal that started Axon.
    Rule {
        name: "ioctl",
        nr: libc::SYS_ioctl,
        when: When::ArgIs {
            arg: 1,
            values: TERMINAL_INJECTION,
        },
    },
];

/// Refused with `EPERM` on this architecture only.
#[cfg(target_arch = "x86_64")]
const ARCH_ONLY: &[Rule] = &[
    // Raw I/O port access.
    always("iopl", libc::SYS_iopl),
    always("ioperm", libc::SYS_ioperm),
];
#[cfg(not(target_arch = "x86_64"))]
const ARCH_ONLY: &[Rule] = &[];

/// Refused with `ENOSYS`, so that libc falls back to `clone` (see the module docs).
const FALL_BACK: &[(&str, i64)] = &[("clone3", libc::SYS_clone3)];

/// The kernel's limit on the length of a classic BPF program.
const BPF_MAXINSNS: usize = 4096;

/// Bit 30 of the system call number marks an x32 call on x86_64.
#[cfg(target_arch = "x86_64")]
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// The compiled filter as bubblewrap's `--seccomp FD` reads it: an array of
/// `struct sock_filter` (8 bytes each, native endian) for the running architecture.
pub fn agent_filter() -> Result<Vec<u8>, SeccompError> {
    Ok(to_bytes(&agent_program()?))
}

/// A memfd holding [`agent_filter`], rewound to offset 0 and sealed against any change.
///
/// Hand its number to bubblewrap: `bwrap ... --seccomp <fd> -- agent`. bubblewrap reads the
/// descriptor to its end, so use one descriptor per bubblewrap run and create it just before
/// spawning (the file offset is shared with every copy of the descriptor).
///
/// The descriptor is created *without* `FD_CLOEXEC` so that it survives `exec` into bubblewrap
/// (and through an outer bubblewrap into a nested one): `std::process::Command` passes it on
/// as is. The caller must keep it that way (no `FD_CLOEXEC`, not closed before the spawn) and
/// drop it after the spawn. Other children spawned meanwhile inherit it too; that is harmless,
/// since the content is public and sealed (`F_SEAL_WRITE`, `F_SEAL_SHRINK`, `F_SEAL_GROW`,
/// `F_SEAL_SEAL`), so nobody who inherits it can change the filter.
pub fn agent_filter_fd() -> Result<OwnedFd, SeccompError> {
    let bytes = agent_filter()?;
    // SAFETY: the name is a valid NUL-terminated string; the flags are plain bits.
    let raw = unsafe { libc::memfd_create(c"axon-seccomp".as_ptr(), libc::MFD_ALLOW_SEALING) };
    if raw < 0 {
        return Err(SeccompError::Memfd(io::Error::last_os_error()));
    }
    // SAFETY: `raw` is a freshly created descriptor that nothing else owns.
    let mut file = File::from(unsafe { OwnedFd::from_raw_fd(raw) });
    let prepare = |what| move |source| SeccompError::Prepare { what, source };
    file.write_all(&bytes).map_err(prepare("write"))?;
    file.seek(SeekFrom::Start(0)).map_err(prepare("rewind"))?;
    let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    // SAFETY: fcntl on a descriptor we own, with an integer argument.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_ADD_SEALS, seals) } < 0 {
        return Err(prepare("seal")(io::Error::last_os_error()));
    }
    Ok(OwnedFd::from(file))
}

/// The architecture this build runs on, as `seccompiler` names it.
#[cfg(target_arch = "x86_64")]
fn target_arch() -> Result<TargetArch, SeccompError> {
    Ok(TargetArch::x86_64)
}
#[cfg(target_arch = "aarch64")]
fn target_arch() -> Result<TargetArch, SeccompError> {
    Ok(TargetArch::aarch64)
}
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn target_arch() -> Result<TargetArch, SeccompError> {
    Err(SeccompError::UnsupportedArch {
        arch: std::env::consts::ARCH,
    })
}

/// The whole program: x32 guard, then the `EPERM` filter chained into the `ENOSYS` filter.
fn agent_program() -> Result<BpfProgram, SeccompError> {
    let arch = target_arch()?;
    let mut deny = BTreeMap::new();
    for rule in COMMON.iter().chain(ARCH_ONLY) {
        deny.insert(rule.nr, seccompiler_rules(rule)?);
    }
    let fall_back = FALL_BACK.iter().map(|&(_, nr)| (nr, Vec::new())).collect();
    let deny = compile(deny, libc::EPERM, arch)?;
    let fall_back = compile(fall_back, libc::ENOSYS, arch)?;
    let mut program = x32_guard();
    program.extend(chain(deny, fall_back));
    if program.len() > BPF_MAXINSNS {
        return Err(SeccompError::TooLong(program.len()));
    }
    Ok(program)
}

/// A filter that allows everything except `rules`, which fail with `errno`.
fn compile(
    rules: BTreeMap<i64, Vec<SeccompRule>>,
    errno: i32,
    arch: TargetArch,
) -> Result<BpfProgram, SeccompError> {
    let failed = |source| SeccompError::Compile {
        what: "the filter",
        source,
    };
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(errno as u32),
        arch,
    )
    .map_err(failed)?;
    BpfProgram::try_from(filter).map_err(failed)
}

/// `seccompiler`'s rules for one table entry: the call matches when any rule matches, a rule
/// matches when all its conditions do, and no rule at all means "always".
fn seccompiler_rules(entry: &Rule) -> Result<Vec<SeccompRule>, SeccompError> {
    let failed = |source| SeccompError::Compile {
        what: entry.name,
        source,
    };
    // Dword: the kernel reads these arguments as 32-bit ints, so only the low half counts.
    let cond = |arg, op, value| {
        SeccompCondition::new(arg, SeccompCmpArgLen::Dword, op, value).map_err(failed)
    };
    let rule = |conditions| SeccompRule::new(conditions).map_err(failed);
    match entry.when {
        When::Always => Ok(Vec::new()),
        When::ArgIs { arg, values } => values
            .iter()
            .map(|&(_, v)| rule(vec![cond(arg, SeccompCmpOp::Eq, v)?]))
            .collect(),
        When::ArgHasAnyBit { arg, bits } => bits
            .iter()
            .map(|&(_, bit)| rule(vec![cond(arg, SeccompCmpOp::MaskedEq(bit), bit)?]))
            .collect(),
        When::ArgIsNot { arg, values } => Ok(vec![rule(
            values
                .iter()
                .map(|&(_, v)| cond(arg, SeccompCmpOp::Ne, v))
                .collect::<Result<_, _>>()?,
        )?]),
    }
}

// Classic BPF opcodes (linux/bpf_common.h), for the two additions below.
const BPF_JA: u16 = (libc::BPF_JMP | libc::BPF_JA) as u16;
const BPF_RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

/// Runs `first`, and where it would allow the call, runs `second` instead.
///
/// Every `RET ALLOW` of `first` becomes a `JA` (one instruction for one, so no other jump in
/// `first` moves) to the first instruction of `second`, appended after it. `JA` takes a 32-bit
/// offset, so the distance is never a problem.
fn chain(mut first: BpfProgram, second: BpfProgram) -> BpfProgram {
    let len = first.len();
    for (at, insn) in first.iter_mut().enumerate() {
        if insn.code == BPF_RET_K && insn.k == libc::SECCOMP_RET_ALLOW {
            // The CPU is at `at + 1` after the jump instruction itself.
            let offset = u32::try_from(len - at - 1).unwrap_or(u32::MAX);
            *insn = bpf_stmt(BPF_JA, offset);
        }
    }
    first.extend(second);
    first
}

/// Refuses every x32 system call, before anything else runs.
#[cfg(target_arch = "x86_64")]
fn x32_guard() -> BpfProgram {
    const BPF_LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
    const BPF_JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
    vec![
        // A = seccomp_data.nr
        bpf_stmt(BPF_LD_W_ABS, 0),
        // if A >= X32_SYSCALL_BIT fall through to the RET, else skip it
        sock_filter {
            code: BPF_JGE_K,
            jt: 0,
            jf: 1,
            k: X32_SYSCALL_BIT,
        },
        bpf_stmt(
            BPF_RET_K,
            libc::SECCOMP_RET_ERRNO | (libc::EPERM as u32 & libc::SECCOMP_RET_DATA),
        ),
    ]
}
/// Only x86_64 has a second system call table under the same arch value.
#[cfg(not(target_arch = "x86_64"))]
fn x32_guard() -> BpfProgram {
    Vec::new()
}

fn bpf_stmt(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

/// `struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }`, native endian, no padding.
fn to_bytes(program: &[sock_filter]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(program.len() * 8);
    for insn in program {
        bytes.extend_from_slice(&insn.code.to_ne_bytes());
        bytes.push(insn.jt);
        bytes.push(insn.jf);
        bytes.extend_from_slice(&insn.k.to_ne_bytes());
    }
    bytes
}

/// The table in words, sorted by name: what the snapshot test pins down.
#[cfg(test)]
fn describe(rules: &[Rule]) -> Vec<String> {
    fn names(list: &[(&'static str, u64)]) -> Vec<&'static str> {
        list.iter().map(|&(name, _)| name).collect()
    }
    let mut lines: Vec<String> = rules
        .iter()
        .map(|rule| match rule.when {
            When::Always => rule.name.to_string(),
            When::ArgIs { arg, values } => {
                format!(
                    "{} if arg{arg} is {}",
                    rule.name,
                    names(values).join(" or ")
                )
            }
            When::ArgHasAnyBit { arg, bits } => {
                format!("{} if arg{arg} has {}", rule.name, names(bits).join(" or "))
            }
            When::ArgIsNot { arg, values } => {
                format!(
                    "{} unless arg{arg} is {}",
                    rule.name,
                    names(values).join(" or ")
                )
            }
        })
        .collect();
    lines.sort();
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
    const EPERM: u32 = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
    const ENOSYS: u32 = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;

    #[cfg(target_arch = "x86_64")]
    const AUDIT_ARCH: u32 = 0xC000_003E;
    #[cfg(target_arch = "aarch64")]
    const AUDIT_ARCH: u32 = 0xC000_00B7;

    /// A classic-BPF interpreter for the instructions `seccompiler` and this module emit, run
    /// over a `struct seccomp_data` (little-endian, as on both supported architectures).
    fn run(program: &[sock_filter], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
        let word = |offset: u32| -> u32 {
            match offset {
                0 => nr,
                4 => arch,
                16..=63 => {
                    let arg = args[(offset as usize - 16) / 8];
                    if offset.is_multiple_of(8) {
                        arg as u32
                    } else {
                        (arg >> 32) as u32
                    }
                }
                _ => panic!("load from offset {offset}"),
            }
        };
        let (mut pc, mut acc) = (0usize, 0u32);
        loop {
            let insn = program.get(pc).expect("program runs past its end");
            pc += 1;
            let class = u32::from(insn.code) & 0x07;
            let op = u32::from(insn.code) & 0xf0;
            match (class, op) {
                (libc::BPF_RET, _) => return insn.k,
                (libc::BPF_LD, _) => acc = word(insn.k),
                (libc::BPF_ALU, libc::BPF_AND) => acc &= insn.k,
                (libc::BPF_JMP, libc::BPF_JA) => pc += insn.k as usize,
                (libc::BPF_JMP, _) => {
                    let taken = match op {
                        libc::BPF_JEQ => acc == insn.k,
                        libc::BPF_JGT => acc > insn.k,
                        libc::BPF_JGE => acc >= insn.k,
                        libc::BPF_JSET => acc & insn.k != 0,
                        _ => panic!("jump op {op:#x}"),
                    };
                    pc += usize::from(if taken { insn.jt } else { insn.jf });
                }
                _ => panic!("instruction {insn:?}"),
            }
        }
    }

    fn program() -> BpfProgram {
        agent_program().expect("the filter compiles")
    }

    fn call(nr: i64, args: [u64; 6]) -> u32 {
        run(&program(), AUDIT_ARCH, nr as u32, args)
    }

    #[test]
    fn program_is_whole_instructions() {
        let bytes = agent_filter().expect("the filter compiles");
        assert!(!bytes.is_empty());
        assert_eq!(bytes.len() % 8, 0);
        assert_eq!(bytes.len(), program().len() * 8);
        assert!(program().len() <= BPF_MAXINSNS);
    }

    #[test]
    fn denied_syscalls_snapshot() {
        insta::assert_yaml_snapshot!(describe(COMMON));
        #[cfg(target_arch = "x86_64")]
        assert_eq!(describe(ARCH_ONLY), ["ioperm", "iopl"]);
        #[cfg(not(target_arch = "x86_64"))]
        assert!(ARCH_ONLY.is_empty());
    }

    #[test]
    fn table_has_no_duplicates() {
        let mut nrs: Vec<i64> = COMMON.iter().chain(ARCH_ONLY).map(|r| r.nr).collect();
        nrs.extend(FALL_BACK.iter().map(|&(_, nr)| nr));
        let count = nrs.len();
        nrs.sort();
        nrs.dedup();
        assert_eq!(nrs.len(), count, "a system call is listed twice");
    }

    #[test]
    fn every_unconditional_entry_fails_with_eperm() {
        for rule in COMMON.iter().chain(ARCH_ONLY) {
            if matches!(rule.when, When::Always) {
                assert_eq!(call(rule.nr, [0; 6]), EPERM, "{}", rule.name);
                assert_eq!(call(rule.nr, [u64::MAX; 6]), EPERM, "{}", rule.name);
            }
        }
    }

    #[test]
    fn clone3_fails_with_enosys() {
        assert_eq!(call(libc::SYS_clone3, [0; 6]), ENOSYS);
    }

    #[test]
    fn ordinary_calls_are_allowed() {
        for nr in [
            libc::SYS_read,
            libc::SYS_write,
            libc::SYS_openat,
            libc::SYS_execve,
            libc::SYS_getpid,
            libc::SYS_wait4,
            libc::SYS_mmap,
            libc::SYS_futex,
            libc::SYS_socket,
            libc::SYS_chdir,
        ] {
            assert_eq!(call(nr, [0; 6]), ALLOW, "syscall {nr}");
        }
    }

    #[test]
    fn clone_is_refused_only_with_a_namespace_flag() {
        let sigchld = libc::SIGCHLD as u64;
        let thread = (libc::CLONE_VM
            | libc::CLONE_FS
            | libc::CLONE_FILES
            | libc::CLONE_SIGHAND
            | libc::CLONE_THREAD
            | libc::CLONE_SYSVSEM
            | libc::CLONE_SETTLS
            | libc::CLONE_PARENT_SETTID
            | libc::CLONE_CHILD_CLEARTID) as u64;
        assert_eq!(call(libc::SYS_clone, [sigchld, 0, 0, 0, 0, 0]), ALLOW);
        assert_eq!(call(libc::SYS_clone, [thread, 1, 2, 3, 4, 0]), ALLOW);
        for &(name, flag) in NAMESPACE_FLAGS {
            assert_eq!(
                call(libc::SYS_clone, [flag, 0, 0, 0, 0, 0]),
                EPERM,
                "{name}"
            );
            let mixed = flag | thread | sigchld | (0xdead << 32);
            assert_eq!(
                call(libc::SYS_clone, [mixed, 0, 0, 0, 0, 0]),
                EPERM,
                "{name}"
            );
        }
    }

    #[test]
    fn ioctl_is_refused_only_for_terminal_injection() {
        for &(name, request) in TERMINAL_INJECTION {
            assert_eq!(
                call(libc::SYS_ioctl, [0, request, 0, 0, 0, 0]),
                EPERM,
                "{name}"
            );
            // The kernel ignores the high half; so must the filter.
            let high = request | (1 << 32);
            assert_eq!(
                call(libc::SYS_ioctl, [0, high, 0, 0, 0, 0]),
                EPERM,
                "{name}"
            );
        }
        for request in [libc::TCGETS, libc::TIOCGWINSZ, libc::FIONREAD] {
            #[allow(clippy::unnecessary_cast)] // the type differs between glibc and musl
            let request = request as u64;
            assert_eq!(call(libc::SYS_ioctl, [0, request, 0, 0, 0, 0]), ALLOW);
        }
    }

    #[test]
    fn personality_allows_only_the_harmless_values() {
        for &(name, value) in HARMLESS_PERSONALITY {
            assert_eq!(
                call(libc::SYS_personality, [value, 0, 0, 0, 0, 0]),
                ALLOW,
                "{name}"
            );
        }
        // PER_LINUX32, READ_IMPLIES_EXEC, PER_BSD.
        for value in [0x0008, 0x0400_0000, 0x0006] {
            assert_eq!(call(libc::SYS_personality, [value, 0, 0, 0, 0, 0]), EPERM);
        }
    }

    #[test]
    fn foreign_architectures_are_killed() {
        const AUDIT_ARCH_I386: u32 = 0x4000_0003;
        let nr = libc::SYS_getpid as u32;
        assert_eq!(
            run(&program(), AUDIT_ARCH_I386, nr, [0; 6]),
            libc::SECCOMP_RET_KILL_PROCESS
        );
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn x32_calls_are_refused() {
        for nr in [libc::SYS_getpid, libc::SYS_mount, libc::SYS_clone3] {
            let x32 = nr as u32 | X32_SYSCALL_BIT;
            assert_eq!(run(&program(), AUDIT_ARCH, x32, [0; 6]), EPERM, "{nr}");
        }
    }

    #[test]
    fn chain_runs_the_second_program_where_the_first_allows() {
        let arch = target_arch().expect("supported arch");
        let first = compile(
            BTreeMap::from([(libc::SYS_mount, Vec::new())]),
            libc::EPERM,
            arch,
        )
        .expect("compiles");
        let second = compile(
            BTreeMap::from([(libc::SYS_getpid, Vec::new())]),
            libc::ENOSYS,
            arch,
        )
        .expect("compiles");
        let both = chain(first, second);
        let nr = |n: i64| n as u32;
        assert_eq!(run(&both, AUDIT_ARCH, nr(libc::SYS_mount), [0; 6]), EPERM);
        assert_eq!(run(&both, AUDIT_ARCH, nr(libc::SYS_getpid), [0; 6]), ENOSYS);
        assert_eq!(run(&both, AUDIT_ARCH, nr(libc::SYS_read), [0; 6]), ALLOW);
    }

    #[test]
    fn fd_holds_the_program_and_survives_exec() {
        let fd = agent_filter_fd().expect("memfd");
        // SAFETY: fcntl queries on a descriptor we own.
        let (fd_flags, seals) = unsafe {
            (
                libc::fcntl(fd.as_raw_fd(), libc::F_GETFD),
                libc::fcntl(fd.as_raw_fd(), libc::F_GET_SEALS),
            )
        };
        assert_eq!(
            fd_flags & libc::FD_CLOEXEC,
            0,
            "must be inherited across exec"
        );
        assert_ne!(seals & libc::F_SEAL_WRITE, 0, "must be sealed");
        let mut file = File::from(fd);
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).expect("read from offset 0");
        assert_eq!(bytes, agent_filter().expect("the filter compiles"));
        assert!(file.write_all(b"x").is_err(), "sealed against writes");
    }
}
