//! The local backend's record of GitHub webhook deliveries taken (`X-GitHub-Delivery`), in
//! the store, so that a redelivery, a retry or a second receiver on the same AXON_HOME never
//! acts on one delivery twice, across restarts. A delivery is claimed before anything is
//! created for it (a crash afterwards loses nothing: the poll creates what the delivery did
//! not) and released when its handling fails, so that GitHub's redelivery can try again.
//! Records are kept for [`DELIVERY_RETENTION_DAYS`]; a redelivery after that is still
//! harmless, as Task names are identities.

use crate::backend::LocalBackend;
use crate::error::LocalError;
use jiff::{SignedDuration, Timestamp};

/// How long a delivery id is remembered (GitHub lets a delivery be redelivered for three days).
pub const DELIVERY_RETENTION_DAYS: i64 = 30;

impl LocalBackend {
    /// Records delivery `id` of `event`: `true` when it was not recorded before (act on it),
    /// `false` for a redelivery (do nothing).
    pub fn claim_webhook_delivery(&self, id: &str, event: &str) -> Result<bool, LocalError> {
        let now = Timestamp::now();
        let prune_before = now
            .checked_sub(SignedDuration::from_hours(24 * DELIVERY_RETENTION_DAYS))
            .unwrap_or(now);
        self.spawner_store()?.claim_delivery(
            id,
            event,
            &axon_core::rfc3339::format(now),
            &axon_core::rfc3339::format(prune_before),
        )
    }

    /// Forgets delivery `id` after its handling failed, so that a redelivery tries again.
    pub fn release_webhook_delivery(&self, id: &str) -> Result<(), LocalError> {
        self.spawner_store()?.release_delivery(id)
    }
}
