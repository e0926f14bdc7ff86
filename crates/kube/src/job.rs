//! A Task's run plan rendered into a `batch/v1` Job and the ConfigMap it mounts. Pure: the
//! same plan gives the same objects, so they are snapshot-tested per agent and credential type.
//!
//! The Pod runs, in order:
//! 1. init container `prepare` (the `axon` image, only with a Workspace): `axon workspace
//!    prepare` clones the Workspace into the work volume, writes `files[]`, and records the base
//!    commit and branch in `axon-base`, a volume no agent process ever sees. The GitHub token is
//!    a file read by a credential helper (never an argument): the gateway token (through the
//!    gateway), or without the gateway the Workspace's Secret mounted.
//! 2. init container `agent`: the agent image's `/axon_entrypoint.sh` in the work tree, the
//!    prompt a read-only file (`AXON_PROMPT_FILE`), its claims (usage, final answer, success)
//!    written to `AXON_RESULTS_FILE` in `axon-claims`; it always exits 0 (see
//!    [`crate::agent_command`]) so that the results are collected whatever the agent did.
//! 3. container `results` (the `axon` image, another UID, no shared process namespace):
//!    `axon agent collect` reads the work tree read-only after every agent process is gone,
//!    takes the git facts itself and only the claims from `axon-claims`, and writes the results
//!    document as its termination message (`File` policy). The controller reads that message
//!    and no other: whatever the agent wrote anywhere is ignored. Through the gateway it also
//!    asks the gateway whether a model call was refused over the budget, and then saves the
//!    work tree on the Task's WIP branch (see `axon agent collect --gateway-url`).
//!
//! The agent's git configuration (identity, credential helper: the file the local backend
//! writes as `~/.gitconfig`) is a key of the Task's ConfigMap, named by `GIT_CONFIG_GLOBAL`.
//!
//! Through the gateway ([`PodGateway`], the default), the plan has been routed by
//! [`axon_core::gateway_plan::route_through_gateway`] and no container has a Secret: every
//! credential variable holds the Task's gateway token, the model endpoint and the HTTP proxy
//! name the gateway's Service, the CA bundle variables name the namespace's `axon-gateway-ca`
//! ConfigMap mounted at [`GATEWAY_CA_DIR`], and `prepare` and `results` reach git through the
//! same proxy with the token as their token file (a key of the Task's ConfigMap). A restricted
//! Task's Pod carries the label `axon.io/network: restricted` (see
//! [`crate::network_policy`]).

use crate::agent_command::agent_command;
use crate::names::{
    AGENT_CONFIG_DIR, AGENT_CONTAINER, AGENT_ENV_DIR, AGENT_GIT_DIR, AGENT_GITCONFIG_FILE,
    BASE_DIR, CLAIMS_DIR, CLAIMS_FILE, EXIT_CODE_FILE, GATEWAY_CA_BUNDLE_FILE,
    GATEWAY_CA_BUNDLE_KEY, GATEWAY_CA_CONFIG_MAP, GATEWAY_CA_DIR, GATEWAY_TOKEN_DIR,
    GATEWAY_TOKEN_FILE, GITHUB_SECRET_DIR, HOME_DIR, LABEL_AGENT_TYPE, LABEL_MANAGED_BY,
    LABEL_NAME, LABEL_NETWORK, LABEL_TASK, PREPARE_CONTAINER, PROMPT_DIR, PROMPT_FILE,
    PROMPT_FILE_ENV, REPO_DIR, RESULTS_CONTAINER, RESULTS_UID, TERMINATION_LOG, WORKSPACE_DIR,
    WORKSPACE_FILES_DIR, config_map_name, default_agent_image,
};
use crate::network_policy::RESTRICTED;
use crate::prompt::prompt_as_argument;
use crate::security::{
    container_security_context, container_security_context_as, pod_security_context, resources,
};
use crate::timeout::effective_timeout;
use axon_api::Task;
use axon_core::gateway_plan::{
    CA_BUNDLE_VARS, GatewayValue, NO_PROXY_VARS, PROXY_VARS, agent_gitconfig,
};
use axon_core::plan::{EnvValue, GITHUB_TOKEN_KEY, RunPlan};
use axon_core::results::RESULTS_FILE_ENV;
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, Container, EmptyDirVolumeSource, EnvVar, EnvVarSource,
    KeyToPath, PodSpec, PodTemplateSpec, SecretKeySelector, SecretVolumeSource, Volume,
    VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Resource as _;
