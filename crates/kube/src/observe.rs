//! Job and Pod state → [`RunObservation`], the input of the one Task state machine
//! (`axon_core::task_status::next_status`). Pure: the controller fetches, this decides what
//! it saw, with a message that says why (exit code, OOMKilled, DeadlineExceeded,
//! ImagePullBackOff, a missing Secret or key, a failed clone, a failed collection).
//!
//! The results document comes only from the termination message of the `results` container,
//! which runs after every agent process is gone; whatever the `agent` init container wrote as
//! its own termination message is never read. What the kubelet observed about the agent
//! (killed, OOMKilled, could not start) comes from the agent's init container status.

use crate::names::{AGENT_CONTAINER, PREPARE_CONTAINER, RESULTS_CONTAINER};
use axon_core::results::ResultsDocument;
use axon_core::task_status::{EndCause, RunObservation};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

fn time(t: Option<&Time>) -> Option<String> {
    t.map(|t| t.0.to_string())
}

/// The Job's terminal condition (`Complete` or `Failed` with status `True`), if any.
fn terminal_condition(job: &Job) -> Option<(bool, String, String, Option<String>)> {
    let conds = job.status.as_ref()?.conditions.as_ref()?;
    conds
        .iter()
        .find(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
        .map(|c| {
            (
                c.type_ == "Complete",
                c.reason.clone().unwrap_or_default(),
                c.message.clone().unwrap_or_default(),
                time(c.last_transition_time.as_ref()),
            )
        })
}

/// The newest Pod (the last attempt when the Job retried).
fn newest(pods: &[Pod]) -> Option<&Pod> {
    pods.iter().max_by(|a, b| {
        let key = |p: &Pod| {
            (
                p.metadata.creation_timestamp.as_ref().map(|t| t.0),
                p.metadata.name.clone(),
            )
        };
        key(a).cmp(&key(b))
    })
}

fn status_of<'a>(
    statuses: Option<&'a Vec<ContainerStatus>>,
    name: &str,
) -> Option<&'a ContainerStatus> {
    statuses?.iter().find(|c| c.name == name)
}

fn init_status<'a>(pod: &'a Pod, name: &str) -> Option<&'a ContainerStatus> {
    status_of(pod.status.as_ref()?.init_container_statuses.as_ref(), name)
}

/// The agent's init container.
fn agent_status(pod: &Pod) -> Option<&ContainerStatus> {
    init_status(pod, AGENT_CONTAINER)
}

fn prepare_status(pod: &Pod) -> Option<&ContainerStatus> {
    init_status(pod, PREPARE_CONTAINER)
}

/// The results container (the Pod's only main container).
fn results_status(pod: &Pod) -> Option<&ContainerStatus> {
    status_of(
        pod.status.as_ref()?.container_statuses.as_ref(),
        RESULTS_CONTAINER,
    )
}

/// Parse a termination message as a results document (`None` when absent or not one).
pub fn parse_results(message: Option<&str>) -> Option<ResultsDocument> {
    let m = message?.trim();
    if m.is_empty() {
        return None;
    }
    serde_json::from_str(m).ok()
}

/// The observation from the results container, once it terminated: its document when it
/// wrote one (whatever its exit code: it exits 1 when the document says the run failed, so the
/// Job's `backoffLimit` retries), else a collection failure that says so.
fn finished_from_results(
    c: &ContainerStatus,
    at: Option<String>,
    now: &str,
) -> Option<RunObservation> {
    let t = c.state.as_ref()?.terminated.as_ref()?;
    let at = at
        .or_else(|| time(t.finished_at.as_ref()))
        .unwrap_or_else(|| now.to_string());
    if let Some(results) = parse_results(t.message.as_deref()) {
        // Written by the results container after it asked the gateway (never a claim).
        let cause = results
            .budget_exceeded
            .clone()
            .map(|message| EndCause::BudgetExceeded { message });
        return Some(RunObservation::Finished {
            at,
            exit_code: results.exit_code,
            results: Some(results),
            cause,
        });
    }
    let detail = t
        .message
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(|m| format!(": {}", last_line(m)))
        .or_else(|| {
            t.reason
                .as_deref()
                .filter(|r| *r == "OOMKilled")
                .map(|r| format!(": {r}"))
        })
        .unwrap_or_default();
    Some(RunObservation::Finished {
        at,
        results: None,
        exit_code: None,
        cause: Some(EndCause::Other(format!(
            "collecting the results failed (container {RESULTS_CONTAINER} exited with code {}{detail}); the agent's claims and the work tree were not read",
            t.exit_code
        ))),
    })
}

