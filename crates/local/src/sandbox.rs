//! Rendering a Task's sandbox: two nested bubblewrap instances (or, with `--sandbox none`, the
//! bare command).
//!
//! * The **outer** bubblewrap runs as the caller (root included) and only builds the view: host
//!   root read-only; the work tree, a private HOME and a private /tmp writable; the user's real
//!   HOME and AXON_HOME (other Tasks, secrets, the store) hidden under read-only empty tmpfs; the
//!   few paths the agent needs bound back read-only (the `axon` binary, a custom entrypoint,
//!   the agent CLIs, the Task's config and credential directories, the mirror's objects). It
//!   owns the PID namespace (so everything the agent starts dies with it) and a new session.
//! * The **inner** bubblewrap confines the agent: a user namespace (no capability of the agent
//!   is worth anything over the host), all capabilities dropped, no new privileges, no further
//!   user namespaces, and the seccomp filter of [`crate::seccomp`]. When the caller is root,
//!   `axon __local drop` first becomes an unprivileged uid, so the agent is nobody outside:
//!   bubblewrap as root would otherwise map the agent onto root. Two layers because the
//!   unprivileged inner one could not reach paths under root-only directories, and the
//!   privileged outer one must not be what the agent runs in.
//!
//! Directories bubblewrap creates for mount points may be closed to others (0700); the renderer
//! creates those under a hidden directory or the private /tmp itself (0755), so the dropped uid
//! can traverse them. The private /tmp is bound first: whatever lives under the host's /tmp
//! (the `axon` binary of a checkout there, a custom agent, the agent CLIs, AXON_HOME) is
//! bound back over it.

use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// How agents are isolated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SandboxMode {
    /// bubblewrap (the default).
    #[default]
    Bubblewrap,
    /// No isolation at all (explicit, warned about): the agent sees the whole machine.
    None,
}

impl std::str::FromStr for SandboxMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "bubblewrap" | "bwrap" => Ok(SandboxMode::Bubblewrap),
            "none" => Ok(SandboxMode::None),
            other => Err(format!(
                "unknown sandbox {other:?}: expected bubblewrap or none"
            )),
        }
    }
}

/// The network an agent in the bubblewrap sandbox sees.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SandboxNetwork {
    /// The host's network (`spec.network.mode: open`).
    #[default]
    Shared,
    /// A network namespace of its own (`bwrap --unshare-net`): only a loopback interface,
    /// which bubblewrap brings up. Whatever the agent may reach (the gateway) comes in as a
    /// Unix socket bound into the sandbox.
    Isolated,
}

/// The warning printed when a Task runs without a sandbox.
pub const NO_SANDBOX_WARNING: &str = "warning: --sandbox none: the agent runs without isolation and can read and change everything your user can (your home directory, ssh keys, cloud credentials)";

/// The uid and gid agents run as when the caller is root (`nobody`).
pub const SANDBOX_UID: u32 = 65534;
/// See [`SANDBOX_UID`].
pub const SANDBOX_GID: u32 = 65534;

/// Everything the sandbox is made of.
#[derive(Clone, Debug, PartialEq)]
pub struct SandboxSpec {
    /// The work tree (current directory, writable).
    pub work: PathBuf,
    /// Writable directories bound at their own path (private HOME).
    pub writable: Vec<PathBuf>,
    /// Directory bound onto /tmp.
    pub tmp: PathBuf,
    /// Paths bound back read-only at their own path (files or directories).
    pub read_only: Vec<PathBuf>,
    /// Directories hidden behind an empty read-only tmpfs.
    pub hidden: Vec<PathBuf>,
    /// The command and its arguments.
    pub command: Vec<String>,
    /// Become this uid and gid before entering the user namespace (a root caller).
    pub drop_to: Option<(u32, u32)>,
    /// The binary whose `__local drop` subcommand drops privileges (the `axon` binary).
    pub dropper: PathBuf,
    /// An inherited descriptor holding the seccomp program (`bwrap --seccomp`).
    pub seccomp_fd: Option<i32>,
    /// The host's network, or a namespace with only loopback (the outer bubblewrap makes it,
    /// so the agent's user namespace cannot undo it).
    pub network: SandboxNetwork,
}

