//! The metering types the gateway shares with its users: a Task's budget, its price table and
//! its usage totals.
//!
//! Why here: the pure metering (wire-format parsing, prices, budget checks) lives in
//! `axon_core::{usage, pricing, budget}`; this module is the one place the gateway names those
//! types, so the rest of the crate and its users write `axon_gateway::{BudgetLimits, …}`.
//! Until the core modules land, these are local definitions with the same names.

use std::collections::BTreeMap;

use serde::Serialize;

/// `spec.budget`: limits on a Task's model use; each is checked before a generation call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BudgetLimits {
    /// Cost in US dollars.
    pub max_cost_usd: Option<f64>,
    /// Input + output tokens (cache tokens counted as input).
    pub max_tokens: Option<u64>,
    /// Generation calls.
    pub max_turns: Option<u64>,
}

/// Price of one model, US dollars per million tokens.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelPrice {
    /// Input tokens.
    pub input: f64,
    /// Output tokens.
    pub output: f64,
    /// Cache reads.
    pub cache_read: f64,
    /// Cache writes.
    pub cache_write: f64,
}

/// Prices per model name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PriceTable {
    /// Model name → price.
    pub models: BTreeMap<String, ModelPrice>,
}

/// A Task's usage so far, as measured by the gateway.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageTotals {
    /// Input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Cache-read input tokens.
    pub cache_read_tokens: u64,
    /// Cache-write input tokens.
    pub cache_write_tokens: u64,
    /// Model requests of any kind.
    pub requests: u64,
    /// Generation calls.
    pub turns: u64,
    /// Cost in US dollars; `None` when a model had no price.
    pub cost_usd: Option<f64>,
}
