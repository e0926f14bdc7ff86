//! `axon run` as a decision: flags plus the config file become the Task to create and the
//! Workspace, AgentConfig and Secrets to create with it. Flags win over the config file, and
//! the credential precedence is the seed's: `--secret` > config `secret` > config
//! `oauthToken`/`apiKey`. Names are derived deterministically so running twice reuses them.

use crate::plan::{GITHUB_TOKEN_KEY, credential_env};
use axon_api::config::Config;
use axon_api::{
    AgentConfig, AgentConfigSpec, AgentType, CredentialType, Credentials, EnvVar,
    LocalObjectReference, Plugin, PluginAgent, PluginSkill, SecretReference, Task, TaskSpec,
    Workspace, WorkspaceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use thiserror::Error;

/// What the user asked for on the command line.
#[derive(Clone, Debug, Default)]
pub struct RunFlags {
    pub prompt: String,
    pub type_: Option<AgentType>,
    pub model: Option<String>,
    pub workspace: Option<String>,
    pub secret: Option<String>,
    pub credential_type: Option<CredentialType>,
    pub agents_md: Option<String>,
    /// `(name, content)` of each `--skill`.
    pub skills: Vec<(String, String)>,
    /// `(name, content)` of each `--agent`.
    pub agents: Vec<(String, String)>,
    pub name: Option<String>,
    pub ttl_seconds: Option<i32>,
    pub timeout_seconds: Option<i64>,
    pub env: Vec<(String, String)>,
    pub model_base_url: Option<String>,
    pub image: Option<String>,
}

/// A Secret to create (or update) before the Task. Values are secret: never print them.
#[derive(Clone, PartialEq)]
pub struct SecretToCreate {
    pub name: String,
    pub data: BTreeMap<String, String>,
}

impl std::fmt::Debug for SecretToCreate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretToCreate")
            .field("name", &self.name)
            .field("keys", &self.data.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Everything `axon run` creates, in creation order: secrets, workspace, agent config, task.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRequest {
    pub secrets: Vec<SecretToCreate>,
    pub workspace: Option<Workspace>,
    pub agent_config: Option<AgentConfig>,
    pub task: Task,
}

/// Why `axon run` cannot build a Task.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum RunRequestError {
    #[error("no prompt: pass -p/--prompt TEXT or --prompt-file FILE")]
    NoPrompt,
    #[error(
        "no agent credential: set apiKey or oauthToken in the config file (axon init), or pass --secret NAME"
    )]
    NoCredential,
    #[error(transparent)]
    Plan(#[from] crate::plan::PlanError),
    #[error("invalid --name {0:?}: use lowercase letters, digits and '-' (at most 63 characters)")]
    BadName(String),
}

/// The value `none` in the config file means an empty credential.
fn credential_value(v: &str) -> String {
    if v == "none" {
        String::new()
    } else {
        v.to_string()
    }
}

fn short_hash(s: &str) -> String {
    let digest = Sha256::digest(s.as_bytes());
    digest.iter().take(3).map(|b| format!("{b:02x}")).collect()
}

/// A DNS-1123 label from free text (lowercase, `-` for anything else, trimmed).
fn label(s: &str, max: usize) -> String {
    let mut out: String = s
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    out.truncate(max);
    out.trim_matches('-').to_string()
}

/// Name of the Workspace created for an inline `workspace.repo` in the config file.
pub fn workspace_name_for(repo: &str, git_ref: Option<&str>) -> String {
    let base = repo
        .trim_end_matches('/')
        .trim_end_matches(".git")
        .rsplit(['/', ':'])
        .next()
        .unwrap_or("repo");
    let base = label(base, 40);
    let base = if base.is_empty() {
        "repo".to_string()
    } else {
        base
    };
    format!(
        "{base}-{}",
        short_hash(&format!("{repo}#{}", git_ref.unwrap_or("")))
    )
}

