//! The start gate: whether a Pending Task may start now, must wait (and why), or fails before
//! it ran — decided once, here, for both backends. The local engine and the Kubernetes
//! reconciler observe the same facts (the Tasks of the namespace, which references are
//! missing, the time) and act on the same answer, so one YAML behaves the same everywhere.
//!
//! The rules, in the order they apply:
//! 1. **Dependencies** (`spec.dependsOn`): wait while one is Pending, Running or not created
//!    yet; fail at once when one failed, was cancelled (`dependency X was cancelled`), or was
//!    deleted before it finished.
//! 2. **References**: a missing Workspace, AgentConfig or Secret is waited for during
//!    [`REFERENCE_GRACE`] (it may be applied right after the Task), counted from when the Task
//!    was created or its last dependency finished, whichever is later; then the Task fails.
//! 3. **Render**: with dependencies, `prompt` and `branch` are templates over their results
//!    ([`crate::deps_template`]); a render error, an empty prompt or an invalid branch fails.
//! 4. **Branch**: two Tasks on the same repository and branch never run at once. The one that
//!    goes first is the one already running, else the oldest whose dependencies succeeded
//!    (creation time, then name), so two drivers looking at once agree without a lock.
//! 5. **TaskSpawner budget**: a Task its spawner made waits while a window of the spawner's
//!    `budget` is full ([`crate::spawner_budget`], with the facts of
//!    [`crate::spawner_window`]), queued and never dropped; the decision says when to look
//!    again. A Task already running is never stopped by it (its own `spec.budget` does that).
//!
//! Concurrency limits are not the gate's business: the local scheduler applies its limit to
//! the Tasks the gate lets through.

use crate::deps_template::{deps_data, render};
use crate::spawner_budget::{Room, window_room};
use crate::spawner_window::SpawnerWindow;
use crate::task_status::RunObservation;
use axon_api::{DependencyState, Task, TaskPhase, TaskSpec, TaskStatus};
use jiff::Timestamp;
use std::time::Duration;

/// How long a missing Workspace, AgentConfig or Secret is waited for.
pub const REFERENCE_GRACE: Duration = Duration::from_secs(30);

/// What the gate knows about one Task of the namespace.
#[derive(Clone, Debug)]
pub struct TaskFacts<'a> {
    pub name: &'a str,
    pub created: Timestamp,
    pub spec: &'a TaskSpec,
    pub status: &'a TaskStatus,
    /// A run of it exists (local: a supervisor holds it; Kubernetes: its Job exists), whatever
    /// its phase says yet.
    pub active: bool,
    /// Its Workspace's repository, when it has a Workspace that exists.
    pub repo: Option<&'a str>,
}

/// The status of a Task that has none yet.
static NO_STATUS: std::sync::LazyLock<TaskStatus> = std::sync::LazyLock::new(TaskStatus::default);

impl<'a> TaskFacts<'a> {
    /// The facts of `task` as a driver observed them: whether a run of it exists and its
    /// Workspace's repository (when that Workspace exists); `now` stands in for a missing
    /// creation time.
    pub fn of(task: &'a Task, active: bool, repo: Option<&'a str>, now: Timestamp) -> Self {
        TaskFacts {
            name: task.metadata.name.as_deref().unwrap_or_default(),
            created: task
                .metadata
                .creation_timestamp
                .as_ref()
                .map_or(now, |t| t.0),
            spec: &task.spec,
            status: task.status.as_ref().unwrap_or(&NO_STATUS),
            active,
            repo,
        }
    }
}

impl TaskFacts<'_> {
    fn phase(&self) -> TaskPhase {
        self.status.phase.unwrap_or(TaskPhase::Pending)
    }

    /// The order in which Tasks contending for a branch go.
    fn queue_key(&self) -> (Timestamp, &str) {
        (self.created, self.name)
    }
}

/// Why a Task waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitKind {
    /// A dependency has not succeeded yet.
    Dependencies,
    /// A Workspace, AgentConfig or Secret does not exist (yet).
    Reference,
    /// Another Task works on the same repository and branch.
    Branch,
    /// A window of its TaskSpawner's budget is full.
    SpawnerBudget,
}

