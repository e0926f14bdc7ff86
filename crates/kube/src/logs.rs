//! `axon logs`: wait for the Task's Pod, stream the init containers (workspace preparation,
//! then the agent), as raw bytes, and reconnect when the stream drops while the Task runs.
//!
//! Following (`-f`) waits, bounded by [`LogOptions::wait`], while there is nothing to follow
//! yet (no Pod, or a Pod whose container has not started: no status yet, pulling its image,
//! waiting for the previous init container), saying once per reason what it waits for, and
//! stops when the Task ends. What to do with a container is decided by a pure function
//! ([`container_step`]).

use crate::backend::KubeBackend;
use crate::error::KubeError;
use crate::names::{AGENT_CONTAINER, LABEL_TASK, PREPARE_CONTAINER};
use axon_api::Task;
use futures::AsyncReadExt;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, ListParams, LogParams};
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_secs(1);
/// How long `axon logs -f` waits for something to follow by default.
pub const LOG_WAIT: Duration = Duration::from_secs(600);

/// How `logs` reads.
#[derive(Clone, Copy, Debug)]
pub struct LogOptions {
    /// Stream until the Task ends instead of printing what there is.
    pub follow: bool,
    /// While following, how long to wait for a Pod or a container to start before giving up.
    pub wait: Duration,
}

/// Where a container is: not started, running, or done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Waiting,
    Running,
    Terminated,
    Absent,
}

fn state(statuses: Option<&Vec<ContainerStatus>>, name: &str) -> State {
    let Some(c) = statuses.and_then(|s| s.iter().find(|c| c.name == name)) else {
        return State::Absent;
    };
    match c.state.as_ref() {
        Some(s) if s.terminated.is_some() => State::Terminated,
        Some(s) if s.running.is_some() => State::Running,
        _ => State::Waiting,
    }
}

/// A container's state, whether it is an init container (prepare, agent) or not.
fn container_state(pod: &Pod, name: &str) -> State {
    let st = pod.status.as_ref();
    match state(st.and_then(|s| s.init_container_statuses.as_ref()), name) {
        State::Absent => state(st.and_then(|s| s.container_statuses.as_ref()), name),
        found => found,
    }
}

/// Whether the Pod's spec has the container (a Pod without a Workspace has no `prepare`).
fn in_spec(pod: &Pod, name: &str) -> bool {
    pod.spec.as_ref().is_some_and(|s| {
        s.init_containers
            .iter()
            .flatten()
            .chain(s.containers.iter())
            .any(|c| c.name == name)
    })
}

/// What `logs` does with one container of the Pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// It ran or runs: stream it (follow only while it runs).
    Stream,
    /// Nothing to show, and nothing will come: go on with the next container.
    Skip,
    /// It has not started yet; the reason says what it waits for.
    Wait(String),
}

/// What to do with `container` of `pod` (pure).
pub fn container_step(pod: &Pod, container: &str) -> Step {
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let st = pod.status.as_ref();
    let phase = st.and_then(|s| s.phase.as_deref()).unwrap_or("Pending");
    match container_state(pod, container) {
        State::Running | State::Terminated => return Step::Stream,
        State::Absent if !in_spec(pod, container) => return Step::Skip,
        State::Absent | State::Waiting => {}
    }
    if matches!(phase, "Succeeded" | "Failed") {
        return Step::Skip;
    }
    let waiting = st
        .and_then(|s| s.init_container_statuses.as_ref())
        .into_iter()
        .flatten()
        .chain(
            st.and_then(|s| s.container_statuses.as_ref())
                .into_iter()
                .flatten(),
        )
        .find(|c| c.name == container)
        .and_then(|c| c.state.as_ref()?.waiting.as_ref())
        .and_then(|w| {
            let reason = w.reason.as_deref()?;
            Some(match w.message.as_deref().filter(|m| !m.is_empty()) {
                Some(m) => format!("{reason}: {m}"),
                None => reason.to_string(),
            })
        });
    let scheduled = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_ref())
        .is_some();
    Step::Wait(match waiting {
        Some(w) => format!("container {container} of Pod {name} is waiting ({w})"),
        None if !scheduled => {
            format!("Pod {name} is {phase} and not scheduled to a node yet")
        }
        None => format!("container {container} of Pod {name} has not started yet ({phase})"),
    })
}

