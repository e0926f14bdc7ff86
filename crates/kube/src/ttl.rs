//! `ttlSecondsAfterFinished`: when a finished Task is deleted (its Job and ConfigMap go with
//! it by owner reference). Pure: the controller passes the clock.

use axon_api::TaskStatus;
use jiff::{SignedDuration, Timestamp};
use std::time::Duration;

/// What to do with a Task about its TTL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TtlAction {
    /// Not finished, or no TTL: keep it.
    Keep,
    /// The TTL expired: delete it.
    Delete,
    /// Look again after this long.
    RequeueAfter(Duration),
}

/// Decide from the Task's status and TTL at `now`.
pub fn ttl_action(
    status: Option<&TaskStatus>,
    ttl_seconds: Option<i32>,
    now: Timestamp,
) -> TtlAction {
    let (Some(status), Some(ttl)) = (status, ttl_seconds) else {
        return TtlAction::Keep;
    };
    if !status.phase.is_some_and(|p| p.is_finished()) {
        return TtlAction::Keep;
    }
    let done = status
        .completion_time
        .as_deref()
        .and_then(|t| t.parse::<Timestamp>().ok())
        .unwrap_or(now);
    let expires = done.saturating_add(SignedDuration::from_secs(i64::from(ttl.max(0))));
    let Ok(expires) = expires else {
        return TtlAction::Keep;
    };
    if expires <= now {
        TtlAction::Delete
    } else {
        let left = now.duration_until(expires);
        TtlAction::RequeueAfter(Duration::from_secs(left.as_secs().max(1) as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axon_api::TaskPhase;

    fn done(at: &str) -> TaskStatus {
        TaskStatus {
            phase: Some(TaskPhase::Succeeded),
            completion_time: Some(at.into()),
            ..Default::default()
        }
    }

    #[test]
    fn expires_after_ttl() {
        let now: Timestamp = "2026-01-01T00:01:00Z".parse().expect("time");
        let s = done("2026-01-01T00:00:00Z");
        assert_eq!(ttl_action(Some(&s), Some(60), now), TtlAction::Delete);
        assert_eq!(ttl_action(Some(&s), Some(0), now), TtlAction::Delete);
        assert_eq!(
            ttl_action(Some(&s), Some(90), now),
            TtlAction::RequeueAfter(Duration::from_secs(30))
        );
        assert_eq!(ttl_action(Some(&s), None, now), TtlAction::Keep);
    }

    #[test]
    fn running_tasks_are_kept() {
        let now: Timestamp = "2026-01-01T00:01:00Z".parse().expect("time");
        let s = TaskStatus {
            phase: Some(TaskPhase::Running),
            ..Default::default()
        };
        assert_eq!(ttl_action(Some(&s), Some(0), now), TtlAction::Keep);
    }
}
