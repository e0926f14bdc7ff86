//! Rendering a Task's sandbox: the bubblewrap command line (or, with `--sandbox none`, the bare
//! command). Host root read-only; the work tree, a private HOME, a private /tmp and the results
//! directory writable; the user's real HOME and AXON_HOME (other Tasks, secrets, the store)
//! hidden under read-only empty tmpfs; own PID namespace and session; dies with its
//! supervisor; network shared so 127.0.0.1 works. Paths the agent needs that a hidden
//! directory would swallow (the axon binary, a custom entrypoint, the agent CLIs' directory,
//! the Task's config and credential directories) are bound back read-only.

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

/// The warning printed when a Task runs without a sandbox.
pub const NO_SANDBOX_WARNING: &str = "warning: --sandbox none: the agent runs without isolation and can read and change everything your user can (your home directory, ssh keys, cloud credentials)";

/// Everything the sandbox is made of.
#[derive(Clone, Debug, PartialEq)]
pub struct SandboxSpec {
    /// The work tree (current directory, writable).
    pub work: PathBuf,
    /// Writable directories bound at their own path (private HOME, results directory).
    pub writable: Vec<PathBuf>,
    /// Directory bound onto /tmp.
    pub tmp: PathBuf,
    /// Paths bound back read-only at their own path (files or directories).
    pub read_only: Vec<PathBuf>,
    /// Directories hidden behind an empty read-only tmpfs.
    pub hidden: Vec<PathBuf>,
    /// The command and its arguments.
    pub command: Vec<String>,
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
    let hidden: Vec<&PathBuf> = spec
        .hidden
        .iter()
        .filter(|h| h.as_os_str() != "/" && h.as_path() != Path::new("/tmp"))
        .collect();
    for h in &hidden {
        push(&["--tmpfs".as_ref(), h.as_os_str()]);
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
        "--die-with-parent".as_ref(),
        "--new-session".as_ref(),
        "--chdir".as_ref(),
        spec.work.as_os_str(),
        "--".as_ref(),
    ]);
    a.extend(cmd);
    (bwrap.to_path_buf(), a)
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
            writable: vec![
                "/h/.axon/tasks/u/home".into(),
                "/h/.axon/tasks/u/out".into(),
            ],
            tmp: "/h/.axon/tasks/u/tmp".into(),
            read_only: vec!["/usr/bin/axon".into(), "/h/.axon/tasks/u/config".into()],
            hidden: vec!["/h".into(), "/h/.axon".into(), "/".into()],
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
    }
}
