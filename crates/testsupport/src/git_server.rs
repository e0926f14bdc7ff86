//! A throwaway git remote for end-to-end tests: a bare repository `repo.git`, seeded with one
//! commit on `main` (a `README.md`), served read-write by `git daemon` on 127.0.0.1.
//!
//! Why: the agent CLIs must really `git push`, and Axon must really clone; a `git://` URL on
//! loopback is the cheapest honest remote (no auth, no TLS, no internet). The daemon is killed
//! when the [`GitServer`] is dropped, and each connection is bounded by `--timeout`.
//!
//! ```no_run
//! let git = axon_testsupport::git_server::GitServer::start().expect("git daemon");
//! // clone git.url(), push a branch, then:
//! assert!(git.branches().contains(&"main".to_string()));
//! assert_eq!(git.file_at("main", "README.md").as_deref(), Some("# test repo\n"));
//! ```

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Identity used for the seed commit (and handy for tests that commit themselves).
pub const GIT_NAME: &str = "Axon Test";
/// Email used for the seed commit.
pub const GIT_EMAIL: &str = "axon-test@example.invalid";

/// Content of `README.md` in the seed commit.
pub const SEED_README: &str = "# test repo\n";

/// How long the daemon may take to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(15);

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

/// A bare repository served by `git daemon` on 127.0.0.1; the daemon stops on drop.
#[derive(Debug)]
pub struct GitServer {
    dir: tempfile::TempDir,
    port: u16,
    child: Child,
}

impl GitServer {
    /// Creates the seeded bare repository and starts `git daemon` on a free loopback port.
    pub fn start() -> io::Result<GitServer> {
        let dir = tempfile::Builder::new().prefix("axon-git-").tempdir()?;
        let repo = dir.path().join("repo.git");
        git(
            dir.path(),
            &["init", "--quiet", "--bare", "-b", "main", "repo.git"],
        )?;
        seed(&repo)?;
        // The port is chosen by binding :0 and releasing it; another process could take it in
        // between, so retry a few times when the daemon dies on startup.
        let daemon = daemon_program()?;
        let mut last_err = io::Error::other("git daemon did not start");
        for _ in 0..5 {
            let port = free_port()?;
            let mut child = Command::new(&daemon)
                .arg("--export-all")
                .arg("--enable=receive-pack")
                .arg("--reuseaddr")
                .arg("--listen=127.0.0.1")
                .arg(format!("--port={port}"))
                .arg(format!("--base-path={}", dir.path().display()))
                .arg("--init-timeout=10")
                .arg("--timeout=120")
                .arg(dir.path())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?;
            match wait_ready(&mut child, port) {
                Ok(()) => return Ok(GitServer { dir, port, child }),
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    last_err = e;
                }
            }
        }
        Err(last_err)
    }

    /// `git://127.0.0.1:PORT/repo.git`
    pub fn url(&self) -> String {
        format!("git://127.0.0.1:{}/repo.git", self.port)
    }

    /// `file:///…/repo.git`, for clones that should not go through the daemon.
    pub fn file_url(&self) -> String {
        format!("file://{}", self.repo_path().display())
    }

    /// Path of the bare repository on disk.
    pub fn repo_path(&self) -> PathBuf {
        self.dir.path().join("repo.git")
    }

    /// The daemon's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Branch names (without `refs/heads/`), sorted.
    pub fn branches(&self) -> Vec<String> {
        let out = self.git_out(&["for-each-ref", "--format=%(refname:short)", "refs/heads/"]);
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
    pub fn file_at(&self, branch: &str, path: &str) -> Option<String> {
        self.git_out(&["show", &format!("refs/heads/{branch}:{path}")])
            .ok()
    }

    /// Commits reachable from `branch`, newest first (empty when the branch does not exist).
    pub fn commits(&self, branch: &str) -> Vec<GitCommit> {
        let out = self.git_out(&[
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

    fn git_out(&self, args: &[&str]) -> io::Result<String> {
        git(&self.repo_path(), args)
    }
}

impl Drop for GitServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `git ARGS` in `dir` with a fixed identity and no user/system config; returns stdout.
fn git(dir: &Path, args: &[&str]) -> io::Result<String> {
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

/// `$(git --exec-path)/git-daemon`: run directly, because `git daemon` runs it as a child
/// process that killing `git` would leave behind.
fn daemon_program() -> io::Result<PathBuf> {
    let exec_path = git(Path::new("."), &["--exec-path"])?;
    let daemon = PathBuf::from(exec_path.trim()).join("git-daemon");
    if daemon.exists() {
        Ok(daemon)
    } else {
        Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("git-daemon not found at {}", daemon.display()),
        ))
    }
}

fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Polls until the daemon accepts a connection, it exits, or [`READY_TIMEOUT`] passes.
fn wait_ready(child: &mut Child, port: u16) -> io::Result<()> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            return Err(io::Error::other(format!(
                "git daemon exited during startup: {status}"
            )));
        }
        if Instant::now() >= deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "git daemon did not accept connections in time",
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
