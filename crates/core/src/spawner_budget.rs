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
//!
//! A finished Task's spending counts at its completion time. A Task still running counts with
//! its live figures at the present moment: it is spending now, so its spending cannot age out
//! before it finishes, and a window that only a running Task keeps full has room at the
//! earliest a window's length after that Task ends.

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

impl SpawnerBudget {
    /// Whether any limit is set (a budget without one never holds a Task).
    pub fn is_limited(&self) -> bool {
        [&self.per_hour, &self.per_day]
            .into_iter()
            .flatten()
            .any(|w| w.max_cost_usd.is_some() || w.max_tokens.is_some())
    }
}

impl From<&axon_api::WindowLimits> for WindowLimits {
    fn from(w: &axon_api::WindowLimits) -> Self {
        WindowLimits {
            max_cost_usd: w.max_cost_usd,
            // Refused at apply; a negative one that got through is the strictest limit.
            max_tokens: w.max_tokens.map(|n| u64::try_from(n).unwrap_or(0)),
        }
    }
}

impl From<&axon_api::SpawnerBudget> for SpawnerBudget {
    fn from(b: &axon_api::SpawnerBudget) -> Self {
        SpawnerBudget {
            per_hour: b.per_hour.as_ref().map(WindowLimits::from),
            per_day: b.per_day.as_ref().map(WindowLimits::from),
        }
    }
}

/// One spending of the spawner: one of its Tasks, with what it used.
#[derive(Debug, Clone, PartialEq)]
pub struct Spend {
    /// When: a finished Task's completion time; the present moment for a Task still running.
    pub at: Timestamp,
    /// Cost in USD; `None` when unknown (an unpriced model): it counts for nothing against a
    /// cost limit.
    pub cost_usd: Option<f64>,
    /// Input plus output tokens (cache tokens are input).
    pub tokens: u64,
    /// The Task is still running: its spending cannot leave a window before it finishes.
    pub running: bool,
}

impl Spend {
    /// A finished Task's spending.
    pub fn finished(at: Timestamp, cost_usd: Option<f64>, tokens: u64) -> Spend {
        Spend {
            at,
            cost_usd,
            tokens,
            running: false,
        }
    }

    /// The spending so far of a Task still running, at `now`.
    pub fn running(now: Timestamp, cost_usd: Option<f64>, tokens: u64) -> Spend {
        Spend {
            at: now,
            cost_usd,
            tokens,
            running: true,
        }
    }
}

/// Whether a new Task may start.
#[derive(Debug, Clone, PartialEq)]
pub enum Room {
    /// Every window has room.
    Open,
    /// A window is full until `until` (the latest of the full windows, if several are).
    Full {
        /// Which window and limit, spent against limit, and when room returns, e.g. `budget
        /// perDay maxTokens 1000 reached (1200 tokens spent in the last 24 hours); waiting until
        /// 2026-05-02T20:00:00Z`.
        message: String,
        /// When the window will have room again if nothing more is spent; when running Tasks
        /// keep it full, the earliest it can (a window's length from now): look again then.
        until: Timestamp,
    },
}

/// When a full limit has room again.
enum Opens {
    /// At this time, when finished Tasks' spending has aged out.
    At(Timestamp),
    /// Not before running Tasks finish: at the earliest this time (a window from now), and
    /// this much of the total is theirs.
    AfterRunning(Timestamp, f64),
}

impl Opens {
    fn time(&self) -> Timestamp {
        match self {
            Opens::At(t) | Opens::AfterRunning(t, _) => *t,
        }
    }
}

