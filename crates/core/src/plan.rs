//! The run plan: what to run for a Task, decided once from the Task, its Workspace, its
//! AgentConfig and the defaults. The local driver renders it into a bubblewrap command, the
//! Kubernetes driver into a Job; neither re-decides anything in it.

use axon_api::contract;
use axon_api::{AgentConfig, AgentType, CredentialType, Task, Workspace};
use std::collections::BTreeMap;
use thiserror::Error;

/// Directory (relative to the agent's config directory) holding plugins.
pub const PLUGINS_DIR: &str = "plugins";
/// File (relative to the agent's config directory) holding `agentsMD`.
pub const AGENTS_MD_FILE: &str = "agents.md";
/// Key of a Workspace secret holding the GitHub token.
pub const GITHUB_TOKEN_KEY: &str = "GITHUB_TOKEN";

/// Everything a driver needs to run one Task.
#[derive(Clone, Debug, PartialEq)]
pub struct RunPlan {
    /// Task name.
    pub task: String,
    /// Agent type.
    pub agent_type: AgentType,
    /// The prompt, passed as `$1` to the entrypoint.
    pub prompt: String,
    /// Custom image (Kubernetes) or executable (local); `None`: the built-in runner.
    pub image: Option<String>,
    /// The repository to clone, when the Task has a Workspace.
    pub repo: Option<RepoPlan>,
    /// Environment of the agent, in a stable order.
    pub env: Vec<EnvEntry>,
    /// Files for the agent's config directory (`agents.md`, `plugins/...`), relative paths.
    pub config_files: BTreeMap<String, String>,
    /// Kill the agent after this many seconds.
    pub timeout_seconds: Option<i64>,
    /// Retries after a failed run.
    pub backoff_limit: i32,
}

impl RunPlan {
    /// What the start gate admitted the Task with: the rendered prompt (when it has one) and
    /// the branch (also given to the agent as `AXON_BRANCH`).
    pub fn admit(&mut self, prompt: Option<String>, branch: Option<String>) {
        if let Some(p) = prompt {
            self.prompt = p;
        }
        if let Some(repo) = self.repo.as_mut() {
            repo.branch = branch.or_else(|| repo.branch.take());
            if let Some(b) = &repo.branch {
                self.env.retain(|e| e.name != "AXON_BRANCH");
                self.env.push(EnvEntry {
                    name: "AXON_BRANCH".into(),
                    value: EnvValue::Literal(b.clone()),
                });
            }
        }
    }
}

/// The repository part of a plan.
#[derive(Clone, Debug, PartialEq)]
pub struct RepoPlan {
    /// Clone URL.
    pub url: String,
    /// Branch, tag or SHA; `None`: the default branch.
    pub git_ref: Option<String>,
    /// Secret whose `GITHUB_TOKEN` key authenticates git (through a credential helper).
    pub token_secret: Option<String>,
    /// Files written into the work tree before the agent starts (relative path → content).
    pub files: Vec<(String, String)>,
    /// The branch the Task works on (`spec.branch`, as the start gate rendered it): checked
    /// out from the remote when it exists there, else created from `git_ref`.
    pub branch: Option<String>,
    /// Extra git remotes (name, URL) added to the work tree after the clone.
    pub remotes: Vec<(String, String)>,
    /// A shallow, single-branch clone of this many commits (`None`: a full clone).
    pub clone_depth: Option<u32>,
    /// The Workspace's `setupCommand` (also in the agent's environment as
    /// `AXON_SETUP_COMMAND`, which is how the agent side receives it).
    pub setup_command: Option<String>,
}

/// One environment variable of the agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvEntry {
    pub name: String,
    pub value: EnvValue,
}

/// Where an environment variable's value comes from. Secrets travel by reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvValue {
    /// A literal (never a secret).
    Literal(String),
    /// A key of a secret.
    Secret { secret: String, key: String },
    /// The path of a file in the agent's config directory (`agents.md`, `plugins`).
    ConfigPath(String),
    /// A value of the Axon gateway serving the run (see [`crate::gateway_plan`]).
    Gateway(crate::gateway_plan::GatewayValue),
}

/// Why a plan cannot be made. Each message names what is missing.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum PlanError {
    #[error(
        "Workspace {0:?} not found: create it (axon create workspace / axon apply -f) or fix spec.workspaceRef.name"
    )]
    MissingWorkspace(String),
    #[error(
        "AgentConfig {0:?} not found: create it (axon apply -f) or fix spec.agentConfigRef.name"
    )]
    MissingAgentConfig(String),
    #[error(
        "credential type oauth is supported only by claude-code, not {0}: use credentials.type api-key"
    )]
    OauthUnsupported(AgentType),
}