/// Says each distinct waiting reason once, and fails when waiting lasted too long.
struct Waiter<'a> {
    deadline: Instant,
    limit: Duration,
    said: Option<String>,
    notice: &'a mut (dyn FnMut(&str) + Send),
}

impl Waiter<'_> {
    async fn wait(&mut self, task: &str, reason: String) -> Result<(), KubeError> {
        if Instant::now() >= self.deadline {
            return Err(KubeError::Timeout {
                what: format!(
                    "something to follow in Task {task}'s logs: {reason} (axon get task {task} -o yaml says more)"
                ),
                seconds: self.limit.as_secs(),
            });
        }
        if self.said.as_deref() != Some(reason.as_str()) {
            (self.notice)(&format!("waiting: {reason}"));
            self.said = Some(reason);
        }
        tokio::time::sleep(POLL).await;
        Ok(())
    }
}

impl KubeBackend {
    pub(crate) async fn get_task(&self, task: &str) -> Result<Task, KubeError> {
        let api: Api<Task> = Api::namespaced(self.client.clone(), self.namespace());
        let t = api
            .get_opt(task)
            .await
            .map_err(|e| KubeError::api(format!("get Task {}/{task}", self.namespace()), e))?;
        t.ok_or_else(|| KubeError::NotFound {
            kind: "Task".into(),
            name: task.into(),
            namespace: self.namespace().into(),
        })
    }

