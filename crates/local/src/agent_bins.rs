//! Where an agent CLI installed under the user's HOME lives, so the sandbox can bind it.
//!
//! Why: the sandbox hides the real `$HOME` behind an empty read-only mount, and a CLI installed
//! there — `npm -g` under nvm (`~/.nvm/versions/node/vX/bin/claude`), `npm -g --prefix ~/.local`,
//! a `~/.local/bin` symlink to a native build — disappears with it: the Task fails with
//! "`claude` not found" although `claude` works in the user's shell. `AXON_AGENT_BIN_DIR` is
//! the explicit way; this module is the default when it is not set: find the program on the
//! applying command's PATH, follow its symlink (npm's `bin/claude ->
//! ../lib/node_modules/@anthropic-ai/claude-code/cli.js`) and name the few directories that
//! must be bound read-only for it to run — the directory it was found in, its package's install
//! prefix, and the `node` interpreter's directory when it is a `#!/usr/bin/env node` script —
//! and nothing else of HOME.
//!
//! [`agent_bind_dirs`] decides from the PATH and a `resolve` function (the file system's
//! answer to "does this program exist, and where does it really live"), so it is tested on a
//! fake tree; [`resolve_executable`] is the real `resolve`.

use axon_api::AgentType;
use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// What to bind so an agent CLI found on the host PATH runs in the sandbox.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AgentBins {
    /// Directories to bind read-only (none inside another).
    pub dirs: Vec<PathBuf>,
    /// Directories to put first on the agent's PATH: where the program and its interpreter
    /// were found.
    pub path_prefix: Vec<PathBuf>,
}

/// The executable `axon agent run` starts for a built-in agent type.
pub fn program_for(agent: AgentType) -> &'static str {
    match agent {
        AgentType::ClaudeCode => "claude",
        AgentType::Codex => "codex",
        AgentType::Gemini => "gemini",
        AgentType::Opencode => "opencode",
    }
}

/// The real `resolve` for [`agent_bind_dirs`]: `path` with every symlink followed, when it is an
/// executable regular file.
pub fn resolve_executable(path: &Path) -> Option<PathBuf> {
    let real = std::fs::canonicalize(path).ok()?;
    let meta = std::fs::metadata(&real).ok()?;
    (meta.is_file() && meta.permissions().mode() & 0o111 != 0).then_some(real)
}

/// Find `program` on `path_var` (a `PATH` value) and name what to bind for it to run in the
/// sandbox; `None` when it is not on the PATH. `resolve` answers for a candidate file: its real
/// path (symlinks followed) when it is an executable, else `None`. The script's first line is
/// read from the resolved file to see whether it needs `node`.
pub fn agent_bind_dirs(
    program: &str,
    path_var: &str,
    resolve: impl Fn(&Path) -> Option<PathBuf>,
) -> Option<AgentBins> {
    agent_bind_dirs_with(program, path_var, resolve, read_head)
}

/// [`agent_bind_dirs`] with the reader of a file's first bytes as a parameter too.
pub fn agent_bind_dirs_with(
    program: &str,
    path_var: &str,
    resolve: impl Fn(&Path) -> Option<PathBuf>,
    head: impl Fn(&Path) -> Option<Vec<u8>>,
) -> Option<AgentBins> {
    let (bin_dir, real) = find(program, path_var, &resolve)?;
    let mut bins = AgentBins::default();
    bins.dirs.push(bin_dir.clone());
    bins.path_prefix.push(bin_dir);
    bins.dirs.push(install_root(&real));
    match head(&real).as_deref().and_then(interpreter) {
        Some(Interpreter::Env(name)) => {
            if let Some((dir, real_node)) = find(&name, path_var, &resolve) {
                bins.dirs.push(dir.clone());
                if let Some(parent) = real_node.parent() {
                    bins.dirs.push(parent.to_path_buf());
                }
                bins.path_prefix.push(dir);
            }
        }
        Some(Interpreter::Path(p)) => {
            if let Some(real_interp) = resolve(&p)
                && let Some(parent) = real_interp.parent()
            {
                bins.dirs.push(parent.to_path_buf());
            }
        }
        None => {}
    }
    bins.dirs = outermost(bins.dirs);
    bins.path_prefix = dedup(bins.path_prefix);
    Some(bins)
}

/// The first PATH directory holding `program`, and the program's real path.
fn find(
    program: &str,
    path_var: &str,
    resolve: &impl Fn(&Path) -> Option<PathBuf>,
) -> Option<(PathBuf, PathBuf)> {
    if program.is_empty() || program.contains('/') {
        return None;
    }
    path_var
        .split(':')
        .map(Path::new)
        // Empty and relative entries depend on the applying command's directory: skip them.
        .filter(|d| d.is_absolute())
        .find_map(|dir| resolve(&dir.join(program)).map(|real| (dir.to_path_buf(), real)))
}

