//! The live state of one Task in the gateway: its usage so far, its generation calls in flight,
//! its first budget refusal and its denied connections.
//!
//! Why: budgets are checked against what was measured, so the totals must be shared by every
//! concurrent request of the Task and outlive each one. A generation call **reserves** its turn
//! when it passes the budget check, under the same lock, so concurrent calls cannot all slip
//! under a `maxTurns` limit; the reservation is released when the call's usage is added (or the
//! call fails before reaching the upstream). The state is keyed by the Task's UID, created on
//! its first request, and read by the driver (`Gateway::usage`).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use axon_core::budget;

use crate::grant::TaskRef;
use crate::metering::{BudgetExceeded, BudgetLimits, CallKind, CallUsage, PriceTable, UsageTotals};

/// One Task's live state.
#[derive(Debug)]
pub struct TaskState {
    task: TaskRef,
    usage: Mutex<Usage>,
    denied: AtomicU64,
}

#[derive(Debug, Default)]
struct Usage {
    totals: UsageTotals,
    /// Generation calls that passed the budget check and have not ended.
    in_flight_turns: u64,
    /// The message of the first budget refusal (the run is then to be stopped).
    budget_refusal: Option<String>,
}

impl TaskState {
    /// A Task with no usage yet.
    pub fn new(task: TaskRef) -> TaskState {
        TaskState {
            task,
            usage: Mutex::new(Usage::default()),
            denied: AtomicU64::new(0),
        }
    }

    /// A Task continuing from `totals` (what a restarted gateway recorded before).
    pub fn with_usage(task: TaskRef, totals: UsageTotals) -> TaskState {
        TaskState {
            task,
            usage: Mutex::new(Usage {
                totals,
                ..Usage::default()
            }),
            denied: AtomicU64::new(0),
        }
    }

    /// The Task.
    pub fn task(&self) -> &TaskRef {
        &self.task
    }

    /// A copy of the usage totals (calls that ended).
    pub fn usage(&self) -> UsageTotals {
        self.lock().totals.clone()
    }

    /// Checks `limits` against the totals, counting the generation calls in flight as turns;
    /// within the budget, reserves a turn for one more call (release it with
    /// [`TaskState::end_call`] or [`TaskState::release_turn`]).
    pub fn reserve_turn(&self, limits: &BudgetLimits) -> Result<(), BudgetExceeded> {
        let mut usage = self.lock();
        let mut projected = usage.totals.clone();
        projected.turns = projected.turns.saturating_add(usage.in_flight_turns);
        if let Some(exceeded) = budget::check(limits, &projected) {
            return Err(exceeded);
        }
        usage.in_flight_turns += 1;
        Ok(())
    }

    /// Releases a turn reserved by a call that never reached the upstream.
    pub fn release_turn(&self) {
        let mut usage = self.lock();
        usage.in_flight_turns = usage.in_flight_turns.saturating_sub(1);
    }

    /// Adds an ended call (releasing its reserved turn when `reserved`); returns the totals
    /// including it.
    pub fn end_call(
        &self,
        kind: CallKind,
        reserved: bool,
        call: &CallUsage,
        prices: &PriceTable,
    ) -> UsageTotals {
        let mut usage = self.lock();
        if reserved {
            usage.in_flight_turns = usage.in_flight_turns.saturating_sub(1);
        }
        usage.totals.add(kind, call, prices);
        usage.totals.clone()
    }

    /// Notes a budget refusal (the first one's message is kept).
    pub fn record_refusal(&self, message: &str) {
        let mut usage = self.lock();
        if usage.budget_refusal.is_none() {
            usage.budget_refusal = Some(message.to_string());
        }
    }

    /// The message of the Task's first budget refusal, if a call was refused.
    pub fn budget_refusal(&self) -> Option<String> {
        self.lock().budget_refusal.clone()
    }

    /// Counts one denied connection; returns the count including it.
    pub fn count_denied(&self) -> u64 {
        self.denied.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Denied connections so far.
    pub fn denied(&self) -> u64 {
        self.denied.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Usage> {
        self.usage.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> TaskState {
        TaskState::new(TaskRef {
            namespace: "default".into(),
            name: "t".into(),
            uid: "u".into(),
        })
    }

    #[test]
    fn concurrent_calls_cannot_slip_under_max_turns() {
        let s = state();
        let limits = BudgetLimits {
            max_turns: Some(2),
            ..BudgetLimits::default()
        };
        s.reserve_turn(&limits).expect("first");
        s.reserve_turn(&limits).expect("second");
        let refused = s.reserve_turn(&limits).expect_err("third is over");
        assert_eq!(refused.limit, "maxTurns");
        // A call that never reached the upstream gives its turn back.
        s.release_turn();
        s.reserve_turn(&limits).expect("again within");
    }

    #[test]
    fn ended_calls_add_to_the_totals_and_release_their_turn() {
        let s = state();
        let limits = BudgetLimits {
            max_turns: Some(1),
            ..BudgetLimits::default()
        };
        s.reserve_turn(&limits).expect("first");
        let call = CallUsage {
            input_tokens: 100,
            output_tokens: 20,
            ..CallUsage::default()
        };
        let totals = s.end_call(CallKind::Generation, true, &call, &PriceTable::default());
        assert_eq!(
            (totals.turns, totals.requests, totals.tokens()),
            (1, 1, 120)
        );
        assert_eq!(s.usage(), totals);
        assert!(s.reserve_turn(&limits).is_err());
    }

    #[test]
    fn the_first_refusal_is_kept() {
        let s = state();
        assert_eq!(s.budget_refusal(), None);
        s.record_refusal("maxTurns 1 reached");
        s.record_refusal("maxTokens 10 reached");
        assert_eq!(s.budget_refusal().as_deref(), Some("maxTurns 1 reached"));
    }
}
