//! A TaskSpawner's budget over time windows: whether a new Task may start now, and if not,
//! when it may.
//!
//! Why: a spawner that reacts to every new issue or cron tick could spend without bound even
//! when each Task has its own budget. `budget: {perHour: …, perDay: …}` limits what the
//! spawner's Tasks together spent (measured cost and tokens) over a rolling window: the last
//! hour, the last 24 hours. When a window is full, new Tasks stay Pending with the message
//! from [`window_room`] (queued, never dropped) until the oldest spending in the window has
//! aged out far enough to leave room. Rolling windows need no time zone and allow no burst at
//! midnight.

use jiff::{SignedDuration, Timestamp};

/// Limits of one window; `None` is no limit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WindowLimits {
    /// `maxCostUSD`: measured cost of the spawner's Tasks in the window.
    pub max_cost_usd: Option<f64>,
    /// `maxTokens`: tokens (input, output, cache) of the spawner's Tasks in the window.
    pub max_tokens: Option<u64>,
}

/// A TaskSpawner's `budget`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpawnerBudget {
    /// `perHour`: the last 60 minutes.
    pub per_hour: Option<WindowLimits>,
    /// `perDay`: the last 24 hours.
    pub per_day: Option<WindowLimits>,
}

/// One spending of the spawner: when it happened, its cost in USD (`None` when unknown, e.g.
/// an unpriced model: it counts for nothing against a cost limit, and the driver warns), and
/// its tokens. A Task's usage is best recorded as it is measured (or at the Task's end).
pub type Spend = (Timestamp, Option<f64>, u64);

/// Whether a new Task may start.
#[derive(Debug, Clone, PartialEq)]
pub enum Room {
    /// Every window has room.
    Open,
    /// A window is full until `until` (the latest of the full windows, if several are).
    Full {
        /// Which window and limit, spent against limit, and when room returns.
        message: String,
        /// When the window will have room again, if nothing more is spent.
        until: Timestamp,
    },
}

/// Whether the spawner's windows have room at `now`, given what its Tasks spent. A limit is
/// full when the spending inside its window is at or above it.
pub fn window_room(limits: &SpawnerBudget, spent: &[Spend], now: Timestamp) -> Room {
    let windows = [
        (
            "perHour",
            "hour",
            SignedDuration::from_hours(1),
            &limits.per_hour,
        ),
        (
            "perDay",
            "24 hours",
            SignedDuration::from_hours(24),
            &limits.per_day,
        ),
    ];
    let mut full: Option<(Timestamp, String)> = None;
    for (name, span, window, limits) in windows {
        let Some(limits) = limits else { continue };
        let start = now - window;
        let mut inside: Vec<&Spend> = spent.iter().filter(|(at, _, _)| *at > start).collect();
        inside.sort_by_key(|(at, _, _)| *at);
        let checks: [(&str, Option<f64>, Amount); 2] = [
            ("maxCostUSD", limits.max_cost_usd, cost_of),
            ("maxTokens", limits.max_tokens.map(|t| t as f64), tokens_of),
        ];
        for (limit_name, max, amount) in checks {
            let Some(max) = max else { continue };
            let total: f64 = inside.iter().map(|s| amount(s)).sum();
            if total < max {
                continue;
            }
            let until = room_at(&inside, amount, total, max, window, now);
            let figure = if limit_name == "maxCostUSD" {
                format!("{total:.4} USD")
            } else {
                format!("{total} tokens")
            };
            let message = format!(
                "TaskSpawner budget {name} {limit_name} {max} reached ({figure} spent in the last {span}); new Tasks wait until {until}",
                until = until.round(jiff::Unit::Second).unwrap_or(until),
            );
            if full.as_ref().is_none_or(|(u, _)| until > *u) {
                full = Some((until, message));
            }
        }
    }
    match full {
        None => Room::Open,
        Some((until, message)) => Room::Full { message, until },
    }
}

/// How much of a limit one spending uses.
type Amount = fn(&Spend) -> f64;

fn cost_of(spend: &Spend) -> f64 {
    spend.1.unwrap_or(0.0)
}

fn tokens_of(spend: &Spend) -> f64 {
    spend.2 as f64
}

