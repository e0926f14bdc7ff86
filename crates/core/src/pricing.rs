//! Model prices, and the cost of a measured call.
//!
//! Why: a Task's cost (and its `maxCostUSD` budget) is computed by Axon from the tokens the
//! gateway measured, not taken from what an agent prints. Axon ships list prices
//! (`prices.yaml`, embedded at build time) for the models the four agent CLIs default to and
//! the common ones; the config file and a Task can override or add models. A model that has no
//! price is never guessed: its cost is `None`.
//!
//! Model ids are matched exactly (case-insensitively, ignoring a provider prefix such as
//! `models/` or `anthropic/`), else by the longest known id that the model id extends with a
//! date or snapshot number only: `claude-sonnet-4-5-20250929`, `gpt-5-2025-08-07`,
//! `claude-3-5-haiku@20241022`, `gemini-2.0-flash-001`, `gpt-4o-latest`. Any other extension
//! (`gpt-5-mini` or `gpt-5.2` when only `gpt-5` were known, `claude-opus-4-9` when only
//! `claude-opus-4` were) is a different model, so it has no price rather than a wrong one.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::usage::CallUsage;

/// The shipped price table, YAML.
pub const SHIPPED_PRICES: &str = include_str!("prices.yaml");

/// List prices of one model, in USD per million tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    /// Uncached input.
    #[serde(rename = "inputPerMTok")]
    pub input_per_mtok: f64,
    /// Output, reasoning included.
    #[serde(rename = "outputPerMTok")]
    pub output_per_mtok: f64,
    /// Input read from a prompt cache; unset → charged as uncached input.
    #[serde(
        rename = "cacheReadPerMTok",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub cache_read_per_mtok: Option<f64>,
    /// Input written to a prompt cache; unset → charged as uncached input.
    #[serde(
        rename = "cacheWritePerMTok",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub cache_write_per_mtok: Option<f64>,
}

impl ModelPrice {
    /// Why this price cannot be used (negative, not finite), if it cannot.
    pub fn problem(&self) -> Option<String> {
        let fields = [
            ("inputPerMTok", Some(self.input_per_mtok)),
            ("outputPerMTok", Some(self.output_per_mtok)),
            ("cacheReadPerMTok", self.cache_read_per_mtok),
            ("cacheWritePerMTok", self.cache_write_per_mtok),
        ];
        fields.iter().find_map(|(name, v)| match v {
            Some(v) if !v.is_finite() || *v < 0.0 => Some(format!(
                "{name} is {v}: a price is a non-negative number of USD per million tokens"
            )),
            _ => None,
        })
    }
}

/// A price table could not be read.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PricingError {
    /// The YAML does not have the expected shape.
    #[error(
        "price table: {0} (expected `models: {{MODEL: {{inputPerMTok: N, outputPerMTok: N, cacheReadPerMTok: N, cacheWritePerMTok: N}}}}`)"
    )]
    Syntax(String),
    /// A price is negative or not a number.
    #[error("price table: model {model}: {problem}")]
    Invalid {
        /// The model id.
        model: String,
        /// What is wrong.
        problem: String,
    },
}

/// The file shape: `models: {id: price}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceFile {
    models: BTreeMap<String, ModelPrice>,
}

/// Prices by model id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PriceTable {
    /// Keyed by lower-case model id.
    models: BTreeMap<String, ModelPrice>,
}

static SHIPPED: LazyLock<PriceTable> = LazyLock::new(|| {
    // The embedded table is part of the build and parsed by a unit test.
    PriceTable::parse(SHIPPED_PRICES).expect("the shipped prices.yaml parses")
});

impl PriceTable {
    /// Axon's shipped list prices.
    pub fn shipped() -> Self {
        SHIPPED.clone()
    }

    /// Reads a table in the `prices.yaml` shape (`models: {MODEL: {inputPerMTok: …}}`).
    pub fn parse(yaml: &str) -> Result<Self, PricingError> {
        let file: PriceFile =
            serde_saphyr::from_str(yaml).map_err(|e| PricingError::Syntax(e.to_string()))?;
        Self::default().try_with_overrides(file.models)
    }

    /// This table with `overrides` added or replacing models of the same id.
    pub fn with_overrides(
        mut self,
        overrides: impl IntoIterator<Item = (String, ModelPrice)>,
    ) -> Self {
        for (model, price) in overrides {
            self.models.insert(normalize(&model), price);
        }
        self
    }

