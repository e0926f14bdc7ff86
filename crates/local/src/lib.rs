//! Axon's local backend: the four resources stored in SQLite under AXON_HOME (`~/.axon`), each
//! Task run directly on this machine in a bubblewrap sandbox.
//!
//! * [`LocalBackend`]: what the CLI calls (apply, get, list, delete, secrets, logs, wait, serve).
//! * The engine (`engine`): one detached process per AXON_HOME, started on demand, scheduling
//!   Pending Tasks under a global concurrency limit with `axon_core::schedule`.
//! * The supervisor (`supervisor`): one detached process per running Task: workspace, secrets,
//!   sandbox, timeout, cancel, results.
//! * [`workspace_prep`]: clone through a mirror cache, shared with the Kubernetes init container.
//!
//! Decisions live in `axon_core` (`plan_run`, `next_status`, `schedule::decide`); this crate
//! only observes and acts.

pub mod agent_bins;
mod backend;
mod cancel;
mod drop_privileges;
mod engine;
mod error;
mod gate;
mod ids;
mod internal;
mod kick;
mod lock;
mod logs;
mod migrations;
pub mod network;
mod observe;
mod paths;
mod port;
mod proc_tree;
mod profile;
mod row_cache;
mod run_options;
pub mod sandbox;
pub mod seccomp;
mod secrets;
mod spawner_support;
mod stop_tree;
mod store;
mod store_watch;
mod supervisor;
mod task_gateway;
mod teardown;
mod webhook_deliveries;
pub mod workspace_prep;

pub use backend::{LocalBackend, STORED_MESSAGE};
pub use error::LocalError;
pub use internal::internal_main;
#[doc(hidden)]
pub use profile::mark as profile_mark;
pub use sandbox::{NO_SANDBOX_WARNING, SandboxMode};
pub use spawner_support::ServeLock;
pub use workspace_prep::{PrepareRequest, PreparedWorkspace, prepare};
