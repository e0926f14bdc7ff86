//! The AgentConfig: reusable agent instructions and plugins (skills, sub-agents).

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Agent instructions and plugins that Tasks reference with `agentConfigRef`.
#[derive(
    CustomResource, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema,
)]
#[kube(
    group = "axon.io",
    version = "v1alpha1",
    kind = "AgentConfig",
    plural = "agentconfigs",
    namespaced,
    derive = "PartialEq",
    shortname = "ac",
    category = "axon",
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
pub struct AgentConfigSpec {
    /// Agent instructions, written to the agent's user-level instructions file
    /// (Claude Code: `~/.claude/CLAUDE.md`), additive with the repository's own files.
    #[serde(default, rename = "agentsMD", skip_serializing_if = "Option::is_none")]
    pub agents_md: Option<String>,
    /// Plugins: named bundles of skills and sub-agents.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plugins: Vec<Plugin>,
}

/// A plugin: a directory of skills and sub-agents.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Plugin {
    /// Plugin name (used as directory name and namespace).
    pub name: String,
    /// Skills; each becomes `skills/<name>/SKILL.md`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skills: Vec<PluginSkill>,
    /// Sub-agents; each becomes `agents/<name>.md`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agents: Vec<PluginAgent>,
}

/// A skill of a plugin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PluginSkill {
    /// Skill name (becomes `skills/<name>/SKILL.md`).
    pub name: String,
    /// Skill content (markdown with frontmatter).
    pub content: String,
}

/// A sub-agent of a plugin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PluginAgent {
    /// Agent name (becomes `agents/<name>.md`).
    pub name: String,
    /// Agent content (markdown with frontmatter).
    pub content: String,
}
