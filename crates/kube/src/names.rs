//! Names, labels and defaults shared by everything the Kubernetes backend creates, so a Job,
//! a Deployment and the install manifests agree on them.

use axon_api::contract;

use axon_api::AgentType;

/// Namespace of the controller.
pub const SYSTEM_NAMESPACE: &str = "axon-system";
/// Name of the controller's Deployment, ServiceAccount, ClusterRole and bindings.
pub const CONTROLLER_NAME: &str = "axon-controller";
/// Name of the leader-election Lease (in [`SYSTEM_NAMESPACE`]).
pub const LEASE_NAME: &str = "axon-controller-leader";
/// Field manager of the CLI's server-side applies.
pub const CLI_FIELD_MANAGER: &str = "axon";
/// Field manager of the controller's server-side applies.
pub const CONTROLLER_FIELD_MANAGER: &str = "axon-controller";
/// Field manager of a spawner loop's server-side applies (its fan-out Workspaces).
pub const SPAWNER_FIELD_MANAGER: &str = "axon-spawner";
/// Default image of the `axon` binary (controller, init container, spawners).
pub const AXON_IMAGE_REPO: &str = "ghcr.io/axon-core/axon";
/// Environment variable of the `axon` binary's log filter (`RUST_LOG` is not read).
pub const LOG_ENV: &str = contract::ENV_LOG;
/// Log filter of the controller and spawner Pods.
pub const POD_LOG_LEVEL: &str = "info";
/// Environment variable choosing the `axon` binary's backend (`local` or `kubernetes`).
pub const BACKEND_ENV: &str = contract::ENV_BACKEND;
/// Environment variable of the controller: the `axon` image for init containers and spawners.
pub const IMAGE_ENV: &str = "AXON_IMAGE";
/// Environment variable of the controller: the version it reports and tags images with.
pub const VERSION_ENV: &str = "AXON_VERSION";
/// Port of the controller's `/metrics`, `/healthz`, `/readyz`.
pub const METRICS_PORT: u16 = 8080;

/// Name of the gateway's Deployment, Service, ServiceAccount, ClusterRole, binding and
/// Secret (in [`SYSTEM_NAMESPACE`]).
pub const GATEWAY_NAME: &str = "axon-gateway";
/// Port of the gateway's Service and container (model calls, forward proxy, CONNECT).
pub const GATEWAY_PORT: u16 = 8080;
/// Key of the gateway Secret: the HMAC key gateway tokens are signed with (32 random bytes).
pub const GATEWAY_KEY_KEY: &str = "token-key";
/// Key of the gateway Secret: the certificate (PEM) of the CA the gateway intercepts TLS with.
pub const GATEWAY_CA_CERT_KEY: &str = "ca.crt";
/// Key of the gateway Secret: the private key (PEM) of that CA.
pub const GATEWAY_CA_KEY_KEY: &str = "ca.key";
/// Where the gateway Pod mounts its Secret.
pub const GATEWAY_SECRET_DIR: &str = "/var/run/axon/gateway";
/// The ConfigMap the controller keeps in each namespace where Tasks run through the gateway:
/// the gateway's CA certificate and a CA bundle (system roots + that CA). Public material.
pub const GATEWAY_CA_CONFIG_MAP: &str = "axon-gateway-ca";
/// Key of [`GATEWAY_CA_CONFIG_MAP`]: the CA bundle agents trust (`SSL_CERT_FILE`, ...).
pub const GATEWAY_CA_BUNDLE_KEY: &str = "ca-bundle.crt";
/// Where a Task's Pod mounts [`GATEWAY_CA_CONFIG_MAP`].
pub const GATEWAY_CA_DIR: &str = "/etc/axon/gateway-ca";
/// The CA bundle file in a Task's Pod.
pub const GATEWAY_CA_BUNDLE_FILE: &str = "/etc/axon/gateway-ca/ca-bundle.crt";
/// Where a Task's Pod mounts its gateway token as a file (for `axon workspace prepare` and
/// `axon agent collect --token-file`, and the work tree's credential helper).
pub const GATEWAY_TOKEN_DIR: &str = "/etc/axon/gateway-token";
/// The gateway token file in a Task's Pod.
pub const GATEWAY_TOKEN_FILE: &str = "/etc/axon/gateway-token/token";
/// Label on a Task's Pod: `restricted` when its egress is limited to the gateway and DNS.
pub const LABEL_NETWORK: &str = "axon.io/network";
/// The NetworkPolicy the controller keeps in each namespace with restricted Tasks.
pub const RESTRICTED_POLICY_NAME: &str = "axon-agent-restricted";

/// The gateway's in-cluster origin (`http://axon-gateway.axon-system.svc:8080`).
pub fn gateway_origin() -> String {
    format!("http://{GATEWAY_NAME}.{SYSTEM_NAMESPACE}.svc:{GATEWAY_PORT}")
}

