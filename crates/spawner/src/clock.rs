//! Time, injected. The spawner reads the clock to stamp status and evaluate cron schedules,
//! and sleeps between polls and until a rate limit resets; tests drive both through
//! [`ManualClock`] so they never sleep for real and stay deterministic.

use jiff::Timestamp;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A source of "now" and a way to wait.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> Timestamp;
    /// Waits for `duration`.
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send;
}

/// The real clock: `Timestamp::now` and `tokio::time::sleep`.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(duration)
    }
}

/// A clock for tests: time moves only when told to, and `sleep` returns at once after moving
/// time forward by the duration (and recording it).
#[derive(Clone, Debug)]
pub struct ManualClock {
    inner: Arc<Mutex<ManualState>>,
}

#[derive(Debug)]
struct ManualState {
    now: Timestamp,
    sleeps: Vec<Duration>,
}

/// `now` moved forward by `by` (stopping at the end of time rather than overflowing).
fn later(now: Timestamp, by: Duration) -> Timestamp {
    now.checked_add(by).unwrap_or(Timestamp::MAX)
}

impl ManualClock {
    /// A clock stopped at `now`.
    pub fn new(now: Timestamp) -> Self {
        ManualClock {
            inner: Arc::new(Mutex::new(ManualState {
                now,
                sleeps: Vec::new(),
            })),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ManualState> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Moves time forward.
    pub fn advance(&self, by: Duration) {
        let mut s = self.state();
        s.now = later(s.now, by);
    }

    /// Sets the time.
    pub fn set(&self, now: Timestamp) {
        self.state().now = now;
    }

    /// Every `sleep` so far.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.state().sleeps.clone()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        self.state().now
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
        {
            let mut s = self.state();
            s.sleeps.push(duration);
            s.now = later(s.now, duration);
        }
        // Let other tasks run, as a real sleep would.
        tokio::task::yield_now()
    }
}
