//! The environment contract of `docs/agent-image-interface.md`, read once into a plain struct.
//!
//! Reading from an explicit list of variables (not `std::env` directly) keeps the contract
//! testable and makes it obvious which variables the runner depends on.

use std::collections::BTreeMap;
use std::path::PathBuf;

use axon_api::AgentType;
use axon_api::contract;

use crate::error::AgentError;

/// Credential variables, per agent type. Their values are secrets: they are passed to the
/// agent's environment untouched and redacted from everything the runner writes.
pub const SECRET_VARS: &[&str] = &[
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "CODEX_API_KEY",
    "OPENAI_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "OPENCODE_API_KEY",
    "GITHUB_TOKEN",
    "GH_TOKEN",
];

/// Everything the runner reads from its environment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunEnv {
    /// `AXON_AGENT_TYPE`; optional only for a custom entrypoint.
    pub agent_type: Option<AgentType>,
    /// `AXON_MODEL` (empty means the agent's default).
    pub model: Option<String>,
    /// `AXON_TASK`.
    pub task: Option<String>,
    /// `AXON_BASE_BRANCH`.
    pub base_branch: Option<String>,
    /// `AXON_PROMPT_FILE`: the prompt, when not given on the command line.
    pub prompt_file: Option<PathBuf>,
    /// `AXON_AGENTS_MD_FILE`.
    pub agents_md_file: Option<PathBuf>,
    /// `AXON_PLUGINS_DIR`.
    pub plugins_dir: Option<PathBuf>,
    /// `AXON_MODEL_BASE_URL`.
    pub model_base_url: Option<String>,
    /// `AXON_MODEL_MAX_RETRIES`: how often the CLI retries a failed model request
    /// (unset: the CLI's own default).
    pub model_max_retries: Option<u32>,
    /// `AXON_RESULTS_FILE`.
    pub results_file: Option<PathBuf>,
    /// `AXON_AGENT_BIN_DIR`: where to find the agent CLIs instead of `PATH`.
    pub bin_dir: Option<PathBuf>,
    /// `PATH`.
    pub path: Option<String>,
    /// `HOME`: private and writable.
    pub home: Option<PathBuf>,
    /// `TMPDIR`: where a custom agent's copy of the prompt goes (default `/tmp`).
    pub tmpdir: Option<PathBuf>,
    /// `GITHUB_TOKEN`, else `GH_TOKEN`.
    pub github_token: Option<String>,
    /// `AXON_GITHUB_API_URL` (GitHub Enterprise).
    pub github_api_url: Option<String>,
    /// Which credential variables are set (names only).
    pub credentials_present: Vec<String>,
    /// Values of the secret variables, for redaction.
    pub secrets: Vec<String>,
}

impl RunEnv {
    /// Read the contract from the process environment.
    pub fn from_process() -> Result<Self, AgentError> {
        Self::from_vars(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
        )
    }

    /// Read the contract from the given variables. Empty values count as unset.
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Result<Self, AgentError> {
        let vars: BTreeMap<String, String> = vars
            .into_iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .collect();
        let get = |name: &str| vars.get(name).cloned();
        let path = |name: &str| vars.get(name).map(PathBuf::from);

        let agent_type = match get(contract::ENV_AGENT_TYPE) {
            None => None,
            Some(v) if v == "custom" => None,
            Some(v) => Some(
                v.parse::<AgentType>()
                    .map_err(|reason| AgentError::InvalidEnv {
                        name: contract::ENV_AGENT_TYPE,
                        value: v.clone(),
                        reason,
                    })?,
            ),
        };
        let model_max_retries = match get(contract::ENV_MODEL_MAX_RETRIES) {
            None => None,
            Some(v) => Some(
                v.trim()
                    .parse::<u32>()
                    .map_err(|_| AgentError::InvalidEnv {
                        name: contract::ENV_MODEL_MAX_RETRIES,
                        value: v.clone(),
                        reason: "expected a whole number of retries, such as 0 or 3".into(),
                    })?,
            ),
        };
        if let Some(url) = get(contract::ENV_MODEL_BASE_URL)
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(AgentError::InvalidEnv {
                name: contract::ENV_MODEL_BASE_URL,
                value: url,
                reason: "expected an http:// or https:// URL".into(),
            });
        }
        let credentials_present: Vec<String> = SECRET_VARS
            .iter()
            .filter(|name| vars.contains_key(**name))
            .map(|name| name.to_string())
            .collect();
        let secrets = SECRET_VARS
            .iter()
            .filter_map(|name| vars.get(*name).cloned())
            .collect();
        Ok(RunEnv {
            agent_type,
            model: get(contract::ENV_MODEL),
            task: get(contract::ENV_TASK),
            base_branch: get(contract::ENV_BASE_BRANCH),
            prompt_file: path(crate::prompt::PROMPT_FILE_ENV),
            agents_md_file: path(contract::ENV_AGENTS_MD_FILE),
            plugins_dir: path(contract::ENV_PLUGINS_DIR),
            model_base_url: get(contract::ENV_MODEL_BASE_URL),
            model_max_retries,
            results_file: path(axon_core::results::RESULTS_FILE_ENV),
            bin_dir: path(contract::ENV_AGENT_BIN_DIR),
            path: get("PATH"),
            home: path("HOME"),
            tmpdir: path("TMPDIR"),
            github_token: get("GITHUB_TOKEN").or_else(|| get("GH_TOKEN")),
            github_api_url: get(contract::ENV_GITHUB_API_URL),
            credentials_present,
            secrets,
        })
    }

    /// Whether a credential variable is set.
    pub fn has_credential(&self, name: &str) -> bool {
        self.credentials_present.iter().any(|c| c == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reads_the_contract() {
        let env = RunEnv::from_vars(vars(&[
            ("AXON_AGENT_TYPE", "codex"),
            ("AXON_MODEL", "gpt-5"),
            ("AXON_BASE_BRANCH", "main"),
            ("AXON_MODEL_BASE_URL", "http://127.0.0.1:9"),
            ("AXON_MODEL_MAX_RETRIES", "0"),
            ("OPENAI_API_KEY", "sk-secret"),
            ("AXON_TASK", ""),
            ("AXON_PROMPT_FILE", "/config/prompt.md"),
        ]))
        .expect("valid");
        assert_eq!(env.agent_type, Some(AgentType::Codex));
        assert_eq!(env.model.as_deref(), Some("gpt-5"));
        assert_eq!(env.task, None, "empty counts as unset");
        assert_eq!(env.prompt_file, Some(PathBuf::from("/config/prompt.md")));
        assert_eq!(env.model_max_retries, Some(0));
        assert!(env.has_credential("OPENAI_API_KEY"));
        assert_eq!(env.secrets, vec!["sk-secret".to_string()]);
    }

    #[test]
    fn rejects_unknown_agent_type_without_echoing_secrets() {
        let err = RunEnv::from_vars(vars(&[("AXON_AGENT_TYPE", "cursor")])).unwrap_err();
        assert!(err.to_string().contains("claude-code"), "{err}");
    }

    #[test]
    fn rejects_a_base_url_without_scheme() {
        let err = RunEnv::from_vars(vars(&[("AXON_MODEL_BASE_URL", "127.0.0.1:9")])).unwrap_err();
        assert!(err.to_string().contains("http://"), "{err}");
    }
}
