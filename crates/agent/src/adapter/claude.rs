//! Claude Code (`claude -p … --output-format stream-json`).
//!
//! * Prompt: standard input (`-p` without a prompt argument reads it to the end; checked with
//!   2.1.330 up to 10 MiB, delivered byte for byte).
//! * Instructions: `~/.claude/CLAUDE.md` (the user memory file; `CLAUDE_CONFIG_DIR` points at
//!   `~/.claude` so it is read from the private home).
//! * Plugins: each AgentConfig plugin becomes a Claude Code plugin directory under
//!   `~/.axon/claude-plugins/<plugin>` with a `.claude-plugin/plugin.json` manifest, its
//!   `skills/` and `agents/` as given, passed with `--plugin-dir`. Everything is supported.
//! * Endpoint override: `ANTHROPIC_BASE_URL` (the endpoint root, without `/v1`).
//! * Retries: `CLAUDE_CODE_MAX_RETRIES`.

use axon_api::AgentType;

use super::{Adapter, AdapterInput, Setup, trim_url};

/// The Claude Code adapter.
pub struct ClaudeCode;

impl Adapter for ClaudeCode {
    fn agent_type(&self) -> AgentType {
        AgentType::ClaudeCode
    }

    fn setup(&self, input: &AdapterInput<'_>) -> Setup {
        let config_dir = input.home.join(".claude");
        let mut setup = Setup {
            program: "claude".into(),
            ..Default::default()
        };
        setup.args = vec![
            "-p".into(),
            "--output-format".into(),
            "stream-json".into(),
            "--verbose".into(),
            "--dangerously-skip-permissions".into(),
        ];
        if let Some(model) = input.model {
            setup.args.extend(["--model".into(), model.into()]);
        }
        for plugin in input.plugins {
            let dir = input.home.join(".axon/claude-plugins").join(&plugin.name);
            let manifest = serde_json::json!({
                "name": plugin.name,
                "version": "0.0.0",
                "description": format!("AgentConfig plugin {} (written by Axon)", plugin.name),
            });
            setup.file(
                dir.join(".claude-plugin/plugin.json"),
                format!("{:#}\n", manifest),
            );
            for skill in &plugin.skills {
                setup.file(
                    dir.join("skills").join(&skill.name).join("SKILL.md"),
                    skill.content.clone(),
                );
            }
            for agent in &plugin.agents {
                setup.file(
                    dir.join("agents").join(format!("{}.md", agent.name)),
                    agent.content.clone(),
                );
            }
            setup
                .args
                .extend(["--plugin-dir".into(), dir.display().to_string()]);
        }
        if let Some(md) = input.agents_md {
            setup.file(config_dir.join("CLAUDE.md"), md);
        }
        setup
            .env
            .insert("CLAUDE_CONFIG_DIR".into(), config_dir.display().to_string());
        if let Some(url) = input.model_base_url {
            let url = trim_url(url);
            let url = url.strip_suffix("/v1").unwrap_or(url);
            setup.env.insert("ANTHROPIC_BASE_URL".into(), url.into());
        }
        if input.is_root {
            setup.env.insert("IS_SANDBOX".into(), "1".into());
        }
        for (k, v) in [
            ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
            ("DISABLE_AUTOUPDATER", "1"),
            ("DISABLE_TELEMETRY", "1"),
            ("DISABLE_ERROR_REPORTING", "1"),
            ("DISABLE_BUG_COMMAND", "1"),
        ] {
            setup.env_defaults.insert(k.into(), v.into());
        }
        if let Some(n) = input.model_max_retries {
            setup
                .env_defaults
                .insert("CLAUDE_CODE_MAX_RETRIES".into(), n.to_string());
        }
        if !input.has_credential("ANTHROPIC_API_KEY")
            && !input.has_credential("CLAUDE_CODE_OAUTH_TOKEN")
        {
            setup.warnings.push(
                "neither ANTHROPIC_API_KEY nor CLAUDE_CODE_OAUTH_TOKEN is set: Claude Code will not be able to call the model".into(),
            );
        }
        setup
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_input;
    use super::*;

    #[test]
    fn full_setup() {
        let plugins = test_input::plugins();
        let creds = vec!["ANTHROPIC_API_KEY".to_string()];
        insta::assert_snapshot!(
            ClaudeCode
                .setup(&test_input::full(&plugins, &creds))
                .describe()
        );
    }

    #[test]
    fn minimal_setup_as_root() {
        let mut input = test_input::minimal(&[]);
        input.is_root = true;
        insta::assert_snapshot!(ClaudeCode.setup(&input).describe());
    }
}
