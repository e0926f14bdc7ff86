//! Axon's resource model: the four resources of API group `axon.io/v1alpha1` (Task, Workspace,
//! AgentConfig, TaskSpawner) as Kubernetes custom resources, the YAML loader both backends and
//! `axon validate` use, the config file, and CRD generation.
//!
//! The same types serve the local backend (stored as documents in SQLite) and the Kubernetes
//! backend (stored by the API server), so the same YAML works on both.

// `#[kube(printcolumn(...))]` repeats keys by design; clippy mistakes them for duplicates.
#![allow(clippy::duplicated_attributes)]

pub mod agent_config;
pub mod budget;
pub mod common;
pub mod config;
pub mod contract;
pub mod crd;
pub mod duration;
pub mod error;
pub mod kind;
pub mod loader;
pub mod model_price;
pub mod network;
pub mod policy;
pub mod rules;
pub mod task;
pub mod task_spawner;
pub mod workspace;

pub use agent_config::{AgentConfig, AgentConfigSpec, Plugin, PluginAgent, PluginSkill};
pub use budget::{Budget, SpawnerBudget, WindowLimits};
pub use common::{
    AgentType, Condition, CredentialType, Credentials, EnvVar, LocalObjectReference,
    SecretReference,
};
pub use config::Config;
pub use duration::Duration;
pub use error::ApiError;
pub use kind::Kind;
pub use loader::{Document, Resource};
pub use model_price::ModelPrice;
pub use network::{Network, NetworkMode};
pub use policy::Policy;
pub use task::{
    DependencyState, Task, TaskOutputs, TaskPhase, TaskSpec, TaskStatus, TaskUsage, UsageSource,
};
pub use task_spawner::{
    CheckConclusion, CheckRemediation, CommentPolicy, Cron, GitHubIssues, GitHubWebhook,
    IssueState, ItemResult, ItemType, ItemsSummary, RepoPermission, ReviewState, SpawnedItem,
    TaskSpawner, TaskSpawnerPhase, TaskSpawnerSpec, TaskSpawnerStatus, TaskTemplate, When,
};
pub use workspace::{Workspace, WorkspaceFile, WorkspaceRemote, WorkspaceSpec};

/// API group of every Axon resource.
pub const GROUP: &str = "axon.io";
/// API version of every Axon resource.
pub const VERSION: &str = "v1alpha1";
/// `apiVersion` as written in YAML.
pub const API_VERSION: &str = "axon.io/v1alpha1";
