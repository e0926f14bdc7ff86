//! Model prices as users write them: the `pricing` list of a Task (and a TaskSpawner's
//! `taskTemplate`) and of the config file, overriding the shipped price table per model.
//!
//! Why a module of its own: the gateway turns measured tokens into `costUSD` with these figures
//! and budgets stop runs on that cost, so a negative price, a figure that is not a number or
//! two entries for one model (which one wins?) must be refused where the list is written, with
//! the same rules in a Task, a template and the config file.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The most `pricing` entries.
pub const MAX_PRICES: usize = 256;

/// The price of one model, in US dollars per million tokens.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelPrice {
    /// The model name as the provider's API reports it (`claude-sonnet-4-5`, `gpt-5`, ...).
    #[schemars(length(min = 1, max = 256))]
    pub model: String,
    /// USD per million input tokens (not read from or written to the cache).
    #[serde(rename = "inputPerMTok")]
    #[schemars(range(min = 0))]
    pub input_per_mtok: f64,
    /// USD per million output tokens.
    #[serde(rename = "outputPerMTok")]
    #[schemars(range(min = 0))]
    pub output_per_mtok: f64,
    /// USD per million input tokens read from the prompt cache; unset: the input price.
    #[serde(
        default,
        rename = "cacheReadPerMTok",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(range(min = 0))]
    pub cache_read_per_mtok: Option<f64>,
    /// USD per million input tokens written to the prompt cache; unset: the input price.
    #[serde(
        default,
        rename = "cacheWritePerMTok",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(range(min = 0))]
    pub cache_write_per_mtok: Option<f64>,
}

fn check_price(usd: f64) -> Result<(), String> {
    if !usd.is_finite() || usd < 0.0 {
        return Err(format!(
            "must be 0 or more US dollars per million tokens, got {usd}"
        ));
    }
    Ok(())
}

/// Every broken rule of a `pricing` list: (field under `pricing`, reason).
pub fn pricing_violations(prices: &[ModelPrice]) -> Vec<(String, String)> {
    if prices.len() > MAX_PRICES {
        return vec![(
            String::new(),
            format!("has {} entries: at most {MAX_PRICES} models", prices.len()),
        )];
    }
    let mut out = Vec::new();
    for (i, p) in prices.iter().enumerate() {
        if p.model.trim().is_empty() {
            out.push((
                format!("[{i}].model"),
                "is empty: name the model as its provider's API reports it (for example claude-sonnet-4-5)".into(),
            ));
        } else if let Some(first) = prices[..i].iter().position(|q| q.model == p.model) {
            out.push((
                format!("[{i}].model"),
                format!(
                    "{:?} is priced twice (also in entry {first}): keep one entry per model",
                    p.model
                ),
            ));
        }
        for (field, v) in [
            ("inputPerMTok", Some(p.input_per_mtok)),
            ("outputPerMTok", Some(p.output_per_mtok)),
            ("cacheReadPerMTok", p.cache_read_per_mtok),
            ("cacheWritePerMTok", p.cache_write_per_mtok),
        ] {
            if let Some(v) = v
                && let Err(r) = check_price(v)
            {
                out.push((format!("[{i}].{field}"), r));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(model: &str, input: f64, output: f64) -> ModelPrice {
        ModelPrice {
            model: model.into(),
            input_per_mtok: input,
            output_per_mtok: output,
            cache_read_per_mtok: None,
            cache_write_per_mtok: None,
        }
    }

    #[test]
    fn negatives_blanks_and_duplicates_are_refused() {
        let mut cached = price("b", 1.0, 2.0);
        cached.cache_read_per_mtok = Some(-0.1);
        cached.cache_write_per_mtok = Some(f64::NAN);
        let list = [
            price("a", 3.0, 15.0),
            price("", 1.0, 1.0),
            price("a", -1.0, 0.0),
            cached,
        ];
        let lines: Vec<String> = pricing_violations(&list)
            .into_iter()
            .map(|(f, r)| format!("pricing{f}: {r}"))
            .collect();
        insta::assert_snapshot!(lines.join("\n"));
        assert!(pricing_violations(&[price("free", 0.0, 0.0), price("x", 3.0, 15.0)]).is_empty());
    }
}
