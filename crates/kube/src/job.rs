//! A Task's run plan rendered into a `batch/v1` Job and the ConfigMap it mounts. Pure: the
//! same plan gives the same objects, so they are snapshot-tested per agent and credential type.
//!
//! The Pod has an init container (`axon workspace prepare`, the local backend's code) that
//! clones the Workspace into a shared `emptyDir` and writes `files[]`, reading the GitHub token
//! from a mounted Secret through a credential helper (never from args). The agent container
//! runs `/axon_entrypoint.sh PROMPT` in the work tree; its results document is the container's
//! termination message (`File` policy: never taken from logs, so a log cannot forge results).

use crate::names::{
    AGENT_CONFIG_DIR, AGENT_CONTAINER, ENTRYPOINT, GITHUB_SECRET_DIR, HOME_DIR, LABEL_AGENT_TYPE,
    LABEL_MANAGED_BY, LABEL_NAME, LABEL_TASK, PREPARE_CONTAINER, REPO_DIR, TERMINATION_LOG,
    WORKSPACE_DIR, WORKSPACE_FILES_DIR, config_map_name, default_agent_image,
};
use crate::security::{container_security_context, pod_security_context, resources};
use axon_api::Task;
use axon_core::plan::{EnvValue, GITHUB_TOKEN_KEY, RunPlan};
use axon_core::results::RESULTS_FILE_ENV;
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, Container, EmptyDirVolumeSource, EnvVar, EnvVarSource,
    KeyToPath, PodSpec, PodTemplateSpec, SecretKeySelector, SecretVolumeSource, Volume,
    VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Resource as _;
use std::collections::BTreeMap;

/// What the controller adds to a plan: where, with which images and resources.
#[derive(Clone, Debug, PartialEq)]
pub struct JobOptions {
    /// The `axon` image (init container).
    pub axon_image: String,
    /// Tag of the default agent images (`ghcr.io/axon-core/axon-<type>:<version>`).
    pub version: String,
}

const VOL_WORKSPACE: &str = "workspace";
const VOL_HOME: &str = "home";
const VOL_TMP: &str = "tmp";
const VOL_CONFIG: &str = "agent-config";
const VOL_FILES: &str = "workspace-files";
const VOL_GITHUB: &str = "github-token";

/// Key prefix of AgentConfig files in the ConfigMap (keys cannot hold `/`).
const AGENT_KEY: &str = "agent-";
/// Key prefix of Workspace files in the ConfigMap.
const FILE_KEY: &str = "file-";

/// Labels of a Task's Job, Pod and ConfigMap.
pub fn task_labels(plan: &RunPlan) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_TASK.to_string(), plan.task.clone()),
        (
            LABEL_AGENT_TYPE.to_string(),
            plan.agent_type.as_str().to_string(),
        ),
        (LABEL_MANAGED_BY.to_string(), "axon".to_string()),
        (LABEL_NAME.to_string(), "axon-agent".to_string()),
    ])
}

/// The controller owner reference to the Task (the Job and ConfigMap are deleted with it).
pub fn owner_reference(task: &Task) -> OwnerReference {
    task.controller_owner_ref(&())
        .unwrap_or_else(|| OwnerReference {
            api_version: axon_api::API_VERSION.into(),
            kind: "Task".into(),
            name: task.metadata.name.clone().unwrap_or_default(),
            uid: task.metadata.uid.clone().unwrap_or_default(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        })
}

fn meta(name: String, plan: &RunPlan, task: &Task) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: task.metadata.namespace.clone(),
        labels: Some(task_labels(plan)),
        owner_references: Some(vec![owner_reference(task)]),
        ..Default::default()
    }
}

/// The ConfigMap holding the AgentConfig files and the Workspace's `files[]`, or `None` when
/// the plan has neither. Large plugins travel here, not through arguments.
pub fn render_config_map(plan: &RunPlan, task: &Task) -> Option<ConfigMap> {
    let files = plan
        .repo
        .as_ref()
        .map(|r| r.files.as_slice())
        .unwrap_or_default();
    if plan.config_files.is_empty() && files.is_empty() {
        return None;
    }
    let mut data = BTreeMap::new();
    for (i, content) in plan.config_files.values().enumerate() {
        data.insert(format!("{AGENT_KEY}{i}"), content.clone());
    }
    for (i, (_, content)) in files.iter().enumerate() {
        data.insert(format!("{FILE_KEY}{i}"), content.clone());
    }
    Some(ConfigMap {
        metadata: meta(config_map_name(&plan.task), plan, task),
        data: Some(data),
        immutable: Some(true),
        ..Default::default()
    })
}

fn mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        read_only: read_only.then_some(true),
        ..Default::default()
    }
}

fn empty_dir(name: &str) -> Volume {
    Volume {
        name: name.into(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Default::default()
    }
}

fn literal(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        value_from: None,
    }
}

/// The agent container's environment: the plan's, in its order, then what the driver adds.
fn agent_env(plan: &RunPlan) -> Vec<EnvVar> {
    let mut env: Vec<EnvVar> = plan
        .env
        .iter()
        .map(|e| match &e.value {
            EnvValue::Literal(v) => literal(&e.name, v),
            EnvValue::ConfigPath(p) => literal(&e.name, &format!("{AGENT_CONFIG_DIR}/{p}")),
            EnvValue::Secret { secret, key } => EnvVar {
                name: e.name.clone(),
                value: None,
                value_from: Some(EnvVarSource {
                    secret_key_ref: Some(SecretKeySelector {
                        name: secret.clone(),
                        key: key.clone(),
                        optional: Some(false),
                    }),
                    ..Default::default()
                }),
            },
        })
        .collect();
    env.push(literal(RESULTS_FILE_ENV, TERMINATION_LOG));
    env.push(literal("HOME", HOME_DIR));
    env
}

