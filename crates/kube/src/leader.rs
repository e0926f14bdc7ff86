//! Leader election with a `coordination.k8s.io` Lease, so two controller replicas are safe:
//! only the holder reconciles; it renews every few seconds, and a standby takes over when the
//! holder stops renewing. The decision is pure; the loop only reads and writes the Lease.

use crate::error::{KubeError, is_conflict, is_not_found};
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, PostParams};
use std::time::Duration;

/// How long a Lease is valid without renewal.
pub const LEASE_SECONDS: i32 = 15;
/// How often the holder renews it.
pub const RENEW_EVERY: Duration = Duration::from_secs(5);

/// What to do with the Lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseDecision {
    /// Free or expired: take it.
    Acquire,
    /// Ours: renew it.
    Renew,
    /// Held by someone else and valid: wait.
    Wait,
}

/// Decide from the Lease's spec, our identity, and the time.
pub fn decide(spec: Option<&LeaseSpec>, identity: &str, now: Timestamp) -> LeaseDecision {
    let Some(spec) = spec else {
        return LeaseDecision::Acquire;
    };
    match spec.holder_identity.as_deref() {
        None | Some("") => LeaseDecision::Acquire,
        Some(h) if h == identity => LeaseDecision::Renew,
        Some(_) => {
            let renewed = spec.renew_time.as_ref().map(|t| t.0);
            let secs = i64::from(spec.lease_duration_seconds.unwrap_or(LEASE_SECONDS));
            match renewed {
                Some(r) if r + SignedDuration::from_secs(secs) > now => LeaseDecision::Wait,
                _ => LeaseDecision::Acquire,
            }
        }
    }
}

/// A Lease-based elector.
pub struct LeaderElector {
    api: Api<Lease>,
    name: String,
    identity: String,
}

impl LeaderElector {
    pub fn new(api: Api<Lease>, name: &str, identity: &str) -> LeaderElector {
        LeaderElector {
            api,
            name: name.to_string(),
            identity: identity.to_string(),
        }
    }

    /// One attempt: `true` when we hold the Lease afterwards.
    pub async fn try_acquire_or_renew(&self) -> Result<bool, KubeError> {
        let now = Timestamp::now();
        let what = || format!("Lease {}", self.name);
        let current = self
            .api
            .get_opt(&self.name)
            .await
            .map_err(|e| KubeError::api(what(), e))?;
        let decision = decide(
            current.as_ref().and_then(|l| l.spec.as_ref()),
            &self.identity,
            now,
        );
        if decision == LeaseDecision::Wait {
            return Ok(false);
        }
        let mut spec = current
            .as_ref()
            .and_then(|l| l.spec.clone())
            .unwrap_or_default();
        if decision == LeaseDecision::Acquire {
            spec.acquire_time = Some(MicroTime(now));
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        spec.holder_identity = Some(self.identity.clone());
        spec.lease_duration_seconds = Some(LEASE_SECONDS);
        spec.renew_time = Some(MicroTime(now));
        let result = match current {
            Some(mut lease) => {
                lease.spec = Some(spec);
                self.api
                    .replace(&self.name, &PostParams::default(), &lease)
                    .await
            }
            None => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.name.clone()),
                        ..Default::default()
                    },
                    spec: Some(spec),
                };
                self.api.create(&PostParams::default(), &lease).await
            }
        };
        match result {
            Ok(_) => Ok(true),
            // Someone else wrote it first: not ours this round.
            Err(e) if is_conflict(&e) => Ok(false),
            Err(e) => Err(KubeError::api(what(), e)),
        }
    }

    /// Wait until we hold the Lease.
    pub async fn acquire(&self) -> Result<(), KubeError> {
        loop {
            if self.try_acquire_or_renew().await? {
                return Ok(());
            }
            tokio::time::sleep(RENEW_EVERY).await;
        }
    }

    /// Renew until the Lease is lost (returns the error saying so).
    pub async fn keep(&self) -> KubeError {
        let mut failures = 0;
        loop {
            tokio::time::sleep(RENEW_EVERY).await;
            match self.try_acquire_or_renew().await {
                Ok(true) => failures = 0,
                Ok(false) => return KubeError::LostLease(self.name.clone()),
                Err(e) => {
                    failures += 1;
                    tracing::warn!(error = %e, "cannot renew the leader Lease");
                    // Stop before the Lease can expire under us.
                    if failures * RENEW_EVERY.as_secs()
                        >= (LEASE_SECONDS as u64) - RENEW_EVERY.as_secs()
                    {
                        return KubeError::LostLease(self.name.clone());
                    }
                }
            }
        }
    }

    /// Give the Lease up on shutdown so a standby takes over at once.
    pub async fn release(&self) {
        if let Ok(Some(mut lease)) = self.api.get_opt(&self.name).await {
            let ours = lease
                .spec
                .as_ref()
                .and_then(|s| s.holder_identity.as_deref())
                == Some(self.identity.as_str());
            if ours {
                if let Some(spec) = lease.spec.as_mut() {
                    spec.holder_identity = None;
                }
                if let Err(e) = self
                    .api
                    .replace(&self.name, &PostParams::default(), &lease)
                    .await
                    && !is_not_found(&e)
                {
                    tracing::warn!(error = %e, "cannot release the leader Lease");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(holder: &str, renewed: &str) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(holder.into()),
            renew_time: Some(MicroTime(renewed.parse().expect("time"))),
            lease_duration_seconds: Some(15),
            ..Default::default()
        }
    }

    #[test]
    fn decisions() {
        let now: Timestamp = "2026-01-01T00:00:20Z".parse().expect("time");
        assert_eq!(decide(None, "a", now), LeaseDecision::Acquire);
        assert_eq!(
            decide(Some(&spec("a", "2026-01-01T00:00:00Z")), "a", now),
            LeaseDecision::Renew
        );
        assert_eq!(
            decide(Some(&spec("b", "2026-01-01T00:00:10Z")), "a", now),
            LeaseDecision::Wait
        );
        assert_eq!(
            decide(Some(&spec("b", "2026-01-01T00:00:00Z")), "a", now),
            LeaseDecision::Acquire
        );
        assert_eq!(
            decide(Some(&spec("", "2026-01-01T00:00:19Z")), "a", now),
            LeaseDecision::Acquire
        );
    }
}
