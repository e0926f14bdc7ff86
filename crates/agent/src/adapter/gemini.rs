//! Google Gemini CLI (`gemini --output-format stream-json --yolo`, the prompt on standard input).
//!
//! * Prompt: standard input. Gemini CLI runs headless when standard input is not a terminal
//!   and takes what it reads there as the prompt; no `-p` is needed (with `-p` its value would
//!   be appended to the input). Two limits of its own (checked in 0.61.0's source and by running
//!   it), which [`Gemini::check_prompt`] turns into a clear refusal:
//!   it reads at most 8 MiB of standard input and silently drops the rest; and before calling
//!   the model it estimates the prompt's tokens (a quarter of its UTF-16 length when longer than
//!   100 000) and, over the model's context window (1 048 576 tokens; 256 000 for Gemma 4),
//!   sends nothing yet reports `"status":"success"`.
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
        setup.args = vec![
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

    fn check_prompt(&self, prompt: &str, model: Option<&str>) -> Result<(), String> {
        let window = context_window(model);
        let tokens = estimated_tokens(prompt);
        if tokens > window {
            return Err(format!(
                "it is about {tokens} tokens by Gemini CLI's own estimate, over the model's context window of {window} tokens; Gemini CLI would not call the model and still report success: shorten the prompt"
            ));
        }
        if prompt.len() > STDIN_LIMIT {
            return Err(format!(
                "it is {} bytes and Gemini CLI reads at most 8 MiB ({STDIN_LIMIT} bytes) of it from standard input, dropping the rest: shorten the prompt",
                prompt.len()
            ));
        }
        Ok(())
    }
}

/// The most Gemini CLI reads from standard input (`readStdin`'s `MAX_STDIN_SIZE`).
const STDIN_LIMIT: usize = 8 * 1024 * 1024;

/// Gemini CLI's `tokenLimit(model)`.
fn context_window(model: Option<&str>) -> u64 {
    match model {
        Some("gemma-4-31b-it" | "gemma-4-26b-a4b-it") => 256_000,
        _ => 1_048_576,
    }
}

/// Gemini CLI's `estimateTextTokens`: over 100 000 UTF-16 units, a quarter of the length;
/// else a quarter token per ASCII unit and 1.5 per other unit. Rounded down.
fn estimated_tokens(text: &str) -> u64 {
    let units: Vec<u16> = text.encode_utf16().collect();
    if units.len() > 100_000 {
        return units.len() as u64 / 4;
    }
    let quarters: u64 = units.iter().map(|u| if *u <= 127 { 1 } else { 6 }).sum();
    quarters / 4
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

    #[test]
    fn prompts_gemini_cli_would_skip_or_cut_are_refused() {
        // Just inside the window: 4 * 1 048 576 ASCII characters.
        let inside = "a".repeat(4 * 1_048_576 + 3);
        assert_eq!(Gemini.check_prompt(&inside, Some("gemini-2.5-pro")), Ok(()));
        let over = "a".repeat(4 * 1_048_576 + 4);
        let reason = Gemini
            .check_prompt(&over, None)
            .expect_err("over the window");
        assert!(
            reason.contains("context window of 1048576 tokens"),
            "{reason}"
        );
        // Gemma 4 has a smaller window.
        let reason = Gemini
            .check_prompt(&"a".repeat(1_200_000), Some("gemma-4-31b-it"))
            .expect_err("over Gemma's window");
        assert!(reason.contains("256000"), "{reason}");
        // 9 MiB of three-byte characters: 3 Mi UTF-16 units fit the window, the bytes do not
        // fit standard input.
        let wide = "€".repeat(3 * 1024 * 1024);
        let reason = Gemini.check_prompt(&wide, None).expect_err("over 8 MiB");
        assert!(reason.contains("8 MiB"), "{reason}");
        // Short prompts are weighed per character.
        assert_eq!(estimated_tokens("abcd"), 1);
        assert_eq!(estimated_tokens("ééé"), 4);
    }
}
