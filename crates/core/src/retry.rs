//! `backoffLimit` on the local backend, with the rule a Kubernetes Job applies: a run that
//! failed is run again, from a fresh work tree, until `backoffLimit` retries are used up; a run
//! the platform ended (timeout, cancel, a stopped runner, a budget) is not retried — a timeout covers
//! every attempt, as `activeDeadlineSeconds` does.

use crate::results::ResultsDocument;
use crate::task_status::{EndCause, verdict};

/// Whether attempt `attempt` (0 for the first run) of a Task allowing `retries` retries is
/// run again after this end; `Some(message)` says so in status while it waits.
pub fn retry_after(
    (attempt, retries): (i32, i32),
    results: Option<&ResultsDocument>,
    exit_code: Option<i32>,
    cause: Option<&EndCause>,
) -> Option<String> {
    if cause.is_some() || attempt >= retries {
        return None;
    }
    let (ok, _, message) = verdict(results, exit_code, None);
    (!ok).then(|| {
        format!(
            "retrying (attempt {} of {}, backoffLimit {retries}) after: {message}",
            attempt + 2,
            retries + 1
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed() -> ResultsDocument {
        ResultsDocument {
            failure_reason: Some("flaky.sh exited with code 1".into()),
            exit_code: Some(1),
            ..Default::default()
        }
    }

    #[test]
    fn a_failed_run_is_retried_until_the_limit() {
        assert_eq!(
            retry_after((0, 2), Some(&failed()), Some(1), None).as_deref(),
            Some(
                "retrying (attempt 2 of 3, backoffLimit 2) after: agent failed (exit code 1): flaky.sh exited with code 1"
            )
        );
        assert!(retry_after((1, 2), Some(&failed()), Some(1), None).is_some());
        assert!(retry_after((2, 2), Some(&failed()), Some(1), None).is_none());
        assert!(retry_after((0, 0), Some(&failed()), Some(1), None).is_none());
    }

    #[test]
    fn success_and_platform_ends_are_not_retried() {
        let ok = ResultsDocument {
            success: true,
            exit_code: Some(0),
            ..Default::default()
        };
        assert!(retry_after((0, 3), Some(&ok), Some(0), None).is_none());
        for cause in [
            EndCause::Timeout { seconds: 5 },
            EndCause::Cancelled {
                by: "axon cancel".into(),
            },
            EndCause::RunnerStopped { seconds: 10 },
            EndCause::BudgetExceeded {
                message: "Axon budget exceeded: maxTurns 1 reached (1 model requests)".into(),
            },
        ] {
            assert!(retry_after((0, 3), Some(&failed()), Some(1), Some(&cause)).is_none());
        }
    }
}