/// Program and arguments for `mode`.
pub fn render(spec: &SandboxSpec, mode: SandboxMode, bwrap: &Path) -> (PathBuf, Vec<OsString>) {
    let mut cmd = spec.command.iter().map(OsString::from);
    if mode == SandboxMode::None {
        let program = cmd.next().map(PathBuf::from).unwrap_or_default();
        return (program, cmd.collect());
    }
    let mut a: Vec<OsString> = Vec::new();
    let mut push = |parts: &[&std::ffi::OsStr]| a.extend(parts.iter().map(|p| p.to_os_string()));
    push(&["--ro-bind".as_ref(), "/".as_ref(), "/".as_ref()]);
    push(&["--dev".as_ref(), "/dev".as_ref()]);
    push(&["--proc".as_ref(), "/proc".as_ref()]);
    push(&["--bind".as_ref(), spec.tmp.as_os_str(), "/tmp".as_ref()]);
    let mut hidden: Vec<&PathBuf> = spec
        .hidden
        .iter()
        .filter(|h| h.as_os_str() != "/" && h.as_path() != Path::new("/tmp"))
        .collect();
    hidden.sort();
    hidden.dedup();
    // Mount points are created inside the hidden directories and the private /tmp (never on
    // the host's read-only root): made 0755 by the renderer, so the dropped uid can reach them.
    let tmp = PathBuf::from("/tmp");
    let roots: Vec<&PathBuf> = hidden.iter().copied().chain([&tmp]).collect();
    for h in &hidden {
        // A hidden directory inside another: its mount point must be traversable too.
        for dir in mount_point_parents(&[h], &roots) {
            push(&[
                "--perms".as_ref(),
                "0755".as_ref(),
                "--dir".as_ref(),
                dir.as_os_str(),
            ]);
        }
        push(&[
            "--perms".as_ref(),
            "0755".as_ref(),
            "--tmpfs".as_ref(),
            h.as_os_str(),
        ]);
    }
    let binds: Vec<&PathBuf> = std::iter::once(&spec.work)
        .chain(&spec.writable)
        .chain(&spec.read_only)
        .collect();
    for dir in mount_point_parents(&binds, &roots) {
        push(&[
            "--perms".as_ref(),
            "0755".as_ref(),
            "--dir".as_ref(),
            dir.as_os_str(),
        ]);
    }
    for w in std::iter::once(&spec.work).chain(&spec.writable) {
        push(&["--bind".as_ref(), w.as_os_str(), w.as_os_str()]);
    }
    for r in &spec.read_only {
        push(&["--ro-bind".as_ref(), r.as_os_str(), r.as_os_str()]);
    }
    for h in &hidden {
        push(&["--remount-ro".as_ref(), h.as_os_str()]);
    }
    push(&[
        "--unshare-pid".as_ref(),
        "--unshare-ipc".as_ref(),
        "--unshare-uts".as_ref(),
    ]);
    if spec.network == SandboxNetwork::Isolated {
        push(&["--unshare-net".as_ref()]);
    }
    push(&[
        "--die-with-parent".as_ref(),
        "--new-session".as_ref(),
        "--".as_ref(),
    ]);
    if let Some((uid, gid)) = spec.drop_to {
        a.push(spec.dropper.clone().into_os_string());
        for part in ["__local", "drop", "--uid"] {
            a.push(part.into());
        }
        a.push(uid.to_string().into());
        a.push("--gid".into());
        a.push(gid.to_string().into());
        a.push("--".into());
    }
    a.push(bwrap.as_os_str().to_os_string());
    for part in [
        "--unshare-user",
        "--disable-userns",
        "--cap-drop",
        "ALL",
        "--die-with-parent",
        "--new-session",
    ] {
        a.push(part.into());
    }
    if let Some(fd) = spec.seccomp_fd {
        a.push("--seccomp".into());
        a.push(fd.to_string().into());
    }
    a.push("--bind".into());
    a.push("/".into());
    a.push("/".into());
    // Device nodes of the outer /dev cannot be opened from a user namespace: a fresh one.
    a.push("--dev".into());
    a.push("/dev".into());
    a.push("--chdir".into());
    a.push(spec.work.clone().into_os_string());
    a.push("--".into());
    a.extend(cmd);
    (bwrap.to_path_buf(), a)
}

