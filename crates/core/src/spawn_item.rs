//! A work item discovered by a TaskSpawner source: one GitHub issue or pull request, one cron
//! tick, or one entry of `when.items`. All sources produce the same shape so that naming, the spawn decision and the prompt
//! template treat them alike; the fields follow the seed's promptTemplate variable table.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What kind of thing an item is, as shown by `{{.Kind}}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ItemKind {
    /// A GitHub issue, or a cron tick (the seed's table says cron items are of kind "Issue").
    Issue,
    /// A GitHub pull request.
    #[serde(rename = "PR")]
    PullRequest,
}

impl ItemKind {
    /// The text `{{.Kind}}` renders to: `Issue` or `PR`.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Issue => "Issue",
            ItemKind::PullRequest => "PR",
        }
    }
}

/// Whether the item is still open at its source. Cron ticks are always open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ItemState {
    /// Open (the only state in which an item is re-queued after needing input).
    #[default]
    Open,
    /// Closed (or merged).
    Closed,
}

/// One discovered work item. `id` is its identity within its spawner: the Task name is derived
/// from it, so it must be stable across polls.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkItem {
    /// `{{.ID}}`: the issue/PR number as a string, or the cron tick as `YYYYMMDD-HHMM`.
    pub id: String,
    /// `{{.Number}}`: the issue/PR number, `0` for cron.
    pub number: u64,
    /// `{{.Title}}`: the issue/PR title, or the tick time (RFC 3339) for cron.
    pub title: String,
    /// `{{.Body}}`: the issue/PR body, empty for cron.
    pub body: String,
    /// `{{.URL}}`: the item's HTML URL, empty for cron.
    pub url: String,
    /// `{{.Labels}}` (joined with `, `): the item's labels, in source order.
    pub labels: Vec<String>,
    /// `{{.Comments}}`: the item's comments, concatenated; empty for cron.
    pub comments: String,
    /// `{{.Kind}}`.
    pub kind: ItemKind,
    /// `{{.Time}}`: the cron tick time, `None` for GitHub items.
    pub time: Option<Timestamp>,
    /// `{{.Schedule}}`: the cron expression, empty for GitHub items.
    pub schedule: String,
    /// Open or closed at the source.
    pub state: ItemState,
    /// When the item last changed at the source (GitHub's `updated_at`: labels, comments,
    /// edits); `None` for cron ticks. The needs-input loop uses it to tell that a label was
    /// removed after a Task was created.
    #[serde(default)]
    pub updated_at: Option<Timestamp>,
    /// `{{.Item.<field>}}`: the fields of a `when.items` entry; empty for the other sources.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// `{{.Command.<field>}}`: the `/axon` comment command that asked for this Task; `None`
    /// (every field empty) for Tasks a poll or an event made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<CommandContext>,
    /// `{{.Check.<field>}}`: the failed CI check that asked for this Task (CI remediation);
    /// `None` (every field empty) for other Tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<CheckContext>,
}

/// The comment command behind a Task, for `{{.Command.Name}}`, `{{.Command.Args}}`,
/// `{{.Command.Author}}` and `{{.Command.URL}}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandContext {
    /// `run` or `retry`.
    pub name: String,
    /// The rest of the command's line (the extra prompt).
    pub args: String,
    /// The commenter's login.
    pub author: String,
    /// The comment's page.
    pub url: String,
}

/// The failed check behind a CI remediation Task, for `{{.Check.Name}}`,
/// `{{.Check.Conclusion}}`, `{{.Check.URL}}`, `{{.Check.Branch}}` and `{{.Check.SHA}}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckContext {
    /// The check run's name, the workflow's name or the check suite's app name.
    pub name: String,
    /// `failure`, `timed_out`, …
    pub conclusion: String,
    /// Where its log is shown.
    pub url: String,
    /// The pull request's head branch (the Task works on it).
    pub branch: String,
    /// The commit the check ran on.
    pub sha: String,
}

impl WorkItem {
    /// A GitHub issue or pull request with no comments; fill the rest with struct update syntax.
    pub fn github(number: u64, kind: ItemKind, title: impl Into<String>) -> Self {
        WorkItem {
            id: number.to_string(),
            number,
            title: title.into(),
            body: String::new(),
            url: String::new(),
            labels: Vec::new(),
            comments: String::new(),
            kind,
            time: None,
            schedule: String::new(),
            state: ItemState::Open,
            updated_at: None,
            fields: BTreeMap::new(),
            command: None,
            check: None,
        }
    }

    /// An entry of `when.items`: `{{.ID}}` and `{{.Title}}` are its key, `{{.Item.<field>}}`
    /// its fields; the GitHub and cron variables are empty.
    pub fn listed(key: impl Into<String>, fields: BTreeMap<String, String>) -> Self {
        let key = key.into();
        WorkItem {
            id: key.clone(),
            number: 0,
            title: key,
            body: String::new(),
            url: String::new(),
            labels: Vec::new(),
            comments: String::new(),
            kind: ItemKind::Issue,
            time: None,
            schedule: String::new(),
            state: ItemState::Open,
            updated_at: None,
            fields,
            command: None,
            check: None,
        }
    }

    /// The item for one cron tick, with the fields the seed's table prescribes.
    pub fn cron_tick(tick: Timestamp, schedule: &str) -> Self {
        WorkItem {
            id: crate::cron::tick_id(tick),
            number: 0,
            title: crate::rfc3339::format(tick),
            body: String::new(),
            url: String::new(),
            labels: Vec::new(),
            comments: String::new(),
            kind: ItemKind::Issue,
            time: Some(tick),
            schedule: schedule.to_string(),
            state: ItemState::Open,
            updated_at: None,
            fields: BTreeMap::new(),
            command: None,
            check: None,
        }
    }

    /// Whether the item carries any of `labels` (GitHub label names compare case-insensitively).
    pub fn has_any_label(&self, labels: &[String]) -> bool {
        self.labels
            .iter()
            .any(|have| labels.iter().any(|l| l.eq_ignore_ascii_case(have)))
    }

    /// Whether the item carries all of `labels`.
    pub fn has_all_labels(&self, labels: &[String]) -> bool {
        labels
            .iter()
            .all(|want| self.labels.iter().any(|l| l.eq_ignore_ascii_case(want)))
    }
}
