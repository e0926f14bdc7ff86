//! The Kubernetes driver: one real control plane per test binary (`up.sh`, stopped with the
//! [`Cluster`]), Axon installed into it with `axon install`, `axon controller` run out of
//! cluster as a child process, and the test kubelet of `axon_testsupport::kubelet` running
//! every Pod of the scenarios' namespaces (`conf-*`) as host processes: the real `axon` binary
//! for the Axon image (`prepare`, `results`, the spawner Deployment) and the scenario's agent
//! script for its custom image. Each space is a fresh namespace.

use crate::space::{Backend, Run, Space};
use axon_testsupport::kube_plane::ControlPlane;
use axon_testsupport::kubelet::{Kubelet, KubeletConfig, client};
use k8s_openapi::api::core::v1::{Event, Namespace};
use kube::api::{Api, ListParams, PostParams};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The Axon image the controller is given; the kubelet runs it as the `axon` binary.
pub const AXON_IMAGE: &str = "conformance.invalid/axon:test";
/// Namespaces of the scenarios start with this (the kubelet runs only their Pods).
pub const NS_PREFIX: &str = "conf-";

/// The control plane, the controller and the kubelet, for every space of the run.
pub struct Cluster {
    // Field order is drop order: the kubelet and the controller stop before the plane.
    kubelet: Kubelet,
    controller: Child,
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
        let log = std::fs::File::create(plane.dir().join("controller.log")).expect("log");
        let controller = Command::new(&axon_bin)
            // No gateway runs in this cluster yet (the test kubelet runs Pods as host
            // processes, where the gateway's Service name does not resolve): Tasks run with
            // their Secrets, as on a cluster migrating to the gateway.
            .args([
                "controller",
                "--metrics-addr=127.0.0.1:0",
                "--leader-elect=false",
                "--gateway=false",
            ])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", plane.dir())
            .env("KUBECONFIG", plane.kubeconfig())
            .env("AXON_IMAGE", AXON_IMAGE)
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
            axon_bin,
            plane,
        }
    }

    /// Where the components' logs are (printed when a scenario fails).
    pub fn dir(&self) -> &Path {
        self.plane.dir()
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
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.controller.kill();
        let _ = self.controller.wait();
    }
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

    fn spending_agent(&self, input: u64, output: u64) -> String {
        let image = axon_kube::names::default_agent_image(
            axon_api::AgentType::ClaudeCode,
            axon_kube::names::VERSION,
        );
        let claims = serde_json::json!({
            "agentType": "claude-code",
            "usage": {"inputTokens": input, "outputTokens": output, "turns": 1},
            "success": true,
        });
        let path = self.dir.join(format!("spend-{input}-{output}.sh"));
        std::fs::write(
            &path,
            format!("#!/bin/sh\nprintf '%s' '{claims}' > \"$AXON_RESULTS_FILE\"\n"),
        )
        .expect("agent");
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        // One default image for the whole cluster: the only scenario that uses it sets it.
        self.cluster.kubelet.add_image(&image, &path);
        String::new()
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
}
