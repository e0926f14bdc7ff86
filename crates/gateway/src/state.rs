//! The live state of one Task in the gateway: its usage so far and its denied connections.
//!
//! Why: budgets are checked against what was measured, so the totals must be shared by every
//! concurrent request of the Task and outlive each one. The state is keyed by the Task's UID,
//! created on its first request, and read by the driver (`Gateway::usage`).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::grant::TaskRef;
use crate::metering::UsageTotals;

/// One Task's live state.
#[derive(Debug)]
pub struct TaskState {
    task: TaskRef,
    usage: Mutex<UsageTotals>,
    denied: AtomicU64,
}

impl TaskState {
    /// A Task with no usage yet.
    pub fn new(task: TaskRef) -> TaskState {
        TaskState {
            task,
            usage: Mutex::new(UsageTotals::default()),
            denied: AtomicU64::new(0),
        }
    }

    /// The Task.
    pub fn task(&self) -> &TaskRef {
        &self.task
    }

    /// A copy of the usage totals.
    pub fn usage(&self) -> UsageTotals {
        self.usage.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Changes the totals under the lock and returns a copy of the result.
    pub fn update_usage(&self, f: impl FnOnce(&mut UsageTotals)) -> UsageTotals {
        let mut usage = self.usage.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut usage);
        usage.clone()
    }

    /// Counts one denied connection; returns the count including it.
    pub fn count_denied(&self) -> u64 {
        self.denied.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Denied connections so far.
    pub fn denied(&self) -> u64 {
        self.denied.load(Ordering::Relaxed)
    }
}
