//! `axon logs`: wait for the Task's Pod, stream the init containers (workspace preparation,
//! then the agent), as raw bytes, and reconnect when the stream drops while the Task runs.

use crate::backend::KubeBackend;
use crate::error::KubeError;
use crate::names::{AGENT_CONTAINER, LABEL_TASK, PREPARE_CONTAINER};
use axon_api::Task;
use futures::AsyncReadExt;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, ListParams, LogParams};
use std::time::Duration;

const POLL: Duration = Duration::from_secs(1);

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

impl KubeBackend {
    async fn task_finished(&self, task: &str) -> Result<Option<Task>, KubeError> {
        let api: Api<Task> = Api::namespaced(self.client.clone(), self.namespace());
        let t = api
            .get_opt(task)
            .await
            .map_err(|e| KubeError::api(format!("get Task {}/{task}", self.namespace()), e))?;
        match t {
            None => Err(KubeError::NotFound {
                kind: "Task".into(),
                name: task.into(),
                namespace: self.namespace().into(),
            }),
            Some(t) => Ok(Some(t)),
        }
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
    /// `follow`, waits for the Pod and streams until the Task ends.
    pub async fn logs(
        &self,
        task: &str,
        follow: bool,
        out: &mut (dyn std::io::Write + Send),
    ) -> Result<(), KubeError> {
        // Wait for a Pod (or for the Task to end without one).
        let pod = loop {
            if let Some(p) = self.newest_pod(task).await? {
                break p;
            }
            let t = self.task_finished(task).await?;
            let status = t.and_then(|t| t.status).unwrap_or_default();
            if status.phase.is_some_and(|p| p.is_finished()) || !follow {
                return Err(KubeError::NoPod {
                    task: task.into(),
                    reason: status
                        .message
                        .unwrap_or_else(|| "it has not started yet".into()),
                });
            }
            tokio::time::sleep(POLL).await;
        };
        let pod_name = pod.metadata.name.clone().unwrap_or_default();
        for container in [PREPARE_CONTAINER, AGENT_CONTAINER] {
            self.container_logs(task, &pod_name, container, follow, out)
                .await?;
        }
        Ok(())
    }

    async fn container_logs(
        &self,
        task: &str,
        pod_name: &str,
        container: &str,
        follow: bool,
        out: &mut (dyn std::io::Write + Send),
    ) -> Result<(), KubeError> {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), self.namespace());
        let mut since: Option<Time> = None;
        loop {
            let pod = pods
                .get_opt(pod_name)
                .await
                .map_err(|e| KubeError::api(format!("get Pod {pod_name}"), e))?;
            let Some(pod) = pod else { return Ok(()) };
            match container_state(&pod, container) {
                State::Absent => return Ok(()),
                State::Waiting if follow => {
                    if pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Failed") {
                        return Ok(());
                    }
                    tokio::time::sleep(POLL).await;
                    continue;
                }
                State::Waiting => return Ok(()),
                State::Running | State::Terminated => {}
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
                return Ok(());
            }
            // The stream ended: done if the container ended, else reconnect.
            let pod = pods
                .get_opt(pod_name)
                .await
                .map_err(|e| KubeError::api(format!("get Pod {pod_name}"), e))?;
            match pod.map(|p| container_state(&p, container)) {
                Some(State::Running) => tokio::time::sleep(POLL).await,
                _ => return Ok(()),
            }
        }
    }
}
