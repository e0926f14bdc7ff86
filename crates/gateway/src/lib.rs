//! The Axon gateway. An agent holds no real credential: it gets a per-Task gateway token and
//! base URLs (and an HTTP proxy) that point here. The gateway maps the token to its Task,
//! injects the real model or GitHub credential, forwards to the real upstream and streams the
//! answer back unchanged, while it meters tokens, refuses calls over the Task's budget, admits
//! only allowed destinations, and records every request. What it measures cannot be forged by
//! the agent, because the agent never touches it.
//!
//! Library API: [`Gateway::new`] (or [`Gateway::builder`]) with [`Grants`] and an
//! [`AuditSink`]; [`Gateway::serve_tcp`] / [`Gateway::serve_unix`] give a [`Server`];
//! [`Gateway::events`] and [`Gateway::usage`] are for the driver.
//!
//! Design: see the "Gateway" section of the README.

pub mod api_error;
pub mod audit;
pub mod body;
pub mod ca;
mod connect;
pub mod events;
mod forward_proxy;
pub mod gateway;
pub mod github;
pub mod grant;
pub mod headers;
pub mod hooks;
pub mod intercept;
pub mod metering;
pub mod model_proxy;
mod observed_body;
pub mod proxy;
mod proxy_caller;
mod relay;
pub mod run_state;
pub mod server;
pub mod state;
mod upstream;

pub use audit::{AuditRecord, AuditSink, Decision, JsonlSink, MemorySink, NullSink, RequestKind};
pub use body::Body;
pub use ca::TaskCa;
pub use events::GatewayEvent;
pub use gateway::{Gateway, GatewayBuilder, GatewayError, UpstreamClient};
pub use grant::{
    GitHubGrant, Grants, ModelRoute, Network, Secret, StaticGrants, TaskGrant, TaskRef, new_token,
};
pub use hooks::{NoProxy, ProxyHooks};
pub use intercept::serve_intercepted;
pub use metering::{BudgetLimits, PriceTable, UsageTotals};
pub use proxy::Proxy;
pub use run_state::{RUN_STATE_PATH, RunState};
pub use server::Server;
pub use state::TaskState;