/// Directories between a hidden directory and a bind's mount point, parents first: created
/// 0755 so an unprivileged agent can reach its mounts.
fn mount_point_parents(binds: &[&PathBuf], hidden: &[&PathBuf]) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    for b in binds {
        let Some(root) = hidden
            .iter()
            .filter(|h| b.starts_with(h) && b.as_path() != h.as_path())
            .max_by_key(|h| h.as_os_str().len())
        else {
            continue;
        };
        let mut ancestors: Vec<PathBuf> = b
            .ancestors()
            .skip(1)
            .take_while(|a| a.starts_with(root) && *a != root.as_path())
            .map(Path::to_path_buf)
            .collect();
        ancestors.reverse();
        dirs.extend(ancestors);
    }
    dirs.sort_by_key(|d| d.components().count());
    let mut seen = std::collections::BTreeSet::new();
    dirs.retain(|d| seen.insert(d.clone()));
    dirs
}

/// Ancestors of `paths` an unprivileged `uid` could not traverse (no execute bit for others,
/// not owned by it): hidden behind a tmpfs too, so the mount points under them are reachable.
pub fn untraversable_ancestors(paths: &[PathBuf], uid: u32) -> Vec<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let mut out: Vec<PathBuf> = Vec::new();
    for p in paths {
        for a in p.ancestors().skip(1) {
            if a == Path::new("/") {
                continue;
            }
            if let Ok(m) = std::fs::metadata(a)
                && m.mode() & 0o001 == 0
                && m.uid() != uid
                && !out.iter().any(|o| a.starts_with(o))
            {
                out.retain(|o| !o.starts_with(a));
                out.push(a.to_path_buf());
            }
        }
    }
    out
}