/// The init container preparing the work tree, when the plan has a repository.
fn prepare_container(plan: &RunPlan, opts: &JobOptions) -> Option<Container> {
    let repo = plan.repo.as_ref()?;
    let mut args = vec![
        "workspace".to_string(),
        "prepare".into(),
        "--repo".into(),
        repo.url.clone(),
    ];
    if let Some(r) = &repo.git_ref {
        args.extend(["--ref".into(), r.clone()]);
    }
    args.extend(["--dest".into(), REPO_DIR.into()]);
    let mut mounts = vec![
        mount(VOL_WORKSPACE, WORKSPACE_DIR, false),
        mount(VOL_HOME, HOME_DIR, false),
        mount(VOL_TMP, "/tmp", false),
    ];
    if repo.token_secret.is_some() {
        args.extend([
            "--token-file".into(),
            format!("{GITHUB_SECRET_DIR}/{GITHUB_TOKEN_KEY}"),
        ]);
        mounts.push(mount(VOL_GITHUB, GITHUB_SECRET_DIR, true));
    }
    if !repo.files.is_empty() {
        args.extend(["--files-dir".into(), WORKSPACE_FILES_DIR.into()]);
        mounts.push(mount(VOL_FILES, WORKSPACE_FILES_DIR, true));
    }
    Some(Container {
        name: PREPARE_CONTAINER.into(),
        image: Some(opts.axon_image.clone()),
        image_pull_policy: Some("IfNotPresent".into()),
        command: Some(vec!["axon".into()]),
        args: Some(args),
        env: Some(vec![literal("HOME", HOME_DIR)]),
        volume_mounts: Some(mounts),
        security_context: Some(container_security_context()),
        resources: Some(resources("100m", "128Mi", "1", "1Gi")),
        termination_message_path: Some(TERMINATION_LOG.into()),
        termination_message_policy: Some("FallbackToLogsOnError".into()),
        ..Default::default()
    })
}

/// Render the Job for `plan`, owned by `task`.
pub fn render_job(plan: &RunPlan, task: &Task, opts: &JobOptions) -> Job {
    let has_repo = plan.repo.is_some();
    let mut volumes = vec![
        empty_dir(VOL_WORKSPACE),
        empty_dir(VOL_HOME),
        empty_dir(VOL_TMP),
    ];
    let mut agent_mounts = vec![
        mount(VOL_WORKSPACE, WORKSPACE_DIR, false),
        mount(VOL_HOME, HOME_DIR, false),
        mount(VOL_TMP, "/tmp", false),
    ];
    let cm_name = config_map_name(&plan.task);
    if !plan.config_files.is_empty() {
        let items = plan
            .config_files
            .keys()
            .enumerate()
            .map(|(i, path)| KeyToPath {
                key: format!("{AGENT_KEY}{i}"),
                path: path.clone(),
                ..Default::default()
            })
            .collect();
        volumes.push(Volume {
            name: VOL_CONFIG.into(),
            config_map: Some(ConfigMapVolumeSource {
                name: cm_name.clone(),
                items: Some(items),
                optional: Some(false),
                ..Default::default()
            }),
            ..Default::default()
        });
        agent_mounts.push(mount(VOL_CONFIG, AGENT_CONFIG_DIR, true));
    }
    if let Some(repo) = &plan.repo {
        if !repo.files.is_empty() {
            let items = repo
                .files
                .iter()
                .enumerate()
                .map(|(i, (path, _))| KeyToPath {
                    key: format!("{FILE_KEY}{i}"),
                    path: path.clone(),
                    ..Default::default()
                })
                .collect();
            volumes.push(Volume {
                name: VOL_FILES.into(),
                config_map: Some(ConfigMapVolumeSource {
                    name: cm_name.clone(),
                    items: Some(items),
                    optional: Some(false),
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
        if let Some(secret) = &repo.token_secret {
            volumes.push(Volume {
                name: VOL_GITHUB.into(),
                secret: Some(SecretVolumeSource {
                    secret_name: Some(secret.clone()),
                    items: Some(vec![KeyToPath {
                        key: GITHUB_TOKEN_KEY.into(),
                        path: GITHUB_TOKEN_KEY.into(),
                        ..Default::default()
                    }]),
                    default_mode: Some(0o440),
                    optional: Some(false),
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
    }

    let image = plan
        .image
        .clone()
        .unwrap_or_else(|| default_agent_image(plan.agent_type, &opts.version));
    let agent = Container {
        name: AGENT_CONTAINER.into(),
        image: Some(image),
        image_pull_policy: Some("IfNotPresent".into()),
        command: Some(vec![ENTRYPOINT.into()]),
        args: Some(vec![plan.prompt.clone()]),
        working_dir: Some(if has_repo { REPO_DIR } else { WORKSPACE_DIR }.into()),
        env: Some(agent_env(plan)),
        volume_mounts: Some(agent_mounts),
        security_context: Some(container_security_context()),
        resources: Some(resources("250m", "512Mi", "2", "4Gi")),
        termination_message_path: Some(TERMINATION_LOG.into()),
        termination_message_policy: Some("File".into()),
        stdin: Some(false),
        ..Default::default()
    };

    let labels = task_labels(plan);
    Job {
        metadata: meta(plan.task.clone(), plan, task),
        spec: Some(JobSpec {
            backoff_limit: Some(plan.backoff_limit),
            active_deadline_seconds: plan.timeout_seconds,
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".into()),
                    automount_service_account_token: Some(false),
                    enable_service_links: Some(false),
                    security_context: Some(pod_security_context()),
                    init_containers: prepare_container(plan, opts).map(|c| vec![c]),
                    containers: vec![agent],
                    volumes: Some(volumes),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        status: None,
    }
}
