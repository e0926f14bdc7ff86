//! What the gateway tells the driver running the Task, as it happens.
//!
//! Why: the gateway refuses an over-budget call, but stopping the agent, saving its work and
//! failing the Task is the driver's job; denied connections and live spend belong in the Task's
//! events and `axon logs`. The driver subscribes to a broadcast of [`GatewayEvent`]s
//! (`Gateway::events()`); a slow subscriber loses the oldest events, never blocks a request.

use crate::grant::TaskRef;
use crate::metering::UsageTotals;

/// Events kept for a slow subscriber before the oldest are dropped.
pub const EVENT_CAPACITY: usize = 1024;

/// Something the driver of a Task must know.
#[derive(Debug, Clone, PartialEq)]
pub enum GatewayEvent {
    /// A generation call was refused: the Task reached a budget limit. The driver stops the
    /// agent, saves its work to a WIP branch and fails the Task with reason `BudgetExceeded`.
    BudgetExceeded {
        /// The Task.
        task: TaskRef,
        /// The limit reached (`maxTurns`, `maxTokens`, `maxCostUSD`).
        limit: String,
        /// The figure that reached it (`1 model requests`, `120345 tokens`, `2.5012 USD`).
        figure: String,
        /// The message the agent was shown, naming the limit and the figure.
        message: String,
    },
    /// A connection to `host` was refused by the Task's egress rule.
    EgressDenied {
        /// The Task.
        task: TaskRef,
        /// The refused destination (host, or host:port).
        host: String,
    },
    /// A model call ended; `totals` is the Task's usage including it.
    Usage {
        /// The Task.
        task: TaskRef,
        /// Totals so far.
        totals: UsageTotals,
    },
}

impl GatewayEvent {
    /// The Task the event is about.
    pub fn task(&self) -> &TaskRef {
        match self {
            GatewayEvent::BudgetExceeded { task, .. }
            | GatewayEvent::EgressDenied { task, .. }
            | GatewayEvent::Usage { task, .. } => task,
        }
    }
}
