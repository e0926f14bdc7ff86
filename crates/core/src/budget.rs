//! A Task's budget, checked before each model generation call, and the refusal the agent sees.
//!
//! Why: `spec.budget` (`maxCostUSD`, `maxTokens`, `maxTurns`) is enforced in flight by the
//! gateway, so an agent cannot spend past it: before forwarding a generation call the gateway
//! asks [`check`] about the Task's measured totals; a reached limit refuses the call with an
//! error body in the agent's own wire format ([`refusal`]), which every CLI shows as an API
//! error, and the driver stops the run with reason `BudgetExceeded`. A limit is *reached* when
//! the figure is at or above it, so the call that brings the totals to the limit still runs and
//! the next one is refused.

use std::fmt;

use serde_json::json;

use crate::usage::{UsageTotals, WireFormat};

/// The limits of `spec.budget`; `None` is no limit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BudgetLimits {
    /// `maxCostUSD`: measured cost in USD.
    pub max_cost_usd: Option<f64>,
    /// `maxTokens`: input, output and cache tokens together.
    pub max_tokens: Option<u64>,
    /// `maxTurns`: model generation calls.
    pub max_turns: Option<u64>,
}

/// A reached limit: which one, its value, and the figure that reached it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetExceeded {
    /// `maxTurns`, `maxTokens` or `maxCostUSD`, as the field is spelled in `spec.budget`.
    pub limit: &'static str,
    /// The limit, as written (`1`, `100000`, `2.5`).
    pub limit_value: String,
    /// The figure with its unit (`1 model requests`, `120345 tokens`, `2.5012 USD`).
    pub figure: String,
}

impl fmt::Display for BudgetExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Axon budget exceeded: {} {} reached ({})",
            self.limit, self.limit_value, self.figure
        )
    }
}

impl std::error::Error for BudgetExceeded {}

/// The first limit the totals have reached (turns, then tokens, then cost), if any. A cost
/// limit is never reached while the cost is unknown (an unpriced model was used): the driver
/// warns about that instead of inventing a figure.
pub fn check(limits: &BudgetLimits, totals: &UsageTotals) -> Option<BudgetExceeded> {
    if let Some(max) = limits.max_turns
        && totals.turns >= max
    {
        return Some(BudgetExceeded {
            limit: "maxTurns",
            limit_value: max.to_string(),
            figure: format!("{} model requests", totals.turns),
        });
    }
    if let Some(max) = limits.max_tokens
        && totals.tokens() >= max
    {
        return Some(BudgetExceeded {
            limit: "maxTokens",
            limit_value: max.to_string(),
            figure: format!("{} tokens", totals.tokens()),
        });
    }
    if let (Some(max), Some(cost)) = (limits.max_cost_usd, totals.cost_usd)
        && cost >= max
    {
        return Some(BudgetExceeded {
            limit: "maxCostUSD",
            limit_value: max.to_string(),
            figure: format!("{cost:.4} USD"),
        });
    }
    None
}

