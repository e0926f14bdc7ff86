//! A test kubelet for the control plane of [`crate::kube_plane`], which has none: Pods stay
//! Pending until a test plays the kubelet by writing `pods/status`.
//!
//! Two ways to play it:
//! - by hand: [`patch_pod`] writes a phase and each container's state by name ([`running`],
//!   [`terminated`], a `waiting` reason), for a test that decides exactly what the kubelet saw;
//! - [`Kubelet`]: runs each Pod of the chosen namespaces **for real, as host processes**, the
//!   way a node would: init containers one after the other, then the main containers; every
//!   volume a directory under the Pod's own directory (emptyDir; ConfigMap and Secret items
//!   written from the API), each container's paths (its mounts, `/dev/termination-log`, a custom
//!   agent image's `/axon_entrypoint.sh`) rewritten to those directories in its command,
//!   arguments, environment and working directory; `valueFrom.secretKeyRef` resolved from the
//!   API (`CreateContainerConfigError` when missing); an image it does not know is
//!   `ImagePullBackOff`. Container states, exit codes and termination messages (the file, or the
//!   log's tail with `FallbackToLogsOnError`) are written as a kubelet writes them. A Pod
//!   deleted (or given a deletionTimestamp) while a container runs has its process group
//!   killed, as at a Job's `activeDeadlineSeconds`. A Pod that mounts its ServiceAccount's
//!   token gets `KUBECONFIG` naming a kubeconfig that impersonates that ServiceAccount, so its
//!   RBAC is the real one.
//!
//! So the Axon images are the real `axon` binary (`axon workspace prepare`, `axon agent
//! collect`, `axon spawner`) and a custom agent image is a shell script: what the controller
//! reads back (the `results` container's termination message) is what the real Pod would
//! have written. There is no container isolation: the processes run as the test's user.

use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, Secret};
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where the image's entrypoint is in an agent image (Axon's agent image interface).
const ENTRYPOINT: &str = "/axon_entrypoint.sh";
/// Kubernetes' default termination message path.
const TERMINATION_LOG: &str = "/dev/termination-log";
/// The kubelet caps a termination message at 4096 bytes.
const MESSAGE_LIMIT: usize = 4096;

// ------------------------------------------------------------------------ by-hand kubelet

/// A client for the kubeconfig at `path` (ring as the rustls provider).
pub async fn client(path: &Path, impersonate: Option<&str>) -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let kc = Kubeconfig::read_from(path).expect("kubeconfig");
    let mut config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("config");
    config.auth_info.impersonate = impersonate.map(str::to_string);
    Client::try_from(config).expect("client")
}

/// A container status as the kubelet writes it.
pub fn container_status(name: &str, image: &str, state: Value) -> Value {
    json!({"name": name, "image": image, "imageID": "", "ready": false, "restartCount": 0,
        "state": state})
}

/// A `running` state.
pub fn running() -> Value {
    json!({"running": {"startedAt": now()}})
}

/// A `terminated` state with an exit code and a termination message.
pub fn terminated(code: i32, message: &str) -> Value {
    json!({"terminated": {"exitCode": code, "reason": if code == 0 { "Completed" } else { "Error" },
        "message": message, "startedAt": now(), "finishedAt": now()}})
}

/// A `waiting` state.
pub fn waiting(reason: &str, message: &str) -> Value {
    json!({"waiting": {"reason": reason, "message": message}})
}

