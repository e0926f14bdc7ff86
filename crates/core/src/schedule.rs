//! The local scheduler's decisions, as a pure function of what it observed: which Pending Tasks
//! start now (oldest first, under a global concurrency limit), which Running Tasks lost their
//! supervisor and fail as orphans, which finished Tasks their TTL deletes, what waiting Tasks
//! are told, and when to look again. The driver only observes (store rows, process liveness)
//! and acts on the [`Decision`].

use axon_api::TaskPhase;
use jiff::Timestamp;

/// What the scheduler knows about one Task.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskView {
    /// Task name.
    pub name: String,
    /// Current phase (`None`: not yet observed, treated as Pending).
    pub phase: Option<TaskPhase>,
    /// Creation time: the queue order.
    pub created: Timestamp,
    /// Whether a supervisor process holds the Task's run (it is being prepared or run).
    pub alive: bool,
    /// When the Task finished.
    pub completed: Option<Timestamp>,
    /// `spec.ttlSecondsAfterFinished`.
    pub ttl_seconds: Option<i32>,
    /// The message currently in status (to avoid rewriting the same one).
    pub message: Option<String>,
    /// The start gate lets it start ([`crate::start_gate`]); a Pending Task that is not ready
    /// waits for its gate, not for a slot.
    pub ready: bool,
    /// Who asked to cancel it, when a request is recorded ([`crate::cancel`]).
    pub cancel: Option<String>,
}

/// What the scheduler does now.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Decision {
    /// Tasks to start, in this order.
    pub start: Vec<String>,
    /// Running Tasks whose supervisor is gone: fail them with this detail.
    pub orphaned: Vec<(String, String)>,
    /// Unfinished Tasks a cancel was requested for and that nothing runs (never started, or
    /// their supervisor died before it recorded the end): record them `Cancelled`, with who
    /// asked. A live run is stopped by its supervisor, which records the end itself.
    pub cancelled: Vec<(String, String)>,
    /// Finished Tasks whose TTL expired: delete them and their directories.
    pub expire: Vec<String>,
    /// Pending Tasks that wait, with the message their status should show (only when it changes).
    pub waiting: Vec<(String, String)>,
    /// When to look again at the latest (the next TTL expiry), if anything is scheduled in time.
    pub wake_at: Option<Timestamp>,
    /// Nothing runs, waits or expires later: an engine started on demand may exit.
    pub idle: bool,
}

/// Detail recorded when a Running Task's supervisor disappeared.
pub const ORPHAN_DETAIL: &str = "its supervisor process exited without recording a result (killed or crashed); the run was not restarted so that it cannot run twice";

/// The message of a Task waiting for a slot.
pub fn waiting_message(running: usize, limit: usize) -> String {
    format!("waiting for a free slot ({running} of {limit} running)")
}