use std::collections::BTreeMap;

/// What the controller adds to a plan: where, with which images, resources and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct JobOptions {
    /// The `axon` image (`prepare` and `results`).
    pub axon_image: String,
    /// Tag of the default agent images (`ghcr.io/axon-core/axon-<type>:<version>`).
    pub version: String,
    /// `activeDeadlineSeconds` of a Task without `timeoutSeconds` (`0`: none).
    pub default_timeout_seconds: i64,
}

const VOL_WORKSPACE: &str = "workspace";
const VOL_HOME: &str = "home";
const VOL_TMP: &str = "tmp";
const VOL_CONFIG: &str = "agent-config";
const VOL_FILES: &str = "workspace-files";
const VOL_GITHUB: &str = "github-token";
const VOL_PROMPT: &str = "prompt";
const VOL_BASE: &str = "axon-base";
const VOL_AGENT_ENV: &str = "axon-agent-env";
const VOL_CLAIMS: &str = "axon-claims";
const VOL_RESULTS_TMP: &str = "results-tmp";
const VOL_AGENT_GIT: &str = "agent-git";
const VOL_GATEWAY_TOKEN: &str = "gateway-token";
const VOL_GATEWAY_CA: &str = "gateway-ca";

/// Key prefix of AgentConfig files in the ConfigMap (keys cannot hold `/`).
const AGENT_KEY: &str = "agent-";
/// Key prefix of Workspace files in the ConfigMap.
const FILE_KEY: &str = "file-";
/// Key of the prompt in the ConfigMap.
pub const PROMPT_KEY: &str = "prompt";
/// Key of the agent's git configuration in the ConfigMap (mounted as [`AGENT_GITCONFIG_FILE`]).
pub const GITCONFIG_KEY: &str = "gitconfig";
/// Key of the gateway token in the ConfigMap (mounted as [`GATEWAY_TOKEN_FILE`]).
pub const GATEWAY_TOKEN_KEY: &str = "gateway-token";

/// How a Task's Pod reaches the gateway: its token and the gateway's origin. `None` where a
/// function takes an `Option<&PodGateway>`: the gateway is off and the Pod holds its Secrets.
#[derive(Clone, PartialEq, Eq)]
pub struct PodGateway {
    /// The Task's gateway token ([`axon_core::gateway_token::mint`]).
    pub token: String,
    /// `http://host:port` of the gateway's Service.
    pub origin: String,
    /// The Task asks for restricted egress: the Pod gets the `axon.io/network` label.
    pub restricted: bool,
}

impl std::fmt::Debug for PodGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PodGateway")
            .field("token", &"<redacted>")
            .field("origin", &self.origin)
            .field("restricted", &self.restricted)
            .finish()
    }
}

impl PodGateway {
    /// `http://axon:<token>@host:port`: the proxy URL (HTTP Basic proxy credentials).
    pub fn proxy_url(&self) -> String {
        match self.origin.split_once("://") {
            Some((scheme, rest)) => format!("{scheme}://axon:{}@{rest}", self.token),
            None => format!("http://axon:{}@{}", self.token, self.origin),
        }
    }

    /// The value of a gateway variable.
    pub fn value(&self, v: &GatewayValue) -> String {
        match v {
            GatewayValue::Token => self.token.clone(),
            GatewayValue::ModelBaseUrl { path } => format!("{}{path}", self.origin),
            GatewayValue::ProxyUrl => self.proxy_url(),
            GatewayValue::CaBundle => GATEWAY_CA_BUNDLE_FILE.into(),
        }
    }

    /// What `prepare` and `results` need to reach git through the gateway: the proxy, no
    /// exceptions, the CA bundle.
    fn env(&self) -> Vec<EnvVar> {
        let proxy = self.proxy_url();
        PROXY_VARS
            .iter()
            .map(|v| literal(v, &proxy))
            .chain(NO_PROXY_VARS.iter().map(|v| literal(v, "")))
            .chain(
                CA_BUNDLE_VARS
                    .iter()
                    .map(|v| literal(v, GATEWAY_CA_BUNDLE_FILE)),
            )
            .collect()
    }
}

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