    /// Like [`PriceTable::with_overrides`], refusing a negative or non-finite price.
    pub fn try_with_overrides(
        self,
        overrides: impl IntoIterator<Item = (String, ModelPrice)>,
    ) -> Result<Self, PricingError> {
        let overrides: Vec<_> = overrides.into_iter().collect();
        for (model, price) in &overrides {
            if let Some(problem) = price.problem() {
                return Err(PricingError::Invalid {
                    model: model.clone(),
                    problem,
                });
            }
        }
        Ok(self.with_overrides(overrides))
    }

    /// The price of `model`: exact id, else the longest known id it extends with a date or
    /// snapshot number.
    pub fn price(&self, model: &str) -> Option<&ModelPrice> {
        let id = normalize(model);
        if let Some(price) = self.models.get(&id) {
            return Some(price);
        }
        let mut best: Option<(&str, &ModelPrice)> = None;
        for (known, price) in &self.models {
            if let Some(suffix) = id.strip_prefix(known.as_str())
                && is_version_suffix(suffix)
                && best.is_none_or(|(b, _)| known.len() > b.len())
            {
                best = Some((known, price));
            }
        }
        best.map(|(_, price)| price)
    }

    /// The cost of one call in USD: `Some(0.0)` for a call without tokens, `None` when it used
    /// tokens and its model is unnamed or has no price.
    pub fn cost(&self, call: &CallUsage) -> Option<f64> {
        if call.tokens() == 0 {
            return Some(0.0);
        }
        let price = self.price(call.model.as_deref()?)?;
        let per_token = |tokens: u64, per_mtok: f64| tokens as f64 * per_mtok / 1_000_000.0;
        Some(
            per_token(call.input_tokens, price.input_per_mtok)
                + per_token(call.output_tokens, price.output_per_mtok)
                + per_token(
                    call.cache_read_tokens,
                    price.cache_read_per_mtok.unwrap_or(price.input_per_mtok),
                )
                + per_token(
                    call.cache_write_tokens,
                    price.cache_write_per_mtok.unwrap_or(price.input_per_mtok),
                ),
        )
    }

    /// Known model ids, sorted.
    pub fn models(&self) -> impl Iterator<Item = (&str, &ModelPrice)> {
        self.models.iter().map(|(k, v)| (k.as_str(), v))
    }
}

/// Lower case, without a provider prefix (`models/`, `anthropic/`, `openai/`…).
fn normalize(model: &str) -> String {
    let id = model.trim();
    let id = id.rsplit('/').next().unwrap_or(id);
    id.to_ascii_lowercase()
}

