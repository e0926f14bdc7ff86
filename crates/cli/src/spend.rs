//! A Task's spend (`status.usage`) in words, the same wherever the CLI shows it: the USAGE
//! cell of `axon get tasks` (and its `-w` rows, so running spend shows live), the line
//! `axon logs -f` prints when the spend changes, and the usage line `axon run --wait` ends with.
//!
//! Why a file of its own: three commands show the same figures, and they must agree on what
//! counts (tokens = input, cache included, plus output) and on never inventing a cost — a
//! usage without `costUSD` (a model the price table does not know) shows tokens only.

use axon_api::{TaskUsage, UsageSource};

/// What a table shows where a figure is not known.
pub const UNKNOWN: &str = "—";

/// `n turn` / `n turns`.
fn plural(n: u64, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// A token count in a few characters: `950`, `12.3k`, `4.56M`.
pub fn compact_tokens(n: u64) -> String {
    match n {
        0..=9_999 => n.to_string(),
        10_000..=999_999 => format!("{:.1}k", n as f64 / 1_000.0),
        _ => format!("{:.2}M", n as f64 / 1_000_000.0),
    }
}

/// A cost in USD: four decimals below a dollar (model calls are cheap), two above.
pub fn dollars(cost: f64) -> String {
    if cost < 1.0 {
        format!("${cost:.4}")
    } else {
        format!("${cost:.2}")
    }
}

/// The USAGE cell of a Task row: `3.9k tok $0.0131`, tokens only when the cost is not known,
/// [`UNKNOWN`] without usage.
pub fn usage_cell(usage: Option<&TaskUsage>) -> String {
    let Some(u) = usage else {
        return UNKNOWN.to_string();
    };
    let tokens = format!(
        "{} tok",
        compact_tokens(u.input_tokens.saturating_add(u.output_tokens))
    );
    match u.cost_usd {
        Some(cost) => format!("{tokens} {}", dollars(cost)),
        None => tokens,
    }
}

/// The figures, in one phrase: `3 turns, 3702 in / 168 out tokens (cache: 2048 read, 512
/// written), $0.0131`; cache tokens only when there are some, the cost only when known.
pub fn figures(u: &TaskUsage) -> String {
    let mut s = format!(
        "{}, {} in / {} out tokens",
        plural(u.turns, "turn"),
        u.input_tokens,
        u.output_tokens
    );
    let cache: Vec<String> = [
        (u.cache_read_tokens, "read"),
        (u.cache_write_tokens, "written"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    if !cache.is_empty() {
        s.push_str(&format!(" (cache: {})", cache.join(", ")));
    }
    if let Some(cost) = u.cost_usd {
        s.push_str(&format!(", {}", dollars(cost)));
    }
    s
}

/// The line `axon logs -f` prints when the Task's spend changes; none while nothing is spent
/// (a run that made no model request yet has a measured usage of zero).
pub fn spend_line(u: &TaskUsage) -> Option<String> {
    let spent = u.turns > 0 || u.requests > 0 || u.input_tokens > 0 || u.output_tokens > 0;
    spent.then(|| format!("axon: spend {}", figures(u)))
}

/// The usage line `axon run --wait` ends with, saying who measured the figures.
pub fn summary_line(u: &TaskUsage) -> String {
    match u.source.unwrap_or_default() {
        UsageSource::Gateway => format!(
            "usage (measured by the Axon gateway): {}, {}{}",
            plural(u.requests, "model request"),
            figures(u),
            if u.cost_usd.is_none() {
                ", cost unknown (the model is not in the price table)"
            } else {
                ""
            }
        ),
        UsageSource::Agent => format!("usage (reported by the agent): {}", figures(u)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(input: u64, output: u64, cost: Option<f64>) -> TaskUsage {
        TaskUsage {
            input_tokens: input,
            output_tokens: output,
            cost_usd: cost,
            turns: 3,
            requests: 4,
            source: Some(UsageSource::Gateway),
            ..TaskUsage::default()
        }
    }

    #[test]
    fn cells_are_short_and_never_invent_a_cost() {
        assert_eq!(usage_cell(None), "—");
        assert_eq!(
            usage_cell(Some(&usage(3702, 168, Some(0.0131)))),
            "3870 tok $0.0131"
        );
        assert_eq!(usage_cell(Some(&usage(3702, 168, None))), "3870 tok");
        assert_eq!(
            usage_cell(Some(&usage(120_000, 3_400, Some(12.5)))),
            "123.4k tok $12.50"
        );
        assert_eq!(
            usage_cell(Some(&usage(4_560_000, 0, Some(0.0)))),
            "4.56M tok $0.0000"
        );
    }

    #[test]
    fn lines_show_cache_tokens_and_who_measured() {
        let mut u = usage(3702, 168, Some(0.0131));
        assert_eq!(
            spend_line(&u).as_deref(),
            Some("axon: spend 3 turns, 3702 in / 168 out tokens, $0.0131")
        );
        u.cache_read_tokens = 2048;
        u.cache_write_tokens = 512;
        u.turns = 1;
        assert_eq!(
            spend_line(&u).as_deref(),
            Some(
                "axon: spend 1 turn, 3702 in / 168 out tokens (cache: 2048 read, 512 written), $0.0131"
            )
        );
        let nothing = TaskUsage {
            source: Some(UsageSource::Gateway),
            cost_usd: Some(0.0),
            ..TaskUsage::default()
        };
        assert_eq!(spend_line(&nothing), None);
        assert_eq!(
            summary_line(&u),
            "usage (measured by the Axon gateway): 4 model requests, 1 turn, 3702 in / 168 out tokens (cache: 2048 read, 512 written), $0.0131"
        );
        u.cost_usd = None;
        u.cache_write_tokens = 0;
        assert_eq!(
            summary_line(&u),
            "usage (measured by the Axon gateway): 4 model requests, 1 turn, 3702 in / 168 out tokens (cache: 2048 read), cost unknown (the model is not in the price table)"
        );
        u.source = Some(UsageSource::Agent);
        u.cost_usd = Some(0.5);
        assert_eq!(
            summary_line(&u),
            "usage (reported by the agent): 1 turn, 3702 in / 168 out tokens (cache: 2048 read), $0.5000"
        );
    }
}
