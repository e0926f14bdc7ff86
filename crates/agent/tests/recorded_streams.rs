//! Streams recorded from the real CLIs (`tests/fixtures/recorded/`, written by
//! `AXON_RECORD_STREAMS=DIR cargo test -p axon-agent --test agent_clis`), parsed and rendered.
//!
//! Why: the hand-written samples in the unit tests cover every event kind; these pin down that
//! the parsers read what the pinned CLI versions actually print, success and API error alike.

use axon_agent::parse::{parser_for, reports_result};
use axon_agent::{AgentType, Outcome, render_logs};

fn recorded(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/recorded/{name}.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn fold(agent: AgentType, stream: &str) -> Outcome {
    let mut parser = parser_for(agent);
    let mut outcome = Outcome::default();
    for line in stream.lines() {
        for event in parser.parse_line(line) {
            outcome.apply(&event);
        }
    }
    outcome
}

fn render(agent: AgentType, stream: &str) -> String {
    let mut out = Vec::new();
    render_logs(stream.as_bytes(), agent, false, &mut out).expect("render");
    // Durations vary between recordings; the rest is stable.
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn successful_runs() {
    for agent in AgentType::ALL {
        let stream = recorded(agent.as_str());
        let outcome = fold(agent, &stream);
        let verdict = outcome.verdict(agent.as_str(), Some(0), reports_result(agent), "");
        assert!(verdict.success, "{agent}: {verdict:?}");
        let usage = outcome.usage();
        assert!(
            usage.input_tokens > 0 && usage.output_tokens > 0 && usage.turns > 0,
            "{agent}: {usage:?}"
        );
        assert_eq!(outcome.final_answer().as_deref(), Some("done"), "{agent}");
        assert!(outcome.tool_calls() >= 2, "{agent}: write + shell");
        insta::assert_snapshot!(format!("render_{}", agent.as_str()), render(agent, &stream));
    }
}

#[test]
fn api_errors_name_the_error() {
    for agent in AgentType::ALL {
        let stream = recorded(&format!("{}-api-error", agent.as_str()));
        let outcome = fold(agent, &stream);
        let verdict = outcome.verdict(agent.as_str(), Some(1), reports_result(agent), "");
        assert!(!verdict.success, "{agent}");
        let reason = verdict.reason.unwrap_or_default();
        assert!(
            reason.contains("scripted failure: model is on strike"),
            "{agent}: {reason}"
        );
        insta::assert_snapshot!(format!("reason_{}", agent.as_str()), reason);
    }
}

#[test]
fn raw_mode_is_the_stream() {
    for agent in AgentType::ALL {
        let stream = recorded(agent.as_str());
        let mut out = Vec::new();
        render_logs(stream.as_bytes(), agent, true, &mut out).expect("render");
        assert_eq!(String::from_utf8_lossy(&out), stream, "{agent}");
    }
}
