//! The CLI's client for a cluster: the same operations as the local backend (apply, get, list,
//! delete, Secrets, wait), against the API server, in the kubeconfig's current context unless
//! told otherwise. Logs and install/uninstall live in their own files.

use crate::error::{KubeError, is_object_missing};
use crate::names::{CLI_FIELD_MANAGER, LABEL_MANAGED_BY};
use axon_api::{AgentConfig, Kind, Resource, Task, TaskSpawner, Workspace};
use axon_core::apply::{ApplyOutcome, apply_outcome};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::wait::await_condition;
use kube::{Client, Config};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::Path;

/// Log directives the CLI adds to its default filter: kube's TLS layer warns "Server cert
/// bypassed" on every connection to a cluster whose kubeconfig sets
/// `insecure-skip-tls-verify`, which would print on every command; [`KubeBackend::connect`]
/// logs it once at debug instead. An explicit `AXON_LOG` filter is used as given.
pub const QUIET_LOG_DIRECTIVES: &str = "kube_client::client::tls=error";

/// A connection to a cluster, in one namespace.
#[derive(Clone)]
pub struct KubeBackend {
    pub(crate) client: Client,
    namespace: String,
}

impl KubeBackend {
    /// Connect with `kubeconfig` (default: `KUBECONFIG`, `~/.kube/config`, or in-cluster), in
    /// `namespace` (default: the context's namespace, else `default`).
    pub async fn connect(
        kubeconfig: Option<&Path>,
        namespace: Option<&str>,
    ) -> Result<KubeBackend, KubeError> {
        crate::tls::install_crypto_provider();
        let config = match kubeconfig {
            Some(path) => {
                let kc = Kubeconfig::read_from(path).map_err(|e| KubeError::Config {
                    path: Some(path.display().to_string()),
                    reason: e.to_string(),
                })?;
                Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
                    .await
                    .map_err(|e| KubeError::Config {
                        path: Some(path.display().to_string()),
                        reason: e.to_string(),
                    })?
            }
            None => Config::infer().await.map_err(|e| KubeError::Config {
                path: None,
                reason: e.to_string(),
            })?,
        };
        if config.accept_invalid_certs {
            // kube's TLS layer warns "Server cert bypassed" on every connection; the CLI
            // silences it (see `QUIET_LOG_DIRECTIVES`) and says it once here, at debug.
            tracing::debug!(
                cluster = %config.cluster_url,
                "the kubeconfig skips TLS verification of the API server (insecure-skip-tls-verify)"
            );
        }
        let namespace = namespace
            .map(str::to_string)
            .unwrap_or_else(|| config.default_namespace.clone());
        let client = Client::try_from(config).map_err(|e| KubeError::Connect(e.to_string()))?;
        Ok(KubeBackend { client, namespace })
    }

    /// A backend over an existing client (tests, the controller).
    pub fn from_client(client: Client, namespace: &str) -> KubeBackend {
        KubeBackend {
            client,
            namespace: namespace.to_string(),
        }
    }

