//! The controller's Prometheus metrics, rendered as text exposition format: Tasks by phase,
//! reconciles, reconcile errors and durations per controller, tokens and cost of finished Tasks
//! by TaskSpawner and model (the spend a team watches; per Task it is in `status.usage`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Histogram buckets (seconds) of reconcile durations.
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Default)]
struct Inner {
    reconciles: BTreeMap<String, u64>,
    errors: BTreeMap<String, u64>,
    durations: BTreeMap<String, Histogram>,
    spend: BTreeMap<(String, String), Spent>,
    finished: BTreeMap<String, u64>,
}

#[derive(Default)]
struct Spent {
    input_tokens: u64,
    output_tokens: u64,
    cost_usd: f64,
}

/// What a finished Task spent, and whose it was.
#[derive(Clone, Debug, Default)]
pub struct TaskSpend<'a> {
    /// The TaskSpawner that created it (`None`: created directly).
    pub spawner: Option<&'a str>,
    /// `spec.model` (`None`: the agent's default).
    pub model: Option<&'a str>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: Option<f64>,
}

/// A Prometheus label value: backslash, quote and newline escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Counters shared by the controllers and the metrics endpoint.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        let mut guard = match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }

    /// Record one reconcile of `controller` (`task`, `taskspawner`) that took `took`.
    pub fn reconciled(&self, controller: &str, took: Duration, failed: bool) {
        let secs = took.as_secs_f64();
        self.with(|m| {
            *m.reconciles.entry(controller.to_string()).or_default() += 1;
            if failed {
                *m.errors.entry(controller.to_string()).or_default() += 1;
            }
            let h = m.durations.entry(controller.to_string()).or_default();
            for (i, b) in BUCKETS.iter().enumerate() {
                if secs <= *b {
                    h.counts[i] += 1;
                }
            }
            h.sum += secs;
            h.count += 1;
        });
    }

    /// Record a Task that just finished (once per Task, at its transition).
    pub fn task_finished(&self, phase: &str, spend: &TaskSpend<'_>) {
        self.with(|m| {
            *m.finished.entry(phase.to_string()).or_default() += 1;
            let key = (
                spend.spawner.unwrap_or_default().to_string(),
                spend.model.unwrap_or_default().to_string(),
            );
            let s = m.spend.entry(key).or_default();
            s.input_tokens += spend.input_tokens;
            s.output_tokens += spend.output_tokens;
            s.cost_usd += spend.cost_usd.unwrap_or(0.0);
        });
    }

    /// Reconcile errors so far (all controllers).
    pub fn error_count(&self) -> u64 {
        self.with(|m| m.errors.values().sum())
    }

    /// Reconciles so far (all controllers).
    pub fn reconcile_count(&self) -> u64 {
        self.with(|m| m.reconciles.values().sum())
    }

    /// The exposition text; `tasks_by_phase` comes from the controller's cache.
    pub fn render(&self, tasks_by_phase: &BTreeMap<String, u64>) -> String {
        let mut o = String::new();
        let _ = writeln!(
            o,
            "# HELP axon_tasks Tasks by phase, as the controller sees them."
        );
        let _ = writeln!(o, "# TYPE axon_tasks gauge");
        for phase in ["Pending", "Running", "Succeeded", "Failed", "Cancelled"] {
            let n = tasks_by_phase.get(phase).copied().unwrap_or(0);
            let _ = writeln!(o, "axon_tasks{{phase=\"{phase}\"}} {n}");
        }
        self.with(|m| {
            let _ = writeln!(o, "# HELP axon_tasks_finished_total Tasks that finished, by phase.");
            let _ = writeln!(o, "# TYPE axon_tasks_finished_total counter");
            for phase in ["Succeeded", "Failed", "Cancelled"] {
                let n = m.finished.get(phase).copied().unwrap_or(0);
                let _ = writeln!(o, "axon_tasks_finished_total{{phase=\"{phase}\"}} {n}");
            }
            let _ = writeln!(o, "# HELP axon_reconciles_total Reconciles, by controller.");
            let _ = writeln!(o, "# TYPE axon_reconciles_total counter");
            for (c, n) in &m.reconciles {
                let _ = writeln!(o, "axon_reconciles_total{{controller=\"{c}\"}} {n}");
            }
            let _ = writeln!(o, "# HELP axon_reconcile_errors_total Failed reconciles, by controller.");
            let _ = writeln!(o, "# TYPE axon_reconcile_errors_total counter");
            for c in m.reconciles.keys() {
                let n = m.errors.get(c).copied().unwrap_or(0);
                let _ = writeln!(o, "axon_reconcile_errors_total{{controller=\"{c}\"}} {n}");
            }
            let _ = writeln!(o, "# HELP axon_reconcile_duration_seconds Reconcile durations, by controller.");
            let _ = writeln!(o, "# TYPE axon_reconcile_duration_seconds histogram");
            for (c, h) in &m.durations {
                for (i, b) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(
                        o,
                        "axon_reconcile_duration_seconds_bucket{{controller=\"{c}\",le=\"{b}\"}} {}",
                        h.counts[i]
                    );
                }
                let _ = writeln!(o, "axon_reconcile_duration_seconds_bucket{{controller=\"{c}\",le=\"+Inf\"}} {}", h.count);
                let _ = writeln!(o, "axon_reconcile_duration_seconds_sum{{controller=\"{c}\"}} {}", h.sum);
                let _ = writeln!(o, "axon_reconcile_duration_seconds_count{{controller=\"{c}\"}} {}", h.count);
            }
            let _ = writeln!(o, "# HELP axon_tokens_total Model tokens used by finished Tasks, by TaskSpawner (empty: none) and model (empty: the agent's default).");
            let _ = writeln!(o, "# TYPE axon_tokens_total counter");
            for ((spawner, model), s) in &m.spend {
                let labels = format!("spawner=\"{}\",model=\"{}\"", label(spawner), label(model));
                let _ = writeln!(o, "axon_tokens_total{{direction=\"input\",{labels}}} {}", s.input_tokens);
                let _ = writeln!(o, "axon_tokens_total{{direction=\"output\",{labels}}} {}", s.output_tokens);
            }
            let _ = writeln!(o, "# HELP axon_cost_usd_total Cost in USD of finished Tasks (as the gateway priced it), by TaskSpawner and model.");
            let _ = writeln!(o, "# TYPE axon_cost_usd_total counter");
            for ((spawner, model), s) in &m.spend {
                let labels = format!("spawner=\"{}\",model=\"{}\"", label(spawner), label(model));
                let _ = writeln!(o, "axon_cost_usd_total{{{labels}}} {}", s.cost_usd);
            }
        });
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.reconciled("task", Duration::from_millis(20), false);
        m.reconciled("task", Duration::from_millis(200), true);
        m.task_finished(
            "Succeeded",
            &TaskSpend {
                spawner: Some("triage"),
                model: Some("claude-sonnet-4-5"),
                input_tokens: 10,
                output_tokens: 3,
                cost_usd: Some(0.25),
            },
        );
        m.task_finished(
            "Failed",
            &TaskSpend {
                model: Some("odd\"name"),
                input_tokens: 1,
                ..TaskSpend::default()
            },
        );
        let text = m.render(&BTreeMap::from([("Running".to_string(), 2)]));
        for line in [
            "axon_tasks{phase=\"Running\"} 2",
            "axon_tasks{phase=\"Failed\"} 0",
            "axon_reconciles_total{controller=\"task\"} 2",
            "axon_reconcile_errors_total{controller=\"task\"} 1",
            "axon_reconcile_duration_seconds_bucket{controller=\"task\",le=\"0.025\"} 1",
            "axon_reconcile_duration_seconds_count{controller=\"task\"} 2",
            "axon_tokens_total{direction=\"input\",spawner=\"triage\",model=\"claude-sonnet-4-5\"} 10",
            "axon_tokens_total{direction=\"output\",spawner=\"triage\",model=\"claude-sonnet-4-5\"} 3",
            "axon_cost_usd_total{spawner=\"triage\",model=\"claude-sonnet-4-5\"} 0.25",
            "axon_tokens_total{direction=\"input\",spawner=\"\",model=\"odd\\\"name\"} 1",
            "axon_cost_usd_total{spawner=\"\",model=\"odd\\\"name\"} 0",
            "axon_tasks_finished_total{phase=\"Succeeded\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
        }
    }
}
