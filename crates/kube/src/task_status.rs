//! What the Task controller writes after the core state machine decided the next status, and
//! what it must clean up (pure):
//!
//! * a Task back in Pending (its Job retries with a new Pod) has no Pod: `podName` is cleared;
//! * the status patch names every field that was cleared (`null`), since a merge patch leaves
//!   absent fields as they were;
//! * a Task that failed while its Job is still active (an image that cannot be pulled, a
//!   container that cannot start) gets its Job deleted, so the agent cannot start later behind
//!   a Failed status; so does a Task cancelled while its Job runs (its Pod goes with it).

use axon_api::{TaskPhase, TaskStatus};
use k8s_openapi::api::batch::v1::Job;
use serde_json::{Map, Value};

/// Condition reasons (`Succeeded`) of Tasks that can fail while their Job is still active:
/// the controller fails them from a Pod that waits, not from a finished Job.
const FAILED_WITH_LIVE_JOB: [&str; 2] = ["ImagePullBackOff", "SetupFailed"];

/// `next` as the cluster should store it: no `podName` while Pending.
pub fn for_cluster(mut next: TaskStatus) -> TaskStatus {
    if next.phase == Some(TaskPhase::Pending) {
        next.pod_name = None;
    }
    next
}

/// The merge patch from `old` to `new`: the fields that changed, and `null` for each field
/// `old` had and `new` has not. Only changed fields: `old` may be a cached, slightly stale
/// status, and a field this reconcile did not change (say, what the start gate recorded a
/// moment ago) must not be written back from the stale copy.
pub fn status_patch(old: &TaskStatus, new: &TaskStatus) -> Value {
    let as_map = |s: &TaskStatus| match serde_json::to_value(s) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let (old, new) = (as_map(old), as_map(new));
    let mut patch = Map::new();
    for (key, value) in &new {
        if old.get(key) != Some(value) {
            patch.insert(key.clone(), value.clone());
        }
    }
    for key in old.keys() {
        if !new.contains_key(key) {
            patch.insert(key.clone(), Value::Null);
        }
    }
    serde_json::json!({ "status": patch })
}

/// Whether the Job has ended (a `Complete` or `Failed` condition that is `True`).
fn job_ended(job: &Job) -> bool {
    job.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
        })
}

/// Whether `job` must be deleted because its Task finished while the Job still runs (or waits
/// to run) a Pod. A Job that ended is kept (its Pod's logs say what happened), and so is one
/// already being deleted.
pub fn job_to_stop(status: &TaskStatus, job: &Job) -> bool {
    status.phase.is_some_and(TaskPhase::is_finished)
        && !job_ended(job)
        && job.metadata.deletion_timestamp.is_none()
}

/// Whether a finished Task may still have an active Job (so a controller that restarted, or a
/// deletion that failed, looks again): Tasks failed from a waiting Pod, and cancelled ones.
pub fn may_have_live_job(status: &TaskStatus) -> bool {
    status.phase == Some(TaskPhase::Cancelled)
        || status.phase == Some(TaskPhase::Failed)
            && status.conditions.iter().any(|c| {
                c.type_ == "Succeeded" && FAILED_WITH_LIVE_JOB.contains(&c.reason.as_str())
            })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axon_api::Condition;
    use serde_json::json;

    fn job(status: Value) -> Job {
        serde_json::from_value(json!({"metadata": {"name": "t"}, "status": status})).expect("job")
    }

    #[test]
    fn a_pending_task_has_no_pod() {
        let retried = TaskStatus {
            phase: Some(TaskPhase::Pending),
            pod_name: Some("t-first".into()),
            job_name: Some("t".into()),
            ..Default::default()
        };
        let s = for_cluster(retried);
        assert_eq!(s.pod_name, None);
        assert_eq!(
            s.job_name.as_deref(),
            Some("t"),
            "the Job is still the Task's"
        );
        let running = TaskStatus {
            phase: Some(TaskPhase::Running),
            pod_name: Some("t-second".into()),
            ..Default::default()
        };
        assert_eq!(for_cluster(running.clone()), running);
    }

    #[test]
    fn the_patch_clears_what_the_new_status_dropped() {
        let old = TaskStatus {
            phase: Some(TaskPhase::Running),
            pod_name: Some("t-first".into()),
            message: Some("agent running".into()),
            ..Default::default()
        };
        let new = TaskStatus {
            phase: Some(TaskPhase::Pending),
            message: Some("Pod t-second is starting".into()),
            ..Default::default()
        };
        let p = status_patch(&old, &new);
        assert_eq!(p["status"]["podName"], Value::Null);
        assert!(
            p["status"]
                .as_object()
                .expect("object")
                .contains_key("podName")
        );
        assert_eq!(p["status"]["phase"], "Pending");
        assert_eq!(p["status"]["message"], "Pod t-second is starting");
        let unchanged = status_patch(&new, &new);
        assert!(
            !unchanged["status"]
                .as_object()
                .expect("object")
                .contains_key("podName")
        );
    }

    #[test]
    fn only_an_active_job_of_a_finished_task_is_stopped() {
        let failed = TaskStatus {
            phase: Some(TaskPhase::Failed),
            ..Default::default()
        };
        let active = job(json!({"active": 1}));
        assert!(job_to_stop(&failed, &active));
        let running = TaskStatus {
            phase: Some(TaskPhase::Running),
            ..Default::default()
        };
        assert!(!job_to_stop(&running, &active));
        let ended = job(json!({"failed": 1, "conditions": [{"type": "Failed", "status": "True"}]}));
        assert!(!job_to_stop(&failed, &ended), "its Pod's logs are kept");
        let mut deleting = active.clone();
        deleting.metadata.deletion_timestamp = Some(
            k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::UNIX_EPOCH),
        );
        assert!(!job_to_stop(&failed, &deleting));
        let cancelled = TaskStatus {
            phase: Some(TaskPhase::Cancelled),
            ..Default::default()
        };
        assert!(
            job_to_stop(&cancelled, &active),
            "a cancelled run is stopped"
        );
    }

    #[test]
    fn tasks_failed_from_a_waiting_pod_or_cancelled_are_looked_at_again() {
        let failed = |reason: &str| TaskStatus {
            phase: Some(TaskPhase::Failed),
            conditions: vec![Condition {
                type_: "Succeeded".into(),
                status: "False".into(),
                reason: reason.into(),
                message: String::new(),
                last_transition_time: None,
                observed_generation: None,
            }],
            ..Default::default()
        };
        assert!(may_have_live_job(&failed("ImagePullBackOff")));
        assert!(may_have_live_job(&failed("SetupFailed")));
        assert!(!may_have_live_job(&failed("AgentFailed")));
        let mut succeeded = failed("ImagePullBackOff");
        succeeded.phase = Some(TaskPhase::Succeeded);
        assert!(!may_have_live_job(&succeeded));
        let mut cancelled = failed("Cancelled");
        cancelled.phase = Some(TaskPhase::Cancelled);
        assert!(
            may_have_live_job(&cancelled),
            "a controller that restarted after recording Cancelled still deletes the Job"
        );
    }
}
