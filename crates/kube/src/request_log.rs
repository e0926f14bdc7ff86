//! `axon logs TASK --requests` on Kubernetes: the Task's requests as the cluster's gateway
//! recorded them. The gateway prints one JSON audit line per request on standard output, named
//! with its Task (`namespace/name`), so the record is in its Pods' logs (and in whatever log
//! pipeline the cluster ships them to); this reads those logs and keeps the Task's lines, in
//! the local backend's format (the record without the `task` field), so `axon logs --requests`
//! shows both backends' records the same way.
//!
//! What the Pods' logs hold is what the kubelet kept: a gateway Pod that restarted or was
//! replaced took its earlier lines with it. Long-term audit belongs in the cluster's log
//! pipeline, which receives the same lines.

use crate::backend::KubeBackend;
use crate::error::KubeError;
use crate::manifests::gateway_selector;
use crate::names::SYSTEM_NAMESPACE;
use futures::{AsyncBufReadExt, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, LogParams};
use serde_json::Value;
use std::time::Duration;

/// How often a followed log checks whether the Task ended.
const FOLLOW_POLL: Duration = Duration::from_secs(2);

/// The record of one gateway log line when it belongs to `task_key` (`namespace/name`): the
/// line without its `task` field. Other lines (other Tasks, the gateway's own logs, anything
/// that is not an audit line) are `None`.
pub fn task_record(line: &str, task_key: &str) -> Option<String> {
    let Ok(Value::Object(mut map)) = serde_json::from_str::<Value>(line.trim()) else {
        return None;
    };
    if map.get("task").and_then(Value::as_str) != Some(task_key) {
        return None;
    }
    map.remove("task");
    serde_json::to_string(&Value::Object(map)).ok()
}

impl KubeBackend {
    /// Write the requests the gateway recorded for `task` to `out`, one JSON line each; with
    /// `follow`, keep writing new ones until the Task ends.
    pub async fn requests(
        &self,
        task: &str,
        follow: bool,
        out: &mut (dyn std::io::Write + Send),
    ) -> Result<(), KubeError> {
        let t = self.get_task(task).await?;
        let key = format!("{}/{task}", self.namespace());
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), SYSTEM_NAMESPACE);
        let selector = gateway_selector()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        let mut list = pods
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(|e| {
                KubeError::api(format!("list the gateway's Pods in {SYSTEM_NAMESPACE}"), e)
            })?
            .items;
        if list.is_empty() {
            return Err(KubeError::NoRequestLog { task: task.into() });
        }
        list.sort_by_key(|p| p.metadata.creation_timestamp.as_ref().map(|t| t.0));
        let started = jiff::Timestamp::now();
        for pod in &list {
            let name = pod.metadata.name.clone().unwrap_or_default();
            let text = match pods.logs(&name, &LogParams::default()).await {
                Ok(text) => text,
                Err(e) => {
                    tracing::warn!(pod = %name, error = %e, "cannot read the gateway Pod's log");
                    continue;
                }
            };
            for record in text.lines().filter_map(|l| task_record(l, &key)) {
                writeln!(out, "{record}")?;
            }
        }
        out.flush()?;
        let finished = t
            .status
            .and_then(|s| s.phase)
            .is_some_and(|p| p.is_finished());
        if !follow || finished {
            return Ok(());
        }
        // The newest gateway Pod, from now on, until the Task ends.
        let Some(name) = list.last().and_then(|p| p.metadata.name.clone()) else {
            return Ok(());
        };
        let lp = LogParams {
            follow: true,
            since_time: Some(started),
            ..Default::default()
        };
        let stream = pods
            .log_stream(&name, &lp)
            .await
            .map_err(|e| KubeError::api(format!("logs of {SYSTEM_NAMESPACE}/{name}"), e))?;
        let mut lines = stream.lines();
        let mut tick = tokio::time::interval(FOLLOW_POLL);
        loop {
            tokio::select! {
                line = lines.next() => match line {
                    Some(Ok(line)) => {
                        if let Some(record) = task_record(&line, &key) {
                            writeln!(out, "{record}")?;
                            out.flush()?;
                        }
                    }
                    _ => return Ok(()),
                },
                _ = tick.tick() => {
                    let phase = self.get_task(task).await?.status.and_then(|s| s.phase);
                    if phase.is_some_and(|p| p.is_finished()) {
                        return Ok(());
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_tasks_audit_lines_only() {
        let mine = r#"{"task":"team/fix","at":"2026-11-30T10:00:00.000Z","kind":"model","method":"POST","host":"api.anthropic.com","path":"/v1/messages","status":200,"bytesUp":10,"bytesDown":20,"durationMs":5,"decision":"allowed"}"#;
        let record = task_record(mine, "team/fix").expect("the Task's line");
        let v: Value = serde_json::from_str(&record).expect("json");
        assert!(v.get("task").is_none(), "{record}");
        assert_eq!(v["path"], "/v1/messages");
        assert_eq!(v["status"], 200);
        for other in [
            mine.replace("team/fix", "team/fix-2"),
            mine.replace("team/fix", "other/fix"),
            r#"{"task":null,"status":401}"#.into(),
            "2026-11-30T10:00:00Z INFO the Axon gateway serves the cluster's Tasks".into(),
            String::new(),
            "[1,2]".into(),
        ] {
            assert_eq!(task_record(&other, "team/fix"), None, "{other}");
        }
    }
}
