//! `ttlSecondsAfterFinished`: when a finished Task is deleted. One rule for both drivers: the
//! local scheduler asks [`expires_at`], the Kubernetes controller asks [`ttl_action`].

use axon_api::TaskStatus;
use jiff::{SignedDuration, Timestamp};

/// When a Task that completed at `completed` expires under `ttl_seconds` (negative means 0).
pub fn expires_at(completed: Timestamp, ttl_seconds: i32) -> Timestamp {
    completed
        .checked_add(SignedDuration::from_secs(i64::from(ttl_seconds.max(0))))
        .unwrap_or(Timestamp::MAX)
}

/// What to do with a Task about its TTL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TtlAction {
    /// Not finished, or no TTL: keep it.
    Keep,
    /// The TTL expired: delete it.
    Delete,
    /// Look again after this long.
    RequeueAfter(std::time::Duration),
}

/// Decide from the Task's status and TTL at `now`. A finished Task without a readable
/// completion time counts as completed now.
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
        .and_then(crate::rfc3339::parse)
        .unwrap_or(now);
    let expires = expires_at(done, ttl);
    if expires <= now {
        TtlAction::Delete
    } else {
        let left = expires.duration_since(now).as_secs().max(1);
        TtlAction::RequeueAfter(std::time::Duration::from_secs(left as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axon_api::TaskPhase;

    fn t(s: &str) -> Timestamp {
        s.parse().expect("time")
    }

    fn done(at: &str) -> TaskStatus {
        TaskStatus {
            phase: Some(TaskPhase::Succeeded),
            completion_time: Some(at.into()),
            ..Default::default()
        }
    }

    #[test]
    fn expires_after_ttl() {
        let now = t("2026-01-01T00:01:00Z");
        let s = done("2026-01-01T00:00:00Z");
        assert_eq!(ttl_action(Some(&s), Some(60), now), TtlAction::Delete);
        assert_eq!(ttl_action(Some(&s), Some(0), now), TtlAction::Delete);
        assert_eq!(
            ttl_action(Some(&s), Some(90), now),
            TtlAction::RequeueAfter(std::time::Duration::from_secs(30))
        );
        assert_eq!(ttl_action(Some(&s), None, now), TtlAction::Keep);
        let cancelled = TaskStatus {
            phase: Some(TaskPhase::Cancelled),
            ..s.clone()
        };
        assert_eq!(
            ttl_action(Some(&cancelled), Some(60), now),
            TtlAction::Delete
        );
        assert_eq!(
            expires_at(t("2026-01-01T00:00:00Z"), -5),
            t("2026-01-01T00:00:00Z")
        );
    }

    #[test]
    fn running_tasks_are_kept() {
        let s = TaskStatus {
            phase: Some(TaskPhase::Running),
            ..Default::default()
        };
        assert_eq!(
            ttl_action(Some(&s), Some(0), t("2026-01-01T00:01:00Z")),
            TtlAction::Keep
        );
    }
}
