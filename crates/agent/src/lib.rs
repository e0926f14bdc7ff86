//! The agent runner (`axon agent run`): the one program both backends start inside the
//! sandbox or Pod. It configures an agent CLI (Claude Code, Codex, Gemini CLI, OpenCode) to run
//! headless and fully autonomous, runs it, streams its JSONL, and writes the results document
//! from its own parsing of that stream and from `git`: never from text the agent printed.
//!
//! * [`run`] / [`AgentRunArgs`]: the runner (environment contract in
//!   `docs/agent-image-interface.md`).
//! * [`adapter`]: one [`Adapter`] per agent type, pure, snapshot-tested.
//! * [`parse`] → [`Event`] → [`Outcome`]: stream parsing and the verdict.
//! * [`render_logs`] / [`LogRenderer`]: `axon logs` for people.

pub mod adapter;
pub mod env;
pub mod error;
pub mod event;
pub mod git;
pub mod github;
pub mod lines;
pub mod outcome;
pub mod parse;
pub mod plugins;
pub mod redact;
pub mod render;
pub mod runner;

pub use adapter::{Adapter, AdapterInput, Setup, adapter_for};
pub use axon_api::AgentType;
pub use error::AgentError;
pub use event::{Event, FinalResult};
pub use outcome::{Outcome, Verdict};
pub use render::{LogRenderer, render_logs};
pub use runner::{
    AgentRunArgs, EXIT_AGENT_FAILED, EXIT_RUNNER_FAILED, EXIT_SUCCESS, run, run_with_output,
};
