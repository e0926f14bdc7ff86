//! The agent runner (`axon agent run`): the one program both backends start inside the
//! sandbox or Pod. It configures an agent CLI (Claude Code, Codex, Gemini CLI, OpenCode) to run
//! headless and fully autonomous, runs it, streams its JSONL, and writes the results document
//! from its own parsing of that stream and from `git`: never from text the agent printed.
//!
//! * [`run`] / [`AgentRunArgs`]: the runner (environment contract in
//!   `docs/agent-image-interface.md`).
//! * [`prompt`]: where the prompt comes from (`--prompt-file` / `AXON_PROMPT_FILE`, at most
//!   10 MiB); every built-in CLI reads it from standard input, a custom agent from a read-only
//!   `AXON_PROMPT_FILE` (and `$1` up to 100 KiB).
//! * [`adapter`]: one [`Adapter`] per agent type, pure, snapshot-tested.
//! * [`parse`] → [`Event`] → [`Outcome`]: stream parsing and the verdict.
//! * [`render_logs`] / [`LogRenderer`]: `axon logs` for people.
//!
//! What each agent supports (proven against the real, pinned CLIs in `tests/agent_clis.rs`):
//!
//! | | instructions (`agentsMD`) | plugin skills | plugin sub-agents | endpoint override | `AXON_MODEL_MAX_RETRIES` | cost |
//! |---|---|---|---|---|---|---|
//! | Claude Code | `~/.claude/CLAUDE.md` | `--plugin-dir` | `--plugin-dir` | `ANTHROPIC_BASE_URL` | yes | yes |
//! | Codex | `$CODEX_HOME/AGENTS.md` | `$CODEX_HOME/skills` | **no** (warned) | `[model_providers.axon]` | yes | no |
//! | Gemini CLI | `~/.gemini/GEMINI.md` | `~/.gemini/skills` | `~/.gemini/agents` | `GOOGLE_GEMINI_BASE_URL` | yes | no |
//! | OpenCode | `~/.config/opencode/AGENTS.md` | `~/.config/opencode/skills` | `~/.config/opencode/agents` | provider in `OPENCODE_CONFIG_CONTENT` | **no** (warned) | yes |
//!
//! `AXON_MODEL_BASE_URL` is the endpoint's root (`http://host:port`); the adapters add `/v1`
//! for the OpenAI-style clients (Codex, OpenCode) and strip it for Claude Code.

pub mod adapter;
pub mod collect;
pub mod env;
pub mod error;
pub mod event;
pub mod gateway_forward;
pub mod gateway_run;
pub mod git;
pub mod github;
pub mod lines;
pub mod outcome;
pub mod outside_git;
pub mod outside_push;
pub mod parse;
pub mod plugins;
pub mod prompt;
pub mod redact;
pub mod render;
pub mod runner;
pub mod setup_command;
pub mod wip;

pub use adapter::{Adapter, AdapterInput, Setup, adapter_for};
pub use axon_api::AgentType;
pub use error::{AgentError, OutsideGitError};
pub use event::{Event, FinalResult};
pub use outcome::{Outcome, Verdict};
pub use render::{LogRenderer, render_logs};
pub use runner::{
    AgentRunArgs, EXIT_AGENT_FAILED, EXIT_RUNNER_FAILED, EXIT_SUCCESS, run, run_with_output,
};