impl WaitKind {
    /// The `Waiting` condition's reason.
    pub fn reason(self) -> &'static str {
        match self {
            WaitKind::Dependencies => "DependenciesNotReady",
            WaitKind::Reference => "ReferenceMissing",
            WaitKind::Branch => "BranchInUse",
            WaitKind::SpawnerBudget => "SpawnerBudgetReached",
        }
    }
}

/// What the Task runs with, once rendered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartPlan {
    /// The prompt to run (rendered when the Task has dependencies).
    pub prompt: String,
    /// Whether `prompt` differs from `spec.prompt` (status then shows it).
    pub prompt_rendered: bool,
    /// The branch to work on, rendered.
    pub branch: Option<String>,
}

/// The gate's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Gate {
    Start(StartPlan),
    Wait { kind: WaitKind, message: String },
    Fail(String),
}

/// The answer, and the dependencies as seen (for `status.dependencies`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GateDecision {
    pub gate: Gate,
    pub dependencies: Vec<DependencyState>,
    /// When the answer changes by time alone, if it does (a full spawner window opening): the
    /// driver looks again then at the latest.
    pub recheck_at: Option<Timestamp>,
}

impl GateDecision {
    /// What a driver records for this decision at `at`: the Task is admitted with what it runs
    /// (`Admitted`), held (`Gated`), or failed before it ran (`SetupFailed`).
    pub fn observation(&self, at: &str) -> RunObservation {
        let dependencies = self.dependencies.clone();
        let at = at.to_string();
        match &self.gate {
            Gate::Start(plan) => RunObservation::Admitted {
                prompt: plan.prompt_rendered.then(|| plan.prompt.clone()),
                branch: plan.branch.clone(),
                dependencies,
                at,
            },
            Gate::Wait { kind, message } => RunObservation::Gated {
                kind: *kind,
                message: message.clone(),
                dependencies,
                at,
            },
            Gate::Fail(reason) => RunObservation::SetupFailed {
                at,
                reason: reason.clone(),
            },
        }
    }
}

