//! A Task's deadline on Kubernetes (`activeDeadlineSeconds`): the Task's `timeoutSeconds`, else
//! the controller's default (`AXON_DEFAULT_TIMEOUT_SECONDS`, 4 h unless set; `0`: none) — the
//! rule itself is `axon_core::timeout::effective_timeout`, shared with the local backend.

use axon_api::Task;

/// Environment variable of the controller holding the default timeout in seconds.
pub const DEFAULT_TIMEOUT_ENV: &str = "AXON_DEFAULT_TIMEOUT_SECONDS";
pub use axon_core::timeout::DEFAULT_TIMEOUT_SECONDS;

/// The deadline of `task`: its `timeoutSeconds` (`0`: none), else `default` (`0`: none).
pub fn effective_timeout(task: &Task, default: i64) -> Option<i64> {
    axon_core::timeout::effective_timeout(task.spec.timeout_seconds, Some(default))
        .and_then(|s| i64::try_from(s).ok())
}

/// Parse the controller's default (`None`: unset, so [`DEFAULT_TIMEOUT_SECONDS`]).
pub fn parse_default_timeout(value: Option<&str>) -> Result<i64, String> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(DEFAULT_TIMEOUT_SECONDS),
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n >= 0 => Ok(n),
            _ => Err(format!(
                "{DEFAULT_TIMEOUT_ENV}={v:?} is not a number of seconds (0 or more; 0 means no default timeout)"
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axon_api::{AgentType, CredentialType, Credentials, SecretReference, TaskSpec};

    fn task(timeout: Option<i64>) -> Task {
        Task::new(
            "t",
            TaskSpec {
                type_: AgentType::Codex,
                prompt: "p".into(),
                credentials: Credentials {
                    type_: CredentialType::ApiKey,
                    secret_ref: SecretReference { name: "k".into() },
                },
                model: None,
                image: None,
                workspace_ref: None,
                agent_config_refs: Vec::new(),
                agent_config_ref: None,
                ttl_seconds_after_finished: None,
                timeout_seconds: timeout,
                backoff_limit: None,
                model_base_url: None,
                env: vec![],
                depends_on: vec![],
                branch: None,
                budget: None,
                network: None,
                policy: None,
                pricing: vec![],
            },
        )
    }

    #[test]
    fn task_timeout_wins_then_default_and_zero_means_none() {
        assert_eq!(effective_timeout(&task(Some(60)), 14400), Some(60));
        assert_eq!(effective_timeout(&task(None), 14400), Some(14400));
        assert_eq!(effective_timeout(&task(None), 0), None);
        assert_eq!(effective_timeout(&task(Some(0)), 14400), None);
    }

    #[test]
    fn default_parses_or_says_what_is_wrong() {
        assert_eq!(parse_default_timeout(None), Ok(DEFAULT_TIMEOUT_SECONDS));
        assert_eq!(parse_default_timeout(Some("")), Ok(DEFAULT_TIMEOUT_SECONDS));
        assert_eq!(parse_default_timeout(Some("0")), Ok(0));
        assert_eq!(parse_default_timeout(Some("600")), Ok(600));
        let e = parse_default_timeout(Some("4h")).unwrap_err();
        assert!(e.contains("AXON_DEFAULT_TIMEOUT_SECONDS"), "{e}");
        assert!(parse_default_timeout(Some("-1")).is_err());
    }
}
