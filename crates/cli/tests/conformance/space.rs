//! What a conformance scenario sees of a backend: a [`Space`] (a fresh AXON_HOME on the local
//! backend, a fresh namespace on the Kubernetes one), the `axon` CLI pointed at it, and a way
//! to turn an agent's behaviour (a shell script, the same on both backends) into the `image`
//! a Task names. Every assertion goes through the `axon` CLI, so both backends are held to the
//! same commands and the same output.

use axon_testsupport::model_server::{FakeModelServer, Script};
use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Which backend a space is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Local,
    Kubernetes,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Local => "local",
            Backend::Kubernetes => "kubernetes",
        }
    }
}

/// A finished `axon` command.
pub struct Run {
    pub what: String,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }

    /// Everything it printed (for "never shows" checks).
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (exit {:?})\nstdout:\n{}\nstderr:\n{}",
            self.what, self.code, self.stdout, self.stderr
        )
    }
}

/// One scenario's private corner of a backend.
pub trait Space: Send + Sync {
    fn backend(&self) -> Backend;

    /// `axon ARGS` against this space (`--backend` and, on Kubernetes, `-n` added).
    fn axon(&self, args: &[&str]) -> Run;

    /// The `image` of a Task whose agent runs `script` (a `/bin/sh` script getting the prompt
    /// as `$1`, started in the work tree).
    fn agent_image(&self, name: &str, script: &str) -> String;

    /// Keep `model` running for the space's life.
    fn keep(&self, model: FakeModelServer);

    /// The `taskTemplate` (or Task spec) fields, one `key: value` a line, of an agent that
    /// uses `input` and `output` tokens as the gateway measures usage and exits 0: a custom
    /// agent making one model call through its Task's Axon gateway to a fake model server
    /// answering with that usage (kept for the space's life).
    fn spending_agent(&self, input: u64, output: u64) -> String {
        let model =
            FakeModelServer::start(Script::new().usage(input, output)).expect("fake model server");
        let base = model.base_url();
        self.keep(model);
        let image = self.agent_image(&format!("spend-{input}-{output}.sh"), &spend_script());
        format!("image: {image}\nmodelBaseURL: {base}\n")
    }

    /// A scratch directory of this space (manifests go there).
    fn scratch(&self) -> PathBuf;

    /// What the backend recorded as events about this space's objects (empty where it
    /// records none).
    fn events(&self) -> String;

    /// Run this space's TaskSpawners (local: `axon serve`; Kubernetes: the controller and
    /// the kubelet already do).
    fn serve_spawners(&self);

    /// The Pods of this space, by name (empty where Tasks run without Pods).
    fn pods(&self) -> Vec<String>;
}

/// A shell function `model_call`: one Anthropic Messages call to the Task's model endpoint
/// with the gateway token in the key's place (the gateway puts the real key there); prints the
/// HTTP status, the answer goes to `$HOME/answer.json`.
pub const MODEL_CALL: &str = r#"model_call() {
  curl --noproxy '*' -sS -m 30 -o "$HOME/answer.json" -w '%{http_code}' -X POST \
    "$AXON_MODEL_BASE_URL/v1/messages" \
    -H "x-api-key: $ANTHROPIC_API_KEY" -H 'anthropic-version: 2023-06-01' \
    -H 'content-type: application/json' \
    -d '{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"work"}]}'
}
"#;

/// One model call, which must be answered 200.
pub fn spend_script() -> String {
    format!(
        "{MODEL_CALL}set -e\ncode=$(model_call)\necho \"model answered $code\"\ntest \"$code\" = 200"
    )
}

/// The scenario-side helpers, on any space.
pub trait SpaceExt: Space {
    /// `axon ARGS`, which must succeed; its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let r = self.axon(args);
        assert!(r.ok(), "[{}] {r}", self.backend().as_str());
        r.stdout
    }

    /// Write `yaml` to a file and `axon apply -f` it.
    fn apply(&self, file: &str, yaml: &str) -> Run {
        let path = self.scratch().join(file);
        std::fs::write(&path, yaml).expect("manifest");
        self.axon(&["apply", "-f", &path.display().to_string()])
    }

    /// [`SpaceExt::apply`], which must succeed.
    fn apply_ok(&self, file: &str, yaml: &str) {
        let r = self.apply(file, yaml);
        assert!(r.ok(), "[{}] {r}", self.backend().as_str());
    }

    /// The Task as `get task NAME -o json`; `None` when it does not exist (and the command
    /// said "not found").
    fn task(&self, name: &str) -> Option<Value> {
        let r = self.axon(&["get", "task", name, "-o", "json"]);
        if !r.ok() {
            assert!(
                r.stderr.contains("not found"),
                "[{}] {r}",
                self.backend().as_str()
            );
            return None;
        }
        Some(serde_json::from_str(&r.stdout).expect("task json"))
    }

    /// Every Task's name and phase, from `get tasks -o json`.
    fn tasks(&self) -> Vec<(String, String)> {
        let list: Value =
            serde_json::from_str(&self.ok(&["get", "tasks", "-o", "json"])).expect("list json");
        list["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|t| {
                (
                    t["metadata"]["name"].as_str().unwrap_or("").to_string(),
                    t["status"]["phase"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    }

    /// Poll until `f` holds of Task `name` (as JSON, or `None` when it does not exist);
    /// panic after `limit` with the last state seen.
    fn until_task(
        &self,
        name: &str,
        what: &str,
        limit: Duration,
        f: impl Fn(Option<&Value>) -> bool,
    ) -> Option<Value> {
        let deadline = Instant::now() + limit;
        loop {
            let t = self.task(name);
            if f(t.as_ref()) {
                return t;
            }
            assert!(
                Instant::now() < deadline,
                "[{}] Task {name}: timed out after {limit:?} waiting for {what}; last seen: {}",
                self.backend().as_str(),
                t.map(|t| t["status"].to_string()).unwrap_or("none".into())
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// Poll until Task `name` is in `phase`; the Task.
    fn until_phase(&self, name: &str, phase: &str, limit: Duration) -> Value {
        self.until_task(name, &format!("phase {phase}"), limit, |t| {
            t.and_then(|t| t["status"]["phase"].as_str()) == Some(phase)
        })
        .expect("task")
    }

    /// Poll until `f` holds of every Task (name, phase); panic after `limit`.
    fn until_tasks(&self, what: &str, limit: Duration, f: impl Fn(&[(String, String)]) -> bool) {
        let deadline = Instant::now() + limit;
        loop {
            let all = self.tasks();
            if f(&all) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "[{}] timed out after {limit:?} waiting for {what}; Tasks: {all:?}",
                self.backend().as_str()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

impl<T: Space + ?Sized> SpaceExt for T {}

/// A JSON string at a pointer, or "".
pub fn s<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}