/// The observation from an agent init container the kubelet ended with a failure (killed,
/// OOMKilled): its wrapper exits 0 whatever the agent did, so a non-zero exit is the
/// platform's. Its termination message is ignored.
fn failed_agent(c: &ContainerStatus, at: Option<String>, now: &str) -> Option<RunObservation> {
    let t = c.state.as_ref()?.terminated.as_ref()?;
    if t.exit_code == 0 {
        return None;
    }
    let cause = match t.reason.as_deref() {
        Some("OOMKilled") => Some(EndCause::OomKilled),
        // The runtime could not start it (no /bin/sh or entrypoint in the image, ...).
        Some(r @ ("StartError" | "ContainerCannotRun")) => Some(EndCause::Other(format!(
            "container {AGENT_CONTAINER} cannot start: {}",
            t.message
                .as_deref()
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .unwrap_or(r)
        ))),
        _ => None,
    };
    Some(RunObservation::Finished {
        at: at
            .or_else(|| time(t.finished_at.as_ref()))
            .unwrap_or_else(|| now.to_string()),
        results: None,
        exit_code: Some(t.exit_code),
        cause,
    })
}

/// A failed workspace preparation, from the init container.
fn prepare_failed(pod: &Pod, now: &str) -> Option<RunObservation> {
    let c = prepare_status(pod)?;
    let t = c.state.as_ref()?.terminated.as_ref()?;
    if t.exit_code == 0 {
        return None;
    }
    let detail = t
        .message
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(|m| format!(": {}", last_line(m)))
        .unwrap_or_default();
    Some(RunObservation::SetupFailed {
        at: time(t.finished_at.as_ref()).unwrap_or_else(|| now.to_string()),
        reason: format!(
            "preparing the workspace failed (exit code {}){detail}",
            t.exit_code
        ),
    })
}

fn last_line(s: &str) -> &str {
    s.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(s)
        .trim()
}

/// A container that cannot start: an image that cannot be pulled, a missing Secret or key.
fn blocked(pod: &Pod, now: &str) -> Option<RunObservation> {
    let st = pod.status.as_ref()?;
    let all = st
        .init_container_statuses
        .iter()
        .flatten()
        .chain(st.container_statuses.iter().flatten());
    for c in all {
        let Some(w) = c.state.as_ref().and_then(|s| s.waiting.as_ref()) else {
            continue;
        };
        let reason = w.reason.as_deref().unwrap_or_default();
        let message = w.message.clone().unwrap_or_default();
        match reason {
            "ImagePullBackOff" | "InvalidImageName" | "ErrImageNeverPull" => {
                return Some(RunObservation::Finished {
                    at: now.to_string(),
                    results: None,
                    exit_code: None,
                    cause: Some(EndCause::ImagePull {
                        image: c.image.clone(),
                        reason: if message.is_empty() {
                            reason.to_string()
                        } else {
                            format!("{reason}: {message}")
                        },
                    }),
                });
            }
            "CreateContainerConfigError" | "CreateContainerError" => {
                return Some(RunObservation::SetupFailed {
                    at: now.to_string(),
                    reason: format!("container {} cannot start: {message}", c.name),
                });
            }
            "ErrImagePull" => {
                return Some(RunObservation::Waiting {
                    reason: format!("pulling image {} failed, retrying: {message}", c.image),
                });
            }
            _ => {}
        }
    }
    None
}

