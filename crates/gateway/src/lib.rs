//! The Axon gateway. An agent holds no real credential: it gets a per-Task gateway token and
//! base URLs (and an HTTP proxy) that point here. The gateway maps the token to its Task,
//! injects the real model or GitHub credential, forwards to the real upstream and streams the
//! answer back unchanged, while it meters tokens, refuses calls over the Task's budget, admits
//! only allowed destinations, and records every request. What it measures cannot be forged by
//! the agent, because the agent never touches it.
//!
//! Design: see the "Gateway" section of the README.

pub mod ca;
pub mod intercept;

pub use ca::TaskCa;
pub use intercept::serve_intercepted;
