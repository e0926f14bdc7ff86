//! What the cluster's gateway writes back to the Tasks it serves: their measured usage into
//! `status.usage` (source `gateway`), and its refusals as Kubernetes Events on the Task.
//!
//! Why: on Kubernetes the gateway runs apart from the controller, and the agent's own report
//! cannot be trusted, so the gateway records what it measured where `axon get task` reads it.
//! Writes are throttled: a Task's usage is patched at most once per [`USAGE_INTERVAL`] (the
//! figures of the last call always land: a pending figure is written when the interval has
//! passed, and all pending figures on shutdown). The patch is a merge patch of `usage` alone on
//! the status subresource (the gateway's ClusterRole: `patch tasks/status`), guarded by the
//! Task's uid, so a Task recreated under the same name is never written to.
//!
//! Stopping the agent's Pod on a budget refusal is not done here: the gateway refuses the call
//! (the agent sees an API error) and records a `BudgetExceeded` Event.

use axon_core::task_status::measured_usage;
use axon_gateway::{Gateway, GatewayEvent, TaskRef};
use k8s_openapi::api::core::v1::ObjectReference;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, watch};

/// Shortest time between two usage patches of one Task.
pub const USAGE_INTERVAL: Duration = Duration::from_secs(1);
/// How often pending figures are looked at.
const TICK: Duration = Duration::from_millis(200);
/// A Task without a request for this long is forgotten by the gateway (its figures are in
/// its status; a later request continues from there).
pub const IDLE_FORGET: Duration = Duration::from_secs(3600);

/// The Event reporter name.
pub const REPORTER: &str = "axon-gateway";

/// The `status` merge patch recording `totals` (pure): the whole `usage` object, with a cost
/// that became unknown written as `null` so no stale figure survives the merge.
pub fn usage_patch(uid: &str, totals: &axon_gateway::UsageTotals) -> Value {
    let mut usage = serde_json::to_value(measured_usage(totals)).unwrap_or(Value::Null);
    if let Some(u) = usage.as_object_mut() {
        u.entry("costUSD").or_insert(Value::Null);
    }
    json!({"metadata": {"uid": uid}, "status": {"usage": usage}})
}

fn task_reference(task: &TaskRef) -> ObjectReference {
    ObjectReference {
        api_version: Some("axon.io/v1alpha1".into()),
        kind: Some("Task".into()),
        namespace: Some(task.namespace.clone()),
        name: Some(task.name.clone()),
        uid: Some(task.uid.clone()),
        ..Default::default()
    }
}

struct Reporting {
    client: Client,
    gateway: Arc<Gateway>,
    recorder: Recorder,
    /// Tasks with figures not written yet.
    pending: HashMap<String, TaskRef>,
    last_patch: HashMap<String, Instant>,
    last_seen: HashMap<String, (TaskRef, Instant)>,
    /// Refused destinations already announced, per Task.
    denied: HashSet<(String, String)>,
}

impl Reporting {
    async fn patch_usage(&mut self, task: &TaskRef) {
        self.last_patch.insert(task.uid.clone(), Instant::now());
        let Some(totals) = self.gateway.usage(&task.uid) else {
            return;
        };
        let api: Api<axon_api::Task> = Api::namespaced(self.client.clone(), &task.namespace);
        let patch = usage_patch(&task.uid, &totals);
        match api
            .patch_status(&task.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => tracing::debug!(task = %task, turns = totals.turns, "usage recorded"),
            Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {
                tracing::debug!(task = %task, "the Task is gone: its usage is not recorded");
            }
            Err(e) => tracing::warn!(task = %task, error = %e, "cannot record the Task's usage"),
        }
    }