/// A dated or numbered snapshot of the same model: `-20250929`, `-2025-08-07`, `@20241022`,
/// `-001`, `-latest`. A short number (`-1`, `-9`) is not one: `claude-opus-4-9` is another
/// model than `claude-opus-4`.
fn is_version_suffix(suffix: &str) -> bool {
    let Some(rest) = suffix
        .strip_prefix('-')
        .or_else(|| suffix.strip_prefix('@'))
    else {
        return false;
    };
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let parts: Vec<&str> = rest.split('-').collect();
    match parts.as_slice() {
        ["latest"] => true,
        [date] => digits(date, 8) || digits(date, 3),
        [y, m, d] => digits(y, 4) && digits(m, 2) && digits(d, 2),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(model: &str, input: u64, output: u64, read: u64, write: u64) -> CallUsage {
        CallUsage {
            model: Some(model.to_string()),
            input_tokens: input,
            output_tokens: output,
            cache_read_tokens: read,
            cache_write_tokens: write,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn the_shipped_table_parses_and_has_the_cli_defaults() {
        let t = PriceTable::shipped();
        for model in [
            "claude-opus-4-5",
            "claude-sonnet-4-5",
            "claude-haiku-4-5",
            "gpt-5",
            "gpt-5-codex",
            "gpt-5-mini",
            "gemini-2.5-pro",
            "gemini-2.5-flash",
            "gpt-5.5",
            "claude-opus-5-5",
            "claude-sonnet-5-5",
        ] {
            assert!(t.price(model).is_some(), "{model} has no shipped price");
        }
        for (model, price) in t.models() {
            assert_eq!(price.problem(), None, "{model}");
            assert_eq!(normalize(model), model, "ids are stored lower-case");
        }
    }

    #[test]
    fn a_known_model_is_priced_per_million_tokens_with_cache_rates() {
        let t = PriceTable::shipped();
        // Sonnet 4.5: $3 in, $15 out, $0.30 cache read, $3.75 cache write.
        let cost = t.cost(&call(
            "claude-sonnet-4-5",
            1_000_000,
            100_000,
            2_000_000,
            10_000,
        ));
        assert!(
            close(cost.expect("priced"), 3.0 + 1.5 + 0.6 + 0.0375),
            "{cost:?}"
        );
        // GPT-5: $1.25 in, $10 out, $0.125 cached.
        let cost = t.cost(&call("gpt-5", 400_000, 50_000, 600_000, 0));
        assert!(close(cost.expect("priced"), 0.5 + 0.5 + 0.075), "{cost:?}");
    }

    #[test]
    fn dated_snapshots_match_the_longest_known_prefix() {
        let t = PriceTable::shipped();
        let sonnet = t.price("claude-sonnet-4-5").cloned();
        assert_eq!(t.price("claude-sonnet-4-5-20250929").cloned(), sonnet);
        assert_eq!(t.price("Claude-Sonnet-4-5-20250929").cloned(), sonnet);
        assert_eq!(t.price("anthropic/claude-sonnet-4-5").cloned(), sonnet);
        assert_eq!(t.price("claude-sonnet-4-5@20250929").cloned(), sonnet);
        // Not Sonnet 4's price although `claude-sonnet-4` is also a prefix.
        assert_eq!(
            t.price("claude-opus-4-5-20251101"),
            t.price("claude-opus-4-5")
        );
        assert_ne!(t.price("claude-opus-4-5"), t.price("claude-opus-4"));
        assert_eq!(t.price("gpt-5-2025-08-07"), t.price("gpt-5"));
        assert_eq!(t.price("gpt-5-mini-2025-08-07"), t.price("gpt-5-mini"));
        assert_eq!(t.price("models/gemini-2.5-pro"), t.price("gemini-2.5-pro"));
        assert_eq!(t.price("claude-opus-4-20250514"), t.price("claude-opus-4"));
        // Unknown later versions are not priced as the family's first.
        assert_eq!(t.price("claude-opus-4-9"), None);
        assert_eq!(t.price("gpt-5.9"), None);
    }

    #[test]
    fn other_extensions_of_a_known_id_are_different_models() {
        let t = PriceTable::default().with_overrides([(
            "gpt-5".to_string(),
            ModelPrice {
                input_per_mtok: 1.0,
                output_per_mtok: 2.0,
                cache_read_per_mtok: None,
                cache_write_per_mtok: None,
            },
        )]);
        assert!(t.price("gpt-5").is_some());
        assert!(t.price("gpt-5-20250807").is_some());
        assert_eq!(t.price("gpt-5-mini"), None);
        assert_eq!(t.price("gpt-5.9"), None);
        assert_eq!(t.price("gpt-5-codex"), None);
        assert_eq!(t.price("gpt-"), None);
        assert_eq!(
            t.price("gpt-5-1"),
            None,
            "a short number is a version, not a snapshot"
        );
        assert_eq!(t.price("gpt-5-2025-8-7"), None);
        assert!(t.price("gpt-5-001").is_some());
        assert!(t.price("gpt-5-latest").is_some());
    }

    #[test]
    fn unknown_or_unnamed_model_has_no_cost_unless_no_tokens_were_used() {
        let t = PriceTable::shipped();
        assert_eq!(t.cost(&call("my-local-llama", 10, 1, 0, 0)), None);
        let unnamed = CallUsage {
            input_tokens: 10,
            ..CallUsage::default()
        };
        assert_eq!(t.cost(&unnamed), None);
        assert_eq!(t.cost(&call("my-local-llama", 0, 0, 0, 0)), Some(0.0));
    }

    #[test]
    fn overrides_replace_and_add_and_unset_cache_rates_fall_back_to_input() {
        let t = PriceTable::shipped()
            .try_with_overrides([(
                "My-Model".to_string(),
                ModelPrice {
                    input_per_mtok: 2.0,
                    output_per_mtok: 4.0,
                    cache_read_per_mtok: None,
                    cache_write_per_mtok: None,
                },
            )])
            .expect("valid");
        let cost = t.cost(&call(
            "my-model", 1_000_000, 1_000_000, 1_000_000, 1_000_000,
        ));
        assert!(close(cost.expect("priced"), 2.0 + 4.0 + 2.0 + 2.0));
    }

    #[test]
    fn bad_tables_say_what_to_write() {
        let negative = "models:\n  m: {inputPerMTok: -1, outputPerMTok: 2}\n";
        assert_eq!(
            PriceTable::parse(negative).map_err(|e| e.to_string()),
            Err("price table: model m: inputPerMTok is -1: a price is a non-negative number of USD per million tokens".to_string())
        );
        let typo = "models:\n  m: {input: 1, outputPerMTok: 2}\n";
        let err = PriceTable::parse(typo).expect_err("unknown field");
        assert!(err.to_string().contains("expected `models:"), "{err}");
    }
}