fn now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    // RFC 3339 from the Unix time (UTC), without a date library.
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) (Howard Hinnant's algorithm).
fn civil(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Plays the kubelet once: the Pod's phase, and each container's state by name (init
/// containers first, then the main ones); a container not named waits in `PodInitializing`.
pub async fn patch_pod(pods: &Api<Pod>, pod: &Pod, phase: &str, states: &[(&str, Value)]) {
    let spec = pod.spec.as_ref().expect("pod spec");
    let state_of = |name: &str| {
        states
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| json!({"waiting": {"reason": "PodInitializing"}}))
    };
    let image = |c: &Container| c.image.clone().unwrap_or_default();
    let init: Vec<Value> = spec
        .init_containers
        .iter()
        .flatten()
        .map(|c| container_status(&c.name, &image(c), state_of(&c.name)))
        .collect();
    let main: Vec<Value> = spec
        .containers
        .iter()
        .map(|c| container_status(&c.name, &image(c), state_of(&c.name)))
        .collect();
    let name = pod.metadata.name.clone().expect("pod name");
    let body = json!({"status": {"phase": phase, "initContainerStatuses": init,
        "containerStatuses": main}});
    pods.patch_status(&name, &PatchParams::default(), &Patch::Merge(&body))
        .await
        .unwrap_or_else(|e| panic!("patch pods/{name}/status: {e}"));
}

// ----------------------------------------------------------------------- process kubelet

/// What the [`Kubelet`] runs and where.
#[derive(Clone)]
pub struct KubeletConfig {
    /// The admin kubeconfig (ServiceAccount kubeconfigs impersonate from it).
    pub kubeconfig: PathBuf,
    /// Pod directories go under it.
    pub root: PathBuf,
    /// Only Pods in namespaces starting with this are run.
    pub namespace_prefix: String,
    /// The Axon image name and the `axon` binary it stands for (its `axon` command, and its
    /// entrypoint when a container has no command).
    pub axon_image: String,
    pub axon_bin: PathBuf,
    /// More variables for every container (the node's test settings, e.g. a fake GitHub).
    pub extra_env: Vec<(String, String)>,
}

/// The running test kubelet; stops (and kills what it started) when dropped.
pub struct Kubelet {
    stop: Arc<AtomicBool>,
    images: Arc<Mutex<HashMap<String, PathBuf>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Kubelet {
    /// Start watching for Pods (on its own thread and runtime).
    pub fn start(config: KubeletConfig) -> Kubelet {
        let stop = Arc::new(AtomicBool::new(false));
        let images = Arc::new(Mutex::new(HashMap::new()));
        let node = Node {
            config,
            images: images.clone(),
            stop: stop.clone(),
        };
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("kubelet runtime");
            rt.block_on(node.run());
            // Dropping the runtime cancels the Pods' tasks; their children are killed on drop.
            rt.shutdown_timeout(Duration::from_secs(5));
        });
        Kubelet {
            stop,
            images,
            thread: Some(thread),
        }
    }

    /// Make `image` an agent image whose `/axon_entrypoint.sh` is the script `entrypoint`.
    pub fn add_image(&self, image: &str, entrypoint: &Path) {
        if let Ok(mut images) = self.images.lock() {
            images.insert(image.to_string(), entrypoint.to_path_buf());
        }
    }
}

impl Drop for Kubelet {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The kubelet's state, shared by its Pods' tasks.
#[derive(Clone)]
struct Node {
    config: KubeletConfig,
    images: Arc<Mutex<HashMap<String, PathBuf>>>,
    stop: Arc<AtomicBool>,
}

impl Node {
    async fn run(self) {
        let client = client(&self.config.kubeconfig, None).await;
        let pods: Api<Pod> = Api::all(client.clone());
        let mut seen: HashSet<String> = HashSet::new();
        let mut running = tokio::task::JoinSet::new();
        while !self.stop.load(Ordering::SeqCst) {
            if let Ok(list) = pods.list(&ListParams::default()).await {
                for pod in list.items {
                    let ns = pod.metadata.namespace.clone().unwrap_or_default();
                    let uid = pod.metadata.uid.clone().unwrap_or_default();
                    let finished = pod
                        .status
                        .as_ref()
                        .and_then(|s| s.phase.as_deref())
                        .is_some_and(|p| p == "Succeeded" || p == "Failed");
                    if !ns.starts_with(&self.config.namespace_prefix)
                        || finished
                        || pod.metadata.deletion_timestamp.is_some()
                        || !seen.insert(uid)
                    {
                        continue;
                    }
                    let node = self.clone();
                    let client = client.clone();
                    running.spawn(async move {
                        let name = pod.metadata.name.clone().unwrap_or_default();
                        if let Err(e) = node.run_pod(client, pod).await {
                            eprintln!("kubelet: Pod {ns}/{name}: {e}");
                        }
                    });
                }
            }
            while running.try_join_next().is_some() {}
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        running.abort_all();
        while running.join_next().await.is_some() {}
    }

    fn image_entrypoint(&self, image: &str) -> Option<PathBuf> {
        self.images.lock().ok()?.get(image).cloned()
    }

    /// Run one Pod to its end (or its deletion).
    async fn run_pod(&self, client: Client, pod: Pod) -> Result<(), String> {
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let spec = pod.spec.clone().ok_or("no spec")?;
        let dir = self.config.root.join(format!("{ns}-{name}-{uid}"));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let mut status = PodStatus::new(
            Api::namespaced(client.clone(), &ns),
            &name,
            &uid,
            spec.init_containers.as_deref().unwrap_or_default(),
            &spec.containers,
        );
        // Volumes: a directory each, ConfigMap and Secret items written from the API.
        let mut volumes: HashMap<String, PathBuf> = HashMap::new();
        for v in spec.volumes.iter().flatten() {
            let path = dir.join("volumes").join(&v.name);
            std::fs::create_dir_all(&path).map_err(|e| e.to_string())?;
            if let Some(cm) = &v.config_map {
                let api: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
                let found = api.get(&cm.name).await.map_err(|e| e.to_string())?;
                let data = found.data.unwrap_or_default();
                write_items(&path, cm.items.as_deref(), |k| {
                    data.get(k).map(|s| s.as_bytes().to_vec())
                })?;
            }
            if let Some(s) = &v.secret {
                let api: Api<Secret> = Api::namespaced(client.clone(), &ns);
                let secret = s.secret_name.clone().unwrap_or_default();
                let found = api.get(&secret).await.map_err(|e| e.to_string())?;
                let data = found.data.unwrap_or_default();
                write_items(&path, s.items.as_deref(), |k| {
                    data.get(k).map(|b| b.0.clone())
                })?;
            }
            volumes.insert(v.name.clone(), path);
        }
        // A kubeconfig as its ServiceAccount, when it mounts the token.
        let kubeconfig = if spec.automount_service_account_token.unwrap_or(true) {
            let sa = spec
                .service_account_name
                .clone()
                .unwrap_or_else(|| "default".into());
            let path = dir.join("kubeconfig");
            let text = std::fs::read_to_string(&self.config.kubeconfig)
                .map_err(|e| e.to_string())?
                .replace(
                    "user: {token:",
                    &format!("user: {{as: \"system:serviceaccount:{ns}:{sa}\", token:"),
                );
            std::fs::write(&path, text).map_err(|e| e.to_string())?;
            Some(path)
        } else {
            None
        };
        let pod_ctx = PodContext {
            client: client.clone(),
            ns: ns.clone(),
            dir: dir.clone(),
            volumes,
            kubeconfig,
        };

        status.start().await;
        for (i, c) in spec.init_containers.iter().flatten().enumerate() {
            let Some(state) = self
                .run_container(&pod_ctx, c, &mut status, Slot::Init(i))
                .await
            else {
                return Ok(());
            };
            if state.exit_code != 0 {
                status.phase = "Failed";
                status.patch().await;
                return Ok(());
            }
        }
        status.phase = "Running";
        let mut codes = Vec::new();
        let runs = spec.containers.iter().enumerate().map(|(i, c)| {
            let mut own = status.clone();
            let ctx = &pod_ctx;
            async move {
                let r = self.run_container(ctx, c, &mut own, Slot::Main(i)).await;
                (i, r, own)
            }
        });
        for (i, r, own) in futures::future::join_all(runs).await {
            let Some(state) = r else { return Ok(()) };
            status.main[i] = own.main[i].clone();
            codes.push(state.exit_code);
        }
        status.phase = if codes.iter().all(|c| *c == 0) {
            "Succeeded"
        } else {
            "Failed"
        };
        status.patch().await;
        Ok(())
    }

    /// Run one container to its end; `None` when the Pod went away meanwhile or the container
    /// cannot start (its waiting state is written).
    async fn run_container(
        &self,
        pod: &PodContext,
        c: &Container,
        status: &mut PodStatus,
        slot: Slot,
    ) -> Option<Ended> {
        let image = c.image.clone().unwrap_or_default();
        // The image: Axon's (`axon`), or a custom agent image (its entrypoint script).
        let mut maps: Vec<(String, String)> = Vec::new();
        let entrypoint: Vec<String> = if image == self.config.axon_image {
            vec![self.config.axon_bin.display().to_string()]
        } else if let Some(script) = self.image_entrypoint(&image) {
            maps.push((ENTRYPOINT.into(), script.display().to_string()));
            vec![script.display().to_string()]
        } else {
            status.set(
                slot,
                waiting(
                    "ImagePullBackOff",
                    &format!("Back-off pulling image \"{image}\""),
                ),
            );
            status.patch().await;
            return None;
        };
        for m in c.volume_mounts.iter().flatten() {
            if let Some(dir) = pod.volumes.get(&m.name) {
                maps.push((m.mount_path.clone(), dir.display().to_string()));
            }
        }
        let term_path = c
            .termination_message_path
            .clone()
            .unwrap_or_else(|| TERMINATION_LOG.into());
        let term_file = pod.dir.join(format!("termination-{}", c.name));
        maps.push((term_path, term_file.display().to_string()));
        maps.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));

        // The environment, `valueFrom.secretKeyRef` resolved as the kubelet does.
        let mut env: Vec<(String, String)> = vec![
            (
                "PATH".into(),
                std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into()),
            ),
            ("HOME".into(), pod.dir.join("home").display().to_string()),
        ];
        env.extend(self.config.extra_env.iter().cloned());
        if let Some(k) = &pod.kubeconfig {
            env.push(("KUBECONFIG".into(), k.display().to_string()));
        }
        for e in c.env.iter().flatten() {
            let value = match (
                &e.value,
                e.value_from
                    .as_ref()
                    .and_then(|f| f.secret_key_ref.as_ref()),
            ) {
                (Some(v), _) => v.clone(),
                (None, Some(r)) => {
                    let api: Api<Secret> = Api::namespaced(pod.client.clone(), &pod.ns);
                    let found = api.get_opt(&r.name).await.ok().flatten();
                    let value = found
                        .as_ref()
                        .and_then(|s| s.data.as_ref())
                        .and_then(|d| d.get(&r.key))
                        .map(|b| String::from_utf8_lossy(&b.0).into_owned());
                    match (found.is_some(), value) {
                        (_, Some(v)) => v,
                        (exists, None) => {
                            let why = if exists {
                                format!(
                                    "couldn't find key {} in Secret {}/{}",
                                    r.key, pod.ns, r.name
                                )
                            } else {
                                format!("secret \"{}\" not found", r.name)
                            };
                            status.set(slot, waiting("CreateContainerConfigError", &why));
                            status.patch().await;
                            return None;
                        }
                    }
                }
                (None, None) => String::new(),
            };
            env.push((e.name.clone(), remap(&value, &maps)));
        }
        let mut argv: Vec<String> = match &c.command {
            Some(cmd) => cmd.clone(),
            None => entrypoint,
        };
        if argv.first().is_some_and(|a| a == "axon") {
            argv[0] = self.config.axon_bin.display().to_string();
        }
        argv.extend(c.args.iter().flatten().cloned());
        let argv: Vec<String> = argv.iter().map(|a| remap(a, &maps)).collect();
        let cwd = c
            .working_dir
            .as_deref()
            .map(|w| PathBuf::from(remap(w, &maps)))
            .unwrap_or_else(|| pod.dir.clone());
        let _ = std::fs::create_dir_all(pod.dir.join("home"));

        let log_path = pod.dir.join(format!("{}.log", c.name));
        let log = std::fs::File::create(&log_path).ok()?;
        let mut cmd = tokio::process::Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .env_clear()
            .envs(env)
            .current_dir(&cwd)
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().ok()?)
            .stderr(log)
            .process_group(0)
            .kill_on_drop(true);
        let started = now();
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                status.set(
                    slot,
                    json!({"terminated": {"exitCode": 128, "reason": "StartError",
                        "message": format!("{}: {e}", argv[0]), "startedAt": started,
                        "finishedAt": now()}}),
                );
                return Some(Ended { exit_code: 128 });
            }
        };
        let pid = child.id();
        status.set(slot, json!({"running": {"startedAt": started}}));
        status.patch().await;
        let code = loop {
            tokio::select! {
                r = child.wait() => break r.ok().and_then(|s| s.code()).unwrap_or(137),
                () = tokio::time::sleep(Duration::from_millis(300)) => {
                    if self.stop.load(Ordering::SeqCst) || status.gone().await {
                        if let Some(pid) = pid {
                            let _ = std::process::Command::new("kill")
                                .args(["-KILL", "--", &format!("-{pid}")])
                                .status();
                        }
                        let _ = child.wait().await;
                        return None;
                    }
                }
            }
        };
        // The agent's wrapper may have left background processes in the group: gone with it.
        if let Some(pid) = pid {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stderr(std::process::Stdio::null())
                .status();
        }
        let mut message = std::fs::read(&term_file).unwrap_or_default();
        if message.is_empty()
            && code != 0
            && c.termination_message_policy.as_deref() == Some("FallbackToLogsOnError")
        {
            let text = std::fs::read_to_string(&log_path).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(80)..].join("\n");
            message = tail.into_bytes();
            message = message[message.len().saturating_sub(2048)..].to_vec();
        }
        message.truncate(MESSAGE_LIMIT);
        status.set(
            slot,
            json!({"terminated": {"exitCode": code,
                "reason": if code == 0 { "Completed" } else { "Error" },
                "message": String::from_utf8_lossy(&message), "startedAt": started,
                "finishedAt": now()}}),
        );
        status.patch().await;
        Some(Ended { exit_code: code })
    }
}

