//! Which GitHub items a `githubIssues` source takes: its `types`, `state` and `labels` (all of
//! them). The poll asks GitHub to filter by state and labels and checks the types itself; a
//! webhook delivery carries one item that nobody filtered, so it is checked here in full.
//! `excludeLabels` is not a filter: the spawn decision (`crate::spawn`) must see excluded
//! items to run the needs-input loop, on both paths.

use crate::spawn_item::{ItemKind, ItemState, WorkItem};
use axon_api::{GitHubIssues, IssueState, ItemType};

/// Whether the source takes items of `kind` (`types`; none listed means issues).
pub fn wants_kind(filter: &GitHubIssues, kind: ItemKind) -> bool {
    match kind {
        ItemKind::Issue => filter.types.is_empty() || filter.types.contains(&ItemType::Issues),
        ItemKind::PullRequest => filter.types.contains(&ItemType::Pulls),
    }
}

/// Whether the source takes items in `state`.
pub fn wants_state(filter: &GitHubIssues, state: ItemState) -> bool {
    match filter.state {
        IssueState::All => true,
        IssueState::Open => state == ItemState::Open,
        IssueState::Closed => state == ItemState::Closed,
    }
}

/// Whether the source takes `item`: the kind, the state and every label of `labels`
/// (compared case-insensitively, as GitHub does).
pub fn accepts(filter: &GitHubIssues, item: &WorkItem) -> bool {
    wants_kind(filter, item.kind)
        && wants_state(filter, item.state)
        && item.has_all_labels(&filter.labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(kind: ItemKind, state: ItemState, labels: &[&str]) -> WorkItem {
        WorkItem {
            state,
            labels: labels.iter().map(|l| l.to_string()).collect(),
            ..WorkItem::github(1, kind, "t")
        }
    }

    #[test]
    fn kind_state_and_all_labels() {
        let filter = GitHubIssues {
            labels: vec!["bug".into(), "axon".into()],
            ..GitHubIssues::default()
        };
        let cases = [
            (
                "issue, open, both labels",
                item(ItemKind::Issue, ItemState::Open, &["Bug", "axon"]),
            ),
            (
                "issue, open, one label",
                item(ItemKind::Issue, ItemState::Open, &["bug"]),
            ),
            (
                "issue, closed",
                item(ItemKind::Issue, ItemState::Closed, &["bug", "axon"]),
            ),
            (
                "pull request",
                item(ItemKind::PullRequest, ItemState::Open, &["bug", "axon"]),
            ),
        ];
        let lines: Vec<String> = cases
            .iter()
            .map(|(what, i)| format!("{what}: {}", accepts(&filter, i)))
            .collect();
        insta::assert_snapshot!(lines.join("\n"), @r"
        issue, open, both labels: true
        issue, open, one label: false
        issue, closed: false
        pull request: false
        ");
        let all_pulls = GitHubIssues {
            state: IssueState::All,
            types: vec![ItemType::Pulls],
            ..GitHubIssues::default()
        };
        assert!(accepts(
            &all_pulls,
            &item(ItemKind::PullRequest, ItemState::Closed, &[])
        ));
        assert!(!accepts(
            &all_pulls,
            &item(ItemKind::Issue, ItemState::Open, &[])
        ));
        let closed = GitHubIssues {
            state: IssueState::Closed,
            types: vec![],
            ..GitHubIssues::default()
        };
        assert!(accepts(
            &closed,
            &item(ItemKind::Issue, ItemState::Closed, &[])
        ));
        assert!(!accepts(
            &closed,
            &item(ItemKind::Issue, ItemState::Open, &[])
        ));
    }
}
