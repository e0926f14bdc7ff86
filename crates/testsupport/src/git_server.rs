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

use crate::bare_repo::{BareRepo, git};
pub use crate::bare_repo::{GIT_EMAIL, GIT_NAME, GitCommit, SEED_README};

/// How long the daemon may take to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// A bare repository served by `git daemon` on 127.0.0.1; the daemon stops on drop.
#[derive(Debug)]
pub struct GitServer {
    /// Holds the repository; removed on drop.
    _dir: tempfile::TempDir,
    repo: BareRepo,
    port: u16,
    child: Child,
}

impl GitServer {
    /// Creates the seeded bare repository and starts `git daemon` on a free loopback port.
    pub fn start() -> io::Result<GitServer> {
        let dir = tempfile::Builder::new().prefix("axon-git-").tempdir()?;
        let repo = BareRepo::create_seeded(dir.path(), "repo.git")?;
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
                Ok(()) => {
                    return Ok(GitServer {
                        _dir: dir,
                        repo,
                        port,
                        child,
                    });
                }
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
        self.repo.path().to_path_buf()
    }

    /// The daemon's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Branch names (without `refs/heads/`), sorted.
    pub fn branches(&self) -> Vec<String> {
        self.repo.branches()
    }

    /// Content of `path` at the tip of `branch`, or `None` when either does not exist.
    pub fn file_at(&self, branch: &str, path: &str) -> Option<String> {
        self.repo.file_at(branch, path)
    }

    /// Commits reachable from `branch`, newest first (empty when the branch does not exist).
    pub fn commits(&self, branch: &str) -> Vec<GitCommit> {
        self.repo.commits(branch)
    }
}

impl Drop for GitServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
