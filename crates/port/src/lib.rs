//! Axon's backend port: the one trait through which everything above a backend — the CLI's
//! commands and the TaskSpawner loop — reaches one, whichever it is.
//!
//! [`Backend`] is what a backend does for its users (apply, get, list, delete, Secrets, logs,
//! the gateway's request records, wait, the spawner's lock); [`SpawnerPort`] is the narrow
//! part of it the spawner loop needs (read resources, the Tasks of a spawner, create one,
//! annotate one, make a fan-out item's Workspace, write a spawner's status, read one key of a
//! Secret, cancel a Task). The local backend (`axon-local`) and the Kubernetes backend (`axon-kube`)
//! implement both; `axon_spawner::MemorySink` implements the narrow one for tests. Every method
//! fails with the one [`BackendError`].
//!
//! Why a crate of its own: the spawner loop and the CLI both depend on the trait, and the two
//! backends implement it, so it must sit below all four and above the types (`axon-api`) and
//! the rules (`axon-core`, for the outcome of an apply and the validation every create goes
//! through). In `axon-api` it would pull the core's rules into the type crate; in `axon-core`,
//! which holds pure decisions, it would be the one place that describes I/O. Here it depends on
//! both and on nothing that does I/O, so nothing cycles.
//!
//! Validation happens in exactly one place: [`Valid::check`] (and [`Valid::check_task`], the
//! same rules for a bare Task). Every method that creates or
//! replaces a resource takes a [`Valid`] value, which only those make, so no create
//! path — `axon apply`, `axon run`, `axon create`, a spawner's Task — can skip it.

mod error;
mod port;
mod valid;

pub use error::{BackendError, ErrorKind};
pub use port::{Backend, CancelOutcome, CreateOutcome, LogNotice, SpawnerGuard, SpawnerPort};
pub use valid::Valid;

/// Re-exported so implementors write `#[axon_port::async_trait]` without a dependency of
/// their own.
pub use async_trait::async_trait;
