//! The timeout a Task runs under, decided once for both backends: the Task's
//! `spec.timeoutSeconds`, else the default from the config file (`timeoutSeconds`), else
//! [`DEFAULT_TIMEOUT_SECONDS`]. `0` in either place means no timeout, explicitly; without a
//! default an agent stuck on a prompt it cannot finish would hold a slot (and a model budget)
//! forever.

/// The timeout of a Task that sets none, when the config file sets none either: 4 hours.
pub const DEFAULT_TIMEOUT_SECONDS: i64 = 14_400;

/// The timeout in seconds, `None` for no timeout. The Task's value wins over `default`; `0`
/// (in either) means none; neither set means [`DEFAULT_TIMEOUT_SECONDS`]. A negative value
/// (refused by the loader and the config file, so only from an old stored document) counts as
/// unset, so it never turns the timeout off.
pub fn effective_timeout(task: Option<i64>, default: Option<i64>) -> Option<u64> {
    let seconds = task
        .filter(|s| *s >= 0)
        .or(default.filter(|s| *s >= 0))
        .unwrap_or(DEFAULT_TIMEOUT_SECONDS);
    u64::try_from(seconds).ok().filter(|s| *s > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_wins_zero_means_none_default_is_four_hours() {
        assert_eq!(effective_timeout(None, None), Some(14_400));
        assert_eq!(effective_timeout(Some(60), None), Some(60));
        assert_eq!(effective_timeout(Some(60), Some(600)), Some(60));
        assert_eq!(effective_timeout(None, Some(600)), Some(600));
        assert_eq!(effective_timeout(Some(0), Some(600)), None);
        assert_eq!(effective_timeout(None, Some(0)), None);
        assert_eq!(effective_timeout(Some(60), Some(0)), Some(60));
        assert_eq!(effective_timeout(Some(0), None), None);
    }

    #[test]
    fn negative_counts_as_unset() {
        assert_eq!(effective_timeout(Some(-5), None), Some(14_400));
        assert_eq!(effective_timeout(Some(-5), Some(30)), Some(30));
        assert_eq!(effective_timeout(None, Some(-1)), Some(14_400));
    }
}
