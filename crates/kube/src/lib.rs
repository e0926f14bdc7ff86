//! Axon's Kubernetes backend: the Task ⇄ Job and TaskSpawner ⇄ Deployment controllers
//! (`axon controller`), the install manifests, and the client the CLI uses against a cluster.
//!
//! Functional core, thin driver: rendering (Jobs, ConfigMaps, Deployments, RBAC, manifests)
//! and observing (Job/Pod state → [`axon_core::task_status::RunObservation`]) are pure
//! functions tested without a cluster; the controllers only fetch, call them and write.

pub mod agent_command;
pub mod backend;
pub mod cancel;
pub mod controller;
pub mod error;
pub mod gateway_ca;
pub mod gateway_grant;
pub mod gateway_grants;
pub mod gateway_report;
pub mod gateway_secret;
pub mod gateway_server;
pub mod install;
pub mod job;
pub mod leader;
pub mod logs;
pub mod manifests;
pub mod metrics;
pub mod names;
pub mod network_policy;
pub mod observe;
pub mod port;
pub mod prompt;
pub mod request_log;
pub mod security;
pub mod server;
pub mod spawner_controller;
pub mod spawner_deployment;
pub mod spawner_support;
pub mod task_controller;
pub mod task_status;
pub mod timeout;
pub mod tls;
pub mod ttl;

pub use backend::KubeBackend;
pub use controller::{ControllerOptions, run_controller};
pub use error::KubeError;
pub use gateway_server::{GatewayOptions, run_gateway};