/// The answer to a refused call in the agent's wire format: HTTP status, `Content-Type` and
/// body. 400 with the format's invalid-request error shape, so the CLIs report the message and
/// do not retry.
pub fn refusal(format: WireFormat, message: &str) -> (u16, &'static str, String) {
    let body = match format {
        WireFormat::AnthropicMessages => json!({
            "type": "error",
            "error": {"type": "invalid_request_error", "message": message},
        }),
        WireFormat::OpenAiResponses | WireFormat::OpenAiChat => json!({
            "error": {"message": message, "type": "budget_exceeded", "code": "budget_exceeded"},
        }),
        WireFormat::Gemini => json!({
            "error": {"code": 400, "message": message, "status": "FAILED_PRECONDITION"},
        }),
    };
    (400, "application/json", body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::{ModelPrice, PriceTable};
    use crate::usage::{CallKind, CallUsage};

    fn prices() -> PriceTable {
        PriceTable::default().with_overrides([(
            "m".to_string(),
            ModelPrice {
                input_per_mtok: 1_000_000.0, // $1 per token: easy figures
                output_per_mtok: 1_000_000.0,
                cache_read_per_mtok: None,
                cache_write_per_mtok: None,
            },
        )])
    }

    fn call(model: &str, input: u64, output: u64) -> CallUsage {
        CallUsage {
            model: Some(model.into()),
            input_tokens: input,
            output_tokens: output,
            ..CallUsage::default()
        }
    }

    #[test]
    fn max_turns_one_lets_the_first_call_run_and_refuses_the_next() {
        let limits = BudgetLimits {
            max_turns: Some(1),
            ..BudgetLimits::default()
        };
        let mut totals = UsageTotals::default();
        assert_eq!(check(&limits, &totals), None);
        totals.add(CallKind::Generation, &call("m", 1, 1), &prices());
        let exceeded = check(&limits, &totals).expect("reached");
        assert_eq!(
            exceeded.to_string(),
            "Axon budget exceeded: maxTurns 1 reached (1 model requests)"
        );
    }

    #[test]
    fn auxiliary_calls_are_not_turns() {
        let limits = BudgetLimits {
            max_turns: Some(1),
            ..BudgetLimits::default()
        };
        let mut totals = UsageTotals::default();
        totals.add(CallKind::Auxiliary, &CallUsage::default(), &prices());
        totals.add(CallKind::Auxiliary, &CallUsage::default(), &prices());
        assert_eq!(totals.requests, 2);
        assert_eq!(check(&limits, &totals), None);
    }

    #[test]
    fn tokens_count_input_output_and_cache_and_the_boundary_is_inclusive() {
        let limits = BudgetLimits {
            max_tokens: Some(100),
            ..BudgetLimits::default()
        };
        let mut totals = UsageTotals::default();
        let c = CallUsage {
            model: Some("m".into()),
            input_tokens: 40,
            output_tokens: 30,
            cache_read_tokens: 20,
            cache_write_tokens: 9,
        };
        totals.add(CallKind::Generation, &c, &prices());
        assert_eq!(totals.tokens(), 99);
        assert_eq!(check(&limits, &totals), None, "one below the limit");
        totals.add(CallKind::Generation, &call("m", 1, 0), &prices());
        assert_eq!(
            check(&limits, &totals).map(|e| e.to_string()),
            Some("Axon budget exceeded: maxTokens 100 reached (100 tokens)".into())
        );
    }

    #[test]
    fn cost_limit_inclusive_and_never_reached_while_cost_is_unknown() {
        let limits = BudgetLimits {
            max_cost_usd: Some(2.5),
            ..BudgetLimits::default()
        };
        let mut totals = UsageTotals::default();
        totals.add(CallKind::Generation, &call("m", 1, 1), &prices());
        assert_eq!(check(&limits, &totals), None);
        totals.add(CallKind::Generation, &call("m", 0, 1), &prices());
        let e = check(&limits, &totals).expect("3 USD >= 2.5");
        assert_eq!(
            (e.limit, e.limit_value.as_str(), e.figure.as_str()),
            ("maxCostUSD", "2.5", "3.0000 USD")
        );

        let mut unknown = UsageTotals::default();
        unknown.add(
            CallKind::Generation,
            &call("unpriced", 1000, 1000),
            &prices(),
        );
        unknown.add(CallKind::Generation, &call("m", 1000, 1000), &prices());
        assert_eq!(unknown.cost_usd, None, "never a partial figure");
        assert_eq!(
            unknown.unpriced_models.iter().collect::<Vec<_>>(),
            ["unpriced"]
        );
        assert_eq!(check(&limits, &unknown), None);
    }

    #[test]
    fn turns_are_checked_before_tokens_and_cost() {
        let limits = BudgetLimits {
            max_cost_usd: Some(0.0),
            max_tokens: Some(0),
            max_turns: Some(0),
        };
        let e = check(&limits, &UsageTotals::default()).expect("all zero limits are reached");
        assert_eq!(e.limit, "maxTurns");
    }

    #[test]
    fn refusal_bodies_per_wire_format() {
        let message = "Axon budget exceeded: maxTurns 1 reached (1 model requests)";
        let all: Vec<_> = [
            WireFormat::AnthropicMessages,
            WireFormat::OpenAiResponses,
            WireFormat::OpenAiChat,
            WireFormat::Gemini,
        ]
        .into_iter()
        .map(|f| {
            let (status, content_type, body) = refusal(f, message);
            format!("{f:?}: {status} {content_type}\n{body}")
        })
        .collect();
        insta::assert_snapshot!(all.join("\n\n"));
    }

    #[test]
    fn refusal_escapes_the_message() {
        let (_, _, body) = refusal(WireFormat::AnthropicMessages, "a \"quoted\"\nline");
        let v: serde_json::Value = serde_json::from_str(&body).expect("valid JSON");
        assert_eq!(v["error"]["message"], "a \"quoted\"\nline");
    }
}
