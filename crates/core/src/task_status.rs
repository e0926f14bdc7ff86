//! The Task state machine, shared by both drivers: what a driver observed about a run becomes
//! the next `TaskStatus` (phase, times, message, outputs, usage, conditions). A finished Task
//! never changes phase again, so a late or repeated observation cannot undo a result.

use crate::results::ResultsDocument;
use axon_api::{
    Condition, DependencyState, TaskOutputs, TaskPhase, TaskStatus, TaskUsage, UsageSource,
};

/// What a driver observed about a Task's run. Short-lived values passed by reference, so the
/// size of `Finished` does not matter.
#[derive(Clone, Debug, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum RunObservation {
    /// Not running yet; `reason` says what it waits for.
    Waiting { reason: String },
    /// The start gate holds the Task ([`crate::start_gate`]): a `Waiting` condition says why.
    Gated {
        kind: crate::start_gate::WaitKind,
        message: String,
        dependencies: Vec<DependencyState>,
        at: String,
    },
    /// The start gate let the Task through: what it runs with, recorded before it starts.
    Admitted {
        /// The rendered prompt, when it differs from `spec.prompt`.
        prompt: Option<String>,
        /// The branch to work on (rendered when `spec.branch` is a template).
        branch: Option<String>,
        dependencies: Vec<DependencyState>,
        at: String,
    },
    /// The agent started.
    Started {
        at: String,
        /// Job (Kubernetes) or run id (local).
        job: String,
        /// Pod (Kubernetes) or sandbox process id (local).
        pod: String,
    },
    /// The run ended.
    Finished {
        at: String,
        /// The results document, when the runner wrote one.
        results: Option<ResultsDocument>,
        /// Exit code of the agent container or sandbox.
        exit_code: Option<i32>,
        /// Why the platform ended the run, when it did.
        cause: Option<EndCause>,
    },
    /// The run could not start: clone failed, a secret is missing, a reference is missing.
    SetupFailed { at: String, reason: String },
    /// Usage so far, as the gateway measured it while the agent runs (`get -w` shows spend).
    Spend { usage: crate::results::Usage },
}

/// Why a run was ended from outside the agent.
#[derive(Clone, Debug, PartialEq)]
pub enum EndCause {
    /// Exceeded `timeoutSeconds`.
    Timeout { seconds: i64 },
    /// Cancelled on request ([`crate::cancel`]); `by` says who asked (the request annotation's
    /// value, `axon cancel`). The Task ends `Cancelled`, not `Failed`.
    Cancelled { by: String },
    /// Killed for exceeding its memory limit.
    OomKilled,
    /// The image could not be pulled.
    ImagePull { image: String, reason: String },
    /// The engine running it disappeared and the run could not be re-adopted.
    Orphaned { detail: String },
    /// The runner inside the sandbox stayed stopped (SIGSTOP) and the run was killed.
    RunnerStopped { seconds: u64 },
    /// The Axon gateway refused a model call over the Task's `spec.budget`, and the run was
    /// stopped; `message` names the limit and the figure.
    BudgetExceeded { message: String },
    /// Anything else the platform reported.
    Other(String),
}

fn condition(
    type_: &str,
    status: bool,
    reason: &str,
    message: &str,
    at: &str,
    generation: Option<i64>,
) -> Condition {
    Condition {
        type_: type_.to_string(),
        status: if status { "True" } else { "False" }.to_string(),
        reason: reason.to_string(),
        message: message.to_string(),
        last_transition_time: Some(at.to_string()),
        observed_generation: generation,
    }
}

/// Put `c` into `conditions`, keeping the old transition time when the status did not change.
fn set_condition(conditions: &mut Vec<Condition>, mut c: Condition) {
    if let Some(old) = conditions.iter_mut().find(|o| o.type_ == c.type_) {
        if old.status == c.status {
            c.last_transition_time = old.last_transition_time.clone();
        }
        *old = c;
    } else {
        conditions.push(c);
    }
}

