//! The `issues` event: which action happened to which issue of which repository. The item is
//! built from the delivery's `issue` exactly as the poll builds it from the issue listing
//! ([`crate::github_issue`]), so both name the same Task and render the same prompt.
//!
//! Only the actions that can make an issue newly wanted by a spawner start anything:
//! `opened`, `reopened`, `labeled` and `unlabeled` (a removed `excludeLabels` label re-queues
//! an item that needed input). The others (`edited`, `assigned`, `closed`, …) are acknowledged
//! and ignored; the poll still sees their effects.

use crate::github_issue::ApiIssue;
use crate::spawn_item::WorkItem;
use serde::Deserialize;

/// Actions that may create a Task.
pub const TRIGGERING_ACTIONS: &[&str] = &["opened", "reopened", "labeled", "unlabeled"];

/// A delivery that is not an `issues` event GitHub would send.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a GitHub issues event: {0}")]
pub struct EventError(pub String);

#[derive(Deserialize)]
struct Repository {
    full_name: String,
}

#[derive(Deserialize)]
struct Payload {
    action: String,
    issue: ApiIssue,
    repository: Repository,
}

/// One `issues` delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuesEvent {
    /// `opened`, `labeled`, …
    pub action: String,
    /// `owner/repo` of the issue's repository.
    pub repository: String,
    /// The issue as a work item (without comments).
    pub item: WorkItem,
    /// How many comments the issue has (a prompt using `.Comments` needs them fetched).
    pub comments: u64,
}

impl IssuesEvent {
    /// Whether the action may create a Task ([`TRIGGERING_ACTIONS`]).
    pub fn triggers(&self) -> bool {
        TRIGGERING_ACTIONS.contains(&self.action.as_str())
    }
}

/// Reads an `issues` delivery's JSON body.
pub fn parse(body: &[u8]) -> Result<IssuesEvent, EventError> {
    let p: Payload = serde_json::from_slice(body).map_err(|e| EventError(e.to_string()))?;
    let comments = p.issue.comments;
    Ok(IssuesEvent {
        action: p.action,
        repository: p.repository.full_name,
        item: p.issue.into_work_item(),
        comments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPENED: &str = r#"{
      "action": "opened",
      "issue": {"number": 1, "title": "Spelling error in the README file",
        "body": "It looks like you accidently spelled 'commit' with two 't's.",
        "state": "open", "html_url": "https://github.com/Codertocat/Hello-World/issues/1",
        "labels": [{"id": 1362934389, "name": "bug"}], "comments": 0,
        "updated_at": "2019-05-15T15:20:18Z", "user": {"login": "Codertocat"}},
      "repository": {"full_name": "Codertocat/Hello-World"},
      "sender": {"login": "Codertocat"}
    }"#;

    #[test]
    fn an_opened_issue() {
        let e = parse(OPENED.as_bytes()).expect("parses");
        assert!(e.triggers());
        assert_eq!(e.repository, "Codertocat/Hello-World");
        insta::assert_yaml_snapshot!(e.item, @r#"
        id: "1"
        number: 1
        title: Spelling error in the README file
        body: "It looks like you accidently spelled 'commit' with two 't's."
        url: "https://github.com/Codertocat/Hello-World/issues/1"
        labels:
          - bug
        comments: ""
        kind: Issue
        time: ~
        schedule: ""
        state: Open
        updated_at: "2019-05-15T15:20:18Z"
        fields: {}
        "#);
    }

    #[test]
    fn actions_and_garbage() {
        let with = |action: &str| OPENED.replace("\"opened\"", &format!("{action:?}"));
        let triggers: Vec<String> = [
            "opened",
            "reopened",
            "labeled",
            "unlabeled",
            "edited",
            "closed",
            "assigned",
        ]
        .iter()
        .map(|a| {
            format!(
                "{a}: {}",
                parse(with(a).as_bytes()).expect("parses").triggers()
            )
        })
        .collect();
        insta::assert_snapshot!(triggers.join("\n"), @r"
        opened: true
        reopened: true
        labeled: true
        unlabeled: true
        edited: false
        closed: false
        assigned: false
        ");
        let errors: Vec<String> = [&b"not json"[..], b"{}", br#"{"action": "opened"}"#]
            .iter()
            .map(|b| parse(b).expect_err("refused").to_string())
            .collect();
        insta::assert_snapshot!(errors.join("\n"), @r"
        not a GitHub issues event: expected ident at line 1 column 2
        not a GitHub issues event: missing field `action` at line 1 column 2
        not a GitHub issues event: missing field `issue` at line 1 column 20
        ");
    }
}
