//! OpenCode (`opencode run --format json --auto`).
//!
//! * Prompt: standard input (`run` without a message reads it to the end when it is not a
//!   terminal; checked with 1.18.33 up to 10 MiB).
//! * Configuration through `OPENCODE_CONFIG_CONTENT` (auto-update and sharing off; with an
//!   endpoint override, an `axon` provider using `@ai-sdk/openai-compatible` whose
//!   `options.baseURL` is `<endpoint>/v1` and whose key is read from `OPENCODE_API_KEY`).
//! * Instructions: the global `~/.config/opencode/AGENTS.md`.
//! * Plugins: `~/.config/opencode/skills/<name>/SKILL.md` and
//!   `~/.config/opencode/agents/<name>.md` (OpenCode's native skills and sub-agents; supported).
//! * `XDG_*` directories are pinned inside the private home so nothing outside it is read.
//! * **Not supported:** `AXON_MODEL_MAX_RETRIES` (OpenCode has no retry setting).
//! * Models are `provider/model`; with an endpoint override a bare model name is served by the
//!   `axon` provider.

use axon_api::AgentType;

use super::{Adapter, AdapterInput, Setup, native_skills_and_agents, openai_base_url};

/// The OpenCode adapter.
pub struct OpenCode;

impl Adapter for OpenCode {
    fn agent_type(&self) -> AgentType {
        AgentType::Opencode
    }

    fn setup(&self, input: &AdapterInput<'_>) -> Setup {
        let config_home = input.home.join(".config");
        let dir = config_home.join("opencode");
        let mut setup = Setup {
            program: "opencode".into(),
            ..Default::default()
        };
        setup.args = vec![
            "run".into(),
            "--format".into(),
            "json".into(),
            "--auto".into(),
        ];

        let mut config = serde_json::json!({
            "$schema": "https://opencode.ai/config.json",
            "autoupdate": false,
            "share": "disabled",
        });
        let model = match (input.model_base_url, input.model) {
            (Some(url), model) => {
                let name = model
                    .map(|m| m.strip_prefix("axon/").unwrap_or(m))
                    .unwrap_or("default");
                if model.is_none() {
                    setup.warnings.push(
                        "AXON_MODEL_BASE_URL is set but AXON_MODEL is not: asking the endpoint for model \"default\"".into(),
                    );
                }
                config["provider"] = serde_json::json!({
                    "axon": {
                        "npm": "@ai-sdk/openai-compatible",
                        "name": "Axon model endpoint",
                        "options": {
                            "baseURL": openai_base_url(url),
                            "apiKey": "{env:OPENCODE_API_KEY}",
                        },
                        "models": { name: { "name": name } },
                    }
                });
                Some(format!("axon/{name}"))
            }
            (None, Some(model)) => Some(model.to_string()),
            (None, None) => None,
        };
        if let Some(model) = &model {
            config["model"] = model.clone().into();
            setup.args.extend(["--model".into(), model.clone()]);
        }
        setup
            .env
            .insert("OPENCODE_CONFIG_CONTENT".into(), config.to_string());

        if let Some(md) = input.agents_md {
            setup.file(dir.join("AGENTS.md"), md);
        }
        native_skills_and_agents(
            &mut setup,
            input.plugins,
            Some(&dir.join("skills")),
            Some(&dir.join("agents")),
            "OpenCode",
        );
        for (var, sub) in [
            ("XDG_CONFIG_HOME", ".config"),
            ("XDG_DATA_HOME", ".local/share"),
            ("XDG_STATE_HOME", ".local/state"),
            ("XDG_CACHE_HOME", ".cache"),
        ] {
            setup
                .env
                .insert(var.into(), input.home.join(sub).display().to_string());
        }
        for var in [
            "OPENCODE_DISABLE_AUTOUPDATE",
            "OPENCODE_DISABLE_SHARE",
            "OPENCODE_DISABLE_MODELS_FETCH",
            "OPENCODE_DISABLE_LSP_DOWNLOAD",
            "OPENCODE_DISABLE_DEFAULT_PLUGINS",
        ] {
            setup.env_defaults.insert(var.into(), "1".into());
        }
        if input.model_max_retries.is_some() {
            setup.warnings.push(
                "AXON_MODEL_MAX_RETRIES is not supported by OpenCode: using its own retry policy"
                    .into(),
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
        let creds = vec!["OPENCODE_API_KEY".to_string()];
        insta::assert_snapshot!(
            OpenCode
                .setup(&test_input::full(&plugins, &creds))
                .describe()
        );
    }

    #[test]
    fn minimal_setup() {
        let mut input = test_input::minimal(&[]);
        input.model = Some("anthropic/claude-sonnet-4-5");
        insta::assert_snapshot!(OpenCode.setup(&input).describe());
    }
}