/// The ConfigMap holding the prompt, the AgentConfig files and the Workspace's `files[]`
/// (and through the gateway, the Task's gateway token). Large prompts and plugins travel here,
/// never through environment variables or arguments.
pub fn render_config_map(plan: &RunPlan, task: &Task, gateway: Option<&PodGateway>) -> ConfigMap {
    let files = plan
        .repo
        .as_ref()
        .map(|r| r.files.as_slice())
        .unwrap_or_default();
    let mut data = BTreeMap::new();
    data.insert(PROMPT_KEY.to_string(), plan.prompt.clone());
    data.insert(GITCONFIG_KEY.to_string(), agent_gitconfig());
    for (i, content) in plan.config_files.values().enumerate() {
        data.insert(format!("{AGENT_KEY}{i}"), content.clone());
    }
    for (i, (_, content)) in files.iter().enumerate() {
        data.insert(format!("{FILE_KEY}{i}"), content.clone());
    }
    if let Some(g) = gateway {
        data.insert(GATEWAY_TOKEN_KEY.into(), g.token.clone());
    }
    ConfigMap {
        metadata: meta(config_map_name(&plan.task), plan, task),
        data: Some(data),
        immutable: Some(true),
        ..Default::default()
    }
}

fn mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        read_only: read_only.then_some(true),
        ..Default::default()
    }
}

