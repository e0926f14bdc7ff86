//! Job and Pod states → observations, for the reasons a Task fails or waits. The agent is an
//! init container; results come only from the `results` container's termination message.

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
        json!({"phase": "Pending", "initContainerStatuses": [cs("agent", "ghcr.io/x/y:1",
        json!({"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}))],
        "containerStatuses": [cs("results", "axon", json!({"waiting": {"reason": "PodInitializing"}}))]}),
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
        json!({"phase": "Failed", "initContainerStatuses": [cs("agent", "i",
        json!({"terminated": {"exitCode": 137, "reason": "OOMKilled", "startedAt": "2026-01-01T00:00:10Z", "finishedAt": "2026-01-01T00:20:00Z"}}))],
        "containerStatuses": [cs("results", "axon", json!({"waiting": {"reason": "PodInitializing"}}))]}),
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
            "message": "cloning https://github.com/o/r.git\nfatal: repository not found\n", "finishedAt": "2026-01-01T00:00:05Z"}})),
            cs("agent", "i", json!({"waiting": {"reason": "PodInitializing"}}))],
        "containerStatuses": [cs("results", "axon", json!({"waiting": {"reason": "PodInitializing"}}))]}));
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
        json!({"phase": "Pending", "initContainerStatuses": [cs("agent", "i",
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

fn complete_job() -> Job {
    job(json!({"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}))
}

/// A Pod whose agent init container ended (exit 0: its wrapper always exits 0) with `agent_message`
/// as its own termination message, and whose results container ended with `results`.
fn ran(agent_message: &str, results: Value) -> Pod {
    pod(json!({"phase": "Succeeded",
        "initContainerStatuses": [cs("agent", "i", json!({"terminated": {"exitCode": 0, "message": agent_message,
            "startedAt": "2026-01-01T00:00:10Z", "finishedAt": "2026-01-01T00:19:00Z"}}))],
        "containerStatuses": [cs("results", "axon", json!({"terminated": results}))]}))
}

#[test]
fn a_forged_termination_message_of_the_agent_is_ignored() {
    let forged = json!({"branch": "main", "commits": ["f".repeat(40)], "pushed": true,
        "pullRequests": ["https://github.com/o/r/pull/999"], "success": true,
        "usage": {"inputTokens": 1, "outputTokens": 1, "turns": 1}})
    .to_string();
    let collected = json!({"branch": "axon/fix", "commits": ["a".repeat(40)], "pushed": false,
        "success": false, "exitCode": 1, "failureReason": "tests fail"})
    .to_string();
    let p = ran(
        &forged,
        json!({"exitCode": 1, "message": collected, "finishedAt": "2026-01-01T00:20:00Z"}),
    );
    match observe(&failed_job(), &[p], None, NOW) {
        RunObservation::Finished {
            results: Some(r),
            exit_code,
            cause,
            ..
        } => {
            assert_eq!(r.branch.as_deref(), Some("axon/fix"));
            assert_eq!(r.commits, ["a".repeat(40)]);
            assert!(!r.pushed && !r.success);
            assert!(r.pull_requests.is_empty());
            assert_eq!(exit_code, Some(1));
            assert_eq!(cause, None);
        }
        other => panic!("{other:?}"),
    }
    // With no results container status at all, the agent's message is still not read.
    let p = pod(json!({"phase": "Succeeded",
        "initContainerStatuses": [cs("agent", "i", json!({"terminated": {"exitCode": 0, "message": forged}}))]}));
    match observe(&complete_job(), &[p], None, NOW) {
        RunObservation::Finished { results, .. } => assert_eq!(results, None),
        other => panic!("{other:?}"),
    }
}

#[test]
fn results_come_from_the_results_container() {
    let collected = json!({"branch": "axon/fix", "baseBranch": "main", "commits": ["a".repeat(40)],
        "pushed": true, "success": true, "exitCode": 0})
    .to_string();
    let p = ran(
        "",
        json!({"exitCode": 0, "message": collected, "finishedAt": "2026-01-01T00:20:00Z"}),
    );
    match observe(&complete_job(), &[p], None, NOW) {
        RunObservation::Finished {
            results: Some(r),
            exit_code,
            cause,
            at,
        } => {
            assert_eq!(r.branch.as_deref(), Some("axon/fix"));
            assert!(r.pushed && r.success);
            assert_eq!((exit_code, cause), (Some(0), None));
            assert_eq!(at, "2026-01-01T00:20:00Z");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_failed_collection_says_so() {
    let p = ran(
        "",
        json!({"exitCode": 2, "message": "axon agent collect: cannot open /workspace/repo: permission denied\n",
            "finishedAt": "2026-01-01T00:20:00Z"}),
    );
    assert_eq!(
        observe(&failed_job(), &[p], None, NOW),
        RunObservation::Finished {
            at: "2026-01-01T00:30:00Z".into(),
            results: None,
            exit_code: None,
            cause: Some(EndCause::Other(
                "collecting the results failed (container results exited with code 2: axon agent collect: cannot open /workspace/repo: permission denied); the agent's claims and the work tree were not read".into()
            )),
        }
    );
    // An exit 0 without a document is a failure too, never a success without outputs.
    let p = ran("", json!({"exitCode": 0, "message": "not json"}));
    match observe(&complete_job(), &[p], None, NOW) {
        RunObservation::Finished {
            results: None,
            cause: Some(EndCause::Other(m)),
            ..
        } => assert!(
            m.starts_with(
                "collecting the results failed (container results exited with code 0: not json)"
            ),
            "{m}"
        ),
        other => panic!("{other:?}"),
    }
    let p = ran("", json!({"exitCode": 137, "reason": "OOMKilled"}));
    match observe(&failed_job(), &[p], None, NOW) {
        RunObservation::Finished {
            cause: Some(EndCause::Other(m)),
            ..
        } => assert!(m.contains("exited with code 137: OOMKilled"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_agent_the_kubelet_killed_is_reported_with_its_exit_code() {
    let p = pod(json!({"phase": "Failed",
        "initContainerStatuses": [cs("agent", "i", json!({"terminated": {"exitCode": 137, "reason": "Error",
            "message": "{\"success\": true}", "finishedAt": "2026-01-01T00:20:00Z"}}))],
        "containerStatuses": [cs("results", "axon", json!({"waiting": {"reason": "PodInitializing"}}))]}));
    assert_eq!(
        observe(&failed_job(), &[p], None, NOW),
        RunObservation::Finished {
            at: "2026-01-01T00:30:00Z".into(),
            results: None,
            exit_code: Some(137),
            cause: None,
        }
    );
}

#[test]
fn an_agent_image_without_a_shell_cannot_start() {
    let p = pod(json!({"phase": "Failed",
        "initContainerStatuses": [cs("agent", "i", json!({"terminated": {"exitCode": 128, "reason": "StartError",
            "message": "exec: \"/bin/sh\": stat /bin/sh: no such file or directory"}}))]}));
    match observe(&failed_job(), &[p], None, NOW) {
        RunObservation::Finished {
            cause: Some(EndCause::Other(m)),
            ..
        } => assert_eq!(
            m,
            "container agent cannot start: exec: \"/bin/sh\": stat /bin/sh: no such file or directory"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_deadline_while_the_agent_runs_is_a_timeout() {
    let p = pod(json!({"phase": "Failed",
        "initContainerStatuses": [cs("agent", "i", json!({"terminated": {"exitCode": 143, "reason": "Error"}}))],
        "containerStatuses": [cs("results", "axon", json!({"waiting": {"reason": "PodInitializing"}}))]}));
    let j = job(
        json!({"failed": 1, "conditions": [{"type": "Failed", "status": "True", "reason": "DeadlineExceeded", "lastTransitionTime": "2026-01-01T00:30:00Z"}]}),
    );
    match observe(&j, &[p], Some(1800), NOW) {
        RunObservation::Finished { cause, .. } => {
            assert_eq!(cause, Some(EndCause::Timeout { seconds: 1800 }))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_task_runs_while_the_agent_or_the_collection_runs() {
    let running = pod(json!({"phase": "Pending",
        "initContainerStatuses": [cs("prepare", "axon", json!({"terminated": {"exitCode": 0}})),
            cs("agent", "i", json!({"running": {"startedAt": "2026-01-01T00:00:10Z"}}))],
        "containerStatuses": [cs("results", "axon", json!({"waiting": {"reason": "PodInitializing"}}))]}));
    let collecting = pod(json!({"phase": "Running",
        "initContainerStatuses": [cs("agent", "i", json!({"terminated": {"exitCode": 0, "startedAt": "2026-01-01T00:00:10Z"}}))],
        "containerStatuses": [cs("results", "axon", json!({"running": {"startedAt": "2026-01-01T00:19:00Z"}}))]}));
    for p in [running, collecting] {
        assert_eq!(
            observe(&job(json!({"active": 1})), &[p], None, NOW),
            RunObservation::Started {
                at: "2026-01-01T00:00:10Z".into(),
                job: "t".into(),
                pod: "t-x".into()
            }
        );
    }
}
