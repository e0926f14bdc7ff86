//! One adapter per agent type, behind one trait. An adapter is pure: from what the driver asked
//! for ([`AdapterInput`]) it computes what to run and which files to write ([`Setup`]). The
//! runner does the I/O. Keeping this pure is what lets every CLI's configuration be reviewed as
//! a snapshot.
//!
//! **The prompt is never an argument.** The runner writes it to the CLI's standard input and
//! then closes it; every adapter's command reads its prompt from there (an argument is limited
//! to 128 KiB). [`Adapter::check_prompt`] refuses a prompt a CLI would silently cut or skip.

mod claude;
mod codex;
mod gemini;
mod opencode;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use axon_api::AgentType;
use serde::Serialize;

use crate::plugins::Plugin;

pub use claude::ClaudeCode;
pub use codex::Codex;
pub use gemini::Gemini;
pub use opencode::OpenCode;

/// What the driver asked for, as the adapter needs it. Holds no secret values.
#[derive(Clone, Debug)]
pub struct AdapterInput<'a> {
    /// The private, writable home directory.
    pub home: &'a Path,
    pub model: Option<&'a str>,
    /// `AXON_MODEL_BASE_URL`: the root of an API-compatible endpoint.
    pub model_base_url: Option<&'a str>,
    pub model_max_retries: Option<u32>,
    /// AgentConfig `agentsMD`.
    pub agents_md: Option<&'a str>,
    pub plugins: &'a [Plugin],
    /// Names of the credential variables that are set.
    pub credentials_present: &'a [String],
    /// Whether the runner runs as root (Claude Code refuses to skip permissions as root
    /// unless told it is sandboxed).
    pub is_root: bool,
}

impl AdapterInput<'_> {
    fn has_credential(&self, name: &str) -> bool {
        self.credentials_present.iter().any(|c| c == name)
    }
}

/// A file to write before the agent starts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConfigFile {
    pub path: PathBuf,
    pub contents: String,
}

/// How to run one agent CLI.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Setup {
    /// Executable name, looked up in `AXON_AGENT_BIN_DIR` or `PATH`.
    pub program: String,
    pub args: Vec<String>,
    /// Variables set for the agent, overriding the runner's environment.
    pub env: BTreeMap<String, String>,
    /// Variables set only when the runner's environment does not set them already, so that
    /// `spec.env` / `axon run --env` can override them.
    pub env_defaults: BTreeMap<String, String>,
    /// `(to, from)`: set `to` to the value of `from` when `to` is unset and `from` is set
    /// (credential aliases, without putting secret values in the setup).
    pub env_aliases: Vec<(String, String)>,
    pub files: Vec<ConfigFile>,
    /// Things the driver asked for that this CLI cannot do; printed at run time.
    pub warnings: Vec<String>,
}

impl Setup {
    /// A readable description (command, environment, files with their contents), for
    /// snapshots and debugging.
    pub fn describe(&self) -> String {
        let mut out = format!("$ {}", self.program);
        for arg in &self.args {
            out.push_str(&format!(" {arg:?}"));
        }
        out.push_str(" < prompt\n");
        for (k, v) in &self.env {
            out.push_str(&format!("env {k}={v}\n"));
        }
        for (k, v) in &self.env_defaults {
            out.push_str(&format!("env default {k}={v}\n"));
        }
        for (to, from) in &self.env_aliases {
            out.push_str(&format!("env alias {to} <- {from}\n"));
        }
        for w in &self.warnings {
            out.push_str(&format!("warning: {w}\n"));
        }
        for f in &self.files {
            out.push_str(&format!("\n--- {} ---\n{}", f.path.display(), f.contents));
            if !f.contents.ends_with('\n') {
                out.push('\n');
            }
        }
        out
    }

    fn file(&mut self, path: PathBuf, contents: impl Into<String>) {
        self.files.push(ConfigFile {
            path,
            contents: contents.into(),
        });
    }
}

/// An agent CLI: how to configure and run it headless and fully autonomous.
pub trait Adapter {
    /// The agent type this adapter runs.
    fn agent_type(&self) -> AgentType;
    /// Compute the command, environment and files for one run. The command reads the prompt
    /// from standard input.
    fn setup(&self, input: &AdapterInput<'_>) -> Setup;
    /// Why this CLI cannot take `prompt` with `model` (it would cut it or skip the model call
    /// while reporting success), or `Ok` when it can. The default takes any prompt the runner
    /// accepts.
    fn check_prompt(&self, prompt: &str, model: Option<&str>) -> Result<(), String> {
        let _ = (prompt, model);
        Ok(())
    }
}

/// The adapter for an agent type.
pub fn adapter_for(agent_type: AgentType) -> &'static dyn Adapter {
    match agent_type {
        AgentType::ClaudeCode => &ClaudeCode,
        AgentType::Codex => &Codex,
        AgentType::Gemini => &Gemini,
        AgentType::Opencode => &OpenCode,
    }
}

