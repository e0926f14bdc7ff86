//! Contract constants: the names that crates, processes and containers agree on — environment
//! variables the agent side reads, labels and annotations on resources, files one process
//! writes for another. Each is spelled once, here, so a writer and its reader can never drift
//! apart (the Kubernetes Job renderer and the local supervisor set the same variables; the
//! spawner and both backends use the same labels).
//!
//! Why in `axon-api`: it is the one crate every other depends on, and these names are part of
//! the resources' and the agent image interface's contract, like the types themselves.

/// The branch the Task's work started from: the Workspace's `ref` when it names a branch,
/// else the repository's default branch, as the workspace preparation resolved it.
pub const ENV_BASE_BRANCH: &str = "AXON_BASE_BRANCH";
