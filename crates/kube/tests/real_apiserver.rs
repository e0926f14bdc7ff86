//! Axon's Kubernetes backend against a real kube-apiserver and kube-controller-manager (Job,
//! Deployment, garbage collector, namespace controllers), started by `../shared/kube/up.sh` on
//! 127.0.0.1 and always stopped (a guard runs `up.sh --down`). There is no kubelet: the test
//! plays it by patching `pods/status`. The `axon` binary runs as a child process (built with
//! `cargo build -p axon-cli` when the test starts; `AXON_BIN` names another one), the
//! controller out of cluster with the test's kubeconfig.
//!
//! What the mock-based tests could not see, each checked here for real: `axon install` (server
//! side apply, CRDs Established, namespace, RBAC; the wait for the controller times out saying
//! what it waits for; progress lines without a terminal), Task → Job → kubelet-played Pod →
//! Task Succeeded from the results container's termination message, ImagePullBackOff → Task
//! Failed and its Job deleted (and `axon logs -f` waiting, then ending with the Task), a retry
//! back in Pending without a stale `podName`, `get -o yaml` without managedFields and `get -w`
//! printing deletions, the spawner Deployment on the kubernetes backend and its Role
//! (impersonating its ServiceAccount: it creates Tasks, it cannot read other Secrets; its
//! command line, run as that ServiceAccount, creates a Task on the next cron tick), a bad cron
//! schedule failing the TaskSpawner, `axon uninstall` removing everything including the Secrets
//! axon created, and "not installed" before install and after uninstall.
//!
//! Skipped, with a `SKIPPED` line saying so, when `up.sh` is absent (`AXON_KUBE_UP` names
//! another); with `AXON_KUBE_REQUIRED=1` (`scripts/test.sh` when `../shared` is there) that fails.
//! The control plane and the by-hand kubelet are `axon_testsupport::{kube_plane, kubelet}`.

use axon_api::{Resource, Task, TaskPhase, TaskSpawner, TaskSpawnerPhase, Workspace};
use axon_kube::KubeBackend;
use axon_testsupport::kube_plane::{ControlPlane, up_sh_or_skip};
use axon_testsupport::kubelet::{client, patch_pod as kubelet, running, terminated};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Namespace, Pod, Secret};
use k8s_openapi::api::rbac::v1::ClusterRole;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams, PostParams};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const NS: &str = "default";
/// The whole test, control plane included.
const BUDGET: Duration = Duration::from_secs(170);
/// One condition the test waits for.
const WAIT: Duration = Duration::from_secs(30);
/// How long the garbage collector may take to delete what a deleted CRD's objects owned: it
/// notices a removed resource type only at its next discovery resync (every 30 s), later on a
/// loaded machine.
const GC_WAIT: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------- the control plane and axon

/// The `axon` binary: `AXON_BIN`, else built now (cargo is quick when it is fresh) next to
/// this test's executable.
fn axon_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("AXON_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test executable");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
    let mut build = Command::new(cargo);
    build
        .args([
            "build",
            "--quiet",
            "-p",
            "axon-cli",
            "--bin",
            "axon",
            "--manifest-path",
        ])
        .arg(&manifest);
    // What cargo sets for this test process (CARGO_PKG_*, CARGO_MANIFEST_*, CARGO_CRATE_NAME,
    // CARGO_PRIMARY_PACKAGE, ...) would reach the crates the nested build compiles and make
    // it (and the next ordinary build) rebuild them; only cargo's own configuration is kept.
    let config = [
        "CARGO_HOME",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_",
        "CARGO_PROFILE_",
        "CARGO_NET_",
        "CARGO_HTTP_",
        "CARGO_REGISTR",
        "CARGO_TERM_",
        "CARGO_INCREMENTAL",
    ];
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        if (k.starts_with("CARGO_") && !config.iter().any(|c| k.starts_with(c))) || k == "OUT_DIR" {
            build.env_remove(&key);
        }
    }
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        build.arg("--release");
    }
    let status = build.status().expect("run cargo build");
    assert!(status.success(), "cargo build -p axon-cli failed");
    profile_dir.join("axon")
}

