//! The `issue_comment` event: who commented what on which issue or pull request. Only a
//! comment's creation can carry a command: an edit (`edited`) or a deletion (`deleted`) is
//! ignored, so that editing an old comment never re-runs an agent and a command cannot be
//! slipped into a comment after it was read. Comments by bots (GitHub Apps, Axon's own
//! replies) are ignored too, so that no bot can command Axon and no reply loops.
//!
//! The item is built from the delivery's `issue` as the poll builds it
//! ([`crate::github_issue`]), so a command names the same Task as the poll.

use super::comment_command::{self, Parsed};
use crate::github_issue::ApiIssue;
use crate::spawn_item::WorkItem;
use serde::Deserialize;

/// A delivery that is not an `issue_comment` event GitHub would send.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a GitHub issue_comment event: {0}")]
pub struct CommentEventError(pub String);

#[derive(Deserialize)]
struct User {
    login: String,
    #[serde(default, rename = "type")]
    type_: String,
}

#[derive(Deserialize)]
struct Comment {
    id: u64,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    html_url: String,
    user: User,
}

#[derive(Deserialize)]
struct Repository {
    full_name: String,
}

#[derive(Deserialize)]
struct Payload {
    action: String,
    issue: ApiIssue,
    comment: Comment,
    repository: Repository,
}

/// One `issue_comment` delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommentEvent {
    /// `created`, `edited` or `deleted`.
    pub action: String,
    /// `owner/repo`.
    pub repository: String,
    /// The issue or pull request commented on, as a work item (without comments).
    pub item: WorkItem,
    /// How many comments the item has.
    pub comments: u64,
    /// The comment's id (names a command's new attempt, so redeliveries make one Task).
    pub comment_id: u64,
    /// The comment's page.
    pub comment_url: String,
    /// The commenter's login.
    pub author: String,
    /// Whether the commenter is a bot (`type: Bot`, or a login ending in `[bot]`).
    pub bot: bool,
    /// What the comment says to Axon.
    pub command: Parsed,
}

impl CommentEvent {
    /// `None` when the comment is a command to consider, otherwise why it is ignored.
    pub fn ignored(&self) -> Option<String> {
        if self.action != "created" {
            return Some(format!(
                "comment {}: only new comments carry commands",
                self.action
            ));
        }
        if self.bot {
            return Some(format!(
                "comment by bot {}: bots cannot command",
                self.author
            ));
        }
        match &self.command {
            Parsed::None => Some("no /axon command in the comment".into()),
            Parsed::Unknown { word } => Some(format!(
                "unknown command /axon {word}: use /axon run, /axon retry or /axon cancel"
            )),
            Parsed::Command { .. } => None,
        }
    }
}

/// Reads an `issue_comment` delivery's JSON body.
pub fn parse(body: &[u8]) -> Result<CommentEvent, CommentEventError> {
    let p: Payload = serde_json::from_slice(body).map_err(|e| CommentEventError(e.to_string()))?;
    let comments = p.issue.comments;
    let text = p.comment.body.unwrap_or_default();
    let bot = p.comment.user.type_ == "Bot" || p.comment.user.login.ends_with("[bot]");
    Ok(CommentEvent {
        action: p.action,
        repository: p.repository.full_name,
        item: p.issue.into_work_item(),
        comments,
        comment_id: p.comment.id,
        comment_url: p.comment.html_url,
        author: p.comment.user.login,
        bot,
        command: comment_command::parse(&text),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spawn_item::ItemKind;

    fn payload(action: &str, body: &str, user_type: &str, pull: bool) -> String {
        let pr = if pull {
            r#", "pull_request": {"url": "https://api.github.com/repos/o/r/pulls/1"}"#
        } else {
            ""
        };
        format!(
            r#"{{"action": "{action}",
              "issue": {{"number": 1, "title": "Spelling error", "body": null, "state": "open",
                "html_url": "https://github.com/o/r/issues/1", "labels": [], "comments": 3,
                "updated_at": "2019-05-15T15:20:21Z"{pr}}},
              "comment": {{"id": 492700400, "body": {body:?},
                "html_url": "https://github.com/o/r/issues/1#issuecomment-492700400",
                "user": {{"login": "octo", "type": "{user_type}"}}}},
              "repository": {{"full_name": "o/r"}}, "sender": {{"login": "octo"}}}}"#
        )
    }

    #[test]
    fn a_command_comment() {
        let e = parse(payload("created", "/axon run add tests", "User", true).as_bytes())
            .expect("parses");
        assert_eq!(e.ignored(), None);
        assert_eq!(e.item.kind, ItemKind::PullRequest);
        assert_eq!((e.comment_id, e.comments), (492700400, 3));
        assert_eq!(e.author, "octo");
        assert_eq!(
            e.command,
            Parsed::Command {
                verb: comment_command::Verb::Run,
                args: "add tests".into()
            }
        );
    }

    #[test]
    fn what_is_ignored() {
        let cases = [
            ("created", "/axon run", "User"),
            ("edited", "/axon run", "User"),
            ("deleted", "/axon run", "User"),
            ("created", "/axon run", "Bot"),
            ("created", "lgtm", "User"),
            ("created", "/axon deploy", "User"),
        ];
        let lines: Vec<String> = cases
            .iter()
            .map(|(a, b, t)| {
                let e = parse(payload(a, b, t, false).as_bytes()).expect("parses");
                format!("{a} {b:?} by {t}: {:?}", e.ignored())
            })
            .collect();
        insta::assert_snapshot!(lines.join("\n"), @r#"
        created "/axon run" by User: None
        edited "/axon run" by User: Some("comment edited: only new comments carry commands")
        deleted "/axon run" by User: Some("comment deleted: only new comments carry commands")
        created "/axon run" by Bot: Some("comment by bot octo: bots cannot command")
        created "lgtm" by User: Some("no /axon command in the comment")
        created "/axon deploy" by User: Some("unknown command /axon deploy: use /axon run, /axon retry or /axon cancel")
        "#);
        let bracket = payload("created", "/axon run", "User", false)
            .replace("\"octo\", \"type\"", "\"axon[bot]\", \"type\"");
        let e = parse(bracket.as_bytes()).expect("parses");
        assert!(e.bot);
        assert!(parse(b"{}").is_err());
    }
}
