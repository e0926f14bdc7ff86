//! GitHub's REST representation of an issue or pull request, and the [`WorkItem`] it makes.
//!
//! The issue listing the poll reads (`GET /repos/{o}/{r}/issues`) and the `issue` object of an
//! `issues` webhook delivery are the same representation, so both paths build their items
//! here: an issue found by a poll and the same issue delivered by a webhook make identical
//! items, and so the same Task name and the same prompt.

use crate::spawn_item::{ItemKind, ItemState, WorkItem};
use serde::Deserialize;

/// A label as GitHub sends it (only its name matters).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ApiLabel {
    /// The label's name.
    pub name: String,
}

/// An issue or pull request as GitHub's REST API and webhooks send it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ApiIssue {
    /// The issue number.
    pub number: u64,
    /// The title.
    pub title: String,
    /// The body (`null` when empty).
    #[serde(default)]
    pub body: Option<String>,
    /// `open` or `closed`.
    pub state: String,
    /// The issue's page.
    pub html_url: String,
    /// Its labels, in GitHub's order.
    #[serde(default)]
    pub labels: Vec<ApiLabel>,
    /// How many comments it has.
    #[serde(default)]
    pub comments: u64,
    /// When it last changed (RFC 3339).
    #[serde(default)]
    pub updated_at: String,
    /// Present on pull requests only.
    #[serde(default)]
    pub pull_request: Option<serde_json::Value>,
}

impl ApiIssue {
    /// Issue or pull request.
    pub fn kind(&self) -> ItemKind {
        if self.pull_request.is_some() {
            ItemKind::PullRequest
        } else {
            ItemKind::Issue
        }
    }

    /// The work item, without comments (fetched separately, only when a prompt wants them).
    pub fn into_work_item(self) -> WorkItem {
        let kind = self.kind();
        WorkItem {
            updated_at: crate::rfc3339::parse(&self.updated_at),
            body: self.body.unwrap_or_default(),
            url: self.html_url,
            labels: self.labels.into_iter().map(|l| l.name).collect(),
            state: if self.state == "open" {
                ItemState::Open
            } else {
                ItemState::Closed
            },
            ..WorkItem::github(self.number, kind, self.title)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issue_makes_its_item() {
        let issue: ApiIssue = serde_json::from_str(
            r#"{"number": 7, "title": "Crash", "body": null, "state": "closed",
                "html_url": "https://github.com/o/r/issues/7", "labels": [{"name": "bug", "color": "f00"}],
                "comments": 2, "updated_at": "2026-01-02T03:04:05Z", "pull_request": {"url": "x"}}"#,
        )
        .expect("parses");
        insta::assert_yaml_snapshot!(issue.into_work_item(), @r#"
        id: "7"
        number: 7
        title: Crash
        body: ""
        url: "https://github.com/o/r/issues/7"
        labels:
          - bug
        comments: ""
        kind: PR
        time: ~
        schedule: ""
        state: Closed
        updated_at: "2026-01-02T03:04:05Z"
        fields: {}
        "#);
    }
}