/// The environment variable(s) holding the agent credential; the first is the Secret's key.
pub fn credential_env(
    agent: AgentType,
    kind: CredentialType,
) -> Result<&'static [&'static str], PlanError> {
    Ok(match (agent, kind) {
        (AgentType::ClaudeCode, CredentialType::ApiKey) => &["ANTHROPIC_API_KEY"],
        (AgentType::ClaudeCode, CredentialType::Oauth) => &["CLAUDE_CODE_OAUTH_TOKEN"],
        (AgentType::Codex, CredentialType::ApiKey) => &["CODEX_API_KEY", "OPENAI_API_KEY"],
        (AgentType::Gemini, CredentialType::ApiKey) => &["GEMINI_API_KEY"],
        (AgentType::Opencode, CredentialType::ApiKey) => &["OPENCODE_API_KEY"],
        (other, CredentialType::Oauth) => return Err(PlanError::OauthUnsupported(other)),
    })
}

/// Decide the plan. `workspace` and `agent_config` are what the driver found for the Task's
/// references (`None` when a referenced one does not exist); `agent_config` is the Task's
/// AgentConfigs merged ([`crate::agent_configs::resolve`]).
pub fn plan_run(
    task: &Task,
    workspace: Option<&Workspace>,
    agent_config: Option<&AgentConfig>,
) -> Result<RunPlan, PlanError> {
    let spec = &task.spec;
    let name = task.metadata.name.clone().unwrap_or_default();
    let repo = match &spec.workspace_ref {
        None => None,
        Some(r) => {
            let ws = workspace.ok_or_else(|| PlanError::MissingWorkspace(r.name.clone()))?;
            Some(RepoPlan {
                url: ws.spec.repo.clone(),
                git_ref: ws.spec.git_ref.clone().filter(|s| !s.is_empty()),
                token_secret: ws.spec.secret_ref.as_ref().map(|s| s.name.clone()),
                files: ws
                    .spec
                    .files
                    .iter()
                    .map(|f| (f.path.clone(), f.content.clone()))
                    .collect(),
                branch: spec.branch.clone().filter(|b| !b.contains("{{")),
                remotes: ws
                    .spec
                    .remotes
                    .iter()
                    .map(|r| (r.name.clone(), r.url.clone()))
                    .collect(),
                setup_command: ws
                    .spec
                    .setup_command
                    .clone()
                    .filter(|c| !c.trim().is_empty()),
                clone_depth: ws.spec.clone_depth.filter(|d| *d > 0),
            })
        }
    };
    let config = match spec.agent_config_names().first() {
        None => None,
        Some(name) => {
            Some(agent_config.ok_or_else(|| PlanError::MissingAgentConfig(name.to_string()))?)
        }
    };

    let mut config_files = BTreeMap::new();
    if let Some(md) = config.and_then(|c| c.spec.agents_md.as_ref()) {
        config_files.insert(AGENTS_MD_FILE.to_string(), md.clone());
    }
    for plugin in config
        .map(|c| c.spec.plugins.as_slice())
        .unwrap_or_default()
    {
        for skill in &plugin.skills {
            config_files.insert(
                format!(
                    "{PLUGINS_DIR}/{}/skills/{}/SKILL.md",
                    plugin.name, skill.name
                ),
                skill.content.clone(),
            );
        }
        for agent in &plugin.agents {
            config_files.insert(
                format!("{PLUGINS_DIR}/{}/agents/{}.md", plugin.name, agent.name),
                agent.content.clone(),
            );
        }
    }

    let lit = |name: &str, value: &str| EnvEntry {
        name: name.into(),
        value: EnvValue::Literal(value.into()),
    };
    let mut env = vec![
        lit(contract::ENV_AGENT_TYPE, spec.type_.as_str()),
        lit(contract::ENV_TASK, &name),
        lit(
            contract::ENV_MODEL,
            spec.model.as_deref().unwrap_or_default(),
        ),
        lit(
            contract::ENV_BASE_BRANCH,
            repo.as_ref()
                .and_then(|r| r.git_ref.as_deref())
                .unwrap_or_default(),
        ),
    ];
    if let Some(url) = spec.model_base_url.as_deref().filter(|u| !u.is_empty()) {
        env.push(lit(contract::ENV_MODEL_BASE_URL, url));
    }
    if let Some(cmd) = repo.as_ref().and_then(|r| r.setup_command.as_deref()) {
        env.push(lit(contract::ENV_SETUP_COMMAND, cmd));
    }
    if config_files.contains_key(AGENTS_MD_FILE) {
        env.push(EnvEntry {
            name: contract::ENV_AGENTS_MD_FILE.into(),
            value: EnvValue::ConfigPath(AGENTS_MD_FILE.into()),
        });
    }
    if config_files.keys().any(|k| k.starts_with(PLUGINS_DIR)) {
        env.push(EnvEntry {
            name: contract::ENV_PLUGINS_DIR.into(),
            value: EnvValue::ConfigPath(PLUGINS_DIR.into()),
        });
    }
    let names = credential_env(spec.type_, spec.credentials.type_)?;
    for var in names {
        env.push(EnvEntry {
            name: (*var).to_string(),
            value: EnvValue::Secret {
                secret: spec.credentials.secret_ref.name.clone(),
                key: names[0].to_string(),
            },
        });
    }
    if let Some(secret) = repo.as_ref().and_then(|r| r.token_secret.clone()) {
        for var in ["GITHUB_TOKEN", "GH_TOKEN"] {
            env.push(EnvEntry {
                name: var.into(),
                value: EnvValue::Secret {
                    secret: secret.clone(),
                    key: GITHUB_TOKEN_KEY.into(),
                },
            });
        }
    }
    let reserved: Vec<String> = env.iter().map(|e| e.name.clone()).collect();
    for extra in &spec.env {
        if !reserved.contains(&extra.name) {
            env.push(lit(&extra.name, &extra.value));
        }
    }

    let mut plan = RunPlan {
        task: name,
        agent_type: spec.type_,
        prompt: spec.prompt.clone(),
        image: spec.image.clone().filter(|s| !s.is_empty()),
        repo,
        env,
        config_files,
        timeout_seconds: spec.timeout_seconds,
        backoff_limit: spec.backoff_limit.unwrap_or(0).max(0),
    };
    plan.admit(None, None);
    Ok(plan)
}