/// Base URL without trailing slashes.
fn trim_url(url: &str) -> &str {
    url.trim_end_matches('/')
}

/// The OpenAI-style base URL (`…/v1`) for an endpoint root; kept as is when it already ends
/// in `/v1`.
fn openai_base_url(url: &str) -> String {
    let url = trim_url(url);
    if url.ends_with("/v1") {
        url.to_string()
    } else {
        format!("{url}/v1")
    }
}

/// Write each plugin's skills and agents below `root` in the shared layout
/// (`skills/<name>/SKILL.md`, `agents/<name>.md`), the names prefixed by nothing: plugins
/// share one namespace, later plugins win on a clash (with a warning).
fn native_skills_and_agents(
    setup: &mut Setup,
    plugins: &[Plugin],
    skills_dir: Option<&Path>,
    agents_dir: Option<&Path>,
    cli: &str,
) {
    let mut seen_skills = BTreeMap::new();
    let mut seen_agents = BTreeMap::new();
    for plugin in plugins {
        for skill in &plugin.skills {
            match skills_dir {
                Some(dir) => {
                    if let Some(prev) = seen_skills.insert(skill.name.clone(), plugin.name.clone())
                    {
                        setup.warnings.push(format!(
                            "skill {:?} of plugin {:?} replaces the one of plugin {prev:?}: {cli} has one skill namespace",
                            skill.name, plugin.name
                        ));
                    }
                    setup.file(
                        dir.join(&skill.name).join("SKILL.md"),
                        skill.content.clone(),
                    );
                }
                None => setup.warnings.push(format!(
                    "skill {:?} of plugin {:?} is ignored: {cli} does not support skills",
                    skill.name, plugin.name
                )),
            }
        }
        for agent in &plugin.agents {
            match agents_dir {
                Some(dir) => {
                    if let Some(prev) = seen_agents.insert(agent.name.clone(), plugin.name.clone())
                    {
                        setup.warnings.push(format!(
                            "agent {:?} of plugin {:?} replaces the one of plugin {prev:?}: {cli} has one agent namespace",
                            agent.name, plugin.name
                        ));
                    }
                    setup.file(
                        dir.join(format!("{}.md", agent.name)),
                        agent.content.clone(),
                    );
                }
                None => setup.warnings.push(format!(
                    "sub-agent {:?} of plugin {:?} is ignored: {cli} has no Markdown sub-agents",
                    agent.name, plugin.name
                )),
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod test_input {
    use super::*;
    use crate::plugins::NamedDoc;

    pub fn plugins() -> Vec<Plugin> {
        vec![Plugin {
            name: "review".into(),
            skills: vec![NamedDoc {
                name: "lint".into(),
                content: "---\nname: lint\ndescription: Lint the code\n---\nRun the linter.\n"
                    .into(),
            }],
            agents: vec![NamedDoc {
                name: "critic".into(),
                content: "---\nname: critic\ndescription: Reviews diffs\n---\nBe critical.\n"
                    .into(),
            }],
        }]
    }

    /// A full input: model, endpoint override, instructions and a plugin.
    pub fn full<'a>(plugins: &'a [Plugin], creds: &'a [String]) -> AdapterInput<'a> {
        AdapterInput {
            home: Path::new("/home/agent"),
            model: Some("test-model"),
            model_base_url: Some("http://127.0.0.1:8080/"),
            model_max_retries: Some(0),
            agents_md: Some("Always run the tests.\n"),
            plugins,
            credentials_present: creds,
            is_root: false,
        }
    }

    /// The least a driver passes: a home.
    pub fn minimal<'a>(creds: &'a [String]) -> AdapterInput<'a> {
        AdapterInput {
            home: Path::new("/home/agent"),
            model: None,
            model_base_url: None,
            model_max_retries: None,
            agents_md: None,
            plugins: &[],
            credentials_present: creds,
            is_root: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_base_url_appends_v1_once() {
        assert_eq!(openai_base_url("http://h:1"), "http://h:1/v1");
        assert_eq!(openai_base_url("http://h:1/v1/"), "http://h:1/v1");
    }
}