/// Find `bwrap` on PATH.
pub fn find_bwrap() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("bwrap"))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bubblewrap_command_snapshot() {
        let spec = SandboxSpec {
            work: "/h/.axon/tasks/u/work".into(),
            writable: vec!["/h/.axon/tasks/u/home".into()],
            tmp: "/h/.axon/tasks/u/tmp".into(),
            read_only: vec![
                "/usr/bin/axon".into(),
                "/h/.axon/tasks/u/config".into(),
                "/h/.axon/cache/git/k.git/objects".into(),
            ],
            hidden: vec!["/h".into(), "/h/.axon".into(), "/".into()],
            drop_to: Some((SANDBOX_UID, SANDBOX_GID)),
            dropper: "/usr/bin/axon".into(),
            seccomp_fd: Some(5),
            network: SandboxNetwork::Shared,
            command: vec![
                "/usr/bin/axon".into(),
                "agent".into(),
                "run".into(),
                "Fix it".into(),
            ],
        };
        let (p, args) = render(&spec, SandboxMode::Bubblewrap, Path::new("/usr/bin/bwrap"));
        assert_eq!(p, Path::new("/usr/bin/bwrap"));
        let line: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().to_string())
            .collect();
        insta::assert_snapshot!(line.join(" "));
        let (p, args) = render(&spec, SandboxMode::None, Path::new("/usr/bin/bwrap"));
        assert_eq!(p, Path::new("/usr/bin/axon"));
        assert_eq!(args.len(), 3);
        assert!(!line.contains(&"--unshare-net".to_string()));
        // An isolated network: the outer bubblewrap (before the privilege drop and the inner
        // one) makes the namespace; nothing else changes.
        let isolated = SandboxSpec {
            network: SandboxNetwork::Isolated,
            ..spec.clone()
        };
        let (_, args) = render(
            &isolated,
            SandboxMode::Bubblewrap,
            Path::new("/usr/bin/bwrap"),
        );
        let iso: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().to_string())
            .collect();
        let at = |what: &str| iso.iter().position(|a| a == what);
        let net = at("--unshare-net").expect("--unshare-net");
        assert!(net < at("__local").expect("drop"), "{iso:?}");
        assert_eq!(iso.iter().filter(|a| *a == "--unshare-net").count(), 1);
        let mut without = iso.clone();
        without.remove(net);
        assert_eq!(without, line);
    }

    #[test]
    fn mount_points_under_hidden_directories_are_made_traversable() {
        let (home, axon) = (PathBuf::from("/h"), PathBuf::from("/h/.axon"));
        let work = PathBuf::from("/h/.axon/tasks/u/work");
        let bin = PathBuf::from("/h/.cargo/bin/axon");
        let usr = PathBuf::from("/usr/bin/git");
        let dirs = mount_point_parents(&[&work, &bin, &usr], &[&home, &axon]);
        let want: Vec<PathBuf> = [
            "/h/.cargo",
            "/h/.axon/tasks",
            "/h/.cargo/bin",
            "/h/.axon/tasks/u",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        assert_eq!(dirs, want);
    }

    /// A checkout and AXON_HOME under /tmp (as a new user might have): the private /tmp is
    /// bound first, then the hidden AXON_HOME and the binds under /tmp over it, their mount
    /// points' parents made 0755 so the dropped uid reaches the `axon` binary.
    #[test]
    fn paths_under_tmp_are_bound_back_over_the_private_tmp() {
        let spec = SandboxSpec {
            work: "/tmp/ah/tasks/u/work".into(),
            writable: vec!["/tmp/ah/tasks/u/home".into()],
            tmp: "/tmp/ah/tasks/u/tmp".into(),
            read_only: vec!["/tmp/co/target/debug/axon".into()],
            hidden: vec!["/tmp/ah".into()],
            drop_to: Some((SANDBOX_UID, SANDBOX_GID)),
            dropper: "/tmp/co/target/debug/axon".into(),
            seccomp_fd: None,
            network: SandboxNetwork::Shared,
            command: vec!["/tmp/co/target/debug/axon".into()],
        };
        let (_, args) = render(&spec, SandboxMode::Bubblewrap, Path::new("/usr/bin/bwrap"));
        let line: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().to_string())
            .collect();
        let line = line.join(" ");
        let at = |s: &str| line.find(s).unwrap_or_else(|| panic!("{s:?} in {line}"));
        let order = [
            "--bind /tmp/ah/tasks/u/tmp /tmp ",
            "--perms 0755 --tmpfs /tmp/ah ",
            "--perms 0755 --dir /tmp/co ",
            "--perms 0755 --dir /tmp/co/target ",
            "--perms 0755 --dir /tmp/co/target/debug ",
            "--bind /tmp/ah/tasks/u/work /tmp/ah/tasks/u/work ",
            "--ro-bind /tmp/co/target/debug/axon /tmp/co/target/debug/axon ",
            "--remount-ro /tmp/ah ",
        ];
        let found: Vec<usize> = order.iter().map(|s| at(s)).collect();
        assert!(found.windows(2).all(|w| w[0] < w[1]), "{line}");
        assert!(at("--perms 0755 --dir /tmp/ah/tasks/u ") < at("--bind /tmp/ah/tasks/u/work "));
    }

    #[test]
    fn untraversable_ancestors_are_found() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().expect("tmp");
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        let closed = tmp.path().join("closed");
        let inner = closed.join("a/b");
        std::fs::create_dir_all(&inner).expect("mkdir");
        std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        let found = untraversable_ancestors(&[inner.join("file")], 4_000_000);
        assert!(found.contains(&closed), "{found:?}");
        assert!(!found.iter().any(|f| f.starts_with(&inner)), "{found:?}");
    }
}
