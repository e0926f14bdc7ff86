//! What `axon apply` did to a resource, decided the same way on both backends.

use serde_json::Value;
use std::fmt;

/// The outcome of applying one resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApplyOutcome {
    /// It did not exist and was created.
    Created,
    /// It existed and its spec (or labels/annotations) changed.
    Configured,
    /// It existed with the same spec.
    Unchanged,
}

impl fmt::Display for ApplyOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ApplyOutcome::Created => "created",
            ApplyOutcome::Configured => "configured",
            ApplyOutcome::Unchanged => "unchanged",
        })
    }
}

/// Compare the stored and the applied resource (as JSON): only `spec`, labels and annotations
/// count, so applying the same file twice is `unchanged`.
pub fn apply_outcome(stored: Option<&Value>, applied: &Value) -> ApplyOutcome {
    let Some(stored) = stored else {
        return ApplyOutcome::Created;
    };
    let same = |p: &str| stored.pointer(p) == applied.pointer(p);
    if same("/spec") && same("/metadata/labels") && same("/metadata/annotations") {
        ApplyOutcome::Unchanged
    } else {
        ApplyOutcome::Configured
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn outcome_depends_on_spec_and_labels_only() {
        let a = json!({"metadata": {"name": "x", "uid": "1"}, "spec": {"repo": "r"}, "status": {"phase": "Running"}});
        let b = json!({"metadata": {"name": "x"}, "spec": {"repo": "r"}});
        let c = json!({"metadata": {"name": "x"}, "spec": {"repo": "s"}});
        assert_eq!(apply_outcome(None, &b), ApplyOutcome::Created);
        assert_eq!(apply_outcome(Some(&a), &b), ApplyOutcome::Unchanged);
        assert_eq!(apply_outcome(Some(&a), &c), ApplyOutcome::Configured);
    }
}
