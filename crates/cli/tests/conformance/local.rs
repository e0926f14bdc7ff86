//! The local driver: each space a fresh AXON_HOME (the shared `support::Env`: a clean
//! environment, the detached engine started on demand and stopped with the space), agents
//! given as shell scripts (`image: /path/to/script`, run for real by `axon agent run
//! --entrypoint` inside bubblewrap), TaskSpawners run by `axon serve`, model calls answered by
//! the fake model server through each Task's own Axon gateway.

use crate::space::{Backend, Run, Space};
use crate::support::Env;
use axon_testsupport::model_server::FakeModelServer;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::Mutex;

pub struct LocalSpace {
    env: Env,
    github: String,
    serve: Mutex<Option<Child>>,
    models: Mutex<Vec<FakeModelServer>>,
}

impl LocalSpace {
    pub fn new(scenario: &str, github: String) -> LocalSpace {
        LocalSpace {
            env: Env::builder(&format!("conf-{scenario}")).build(),
            github,
            serve: Mutex::new(None),
            models: Mutex::new(Vec::new()),
        }
    }
}

impl Space for LocalSpace {
    fn backend(&self) -> Backend {
        Backend::Local
    }

    fn axon(&self, args: &[&str]) -> Run {
        let mut all = vec!["--backend=local"];
        all.extend_from_slice(args);
        let out = self.env.output(&all);
        Run {
            what: format!("axon {}", all.join(" ")),
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn agent_image(&self, name: &str, script: &str) -> String {
        self.env.agent(name, script).display().to_string()
    }

    fn keep(&self, model: FakeModelServer) {
        if let Ok(mut models) = self.models.lock() {
            models.push(model);
        }
    }

    fn scratch(&self) -> PathBuf {
        self.env.root().to_path_buf()
    }

    /// The local backend records no events: its "events" are what it prints and stores,
    /// which the scenarios read through `get` and `logs`.
    fn events(&self) -> String {
        String::new()
    }

    /// Local Tasks run without Pods.
    fn pods(&self) -> Vec<String> {
        Vec::new()
    }

    fn serve_spawners(&self) {
        let log = std::fs::File::create(self.env.root().join("serve.log")).expect("log");
        let mut child = self
            .env
            .axon_process()
            .arg("serve")
            .env("AXON_GITHUB_API_URL", &self.github)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("axon serve");
        match self.serve.lock() {
            Ok(mut s) => *s = Some(child),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

impl Drop for LocalSpace {
    fn drop(&mut self) {
        if let Ok(mut s) = self.serve.lock()
            && let Some(mut child) = s.take()
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