/// Label on a Job, its Pods and its ConfigMap: the Task's name.
pub const LABEL_TASK: &str = contract::LABEL_TASK;
/// Label on a Job and its Pods: the agent type.
pub const LABEL_AGENT_TYPE: &str = contract::LABEL_AGENT_TYPE;
/// Label on a spawner's Deployment, ServiceAccount, Role and binding: the TaskSpawner's name.
pub const LABEL_SPAWNER: &str = contract::LABEL_TASKSPAWNER;
/// Standard label naming the manager of a resource.
pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// Standard label naming the component.
pub const LABEL_COMPONENT: &str = "app.kubernetes.io/component";
/// Standard label naming the application.
pub const LABEL_NAME: &str = "app.kubernetes.io/name";

/// Name of the (second) init container running the agent in a Task's Pod.
pub const AGENT_CONTAINER: &str = "agent";
/// Name of the (first) init container that prepares the work tree.
pub const PREPARE_CONTAINER: &str = "prepare";
/// Name of the main container that collects the results after the agent is gone; its
/// termination message is the only one the controller reads.
pub const RESULTS_CONTAINER: &str = "results";
/// Where the work tree (the shared emptyDir) is mounted.
pub const WORKSPACE_DIR: &str = "/workspace";
/// The clone inside [`WORKSPACE_DIR`].
pub const REPO_DIR: &str = "/workspace/repo";
/// The agent's private, writable HOME.
pub const HOME_DIR: &str = "/home/axon";
/// Where the agent's git configuration (ConfigMap) is mounted in the agent container.
pub const AGENT_GIT_DIR: &str = "/etc/axon/agent-git";
/// The agent's git configuration file: `GIT_CONFIG_GLOBAL` of the agent container.
pub const AGENT_GITCONFIG_FILE: &str = "/etc/axon/agent-git/gitconfig";
/// Where the AgentConfig files (ConfigMap) are mounted in the agent container.
pub const AGENT_CONFIG_DIR: &str = "/etc/axon/agent-config";
/// Where the Workspace's `files[]` (ConfigMap) are mounted in the init container.
pub const WORKSPACE_FILES_DIR: &str = "/etc/axon/workspace-files";
/// Where the Workspace's Secret is mounted in the init container.
pub const GITHUB_SECRET_DIR: &str = "/var/run/axon/github";
/// Termination message file: the results document (read from the results container only).
pub const TERMINATION_LOG: &str = "/dev/termination-log";
/// The entrypoint every agent image provides.
pub const ENTRYPOINT: &str = "/axon_entrypoint.sh";
/// Where `prepare` records the base commit and branch (`axon-base` emptyDir: `prepare`
/// read-write, `results` read-only, never the agent).
pub const BASE_DIR: &str = "/axon/base";
/// Where `prepare` writes what the agent is told about its workspace (`axon-agent-env`
/// emptyDir: `prepare` read-write, the agent read-only): one file per variable, named after
/// it; the agent container's wrapper exports them (`AXON_BASE_BRANCH`).
pub const AGENT_ENV_DIR: &str = "/axon/env";
/// Where the agent side writes its claims (`axon-claims` emptyDir: the agent read-write,
/// `results` read-only).
pub const CLAIMS_DIR: &str = "/axon/claims";
/// The agent side's results document (`AXON_RESULTS_FILE`): claims, not facts.
pub const CLAIMS_FILE: &str = "/axon/claims/results.json";
/// The exit code of the agent's entrypoint, written by the agent container's wrapper (a claim).
pub const EXIT_CODE_FILE: &str = "/axon/claims/exit-code";
/// Where the Task's ConfigMap key `prompt` is mounted in the agent container.
pub const PROMPT_DIR: &str = "/axon/prompt";
/// The prompt file (`AXON_PROMPT_FILE`).
pub const PROMPT_FILE: &str = "/axon/prompt/prompt";
/// Environment variable naming the prompt file.
pub const PROMPT_FILE_ENV: &str = contract::ENV_PROMPT_FILE;
/// UID and GID Axon's Pods run as (high, so it maps to no host user): the controller,
/// spawners, and in a Task's Pod `prepare` and the agent; also the Pods' `fsGroup`.
pub const RUN_AS_USER: i64 = 10001;
/// UID and GID of the results container (the `axon` image's user): not the agent's, so
/// nothing the agent left behind runs or writes as it.
pub const RESULTS_UID: i64 = 65532;

/// The default image for an agent type: `ghcr.io/axon-core/axon-<type>:<version>`.
pub fn default_agent_image(agent: AgentType, version: &str) -> String {
    format!("ghcr.io/axon-core/axon-{}:{}", agent.as_str(), version)
}

/// The default `axon` image for a version.
pub fn default_axon_image(version: &str) -> String {
    format!("{AXON_IMAGE_REPO}:{version}")
}

/// The name of a Task's ConfigMap (AgentConfig files and Workspace files).
pub fn config_map_name(task: &str) -> String {
    format!("{task}-axon-config")
}

/// The name of a TaskSpawner's Deployment, ServiceAccount, Role and RoleBinding.
pub fn spawner_name(spawner: &str) -> String {
    format!("{spawner}-spawner")
}

/// The version of this crate: the default image tag.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
