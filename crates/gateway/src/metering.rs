//! The metering types the gateway shares with its users: a Task's budget, its price table and
//! its usage totals.
//!
//! Why here: the pure metering (wire-format parsing, prices, budget checks) lives in
//! `axon_core::{usage, pricing, budget}`; this module is the one place the gateway names those
//! types, so its users write `axon_gateway::{BudgetLimits, PriceTable, UsageTotals}`.

pub use axon_core::budget::{BudgetExceeded, BudgetLimits};
pub use axon_core::pricing::{ModelPrice, PriceTable};
pub use axon_core::usage::{CallKind, CallUsage, UsageTotals, WireFormat};