/// What the Pod waits for (scheduling, the workspace, the image).
fn waiting_reason(pod: &Pod) -> String {
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let st = pod.status.as_ref();
    if let Some(c) = st.and_then(|s| s.conditions.as_ref()).and_then(|cs| {
        cs.iter()
            .find(|c| c.type_ == "PodScheduled" && c.status == "False")
    }) {
        return format!(
            "Pod {name} is not scheduled: {}",
            c.message
                .clone()
                .or_else(|| c.reason.clone())
                .unwrap_or_default()
        );
    }
    if prepare_status(pod)
        .and_then(|c| c.state.as_ref())
        .is_some_and(|s| s.running.is_some())
    {
        return "preparing the workspace (cloning the repository)".to_string();
    }
    format!("Pod {name} is starting")
}

/// What happened to a Task's run, from its Job and the Job's Pods. `now` (RFC 3339) stamps
/// what has no time of its own; `timeout_seconds` is the Task's, for the message.
pub fn observe(job: &Job, pods: &[Pod], timeout_seconds: Option<i64>, now: &str) -> RunObservation {
    let job_name = job.metadata.name.clone().unwrap_or_default();
    let pod = newest(pods);
    if let Some((complete, reason, message, at)) = terminal_condition(job) {
        let at = time(job.status.as_ref().and_then(|s| s.completion_time.as_ref())).or(at);
        let ended = pod
            .and_then(results_status)
            .and_then(|c| finished_from_results(c, at.clone(), now))
            .or_else(|| {
                pod.and_then(agent_status)
                    .and_then(|c| failed_agent(c, at.clone(), now))
            });
        if let Some(obs) = ended {
            if reason == "DeadlineExceeded"
                && let RunObservation::Finished {
                    at,
                    results,
                    exit_code,
                    ..
                } = obs
            {
                return RunObservation::Finished {
                    at,
                    results,
                    exit_code,
                    cause: Some(EndCause::Timeout {
                        seconds: timeout_seconds.unwrap_or_default(),
                    }),
                };
            }
            return obs;
        }
        if let Some(obs) = pod.and_then(|p| prepare_failed(p, now)) {
            return obs;
        }
        let at = at.unwrap_or_else(|| now.to_string());
        let cause = match (complete, reason.as_str()) {
            (true, _) => None,
            (false, "DeadlineExceeded") => Some(EndCause::Timeout {
                seconds: timeout_seconds.unwrap_or_default(),
            }),
            (false, _) => Some(EndCause::Other(format!(
                "Job {job_name} failed: {}",
                if message.is_empty() {
                    reason
                } else {
                    format!("{reason}: {message}")
                }
            ))),
        };
        return RunObservation::Finished {
            at,
            results: None,
            exit_code: None,
            cause,
        };
    }
    let Some(pod) = pod else {
        return RunObservation::Waiting {
            reason: format!("waiting for Job {job_name} to create its Pod"),
        };
    };
    if let Some(obs) = blocked(pod, now) {
        return obs;
    }
    if let Some(c) = agent_status(pod) {
        let state = c.state.as_ref();
        let started = state
            .and_then(|s| s.running.as_ref())
            .map(|r| time(r.started_at.as_ref()))
            .or_else(|| {
                state
                    .and_then(|s| s.terminated.as_ref())
                    .map(|t| time(t.started_at.as_ref()))
            });
        if let Some(at) = started {
            return RunObservation::Started {
                at: at.unwrap_or_else(|| now.to_string()),
                job: job_name,
                pod: pod.metadata.name.clone().unwrap_or_default(),
            };
        }
    }
    RunObservation::Waiting {
        reason: waiting_reason(pod),
    }
}