/// The status after `observation`. Pure: the same inputs give the same status.
pub fn next_status(
    current: &TaskStatus,
    observation: &RunObservation,
    generation: Option<i64>,
) -> TaskStatus {
    let mut s = current.clone();
    if s.phase.is_some_and(TaskPhase::is_finished) {
        return s;
    }
    s.observed_generation = generation.or(s.observed_generation);
    match observation {
        RunObservation::Waiting { reason } => {
            s.phase = Some(TaskPhase::Pending);
            s.message = Some(reason.clone());
        }
        RunObservation::Gated {
            kind,
            message,
            dependencies,
            at,
        } => {
            s.phase = Some(TaskPhase::Pending);
            s.message = Some(message.clone());
            s.dependencies = dependencies.clone();
            set_condition(
                &mut s.conditions,
                condition("Waiting", true, kind.reason(), message, at, generation),
            );
        }
        RunObservation::Admitted {
            prompt,
            branch,
            dependencies,
            at,
        } => {
            s.prompt = prompt.clone();
            s.branch = branch.clone();
            s.dependencies = dependencies.clone();
            if s.conditions.iter().any(|c| c.type_ == "Waiting") {
                set_condition(
                    &mut s.conditions,
                    condition("Waiting", false, "Admitted", "", at, generation),
                );
            }
        }
        RunObservation::Started { at, job, pod } => {
            s.phase = Some(TaskPhase::Running);
            s.job_name = Some(job.clone());
            s.pod_name = Some(pod.clone());
            s.start_time = s.start_time.or_else(|| Some(at.clone()));
            s.message = Some("agent running".to_string());
            set_condition(
                &mut s.conditions,
                condition("Running", true, "AgentStarted", "", at, generation),
            );
        }
        RunObservation::SetupFailed { at, reason } => {
            s.phase = Some(TaskPhase::Failed);
            s.completion_time = Some(at.clone());
            s.message = Some(reason.clone());
            set_condition(
                &mut s.conditions,
                condition("Running", false, "SetupFailed", reason, at, generation),
            );
            set_condition(
                &mut s.conditions,
                condition("Succeeded", false, "SetupFailed", reason, at, generation),
            );
        }
        RunObservation::Spend { usage } => {
            s.usage = Some(kept_usage(s.usage.as_ref(), task_usage(usage)));
        }
        RunObservation::Finished {
            at,
            results,
            exit_code,
            cause,
        } => {
            let (ok, reason, mut message) = verdict(results.as_ref(), *exit_code, cause.as_ref());
            let cancelled = matches!(cause, Some(EndCause::Cancelled { .. }));
            s.phase = Some(match (ok, cancelled) {
                (_, true) => TaskPhase::Cancelled,
                (true, false) => TaskPhase::Succeeded,
                (false, false) => TaskPhase::Failed,
            });
            if cancelled {
                // A Task cancelled before it started never ran: no start time.
                if let Some(saved) = results.as_ref().and_then(crate::cancel::saved_work) {
                    message = format!("{message}; {saved}");
                }
            } else {
                s.start_time = s.start_time.or_else(|| Some(at.clone()));
            }
            s.completion_time = Some(at.clone());
            s.message = Some(message.clone());
            if let Some(r) = results {
                s.outputs = Some(TaskOutputs {
                    branch: r.branch.clone(),
                    base_branch: r.base_branch.clone(),
                    commits: r.commits.clone(),
                    pushed: r.pushed,
                    pull_requests: r.pull_requests.clone(),
                    final_answer: r.final_answer.as_deref().map(capped_answer),
                });
                s.usage = match r.usage.as_ref().map(task_usage) {
                    Some(u) => Some(kept_usage(s.usage.as_ref(), u)),
                    None => s.usage.clone().filter(is_measured),
                };
            }
            set_condition(
                &mut s.conditions,
                condition("Running", false, reason, "", at, generation),
            );
            set_condition(
                &mut s.conditions,
                condition("Succeeded", ok, reason, &message, at, generation),
            );
        }
    }
    s
}

/// Whether `u` was measured by the gateway.
fn is_measured(u: &TaskUsage) -> bool {
    u.source == Some(UsageSource::Gateway)
}