/// Decide for `task`, looking at every Task of its namespace (`tasks` may include it), the
/// references found missing (in words: `Workspace "ws"`), its spawner's budget and spending
/// (`None`: no spawner budget to check), at `now`.
pub fn gate(
    task: &TaskFacts<'_>,
    tasks: &[TaskFacts<'_>],
    missing: &[String],
    window: Option<&SpawnerWindow>,
    now: Timestamp,
) -> GateDecision {
    if !task.spec.depends_on.is_empty() {
        let graph: crate::deps::Graph = tasks
            .iter()
            .chain(std::iter::once(task))
            .map(|t| (t.name.to_string(), t.spec.depends_on.clone()))
            .collect();
        if let Some(cycle) = crate::deps::cycle_through(&graph, task.name) {
            return GateDecision {
                gate: Gate::Fail(format!(
                    "dependency cycle {}: these Tasks would wait for each other forever",
                    crate::deps::describe_cycle(&cycle)
                )),
                dependencies: Vec::new(),
                recheck_at: None,
            };
        }
    }
    let find = |name: &str| tasks.iter().find(|t| t.name == name);
    let recorded = |name: &str| {
        task.status
            .dependencies
            .iter()
            .find(|d| d.name == name)
            .and_then(|d| d.phase)
    };
    let mut dependencies = Vec::new();
    let mut waiting_for = Vec::new();
    let mut failure = None;
    let mut last_finished = task.created;
    for name in &task.spec.depends_on {
        let seen = find(name);
        let phase = seen.map(TaskFacts::phase).or_else(|| recorded(name));
        dependencies.push(DependencyState {
            name: name.clone(),
            phase,
        });
        match (seen, phase) {
            (Some(dep), Some(TaskPhase::Succeeded)) => {
                if let Some(done) = finished_at(dep.status) {
                    last_finished = last_finished.max(done);
                }
            }
            (None, Some(TaskPhase::Succeeded)) => {}
            (Some(dep), Some(TaskPhase::Failed)) => {
                failure.get_or_insert_with(|| {
                    format!(
                        "dependency {name} failed: {}",
                        dep.status
                            .message
                            .as_deref()
                            .unwrap_or("no reason recorded")
                    )
                });
            }
            (_, Some(TaskPhase::Cancelled)) => {
                failure.get_or_insert_with(|| crate::cancel::dependency_message(name));
            }
            (None, Some(p)) => {
                failure.get_or_insert_with(|| {
                    format!("dependency {name} was deleted before it finished (it was {p})")
                });
            }
            (Some(_), Some(p)) => waiting_for.push(format!("{name} ({p})")),
            (_, None) => waiting_for.push(format!("{name} (not created yet)")),
        }
    }
    let decide = |gate| GateDecision {
        gate,
        dependencies: dependencies.clone(),
        recheck_at: None,
    };
    if let Some(reason) = failure {
        return decide(Gate::Fail(reason));
    }
    if !waiting_for.is_empty() {
        return decide(Gate::Wait {
            kind: WaitKind::Dependencies,
            message: format!("waiting for dependencies: {}", waiting_for.join(", ")),
        });
    }

    if !missing.is_empty() {
        let what = format!("{} not found", missing.join(", "));
        let waited = last_finished.duration_until(now).as_secs().max(0) as u64;
        return decide(if waited < REFERENCE_GRACE.as_secs() {
            Gate::Wait {
                kind: WaitKind::Reference,
                message: format!(
                    "{what} (waiting up to {}s for it to be created)",
                    REFERENCE_GRACE.as_secs()
                ),
            }
        } else {
            Gate::Fail(format!(
                "{what} after waiting {}s: create it, then delete and apply the Task again",
                REFERENCE_GRACE.as_secs()
            ))
        });
    }

    let plan = match plan_for(task, tasks) {
        Ok(plan) => plan,
        Err(reason) => return decide(Gate::Fail(reason)),
    };

    if let (Some(repo), Some(branch)) = (task.repo, plan.branch.as_deref())
        && let Some(holder) = tasks.iter().find(|other| {
            other.name != task.name
                && goes_before(other, task, tasks)
                && lane_of(other, tasks).is_some_and(|(r, b)| same_repo(r, repo) && b == branch)
        })
    {
        return decide(Gate::Wait {
            kind: WaitKind::Branch,
            message: format!(
                "waiting for Task {}, which works on branch {branch} of {repo}",
                holder.name
            ),
        });
    }

    if let Some(w) = window
        && let Room::Full { message, until } = window_room(&w.budget, &w.spent, now)
    {
        return GateDecision {
            recheck_at: Some(until),
            ..decide(Gate::Wait {
                kind: WaitKind::SpawnerBudget,
                message: format!("TaskSpawner {} {message}", w.spawner),
            })
        };
    }
    decide(Gate::Start(plan))
}

/// Whether `other` holds (or is first in line for) a branch before `task`: it runs, or it is
/// older and its dependencies succeeded (one still waiting for them holds nothing, so a chain
/// on one branch cannot deadlock).
fn goes_before(other: &TaskFacts<'_>, task: &TaskFacts<'_>, tasks: &[TaskFacts<'_>]) -> bool {
    match other.phase() {
        TaskPhase::Succeeded | TaskPhase::Failed | TaskPhase::Cancelled => false,
        TaskPhase::Running => true,
        TaskPhase::Pending if other.active => true,
        TaskPhase::Pending => {
            other.queue_key() < task.queue_key() && dependencies_succeeded(other, tasks)
        }
    }
}

fn dependencies_succeeded(t: &TaskFacts<'_>, tasks: &[TaskFacts<'_>]) -> bool {
    t.spec.depends_on.iter().all(|d| {
        tasks
            .iter()
            .any(|o| o.name == d && o.phase() == TaskPhase::Succeeded)
    })
}

/// The repository and branch a Task works on, as far as known now: a Task whose branch is
/// a template knows it once its dependencies succeeded.
fn lane_of<'a>(t: &'a TaskFacts<'_>, tasks: &[TaskFacts<'_>]) -> Option<(&'a str, String)> {
    let repo = t.repo?;
    if let Some(b) = &t.status.branch {
        return Some((repo, b.clone()));
    }
    let spec_branch = t.spec.branch.as_deref()?;
    if !is_template(spec_branch) {
        return Some((repo, spec_branch.to_string()));
    }
    if t.phase() != TaskPhase::Pending || t.active || !dependencies_succeeded(t, tasks) {
        return None;
    }
    plan_for(t, tasks).ok()?.branch.map(|b| (repo, b))
}