impl RunPlan {
    /// The secrets (name → keys) the plan reads, so a driver can check they exist before running.
    pub fn secret_refs(&self) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for e in &self.env {
            if let EnvValue::Secret { secret, key } = &e.value {
                let keys = out.entry(secret.clone()).or_default();
                if !keys.contains(key) {
                    keys.push(key.clone());
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axon_api::loader::{Resource, load_str};

    fn load(yaml: &str) -> Vec<Resource> {
        load_str("t.yaml", yaml)
            .expect("loads")
            .into_iter()
            .map(|d| d.resource)
            .collect()
    }

    const ALL: &str = "apiVersion: axon.io/v1alpha1\nkind: Workspace\nmetadata: {name: ws}\nspec:\n  repo: https://github.com/o/r.git\n  ref: main\n  secretRef: {name: gh}\n  files: [{path: a.txt, content: hi}]\n---\napiVersion: axon.io/v1alpha1\nkind: AgentConfig\nmetadata: {name: ac}\nspec:\n  agentsMD: Be good.\n  plugins:\n  - name: tools\n    skills: [{name: deploy, content: D}]\n    agents: [{name: reviewer, content: R}]\n---\napiVersion: axon.io/v1alpha1\nkind: Task\nmetadata: {name: t}\nspec:\n  type: codex\n  prompt: Fix it\n  credentials: {type: api-key, secretRef: {name: key}}\n  model: gpt-5\n  workspaceRef: {name: ws}\n  agentConfigRef: {name: ac}\n  modelBaseURL: http://127.0.0.1:1\n  timeoutSeconds: 60\n  env: [{name: EXTRA, value: '1'}, {name: AXON_TASK, value: forged}]\n";

    #[test]
    fn full_plan_snapshot() {
        let r = load(ALL);
        let (Resource::Workspace(ws), Resource::AgentConfig(ac), Resource::Task(t)) =
            (&r[0], &r[1], &r[2])
        else {
            panic!("kinds")
        };
        let plan = plan_run(t, Some(ws), Some(ac)).expect("plan");
        insta::assert_debug_snapshot!(plan);
        assert_eq!(
            plan.secret_refs().get("key"),
            Some(&vec!["CODEX_API_KEY".to_string()])
        );
    }

    #[test]
    fn missing_references_are_named() {
        let r = load(ALL);
        let Resource::Task(t) = &r[2] else {
            panic!("kind")
        };
        assert_eq!(
            plan_run(t, None, None),
            Err(PlanError::MissingWorkspace("ws".into()))
        );
        let Resource::Workspace(ws) = &r[0] else {
            panic!("kind")
        };
        assert_eq!(
            plan_run(t, Some(ws), None),
            Err(PlanError::MissingAgentConfig("ac".into()))
        );
    }

    #[test]
    fn oauth_only_for_claude() {
        assert!(credential_env(AgentType::ClaudeCode, CredentialType::Oauth).is_ok());
        assert_eq!(
            credential_env(AgentType::Gemini, CredentialType::Oauth),
            Err(PlanError::OauthUnsupported(AgentType::Gemini))
        );
    }
}
