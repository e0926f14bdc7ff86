//! Cancelling a Task (`axon cancel`, a `/axon cancel` comment): the decisions both drivers
//! share. A request is recorded durably first, as the annotation
//! [`ANNOTATION_CANCEL_REQUESTED`] on the Task (its value says who asked), and only then is
//! anything stopped; whoever next looks at the Task — the supervisor or engine locally, the
//! controller on Kubernetes, after a crash or not — finishes the job, so a cancel is never lost
//! and never applied twice:
//!
//! * a Task that has not started (Pending, nothing running it) goes straight to `Cancelled`;
//! * a running one has its run stopped (every agent process, or its Pod), its work tree saved
//!   on the WIP branch where the driver can, then `Cancelled`;
//! * a finished Task is left as it is: cancelling a Succeeded or Failed Task is an error that
//!   says so, cancelling a Cancelled one again is a no-op.
//!
//! A run that ended on its own before the request was acted on keeps its own result.

use crate::results::ResultsDocument;
use crate::task_status::{EndCause, RunObservation};
use axon_api::{Task, TaskPhase};

pub use axon_api::contract::ANNOTATION_CANCEL_REQUESTED;

/// Who asked, when the annotation's value is empty.
const SOMEONE: &str = "a cancel request";

/// Who asked to cancel `task`, when a request is recorded on it.
pub fn requested_by(task: &Task) -> Option<String> {
    let annotations = task.metadata.annotations.as_ref()?;
    let by = annotations.get(ANNOTATION_CANCEL_REQUESTED)?.trim();
    Some(if by.is_empty() { SOMEONE } else { by }.to_string())
}

/// What a cancel request does to a Task, decided from its phase and whether something runs it
/// now (locally a supervisor holding its run lock, on Kubernetes its Job).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelStep {
    /// Nothing runs it yet: record `Cancelled` now.
    CancelNow,
    /// Its run must be stopped; the driver running it records `Cancelled`.
    StopRun,
    /// It was cancelled already: nothing to do.
    AlreadyCancelled,
    /// It finished (Succeeded or Failed) before the request: nothing to cancel.
    Finished(TaskPhase),
}

/// The step for a Task in `phase` (`None`: not observed yet, Pending) with a run alive or not.
pub fn step(phase: Option<TaskPhase>, run_alive: bool) -> CancelStep {
    match phase.unwrap_or_default() {
        TaskPhase::Cancelled => CancelStep::AlreadyCancelled,
        p @ (TaskPhase::Succeeded | TaskPhase::Failed) => CancelStep::Finished(p),
        TaskPhase::Pending if !run_alive => CancelStep::CancelNow,
        TaskPhase::Pending | TaskPhase::Running => CancelStep::StopRun,
    }
}

/// The observation that ends a Task cancelled by `by` at `at`; `results` is what was saved of
/// its work tree (the WIP branch), when anything was.
pub fn cancelled(by: &str, at: &str, results: Option<ResultsDocument>) -> RunObservation {
    RunObservation::Finished {
        at: at.to_string(),
        exit_code: None,
        results,
        cause: Some(EndCause::Cancelled { by: by.to_string() }),
    }
}

/// What to record for a Task whose driver observed `observation`, when `by` asked to cancel it:
/// a run that already ended (finished, or failed to set up) keeps its own end; anything else
/// (waiting, running) ends `Cancelled`.
pub fn with_request(observation: RunObservation, by: Option<&str>, at: &str) -> RunObservation {
    match (by, &observation) {
        (None, _)
        | (Some(_), RunObservation::Finished { .. } | RunObservation::SetupFailed { .. }) => {
            observation
        }
        (Some(by), _) => cancelled(by, at, None),
    }
}

/// The status message of a cancelled Task.
pub fn message(by: &str) -> String {
    format!("cancelled ({by})")
}

/// The reason a dependant of cancelled Task `name` fails with.
pub fn dependency_message(name: &str) -> String {
    format!("dependency {name} was cancelled")
}