/// What a Pod's containers share.
struct PodContext {
    client: Client,
    ns: String,
    dir: PathBuf,
    volumes: HashMap<String, PathBuf>,
    kubeconfig: Option<PathBuf>,
}

struct Ended {
    exit_code: i32,
}

#[derive(Clone, Copy)]
enum Slot {
    Init(usize),
    Main(usize),
}

/// The Pod's status as this kubelet last wrote it.
#[derive(Clone)]
struct PodStatus {
    api: Api<Pod>,
    name: String,
    uid: String,
    phase: &'static str,
    start_time: String,
    init: Vec<Value>,
    main: Vec<Value>,
}

impl PodStatus {
    fn new(
        api: Api<Pod>,
        name: &str,
        uid: &str,
        init: &[Container],
        main: &[Container],
    ) -> PodStatus {
        let status = |c: &Container, reason: &str| {
            container_status(
                &c.name,
                c.image.as_deref().unwrap_or_default(),
                json!({"waiting": {"reason": reason}}),
            )
        };
        PodStatus {
            api,
            name: name.to_string(),
            uid: uid.to_string(),
            phase: "Pending",
            start_time: now(),
            init: init.iter().map(|c| status(c, "PodInitializing")).collect(),
            main: main.iter().map(|c| status(c, "PodInitializing")).collect(),
        }
    }