/// When the oldest spending has aged out of the window far enough for the total to fall below
/// `max`. `inside` is sorted oldest first. A zero limit never has room: the window is re-checked
/// after a full window's length.
fn room_at(
    inside: &[&Spend],
    amount: Amount,
    mut total: f64,
    max: f64,
    window: SignedDuration,
    now: Timestamp,
) -> Timestamp {
    for spend in inside {
        total -= amount(spend);
        if total < max {
            return spend.0 + window;
        }
    }
    now + window
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn per_day(cost: Option<f64>, tokens: Option<u64>) -> SpawnerBudget {
        SpawnerBudget {
            per_day: Some(WindowLimits {
                max_cost_usd: cost,
                max_tokens: tokens,
            }),
            ..SpawnerBudget::default()
        }
    }

    #[test]
    fn no_limits_or_no_spend_is_open() {
        let now = ts("2026-05-02T10:00:00Z");
        assert_eq!(
            window_room(&SpawnerBudget::default(), &[(now, Some(1e9), 1 << 40)], now),
            Room::Open
        );
        assert_eq!(
            window_room(&per_day(Some(50.0), None), &[], now),
            Room::Open
        );
    }

    #[test]
    fn a_full_day_window_spans_midnight_and_opens_when_the_oldest_spend_ages_out() {
        let limits = per_day(Some(50.0), None);
        let spent = [
            (ts("2026-05-01T20:00:00Z"), Some(30.0), 0),
            (ts("2026-05-01T23:30:00Z"), Some(15.0), 0),
            (ts("2026-05-02T00:30:00Z"), Some(10.0), 0),
        ];
        // Just after midnight the previous evening still counts: 55 >= 50.
        let now = ts("2026-05-02T01:00:00Z");
        let Room::Full { message, until } = window_room(&limits, &spent, now) else {
            panic!("the day window is full");
        };
        // Without the 20:00 spend, 25 < 50: room returns when it leaves the window.
        assert_eq!(until, ts("2026-05-02T20:00:00Z"));
        insta::assert_snapshot!(message, @"TaskSpawner budget perDay maxCostUSD 50 reached (55.0000 USD spent in the last 24 hours); new Tasks wait until 2026-05-02T20:00:00Z");
        // At `until` the window has room; a second before, it has not.
        assert_eq!(window_room(&limits, &spent, until), Room::Open);
        assert!(matches!(
            window_room(&limits, &spent, until - SignedDuration::from_secs(1)),
            Room::Full { .. }
        ));
    }

    #[test]
    fn exactly_at_the_limit_is_full_and_unknown_costs_count_for_nothing() {
        let now = ts("2026-05-02T10:00:00Z");
        let limits = per_day(Some(10.0), None);
        let at_limit = [(ts("2026-05-02T09:00:00Z"), Some(10.0), 5)];
        assert!(matches!(
            window_room(&limits, &at_limit, now),
            Room::Full { .. }
        ));
        let unknown = [(ts("2026-05-02T09:00:00Z"), None, 5)];
        assert_eq!(window_room(&limits, &unknown, now), Room::Open);
    }

    #[test]
    fn the_latest_of_several_full_windows_wins() {
        let now = ts("2026-05-02T10:00:00Z");
        let limits = SpawnerBudget {
            per_hour: Some(WindowLimits {
                max_cost_usd: None,
                max_tokens: Some(1000),
            }),
            per_day: Some(WindowLimits {
                max_cost_usd: None,
                max_tokens: Some(5000),
            }),
        };
        let spent = [
            (ts("2026-05-01T12:00:00Z"), None, 4000),
            (ts("2026-05-02T09:30:00Z"), None, 1200),
        ];
        let Room::Full { message, until } = window_room(&limits, &spent, now) else {
            panic!("both windows are full");
        };
        assert_eq!(until, ts("2026-05-02T12:00:00Z"));
        assert!(
            message.starts_with("TaskSpawner budget perDay maxTokens 5000 reached (5200 tokens"),
            "{message}"
        );
        // The hour window alone would open at 10:30.
        let hour_only = SpawnerBudget {
            per_day: None,
            ..limits
        };
        let Room::Full { until, .. } = window_room(&hour_only, &spent, now) else {
            panic!("the hour window is full");
        };
        assert_eq!(until, ts("2026-05-02T10:30:00Z"));
    }

    #[test]
    fn a_zero_limit_is_rechecked_after_a_window() {
        let now = ts("2026-05-02T10:00:00Z");
        let Room::Full { until, .. } = window_room(&per_day(Some(0.0), None), &[], now) else {
            panic!("a zero limit is always full");
        };
        assert_eq!(until, ts("2026-05-03T10:00:00Z"));
    }
}
