//! The `pull_request` and `pull_request_review` events: which action happened to which pull
//! request. The item is built from the delivery's `pull_request` exactly as the poll builds a
//! pull request found in the issue listing ([`crate::github_issue`]): the same number, title,
//! body, labels, state and `updated_at`, of kind `PR`, so both name the same Task.
//!
//! `pull_request` actions that may make a pull request newly wanted by a spawner start
//! something: `opened`, `reopened`, `synchronize` (new commits), `ready_for_review`, `labeled`
//! and `unlabeled` (a removed `excludeLabels` label re-queues, as for issues). A
//! `pull_request_review` may when it was `submitted`; which review states count is the
//! spawner's (`webhook.reviewStates`, see [`super::matching`]).

use crate::github_issue::ApiIssue;
use crate::spawn_item::WorkItem;
use serde::Deserialize;

/// `pull_request` actions that may create a Task.
pub const TRIGGERING_ACTIONS: &[&str] = &[
    "opened",
    "reopened",
    "synchronize",
    "ready_for_review",
    "labeled",
    "unlabeled",
];

/// A delivery that is not a pull request event GitHub would send.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a GitHub {event} event: {message}")]
pub struct PullEventError {
    /// `pull_request` or `pull_request_review`.
    pub event: &'static str,
    /// The parse error.
    pub message: String,
}

#[derive(Deserialize)]
struct Repository {
    full_name: String,
}

#[derive(Deserialize)]
struct Review {
    #[serde(default)]
    state: String,
}

#[derive(Deserialize)]
struct Payload {
    action: String,
    pull_request: ApiIssue,
    repository: Repository,
    #[serde(default)]
    review: Option<Review>,
}

/// One `pull_request` or `pull_request_review` delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PullRequestEvent {
    /// `opened`, `synchronize`, `submitted`, …
    pub action: String,
    /// `owner/repo`.
    pub repository: String,
    /// The pull request as a work item (without comments).
    pub item: WorkItem,
    /// How many (issue) comments it has; unknown in review deliveries (0).
    pub comments: u64,
    /// For a review: its state, lower case (`approved`, `changes_requested`, `commented`).
    pub review_state: Option<String>,
}

impl PullRequestEvent {
    /// Whether the action may create a Task: a [`TRIGGERING_ACTIONS`] one, or a review
    /// `submitted`.
    pub fn triggers(&self) -> bool {
        match self.review_state {
            Some(_) => self.action == "submitted",
            None => TRIGGERING_ACTIONS.contains(&self.action.as_str()),
        }
    }
}

fn parse_as(body: &[u8], event: &'static str) -> Result<PullRequestEvent, PullEventError> {
    let mut p: Payload = serde_json::from_slice(body).map_err(|e| PullEventError {
        event,
        message: e.to_string(),
    })?;
    // A pull request object is a pull request even without the issue listing's marker key.
    p.pull_request.pull_request = Some(serde_json::Value::Bool(true));
    let comments = p.pull_request.comments;
    let review_state = match (event, p.review) {
        ("pull_request_review", Some(r)) => Some(r.state.to_ascii_lowercase()),
        ("pull_request_review", None) => {
            return Err(PullEventError {
                event,
                message: "missing field `review`".into(),
            });
        }
        _ => None,
    };
    Ok(PullRequestEvent {
        action: p.action,
        repository: p.repository.full_name,
        item: p.pull_request.into_work_item(),
        comments,
        review_state,
    })
}

/// Reads a `pull_request` delivery's JSON body.
pub fn parse_pull_request(body: &[u8]) -> Result<PullRequestEvent, PullEventError> {
    parse_as(body, "pull_request")
}

/// Reads a `pull_request_review` delivery's JSON body.
pub fn parse_review(body: &[u8]) -> Result<PullRequestEvent, PullEventError> {
    parse_as(body, "pull_request_review")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spawn_item::ItemKind;

    const OPENED: &str = r#"{
      "action": "opened", "number": 2,
      "pull_request": {"number": 2, "title": "Update the README with new information.",
        "body": "This is a pretty simple change that we need to pull into master.",
        "state": "open", "html_url": "https://github.com/Codertocat/Hello-World/pull/2",
        "labels": [{"name": "bug"}], "comments": 0, "draft": false,
        "updated_at": "2019-05-15T15:20:33Z", "head": {"ref": "changes"}},
      "repository": {"full_name": "Codertocat/Hello-World"}
    }"#;

    #[test]
    fn an_opened_pull_request_is_the_polls_item() {
        let e = parse_pull_request(OPENED.as_bytes()).expect("parses");
        assert!(e.triggers());
        assert_eq!(e.item.kind, ItemKind::PullRequest);
        insta::assert_yaml_snapshot!(e.item, @r#"
        id: "2"
        number: 2
        title: Update the README with new information.
        body: This is a pretty simple change that we need to pull into master.
        url: "https://github.com/Codertocat/Hello-World/pull/2"
        labels:
          - bug
        comments: ""
        kind: PR
        time: ~
        schedule: ""
        state: Open
        updated_at: "2019-05-15T15:20:33Z"
        fields: {}
        "#);
    }

    #[test]
    fn actions_reviews_and_garbage() {
        let with = |action: &str| OPENED.replace("\"opened\"", &format!("{action:?}"));
        let review = |action: &str, state: &str| {
            with(action).replace(
                "\"repository\"",
                &format!("\"review\": {{\"state\": {state:?}}}, \"repository\""),
            )
        };
        let mut lines: Vec<String> = [
            "opened",
            "reopened",
            "synchronize",
            "ready_for_review",
            "labeled",
            "unlabeled",
            "closed",
            "assigned",
            "converted_to_draft",
        ]
        .iter()
        .map(|a| {
            let e = parse_pull_request(with(a).as_bytes()).expect("parses");
            format!("pull_request {a}: {}", e.triggers())
        })
        .collect();
        for (a, s) in [
            ("submitted", "changes_requested"),
            ("submitted", "APPROVED"),
            ("dismissed", "dismissed"),
        ] {
            let e = parse_review(review(a, s).as_bytes()).expect("parses");
            lines.push(format!(
                "pull_request_review {a} {:?}: {}",
                e.review_state,
                e.triggers()
            ));
        }
        lines.push(
            parse_review(with("submitted").as_bytes())
                .expect_err("no review")
                .to_string(),
        );
        lines.push(parse_pull_request(b"{}").expect_err("garbage").to_string());
        insta::assert_snapshot!(lines.join("\n"), @r#"
        pull_request opened: true
        pull_request reopened: true
        pull_request synchronize: true
        pull_request ready_for_review: true
        pull_request labeled: true
        pull_request unlabeled: true
        pull_request closed: false
        pull_request assigned: false
        pull_request converted_to_draft: false
        pull_request_review submitted Some("changes_requested"): true
        pull_request_review submitted Some("approved"): true
        pull_request_review dismissed Some("dismissed"): false
        not a GitHub pull_request_review event: missing field `review`
        not a GitHub pull_request event: missing field `action` at line 1 column 2
        "#);
    }
}