    async fn publish(&self, task: &TaskRef, reason: &str, note: String) {
        let ev = Event {
            type_: EventType::Warning,
            reason: reason.into(),
            note: Some(note),
            action: "Gateway".into(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&ev, &task_reference(task)).await {
            tracing::warn!(task = %task, error = %e, "cannot publish the gateway's Event");
        }
    }

    async fn on_event(&mut self, event: GatewayEvent) {
        let task = event.task().clone();
        self.last_seen
            .insert(task.uid.clone(), (task.clone(), Instant::now()));
        match event {
            GatewayEvent::Usage { .. } => {
                self.pending.insert(task.uid.clone(), task);
            }
            GatewayEvent::BudgetExceeded { message, .. } => {
                tracing::warn!(task = %task, message = %message, "model call refused: budget exceeded");
                self.publish(&task, "BudgetExceeded", message).await;
            }
            GatewayEvent::EgressDenied { host, .. } => {
                tracing::info!(task = %task, host = %host, "connection refused by the egress rule");
                if self.denied.insert((task.uid.clone(), host.clone())) {
                    self.publish(
                        &task,
                        "EgressDenied",
                        format!(
                            "the gateway refused a connection to {host}: not in spec.network.allow (further refusals of this host are counted, not announced)"
                        ),
                    )
                    .await;
                }
            }
        }
    }

    async fn flush(&mut self, all: bool) {
        let due: Vec<TaskRef> = self
            .pending
            .values()
            .filter(|t| {
                all || self
                    .last_patch
                    .get(&t.uid)
                    .is_none_or(|at| at.elapsed() >= USAGE_INTERVAL)
            })
            .cloned()
            .collect();
        for task in due {
            self.pending.remove(&task.uid);
            self.patch_usage(&task).await;
        }
    }

    fn forget_idle(&mut self) {
        let idle: Vec<String> = self
            .last_seen
            .iter()
            .filter(|(uid, (_, at))| {
                at.elapsed() >= IDLE_FORGET && !self.pending.contains_key(*uid)
            })
            .map(|(uid, _)| uid.clone())
            .collect();
        for uid in idle {
            self.last_seen.remove(&uid);
            self.last_patch.remove(&uid);
            self.denied.retain(|(u, _)| *u != uid);
            self.gateway.forget(&uid);
        }
    }
}

/// Writes what `gateway` reports until `stop` turns true, then writes every pending figure.
pub async fn report(
    client: Client,
    gateway: Arc<Gateway>,
    mut events: broadcast::Receiver<GatewayEvent>,
    mut stop: watch::Receiver<bool>,
) {
    let instance = std::env::var("POD_NAME").ok().filter(|n| !n.is_empty());
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: REPORTER.into(),
            instance,
        },
    );
    let mut r = Reporting {
        client,
        gateway,
        recorder,
        pending: HashMap::new(),
        last_patch: HashMap::new(),
        last_seen: HashMap::new(),
        denied: HashSet::new(),
    };
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            ev = events.recv() => match ev {
                Ok(ev) => r.on_event(ev).await,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "the gateway's reporter fell behind: re-recording every known Task's usage");
                    let known: Vec<TaskRef> = r.last_seen.values().map(|(t, _)| t.clone()).collect();
                    for t in known {
                        r.pending.insert(t.uid.clone(), t);
                    }
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            _ = tick.tick() => {
                r.flush(false).await;
                r.forget_idle();
            }
            _ = stop.changed() => break,
        }
    }
    // Whatever arrived before the stop, then every pending figure.
    while let Ok(ev) = events.try_recv() {
        r.on_event(ev).await;
    }
    r.flush(true).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_usage_patch_is_the_whole_measure_guarded_by_uid() {
        let totals = axon_gateway::UsageTotals {
            input_tokens: 10,
            output_tokens: 5,
            cache_read_tokens: 2,
            requests: 2,
            turns: 1,
            cost_usd: None,
            ..Default::default()
        };
        let p = usage_patch("u-1", &totals);
        assert_eq!(p["metadata"]["uid"], "u-1");
        let u = &p["status"]["usage"];
        assert_eq!(u["inputTokens"], 12, "cache reads are input");
        assert_eq!(u["outputTokens"], 5);
        assert_eq!(u["turns"], 1);
        assert_eq!(u["requests"], 2);
        assert_eq!(u["source"], "gateway");
        assert!(u["costUSD"].is_null() && u.get("costUSD").is_some(), "{u}");
        let priced = axon_gateway::UsageTotals {
            cost_usd: Some(0.25),
            ..totals
        };
        assert_eq!(
            usage_patch("u-1", &priced)["status"]["usage"]["costUSD"],
            0.25
        );
    }
}
