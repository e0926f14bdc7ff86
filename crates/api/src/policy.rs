//! What an agent may do on its repository (`spec.policy`, also on a TaskSpawner's
//! `taskTemplate`): today, the branches it may never push.
//!
//! Why a module of its own: the gateway reads each `git push` through it and refuses updates of
//! the base branch and of every branch matching `protectedBranches`. A pattern that can never
//! match a branch (a `refs/heads/` prefix, a character git refuses in branch names) would
//! leave the branch unprotected without a word, so the loader and the CRD refuse it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The most `protectedBranches` patterns.
pub const MAX_PROTECTED_BRANCHES: usize = 256;
/// A `protectedBranches` entry: none of the characters git refuses in a branch name except
/// `*` (the glob), no leading `-` or `/`, as an OpenAPI `pattern`; the rest of
/// `git check-ref-format` is checked by the loader.
pub const BRANCH_PATTERN_PATTERN: &str = r"^[^-/\x00-\x20\x7f~^:?\[\\][^\x00-\x20\x7f~^:?\[\\]*$";

/// `spec.policy`: limits on what the agent may do to its repository, enforced by the gateway.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    /// Branches the agent may never push, as globs over branch names (`main`, `release/*`;
    /// `*` matches within one `/`-separated segment, `**` across segments). The base branch
    /// (the Workspace's `ref`, else the repository's default branch) is always protected.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256))]
    #[schemars(inner(length(min = 1, max = 1024), regex(pattern = BRANCH_PATTERN_PATTERN)))]
    pub protected_branches: Vec<String>,
}

/// One `protectedBranches` pattern: a branch name git accepts, where `*` may stand for parts.
pub fn check_branch_pattern(pattern: &str) -> Result<(), String> {
    const SHAPE: &str =
        "a branch name where '*' matches within a segment and '**' across segments, e.g. release/*";
    if pattern.is_empty() {
        return Err(format!("is empty: write {SHAPE}"));
    }
    if let Some(rest) = pattern.strip_prefix("refs/heads/") {
        return Err(format!(
            "{pattern:?} starts with refs/heads/: patterns match branch names, write {rest:?}"
        ));
    }
    if pattern.starts_with('-') {
        return Err(format!(
            "{pattern:?} starts with '-': no branch name does ({SHAPE})"
        ));
    }
    // `*` is the glob; everything else must be what git accepts in a branch name.
    match crate::rules::git_ref_problem(pattern, true) {
        None => Ok(()),
        Some(why) => Err(format!(
            "{pattern:?} can never match a branch: {why} ({SHAPE})"
        )),
    }
}

/// Every broken rule of `policy`: (field under `policy`, reason).
pub fn policy_violations(p: &Policy) -> Vec<(String, String)> {
    if p.protected_branches.len() > MAX_PROTECTED_BRANCHES {
        return vec![(
            "protectedBranches".into(),
            format!(
                "has {} patterns: at most {MAX_PROTECTED_BRANCHES} (use globs such as release/* to cover many branches)",
                p.protected_branches.len()
            ),
        )];
    }
    p.protected_branches
        .iter()
        .enumerate()
        .filter_map(|(i, b)| {
            check_branch_pattern(b)
                .err()
                .map(|r| (format!("protectedBranches[{i}]"), r))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_names_and_globs_are_accepted() {
        for ok in [
            "main",
            "release/*",
            "release/**",
            "**",
            "*",
            "hotfix-*",
            "team/*/stable",
            "v1.2",
        ] {
            assert!(check_branch_pattern(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn patterns_that_never_match_are_refused() {
        let lines: Vec<String> = [
            "",
            "refs/heads/main",
            "-main",
            "a b",
            "a..b",
            "feature/",
            "/main",
            "x.lock",
            "a~1",
            "a:b",
            "a?",
            "a[0-9]",
            "back\\slash",
            "@",
        ]
        .iter()
        .map(|p| format!("{p:?}: {}", check_branch_pattern(p).expect_err(p)))
        .collect();
        insta::assert_snapshot!(lines.join("\n"));
    }

    #[test]
    fn violations_name_the_entry() {
        let p = Policy {
            protected_branches: vec!["main".into(), "".into(), "a b".into()],
        };
        let v: Vec<String> = policy_violations(&p).into_iter().map(|(f, _)| f).collect();
        assert_eq!(v, ["protectedBranches[1]", "protectedBranches[2]"]);
    }
}