    async fn start(&mut self) {
        self.patch().await;
    }

    fn set(&mut self, slot: Slot, state: Value) {
        let entry = match slot {
            Slot::Init(i) => self.init.get_mut(i),
            Slot::Main(i) => self.main.get_mut(i),
        };
        if let Some(e) = entry {
            e["state"] = state;
        }
    }

    async fn patch(&self) {
        let body = json!({"status": {"phase": self.phase, "startTime": self.start_time,
            "initContainerStatuses": self.init, "containerStatuses": self.main}});
        // A Pod deleted meanwhile cannot be written: nothing to do then.
        let _ = self
            .api
            .patch_status(&self.name, &PatchParams::default(), &Patch::Merge(&body))
            .await;
    }

    /// Whether the Pod was deleted (or is being deleted, or replaced by another of its name).
    async fn gone(&self) -> bool {
        match self.api.get_opt(&self.name).await {
            Ok(Some(p)) => {
                p.metadata.deletion_timestamp.is_some()
                    || p.metadata.uid.as_deref() != Some(self.uid.as_str())
            }
            Ok(None) => true,
            Err(_) => false,
        }
    }
}

/// Write a ConfigMap's or Secret's items (all keys when `items` is absent) under `dir`.
fn write_items(
    dir: &Path,
    items: Option<&[k8s_openapi::api::core::v1::KeyToPath]>,
    value: impl Fn(&str) -> Option<Vec<u8>>,
) -> Result<(), String> {
    let pairs: Vec<(String, String)> = match items {
        Some(items) => items
            .iter()
            .map(|i| (i.key.clone(), i.path.clone()))
            .collect(),
        None => Vec::new(),
    };
    for (key, path) in pairs {
        let bytes = value(&key).ok_or_else(|| format!("no key {key}"))?;
        let file = dir.join(&path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        std::fs::write(&file, bytes).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Rewrite the container paths of `s` (mount paths and the like, `maps` longest first) to
/// host paths, where a path starts (after a space, quote, `=`, `:`, `(`, `<`, `>` or at the
/// start) and ends (at `/`, the end, or a character no path name part has here).
pub fn remap(s: &str, maps: &[(String, String)]) -> String {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let starts = i == 0
            || matches!(
                bytes[i - 1],
                b' ' | b'"' | b'\'' | b'=' | b':' | b'(' | b'<' | b'>' | b'\n' | b'\t'
            );
        if starts
            && let Some((from, to)) = maps.iter().find(|(from, _)| {
                s[i..].starts_with(from.as_str())
                    && s[i + from.len()..].chars().next().is_none_or(|c| {
                        c == '/' || !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
                    })
            })
        {
            out.push_str(to);
            i += from.len();
            continue;
        }
        let c = s[i..].chars().next().unwrap_or(' ');
        out.push(c);
        i += c.len_utf8();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remaps_paths_at_their_boundaries_only() {
        let maps = vec![
            ("/axon/claims".to_string(), "/h/claims".to_string()),
            ("/tmp".to_string(), "/h/tmp".to_string()),
            ("/workspace".to_string(), "/h/ws".to_string()),
        ];
        assert_eq!(
            remap(
                "echo \"$code\" > /axon/claims/exit-code; cd /workspace/repo",
                &maps
            ),
            "echo \"$code\" > /h/claims/exit-code; cd /h/ws/repo"
        );
        assert_eq!(
            remap("/tmpfoo /x/tmp HOME=/tmp", &maps),
            "/tmpfoo /x/tmp HOME=/h/tmp"
        );
        assert_eq!(remap("/workspaces", &maps), "/workspaces");
    }

    #[test]
    fn rfc3339_from_unix_days() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(20_454), (2026, 1, 1));
    }
}
