//! Types shared by several resources: agent types, credentials, references, conditions.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Which coding agent runs the Task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum AgentType {
    /// Anthropic Claude Code.
    #[serde(rename = "claude-code")]
    ClaudeCode,
    /// OpenAI Codex CLI.
    #[serde(rename = "codex")]
    Codex,
    /// Google Gemini CLI.
    #[serde(rename = "gemini")]
    Gemini,
    /// OpenCode.
    #[serde(rename = "opencode")]
    Opencode,
}

impl AgentType {
    /// Every agent type, in documentation order.
    pub const ALL: [AgentType; 4] = [
        AgentType::ClaudeCode,
        AgentType::Codex,
        AgentType::Gemini,
        AgentType::Opencode,
    ];

    /// The name used in YAML, flags and environment (`claude-code`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            AgentType::ClaudeCode => "claude-code",
            AgentType::Codex => "codex",
            AgentType::Gemini => "gemini",
            AgentType::Opencode => "opencode",
        }
    }
}

impl fmt::Display for AgentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for AgentType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AgentType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown agent type {s:?}: expected one of claude-code, codex, gemini, opencode"
                )
            })
    }
}

/// How the agent authenticates to its model provider.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum CredentialType {
    /// An API key (`ANTHROPIC_API_KEY`, `OPENAI_API_KEY`/`CODEX_API_KEY`, `GEMINI_API_KEY`, `OPENCODE_API_KEY`).
    #[default]
    #[serde(rename = "api-key")]
    ApiKey,
    /// An OAuth token (Claude Code: `CLAUDE_CODE_OAUTH_TOKEN`).
    #[serde(rename = "oauth")]
    Oauth,
}

impl CredentialType {
    /// The name used in YAML and flags.
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialType::ApiKey => "api-key",
            CredentialType::Oauth => "oauth",
        }
    }
}

impl std::str::FromStr for CredentialType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "api-key" => Ok(CredentialType::ApiKey),
            "oauth" => Ok(CredentialType::Oauth),
            other => Err(format!(
                "unknown credential type {other:?}: expected api-key or oauth"
            )),
        }
    }
}

/// The agent's credential: its type and the Secret that holds it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Credentials {
    /// `api-key` or `oauth`.
    #[serde(rename = "type")]
    pub type_: CredentialType,
    /// Secret holding the credential. The key is the agent's environment variable name
    /// (for example `ANTHROPIC_API_KEY` or `CLAUDE_CODE_OAUTH_TOKEN`).
    pub secret_ref: SecretReference,
}

/// A reference to a Secret in the same namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SecretReference {
    /// Name of the Secret (a DNS-1123 subdomain: lowercase letters, digits, `-` and `.`).
    #[schemars(length(min = 1, max = 253), regex(pattern = crate::rules::DNS1123_SUBDOMAIN_PATTERN))]
    pub name: String,
}

/// A reference to another Axon resource in the same namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LocalObjectReference {
    /// Name of the resource (a DNS-1123 subdomain: lowercase letters, digits, `-` and `.`).
    #[schemars(length(min = 1, max = 253), regex(pattern = crate::rules::DNS1123_SUBDOMAIN_PATTERN))]
    pub name: String,
}

/// An extra environment variable for the agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EnvVar {
    /// Variable name.
    pub name: String,
    /// Variable value. Do not put secrets here: they are stored in the spec as plain text.
    #[serde(default)]
    pub value: String,
}

/// A standard condition (`type`, `status`, `reason`, `message`, `lastTransitionTime`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Condition type, e.g. `Ready`, `Succeeded`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// One-word CamelCase reason.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// Human-readable detail.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// When the condition last changed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
    /// The spec generation the condition was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}