fn is_template(s: &str) -> bool {
    s.contains("{{")
}

/// The same repository, ignoring a trailing `/` or `.git`.
fn same_repo(a: &str, b: &str) -> bool {
    fn norm(s: &str) -> &str {
        let s = s.trim_end_matches('/');
        s.strip_suffix(".git").unwrap_or(s)
    }
    norm(a) == norm(b)
}

fn finished_at(status: &TaskStatus) -> Option<Timestamp> {
    status.completion_time.as_deref()?.parse().ok()
}

/// Render the prompt and branch of a Task whose dependencies succeeded.
fn plan_for(task: &TaskFacts<'_>, tasks: &[TaskFacts<'_>]) -> Result<StartPlan, String> {
    let spec = task.spec;
    let has_deps = !spec.depends_on.is_empty();
    let branch_is_template = spec.branch.as_deref().is_some_and(is_template);
    if !has_deps && !branch_is_template {
        return Ok(StartPlan {
            prompt: spec.prompt.clone(),
            prompt_rendered: false,
            branch: spec.branch.clone(),
        });
    }
    let present: Vec<(&str, &TaskStatus)> = spec
        .depends_on
        .iter()
        .filter_map(|d| tasks.iter().find(|t| t.name == d))
        .map(|t| (t.name, t.status))
        .collect();
    let gone: Vec<&str> = spec
        .depends_on
        .iter()
        .filter(|d| !present.iter().any(|(n, _)| n == d))
        .map(String::as_str)
        .collect();
    let data = deps_data(present);
    let explain = |e: crate::deps_template::DepsTemplateError| {
        if gone.is_empty() {
            e.to_string()
        } else {
            format!(
                "{e} (the results of {} are gone: deleted after it succeeded)",
                gone.join(", ")
            )
        }
    };
    let prompt = if has_deps {
        render("prompt", &spec.prompt, &data).map_err(explain)?
    } else {
        spec.prompt.clone()
    };
    axon_api::rules::check_prompt(&prompt)
        .map_err(|why| format!("spec.prompt as rendered {why}"))?;
    let branch = match spec.branch.as_deref() {
        Some(b) if is_template(b) => {
            let rendered = render("branch", b, &data).map_err(explain)?;
            axon_api::rules::check_git_ref(&rendered)
                .and_then(|()| axon_api::rules::check_branch(&rendered))
                .map_err(|why| format!("spec.branch as rendered: {why}"))?;
            Some(rendered)
        }
        other => other.map(str::to_string),
    };
    Ok(StartPlan {
        prompt_rendered: prompt != spec.prompt,
        prompt,
        branch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axon_api::{AgentType, CredentialType, Credentials, SecretReference, TaskOutputs};

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + s).expect("time")
    }

    fn spec(prompt: &str, deps: &[&str], branch: Option<&str>) -> TaskSpec {
        TaskSpec {
            type_: AgentType::Codex,
            prompt: prompt.into(),
            credentials: Credentials {
                type_: CredentialType::ApiKey,
                secret_ref: SecretReference { name: "k".into() },
            },
            model: None,
            image: None,
            workspace_ref: None,
            agent_config_refs: Vec::new(),
            agent_config_ref: None,
            ttl_seconds_after_finished: None,
            timeout_seconds: None,
            backoff_limit: None,
            model_base_url: None,
            env: vec![],
            depends_on: deps.iter().map(|s| s.to_string()).collect(),
            branch: branch.map(str::to_string),
            budget: None,
            network: None,
            policy: None,
            pricing: vec![],
        }
    }

    fn status(phase: TaskPhase, branch: Option<&str>, message: &str) -> TaskStatus {
        TaskStatus {
            phase: Some(phase),
            message: (!message.is_empty()).then(|| message.to_string()),
            completion_time: phase.is_finished().then(|| at(5).to_string()),
            outputs: branch.map(|b| TaskOutputs {
                branch: Some(b.into()),
                pull_requests: vec!["https://example.test/pr/7".into()],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    struct World {
        specs: Vec<(String, i64, TaskSpec, TaskStatus, bool, Option<String>)>,
    }

    impl World {
        fn new() -> World {
            World { specs: vec![] }
        }
        fn add(mut self, name: &str, created: i64, spec: TaskSpec, status: TaskStatus) -> World {
            self.specs.push((
                name.into(),
                created,
                spec,
                status,
                false,
                Some("https://git.test/r.git".into()),
            ));
            self
        }
        fn facts(&self) -> Vec<TaskFacts<'_>> {
            self.specs
                .iter()
                .map(|(n, c, s, st, active, repo)| TaskFacts {
                    name: n,
                    created: at(*c),
                    spec: s,
                    status: st,
                    active: *active,
                    repo: repo.as_deref(),
                })
                .collect()
        }
        fn gate(&self, name: &str, missing: &[&str], now: i64) -> GateDecision {
            let facts = self.facts();
            let me = facts.iter().find(|f| f.name == name).expect("task");
            let missing: Vec<String> = missing.iter().map(|s| s.to_string()).collect();
            gate(me, &facts, &missing, None, at(now))
        }
    }

    fn pending() -> TaskStatus {
        TaskStatus::default()
    }

    #[test]
    fn a_task_without_dependencies_starts_with_its_prompt() {
        let w = World::new().add("a", 0, spec("Fix {{it}}", &[], None), pending());
        let d = w.gate("a", &[], 1);
        assert_eq!(
            d.gate,
            Gate::Start(StartPlan {
                prompt: "Fix {{it}}".into(),
                prompt_rendered: false,
                branch: None
            })
        );
    }

    #[test]
    fn a_chain_waits_then_starts_with_the_rendered_prompt_and_branch() {
        let tests = spec(
            "Add tests on {{.Deps.scaffold.Branch}} ({{index .Deps.scaffold.PullRequests 0}})",
            &["scaffold"],
            Some("{{.Deps.scaffold.Branch}}"),
        );
        let w = World::new()
            .add(
                "scaffold",
                0,
                spec("Scaffold", &[], None),
                status(TaskPhase::Running, None, ""),
            )
            .add("tests", 1, tests.clone(), pending());
        let d = w.gate("tests", &[], 2);
        assert_eq!(
            d.gate,
            Gate::Wait {
                kind: WaitKind::Dependencies,
                message: "waiting for dependencies: scaffold (Running)".into()
            }
        );
        assert_eq!(d.dependencies[0].phase, Some(TaskPhase::Running));
        let w = World::new()
            .add(
                "scaffold",
                0,
                spec("Scaffold", &[], None),
                status(TaskPhase::Succeeded, Some("axon/scaffold"), "ok"),
            )
            .add("tests", 1, tests, pending());
        let d = w.gate("tests", &[], 6);
        assert_eq!(
            d.gate,
            Gate::Start(StartPlan {
                prompt: "Add tests on axon/scaffold (https://example.test/pr/7)".into(),
                prompt_rendered: true,
                branch: Some("axon/scaffold".into())
            })
        );
    }

    #[test]
    fn a_failed_or_deleted_dependency_fails_at_once_an_unknown_one_waits() {
        let w = World::new()
            .add(
                "a",
                0,
                spec("A", &[], None),
                status(TaskPhase::Failed, None, "agent failed (exit code 2): boom"),
            )
            .add("b", 1, spec("B", &["a", "nope"], None), pending());
        assert_eq!(
            w.gate("b", &[], 9).gate,
            Gate::Fail("dependency a failed: agent failed (exit code 2): boom".into())
        );
        let mut seen = pending();
        seen.dependencies = vec![DependencyState {
            name: "gone".into(),
            phase: Some(TaskPhase::Running),
        }];
        let w = World::new().add("c", 0, spec("C", &["gone"], None), seen);
        assert_eq!(
            w.gate("c", &[], 9).gate,
            Gate::Fail("dependency gone was deleted before it finished (it was Running)".into())
        );
        let w = World::new()
            .add(
                "stopped",
                0,
                spec("S", &[], None),
                status(TaskPhase::Cancelled, None, "cancelled (axon cancel)"),
            )
            .add("e", 1, spec("E", &["stopped"], None), pending());
        assert_eq!(
            w.gate("e", &[], 9).gate,
            Gate::Fail("dependency stopped was cancelled".into())
        );
        let mut seen = pending();
        seen.dependencies = vec![DependencyState {
            name: "stopped".into(),
            phase: Some(TaskPhase::Cancelled),
        }];
        let w = World::new().add("f", 0, spec("F", &["stopped"], None), seen);
        assert_eq!(
            w.gate("f", &[], 9).gate,
            Gate::Fail("dependency stopped was cancelled".into()),
            "cancelled, then deleted"
        );
        let w = World::new().add("d", 0, spec("D", &["later"], None), pending());
        let d = w.gate("d", &[], 9);
        assert_eq!(
            d.gate,
            Gate::Wait {
                kind: WaitKind::Dependencies,
                message: "waiting for dependencies: later (not created yet)".into()
            }
        );
        assert_eq!(
            d.dependencies,
            [DependencyState {
                name: "later".into(),
                phase: None
            }]
        );
    }

    #[test]
    fn a_succeeded_dependency_deleted_later_still_counts_but_its_results_are_gone() {
        let mut seen = pending();
        seen.dependencies = vec![DependencyState {
            name: "a".into(),
            phase: Some(TaskPhase::Succeeded),
        }];
        let w = World::new().add("b", 0, spec("plain", &["a"], None), seen.clone());
        assert!(matches!(w.gate("b", &[], 9).gate, Gate::Start(_)));
        let w = World::new().add("b", 0, spec("on {{.Deps.a.Branch}}", &["a"], None), seen);
        let Gate::Fail(why) = w.gate("b", &[], 9).gate else {
            panic!("render must fail");
        };
        assert!(why.contains("results of a are gone"), "{why}");
    }

    #[test]
    fn missing_references_wait_for_the_grace_then_fail() {
        let w = World::new().add("a", 0, spec("A", &[], None), pending());
        let d = w.gate("a", &["Workspace \"ws\""], 10);
        assert_eq!(
            d.gate,
            Gate::Wait {
                kind: WaitKind::Reference,
                message: "Workspace \"ws\" not found (waiting up to 30s for it to be created)"
                    .into()
            }
        );
        let d = w.gate("a", &["Workspace \"ws\"", "Secret \"k\""], 31);
        insta::assert_snapshot!(format!("{:?}", d.gate));
    }

    #[test]
    fn the_grace_counts_from_the_last_dependency_finishing() {
        let w = World::new()
            .add(
                "a",
                0,
                spec("A", &[], None),
                status(TaskPhase::Succeeded, None, ""),
            )
            .add("b", 0, spec("B", &["a"], None), pending());
        // `a` completed at 5: at 20 the grace (from 5) still runs although b is 20s old.
        assert!(matches!(
            w.gate("b", &["Secret \"k\""], 34).gate,
            Gate::Wait { .. }
        ));
        assert!(matches!(
            w.gate("b", &["Secret \"k\""], 36).gate,
            Gate::Fail(_)
        ));
    }

    #[test]
    fn a_render_error_or_an_invalid_rendered_branch_fails() {
        let w = World::new()
            .add(
                "a",
                0,
                spec("A", &[], None),
                status(TaskPhase::Succeeded, Some("x..y"), ""),
            )
            .add(
                "b",
                1,
                spec("B", &["a"], Some("{{.Deps.a.Branch}}")),
                pending(),
            )
            .add("c", 1, spec("{{.Deps.a.Nope}}", &["a"], None), pending());
        let Gate::Fail(why) = w.gate("b", &[], 9).gate else {
            panic!("bad branch");
        };
        assert!(why.starts_with("spec.branch as rendered"), "{why}");
        let Gate::Fail(why) = w.gate("c", &[], 9).gate else {
            panic!("bad field");
        };
        assert!(why.starts_with("spec.prompt cannot render"), "{why}");
    }

    #[test]
    fn two_tasks_on_one_branch_never_run_at_once_the_oldest_goes_first() {
        let w = World::new()
            .add("first", 0, spec("1", &[], Some("feat")), pending())
            .add("second", 1, spec("2", &[], Some("feat")), pending())
            .add("other", 2, spec("3", &[], Some("other")), pending());
        assert!(matches!(w.gate("first", &[], 3).gate, Gate::Start(_)));
        assert_eq!(
            w.gate("second", &[], 3).gate,
            Gate::Wait {
                kind: WaitKind::Branch,
                message:
                    "waiting for Task first, which works on branch feat of https://git.test/r.git"
                        .into()
            }
        );
        assert!(matches!(w.gate("other", &[], 3).gate, Gate::Start(_)));
        // A younger Task already running holds the branch against an older one.
        let w = World::new()
            .add("old", 0, spec("1", &[], Some("feat")), pending())
            .add(
                "young",
                1,
                spec("2", &[], Some("feat")),
                status(TaskPhase::Running, None, ""),
            );
        assert!(matches!(
            w.gate("old", &[], 3).gate,
            Gate::Wait {
                kind: WaitKind::Branch,
                ..
            }
        ));
    }

    #[test]
    fn a_cycle_that_reached_the_cluster_fails_instead_of_waiting_forever() {
        let w = World::new()
            .add("a", 0, spec("A", &["b"], None), pending())
            .add("b", 0, spec("B", &["a"], None), pending());
        assert_eq!(
            w.gate("a", &[], 1).gate,
            Gate::Fail(
                "dependency cycle a -> b -> a: these Tasks would wait for each other forever"
                    .into()
            )
        );
    }

    #[test]
    fn a_chain_on_one_branch_does_not_deadlock() {
        // `tests` is older but waits for `scaffold`; it must not hold the branch meanwhile.
        let w = World::new()
            .add(
                "tests",
                0,
                spec("T", &["scaffold"], Some("feat")),
                pending(),
            )
            .add("scaffold", 1, spec("S", &[], Some("feat")), pending());
        assert!(matches!(w.gate("scaffold", &[], 3).gate, Gate::Start(_)));
        assert!(matches!(
            w.gate("tests", &[], 3).gate,
            Gate::Wait {
                kind: WaitKind::Dependencies,
                ..
            }
        ));
    }

    fn window(budget_tokens: u64, spent: Vec<crate::spawner_budget::Spend>) -> SpawnerWindow {
        SpawnerWindow {
            spawner: "nightly".into(),
            budget: crate::spawner_budget::SpawnerBudget {
                per_day: Some(crate::spawner_budget::WindowLimits {
                    max_cost_usd: None,
                    max_tokens: Some(budget_tokens),
                }),
                per_hour: None,
            },
            spent,
        }
    }

    #[test]
    fn a_full_spawner_window_holds_the_task_until_it_has_room() {
        use crate::spawner_budget::Spend;
        let w = World::new().add("nightly-2", 0, spec("N", &[], None), pending());
        let facts = w.facts();
        let spent = vec![Spend::finished(at(-3600), None, 1500)];
        let full = window(1000, spent.clone());
        let d = gate(&facts[0], &facts, &[], Some(&full), at(10));
        let until = at(-3600 + 24 * 3600);
        assert_eq!(d.recheck_at, Some(until));
        let Gate::Wait { kind, message } = &d.gate else {
            panic!("held: {d:?}");
        };
        assert_eq!(*kind, WaitKind::SpawnerBudget);
        assert_eq!(kind.reason(), "SpawnerBudgetReached");
        insta::assert_snapshot!(message, @"TaskSpawner nightly budget perDay maxTokens 1000 reached (1500 tokens spent in the last 24 hours); waiting until 2023-11-15T21:13:20Z");
        // Once the spending left the window (or under a higher limit) it starts.
        assert!(matches!(
            gate(&facts[0], &facts, &[], Some(&full), until).gate,
            Gate::Start(_)
        ));
        let roomy = window(2000, spent);
        let d = gate(&facts[0], &facts, &[], Some(&roomy), at(10));
        assert!(matches!(d.gate, Gate::Start(_)));
        assert_eq!(d.recheck_at, None);
    }

    #[test]
    fn a_task_that_would_fail_fails_rather_than_wait_for_the_budget() {
        use crate::spawner_budget::Spend;
        let w = World::new().add("nightly-2", 0, spec("N", &[], None), pending());
        let facts = w.facts();
        let full = window(1, vec![Spend::finished(at(0), None, 5)]);
        let missing = ["Secret \"k\"".to_string()];
        assert!(matches!(
            gate(&facts[0], &facts, &missing, Some(&full), at(31)).gate,
            Gate::Fail(_)
        ));
    }
}
