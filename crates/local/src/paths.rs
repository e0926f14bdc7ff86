//! Where things live under AXON_HOME:
//!
//! ```text
//! AXON_HOME/
//!   axon.db              resources (SQLite, WAL)
//!   secrets/NAME.json    local secrets, 0600, in a 0700 directory
//!   cache/git/HASH.git   mirror clones, one per repository URL
//!   engine.lock/.pid/.sock/.log   the scheduler process
//!   tasks/UID/           one Task run: run.lock, supervisor.pid, log,
//!                        work/ (the work tree), home/, tmp/, config/, cred/
//! ```

use std::path::{Path, PathBuf};

/// The layout of one AXON_HOME.
#[derive(Clone, Debug)]
pub struct Home {
    root: PathBuf,
}

impl Home {
    /// Wrap a home directory (made absolute).
    pub fn new(root: &Path) -> Home {
        let root = if root.is_absolute() {
            root.to_path_buf()
        } else {
            std::env::current_dir()
                .map(|d| d.join(root))
                .unwrap_or_else(|_| root.to_path_buf())
        };
        Home { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn db(&self) -> PathBuf {
        self.root.join("axon.db")
    }
    pub fn secrets(&self) -> PathBuf {
        self.root.join("secrets")
    }
    pub fn git_cache(&self) -> PathBuf {
        self.root.join("cache").join("git")
    }
    pub fn engine_lock(&self) -> PathBuf {
        self.root.join("engine.lock")
    }
    pub fn engine_pid(&self) -> PathBuf {
        self.root.join("engine.pid")
    }
    pub fn engine_sock(&self) -> PathBuf {
        self.root.join("engine.sock")
    }
    pub fn engine_log(&self) -> PathBuf {
        self.root.join("engine.log")
    }
    pub fn tasks(&self) -> PathBuf {
        self.root.join("tasks")
    }
    /// The directory of one Task run.
    pub fn task(&self, uid: &str) -> TaskDir {
        TaskDir {
            root: self.tasks().join(uid),
        }
    }
}

/// The directory of one Task run.
#[derive(Clone, Debug)]
pub struct TaskDir {
    pub root: PathBuf,
}

impl TaskDir {
    pub fn lock(&self) -> PathBuf {
        self.root.join("run.lock")
    }
    pub fn supervisor_pid(&self) -> PathBuf {
        self.root.join("supervisor.pid")
    }
    pub fn sandbox_pid(&self) -> PathBuf {
        self.root.join("sandbox.pid")
    }
    pub fn log(&self) -> PathBuf {
        self.root.join("log")
    }
    pub fn work(&self) -> PathBuf {
        self.root.join("work")
    }
    pub fn home(&self) -> PathBuf {
        self.root.join("home")
    }
    pub fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }
    pub fn config(&self) -> PathBuf {
        self.root.join("config")
    }
    pub fn cred(&self) -> PathBuf {
        self.root.join("cred")
    }
    /// The Task's gateway: its Unix socket (restricted network) and CA bundle, bound
    /// read-only into the sandbox.
    pub fn gateway(&self) -> PathBuf {
        self.root.join("gateway")
    }
    /// Every request the Task's gateway served, one JSON line each (`axon logs --requests`).
    pub fn requests(&self) -> PathBuf {
        self.root.join("requests.jsonl")
    }
}
