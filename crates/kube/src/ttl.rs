//! `ttlSecondsAfterFinished` for the controller: the core's rule ([`axon_core::ttl`]) at the
//! controller's clock.

use axon_api::TaskStatus;
pub use axon_core::ttl::TtlAction;
use jiff::Timestamp;

/// Decide from the Task's status and TTL at `now`.
pub fn ttl_action(
    status: Option<&TaskStatus>,
    ttl_seconds: Option<i32>,
    now: Timestamp,
) -> TtlAction {
    axon_core::ttl::ttl_action(status, ttl_seconds, now)
}
