//! A real Kubernetes control plane for tests: `../shared/kube/up.sh DIR` starts etcd,
//! kube-apiserver and kube-controller-manager on 127.0.0.1 (free ports, so several test
//! binaries may each run their own at once) and [`ControlPlane`] always stops them again
//! (`up.sh --down DIR` when dropped, on success and panic alike).
//!
//! Shared by every test binary that needs one (`crates/kube/tests/real_apiserver.rs`, the
//! backend conformance suite in `crates/cli/tests/conformance.rs`), so that finding `up.sh`,
//! skipping without it and stopping it are written once.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The control plane `up.sh DIR` started; dropping it runs `up.sh --down DIR`.
pub struct ControlPlane {
    up: PathBuf,
    dir: tempfile::TempDir,
}

impl ControlPlane {
    /// Start one with `up` (an `up.sh`); panics with its output when it cannot start.
    pub fn start(up: &Path) -> ControlPlane {
        let dir = tempfile::Builder::new()
            .prefix("axon-kube-")
            .tempdir()
            .expect("temp dir");
        let plane = ControlPlane {
            up: up.to_path_buf(),
            dir,
        };
        let out = Command::new("bash")
            .arg(up)
            .arg(plane.dir.path())
            .stdin(Stdio::null())
            .output()
            .expect("run up.sh");
        assert!(
            out.status.success(),
            "up.sh failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        plane
    }

    /// Its directory: the kubeconfig, the components' logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The admin kubeconfig (`system:masters`, a static token, insecure-skip-tls-verify).
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir().join("kubeconfig")
    }

    /// Writes a kubeconfig that impersonates `user` (e.g. `system:serviceaccount:NS:NAME`)
    /// with the admin's token, at `path`.
    pub fn impersonating_kubeconfig(&self, user: &str, path: &Path) {
        let text = std::fs::read_to_string(self.kubeconfig()).expect("read kubeconfig");
        let text = text.replace("user: {token:", &format!("user: {{as: \"{user}\", token:"));
        assert!(text.contains("as: "), "impersonation in {text}");
        std::fs::write(path, text).expect("write kubeconfig");
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(&self.up)
            .arg("--down")
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .output();
        // A failing test names this directory: keep it for the logs it holds.
        if std::thread::panicking() {
            self.dir.disable_cleanup(true);
            eprintln!("kept {} (the test failed)", self.dir.path().display());
        }
    }
}

/// `up.sh`: `AXON_KUBE_UP`, else `shared/kube/up.sh` beside the repository's root (`root`,
/// found as `../shared/kube/up.sh`) or beside one of its ancestors (a git worktree under
/// `wt/`).
pub fn find_up_sh(root: &Path) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("AXON_KUBE_UP").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    root.ancestors()
        .skip(1)
        .map(|dir| dir.join("shared/kube/up.sh"))
        .find(|p| p.exists())
}

/// `up.sh` for a test named `test`, or `None` after printing a `SKIPPED` line saying why.
/// With `AXON_KUBE_REQUIRED=1` (set by `scripts/test.sh` when `../shared` is there) a missing
/// `up.sh` fails the test instead: CI must never report a skipped suite as passed.
pub fn up_sh_or_skip(test: &str, root: &Path) -> Option<PathBuf> {
    let found = find_up_sh(root);
    if found.is_none() {
        let why = format!(
            "no ../shared/kube/up.sh beside the repository ({}) or its parents, and AXON_KUBE_UP is not set: nothing was tested against a real API server",
            root.display()
        );
        assert!(
            std::env::var("AXON_KUBE_REQUIRED").as_deref() != Ok("1"),
            "{test}: AXON_KUBE_REQUIRED=1 but {why}"
        );
        // Past the harness's capture (which hides `eprintln!` of a passing test).
        let _ = writeln!(std::io::stderr(), "{test}: SKIPPED: {why}");
    }
    found
}
