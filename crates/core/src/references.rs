//! What a Task refers to and what of it is missing, for the start gate: its Workspace, its
//! AgentConfig, and every Secret key its plan reads (the credential, the Workspace's token).
//! Both drivers fetch the same things and ask the same question, so a missing reference is
//! waited for the same way on both backends ([`crate::start_gate`]). Never holds a value: a
//! driver passes the key names of the Secrets it found.

use crate::plan::{PlanError, RunPlan, plan_run};
use axon_api::{AgentConfig, Task, Workspace};
use std::collections::{BTreeMap, BTreeSet};

/// The Secrets a driver found: `None` when one does not exist, else its key names.
pub type FoundSecrets = BTreeMap<String, Option<BTreeSet<String>>>;

/// The outcome of looking at a Task's references.
#[derive(Clone, Debug)]
pub enum References {
    /// All there: the plan to run.
    Ready(Box<RunPlan>),
    /// What is missing, in words (`Workspace "ws"`, `key "K" of Secret "s"`).
    Missing(Vec<String>),
}

/// The Workspace and AgentConfig that are referenced but absent, as words; when both exist
/// (or are not referenced) the plan, whose `secret_refs()` say which Secrets to fetch.
/// `Err` is a Task that can never run (a credential type its agent does not support).
/// `agent_configs` are those of the Task's AgentConfigs the driver found, in any order.
pub fn plan_or_missing(
    task: &Task,
    workspace: Option<&Workspace>,
    agent_configs: &[AgentConfig],
) -> Result<References, PlanError> {
    let mut missing = Vec::new();
    if let Some(r) = &task.spec.workspace_ref
        && workspace.is_none()
    {
        missing.push(format!("Workspace {:?}", r.name));
    }
    let agent_config = match crate::agent_configs::resolve(&task.spec, agent_configs) {
        Ok(merged) => merged,
        Err(names) => {
            missing.extend(names.iter().map(|n| format!("AgentConfig {n:?}")));
            None
        }
    };
    if !missing.is_empty() {
        return Ok(References::Missing(missing));
    }
    plan_run(task, workspace, agent_config.as_ref()).map(|p| References::Ready(Box::new(p)))
}

/// The Secrets and keys of `required` (`RunPlan::secret_refs()`) that `found` lacks, as words.
pub fn missing_secrets(
    required: &BTreeMap<String, Vec<String>>,
    found: &FoundSecrets,
) -> Vec<String> {
    let mut out = Vec::new();
    for (secret, keys) in required {
        match found.get(secret) {
            None | Some(None) => out.push(format!(
                "Secret {secret:?} (with key{} {})",
                if keys.len() == 1 { "" } else { "s" },
                keys.join(", ")
            )),
            Some(Some(have)) => {
                for key in keys.iter().filter(|k| !have.contains(*k)) {
                    out.push(format!(
                        "key {key:?} of Secret {secret:?} (its keys: {})",
                        if have.is_empty() {
                            "none".to_string()
                        } else {
                            have.iter().cloned().collect::<Vec<_>>().join(", ")
                        }
                    ));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> BTreeMap<String, Vec<String>> {
        BTreeMap::from([("claude".to_string(), vec!["ANTHROPIC_API_KEY".to_string()])])
    }

    #[test]
    fn a_missing_secret_and_a_missing_key_are_named_never_a_value() {
        assert_eq!(
            missing_secrets(&req(), &FoundSecrets::new()),
            ["Secret \"claude\" (with key ANTHROPIC_API_KEY)"]
        );
        let found = FoundSecrets::from([(
            "claude".to_string(),
            Some(BTreeSet::from(["CLAUDE_CODE_OAUTH_TOKEN".to_string()])),
        )]);
        assert_eq!(
            missing_secrets(&req(), &found),
            ["key \"ANTHROPIC_API_KEY\" of Secret \"claude\" (its keys: CLAUDE_CODE_OAUTH_TOKEN)"]
        );
        let found = FoundSecrets::from([(
            "claude".to_string(),
            Some(BTreeSet::from(["ANTHROPIC_API_KEY".to_string()])),
        )]);
        assert!(missing_secrets(&req(), &found).is_empty());
    }
}
