//! Job and Pod states → observations, for the reasons a Task fails or waits.

use axon_core::task_status::{EndCause, RunObservation};
use axon_kube::observe::observe;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};

const NOW: &str = "2026-01-01T01:00:00Z";

fn job(status: Value) -> Job {
    serde_json::from_value(
        json!({"metadata": {"name": "t"}, "spec": {"template": {}}, "status": status}),
    )
    .expect("job")
}

fn pod(status: Value) -> Pod {
    serde_json::from_value(json!({"metadata": {"name": "t-x", "creationTimestamp": "2026-01-01T00:00:00Z"}, "status": status}))
        .expect("pod")
}

fn cs(name: &str, image: &str, state: Value) -> Value {
    json!({"name": name, "image": image, "imageID": "", "ready": false, "restartCount": 0, "state": state})
}

fn failed_job() -> Job {
    job(
        json!({"failed": 1, "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "lastTransitionTime": "2026-01-01T00:30:00Z"}]}),
    )
}

#[test]
fn image_pull_backoff_fails_with_the_image() {
    let p = pod(
        json!({"phase": "Pending", "containerStatuses": [cs("agent", "ghcr.io/x/y:1",
        json!({"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}))]}),
    );
    match observe(&job(json!({"active": 1})), &[p], None, NOW) {
        RunObservation::Finished {
            cause: Some(EndCause::ImagePull { image, reason }),
            ..
        } => {
            assert_eq!(image, "ghcr.io/x/y:1");
            assert!(reason.starts_with("ImagePullBackOff"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn oom_killed_is_named() {
    let p = pod(
        json!({"phase": "Failed", "containerStatuses": [cs("agent", "i",
        json!({"terminated": {"exitCode": 137, "reason": "OOMKilled", "startedAt": "2026-01-01T00:00:10Z", "finishedAt": "2026-01-01T00:20:00Z"}}))]}),
    );
    match observe(&failed_job(), &[p], None, NOW) {
        RunObservation::Finished {
            cause, exit_code, ..
        } => {
            assert_eq!(cause, Some(EndCause::OomKilled));
            assert_eq!(exit_code, Some(137));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn failed_clone_is_a_setup_failure_with_its_last_line() {
    let p = pod(json!({"phase": "Failed",
        "initContainerStatuses": [cs("prepare", "axon", json!({"terminated": {"exitCode": 128,
            "message": "cloning https://github.com/o/r.git\nfatal: repository not found\n", "finishedAt": "2026-01-01T00:00:05Z"}}))],
        "containerStatuses": [cs("agent", "i", json!({"waiting": {"reason": "PodInitializing"}}))]}));
    assert_eq!(
        observe(&failed_job(), &[p], None, NOW),
        RunObservation::SetupFailed {
            at: "2026-01-01T00:00:05Z".into(),
            reason: "preparing the workspace failed (exit code 128): fatal: repository not found"
                .into()
        }
    );
}

#[test]
fn create_container_config_error_fails_with_the_kubelet_message() {
    let p = pod(
        json!({"phase": "Pending", "containerStatuses": [cs("agent", "i",
        json!({"waiting": {"reason": "CreateContainerConfigError", "message": "secret \"key\" not found"}}))]}),
    );
    assert_eq!(
        observe(&job(json!({"active": 1})), &[p], None, NOW),
        RunObservation::SetupFailed {
            at: NOW.into(),
            reason: "container agent cannot start: secret \"key\" not found".into()
        }
    );
}

#[test]
fn unschedulable_pod_waits_and_says_why() {
    let p = pod(
        json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
        "reason": "Unschedulable", "message": "0/3 nodes are available: 3 Insufficient cpu."}]}),
    );
    assert_eq!(
        observe(&job(json!({"active": 1})), &[p], None, NOW),
        RunObservation::Waiting {
            reason: "Pod t-x is not scheduled: 0/3 nodes are available: 3 Insufficient cpu.".into()
        }
    );
}

#[test]
fn cloning_waits() {
    let p = pod(json!({"phase": "Pending",
        "initContainerStatuses": [cs("prepare", "axon", json!({"running": {"startedAt": "2026-01-01T00:00:01Z"}}))]}));
    assert_eq!(
        observe(&job(json!({"active": 1})), &[p], None, NOW),
        RunObservation::Waiting {
            reason: "preparing the workspace (cloning the repository)".into()
        }
    );
}

#[test]
fn forged_or_missing_termination_message_gives_no_results() {
    let p = pod(
        json!({"phase": "Succeeded", "containerStatuses": [cs("agent", "i",
        json!({"terminated": {"exitCode": 0, "message": "not json", "finishedAt": "2026-01-01T00:20:00Z"}}))]}),
    );
    let j = job(json!({"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}));
    match observe(&j, &[p], None, NOW) {
        RunObservation::Finished {
            results, exit_code, ..
        } => {
            assert_eq!(results, None);
            assert_eq!(exit_code, Some(0));
        }
        other => panic!("{other:?}"),
    }
}
