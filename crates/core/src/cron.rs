//! Cron schedules for `spec.when.cron.schedule`.
//!
//! Users bring expressions written for robfig/cron (what Kelos and most Go tools use): five
//! fields, an optional `CRON_TZ=Zone ` (or `TZ=Zone `) prefix, `@hourly`-style descriptors and
//! the `N/step` shorthand for `N-max/step`. `croner` evaluates standard expressions; this module
//! is the thin front-end that maps the robfig dialect onto it and refuses what would silently
//! mean something else (six fields, unknown zones).
//!
//! Scheduling is a pure function of an injected clock: [`due_tick`] returns at most one tick,
//! the latest one missed, so a spawner that was down for a day creates one Task, never a burst.

use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use jiff::Timestamp;
use jiff::tz::TimeZone as Zone;

/// Why a cron expression was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    /// Nothing to parse.
    #[error("cron schedule is empty (example: \"0 * * * *\" for every hour)")]
    Empty,
    /// Not five fields.
    #[error(
        "cron schedule {expression:?} has {fields} fields; use 5 (minute hour day-of-month month day-of-week), e.g. \"0 * * * *\""
    )]
    FieldCount {
        /// The expression as given.
        expression: String,
        /// How many fields it had.
        fields: usize,
    },
    /// `CRON_TZ=` names a zone the time zone database does not know.
    #[error(
        "cron schedule {expression:?}: unknown time zone {zone:?} (use an IANA name such as \"Europe/Berlin\" or \"America/New_York\")"
    )]
    UnknownZone {
        /// The expression as given.
        expression: String,
        /// The zone name.
        zone: String,
    },
    /// `@every` intervals are not cron; pollInterval covers that need.
    #[error(
        "cron schedule {expression:?}: \"@every\" is not supported; write a 5-field expression such as \"*/15 * * * *\""
    )]
    Every {
        /// The expression as given.
        expression: String,
    },
    /// The fields do not parse.
    #[error("cron schedule {expression:?} is invalid: {message}")]
    Invalid {
        /// The expression as given.
        expression: String,
        /// The parser's message.
        message: String,
    },
}

/// A parsed schedule.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    expression: String,
    zone: Zone,
    cron: Cron,
}

/// Checks an expression; used by `axon validate` and apply.
pub fn validate(expression: &str) -> Result<(), CronError> {
    parse(expression).map(|_| ())
}

/// Parses an expression in the robfig dialect. Without a `CRON_TZ=` prefix, times are UTC.
pub fn parse(expression: &str) -> Result<CronSchedule, CronError> {
    let trimmed = expression.trim();
    if trimmed.is_empty() {
        return Err(CronError::Empty);
    }
    let (zone, fields) = split_zone(trimmed);
    let zone = match zone {
        None => Zone::UTC,
        Some(name) => Zone::get(name).map_err(|_| CronError::UnknownZone {
            expression: expression.to_string(),
            zone: name.to_string(),
        })?,
    };
    let fields = fields.trim();
    if fields.is_empty() {
        return Err(CronError::Empty);
    }
    if fields.starts_with('@') {
        if fields.to_ascii_lowercase().starts_with("@every") {
            return Err(CronError::Every {
                expression: expression.to_string(),
            });
        }
    } else {
        let count = fields.split_whitespace().count();
        if count != 5 {
            return Err(CronError::FieldCount {
                expression: expression.to_string(),
                fields: count,
            });
        }
    }
    let parser = CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .sloppy_ranges(true)
        .build();
    let cron = parser.parse(fields).map_err(|e| CronError::Invalid {
        expression: expression.to_string(),
        message: e.to_string(),
    })?;
    Ok(CronSchedule {
        expression: expression.to_string(),
        zone,
        cron,
    })
}

/// Splits a leading `CRON_TZ=Zone` or `TZ=Zone` off the fields.
fn split_zone(expression: &str) -> (Option<&str>, &str) {
    for prefix in ["CRON_TZ=", "TZ="] {
        if let Some(rest) = expression.strip_prefix(prefix) {
            return match rest.split_once(char::is_whitespace) {
                Some((zone, fields)) => (Some(zone), fields),
                None => (Some(rest), ""),
            };
        }
    }
    (None, expression)
}

/// `t` at whole seconds in the schedule's zone (ticks are whole minutes; sub-seconds never
/// matter).
fn to_zoned(schedule: &CronSchedule, t: Timestamp) -> Option<jiff::Zoned> {
    Timestamp::from_second(t.as_second())
        .ok()
        .map(|ts| ts.to_zoned(schedule.zone.clone()))
}

fn from_zoned(z: &jiff::Zoned) -> Option<Timestamp> {
    Timestamp::from_second(z.timestamp().as_second()).ok()
}

impl CronSchedule {
    /// The expression as written (with its zone prefix), for `{{.Schedule}}`.
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The latest tick at or before `t`.
    pub fn latest_at_or_before(&self, t: Timestamp) -> Option<Timestamp> {
        let z = to_zoned(self, t)?;
        let prev = self.cron.find_previous_occurrence(&z, true).ok()?;
        from_zoned(&prev)
    }

    /// The first tick strictly after `t`: when the spawner should wake up next.
    pub fn next_after(&self, t: Timestamp) -> Option<Timestamp> {
        let z = to_zoned(self, t)?;
        let next = self.cron.find_next_occurrence(&z, false).ok()?;
        from_zoned(&next)
    }
}

