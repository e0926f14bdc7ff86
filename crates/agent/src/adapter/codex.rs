//! OpenAI Codex (`codex exec --json … -`).
//!
//! * Prompt: standard input (`-` as the prompt argument). Codex 0.169.0 itself refuses
//!   prompts over 1 048 576 characters ("Input exceeds the maximum length of 1048576
//!   characters", exit 1) before calling the model; that message becomes the failure reason.
//! * Everything lives in `CODEX_HOME` (`~/.codex`): `config.toml`, `AGENTS.md` (instructions),
//!   `skills/<name>/SKILL.md` (plugin skills).
//! * **Not supported:** plugin sub-agents (`agents/<name>.md`): Codex has no Markdown
//!   sub-agents; they are skipped with a warning at run time.
//! * Endpoint override: a `[model_providers.axon]` provider (`wire_api = "responses"`,
//!   `base_url = <endpoint>/v1`) selected with `model_provider = "axon"`.
//! * Update checks, analytics, feedback and remote plugins are switched off in `config.toml`.

use axon_api::AgentType;

use super::{Adapter, AdapterInput, Setup, native_skills_and_agents, openai_base_url};

/// The Codex adapter.
pub struct Codex;

/// A TOML basic string. JSON string escapes are a subset of TOML's.
fn toml_str(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

impl Adapter for Codex {
    fn agent_type(&self) -> AgentType {
        AgentType::Codex
    }

    fn setup(&self, input: &AdapterInput<'_>) -> Setup {
        let codex_home = input.home.join(".codex");
        let mut setup = Setup {
            program: "codex".into(),
            ..Default::default()
        };
        setup.args = vec![
            "exec".into(),
            "--json".into(),
            "--dangerously-bypass-approvals-and-sandbox".into(),
            "--skip-git-repo-check".into(),
        ];
        if let Some(model) = input.model {
            setup.args.extend(["--model".into(), model.into()]);
        }
        // `-`: read the instructions from standard input.
        setup.args.push("-".into());

        // Which variable holds the key: Codex reads CODEX_API_KEY in `exec`; OPENAI_API_KEY is
        // accepted as an alias.
        let key_var =
            if input.has_credential("CODEX_API_KEY") || !input.has_credential("OPENAI_API_KEY") {
                "CODEX_API_KEY"
            } else {
                "OPENAI_API_KEY"
            };
        setup
            .env_aliases
            .push(("CODEX_API_KEY".into(), "OPENAI_API_KEY".into()));
        setup
            .env_aliases
            .push(("OPENAI_API_KEY".into(), "CODEX_API_KEY".into()));
        if !input.has_credential("CODEX_API_KEY") && !input.has_credential("OPENAI_API_KEY") {
            setup.warnings.push(
                "neither CODEX_API_KEY nor OPENAI_API_KEY is set: Codex will not be able to call the model".into(),
            );
        }

        let mut toml =
            String::from("# Written by axon agent run: headless, no update checks or analytics.\n");
        toml.push_str("check_for_update_on_startup = false\n");
        if let Some(model) = input.model {
            toml.push_str(&format!("model = {}\n", toml_str(model)));
        }
        if input.model_base_url.is_some() {
            toml.push_str("model_provider = \"axon\"\n");
        }
        toml.push_str("\n[analytics]\nenabled = false\n\n[feedback]\nenabled = false\n\n[features]\nplugins = false\n");
        if input.model_max_retries == Some(0) {
            toml.push_str("unbounded_connection_retries = false\n");
        }
        if let Some(url) = input.model_base_url {
            toml.push_str("\n[model_providers.axon]\nname = \"axon\"\n");
            toml.push_str(&format!("base_url = {}\n", toml_str(&openai_base_url(url))));
            toml.push_str(&format!("env_key = {}\n", toml_str(key_var)));
            toml.push_str("wire_api = \"responses\"\n");
            if let Some(n) = input.model_max_retries {
                toml.push_str(&format!(
                    "request_max_retries = {n}\nstream_max_retries = {n}\n"
                ));
            }
        }
        setup.file(codex_home.join("config.toml"), toml);
        if let Some(md) = input.agents_md {
            setup.file(codex_home.join("AGENTS.md"), md);
        }
        native_skills_and_agents(
            &mut setup,
            input.plugins,
            Some(&codex_home.join("skills")),
            None,
            "Codex",
        );
        setup
            .env
            .insert("CODEX_HOME".into(), codex_home.display().to_string());
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
        let creds = vec!["OPENAI_API_KEY".to_string()];
        insta::assert_snapshot!(Codex.setup(&test_input::full(&plugins, &creds)).describe());
    }

    #[test]
    fn minimal_setup() {
        insta::assert_snapshot!(
            Codex
                .setup(&test_input::minimal(&["CODEX_API_KEY".to_string()]))
                .describe()
        );
    }

    #[test]
    fn toml_strings_are_escaped() {
        assert_eq!(toml_str("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
    }
}