/// Build what `axon run` creates. `suffix` makes a generated Task name unique (the CLI passes
/// a random one; tests pass a fixed one).
pub fn run_request(
    flags: &RunFlags,
    config: &Config,
    suffix: &str,
) -> Result<RunRequest, RunRequestError> {
    if flags.prompt.trim().is_empty() {
        return Err(RunRequestError::NoPrompt);
    }
    let type_ = flags
        .type_
        .or(config.type_)
        .unwrap_or(AgentType::ClaudeCode);
    let name = match &flags.name {
        Some(n) => {
            if n.is_empty() || n.len() > 63 || label(n, 63) != *n {
                return Err(RunRequestError::BadName(n.clone()));
            }
            n.clone()
        }
        None => format!("{}-{suffix}", type_.as_str()),
    };

    let mut secrets = Vec::new();
    let credentials = if let Some(secret) = flags.secret.clone().or_else(|| config.secret.clone()) {
        let kind = flags
            .credential_type
            .or(config.credential_type)
            .unwrap_or_default();
        credential_env(type_, kind)?;
        Credentials {
            type_: kind,
            secret_ref: SecretReference { name: secret },
        }
    } else {
        let (kind, value) = match (&config.oauth_token, &config.api_key) {
            (Some(token), _) => (CredentialType::Oauth, token),
            (None, Some(key)) => (CredentialType::ApiKey, key),
            (None, None) => return Err(RunRequestError::NoCredential),
        };
        let kind = flags.credential_type.unwrap_or(kind);
        let vars = credential_env(type_, kind)?;
        let secret_name = format!("axon-{}-{}", type_.as_str(), kind.as_str());
        secrets.push(SecretToCreate {
            name: secret_name.clone(),
            data: BTreeMap::from([(vars[0].to_string(), credential_value(value))]),
        });
        Credentials {
            type_: kind,
            secret_ref: SecretReference { name: secret_name },
        }
    };

    let mut workspace = None;
    let workspace_ref = if let Some(ws) = &flags.workspace {
        Some(ws.clone())
    } else if let Some(wc) = &config.workspace {
        if let Some(n) = &wc.name {
            Some(n.clone())
        } else if let Some(repo) = &wc.repo {
            let ws_name = workspace_name_for(repo, wc.git_ref.as_deref());
            let secret_ref = wc.token.as_ref().map(|token| {
                let secret_name = format!("{ws_name}-github");
                secrets.push(SecretToCreate {
                    name: secret_name.clone(),
                    data: BTreeMap::from([(GITHUB_TOKEN_KEY.to_string(), credential_value(token))]),
                });
                SecretReference { name: secret_name }
            });
            workspace = Some(Workspace {
                metadata: ObjectMeta {
                    name: Some(ws_name.clone()),
                    ..Default::default()
                },
                spec: WorkspaceSpec {
                    repo: repo.clone(),
                    git_ref: wc.git_ref.clone(),
                    secret_ref,
                    files: vec![],
                    setup_command: None,
                    clone_depth: None,
                    remotes: Vec::new(),
                },
            });
            Some(ws_name)
        } else {
            None
        }
    } else {
        None
    };

    let agent_config =
        if flags.agents_md.is_some() || !flags.skills.is_empty() || !flags.agents.is_empty() {
            let plugins = if flags.skills.is_empty() && flags.agents.is_empty() {
                vec![]
            } else {
                vec![Plugin {
                    name: "axon-run".into(),
                    skills: flags
                        .skills
                        .iter()
                        .map(|(n, c)| PluginSkill {
                            name: n.clone(),
                            content: c.clone(),
                        })
                        .collect(),
                    agents: flags
                        .agents
                        .iter()
                        .map(|(n, c)| PluginAgent {
                            name: n.clone(),
                            content: c.clone(),
                        })
                        .collect(),
                }]
            };
            Some(AgentConfig {
                metadata: ObjectMeta {
                    name: Some(format!("{name}-config")),
                    ..Default::default()
                },
                spec: AgentConfigSpec {
                    agents_md: flags.agents_md.clone(),
                    plugins,
                },
            })
        } else {
            None
        };

    let task = Task {
        metadata: ObjectMeta {
            name: Some(name),
            ..Default::default()
        },
        spec: TaskSpec {
            type_,
            prompt: flags.prompt.clone(),
            credentials,
            model: flags.model.clone().or_else(|| config.model.clone()),
            image: flags.image.clone(),
            workspace_ref: workspace_ref.map(|name| LocalObjectReference { name }),
            agent_config_refs: Vec::new(),
            agent_config_ref: agent_config
                .as_ref()
                .and_then(|c| c.metadata.name.clone())
                .map(|name| LocalObjectReference { name }),
            ttl_seconds_after_finished: flags.ttl_seconds,
            timeout_seconds: flags.timeout_seconds,
            backoff_limit: None,
            depends_on: Vec::new(),
            branch: None,
            budget: None,
            network: None,
            policy: None,
            pricing: vec![],
            model_base_url: flags
                .model_base_url
                .clone()
                .or_else(|| config.model_base_url.clone()),
            env: flags
                .env
                .iter()
                .map(|(n, v)| EnvVar {
                    name: n.clone(),
                    value: v.clone(),
                })
                .collect(),
        },
        status: None,
    };
    Ok(RunRequest {
        secrets,
        workspace,
        agent_config,
        task,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        Config::parse("c", text).expect("config")
    }

    fn flags(prompt: &str) -> RunFlags {
        RunFlags {
            prompt: prompt.into(),
            ..Default::default()
        }
    }

    #[test]
    fn config_inline_workspace_and_token_become_resources() {
        let c = config(
            "apiKey: k1\nworkspace:\n  repo: https://github.com/o/r.git\n  ref: main\n  token: t1\nmodel: m\n",
        );
        let r = run_request(&flags("hi"), &c, "abc12").expect("request");
        insta::assert_yaml_snapshot!(serde_json::json!({
            "secrets": r.secrets.iter().map(|s| (s.name.clone(), s.data.keys().cloned().collect::<Vec<_>>())).collect::<Vec<_>>(),
            "workspace": r.workspace,
            "task": r.task,
        }));
        assert!(!format!("{r:?}").contains("k1") && !format!("{r:?}").contains("t1\""));
    }

    #[test]
    fn credential_precedence() {
        let c = config("oauthToken: o\napiKey: a\nsecret: from-config\ncredentialType: oauth\n");
        let r = run_request(
            &RunFlags {
                secret: Some("from-flag".into()),
                ..flags("x")
            },
            &c,
            "s",
        )
        .expect("ok");
        assert_eq!(r.task.spec.credentials.secret_ref.name, "from-flag");
        assert_eq!(r.task.spec.credentials.type_, CredentialType::Oauth);
        assert!(r.secrets.is_empty());
        let r = run_request(&flags("x"), &c, "s").expect("ok");
        assert_eq!(r.task.spec.credentials.secret_ref.name, "from-config");
        let c = config("oauthToken: o\napiKey: a\n");
        let r = run_request(&flags("x"), &c, "s").expect("ok");
        assert_eq!(r.task.spec.credentials.type_, CredentialType::Oauth);
        assert_eq!(
            r.secrets[0]
                .data
                .get("CLAUDE_CODE_OAUTH_TOKEN")
                .map(String::as_str),
            Some("o")
        );
        let c = config("apiKey: none\ntype: opencode\n");
        let r = run_request(&flags("x"), &c, "s").expect("ok");
        assert_eq!(
            r.secrets[0]
                .data
                .get("OPENCODE_API_KEY")
                .map(String::as_str),
            Some("")
        );
    }

    #[test]
    fn flags_win_and_errors_are_clear() {
        let c = config("apiKey: a\ntype: codex\nmodel: m1\nworkspace:\n  name: from-config\n");
        let r = run_request(
            &RunFlags {
                type_: Some(AgentType::Gemini),
                model: Some("m2".into()),
                workspace: Some("w".into()),
                ..flags("x")
            },
            &c,
            "s",
        )
        .expect("ok");
        assert_eq!(
            (r.task.spec.type_, r.task.spec.model.as_deref()),
            (AgentType::Gemini, Some("m2"))
        );
        assert_eq!(
            r.task.spec.workspace_ref.map(|w| w.name),
            Some("w".to_string())
        );
        assert_eq!(
            run_request(&flags(" "), &c, "s"),
            Err(RunRequestError::NoPrompt)
        );
        assert_eq!(
            run_request(&flags("x"), &Config::default(), "s"),
            Err(RunRequestError::NoCredential)
        );
        assert!(matches!(
            run_request(
                &RunFlags {
                    name: Some("Bad Name".into()),
                    ..flags("x")
                },
                &c,
                "s"
            ),
            Err(RunRequestError::BadName(_))
        ));
    }

    #[test]
    fn agents_md_and_plugins_make_an_agent_config() {
        let c = config("apiKey: a\n");
        let r = run_request(
            &RunFlags {
                agents_md: Some("Follow TDD".into()),
                skills: vec![("deploy".into(), "D".into())],
                agents: vec![("reviewer".into(), "R".into())],
                name: Some("my-task".into()),
                ..flags("x")
            },
            &c,
            "s",
        )
        .expect("ok");
        let ac = r.agent_config.expect("config");
        assert_eq!(ac.metadata.name.as_deref(), Some("my-task-config"));
        assert_eq!(ac.spec.plugins[0].skills[0].name, "deploy");
        assert_eq!(
            r.task.spec.agent_config_ref.map(|a| a.name),
            Some("my-task-config".to_string())
        );
    }
}
