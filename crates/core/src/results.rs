//! The results document: what an agent run produced, written by the runner (`axon agent run`)
//! and read by the drivers to fill `Task.status`. Status never comes from log text, so an agent
//! printing fake markers into its log cannot forge results.

pub use axon_api::UsageSource;
use serde::{Deserialize, Serialize};

/// Where the runner writes the document, as told by the driver.
pub const RESULTS_FILE_ENV: &str = axon_api::contract::ENV_RESULTS_FILE;

/// Kubernetes caps a termination message at 4096 bytes; stay below it.
pub const TERMINATION_MESSAGE_LIMIT: usize = 4000;

/// One agent run's outcome.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResultsDocument {
    /// Agent type that ran (`claude-code`, `codex`, `gemini`, `opencode`, or `custom`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_type: Option<String>,
    /// Branch checked out in the work tree when the agent finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Branch the work tree was cloned at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_branch: Option<String>,
    /// Commits made by the agent (newest first), as full SHAs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commits: Vec<String>,
    /// Whether `branch` exists on the remote at the work tree's HEAD.
    #[serde(default)]
    pub pushed: bool,
    /// Pull request URLs for the branch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pull_requests: Vec<String>,
    /// Token and cost accounting; absent when nobody Axon can believe reported it (a custom
    /// agent's printed figures are never taken).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// The agent's final answer (truncated for the termination message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_answer: Option<String>,
    /// The agent CLI's exit code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Whether the agent itself reported success.
    #[serde(default)]
    pub success: bool,
    /// Why the run failed, in words a user can act on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// Set by Axon, never taken from the agent side: the gateway refused a model call over the
    /// Task's `spec.budget` and the run was stopped (the limit and the figure). The Task ends
    /// Failed with reason `BudgetExceeded` and is not retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_exceeded: Option<String>,
}

/// Tokens, cost and turns reported by the agent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    /// Cost in USD, when the agent reports it (Claude Code, OpenCode). `costUSD` on the wire,
    /// as the README documents (`costUsd` is still read).
    #[serde(
        default,
        rename = "costUSD",
        alias = "costUsd",
        skip_serializing_if = "Option::is_none"
    )]
    pub cost_usd: Option<f64>,
    #[serde(default)]
    pub turns: u64,
    /// Who produced the figures (`agent`: the agent CLI's own report; `gateway`: measured by
    /// the Axon gateway).
    #[serde(default)]
    pub source: UsageSource,
    /// Of the input tokens, those read from the prompt cache (absent in documents written
    /// before the gateway measured them: 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cache_read_tokens: u64,
    /// Of the input tokens, those written to the prompt cache.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cache_write_tokens: u64,
    /// Model API requests the gateway forwarded; 0 when the agent reported the figures.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub requests: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Usage {
    /// Usage as the Axon gateway measured it. `inputTokens` counts cache reads and writes too
    /// (they are input), as the agents' own reports do.
    pub fn measured(totals: &crate::usage::UsageTotals) -> Usage {
        Usage {
            input_tokens: totals.input_tokens
                + totals.cache_read_tokens
                + totals.cache_write_tokens,
            output_tokens: totals.output_tokens,
            cost_usd: totals.cost_usd,
            turns: totals.turns,
            source: UsageSource::Gateway,
            cache_read_tokens: totals.cache_read_tokens,
            cache_write_tokens: totals.cache_write_tokens,
            requests: totals.requests,
        }
    }
}

impl ResultsDocument {
    /// The document with the gateway's measured usage in place of whatever the agent reported
    /// (`None`: the gateway saw no model call, so the usage is zero, still measured).
    pub fn with_measured_usage(mut self, totals: Option<&crate::usage::UsageTotals>) -> Self {
        self.usage = Some(Usage::measured(&totals.cloned().unwrap_or_default()));
        self
    }

    /// Serialize for a Kubernetes termination message: always valid JSON under
    /// [`TERMINATION_MESSAGE_LIMIT`] bytes, dropping the least important data first.
    pub fn to_termination_message(&self) -> String {
        let mut doc = self.clone();
        let mut out = serde_json::to_string(&doc).unwrap_or_default();
        if out.len() <= TERMINATION_MESSAGE_LIMIT {
            return out;
        }
        doc.final_answer = doc.final_answer.map(|a| truncate_chars(&a, 500));
        if let Some(reason) = doc.failure_reason.take() {
            doc.failure_reason = Some(truncate_chars(&reason, 500));
        }
        out = serde_json::to_string(&doc).unwrap_or_default();
        while out.len() > TERMINATION_MESSAGE_LIMIT {
            if doc.commits.len() > 1 {
                doc.commits.truncate(doc.commits.len() / 2);
            } else if doc.final_answer.is_some() {
                doc.final_answer = None;
            } else if doc.pull_requests.len() > 1 {
                doc.pull_requests.truncate(1);
            } else {
                doc.failure_reason = doc.failure_reason.map(|r| truncate_chars(&r, 100));
                out = serde_json::to_string(&doc).unwrap_or_default();
                break;
            }
            out = serde_json::to_string(&doc).unwrap_or_default();
        }
        out
    }
}

fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn termination_message_stays_under_limit() {
        let doc = ResultsDocument {
            commits: (0..500).map(|i| format!("{i:040}")).collect(),
            final_answer: Some("x".repeat(10_000)),
            failure_reason: Some("y".repeat(10_000)),
            ..Default::default()
        };
        let msg = doc.to_termination_message();
        assert!(msg.len() <= TERMINATION_MESSAGE_LIMIT, "{}", msg.len());
        let back: ResultsDocument = serde_json::from_str(&msg).expect("valid json");
        assert!(!back.commits.is_empty());
    }

    #[test]
    fn small_document_round_trips() {
        let doc = ResultsDocument {
            branch: Some("axon/fix".into()),
            commits: vec!["a".repeat(40)],
            usage: Some(Usage {
                input_tokens: 10,
                output_tokens: 5,
                cost_usd: Some(0.01),
                turns: 2,
                source: UsageSource::Agent,
                ..Default::default()
            }),
            success: true,
            ..Default::default()
        };
        let back: ResultsDocument =
            serde_json::from_str(&doc.to_termination_message()).expect("json");
        assert_eq!(back, doc);
    }

    #[test]
    fn gateway_usage_round_trips_and_old_documents_still_parse() {
        let usage = Usage {
            input_tokens: 1200,
            output_tokens: 80,
            cost_usd: Some(0.0042),
            turns: 3,
            source: UsageSource::Gateway,
            cache_read_tokens: 900,
            cache_write_tokens: 100,
            requests: 4,
        };
        let json = serde_json::to_string(&usage).expect("json");
        assert_eq!(
            json,
            r#"{"inputTokens":1200,"outputTokens":80,"costUSD":0.0042,"turns":3,"source":"gateway","cacheReadTokens":900,"cacheWriteTokens":100,"requests":4}"#
        );
        assert_eq!(serde_json::from_str::<Usage>(&json).expect("parses"), usage);
        // Written before the gateway: no cache figures, no requests, maybe no source.
        let old: Usage =
            serde_json::from_str(r#"{"inputTokens":7,"outputTokens":3,"costUsd":0.5,"turns":5}"#)
                .expect("old document parses");
        assert_eq!(
            old,
            Usage {
                input_tokens: 7,
                output_tokens: 3,
                cost_usd: Some(0.5),
                turns: 5,
                ..Default::default()
            }
        );
        let zeros = serde_json::to_string(&old).expect("json");
        assert!(
            !zeros.contains("requests") && !zeros.contains("cache"),
            "{zeros}"
        );
    }
}