/// The usage to keep when `new` arrives: figures the gateway measured are never replaced by
/// the agent's self-report (on Kubernetes the gateway writes `status.usage` while the agent
/// runs, and the agent's results document arrives at the end).
fn kept_usage(current: Option<&TaskUsage>, new: TaskUsage) -> TaskUsage {
    match current {
        Some(c) if is_measured(c) && !is_measured(&new) => c.clone(),
        _ => new,
    }
}

/// `status.usage` from the gateway's totals (`source: gateway`).
pub fn measured_usage(totals: &crate::usage::UsageTotals) -> TaskUsage {
    task_usage(&crate::results::Usage::measured(totals))
}

/// The gateway's totals recorded in `status.usage`, when the gateway measured them: what a
/// restarted gateway continues from, so a budget spans a restart. `None` for the agent's
/// figures. The cost is kept as recorded (absent stays absent).
pub fn recorded_totals(usage: &TaskUsage) -> Option<crate::usage::UsageTotals> {
    if !is_measured(usage) {
        return None;
    }
    let cached = usage.cache_read_tokens + usage.cache_write_tokens;
    Some(crate::usage::UsageTotals {
        input_tokens: usage.input_tokens.saturating_sub(cached),
        output_tokens: usage.output_tokens,
        cache_read_tokens: usage.cache_read_tokens,
        cache_write_tokens: usage.cache_write_tokens,
        requests: usage.requests,
        turns: usage.turns,
        cost_usd: usage.cost_usd,
        ..Default::default()
    })
}

fn task_usage(u: &crate::results::Usage) -> TaskUsage {
    TaskUsage {
        input_tokens: u.input_tokens,
        output_tokens: u.output_tokens,
        cost_usd: u.cost_usd,
        turns: u.turns,
        source: Some(u.source),
        cache_read_tokens: u.cache_read_tokens,
        cache_write_tokens: u.cache_write_tokens,
        requests: u.requests,
    }
}

/// Success, a CamelCase reason, and a message that says why.
pub fn verdict(
    results: Option<&ResultsDocument>,
    exit_code: Option<i32>,
    cause: Option<&EndCause>,
) -> (bool, &'static str, String) {
    if let Some(cause) = cause {
        return match cause {
            EndCause::Timeout { seconds } => (
                false,
                "Timeout",
                format!("timed out after {seconds}s (timeoutSeconds) and was killed"),
            ),
            EndCause::Cancelled { by } => (false, "Cancelled", crate::cancel::message(by)),
            EndCause::OomKilled => (
                false,
                "OOMKilled",
                "killed for exceeding its memory limit (OOMKilled)".to_string(),
            ),
            EndCause::ImagePull { image, reason } => (
                false,
                "ImagePullBackOff",
                format!("cannot pull image {image}: {reason}"),
            ),
            EndCause::Orphaned { detail } => (
                false,
                "Orphaned",
                format!("the run of this Task stopped: {detail}"),
            ),
            EndCause::RunnerStopped { seconds } => (
                false,
                "RunnerStopped",
                format!(
                    "the agent's runner was stopped (SIGSTOP) for {seconds}s, so the Task was killed: an agent must not stop the process that runs it"
                ),
            ),
            EndCause::BudgetExceeded { message } => (false, "BudgetExceeded", message.clone()),
            EndCause::Other(m) => (false, "Failed", m.clone()),
        };
    }
    match (results, exit_code) {
        (Some(r), code) if r.success && code.unwrap_or(0) == 0 => {
            let what = match (&r.branch, r.commits.len()) {
                (Some(b), n) if n > 0 => format!(
                    "agent succeeded: {n} commit(s) on {b}{}",
                    if r.pushed { ", pushed" } else { "" }
                ),
                _ => "agent succeeded".to_string(),
            };
            (true, "AgentSucceeded", what)
        }
        (Some(r), code) => {
            let why = r
                .failure_reason
                .clone()
                .unwrap_or_else(|| "the agent reported failure".to_string());
            let code = code.or(r.exit_code);
            (
                false,
                "AgentFailed",
                match code {
                    Some(c) if c != 0 => format!("agent failed (exit code {c}): {why}"),
                    _ => format!("agent failed: {why}"),
                },
            )
        }
        // A custom image that implements only the interface's exit code: success, no outputs.
        (None, Some(0)) => (
            true,
            "NoResults",
            "agent exited 0 (it wrote no results document, so there are no outputs or usage)"
                .to_string(),
        ),
        (None, Some(c)) => (
            false,
            "AgentFailed",
            format!("agent exited with code {c} and wrote no results document"),
        ),
        (None, None) => (
            false,
            "AgentFailed",
            "the agent ended without an exit code or results".to_string(),
        ),
    }
}