/// Runs `axon` with the test's kubeconfig, no terminal, default log filter.
struct Axon {
    bin: PathBuf,
    kubeconfig: PathBuf,
    home: PathBuf,
}

impl Axon {
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("AXON_HOME", &self.home)
            .env_remove("AXON_LOG")
            .env_remove("AXON_BACKEND")
            .env_remove("AXON_CONFIG")
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Run {
        let out = self.command(args).output().expect("run axon");
        Run::from(args, out)
    }

    fn spawn(&self, args: &[&str], envs: &[(&str, &str)]) -> Spawned {
        let mut c = self.command(args);
        c.envs(envs.iter().copied());
        Spawned::start(c, &args.join(" "))
    }
}

/// A finished `axon` run.
struct Run {
    what: String,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn from(args: &[&str], out: Output) -> Run {
        Run {
            what: format!("axon {}", args.join(" ")),
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code,
            Some(code),
            "{}: exit code\nstdout:\n{}\nstderr:\n{}",
            self.what,
            self.stdout,
            self.stderr
        );
        self
    }

    fn stdout_has(&self, text: &str) -> &Run {
        assert!(
            self.stdout.contains(text),
            "{}: stdout lacks {text:?}\nstdout:\n{}\nstderr:\n{}",
            self.what,
            self.stdout,
            self.stderr
        );
        self
    }

    fn stderr_has_one_of(&self, texts: &[&str]) -> &Run {
        assert!(
            texts.iter().any(|t| self.stderr.contains(t)),
            "{}: stderr has none of {texts:?}\nstderr:\n{}",
            self.what,
            self.stderr
        );
        self
    }

    fn stderr_has(&self, text: &str) -> &Run {
        assert!(
            self.stderr.contains(text),
            "{}: stderr lacks {text:?}\nstderr:\n{}",
            self.what,
            self.stderr
        );
        self
    }

    /// Every command against the test cluster (insecure-skip-tls-verify) stays quiet about it.
    fn no_tls_warning(&self) -> &Run {
        assert!(
            !self.stderr.contains("Server cert bypassed"),
            "{}: {}",
            self.what,
            self.stderr
        );
        self
    }
}