/// Decide one scheduler pass. `limit` is the global concurrency (at least 1 is used).
pub fn decide(tasks: &[TaskView], limit: usize, now: Timestamp) -> Decision {
    let limit = limit.max(1);
    let mut d = Decision::default();
    let phase = |t: &TaskView| t.phase.unwrap_or(TaskPhase::Pending);

    // A live supervisor holds a slot whatever the phase says (it may still be preparing).
    let mut busy = tasks
        .iter()
        .filter(|t| t.alive && !phase(t).is_finished())
        .count();
    for t in tasks.iter().filter(|t| !t.alive && !phase(t).is_finished()) {
        match &t.cancel {
            Some(by) => d.cancelled.push((t.name.clone(), by.clone())),
            None if phase(t) == TaskPhase::Running => {
                d.orphaned.push((t.name.clone(), ORPHAN_DETAIL.to_string()));
            }
            None => {}
        }
    }

    let mut queue: Vec<&TaskView> = tasks
        .iter()
        .filter(|t| phase(t) == TaskPhase::Pending && !t.alive && t.ready && t.cancel.is_none())
        .collect();
    queue.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.name.cmp(&b.name)));
    for t in &queue {
        if busy < limit {
            d.start.push(t.name.clone());
            busy += 1;
        }
    }
    let waiting_msg = waiting_message(busy, limit);
    for t in queue.iter().skip(d.start.len()) {
        if t.message.as_deref() != Some(waiting_msg.as_str()) {
            d.waiting.push((t.name.clone(), waiting_msg.clone()));
        }
    }

    for t in tasks.iter().filter(|t| phase(t).is_finished()) {
        let (Some(done), Some(ttl)) = (t.completed, t.ttl_seconds) else {
            continue;
        };
        let at = crate::ttl::expires_at(done, ttl);
        if at <= now {
            d.expire.push(t.name.clone());
        } else {
            d.wake_at = Some(d.wake_at.map_or(at, |w| w.min(at)));
        }
    }

    d.idle = busy == 0 && queue.is_empty() && d.wake_at.is_none();
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + s).expect("time")
    }

    fn task(name: &str, phase: TaskPhase, created: i64, alive: bool) -> TaskView {
        TaskView {
            name: name.into(),
            phase: Some(phase),
            created: at(created),
            alive,
            completed: None,
            ttl_seconds: None,
            message: None,
            ready: true,
            cancel: None,
        }
    }

    #[test]
    fn a_cancel_request_without_a_live_run_is_recorded_never_started() {
        let mut pending = task("p", TaskPhase::Pending, 1, false);
        pending.cancel = Some("axon cancel".into());
        let mut crashed = task("r", TaskPhase::Running, 0, false);
        crashed.cancel = Some("axon cancel".into());
        let mut live = task("l", TaskPhase::Running, 0, true);
        live.cancel = Some("axon cancel".into());
        let mut done = task("d", TaskPhase::Cancelled, 0, false);
        done.cancel = Some("axon cancel".into());
        let d = decide(&[pending, crashed, live, done], 4, at(10));
        assert!(d.start.is_empty(), "{d:?}");
        assert!(d.orphaned.is_empty(), "{d:?}");
        assert_eq!(
            d.cancelled,
            [
                ("p".to_string(), "axon cancel".to_string()),
                ("r".to_string(), "axon cancel".to_string())
            ]
        );
    }

    #[test]
    fn starts_oldest_first_up_to_the_limit() {
        let tasks = [
            task("c", TaskPhase::Pending, 3, false),
            task("a", TaskPhase::Pending, 1, false),
            task("b", TaskPhase::Pending, 2, false),
        ];
        let d = decide(&tasks, 2, at(10));
        assert_eq!(d.start, ["a", "b"]);
        assert_eq!(d.waiting, [("c".to_string(), waiting_message(2, 2))]);
        assert!(!d.idle);
    }

    #[test]
    fn live_supervisors_hold_slots_even_while_pending() {
        let tasks = [
            task("prep", TaskPhase::Pending, 1, true),
            task("run", TaskPhase::Running, 0, true),
            task("next", TaskPhase::Pending, 2, false),
        ];
        let d = decide(&tasks, 2, at(10));
        assert!(d.start.is_empty());
        assert_eq!(d.waiting.len(), 1);
        let d = decide(&tasks, 3, at(10));
        assert_eq!(d.start, ["next"]);
    }

    #[test]
    fn running_without_supervisor_is_orphaned_never_restarted() {
        let tasks = [task("r", TaskPhase::Running, 0, false)];
        let d = decide(&tasks, 2, at(10));
        assert_eq!(d.orphaned.len(), 1);
        assert!(d.start.is_empty());
        assert!(d.idle);
    }

    #[test]
    fn same_waiting_message_is_not_rewritten() {
        let mut t = task("w", TaskPhase::Pending, 1, false);
        t.message = Some(waiting_message(1, 1));
        let tasks = [task("r", TaskPhase::Running, 0, true), t];
        let d = decide(&tasks, 1, at(10));
        assert!(d.waiting.is_empty());
    }

    #[test]
    fn ttl_expires_or_schedules_a_wakeup() {
        let mut old = task("old", TaskPhase::Succeeded, 0, false);
        old.completed = Some(at(0));
        old.ttl_seconds = Some(5);
        let mut new = task("new", TaskPhase::Failed, 0, false);
        new.completed = Some(at(8));
        new.ttl_seconds = Some(5);
        let mut keep = task("keep", TaskPhase::Failed, 0, false);
        keep.completed = Some(at(0));
        let d = decide(&[old, new, keep], 1, at(10));
        assert_eq!(d.expire, ["old"]);
        assert_eq!(d.wake_at, Some(at(13)));
        assert!(!d.idle);
    }

    #[test]
    fn tasks_the_gate_holds_take_no_slot_and_get_no_slot_message() {
        let mut held = task("held", TaskPhase::Pending, 0, false);
        held.ready = false;
        let tasks = [held, task("free", TaskPhase::Pending, 1, false)];
        let d = decide(&tasks, 1, at(10));
        assert_eq!(d.start, ["free"]);
        assert!(d.waiting.is_empty());
    }

    #[test]
    fn nothing_to_do_is_idle() {
        let d = decide(&[task("done", TaskPhase::Succeeded, 0, false)], 4, at(1));
        assert_eq!(
            d,
            Decision {
                idle: true,
                ..Default::default()
            }
        );
    }
}