fn empty_dir(name: &str, size_limit: Option<&str>) -> Volume {
    Volume {
        name: name.into(),
        empty_dir: Some(EmptyDirVolumeSource {
            size_limit: size_limit.map(|q| Quantity(q.into())),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A volume of some keys of the Task's ConfigMap.
fn config_map_volume(name: &str, config_map: &str, items: Vec<KeyToPath>) -> Volume {
    Volume {
        name: name.into(),
        config_map: Some(ConfigMapVolumeSource {
            name: config_map.into(),
            items: Some(items),
            optional: Some(false),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn key_to_path(key: String, path: &str) -> KeyToPath {
    KeyToPath {
        key,
        path: path.into(),
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
fn agent_env(plan: &RunPlan, gateway: Option<&PodGateway>) -> Vec<EnvVar> {
    let mut env: Vec<EnvVar> = plan
        .env
        .iter()
        .map(|e| match &e.value {
            EnvValue::Literal(v) => literal(&e.name, v),
            EnvValue::ConfigPath(p) => literal(&e.name, &format!("{AGENT_CONFIG_DIR}/{p}")),
            EnvValue::Gateway(v) => {
                literal(&e.name, &gateway.map(|g| g.value(v)).unwrap_or_default())
            }
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
    env.push(literal(RESULTS_FILE_ENV, CLAIMS_FILE));
    env.push(literal(PROMPT_FILE_ENV, PROMPT_FILE));
    env.push(literal("HOME", HOME_DIR));
    // The identity and credential helper the local backend writes as `~/.gitconfig`, unless
    // the Task sets its own.
    if !env.iter().any(|e| e.name == GIT_CONFIG_GLOBAL) {
        env.push(literal(GIT_CONFIG_GLOBAL, AGENT_GITCONFIG_FILE));
    }
    env
}

const GIT_CONFIG_GLOBAL: &str = "GIT_CONFIG_GLOBAL";

/// The token file of `prepare` and `results` when the Workspace has a token: the gateway
/// token (from the Task's ConfigMap), else the Workspace's Secret mounted; and the volume
/// mount that brings it.
fn token_file(plan: &RunPlan, gateway: Option<&PodGateway>) -> Option<(String, VolumeMount)> {
    plan.repo.as_ref()?.token_secret.as_ref()?;
    Some(match gateway {
        Some(_) => (
            GATEWAY_TOKEN_FILE.into(),
            mount(VOL_GATEWAY_TOKEN, GATEWAY_TOKEN_DIR, true),
        ),
        None => (
            format!("{GITHUB_SECRET_DIR}/{GITHUB_TOKEN_KEY}"),
            mount(VOL_GITHUB, GITHUB_SECRET_DIR, true),
        ),
    })
}

/// The init container preparing the work tree, when the plan has a repository.
fn prepare_container(
    plan: &RunPlan,
    opts: &JobOptions,
    gateway: Option<&PodGateway>,
) -> Option<Container> {
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
    if let Some(b) = &repo.branch {
        args.extend(["--branch".into(), b.clone()]);
    }
    if let Some(depth) = repo.clone_depth {
        args.extend(["--depth".into(), depth.to_string()]);
    }
    for (name, url) in &repo.remotes {
        args.extend(["--remote".into(), format!("{name}={url}")]);
    }
    args.extend([
        "--dest".into(),
        REPO_DIR.into(),
        "--base-dir".into(),
        BASE_DIR.into(),
        "--env-dir".into(),
        AGENT_ENV_DIR.into(),
    ]);
    let mut mounts = vec![
        mount(VOL_WORKSPACE, WORKSPACE_DIR, false),
        mount(VOL_HOME, HOME_DIR, false),
        mount(VOL_TMP, "/tmp", false),
        mount(VOL_BASE, BASE_DIR, false),
        mount(VOL_AGENT_ENV, AGENT_ENV_DIR, false),
    ];
    if let Some((file, m)) = token_file(plan, gateway) {
        args.extend(["--token-file".into(), file]);
        mounts.push(m);
    }
    if !repo.files.is_empty() {
        args.extend(["--files-dir".into(), WORKSPACE_FILES_DIR.into()]);
        mounts.push(mount(VOL_FILES, WORKSPACE_FILES_DIR, true));
    }
    let mut env = vec![literal("HOME", HOME_DIR)];
    if let Some(g) = gateway {
        env.extend(g.env());
        mounts.push(mount(VOL_GATEWAY_CA, GATEWAY_CA_DIR, true));
    }
    Some(Container {
        name: PREPARE_CONTAINER.into(),
        image: Some(opts.axon_image.clone()),
        image_pull_policy: Some("IfNotPresent".into()),
        command: Some(vec!["axon".into()]),
        args: Some(args),
        env: Some(env),
        volume_mounts: Some(mounts),
        security_context: Some(container_security_context()),
        resources: Some(resources("100m", "128Mi", "1", "1Gi")),
        termination_message_path: Some(TERMINATION_LOG.into()),
        termination_message_policy: Some("FallbackToLogsOnError".into()),
        ..Default::default()
    })
}

/// The init container running the agent: the work tree read-write, the prompt a read-only
/// file, its claims in `axon-claims`, what `prepare` tells it (`AXON_BASE_BRANCH`, as on the
/// local backend) read-only in `axon-agent-env`. Never `axon-base` or the Workspace's Secret;
/// through the gateway, the CA bundle and the gateway token file (what the work tree's
/// credential helper reads).
fn agent_container(plan: &RunPlan, opts: &JobOptions, gateway: Option<&PodGateway>) -> Container {
    let custom = plan.image.is_some();
    let image = plan
        .image
        .clone()
        .unwrap_or_else(|| default_agent_image(plan.agent_type, &opts.version));
    let mut mounts = vec![
        mount(VOL_WORKSPACE, WORKSPACE_DIR, false),
        mount(VOL_HOME, HOME_DIR, false),
        mount(VOL_TMP, "/tmp", false),
        mount(VOL_CLAIMS, CLAIMS_DIR, false),
        mount(VOL_PROMPT, PROMPT_DIR, true),
        mount(VOL_AGENT_GIT, AGENT_GIT_DIR, true),
    ];
    if !plan.config_files.is_empty() {
        mounts.push(mount(VOL_CONFIG, AGENT_CONFIG_DIR, true));
    }
    if plan.repo.is_some() {
        mounts.push(mount(VOL_AGENT_ENV, AGENT_ENV_DIR, true));
    }
    if gateway.is_some() {
        mounts.push(mount(VOL_GATEWAY_CA, GATEWAY_CA_DIR, true));
        if let Some((_, m)) = token_file(plan, gateway) {
            mounts.push(m);
        }
    }
    Container {
        name: AGENT_CONTAINER.into(),
        image: Some(image),
        image_pull_policy: Some("IfNotPresent".into()),
        command: Some(agent_command(
            custom,
            prompt_as_argument(custom, &plan.prompt),
        )),
        working_dir: Some(work_dir(plan).into()),
        env: Some(agent_env(plan, gateway)),
        volume_mounts: Some(mounts),
        security_context: Some(container_security_context()),
        resources: Some(resources("250m", "512Mi", "2", "4Gi")),
        stdin: Some(false),
        ..Default::default()
    }
}

fn work_dir(plan: &RunPlan) -> &'static str {
    if plan.repo.is_some() {
        REPO_DIR
    } else {
        WORKSPACE_DIR
    }
}

/// The results container's environment. Defense in depth for git in a work tree the agent
/// controlled (`axon agent collect` must not rely on it): the tree belongs to another UID
/// (`safe.directory`), and the keys that make `git` run a program from the tree's own config
/// are overridden from the command scope, which wins over the repository's.
fn results_env() -> Vec<EnvVar> {
    let overrides = [
        ("safe.directory", "*"),
        ("core.fsmonitor", "false"),
        ("core.hooksPath", "/dev/null"),
    ];
    let mut env = vec![
        literal("HOME", "/tmp"),
        literal("GIT_CONFIG_NOSYSTEM", "1"),
        literal("GIT_CONFIG_GLOBAL", "/dev/null"),
        literal("GIT_TERMINAL_PROMPT", "0"),
        literal("GIT_OPTIONAL_LOCKS", "0"),
        literal("GIT_CONFIG_COUNT", &overrides.len().to_string()),
    ];
    for (i, (key, value)) in overrides.iter().enumerate() {
        env.push(literal(&format!("GIT_CONFIG_KEY_{i}"), key));
        env.push(literal(&format!("GIT_CONFIG_VALUE_{i}"), value));
    }
    env
}

/// The main container: `axon agent collect` as [`RESULTS_UID`], the work tree read-only, its
/// results document the termination message the controller reads.
fn results_container(plan: &RunPlan, opts: &JobOptions, gateway: Option<&PodGateway>) -> Container {
    let mut args = vec![
        "agent".to_string(),
        "collect".into(),
        "--work".into(),
        work_dir(plan).into(),
        "--claims".into(),
        CLAIMS_FILE.into(),
        "--exit-code-file".into(),
        EXIT_CODE_FILE.into(),
        "--out".into(),
        TERMINATION_LOG.into(),
    ];
    let mut mounts = vec![
        mount(VOL_WORKSPACE, WORKSPACE_DIR, true),
        mount(VOL_CLAIMS, CLAIMS_DIR, true),
        mount(VOL_RESULTS_TMP, "/tmp", false),
    ];
    if let Some(repo) = &plan.repo {
        args.extend([
            "--base-dir".into(),
            BASE_DIR.into(),
            "--repo".into(),
            repo.url.clone(),
        ]);
        mounts.push(mount(VOL_BASE, BASE_DIR, true));
    }
    if let Some((file, m)) = token_file(plan, gateway) {
        args.extend(["--token-file".into(), file]);
        if gateway.is_none() {
            mounts.push(m);
        }
    }
    if plan.image.is_some() {
        args.push("--custom".into());
    }
    let mut env = results_env();
    if let Some(g) = gateway {
        env.extend(g.env());
        mounts.push(mount(VOL_GATEWAY_CA, GATEWAY_CA_DIR, true));
        mounts.push(mount(VOL_GATEWAY_TOKEN, GATEWAY_TOKEN_DIR, true));
        // Asks the gateway whether a model call was refused over the budget.
        args.extend([
            "--gateway-url".into(),
            g.origin.clone(),
            "--gateway-token-file".into(),
            GATEWAY_TOKEN_FILE.into(),
        ]);
    }
    Container {
        name: RESULTS_CONTAINER.into(),
        image: Some(opts.axon_image.clone()),
        image_pull_policy: Some("IfNotPresent".into()),
        command: Some(vec!["axon".into()]),
        args: Some(args),
        env: Some(env),
        volume_mounts: Some(mounts),
        security_context: Some(container_security_context_as(RESULTS_UID)),
        resources: Some(resources("100m", "128Mi", "1", "1Gi")),
        termination_message_path: Some(TERMINATION_LOG.into()),
        termination_message_policy: Some("File".into()),
        stdin: Some(false),
        ..Default::default()
    }
}

/// The Pod's volumes: emptyDirs (work tree, HOME, /tmp, base, claims, the results
/// container's /tmp) and the ConfigMap files; without the gateway, the Workspace's Secret.
fn volumes(plan: &RunPlan, gateway: Option<&PodGateway>) -> Vec<Volume> {
    let cm_name = config_map_name(&plan.task);
    let mut volumes = vec![
        empty_dir(VOL_WORKSPACE, None),
        empty_dir(VOL_HOME, None),
        empty_dir(VOL_TMP, None),
        empty_dir(VOL_CLAIMS, Some("16Mi")),
        empty_dir(VOL_RESULTS_TMP, Some("64Mi")),
        config_map_volume(
            VOL_PROMPT,
            &cm_name,
            vec![key_to_path(PROMPT_KEY.into(), PROMPT_KEY)],
        ),
        config_map_volume(
            VOL_AGENT_GIT,
            &cm_name,
            vec![key_to_path(GITCONFIG_KEY.into(), GITCONFIG_KEY)],
        ),
    ];
    if !plan.config_files.is_empty() {
        let items = plan
            .config_files
            .keys()
            .enumerate()
            .map(|(i, path)| key_to_path(format!("{AGENT_KEY}{i}"), path))
            .collect();
        volumes.push(config_map_volume(VOL_CONFIG, &cm_name, items));
    }
    if gateway.is_some() {
        volumes.push(config_map_volume(
            VOL_GATEWAY_CA,
            GATEWAY_CA_CONFIG_MAP,
            vec![key_to_path(
                GATEWAY_CA_BUNDLE_KEY.into(),
                GATEWAY_CA_BUNDLE_KEY,
            )],
        ));
        volumes.push(config_map_volume(
            VOL_GATEWAY_TOKEN,
            &cm_name,
            vec![key_to_path(GATEWAY_TOKEN_KEY.into(), "token")],
        ));
    }
    let Some(repo) = &plan.repo else {
        return volumes;
    };
    volumes.push(empty_dir(VOL_BASE, Some("1Mi")));
    volumes.push(empty_dir(VOL_AGENT_ENV, Some("1Mi")));
    if !repo.files.is_empty() {
        let items = repo
            .files
            .iter()
            .enumerate()
            .map(|(i, (path, _))| key_to_path(format!("{FILE_KEY}{i}"), path))
            .collect();
        volumes.push(config_map_volume(VOL_FILES, &cm_name, items));
    }
    // Through the gateway, its token (above) stands for the Workspace's Secret.
    if gateway.is_none()
        && let Some(secret) = &repo.token_secret
    {
        volumes.push(Volume {
            name: VOL_GITHUB.into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(secret.clone()),
                items: Some(vec![key_to_path(GITHUB_TOKEN_KEY.into(), GITHUB_TOKEN_KEY)]),
                default_mode: Some(0o440),
                optional: Some(false),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    volumes
}

/// Render the Job for `plan`, owned by `task`; through the gateway when `gateway` is given
/// (`plan` then routed by [`axon_core::gateway_plan::route_through_gateway`]).
pub fn render_job(
    plan: &RunPlan,
    task: &Task,
    opts: &JobOptions,
    gateway: Option<&PodGateway>,
) -> Job {
    let init_containers = prepare_container(plan, opts, gateway)
        .into_iter()
        .chain([agent_container(plan, opts, gateway)])
        .collect();
    let mut labels = task_labels(plan);
    if gateway.is_some_and(|g| g.restricted) {
        labels.insert(LABEL_NETWORK.into(), RESTRICTED.into());
    }
    Job {
        metadata: meta(plan.task.clone(), plan, task),
        spec: Some(JobSpec {
            backoff_limit: Some(plan.backoff_limit),
            active_deadline_seconds: effective_timeout(task, opts.default_timeout_seconds),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".into()),
                    automount_service_account_token: Some(false),
                    enable_service_links: Some(false),
                    share_process_namespace: Some(false),
                    security_context: Some(pod_security_context()),
                    init_containers: Some(init_containers),
                    containers: vec![results_container(plan, opts, gateway)],
                    volumes: Some(volumes(plan, gateway)),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        status: None,
    }
}
