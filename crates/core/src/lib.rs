//! Axon's pure core. Everything that decides lives here and is tested without I/O:
//! run plans, the Task state machine, spawner decisions, cron schedules, prompt templates, and
//! the gateway's metering (model usage, prices, budgets).
//! Drivers (local, kubernetes) only observe and act.

pub mod agent_configs;
pub mod apply;
pub mod budget;
pub mod cancel;
pub mod cron;
pub mod deps;
pub mod deps_template;
pub mod egress;
pub mod fanout;
pub mod fanout_status;
pub mod gateway_plan;
pub mod gateway_token;
pub mod github_filter;
pub mod github_issue;
pub mod github_scope;
pub mod ownership;
pub mod plan;
pub mod pricing;
pub mod push_policy;
pub mod references;
pub mod results;
pub mod retry;
pub mod rfc3339;
pub mod run_request;
pub mod schedule;
pub mod spawn;
pub mod spawn_check;
pub mod spawn_command;
pub mod spawn_item;
pub mod spawn_memory;
pub mod spawn_name;
pub mod spawn_template;
pub mod spawner_budget;
pub mod spawner_rules;
pub mod spawner_window;
pub mod start_gate;
pub mod task_status;
pub mod template;
pub mod timeout;
pub mod ttl;
pub mod usage;
pub mod validate;
pub mod webhook;