/// What holds the program's package: the nvm version directory (`.../versions/node/vX`, which
/// also holds `bin/node`), else the outermost `node_modules` above it (npm's
/// `PREFIX/lib/node_modules`), else the directory of the file itself (a native build).
fn install_root(real: &Path) -> PathBuf {
    let node_modules = real
        .ancestors()
        .filter(|a| a.file_name() == Some(OsStr::new("node_modules")))
        .last();
    if let Some(nm) = node_modules {
        let lib = nm
            .parent()
            .filter(|l| l.file_name() == Some(OsStr::new("lib")));
        let version = lib.and_then(Path::parent);
        let is_nvm = version
            .and_then(Path::parent)
            .filter(|n| n.file_name() == Some(OsStr::new("node")))
            .and_then(Path::parent)
            .is_some_and(|v| v.file_name() == Some(OsStr::new("versions")));
        return match version {
            Some(v) if is_nvm => v.to_path_buf(),
            _ => nm.to_path_buf(),
        };
    }
    real.parent().map(Path::to_path_buf).unwrap_or_default()
}

#[derive(Debug, PartialEq, Eq)]
enum Interpreter {
    /// `#!/usr/bin/env NAME`: found on the PATH.
    Env(String),
    /// `#!/ABSOLUTE/PATH`.
    Path(PathBuf),
}

