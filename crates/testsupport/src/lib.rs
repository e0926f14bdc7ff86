//! Test support for Axon's tests: real servers on 127.0.0.1, each bounded in time and stopped
//! when dropped. Nothing here reaches beyond loopback.
//!
//! * [`model_server`]: a scripted fake model server speaking the Anthropic Messages, OpenAI
//!   Responses, OpenAI Chat Completions and Gemini `streamGenerateContent` APIs (SSE).
//! * [`github_server`]: a fake GitHub REST server (issues, pulls, labels, comments, pagination,
//!   ETag/304, rate limiting) with a request log.
//! * [`github_replay`]: replays recorded real GitHub responses (`@octokit/fixtures`, or
//!   hand-captured ones).
//! * [`git_server`]: a bare repository served by `git daemon` on 127.0.0.1.
//! * [`git_http_server`]: the same seed served over smart HTTP (`git http-backend`) behind a
//!   token check, like GitHub.
//! * [`kube_plane`]: a real kube-apiserver and kube-controller-manager (`../shared/kube/up.sh`).
//! * [`kubelet`]: a test kubelet for it: Pod states by hand, or Pods run as host processes.
//! * [`bench`]: what the benchmarks share (milliseconds, percentiles).

mod bare_repo;
pub mod bench;
pub mod git_http_server;
pub mod git_server;
pub mod github_replay;
pub mod github_server;
pub mod kube_plane;
pub mod kubelet;
pub mod model_server;
mod serve;
pub mod webhook_examples;
