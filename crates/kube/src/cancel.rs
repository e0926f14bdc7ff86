//! Cancelling a Task on Kubernetes (`axon cancel`, a `/axon cancel` comment through the backend
//! port): the request is the Task's annotation `axon.io/cancel-requested` (see
//! `axon_core::cancel`), written with a merge patch and nothing else. The Task controller,
//! woken by the change, does the rest: a Task without a Job is recorded `Cancelled` and never
//! gets one; a Task whose Job runs is recorded `Cancelled` and its Job deleted (propagation
//! Background: its Pod goes with it, and the agent's processes with the Pod). A controller
//! that restarts in between finds the annotation (or the `Cancelled` Task with a live Job) and
//! finishes the job.
//!
//! The Pod's work tree is an `emptyDir` that goes with the Pod: on Kubernetes a cancelled run's
//! uncommitted work is not saved (what the agent pushed stays pushed).

use crate::backend::KubeBackend;
use crate::error::KubeError;
use axon_api::{Task, TaskPhase};
use axon_core::cancel::ANNOTATION_CANCEL_REQUESTED;
use axon_port::CancelOutcome;
use kube::api::{Api, Patch, PatchParams};

impl KubeBackend {
    /// Ask to cancel Task `name` on behalf of `by`.
    pub async fn cancel_task(&self, name: &str, by: &str) -> Result<CancelOutcome, KubeError> {
        let ns = self.namespace().to_string();
        let api: Api<Task> = Api::namespaced(self.client.clone(), &ns);
        let not_found = || KubeError::NotFound {
            kind: "Task".into(),
            name: name.to_string(),
            namespace: ns.clone(),
        };
        let task = api
            .get_opt(name)
            .await
            .map_err(|e| KubeError::api(format!("get Task {ns}/{name}"), e))?
            .ok_or_else(not_found)?;
        match task.status.as_ref().and_then(|s| s.phase) {
            Some(TaskPhase::Cancelled) => return Ok(CancelOutcome::AlreadyCancelled),
            Some(p) if p.is_finished() => return Ok(CancelOutcome::Finished(p)),
            _ => {}
        }
        if axon_core::cancel::requested_by(&task).is_none() {
            let body = serde_json::json!({
                "metadata": { "annotations": { ANNOTATION_CANCEL_REQUESTED: by } }
            });
            match api
                .patch(name, &PatchParams::default(), &Patch::Merge(&body))
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => return Err(not_found()),
                Err(e) => {
                    return Err(KubeError::api(
                        format!("record the cancel request on Task {ns}/{name}"),
                        e,
                    ));
                }
            }
        }
        Ok(CancelOutcome::Stopping)
    }
}