    /// The namespace every operation uses.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>,
    {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    async fn apply_typed<K>(&self, obj: &K) -> Result<ApplyOutcome, KubeError>
    where
        K: kube::Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
            + Clone
            + Debug
            + Serialize
            + DeserializeOwned,
    {
        let api: Api<K> = self.api();
        let name = obj.meta().name.clone().unwrap_or_default();
        let what = format!("apply {} {}/{name}", K::kind(&()), self.namespace);
        let stored = get_opt(&api, &name)
            .await
            .map_err(|e| KubeError::api(what.clone(), e))?;
        let mut obj = obj.clone();
        obj.meta_mut().namespace = Some(self.namespace.clone());
        obj.meta_mut().resource_version = None;
        obj.meta_mut().uid = None;
        obj.meta_mut().managed_fields = None;
        let applied = serde_json::to_value(&obj).map_err(|e| KubeError::Serde {
            what: what.clone(),
            reason: e.to_string(),
        })?;
        let stored = stored
            .map(|s| serde_json::to_value(&s))
            .transpose()
            .map_err(|e| KubeError::Serde {
                what: what.clone(),
                reason: e.to_string(),
            })?;
        let pp = PatchParams::apply(CLI_FIELD_MANAGER).force();
        api.patch(&name, &pp, &Patch::Apply(&obj))
            .await
            .map_err(|e| KubeError::api(what, e))?;
        Ok(apply_outcome(stored.as_ref(), &applied))
    }

    /// Server-side apply (field manager `axon`): created, configured or unchanged. A Task
    /// whose prompt does not fit a ConfigMap is refused before anything is sent.
    pub async fn apply(&self, r: Resource) -> Result<ApplyOutcome, KubeError> {
        match r {
            Resource::Task(t) => {
                crate::prompt::check_prompt(&t.spec.prompt)?;
                self.apply_typed(&*t).await
            }
            Resource::Workspace(w) => self.apply_typed(&*w).await,
            Resource::AgentConfig(a) => self.apply_typed(&*a).await,
            Resource::TaskSpawner(s) => self.apply_typed(&*s).await,
        }
    }

    /// One resource, or `None` when it does not exist.
    pub async fn get(&self, kind: Kind, name: &str) -> Result<Option<Resource>, KubeError> {
        let what = format!("get {kind} {}/{name}", self.namespace);
        let err = |e| KubeError::api(what.clone(), e);
        Ok(match kind {
            Kind::Task => get_opt(&self.api::<Task>(), name)
                .await
                .map_err(err)?
                .map(|r| Resource::Task(Box::new(shown(r)))),
            Kind::Workspace => get_opt(&self.api::<Workspace>(), name)
                .await
                .map_err(err)?
                .map(|r| Resource::Workspace(Box::new(shown(r)))),
            Kind::AgentConfig => get_opt(&self.api::<AgentConfig>(), name)
                .await
                .map_err(err)?
                .map(|r| Resource::AgentConfig(Box::new(shown(r)))),
            Kind::TaskSpawner => get_opt(&self.api::<TaskSpawner>(), name)
                .await
                .map_err(err)?
                .map(|r| Resource::TaskSpawner(Box::new(shown(r)))),
        })
    }

    /// Every resource of a kind in the namespace, by name.
    pub async fn list(&self, kind: Kind) -> Result<Vec<Resource>, KubeError> {
        let what = format!("list {} in {}", kind.plural(), self.namespace);
        let lp = ListParams::default();
        let err = |e| KubeError::api(what.clone(), e);
        let mut out: Vec<Resource> = match kind {
            Kind::Task => self
                .api::<Task>()
                .list(&lp)
                .await
                .map_err(err)?
                .items
                .into_iter()
                .map(|r| Resource::Task(Box::new(shown(r))))
                .collect(),
            Kind::Workspace => self
                .api::<Workspace>()
                .list(&lp)
                .await
                .map_err(err)?
                .items
                .into_iter()
                .map(|r| Resource::Workspace(Box::new(shown(r))))
                .collect(),
            Kind::AgentConfig => self
                .api::<AgentConfig>()
                .list(&lp)
                .await
                .map_err(err)?
                .items
                .into_iter()
                .map(|r| Resource::AgentConfig(Box::new(shown(r))))
                .collect(),
            Kind::TaskSpawner => self
                .api::<TaskSpawner>()
                .list(&lp)
                .await
                .map_err(err)?
                .items
                .into_iter()
                .map(|r| Resource::TaskSpawner(Box::new(shown(r))))
                .collect(),
        };
        out.sort_by(|a, b| a.name().cmp(b.name()));
        Ok(out)
    }

    /// Delete a resource (its Job, Pods and ConfigMap follow by owner reference). `false` when
    /// it did not exist.
    pub async fn delete(&self, kind: Kind, name: &str) -> Result<bool, KubeError> {
        let what = format!("delete {kind} {}/{name}", self.namespace);
        let dp = DeleteParams::background();
        let result = match kind {
            Kind::Task => self.api::<Task>().delete(name, &dp).await.map(|_| ()),
            Kind::Workspace => self.api::<Workspace>().delete(name, &dp).await.map(|_| ()),
            Kind::AgentConfig => self
                .api::<AgentConfig>()
                .delete(name, &dp)
                .await
                .map(|_| ()),
            Kind::TaskSpawner => self
                .api::<TaskSpawner>()
                .delete(name, &dp)
                .await
                .map(|_| ()),
        };
        match result {
            Ok(()) => Ok(true),
            Err(e) if is_object_missing(&e) => Ok(false),
            Err(e) => Err(KubeError::api(what, e)),
        }
    }

    /// Create or update a Secret with these keys (server-side apply: running it twice is a
    /// no-op). Values never appear in errors.
    pub async fn create_secret(
        &self,
        name: &str,
        data: BTreeMap<String, String>,
    ) -> Result<(), KubeError> {
        // Each value as sent (base64) and as given, to scrub from an error's message.
        let values: Vec<String> = data
            .values()
            .flat_map(|v| {
                let encoded = serde_json::to_value(ByteString(v.clone().into_bytes()))
                    .ok()
                    .and_then(|e| e.as_str().map(str::to_string));
                [Some(v.clone()), encoded].into_iter().flatten()
            })
            .collect();
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                namespace: Some(self.namespace.clone()),
                labels: Some(BTreeMap::from([(
                    LABEL_MANAGED_BY.to_string(),
                    "axon".to_string(),
                )])),
                ..Default::default()
            },
            data: Some(
                data.into_iter()
                    .map(|(k, v)| (k, ByteString(v.into_bytes())))
                    .collect(),
            ),
            type_: Some("Opaque".into()),
            ..Default::default()
        };
        let pp = PatchParams::apply(CLI_FIELD_MANAGER).force();
        self.api::<Secret>()
            .patch(name, &pp, &Patch::Apply(&secret))
            .await
            .map_err(|e| {
                KubeError::api(format!("create Secret {}/{name}", self.namespace), e)
                    .redact(&values)
            })?;
        Ok(())
    }

    /// Whether a Secret exists.
    pub async fn secret_exists(&self, name: &str) -> Result<bool, KubeError> {
        // Metadata only: the Secret's data is never fetched.
        let api = self.api::<Secret>();
        match api.get_metadata_opt(name).await {
            Ok(m) => Ok(m.is_some()),
            Err(e) => Err(KubeError::api(
                format!("get Secret {}/{name}", self.namespace),
                e,
            )),
        }
    }

    /// Wait until the Task finishes (Succeeded, Failed or Cancelled) and return it.
    pub async fn wait(&self, task: &str) -> Result<Task, KubeError> {
        let api = self.api::<Task>();
        // A Task deleted before it was seen finished (ttlSecondsAfterFinished: 0, or a user's
        // delete) ends the wait too, as NotFound, instead of waiting forever.
        let finished = |t: Option<&Task>| {
            t.is_none_or(|t| {
                t.status
                    .as_ref()
                    .and_then(|s| s.phase)
                    .is_some_and(|p| p.is_finished())
            })
        };
        let done = await_condition(api, task, finished)
            .await
            .map_err(|e| KubeError::Api {
                what: format!("watch Task {}/{task}", self.namespace),
                reason: e.to_string(),
            })?;
        done.ok_or_else(|| KubeError::NotFound {
            kind: "Task".into(),
            name: task.to_string(),
            namespace: self.namespace.clone(),
        })
    }
}

/// A resource as the CLI shows it: without `managedFields` (server-side apply bookkeeping that
/// says nothing to a reader and buries the spec in `get -o yaml`).
fn shown<K: kube::Resource>(mut r: K) -> K {
    r.meta_mut().managed_fields = None;
    r
}

/// `api.get`, `None` when the object does not exist; a resource type that is not installed
/// stays an error (`Api::get_opt` would read it as a missing object).
async fn get_opt<K>(api: &Api<K>, name: &str) -> Result<Option<K>, kube::Error>
where
    K: kube::Resource + Clone + Debug + DeserializeOwned,
{
    match api.get(name).await {
        Ok(obj) => Ok(Some(obj)),
        Err(e) if is_object_missing(&e) => Ok(None),
        Err(e) => Err(e),
    }
}
