//! The Kubernetes driver: one real control plane per test binary (`up.sh`, stopped with the
//! [`Cluster`]), Axon installed into it with `axon install`, `axon controller` and `axon
//! gateway` run out of cluster as child processes (the gateway on 127.0.0.1 with the Secret
//! `install` made, the controller told its address with `AXON_GATEWAY_URL`, so Tasks run
//! through the gateway as they do by default in a cluster), and the test kubelet of
//! `axon_testsupport::kubelet` running every Pod of the scenarios' namespaces (`conf-*`) as host
//! processes: the real `axon` binary for the Axon image (`prepare`, `results`, the spawner
//! Deployment) and the scenario's agent script for its custom image. Each space is a fresh
//! namespace.

use crate::space::{Backend, Run, Space};
use axon_testsupport::kube_plane::ControlPlane;
use axon_testsupport::kubelet::{Kubelet, KubeletConfig, client};
use axon_testsupport::model_server::FakeModelServer;
use k8s_openapi::api::core::v1::{Event, Namespace, Pod};
use kube::api::{Api, ListParams, PostParams};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The Axon image the controller is given; the kubelet runs it as the `axon` binary.
pub const AXON_IMAGE: &str = "conformance.invalid/axon:test";
/// Namespaces of the scenarios start with this (the kubelet runs only their Pods).
pub const NS_PREFIX: &str = "conf-";

