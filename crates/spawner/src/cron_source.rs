//! The cron source: at most one work item per poll, for the latest tick not yet acted on.
//!
//! The cursor (the time after which a tick is new) is recomputed at every poll from what
//! survives a restart: the spawner's creation time, its `status.lastDiscoveryTime`, and the
//! ticks of its existing Tasks (`axon.io/source-id` is the tick as `YYYYMMDD-HHMM`). A spawner
//! that was down for hours creates one Task for the latest missed tick, never a burst; a tick
//! whose Task exists is never created again (the name is the identity).
//!
//! A tick that arrives while `maxConcurrency` Tasks are still running is skipped, like a
//! Kubernetes CronJob with `concurrencyPolicy: Forbid`.

use axon_core::cron::{CronSchedule, due_tick};
use axon_core::spawn::SpawnedTask;
use axon_core::spawn_item::WorkItem;
use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

/// The cursor: the latest of the spawner's creation, its last discovery, and its Tasks' ticks.
/// `None` when none is known (a spawner read from a store that keeps no creation time): the
/// caller then starts from "now", so a new spawner never fires for a tick before it existed.
pub fn cron_cursor(
    created: Option<Timestamp>,
    last_discovery: Option<Timestamp>,
    existing: &[SpawnedTask],
) -> Option<Timestamp> {
    let ticks = existing
        .iter()
        .filter_map(|t| t.item_id.as_deref())
        .filter_map(parse_tick_id);
    created.into_iter().chain(last_discovery).chain(ticks).max()
}

/// The tick of a cron Task's `axon.io/source-id`.
pub fn parse_tick_id(id: &str) -> Option<Timestamp> {
    DateTime::strptime("%Y%m%d-%H%M", id)
        .ok()
        .and_then(|d| d.to_zoned(TimeZone::UTC).ok())
        .map(|z| z.timestamp())
}

/// The item to create now, if a tick is due.
pub fn discover(schedule: &CronSchedule, cursor: Timestamp, now: Timestamp) -> Option<WorkItem> {
    due_tick(schedule, cursor, now).map(|tick| WorkItem::cron_tick(tick, schedule.expression()))
}

#[cfg(test)]
mod tests {
    use super::*;
    fn at(h: i8, m: i8) -> Timestamp {
        jiff::civil::datetime(2026, 2, 7, h, m, 0, 0)
            .to_zoned(TimeZone::UTC)
            .expect("valid")
            .timestamp()
    }

    #[test]
    fn cursor_is_the_latest_known_point() {
        let task = SpawnedTask {
            name: "n-20260207-1100".into(),
            item_id: Some("20260207-1100".into()),
            generation: 1,
            finished: true,
            needs_input_seen: false,
        };
        assert_eq!(
            cron_cursor(
                Some(at(8, 0)),
                Some(at(10, 30)),
                std::slice::from_ref(&task)
            ),
            Some(at(11, 0))
        );
        assert_eq!(cron_cursor(Some(at(8, 0)), None, &[]), Some(at(8, 0)));
        assert_eq!(cron_cursor(None, None, &[]), None);
    }

    #[test]
    fn tick_ids_round_trip() {
        assert_eq!(parse_tick_id("20260207-0900"), Some(at(9, 0)));
        assert_eq!(parse_tick_id("42"), None);
    }
}
