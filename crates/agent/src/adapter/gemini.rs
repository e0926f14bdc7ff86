//! Google Gemini CLI (`gemini --prompt=… --output-format stream-json --yolo`).
//!
//! * Everything lives in `~/.gemini`: `settings.json` (API-key auth, folder trust off, usage
//!   statistics, telemetry and auto-update off), `GEMINI.md` (instructions),
//!   `skills/<name>/SKILL.md` and `agents/<name>.md` (plugins: Gemini CLI's native Agent
//!   Skills and local sub-agents, both supported).
//! * Endpoint override: `GOOGLE_GEMINI_BASE_URL` (the endpoint root).
//! * Retries: `general.maxAttempts` (retries + 1, at most 10).
//! * Without `AXON_MODEL` the CLI picks its model itself (an extra routing request).

use axon_api::AgentType;

use super::{Adapter, AdapterInput, Setup, native_skills_and_agents, trim_url};

/// The Gemini CLI adapter.
pub struct Gemini;

impl Adapter for Gemini {
    fn agent_type(&self) -> AgentType {
        AgentType::Gemini
    }

    fn setup(&self, input: &AdapterInput<'_>) -> Setup {
        let dir = input.home.join(".gemini");
        let mut setup = Setup {
            program: "gemini".into(),
            ..Default::default()
        };
        // `--prompt=VALUE` in one argument: a prompt starting with `-` stays a value.
        setup.args = vec![
            format!("--prompt={}", input.prompt),
            "--output-format".into(),
            "stream-json".into(),
            "--yolo".into(),
        ];
        if let Some(model) = input.model {
            setup.args.push(format!("--model={model}"));
        }

        let mut general = serde_json::json!({
            "enableAutoUpdate": false,
            "enableAutoUpdateNotification": false,
        });
        if let Some(n) = input.model_max_retries {
            general["maxAttempts"] = (n.saturating_add(1).min(10)).into();
        }
        let settings = serde_json::json!({
            "general": general,
            "security": {
                "auth": { "selectedType": "gemini-api-key" },
                "folderTrust": { "enabled": false },
            },
            "privacy": { "usageStatisticsEnabled": false },
            "telemetry": { "enabled": false },
        });
        setup.file(dir.join("settings.json"), format!("{settings:#}\n"));
        if let Some(md) = input.agents_md {
            setup.file(dir.join("GEMINI.md"), md);
        }
        native_skills_and_agents(
            &mut setup,
            input.plugins,
            Some(&dir.join("skills")),
            Some(&dir.join("agents")),
            "Gemini CLI",
        );
        if let Some(url) = input.model_base_url {
            setup
                .env
                .insert("GOOGLE_GEMINI_BASE_URL".into(), trim_url(url).into());
        }
        setup
            .env_aliases
            .push(("GEMINI_API_KEY".into(), "GOOGLE_API_KEY".into()));
        if !input.has_credential("GEMINI_API_KEY") && !input.has_credential("GOOGLE_API_KEY") {
            setup.warnings.push(
                "GEMINI_API_KEY is not set: Gemini CLI will not be able to call the model".into(),
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
        let creds = vec!["GEMINI_API_KEY".to_string()];
        insta::assert_snapshot!(Gemini.setup(&test_input::full(&plugins, &creds)).describe());
    }

    #[test]
    fn minimal_setup() {
        insta::assert_snapshot!(Gemini.setup(&test_input::minimal(&[])).describe());
    }
}