/// The control plane, the controller and the kubelet, for every space of the run.
pub struct Cluster {
    // Field order is drop order: the kubelet, the controller and the gateway stop before the
    // plane.
    kubelet: Kubelet,
    controller: Child,
    gateway: Child,
    axon_bin: PathBuf,
    plane: ControlPlane,
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

impl Cluster {
    /// Start the plane (`up`), install Axon, start the controller and the kubelet; `github`
    /// is the fake GitHub the spawners' Pods are pointed at.
    pub fn start(up: &Path, axon_bin: PathBuf, github: &str) -> Cluster {
        let plane = ControlPlane::start(up);
        let install = axon(
            &axon_bin,
            &plane.kubeconfig(),
            &plane.dir().join("axon-home"),
            &[
                "install",
                "--version",
                "test",
                "--image",
                AXON_IMAGE,
                "--no-wait",
            ],
        );
        assert!(install.ok(), "{install}");
        let (gateway, gateway_url) = start_gateway(&plane, &axon_bin);
        let log = std::fs::File::create(plane.dir().join("controller.log")).expect("log");
        // The Pods, host processes here, reach the gateway at its address on 127.0.0.1
        // rather than at its Service's name.
        let controller = Command::new(&axon_bin)
            .args([
                "controller",
                "--metrics-addr=127.0.0.1:0",
                "--leader-elect=false",
            ])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", plane.dir())
            .env("KUBECONFIG", plane.kubeconfig())
            .env("AXON_IMAGE", AXON_IMAGE)
            .env("AXON_GATEWAY_URL", &gateway_url)
            .env("AXON_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("axon controller");
        let kubelet = Kubelet::start(KubeletConfig {
            kubeconfig: plane.kubeconfig(),
            root: plane.dir().join("node"),
            namespace_prefix: NS_PREFIX.into(),
            axon_image: AXON_IMAGE.into(),
            axon_bin: axon_bin.clone(),
            extra_env: vec![("AXON_GITHUB_API_URL".into(), github.into())],
        });
        Cluster {
            kubelet,
            controller,
            gateway,
            axon_bin,
            plane,
        }
    }

    /// Where the components' logs are (printed when a scenario fails).
    pub fn dir(&self) -> &Path {
        self.plane.dir()
    }

    /// Make `image` one whose `/axon_entrypoint.sh` is the script at `entrypoint` (the test
    /// kubelet runs it as a host process). Used by `agents_kube`, not by the scenarios.
    #[allow(dead_code)]
    pub fn add_image(&self, image: &str, entrypoint: &Path) {
        self.kubelet.add_image(image, entrypoint);
    }

    /// A fresh namespace for `scenario`.
    pub fn space(&self, scenario: &str) -> KubeSpace<'_> {
        let ns = format!("{NS_PREFIX}{}", scenario.replace('_', "-"));
        let kubeconfig = self.plane.kubeconfig();
        block_on(async {
            let c = client(&kubeconfig, None).await;
            let api: Api<Namespace> = Api::all(c);
            let n: Namespace =
                serde_json::from_value(serde_json::json!({"metadata": {"name": ns}}))
                    .expect("namespace");
            api.create(&PostParams::default(), &n)
                .await
                .unwrap_or_else(|e| panic!("create namespace {ns}: {e}"));
        });
        let dir = self.plane.dir().join("spaces").join(&ns);
        std::fs::create_dir_all(&dir).expect("space dir");
        KubeSpace {
            cluster: self,
            ns,
            dir,
            models: std::sync::Mutex::new(Vec::new()),
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in [&mut self.controller, &mut self.gateway] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `axon gateway --backend=kubernetes` on a free port of 127.0.0.1, its Secret (as `install`
/// made it) written where the Deployment would mount it; audit lines go to `gateway-audit.log`,
/// logs to `gateway.log`. Returns once it accepts connections.
fn start_gateway(plane: &ControlPlane, axon_bin: &Path) -> (Child, String) {
    use k8s_openapi::api::core::v1::Secret;
    let secret_dir = plane.dir().join("gateway-secret");
    std::fs::create_dir_all(&secret_dir).expect("secret dir");
    let kubeconfig = plane.kubeconfig();
    let secret: Secret = block_on(async {
        let c = client(&kubeconfig, None).await;
        Api::<Secret>::namespaced(c, "axon-system")
            .get("axon-gateway")
            .await
            .expect("install made the gateway Secret")
    });
    for (k, v) in secret.data.unwrap_or_default() {
        std::fs::write(secret_dir.join(k), &v.0).expect("write the Secret's key");
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let listen = format!("127.0.0.1:{port}");
    let gateway = Command::new(axon_bin)
        .args(["gateway", "--backend=kubernetes", "--listen", &listen])
        .arg("--secret-dir")
        .arg(&secret_dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", plane.dir())
        .env("KUBECONFIG", &kubeconfig)
        .env("AXON_LOG", "info")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(plane.dir().join("gateway-audit.log")).expect("log"))
        .stderr(std::fs::File::create(plane.dir().join("gateway.log")).expect("log"))
        .spawn()
        .expect("axon gateway");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::net::TcpStream::connect(&listen).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the gateway did not listen on {listen}: see {}",
            plane.dir().join("gateway.log").display()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    (gateway, format!("http://{listen}"))
}

fn axon(bin: &Path, kubeconfig: &Path, home: &Path, args: &[&str]) -> Run {
    let out = Command::new(bin)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("AXON_HOME", home)
        .env("KUBECONFIG", kubeconfig)
        .stdin(Stdio::null())
        .output()
        .expect("run axon");
    Run {
        what: format!("axon {}", args.join(" ")),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// One scenario's namespace.
pub struct KubeSpace<'a> {
    cluster: &'a Cluster,
    ns: String,
    dir: PathBuf,
    models: std::sync::Mutex<Vec<FakeModelServer>>,
}

impl Space for KubeSpace<'_> {
    fn backend(&self) -> Backend {
        Backend::Kubernetes
    }

    fn axon(&self, args: &[&str]) -> Run {
        let mut all = vec!["--backend=kubernetes", "-n", &self.ns];
        all.extend_from_slice(args);
        axon(
            &self.cluster.axon_bin,
            &self.cluster.plane.kubeconfig(),
            &self.dir.join("axon-home"),
            &all,
        )
    }

    fn agent_image(&self, name: &str, script: &str) -> String {
        let path = self.dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).expect("agent");
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        let image = format!(
            "conformance.invalid/{}-{}:1",
            self.ns,
            name.trim_end_matches(".sh")
        );
        self.cluster.kubelet.add_image(&image, &path);
        image
    }

    fn keep(&self, model: FakeModelServer) {
        if let Ok(mut models) = self.models.lock() {
            models.push(model);
        }
    }

    fn scratch(&self) -> PathBuf {
        self.dir.clone()
    }

    /// Every Event of the namespace: reason, message/note.
    fn events(&self) -> String {
        let kubeconfig = self.cluster.plane.kubeconfig();
        block_on(async {
            let c = client(&kubeconfig, None).await;
            let api: Api<Event> = Api::namespaced(c, &self.ns);
            api.list(&ListParams::default())
                .await
                .map(|l| {
                    l.items
                        .iter()
                        .map(|e| {
                            format!(
                                "{} {}",
                                e.reason.clone().unwrap_or_default(),
                                e.message.clone().unwrap_or_default()
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .unwrap_or_else(|e| format!("cannot list events: {e}"))
        })
    }

    fn serve_spawners(&self) {}

    /// Every Pod of the namespace, a deleted one included until it is gone.
    fn pods(&self) -> Vec<String> {
        let kubeconfig = self.cluster.plane.kubeconfig();
        block_on(async {
            let c = client(&kubeconfig, None).await;
            let api: Api<Pod> = Api::namespaced(c, &self.ns);
            match api.list(&ListParams::default()).await {
                Ok(l) => l
                    .items
                    .into_iter()
                    .filter_map(|p| p.metadata.name)
                    .collect(),
                Err(e) => vec![format!("cannot list Pods: {e}")],
            }
        })
    }
}
