//! Axon's TaskSpawner: sources of work items (GitHub issues and pull requests, cron ticks)
//! and the loop that turns them into Tasks.
//!
//! The decisions (names, which items get a Task now, templates, cron ticks) live in
//! `axon_core`; this crate does the I/O around them. Backends plug in through the backend
//! port's narrow part, `axon_port::SpawnerPort` ([`MemorySink`] is an in-memory one for tests),
//! and run a [`Spawner`]:
//!
//! ```ignore
//! let mut spawner = Spawner::new("fix-bugs", sink, SystemClock, SpawnerOptions::default());
//! spawner.run(async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! ```

pub mod check;
pub mod clock;
pub mod command;
pub mod cron_source;
pub mod deliver;
pub mod github;
pub mod memory;
pub mod rate_limit;
pub mod repo;
pub mod secret;
pub mod spawner;

pub use check::{Remediated, deliver_check};
pub use clock::{Clock, ManualClock, SystemClock};
pub use command::{Commanded, deliver_command};
pub use deliver::{Delivered, deliver_item};
pub use github::{GithubClient, GithubConfig, GithubError, RequestStats};
pub use memory::MemorySink;
pub use repo::{RepoRef, RepoUrlError};
pub use secret::Token;
pub use spawner::{
    PollOutcome, PollReport, Spawner, SpawnerError, SpawnerOptions, build_task, github_config,
    poll_interval, spawn_policy, spawned_task,
};