/// Most of a final answer kept in status (status is not a log: the log has all of it).
pub const FINAL_ANSWER_LIMIT: usize = 4000;

/// `answer` cut to [`FINAL_ANSWER_LIMIT`] bytes at a character boundary, marked when cut.
fn capped_answer(answer: &str) -> String {
    if answer.len() <= FINAL_ANSWER_LIMIT {
        return answer.to_string();
    }
    let mut end = FINAL_ANSWER_LIMIT;
    while !answer.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… (truncated)", &answer[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::Usage;

    fn run(observations: &[RunObservation]) -> TaskStatus {
        observations
            .iter()
            .fold(TaskStatus::default(), |s, o| next_status(&s, o, Some(1)))
    }

    fn started() -> RunObservation {
        RunObservation::Started {
            at: "2026-01-01T00:00:00Z".into(),
            job: "t".into(),
            pod: "t-1".into(),
        }
    }

    #[test]
    fn success_fills_outputs_and_usage() {
        let results = ResultsDocument {
            branch: Some("axon/t".into()),
            base_branch: Some("main".into()),
            commits: vec!["c".repeat(40)],
            pushed: true,
            usage: Some(Usage {
                input_tokens: 10,
                output_tokens: 3,
                cost_usd: Some(0.5),
                turns: 2,
                ..Default::default()
            }),
            success: true,
            exit_code: Some(0),
            ..Default::default()
        };
        let s = run(&[
            RunObservation::Waiting {
                reason: "waiting for a free slot (2 of 2 running)".into(),
            },
            started(),
            RunObservation::Finished {
                at: "2026-01-01T00:01:00Z".into(),
                results: Some(results),
                exit_code: Some(0),
                cause: None,
            },
        ]);
        insta::assert_yaml_snapshot!(s);
    }

    #[test]
    fn spend_shows_while_running_and_a_budget_stop_names_the_limit() {
        let spend = |turns| RunObservation::Spend {
            usage: Usage {
                input_tokens: 100 * turns,
                turns,
                requests: turns,
                source: crate::results::UsageSource::Gateway,
                ..Default::default()
            },
        };
        let running = run(&[started(), spend(1), spend(2)]);
        assert_eq!(running.phase, Some(TaskPhase::Running));
        assert_eq!(running.usage.as_ref().map(|u| u.turns), Some(2));
        let message = "Axon budget exceeded: maxTurns 2 reached (2 model requests)";
        let ended = next_status(
            &running,
            &RunObservation::Finished {
                at: "t".into(),
                results: None,
                exit_code: None,
                cause: Some(EndCause::BudgetExceeded {
                    message: message.into(),
                }),
            },
            Some(1),
        );
        assert_eq!(ended.phase, Some(TaskPhase::Failed));
        assert_eq!(ended.message.as_deref(), Some(message));
        assert!(
            ended
                .conditions
                .iter()
                .any(|c| c.type_ == "Succeeded" && c.reason == "BudgetExceeded")
        );
        // A late figure never changes a finished Task.
        assert_eq!(next_status(&ended, &spend(3), Some(1)), ended);
    }

    #[test]
    fn the_gateway_measure_is_kept_over_the_agent_report() {
        let gateway = TaskUsage {
            input_tokens: 150,
            output_tokens: 20,
            cache_read_tokens: 50,
            turns: 2,
            requests: 3,
            cost_usd: Some(0.5),
            source: Some(UsageSource::Gateway),
            ..Default::default()
        };
        let running = TaskStatus {
            phase: Some(TaskPhase::Running),
            usage: Some(gateway.clone()),
            ..Default::default()
        };
        let agent = Usage {
            input_tokens: 1,
            output_tokens: 1,
            turns: 9,
            source: crate::results::UsageSource::Agent,
            ..Default::default()
        };
        let finished = |usage: Option<Usage>| RunObservation::Finished {
            at: "t".into(),
            results: Some(ResultsDocument {
                success: true,
                usage,
                ..Default::default()
            }),
            exit_code: Some(0),
            cause: None,
        };
        let ended = next_status(&running, &finished(Some(agent.clone())), None);
        assert_eq!(ended.phase, Some(TaskPhase::Succeeded));
        assert_eq!(
            ended.usage.as_ref(),
            Some(&gateway),
            "the agent's figures lose"
        );
        let ended = next_status(&running, &finished(None), None);
        assert_eq!(
            ended.usage.as_ref(),
            Some(&gateway),
            "no report keeps the measure"
        );
        let spent = next_status(
            &running,
            &RunObservation::Spend {
                usage: agent.clone(),
            },
            None,
        );
        assert_eq!(spent.usage.as_ref(), Some(&gateway));
        // Measured figures replace measured figures; the agent's replace the agent's.
        let newer = Usage {
            turns: 3,
            source: crate::results::UsageSource::Gateway,
            ..Default::default()
        };
        let ended = next_status(&running, &finished(Some(newer)), None);
        assert_eq!(ended.usage.as_ref().map(|u| u.turns), Some(3));
        let self_reported = TaskStatus {
            usage: Some(task_usage(&agent)),
            ..running.clone()
        };
        let ended = next_status(&self_reported, &finished(None), None);
        assert_eq!(
            ended.usage, None,
            "an old self-report is not kept without results"
        );
        // The recorded totals round-trip to what the gateway continues from.
        let totals = recorded_totals(&gateway).expect("measured");
        assert_eq!(totals.input_tokens, 100);
        assert_eq!(measured_usage(&totals), gateway);
        assert!(recorded_totals(&task_usage(&agent)).is_none());
    }

    #[test]
    fn failures_say_why() {
        let failed =
            |results: Option<ResultsDocument>, code: Option<i32>, cause: Option<EndCause>| {
                run(&[
                    started(),
                    RunObservation::Finished {
                        at: "t".into(),
                        results,
                        exit_code: code,
                        cause,
                    },
                ])
                .message
                .unwrap_or_default()
            };
        assert_eq!(
            failed(None, None, Some(EndCause::Timeout { seconds: 5 })),
            "timed out after 5s (timeoutSeconds) and was killed"
        );
        assert_eq!(
            failed(None, Some(3), None),
            "agent exited with code 3 and wrote no results document"
        );
        let api_error = ResultsDocument {
            failure_reason: Some("model API error 529: overloaded".into()),
            ..Default::default()
        };
        assert_eq!(
            failed(Some(api_error), Some(1), None),
            "agent failed (exit code 1): model API error 529: overloaded"
        );
    }

    #[test]
    fn exit_zero_without_results_succeeds_without_outputs() {
        let s = run(&[
            started(),
            RunObservation::Finished {
                at: "t".into(),
                results: None,
                exit_code: Some(0),
                cause: None,
            },
        ]);
        assert_eq!(s.phase, Some(TaskPhase::Succeeded));
        assert!(s.outputs.is_none());
    }

    #[test]
    fn finished_is_final() {
        let done = run(&[
            started(),
            RunObservation::Finished {
                at: "t".into(),
                results: None,
                exit_code: None,
                cause: Some(EndCause::Cancelled {
                    by: "axon cancel".into(),
                }),
            },
        ]);
        assert_eq!(done.phase, Some(TaskPhase::Cancelled));
        let after = next_status(&done, &started(), Some(2));
        assert_eq!(after, done);
    }

    #[test]
    fn setup_failure_is_failed_with_reason() {
        let s = run(&[RunObservation::SetupFailed {
            at: "t".into(),
            reason: "secret \"key\" has no key ANTHROPIC_API_KEY".into(),
        }]);
        assert_eq!(s.phase, Some(TaskPhase::Failed));
        assert_eq!(
            s.message.as_deref(),
            Some("secret \"key\" has no key ANTHROPIC_API_KEY")
        );
    }
}
