//! GitHub webhook deliveries, decided without I/O: whether a request is a delivery at all
//! ([`envelope`]), whether GitHub signed it with the spawner's secret ([`signature`]), what it
//! says ([`issues_event`], [`pull_request_event`], [`comment_event`] with its
//! [`comment_command`], [`check_event`] for CI remediation), who may command
//! ([`comment_policy`]) and which TaskSpawners it concerns ([`matching`]). The receiver in `axon serve --listen` only reads the request, the
//! secrets and the store, asks GitHub who a commenter is, and acts.

pub mod check_event;
pub mod comment_command;
pub mod comment_event;
pub mod comment_policy;
pub mod envelope;
pub mod issues_event;
pub mod matching;
pub mod pull_request_event;
pub mod signature;