/// A running child; its output is collected as it comes. Killed (by its pid) when dropped.
struct Spawned {
    what: String,
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl Spawned {
    fn start(mut c: Command, what: &str) -> Spawned {
        let mut child = c
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn axon");
        let collect = |r: Box<dyn std::io::Read + Send>| {
            let buf = Arc::new(Mutex::new(String::new()));
            let sink = buf.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(r).lines().map_while(Result::ok) {
                    if let Ok(mut b) = sink.lock() {
                        b.push_str(&line);
                        b.push('\n');
                    }
                }
            });
            buf
        };
        let stdout = collect(Box::new(child.stdout.take().expect("stdout")));
        let stderr = collect(Box::new(child.stderr.take().expect("stderr")));
        Spawned {
            what: format!("axon {what}"),
            child,
            stdout,
            stderr,
        }
    }

    fn text(buf: &Arc<Mutex<String>>) -> String {
        buf.lock().map(|b| b.clone()).unwrap_or_default()
    }

    fn stdout(&self) -> String {
        Spawned::text(&self.stdout)
    }

    fn stderr(&self) -> String {
        Spawned::text(&self.stderr)
    }

    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits until stdout or stderr (`err`) contains `text`.
    async fn wait_for(&self, err: bool, text: &str) {
        let buf = if err { &self.stderr } else { &self.stdout };
        let found = eventually(async || Spawned::text(buf).contains(text).then_some(())).await;
        if found.is_none() {
            panic!(
                "{} did not print {text:?} within {}s\nstdout:\n{}\nstderr:\n{}",
                self.what,
                WAIT.as_secs(),
                self.stdout(),
                self.stderr()
            );
        }
    }

    /// Waits for the child to exit on its own; its exit code.
    async fn exit_code(&mut self) -> Option<i32> {
        let start = Instant::now();
        while start.elapsed() < WAIT {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!(
            "{} did not exit within {}s\nstderr:\n{}",
            self.what,
            WAIT.as_secs(),
            self.stderr()
        );
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `f` every 250 ms for up to [`WAIT`]; `None` when it never answered.
async fn eventually<T>(f: impl AsyncFnMut() -> Option<T>) -> Option<T> {
    eventually_within(WAIT, f).await
}

/// [`eventually`] with its own limit.
async fn eventually_within<T>(limit: Duration, mut f: impl AsyncFnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        if start.elapsed() > limit {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// [`eventually`], failing the test with `what` when it never answered.
async fn must<T>(what: &str, f: impl AsyncFnMut() -> Option<T>) -> T {
    must_within(WAIT, what, f).await
}

/// [`must`] with its own limit.
async fn must_within<T>(limit: Duration, what: &str, f: impl AsyncFnMut() -> Option<T>) -> T {
    match eventually_within(limit, f).await {
        Some(v) => v,
        None => panic!("timed out after {}s waiting for {what}", limit.as_secs()),
    }
}

// ------------------------------------------------------------------------- cluster helpers

fn task(name: &str, extra: Value) -> Task {
    let mut spec = json!({"type": "claude-code", "prompt": "Say hello",
        "credentials": {"type": "api-key", "secretRef": {"name": "claude"}},
        "image": "registry.invalid/agent:test", "timeoutSeconds": 600});
    if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    serde_json::from_value(json!({"apiVersion": "axon.io/v1alpha1", "kind": "Task",
        "metadata": {"name": name, "namespace": NS}, "spec": spec}))
    .expect("task")
}

async fn task_status(tasks: &Api<Task>, name: &str) -> Option<axon_api::TaskStatus> {
    tasks
        .get_opt(name)
        .await
        .ok()
        .flatten()
        .and_then(|t| t.status)
}

/// Waits for Task `name` to reach `phase`; its status.
async fn phase(tasks: &Api<Task>, name: &str, phase: TaskPhase) -> axon_api::TaskStatus {
    must(&format!("Task {name} to be {phase}"), async || {
        task_status(tasks, name)
            .await
            .filter(|s| s.phase == Some(phase))
    })
    .await
}

/// The newest Pod of Task `task` whose name is not in `not`, once the Job controller made it.
async fn pod_of(pods: &Api<Pod>, task: &str, not: &[String]) -> Pod {
    must(&format!("a Pod for Task {task}"), async || {
        let lp = ListParams::default().labels(&format!("axon.io/task={task}"));
        pods.list(&lp).await.ok().and_then(|l| {
            l.items
                .into_iter()
                .filter(|p| p.metadata.name.as_ref().is_some_and(|n| !not.contains(n)))
                .max_by_key(|p| p.metadata.creation_timestamp.as_ref().map(|t| t.0))
        })
    })
    .await
}

// ---------------------------------------------------------------------------------- the test

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axon_against_a_real_api_server() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let Some(up) = up_sh_or_skip("real_apiserver", &root) else {
        return;
    };
    let started = Instant::now();
    let bin = axon_binary();
    eprintln!(
        "real_apiserver: axon binary {} ready in {:.1}s",
        bin.display(),
        started.elapsed().as_secs_f64()
    );
    let up_started = Instant::now();
    let plane = ControlPlane::start(&up);
    eprintln!(
        "real_apiserver: control plane up in {:.1}s (logs in {})",
        up_started.elapsed().as_secs_f64(),
        plane.dir().display()
    );
    let axon = Axon {
        bin,
        kubeconfig: plane.kubeconfig(),
        home: plane.dir().join("axon-home"),
    };
    // The plane is stopped when `plane` drops, on success, panic or timeout alike.
    let result = tokio::time::timeout(BUDGET, scenario(&plane, &axon)).await;
    eprintln!(
        "real_apiserver: {:.1}s in all",
        started.elapsed().as_secs_f64()
    );
    assert!(
        result.is_ok(),
        "the test took more than {}s (logs in {})",
        BUDGET.as_secs(),
        plane.dir().display()
    );
}

fn step(started: Instant, what: &str) {
    eprintln!(
        "real_apiserver: [{:5.1}s] {what}",
        started.elapsed().as_secs_f64()
    );
}

async fn scenario(plane: &ControlPlane, axon: &Axon) {
    let t0 = Instant::now();
    let kubeconfig = plane.kubeconfig();
    let admin = client(&kubeconfig, None).await;
    let k = "--backend=kubernetes";

    // Before install: "not installed", never the API server's "404 page not found".
    axon.run(&[k, "status"])
        .expect_code(1)
        .stdout_has("not installed")
        .stdout_has("axon install")
        .no_tls_warning();
    let get = axon.run(&[k, "get", "tasks"]);
    get.expect_code(1)
        .stderr_has("Axon is not installed in this cluster")
        .stderr_has("`axon install`")
        .no_tls_warning();
    assert!(!get.stderr.contains("404 page not found"), "{}", get.stderr);
    step(
        t0,
        "status and get before install say Axon is not installed",
    );

    // Install: without a kubelet the controller never becomes available; the bounded wait
    // says what it waited for, and every step shows as a line without a terminal.
    let image = "ghcr.io/axon-core/axon:test";
    axon.run(&["install", "--version", "test", "--image", image, "--wait-timeout", "2"])
        .expect_code(1)
        .stderr_has("install: applied CustomResourceDefinition tasks.axon.io")
        .stderr_has("install: applied Deployment axon-system/axon-controller")
        .stderr_has("install: waiting for CRD taskspawners.axon.io to be established")
        .stderr_has("timed out after 2s waiting for Deployment axon-system/axon-controller to have an available replica")
        // What it still waits for: the Pod the controller manager made is not scheduled (no
        // node runs here) — or, on a loaded machine, the Pod is not even made within 2 s.
        .stderr_has_one_of(&["not scheduled to a node", "no Pod yet"])
        .no_tls_warning();
    axon.run(&[
        "install",
        "--version",
        "test",
        "--image",
        image,
        "--no-wait",
    ])
    .expect_code(0)
    .stdout_has("Axon test installed (controller image ghcr.io/axon-core/axon:test)")
    .stderr_has("install: Axon is installed");
    let crds: Api<CustomResourceDefinition> = Api::all(admin.clone());
    for crd in axon_api::crd::crds() {
        let name = crd.metadata.name.clone().expect("crd name");
        let stored = crds.get(&name).await.expect("crd");
        let established = stored
            .status
            .and_then(|s| s.conditions)
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True");
        assert!(established, "CRD {name} Established");
        let applied = stored
            .metadata
            .managed_fields
            .unwrap_or_default()
            .iter()
            .any(|m| {
                m.manager.as_deref() == Some("axon") && m.operation.as_deref() == Some("Apply")
            });
        assert!(
            applied,
            "CRD {name} is server-side applied by field manager axon"
        );
    }
    let namespaces: Api<Namespace> = Api::all(admin.clone());
    namespaces.get("axon-system").await.expect("namespace");
    let cluster_roles: Api<ClusterRole> = Api::all(admin.clone());
    cluster_roles
        .get("axon-controller")
        .await
        .expect("ClusterRole");
    let system_deployments: Api<Deployment> = Api::namespaced(admin.clone(), "axon-system");
    let controller_env = system_deployments
        .get("axon-controller")
        .await
        .expect("controller Deployment")
        .spec
        .template
        .spec
        .map(|s| s.containers[0].env.clone().unwrap_or_default())
        .unwrap_or_default();
    assert!(
        controller_env
            .iter()
            .any(|e| e.name == "AXON_LOG" && e.value.as_deref() == Some("info")),
        "{controller_env:?}"
    );
    step(
        t0,
        "install applied, CRDs Established, namespace and RBAC there",
    );

    // `axon status` on an installed cluster.
    axon.run(&[k, "status"])
        .expect_code(0)
        .stdout_has("tasks: none");

    // Task names are DNS-1123 labels (the Job's name and a label value): the CRD refuses a
    // longer one even from a client that skips Axon's own rules, naming the field.
    let refused = Api::<Task>::namespaced(admin.clone(), NS)
        .create(&PostParams::default(), &task(&"t".repeat(64), json!({})))
        .await
        .expect_err("a 64-character Task name is refused");
    assert!(
        refused.to_string().contains("metadata.name") && refused.to_string().contains("63"),
        "{refused}"
    );
    step(t0, "the CRD refuses a Task name over 63 characters");

    // Secrets: two by `axon create secret` (Axon's, labelled), one by someone else.
    axon.run(&[
        k,
        "create",
        "secret",
        "claude",
        "--from-literal",
        "ANTHROPIC_API_KEY=sk-test",
    ])
    .expect_code(0);
    axon.run(&[
        k,
        "create",
        "secret",
        "gh",
        "--from-literal",
        "GITHUB_TOKEN=ghp-test",
    ])
    .expect_code(0);
    let secrets: Api<Secret> = Api::namespaced(admin.clone(), NS);
    let other: Secret = serde_json::from_value(json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "not-axons"}, "stringData": {"k": "v"}}))
    .expect("secret");
    secrets
        .create(&PostParams::default(), &other)
        .await
        .expect("create other secret");

    // The controller, out of cluster, as a child process (leader election on: the Lease is
    // real too).
    let controller = axon.spawn(
        &[
            "controller",
            "--metrics-addr=127.0.0.1:0",
            "--leader-elect=true",
        ],
        &[("AXON_LOG", "info"), ("AXON_IMAGE", image)],
    );
    controller.wait_for(true, "leading").await;
    step(t0, "controller started and leading");

    let backend = KubeBackend::from_client(admin.clone(), NS);
    let tasks: Api<Task> = Api::namespaced(admin.clone(), NS);
    let jobs: Api<Job> = Api::namespaced(admin.clone(), NS);
    let pods: Api<Pod> = Api::namespaced(admin.clone(), NS);

    // A TaskSpawner (cron, every minute) and its Workspace, early: its first tick comes later.
    let ws: Workspace = serde_json::from_value(json!({"apiVersion": "axon.io/v1alpha1",
        "kind": "Workspace", "metadata": {"name": "repo", "namespace": NS},
        "spec": {"repo": "https://github.com/o/r.git", "secretRef": {"name": "gh"}}}))
    .expect("workspace");
    backend
        .apply(Resource::Workspace(Box::new(ws)))
        .await
        .expect("apply workspace");
    let spawner = |name: &str, schedule: &str| -> TaskSpawner {
        serde_json::from_value(
            json!({"apiVersion": "axon.io/v1alpha1", "kind": "TaskSpawner",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"when": {"cron": {"schedule": schedule}}, "pollInterval": "5s",
                "maxConcurrency": 1,
                "taskTemplate": {"type": "claude-code", "workspaceRef": {"name": "repo"},
                    "image": "registry.invalid/agent:test",
                    "credentials": {"type": "api-key", "secretRef": {"name": "claude"}},
                    "promptTemplate": "Tick {{.ID}}"}}}),
        )
        .expect("taskspawner")
    };
    backend
        .apply(Resource::TaskSpawner(Box::new(spawner(
            "minutely",
            "* * * * *",
        ))))
        .await
        .expect("apply taskspawner");
    let deployments: Api<Deployment> = Api::namespaced(admin.clone(), NS);
    let deployment = must("Deployment minutely-spawner", async || {
        deployments.get_opt("minutely-spawner").await.ok().flatten()
    })
    .await;
    let container = deployment
        .spec
        .template
        .spec
        .map(|s| s.containers[0].clone())
        .expect("spawner container");
    let args = container.args.clone().unwrap_or_default();
    assert_eq!(
        args,
        [
            "spawner",
            "--name",
            "minutely",
            "-n",
            NS,
            "--backend",
            "kubernetes"
        ]
    );
    let env: Vec<(String, String)> = container
        .env
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|e| (e.name, e.value.unwrap_or_default()))
        .collect();
    assert!(
        env.contains(&("AXON_BACKEND".into(), "kubernetes".into())),
        "{env:?}"
    );
    assert!(env.contains(&("AXON_LOG".into(), "info".into())), "{env:?}");
    step(
        t0,
        "spawner Deployment runs on the kubernetes backend with AXON_LOG",
    );

    // Its Role, as its ServiceAccount sees it.
    let sa = format!("system:serviceaccount:{NS}:minutely-spawner");
    let as_sa = client(&kubeconfig, Some(&sa)).await;
    let sa_tasks: Api<Task> = Api::namespaced(as_sa.clone(), NS);
    let dry = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let role = must("the spawner's RoleBinding to take effect", async || {
        sa_tasks
            .create(&dry, &task("by-the-spawner", json!({})))
            .await
            .ok()
    })
    .await;
    assert_eq!(role.metadata.name.as_deref(), Some("by-the-spawner"));
    let sa_secrets: Api<Secret> = Api::namespaced(as_sa.clone(), NS);
    sa_secrets.get("gh").await.expect("its Workspace's Secret");
    for forbidden in ["claude", "not-axons"] {
        let e = sa_secrets.get(forbidden).await.expect_err("another Secret");
        assert!(
            matches!(&e, kube::Error::Api(s) if s.code == 403),
            "{forbidden}: {e}"
        );
    }
    let e = sa_secrets
        .list(&ListParams::default())
        .await
        .expect_err("listing Secrets");
    assert!(matches!(&e, kube::Error::Api(s) if s.code == 403), "{e}");
    let elsewhere: Api<Task> = Api::namespaced(as_sa.clone(), "kube-public");
    let e = elsewhere
        .create(&dry, &task("elsewhere", json!({})))
        .await
        .expect_err("a Task in another namespace");
    assert!(matches!(&e, kube::Error::Api(s) if s.code == 403), "{e}");
    step(
        t0,
        "spawner Role: creates Tasks here, cannot read other Secrets or write elsewhere",
    );

    // The Deployment's command line, run as that ServiceAccount (no kubelet to run the Pod).
    let sa_kubeconfig = plane.dir().join("spawner-kubeconfig");
    plane.impersonating_kubeconfig(&sa, &sa_kubeconfig);
    let mut command = Command::new(&axon.bin);
    command
        .args(&args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("KUBECONFIG", &sa_kubeconfig)
        .env("AXON_HOME", plane.dir().join("spawner-home"))
        .env_remove("AXON_CONFIG")
        .stdin(Stdio::null());
    let mut spawner_process = Spawned::start(command, &args.join(" "));
    spawner_process
        .wait_for(true, "running TaskSpawner minutely on the kubernetes")
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        spawner_process.running(),
        "the spawner stays up: {}",
        spawner_process.stderr()
    );
    step(
        t0,
        "the spawner's command line runs as its ServiceAccount on the kubernetes backend",
    );

    // A bad cron schedule (the CRD accepts it, the loader does not): Failed, no Deployment.
    backend
        .apply(Resource::TaskSpawner(Box::new(spawner(
            "bad-cron",
            "61 * * * *",
        ))))
        .await
        .expect("the CRD accepts it");
    let spawners: Api<TaskSpawner> = Api::namespaced(admin.clone(), NS);
    let status = must("TaskSpawner bad-cron to fail", async || {
        spawners
            .get_opt("bad-cron")
            .await
            .ok()
            .flatten()
            .and_then(|s| s.status)
            .filter(|s| s.phase == Some(TaskSpawnerPhase::Failed))
    })
    .await;
    assert!(
        status
            .message
            .as_deref()
            .is_some_and(|m| m.contains("spec.when.cron.schedule")),
        "{status:?}"
    );
    assert!(
        status
            .conditions
            .iter()
            .any(|c| c.type_ == "SpecValid" && c.status == "False"),
        "{status:?}"
    );
    assert!(
        deployments
            .get_opt("bad-cron-spawner")
            .await
            .expect("get")
            .is_none()
    );
    step(
        t0,
        "a bad cron schedule fails the TaskSpawner with SpecValid=False, no Deployment",
    );

    // A Task, its Job, the kubelet played: Running, then Succeeded from the results
    // container's termination message.
    backend
        .apply(Resource::Task(Box::new(task("hello", json!({})))))
        .await
        .expect("apply task");
    must("Job hello", async || {
        jobs.get_opt("hello").await.ok().flatten()
    })
    .await;
    let pod = pod_of(&pods, "hello", &[]).await;
    kubelet(&pods, &pod, "Running", &[("agent", running())]).await;
    let s = phase(&tasks, "hello", TaskPhase::Running).await;
    assert_eq!(s.pod_name, pod.metadata.name);
    let results = json!({"success": true, "exitCode": 0, "branch": "axon/hello",
        "baseBranch": "main", "commits": ["a".repeat(40)], "pushed": true,
        "usage": {"inputTokens": 10, "outputTokens": 2, "turns": 1}});
    kubelet(
        &pods,
        &pod,
        "Succeeded",
        &[
            ("agent", terminated(0, "")),
            ("results", terminated(0, &results.to_string())),
        ],
    )
    .await;
    let s = phase(&tasks, "hello", TaskPhase::Succeeded).await;
    let outputs = s.outputs.expect("outputs");
    assert_eq!(outputs.branch.as_deref(), Some("axon/hello"));
    assert!(outputs.pushed);
    step(
        t0,
        "Task → Job → Pod (kubelet played) → Task Succeeded with the measured outputs",
    );

    // get -o yaml: no managedFields.
    let yaml = axon.run(&[k, "get", "task", "hello", "-o", "yaml"]);
    yaml.expect_code(0)
        .stdout_has("phase: Succeeded")
        .no_tls_warning();
    assert!(!yaml.stdout.contains("managedFields"), "{}", yaml.stdout);

    // ImagePullBackOff: Task Failed, its Job deleted; `logs -f` waited meanwhile and ends
    // with the Task.
    backend
        .apply(Resource::Task(Box::new(task("pull", json!({})))))
        .await
        .expect("apply task");
    let pod = pod_of(&pods, "pull", &[]).await;
    let mut logs = axon.spawn(&[k, "logs", "-f", "pull"], &[]);
    logs.wait_for(true, "axon logs: waiting: ").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(logs.running(), "logs -f waits: {}", logs.stderr());
    kubelet(
        &pods,
        &pod,
        "Pending",
        &[(
            "agent",
            json!({"waiting": {"reason": "ImagePullBackOff",
                "message": "Back-off pulling image \"registry.invalid/agent:test\""}}),
        )],
    )
    .await;
    let s = phase(&tasks, "pull", TaskPhase::Failed).await;
    assert!(
        s.message
            .as_deref()
            .is_some_and(|m| m.starts_with("cannot pull image registry.invalid/agent:test")),
        "{s:?}"
    );
    must("Job pull to be deleted", async || {
        matches!(jobs.get_opt("pull").await, Ok(None)).then_some(())
    })
    .await;
    let pod_name = pod.metadata.name.clone().expect("name");
    must("the Pod of Job pull to be deleted", async || {
        matches!(pods.get_opt(&pod_name).await, Ok(None)).then_some(())
    })
    .await;
    assert_eq!(logs.exit_code().await, Some(0), "{}", logs.stderr());
    let said = logs.stderr();
    assert!(
        said.contains("Task pull Failed: cannot pull image"),
        "{said}"
    );
    step(
        t0,
        "ImagePullBackOff → Task Failed, Job and Pod deleted; logs -f waited, then ended",
    );

    // A retry: the first Pod fails, the Job makes another; back in Pending without podName.
    backend
        .apply(Resource::Task(Box::new(task(
            "retry",
            json!({"backoffLimit": 1}),
        ))))
        .await
        .expect("apply task");
    let first = pod_of(&pods, "retry", &[]).await;
    kubelet(&pods, &first, "Running", &[("agent", running())]).await;
    let s = phase(&tasks, "retry", TaskPhase::Running).await;
    assert_eq!(s.pod_name, first.metadata.name);
    let failed = json!({"success": false, "exitCode": 1, "failureReason": "tests fail"});
    kubelet(
        &pods,
        &first,
        "Failed",
        &[
            ("agent", terminated(0, "")),
            ("results", terminated(1, &failed.to_string())),
        ],
    )
    .await;
    let first_name = first.metadata.name.clone().expect("name");
    // The Job controller waits its backoff (10 s) before the second Pod.
    let start = Instant::now();
    let second = loop {
        let lp = ListParams::default().labels("axon.io/task=retry");
        let found = pods.list(&lp).await.ok().and_then(|l| {
            l.items
                .into_iter()
                .find(|p| p.metadata.name.as_deref() != Some(first_name.as_str()))
        });
        if let Some(p) = found {
            break p;
        }
        assert!(start.elapsed() < Duration::from_secs(40), "no second Pod");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let s = phase(&tasks, "retry", TaskPhase::Pending).await;
    assert_eq!(s.pod_name, None, "no stale podName: {s:?}");
    assert_eq!(s.job_name.as_deref(), Some("retry"));
    let raw = tasks.get("retry").await.expect("task");
    let status = serde_json::to_value(&raw).expect("json")["status"].clone();
    assert!(status.get("podName").is_none(), "{status}");
    drop(second);
    step(
        t0,
        "a retried Task is Pending again without a stale podName",
    );

    // get -w prints a row for a deletion.
    let watch = axon.spawn(&[k, "get", "tasks", "-w"], &[]);
    watch.wait_for(false, "hello").await;
    backend
        .delete(axon_api::Kind::Task, "hello")
        .await
        .expect("delete");
    must("get -w to print hello as Deleted", async || {
        watch
            .stdout()
            .lines()
            .any(|l| l.starts_with("hello") && l.contains("Deleted"))
            .then_some(())
    })
    .await;
    drop(watch);
    step(t0, "get -w prints a Deleted row");

    // The spawner, running as its ServiceAccount, created a Task on the minute's tick.
    let spawned = tokio::time::timeout(Duration::from_secs(75), async {
        loop {
            let lp = ListParams::default().labels("axon.io/taskspawner=minutely");
            if let Ok(l) = tasks.list(&lp).await
                && let Some(t) = l.items.into_iter().next()
            {
                return t;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "the spawner created no Task within a minute:\n{}",
            spawner_process.stderr()
        )
    });
    assert!(spawner_process.running(), "{}", spawner_process.stderr());
    let owner = spawned
        .metadata
        .owner_references
        .clone()
        .unwrap_or_default();
    assert!(
        owner
            .iter()
            .any(|o| o.kind == "TaskSpawner" && o.name == "minutely"),
        "{owner:?}"
    );
    drop(spawner_process);
    step(
        t0,
        "the spawner created a Task on its cron tick, as its ServiceAccount",
    );

    // Uninstall: everything goes, including the Secrets axon created (and says so); a Secret
    // axon did not create stays.
    drop(controller);
    let un = axon.run(&["uninstall", "-y"]);
    un.expect_code(0)
        .stderr_has("uninstall: deleted CustomResourceDefinition tasks.axon.io")
        .stderr_has("uninstall: deleted Secret default/claude (created by axon create secret)")
        .stdout_has("Removed:")
        .stdout_has("Deployment axon-system/axon-controller")
        .stdout_has("Namespace axon-system")
        .stdout_has("Secrets created by axon create secret, deleted: default/claude, default/gh")
        .no_tls_warning();
    assert!(
        un.stdout.contains("Tasks") && un.stdout.contains("2 TaskSpawners"),
        "{}",
        un.stdout
    );
    for crd in axon_api::crd::crds() {
        let name = crd.metadata.name.clone().expect("name");
        must(&format!("CRD {name} to be gone"), async || {
            matches!(crds.get_opt(&name).await, Ok(None)).then_some(())
        })
        .await;
    }
    must("namespace axon-system to be gone", async || {
        matches!(namespaces.get_opt("axon-system").await, Ok(None)).then_some(())
    })
    .await;
    assert!(matches!(
        cluster_roles.get_opt("axon-controller").await,
        Ok(None)
    ));
    for gone in ["claude", "gh"] {
        assert!(
            matches!(secrets.get_opt(gone).await, Ok(None)),
            "Secret {gone}"
        );
    }
    assert!(
        matches!(secrets.get_opt("not-axons").await, Ok(Some(_))),
        "a Secret axon did not create stays"
    );
    must_within(
        GC_WAIT,
        "the spawner's Deployment to be collected",
        async || matches!(deployments.get_opt("minutely-spawner").await, Ok(None)).then_some(()),
    )
    .await;
    must_within(GC_WAIT, "the Tasks' Jobs to be collected", async || {
        jobs.list(&ListParams::default())
            .await
            .ok()
            .filter(|l| l.items.is_empty())
            .map(|_| ())
    })
    .await;
    step(
        t0,
        "uninstall removed everything, Axon's Secrets included, and said so",
    );

    axon.run(&[k, "status"])
        .expect_code(1)
        .stdout_has("not installed");
    step(t0, "status after uninstall: not installed");
}