/// Whether the spawner's windows have room at `now`, given what its Tasks spent. A limit is
/// full when the spending inside its window is at or above it.
pub fn window_room(limits: &SpawnerBudget, spent: &[Spend], now: Timestamp) -> Room {
    let windows = [
        (
            "perHour",
            ("hour", "an hour"),
            SignedDuration::from_hours(1),
            &limits.per_hour,
        ),
        (
            "perDay",
            ("24 hours", "24 hours"),
            SignedDuration::from_hours(24),
            &limits.per_day,
        ),
    ];
    let mut full: Option<(Timestamp, String)> = None;
    for (name, (span, length), window, limits) in windows {
        let Some(limits) = limits else { continue };
        let start = now - window;
        let mut inside: Vec<&Spend> = spent.iter().filter(|s| s.running || s.at > start).collect();
        inside.sort_by_key(|s| s.at);
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
            let opens = room_at(&inside, amount, total, max, window, now);
            let figure = |n: f64| {
                if limit_name == "maxCostUSD" {
                    format!("{n:.4} USD")
                } else {
                    format!("{n} tokens")
                }
            };
            let message = match &opens {
                Opens::At(until) => format!(
                    "budget {name} {limit_name} {max} reached ({} spent in the last {span}); waiting until {until}",
                    figure(total),
                    until = until.round(jiff::Unit::Second).unwrap_or(*until),
                ),
                Opens::AfterRunning(_, theirs) => format!(
                    "budget {name} {limit_name} {max} reached ({} spent in the last {span}, {} of it by Tasks still running); waiting until they finish, then {length}",
                    figure(total),
                    figure(*theirs),
                ),
            };
            let until = opens.time();
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
    spend.cost_usd.unwrap_or(0.0)
}

fn tokens_of(spend: &Spend) -> f64 {
    spend.tokens as f64
}

/// When the oldest finished spending has aged out of the window far enough for the total to
/// fall below `max`. `inside` is sorted oldest first. Running Tasks' spending never ages out
/// while they run; a zero limit never has room: either way, the window is re-checked after a
/// window's length.
fn room_at(
    inside: &[&Spend],
    amount: Amount,
    mut total: f64,
    max: f64,
    window: SignedDuration,
    now: Timestamp,
) -> Opens {
    for spend in inside.iter().filter(|s| !s.running) {
        total -= amount(spend);
        if total < max {
            return Opens::At(spend.at + window);
        }
    }
    let running: f64 = inside.iter().filter(|s| s.running).map(|s| amount(s)).sum();
    if running > 0.0 {
        Opens::AfterRunning(now + window, running)
    } else {
        Opens::At(now + window)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn done(at: &str, cost: Option<f64>, tokens: u64) -> Spend {
        Spend::finished(ts(at), cost, tokens)
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
            window_room(
                &SpawnerBudget::default(),
                &[Spend::finished(now, Some(1e9), 1 << 40)],
                now
            ),
            Room::Open
        );
        assert_eq!(
            window_room(&per_day(Some(50.0), None), &[], now),
            Room::Open
        );
        assert!(!SpawnerBudget::default().is_limited());
        assert!(
            !SpawnerBudget {
                per_hour: Some(WindowLimits::default()),
                per_day: None
            }
            .is_limited()
        );
        assert!(per_day(None, Some(1)).is_limited());
    }

    #[test]
    fn a_full_day_window_spans_midnight_and_opens_when_the_oldest_spend_ages_out() {
        let limits = per_day(Some(50.0), None);
        let spent = [
            done("2026-05-01T20:00:00Z", Some(30.0), 0),
            done("2026-05-01T23:30:00Z", Some(15.0), 0),
            done("2026-05-02T00:30:00Z", Some(10.0), 0),
        ];
        // Just after midnight the previous evening still counts: 55 >= 50.
        let now = ts("2026-05-02T01:00:00Z");
        let Room::Full { message, until } = window_room(&limits, &spent, now) else {
            panic!("the day window is full");
        };
        // Without the 20:00 spend, 25 < 50: room returns when it leaves the window.
        assert_eq!(until, ts("2026-05-02T20:00:00Z"));
        insta::assert_snapshot!(message, @"budget perDay maxCostUSD 50 reached (55.0000 USD spent in the last 24 hours); waiting until 2026-05-02T20:00:00Z");
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
        let at_limit = [done("2026-05-02T09:00:00Z", Some(10.0), 5)];
        assert!(matches!(
            window_room(&limits, &at_limit, now),
            Room::Full { .. }
        ));
        let unknown = [done("2026-05-02T09:00:00Z", None, 5)];
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
            done("2026-05-01T12:00:00Z", None, 4000),
            done("2026-05-02T09:30:00Z", None, 1200),
        ];
        let Room::Full { message, until } = window_room(&limits, &spent, now) else {
            panic!("both windows are full");
        };
        assert_eq!(until, ts("2026-05-02T12:00:00Z"));
        assert!(
            message.starts_with("budget perDay maxTokens 5000 reached (5200 tokens"),
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

    #[test]
    fn a_running_task_counts_with_its_live_figures_and_cannot_age_out_while_it_runs() {
        let now = ts("2026-05-02T10:00:00Z");
        let limits = per_day(None, Some(1000));
        // Below the limit together: room.
        let spent = [
            done("2026-05-01T12:00:00Z", None, 300),
            Spend::running(now, None, 600),
        ];
        assert_eq!(window_room(&limits, &spent, now), Room::Open);
        // The finished spend ageing out is enough: a known time.
        let spent = [
            done("2026-05-01T12:00:00Z", None, 500),
            Spend::running(now, None, 600),
        ];
        let Room::Full { until, .. } = window_room(&limits, &spent, now) else {
            panic!("full");
        };
        assert_eq!(until, ts("2026-05-02T12:00:00Z"));
        // The running Task alone keeps the window full: not before it finishes, then a day.
        // The message does not move with the clock (status is not rewritten every second).
        let spent = [
            done("2026-05-01T12:00:00Z", None, 100),
            Spend::running(now, None, 1200),
        ];
        let Room::Full { message, until } = window_room(&limits, &spent, now) else {
            panic!("full");
        };
        assert_eq!(until, ts("2026-05-03T10:00:00Z"));
        insta::assert_snapshot!(message, @"budget perDay maxTokens 1000 reached (1300 tokens spent in the last 24 hours, 1200 tokens of it by Tasks still running); waiting until they finish, then 24 hours");
        let later = now + SignedDuration::from_mins(5);
        let moved = [spent[0].clone(), Spend::running(later, None, 1200)];
        let Room::Full { message: again, .. } = window_room(&limits, &moved, later) else {
            panic!("full");
        };
        assert_eq!(again, message);
        let hourly = SpawnerBudget {
            per_hour: limits.per_day.clone(),
            per_day: None,
        };
        let Room::Full { message, .. } = window_room(&hourly, &spent, now) else {
            panic!("full");
        };
        assert!(
            message.ends_with("in the last hour, 1200 tokens of it by Tasks still running); waiting until they finish, then an hour"),
            "{message}"
        );
    }

    #[test]
    fn the_api_budget_converts() {
        let api = axon_api::SpawnerBudget {
            per_hour: Some(axon_api::WindowLimits {
                max_cost_usd: Some(2.5),
                max_tokens: None,
            }),
            per_day: Some(axon_api::WindowLimits {
                max_cost_usd: None,
                max_tokens: Some(-4),
            }),
        };
        let b = SpawnerBudget::from(&api);
        assert_eq!(b.per_hour.as_ref().and_then(|w| w.max_cost_usd), Some(2.5));
        assert_eq!(b.per_day.as_ref().and_then(|w| w.max_tokens), Some(0));
    }
}