/// The interpreter a script's shebang names, when it is `node` through `env` or an absolute
/// path outside the system directories (those stay visible in the sandbox).
fn interpreter(head: &[u8]) -> Option<Interpreter> {
    let line = head.strip_prefix(b"#!")?;
    let line = line.split(|b| *b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut words = line.split_whitespace();
    let first = words.next()?;
    if Path::new(first).file_name() == Some(OsStr::new("env")) {
        let name = words.find(|w| !w.starts_with('-'))?;
        return (name == "node").then(|| Interpreter::Env(name.to_string()));
    }
    let p = PathBuf::from(first);
    let system = ["/usr/", "/bin/", "/sbin/", "/lib"]
        .iter()
        .any(|s| first.starts_with(s));
    (p.is_absolute() && !system).then_some(Interpreter::Path(p))
}

/// The first bytes of a file (enough for a shebang line).
fn read_head(path: &Path) -> Option<Vec<u8>> {
    let mut buf = vec![0; 256];
    let n = std::fs::File::open(path).ok()?.read(&mut buf).ok()?;
    buf.truncate(n);
    Some(buf)
}

/// The directories, without duplicates and without those inside another one, in order.
fn outermost(dirs: Vec<PathBuf>) -> Vec<PathBuf> {
    let dirs = dedup(dirs);
    dirs.iter()
        .filter(|d| {
            !dirs
                .iter()
                .any(|other| other != *d && d.starts_with(other) && !other.as_os_str().is_empty())
        })
        .filter(|d| !d.as_os_str().is_empty())
        .cloned()
        .collect()
}

fn dedup(items: Vec<PathBuf>) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for i in items {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn exe(path: &Path, content: &str) {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, content).expect("write");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }

    fn link(target: &str, at: &Path) {
        std::fs::create_dir_all(at.parent().expect("parent")).expect("mkdir");
        symlink(target, at).expect("symlink");
    }

    fn real(dir: &tempfile::TempDir) -> PathBuf {
        std::fs::canonicalize(dir.path()).expect("canonical tempdir")
    }

    const NODE_SCRIPT: &str = "#!/usr/bin/env node\nconsole.log('hi')\n";

    #[test]
    fn nvm_layout_binds_the_version_directory() {
        let tmp = tempfile::tempdir().expect("tmp");
        let home = real(&tmp);
        let v = home.join(".nvm/versions/node/v20.11.0");
        exe(&v.join("bin/node"), "\x7fELF");
        exe(
            &v.join("lib/node_modules/@anthropic-ai/claude-code/cli.js"),
            NODE_SCRIPT,
        );
        link(
            "../lib/node_modules/@anthropic-ai/claude-code/cli.js",
            &v.join("bin/claude"),
        );
        let path = format!("{}:/usr/bin:/bin", v.join("bin").display());
        let bins = agent_bind_dirs("claude", &path, resolve_executable).expect("found");
        assert_eq!(bins.dirs, vec![v.clone()]);
        assert_eq!(bins.path_prefix, vec![v.join("bin")]);
    }

    #[test]
    fn npm_prefix_under_local_binds_bin_and_node_modules_and_node() {
        let tmp = tempfile::tempdir().expect("tmp");
        let home = real(&tmp);
        let local = home.join(".local");
        exe(
            &local.join("lib/node_modules/@google/gemini-cli/dist/index.js"),
            "#!/usr/bin/env -S node --no-warnings\n",
        );
        link(
            "../lib/node_modules/@google/gemini-cli/dist/index.js",
            &local.join("bin/gemini"),
        );
        // node from another install under HOME (say, a tarball in ~/opt), on the same PATH.
        let node_dir = home.join("opt/node-v22/bin");
        exe(&node_dir.join("node"), "\x7fELF");
        let path = format!(
            "relative/bin::{}:{}:/usr/bin",
            local.join("bin").display(),
            node_dir.display()
        );
        let bins = agent_bind_dirs("gemini", &path, resolve_executable).expect("found");
        assert_eq!(
            bins.dirs,
            vec![
                local.join("bin"),
                local.join("lib/node_modules"),
                node_dir.clone()
            ]
        );
        assert_eq!(bins.path_prefix, vec![local.join("bin"), node_dir]);
    }

    #[test]
    fn local_bin_symlink_to_a_native_build() {
        let tmp = tempfile::tempdir().expect("tmp");
        let home = real(&tmp);
        let versions = home.join(".local/share/claude/versions");
        exe(&versions.join("2.0.1"), "\x7fELF\x02\x01");
        link(
            &versions.join("2.0.1").display().to_string(),
            &home.join(".local/bin/claude"),
        );
        let path = format!("{}:/usr/bin", home.join(".local/bin").display());
        let bins = agent_bind_dirs("claude", &path, resolve_executable).expect("found");
        assert_eq!(bins.dirs, vec![home.join(".local/bin"), versions]);
        assert_eq!(bins.path_prefix, vec![home.join(".local/bin")]);
    }

    #[test]
    fn node_script_without_node_on_path_binds_the_package_only() {
        let tmp = tempfile::tempdir().expect("tmp");
        let home = real(&tmp);
        let prefix = home.join(".npm-global");
        exe(
            &prefix.join("lib/node_modules/@openai/codex/bin/codex.js"),
            NODE_SCRIPT,
        );
        link(
            "../lib/node_modules/@openai/codex/bin/codex.js",
            &prefix.join("bin/codex"),
        );
        let path = prefix.join("bin").display().to_string();
        let bins = agent_bind_dirs("codex", &path, resolve_executable).expect("found");
        assert_eq!(
            bins.dirs,
            vec![prefix.join("bin"), prefix.join("lib/node_modules")]
        );
    }

    #[test]
    fn first_match_on_path_wins_and_missing_is_none() {
        let tmp = tempfile::tempdir().expect("tmp");
        let home = real(&tmp);
        exe(&home.join("a/opencode"), "\x7fELF");
        exe(&home.join("b/opencode"), "\x7fELF");
        let path = format!("{}:{}", home.join("a").display(), home.join("b").display());
        let bins = agent_bind_dirs("opencode", &path, resolve_executable).expect("found");
        assert_eq!(bins.dirs, vec![home.join("a")]);
        assert_eq!(agent_bind_dirs("claude", &path, resolve_executable), None);
        // Not executable: not found.
        std::fs::create_dir_all(home.join("c")).expect("mkdir");
        std::fs::write(home.join("c/claude"), "#!/bin/sh\n").expect("write");
        let path = home.join("c").display().to_string();
        assert_eq!(agent_bind_dirs("claude", &path, resolve_executable), None);
        assert_eq!(
            agent_bind_dirs("../claude", &path, resolve_executable),
            None
        );
    }

    #[test]
    fn shebangs() {
        assert_eq!(
            interpreter(b"#!/usr/bin/env node\n"),
            Some(Interpreter::Env("node".into()))
        );
        assert_eq!(
            interpreter(b"#!/usr/bin/env -S node --flag\n"),
            Some(Interpreter::Env("node".into()))
        );
        assert_eq!(interpreter(b"#!/usr/bin/env python3\n"), None);
        assert_eq!(interpreter(b"#!/bin/sh\n"), None);
        assert_eq!(
            interpreter(b"#!/home/u/.volta/bin/node\n"),
            Some(Interpreter::Path("/home/u/.volta/bin/node".into()))
        );
        assert_eq!(interpreter(b"\x7fELF"), None);
    }

    #[test]
    fn program_per_agent_type() {
        let names: Vec<&str> = AgentType::ALL.into_iter().map(program_for).collect();
        assert_eq!(names, ["claude", "codex", "gemini", "opencode"]);
    }
}
