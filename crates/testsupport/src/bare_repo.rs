//! A seeded bare repository on disk, shared by the git servers of the test support
//! ([`git_server`](crate::git_server) over `git://`, [`git_http_server`](crate::git_http_server)
//! over smart HTTP): one commit on `main` holding a `README.md`, and what tests read back
//! (branches, a file at a branch, the commits of a branch).
//!
//! Why one module: both servers must serve the same seed and answer the same questions, so a
//! test can switch transport without changing what it asserts.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Identity used for the seed commit (and handy for tests that commit themselves).
pub const GIT_NAME: &str = "Axon Test";
/// Email used for the seed commit.
pub const GIT_EMAIL: &str = "axon-test@example.invalid";

/// Content of `README.md` in the seed commit.
pub const SEED_README: &str = "# test repo\n";

/// A commit on a branch of the served repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitCommit {
    /// Full object name.
    pub sha: String,
    /// First line of the message.
    pub subject: String,
    /// Author name.
    pub author: String,
}

/// A bare repository at a path (not removed on drop: the server owning its directory is).
#[derive(Debug, Clone)]
pub(crate) struct BareRepo {
    path: PathBuf,
}

impl BareRepo {
    /// Creates `parent/name` as a bare repository with the seed commit on `main`.
    pub(crate) fn create_seeded(parent: &Path, name: &str) -> io::Result<BareRepo> {
        std::fs::create_dir_all(parent)?;
        git(parent, &["init", "--quiet", "--bare", "-b", "main", name])?;
        let repo = BareRepo {
            path: parent.join(name),
        };
        seed(&repo.path)?;
        Ok(repo)
    }

    /// Path of the repository on disk.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `git ARGS` in the repository; returns stdout.
    pub(crate) fn git(&self, args: &[&str]) -> io::Result<String> {
        git(&self.path, args)
    }

    /// Branch names (without `refs/heads/`), sorted.
    pub(crate) fn branches(&self) -> Vec<String> {
        let out = self.git(&["for-each-ref", "--format=%(refname:short)", "refs/heads/"]);
        let mut branches: Vec<String> = out
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        branches.sort();
        branches
    }

    /// Content of `path` at the tip of `branch`, or `None` when either does not exist.
    pub(crate) fn file_at(&self, branch: &str, path: &str) -> Option<String> {
        self.git(&["show", &format!("refs/heads/{branch}:{path}")])
            .ok()
    }

    /// Commits reachable from `branch`, newest first (empty when the branch does not exist).
    pub(crate) fn commits(&self, branch: &str) -> Vec<GitCommit> {
        let out = self.git(&[
            "log",
            "--format=%H%x1f%an%x1f%s",
            &format!("refs/heads/{branch}"),
            "--",
        ]);
        out.unwrap_or_default()
            .lines()
            .filter_map(|line| {
                let mut parts = line.splitn(3, '\u{1f}');
                Some(GitCommit {
                    sha: parts.next()?.to_string(),
                    author: parts.next()?.to_string(),
                    subject: parts.next().unwrap_or_default().to_string(),
                })
            })
            .collect()
    }
}

/// Runs `git ARGS` in `dir` with a fixed identity and no user/system config; returns stdout.
pub(crate) fn git(dir: &Path, args: &[&str]) -> io::Result<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", GIT_NAME)
        .env("GIT_AUTHOR_EMAIL", GIT_EMAIL)
        .env("GIT_COMMITTER_NAME", GIT_NAME)
        .env("GIT_COMMITTER_EMAIL", GIT_EMAIL)
        .stdin(Stdio::null())
        .output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Writes the seed commit with plumbing, so no work tree is needed.
fn seed(repo: &Path) -> io::Result<()> {
    let blob_file = tempfile::NamedTempFile::new()?;
    std::fs::write(blob_file.path(), SEED_README)?;
    let path = blob_file.path().to_string_lossy().into_owned();
    let blob = git(repo, &["hash-object", "-w", &path])?;
    let tree_spec = format!("100644 blob {}\tREADME.md\n", blob.trim());
    let tree = git_stdin(repo, &["mktree"], &tree_spec)?;
    let commit = git(repo, &["commit-tree", tree.trim(), "-m", "Initial commit"])?;
    git(repo, &["update-ref", "refs/heads/main", commit.trim()])?;
    Ok(())
}

fn git_stdin(dir: &Path, args: &[&str], input: &str) -> io::Result<String> {
    use std::io::Write;
    let mut child = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