/// What the message adds when the cancelled run's work tree was saved (`results` holds the WIP
/// branch), `None` when nothing was.
pub fn saved_work(results: &ResultsDocument) -> Option<String> {
    let branch = results.branch.as_deref()?;
    if results.commits.is_empty() {
        return None;
    }
    Some(if results.pushed {
        format!("its work tree was saved on {branch} and pushed")
    } else {
        format!("its work tree was saved on {branch} (not pushed)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task_status::next_status;
    use axon_api::TaskStatus;

    #[test]
    fn the_step_follows_the_phase_and_the_run() {
        assert_eq!(step(None, false), CancelStep::CancelNow);
        assert_eq!(step(Some(TaskPhase::Pending), false), CancelStep::CancelNow);
        // A supervisor preparing its workspace, or a Job that exists: stop it.
        assert_eq!(step(Some(TaskPhase::Pending), true), CancelStep::StopRun);
        assert_eq!(step(Some(TaskPhase::Running), true), CancelStep::StopRun);
        assert_eq!(step(Some(TaskPhase::Running), false), CancelStep::StopRun);
        assert_eq!(
            step(Some(TaskPhase::Cancelled), false),
            CancelStep::AlreadyCancelled
        );
        for p in [TaskPhase::Succeeded, TaskPhase::Failed] {
            assert_eq!(step(Some(p), false), CancelStep::Finished(p));
        }
    }

    #[test]
    fn the_request_is_read_from_the_annotation() {
        let mut task: Task = serde_json::from_value(serde_json::json!({
            "apiVersion": "axon.io/v1alpha1", "kind": "Task", "metadata": {"name": "t"},
            "spec": {"type": "claude-code", "prompt": "p",
                     "credentials": {"type": "api-key", "secretRef": {"name": "k"}}}
        }))
        .expect("a Task");
        assert_eq!(requested_by(&task), None);
        task.metadata.annotations = Some(
            [(ANNOTATION_CANCEL_REQUESTED.to_string(), " ".to_string())]
                .into_iter()
                .collect(),
        );
        assert_eq!(requested_by(&task).as_deref(), Some(SOMEONE));
        task.metadata.annotations = Some(
            [(
                ANNOTATION_CANCEL_REQUESTED.to_string(),
                "axon cancel".into(),
            )]
            .into_iter()
            .collect(),
        );
        assert_eq!(requested_by(&task).as_deref(), Some("axon cancel"));
    }

    #[test]
    fn a_pending_task_is_cancelled_without_a_start_time() {
        let s = next_status(
            &TaskStatus::default(),
            &cancelled("axon cancel", "2026-01-01T00:00:00Z", None),
            Some(1),
        );
        assert_eq!(s.phase, Some(TaskPhase::Cancelled));
        assert_eq!(s.message.as_deref(), Some("cancelled (axon cancel)"));
        assert_eq!(s.start_time, None);
        assert_eq!(s.completion_time.as_deref(), Some("2026-01-01T00:00:00Z"));
        let reason = s
            .conditions
            .iter()
            .find(|c| c.type_ == "Succeeded")
            .map(|c| (c.status.as_str(), c.reason.as_str()));
        assert_eq!(reason, Some(("False", "Cancelled")));
    }

    #[test]
    fn a_running_task_is_cancelled_with_its_saved_work() {
        let running = next_status(
            &TaskStatus::default(),
            &RunObservation::Started {
                at: "2026-01-01T00:00:00Z".into(),
                job: "t".into(),
                pod: "1".into(),
            },
            Some(1),
        );
        let wip = ResultsDocument {
            branch: Some("axon/wip/t".into()),
            commits: vec!["c".repeat(40)],
            pushed: true,
            ..Default::default()
        };
        let s = next_status(
            &running,
            &cancelled("/axon cancel by @alice", "2026-01-01T00:01:00Z", Some(wip)),
            Some(1),
        );
        assert_eq!(s.phase, Some(TaskPhase::Cancelled));
        assert_eq!(
            s.message.as_deref(),
            Some(
                "cancelled (/axon cancel by @alice); its work tree was saved on axon/wip/t and pushed"
            )
        );
        assert_eq!(s.start_time.as_deref(), Some("2026-01-01T00:00:00Z"));
        let outputs = s.outputs.expect("outputs");
        assert_eq!(outputs.branch.as_deref(), Some("axon/wip/t"));
        assert!(outputs.pushed);
    }

    #[test]
    fn a_run_that_ended_first_keeps_its_end() {
        let at = "2026-01-01T00:00:00Z";
        let done = RunObservation::Finished {
            at: at.into(),
            results: None,
            exit_code: Some(0),
            cause: None,
        };
        assert_eq!(with_request(done.clone(), Some("axon cancel"), at), done);
        let setup = RunObservation::SetupFailed {
            at: at.into(),
            reason: "clone failed".into(),
        };
        assert_eq!(with_request(setup.clone(), Some("axon cancel"), at), setup);
        let waiting = RunObservation::Waiting {
            reason: "waiting for its Pod".into(),
        };
        assert_eq!(with_request(waiting.clone(), None, at), waiting);
        assert_eq!(
            with_request(waiting, Some("axon cancel"), at),
            cancelled("axon cancel", at, None)
        );
    }
}