/// The tick to create a Task for now: the latest tick in `(since, now]`, or `None`.
///
/// `since` is the spawner's cursor: its creation time, or the last tick it acted on. However
/// long the spawner was down, this returns one tick (the latest), so downtime never causes a
/// burst of Tasks.
pub fn due_tick(schedule: &CronSchedule, since: Timestamp, now: Timestamp) -> Option<Timestamp> {
    schedule
        .latest_at_or_before(now)
        .filter(|tick| *tick > since)
}

/// `{{.ID}}` of a tick: its UTC time as `YYYYMMDD-HHMM`.
pub fn tick_id(tick: Timestamp) -> String {
    tick.strftime("%Y%m%d-%H%M").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i16, mo: i8, d: i8, h: i8, mi: i8) -> Timestamp {
        jiff::civil::datetime(y, mo, d, h, mi, 0, 0)
            .in_tz("UTC")
            .expect("valid time")
            .timestamp()
    }

    #[test]
    fn hourly_ticks() {
        let s = parse("0 * * * *").expect("valid");
        assert_eq!(
            s.latest_at_or_before(at(2026, 2, 7, 9, 30)),
            Some(at(2026, 2, 7, 9, 0))
        );
        assert_eq!(
            s.latest_at_or_before(at(2026, 2, 7, 9, 0)),
            Some(at(2026, 2, 7, 9, 0))
        );
        assert_eq!(
            s.next_after(at(2026, 2, 7, 9, 0)),
            Some(at(2026, 2, 7, 10, 0))
        );
    }

    #[test]
    fn due_tick_fires_once_per_tick() {
        let s = parse("0 * * * *").expect("valid");
        let created = at(2026, 2, 7, 8, 10);
        // Before the first tick: nothing.
        assert_eq!(due_tick(&s, created, at(2026, 2, 7, 8, 59)), None);
        // At the tick: that tick.
        let t = due_tick(&s, created, at(2026, 2, 7, 9, 0)).expect("due");
        assert_eq!(t, at(2026, 2, 7, 9, 0));
        // Later in the same hour, with the cursor moved to the tick: nothing.
        assert_eq!(due_tick(&s, t, at(2026, 2, 7, 9, 45)), None);
    }

    #[test]
    fn downtime_yields_only_the_latest_missed_tick() {
        let s = parse("*/5 * * * *").expect("valid");
        let last = at(2026, 2, 7, 9, 0);
        // Down for a day and a half: 400+ ticks missed, one returned, the latest.
        let now = at(2026, 2, 8, 21, 3);
        assert_eq!(due_tick(&s, last, now), Some(at(2026, 2, 8, 21, 0)));
    }

    #[test]
    fn robfig_step_shorthand() {
        let s = parse("5/15 * * * *").expect("N/step is N-59/step");
        assert_eq!(
            s.next_after(at(2026, 1, 1, 0, 0)),
            Some(at(2026, 1, 1, 0, 5))
        );
        assert_eq!(
            s.next_after(at(2026, 1, 1, 0, 5)),
            Some(at(2026, 1, 1, 0, 20))
        );
        assert_eq!(
            s.next_after(at(2026, 1, 1, 0, 50)),
            Some(at(2026, 1, 1, 1, 5))
        );
    }

    #[test]
    fn cron_tz_prefix_follows_the_zone_across_dst() {
        // 09:00 in Berlin is 08:00Z in winter and 07:00Z in summer.
        let s = parse("CRON_TZ=Europe/Berlin 0 9 * * *").expect("valid");
        assert_eq!(
            s.next_after(at(2026, 1, 10, 0, 0)),
            Some(at(2026, 1, 10, 8, 0))
        );
        assert_eq!(
            s.next_after(at(2026, 7, 10, 0, 0)),
            Some(at(2026, 7, 10, 7, 0))
        );
        assert_eq!(s.expression(), "CRON_TZ=Europe/Berlin 0 9 * * *");
        let s = parse("TZ=America/New_York 30 6 * * 1-5").expect("TZ= works too");
        assert_eq!(
            s.next_after(at(2026, 2, 6, 12, 0)),
            Some(at(2026, 2, 9, 11, 30)),
            "Friday noon UTC -> Monday 06:30 EST"
        );
    }

    #[test]
    fn descriptors_work() {
        let s = parse("@hourly").expect("valid");
        assert_eq!(
            s.next_after(at(2026, 1, 1, 0, 1)),
            Some(at(2026, 1, 1, 1, 0))
        );
        let s = parse("@daily").expect("valid");
        assert_eq!(
            s.next_after(at(2026, 1, 1, 0, 1)),
            Some(at(2026, 1, 2, 0, 0))
        );
    }

    #[test]
    fn rejections_say_what_to_write() {
        let cases = [
            "",
            "* * * *",
            "0 0 * * * *",
            "61 * * * *",
            "CRON_TZ=Mars/Olympus 0 * * * *",
            "CRON_TZ=Europe/Berlin",
            "@every 5m",
            "0 25 * * *",
        ];
        let messages: Vec<String> = cases
            .iter()
            .map(|c| match validate(c) {
                Ok(()) => format!("{c:?} => accepted"),
                Err(e) => format!("{c:?} => {e}"),
            })
            .collect();
        insta::assert_snapshot!(messages.join("\n"));
    }

    #[test]
    fn tick_ids_are_utc_minutes() {
        assert_eq!(tick_id(at(2026, 2, 7, 9, 0)), "20260207-0900");
        assert_eq!(tick_id(at(2026, 12, 31, 23, 59)), "20261231-2359");
    }
}
