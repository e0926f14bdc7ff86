//! Budgets: how much a Task may spend (`spec.budget`, also on a TaskSpawner's `taskTemplate`)
//! and how much a TaskSpawner's Tasks may spend together over a window (`spec.budget` of the
//! TaskSpawner).
//!
//! Why a module of its own: the limits are read by three parties — the gateway refuses the
//! next model call of a Task that reached its limit, the spawner holds new Tasks Pending while
//! its window is full, and the loader and the CRD refuse limits that make no sense (negative,
//! zero where zero would block everything, not a number). The types and their rules live
//! together so all three read one definition.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Limits on one Task's model use, enforced by the Axon gateway before each model generation
/// call. Every field is optional; an unset field is no limit.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Budget {
    /// Stop when the Task's model cost reaches this many US dollars (≥ 0), priced by the price
    /// table (config `pricing`, the Task's `pricing`, the shipped table).
    #[serde(
        default,
        rename = "maxCostUSD",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(range(min = 0))]
    pub max_cost_usd: Option<f64>,
    /// Stop when input plus output tokens (cache tokens count as input) reach this many (≥ 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_tokens: Option<i64>,
    /// Stop when this many model generation requests (turns) were made (≥ 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_turns: Option<i64>,
}

/// A TaskSpawner's budget over time windows: while the Tasks it created in the last hour (or
/// day) used the limit, new Tasks wait Pending with a message until the window has room.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SpawnerBudget {
    /// Limits over the last hour (a sliding window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_hour: Option<WindowLimits>,
    /// Limits over the last 24 hours (a sliding window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_day: Option<WindowLimits>,
}

/// What a TaskSpawner's Tasks may use together in one window. Every field is optional; an
/// unset field is no limit.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WindowLimits {
    /// US dollars of model cost (> 0).
    #[serde(
        default,
        rename = "maxCostUSD",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(range(min = 0), extend("exclusiveMinimum" = true))]
    pub max_cost_usd: Option<f64>,
    /// Input plus output tokens (> 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_tokens: Option<i64>,
}

/// A Task's `maxCostUSD`: a finite number of US dollars, 0 or more.
pub fn check_max_cost(usd: f64) -> Result<(), String> {
    if !usd.is_finite() {
        return Err(format!(
            "must be a number of US dollars, got {usd}: give a figure such as 2.5, or remove the field for no limit"
        ));
    }
    if usd < 0.0 {
        return Err(format!(
            "must be 0 or more US dollars, got {usd}: give a figure such as 2.5, or remove the field for no limit"
        ));
    }
    Ok(())
}

/// A TaskSpawner window's `maxCostUSD`: a finite number of US dollars above 0 (0 would hold
/// every Task forever).
pub fn check_window_cost(usd: f64) -> Result<(), String> {
    check_max_cost(usd)?;
    if usd == 0.0 {
        return Err(
            "must be more than 0 US dollars: 0 would keep every new Task Pending forever; remove the field for no limit"
                .into(),
        );
    }
    Ok(())
}

/// `maxTokens` or `maxTurns` (`what`: `tokens`, `model requests`): at least 1.
pub fn check_count(n: i64, what: &str) -> Result<(), String> {
    if n < 1 {
        return Err(format!(
            "must be at least 1 ({what}), got {n}: remove the field for no limit"
        ));
    }
    Ok(())
}

/// Every broken rule of a Task's budget: (field under `budget`, reason).
pub fn budget_violations(b: &Budget) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(usd) = b.max_cost_usd
        && let Err(r) = check_max_cost(usd)
    {
        out.push(("maxCostUSD", r));
    }
    if let Some(n) = b.max_tokens
        && let Err(r) = check_count(n, "tokens")
    {
        out.push(("maxTokens", r));
    }
    if let Some(n) = b.max_turns
        && let Err(r) = check_count(n, "model requests")
    {
        out.push(("maxTurns", r));
    }
    out
}

/// Every broken rule of a TaskSpawner's budget: (field under `budget`, reason).
pub fn spawner_budget_violations(b: &SpawnerBudget) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (window, limits) in [("perHour", &b.per_hour), ("perDay", &b.per_day)] {
        let Some(l) = limits else { continue };
        if let Some(usd) = l.max_cost_usd
            && let Err(r) = check_window_cost(usd)
        {
            out.push((format!("{window}.maxCostUSD"), r));
        }
        if let Some(n) = l.max_tokens
            && let Err(r) = check_count(n, "tokens")
        {
            out.push((format!("{window}.maxTokens"), r));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_limits_are_non_negative_and_counts_positive() {
        let ok = Budget {
            max_cost_usd: Some(0.0),
            max_tokens: Some(1),
            max_turns: Some(1),
        };
        assert!(budget_violations(&ok).is_empty());
        assert!(budget_violations(&Budget::default()).is_empty());
        let bad = Budget {
            max_cost_usd: Some(-1.5),
            max_tokens: Some(0),
            max_turns: Some(-3),
        };
        let lines: Vec<String> = budget_violations(&bad)
            .into_iter()
            .map(|(f, r)| format!("{f}: {r}"))
            .collect();
        insta::assert_snapshot!(lines.join("\n"));
        assert!(check_max_cost(f64::NAN).is_err_and(|e| e.contains("got NaN")));
        assert!(check_max_cost(f64::INFINITY).is_err());
    }

    #[test]
    fn window_limits_are_positive() {
        let bad = SpawnerBudget {
            per_hour: Some(WindowLimits {
                max_cost_usd: Some(0.0),
                max_tokens: Some(0),
            }),
            per_day: Some(WindowLimits {
                max_cost_usd: Some(-50.0),
                max_tokens: Some(1_000_000),
            }),
        };
        let lines: Vec<String> = spawner_budget_violations(&bad)
            .into_iter()
            .map(|(f, r)| format!("{f}: {r}"))
            .collect();
        insta::assert_snapshot!(lines.join("\n"));
        let ok = SpawnerBudget {
            per_hour: None,
            per_day: Some(WindowLimits {
                max_cost_usd: Some(50.0),
                max_tokens: None,
            }),
        };
        assert!(spawner_budget_violations(&ok).is_empty());
    }
}