    async fn newest_pod(&self, task: &str) -> Result<Option<Pod>, KubeError> {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), self.namespace());
        let list = pods
            .list(&ListParams::default().labels(&format!("{LABEL_TASK}={task}")))
            .await
            .map_err(|e| KubeError::api(format!("list Pods of Task {task}"), e))?;
        Ok(list
            .items
            .into_iter()
            .max_by_key(|p| p.metadata.creation_timestamp.as_ref().map(|t| t.0)))
    }

    /// Write the Task's logs to `out`: the workspace preparation, then the agent. With
    /// `follow`, waits (up to [`LOG_WAIT`]) for the Pod and streams until the Task ends; what
    /// it waits for goes to the log at level info.
    pub async fn logs(
        &self,
        task: &str,
        follow: bool,
        out: &mut (dyn std::io::Write + Send),
    ) -> Result<(), KubeError> {
        let opts = LogOptions {
            follow,
            wait: LOG_WAIT,
        };
        self.logs_with(task, opts, out, &mut |m| tracing::info!(task, "{m}"))
            .await
    }

    /// [`KubeBackend::logs`] with its wait bound, and `notice` hearing what it waits for and,
    /// when following, how the Task ended (for a person: not part of the log).
    pub async fn logs_with(
        &self,
        task: &str,
        opts: LogOptions,
        out: &mut (dyn std::io::Write + Send),
        notice: &mut (dyn FnMut(&str) + Send),
    ) -> Result<(), KubeError> {
        let mut waiter = Waiter {
            deadline: Instant::now() + opts.wait,
            limit: opts.wait,
            said: None,
            notice,
        };
        // Wait for a Pod (or for the Task to end without one).
        let pod = loop {
            if let Some(p) = self.newest_pod(task).await? {
                break p;
            }
            let status = self.get_task(task).await?.status.unwrap_or_default();
            if status.phase.is_some_and(|p| p.is_finished()) || !opts.follow {
                return Err(KubeError::NoPod {
                    task: task.into(),
                    reason: status
                        .message
                        .unwrap_or_else(|| "it has not started yet".into()),
                });
            }
            let why = status
                .message
                .unwrap_or_else(|| "the controller has not created it yet".into());
            waiter
                .wait(task, format!("Task {task} has no Pod yet ({why})"))
                .await?;
        };
        let pod_name = pod.metadata.name.clone().unwrap_or_default();
        for container in [PREPARE_CONTAINER, AGENT_CONTAINER] {
            let ended = self
                .container_logs(task, &pod_name, container, opts.follow, &mut waiter, out)
                .await?;
            if ended {
                break;
            }
        }
        if opts.follow {
            // How it ended, for the person watching (the log itself may say nothing).
            if let Ok(t) = self.get_task(task).await {
                let s = t.status.unwrap_or_default();
                if let Some(phase) = s.phase.filter(|p| p.is_finished()) {
                    (waiter.notice)(&format!(
                        "Task {task} {phase}{}",
                        s.message.map(|m| format!(": {m}")).unwrap_or_default()
                    ));
                }
            }
        }
        Ok(())
    }

    /// Stream one container; `true` when the Pod or the Task is gone or ended while waiting
    /// for it (nothing more will come).
    async fn container_logs(
        &self,
        task: &str,
        pod_name: &str,
        container: &str,
        follow: bool,
        waiter: &mut Waiter<'_>,
        out: &mut (dyn std::io::Write + Send),
    ) -> Result<bool, KubeError> {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), self.namespace());
        let mut since: Option<Time> = None;
        loop {
            let pod = pods
                .get_opt(pod_name)
                .await
                .map_err(|e| KubeError::api(format!("get Pod {pod_name}"), e))?;
            let Some(pod) = pod else { return Ok(true) };
            match container_step(&pod, container) {
                Step::Skip => return Ok(false),
                Step::Wait(_) if !follow => return Ok(false),
                Step::Wait(reason) => {
                    let status = self.get_task(task).await?.status.unwrap_or_default();
                    if status.phase.is_some_and(|p| p.is_finished()) {
                        return Ok(true);
                    }
                    waiter.wait(task, reason).await?;
                    continue;
                }
                Step::Stream => {}
            }
            let was_running = container_state(&pod, container) == State::Running;
            let lp = LogParams {
                container: Some(container.into()),
                follow: follow && was_running,
                since_time: since.as_ref().map(|t| t.0),
                ..Default::default()
            };
            let mut stream = pods
                .log_stream(pod_name, &lp)
                .await
                .map_err(|e| KubeError::api(format!("logs of {pod_name}/{container}"), e))?;
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) => break,
                    Ok(n) => {
                        out.write_all(&buf[..n])?;
                        out.flush()?;
                    }
                    Err(e) => {
                        tracing::debug!(task, error = %e, "log stream dropped");
                        break;
                    }
                }
            }
            since = Some(Time(jiff::Timestamp::now()));
            if !(follow && was_running) {
                return Ok(false);
            }
            // The stream ended: done if the container ended, else reconnect.
            let pod = pods
                .get_opt(pod_name)
                .await
                .map_err(|e| KubeError::api(format!("get Pod {pod_name}"), e))?;
            match pod.map(|p| container_state(&p, container)) {
                Some(State::Running) => tokio::time::sleep(POLL).await,
                _ => return Ok(false),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn pod(spec: Value, status: Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "t-1"}, "spec": spec, "status": status}))
            .expect("pod")
    }

    fn spec(node: Option<&str>) -> Value {
        let mut s = json!({"initContainers": [{"name": "prepare"}, {"name": "agent"}],
            "containers": [{"name": "results"}]});
        if let Some(n) = node {
            s["nodeName"] = json!(n);
        }
        s
    }

    #[test]
    fn a_pod_without_statuses_is_waited_for() {
        let p = pod(spec(None), json!({"phase": "Pending"}));
        assert_eq!(
            container_step(&p, "prepare"),
            Step::Wait("Pod t-1 is Pending and not scheduled to a node yet".into())
        );
        let p = pod(spec(Some("n1")), json!({"phase": "Pending"}));
        assert_eq!(
            container_step(&p, "agent"),
            Step::Wait("container agent of Pod t-1 has not started yet (Pending)".into())
        );
    }

    #[test]
    fn a_waiting_container_says_why() {
        let p = pod(
            spec(Some("n1")),
            json!({"phase": "Pending", "initContainerStatuses": [
                {"name": "prepare", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
                 "state": {"waiting": {"reason": "ErrImagePull", "message": "not found"}}}]}),
        );
        assert_eq!(
            container_step(&p, "prepare"),
            Step::Wait("container prepare of Pod t-1 is waiting (ErrImagePull: not found)".into())
        );
    }

    #[test]
    fn started_containers_stream_and_absent_ones_are_skipped() {
        let running = json!({"phase": "Running", "initContainerStatuses": [
            {"name": "agent", "image": "i", "imageID": "", "ready": true, "restartCount": 0,
             "state": {"running": {}}}]});
        let no_prepare = json!({"initContainers": [{"name": "agent"}], "containers": [{"name": "results"}],
            "nodeName": "n1"});
        let p = pod(no_prepare, running.clone());
        assert_eq!(container_step(&p, "agent"), Step::Stream);
        assert_eq!(container_step(&p, "prepare"), Step::Skip, "no Workspace");
        let ended = pod(spec(Some("n1")), json!({"phase": "Failed"}));
        assert_eq!(container_step(&ended, "agent"), Step::Skip, "never will");
    }
}
