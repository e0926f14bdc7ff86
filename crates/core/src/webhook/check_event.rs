//! The CI events, `check_run`, `check_suite` and `workflow_run`: which check finished how on
//! which pull requests. CI remediation creates a Task on a pull request's head branch when a
//! check it runs fails; this module only reads what the three payload shapes say, the same
//! way: the check's name (the check run's name, the workflow's name, or the check suite's
//! app name), its conclusion, a page showing its log, the head branch and commit, and the
//! pull requests it ran for. Whether a spawner takes it is [`CheckEvent::ignored`] (the event
//! alone) and [`check_verdict`] (the spawner's `webhook.checks`).
//!
//! GitHub lists no pull requests for checks on a fork's branch, or on a branch without an
//! open pull request: such deliveries are ignored, saying so.

use crate::push_policy::glob_match;
use crate::spawn_item::{ItemKind, ItemState, WorkItem};
use axon_api::{CheckRemediation, GitHubIssues};
use serde::Deserialize;

/// A delivery that is not a CI event GitHub would send.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a GitHub {event} event: {message}")]
pub struct CheckEventError {
    /// `check_run`, `check_suite` or `workflow_run`.
    pub event: &'static str,
    /// The parse error.
    pub message: String,
}

/// Which of the three events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckKind {
    /// `check_run`: one check.
    CheckRun,
    /// `check_suite`: all of one app's checks on a commit.
    CheckSuite,
    /// `workflow_run`: one GitHub Actions workflow run.
    WorkflowRun,
}

impl CheckKind {
    /// The `X-GitHub-Event` name.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::CheckRun => "check_run",
            CheckKind::CheckSuite => "check_suite",
            CheckKind::WorkflowRun => "workflow_run",
        }
    }
}

#[derive(Deserialize)]
struct Head {
    #[serde(rename = "ref", default)]
    ref_: String,
}

#[derive(Deserialize)]
struct PullRef {
    number: u64,
    #[serde(default)]
    head: Option<Head>,
}

#[derive(Deserialize)]
struct App {
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct SuiteRef {
    #[serde(default)]
    head_branch: Option<String>,
}

/// The fields of `check_run`, `check_suite` and `workflow_run` objects that are read.
#[derive(Deserialize)]
struct Run {
    id: u64,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    conclusion: Option<String>,
    #[serde(default)]
    details_url: Option<String>,
    #[serde(default)]
    html_url: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    head_branch: Option<String>,
    #[serde(default)]
    head_sha: String,
    #[serde(default)]
    pull_requests: Vec<PullRef>,
    #[serde(default)]
    app: Option<App>,
    #[serde(default)]
    check_suite: Option<SuiteRef>,
}

#[derive(Deserialize)]
struct Repository {
    full_name: String,
    #[serde(default)]
    html_url: Option<String>,
}

#[derive(Deserialize)]
struct Payload {
    action: String,
    repository: Repository,
    #[serde(default)]
    check_run: Option<Run>,
    #[serde(default)]
    check_suite: Option<Run>,
    #[serde(default)]
    workflow_run: Option<Run>,
}

/// A pull request a check ran for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckPull {
    /// Its number.
    pub number: u64,
    /// Its head branch (the check's head branch when the payload does not say).
    pub branch: String,
}

/// One CI delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckEvent {
    /// Which event.
    pub kind: CheckKind,
    /// `completed`, `requested`, `created`, …
    pub action: String,
    /// `owner/repo`.
    pub repository: String,
    /// The check run's, suite's or workflow run's id (names the Task, so redeliveries make one).
    pub id: u64,
    /// `{{.Check.Name}}`: the check run's name, the workflow's name or the suite's app name.
    pub name: String,
    /// `{{.Check.Conclusion}}`: `failure`, `timed_out`, … (empty while running).
    pub conclusion: String,
    /// `{{.Check.URL}}`: where its log is shown.
    pub url: String,
    /// `{{.Check.Branch}}`: the head branch it ran on.
    pub branch: String,
    /// `{{.Check.SHA}}`: the commit it ran on.
    pub sha: String,
    /// The pull requests it ran for.
    pub pulls: Vec<CheckPull>,
}

impl CheckEvent {
    /// `None` when the delivery is a finished check on some pull request, otherwise why it
    /// is ignored.
    pub fn ignored(&self) -> Option<String> {
        if self.action != "completed" {
            return Some(format!(
                "{} {}: only completed checks start remediation",
                self.kind.as_str(),
                self.action
            ));
        }
        if self.pulls.is_empty() {
            return Some(format!(
                "{} {:?} on {}: no pull request (GitHub lists none for a fork's branch or a branch without one)",
                self.kind.as_str(),
                self.name,
                if self.branch.is_empty() {
                    "an unknown branch"
                } else {
                    &self.branch
                }
            ));
        }
        None
    }

    /// The value of the `axon.io/source-check` annotation of the Tasks it makes:
    /// `<event>/<id>`.
    pub fn source(&self) -> String {
        format!("{}/{}", self.kind.as_str(), self.id)
    }
}

/// Whether remediation settings `checks` take a finished check, and if not why.
pub fn check_verdict(checks: &CheckRemediation, event: &CheckEvent) -> Result<(), String> {
    if !checks
        .conclusions
        .iter()
        .any(|c| c.as_str() == event.conclusion)
    {
        let wanted: Vec<&str> = checks.conclusions.iter().map(|c| c.as_str()).collect();
        return Err(format!(
            "conclusion {:?} is not in webhook.checks.conclusions ({})",
            event.conclusion,
            wanted.join(", ")
        ));
    }
    if !checks.names.is_empty()
        && !checks
            .names
            .iter()
            .any(|n| n == &event.name || glob_match(n, &event.name))
    {
        return Err(format!(
            "check {:?} is not in webhook.checks.names",
            event.name
        ));
    }
    Ok(())
}

/// Whether a spawner whose source is `filter` works on pull request `item` (as GitHub
/// describes it now): an open pull request its `labels` take, without an `excludeLabels`
/// label.
pub fn item_verdict(filter: &GitHubIssues, item: &WorkItem) -> Result<(), String> {
    if item.kind != ItemKind::PullRequest {
        return Err(format!("#{} is not a pull request", item.number));
    }
    if item.state != ItemState::Open {
        return Err(format!("pull request #{} is closed", item.number));
    }
    if !item.has_all_labels(&filter.labels) {
        return Err(format!(
            "pull request #{} lacks the labels of githubIssues.labels",
            item.number
        ));
    }
    if item.has_any_label(&filter.exclude_labels) {
        return Err(format!(
            "pull request #{} carries a label of githubIssues.excludeLabels",
            item.number
        ));
    }
    Ok(())
}

/// Reads a `check_run`, `check_suite` or `workflow_run` delivery's JSON body.
pub fn parse(kind: CheckKind, body: &[u8]) -> Result<CheckEvent, CheckEventError> {
    let error = |message: String| CheckEventError {
        event: kind.as_str(),
        message,
    };
    let p: Payload = serde_json::from_slice(body).map_err(|e| error(e.to_string()))?;
    let run = match kind {
        CheckKind::CheckRun => p.check_run,
        CheckKind::CheckSuite => p.check_suite,
        CheckKind::WorkflowRun => p.workflow_run,
    }
    .ok_or_else(|| error(format!("missing field `{}`", kind.as_str())))?;
    let name = match kind {
        CheckKind::CheckSuite => run.app.map(|a| a.name).unwrap_or_default(),
        _ => run.name.unwrap_or_default(),
    };
    let url = match kind {
        CheckKind::CheckRun => run.details_url.filter(|u| !u.is_empty()).or(run.html_url),
        CheckKind::WorkflowRun => run.html_url,
        // A suite has no page of its own: the commit's checks page, else its API URL.
        CheckKind::CheckSuite => p
            .repository
            .html_url
            .filter(|_| !run.head_sha.is_empty())
            .map(|h| format!("{h}/commit/{}/checks", run.head_sha))
            .or(run.url),
    }
    .unwrap_or_default();
    let branch = run
        .head_branch
        .or_else(|| run.check_suite.and_then(|s| s.head_branch))
        .unwrap_or_default();
    let pulls = run
        .pull_requests
        .into_iter()
        .map(|pr| CheckPull {
            number: pr.number,
            branch: pr
                .head
                .map(|h| h.ref_)
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| branch.clone()),
        })
        .collect();
    Ok(CheckEvent {
        kind,
        action: p.action,
        repository: p.repository.full_name,
        id: run.id,
        name,
        conclusion: run.conclusion.unwrap_or_default(),
        url,
        branch,
        sha: run.head_sha,
        pulls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axon_api::CheckConclusion;

    const PR: &str =
        r#"[{"number": 2, "head": {"ref": "changes", "sha": "ec26"}, "base": {"ref": "master"}}]"#;

    fn check_run(conclusion: &str, pulls: &str) -> String {
        format!(
            r#"{{"action": "completed",
              "check_run": {{"id": 128620228, "name": "Octocoders-linter", "status": "completed",
                "conclusion": {conclusion}, "head_sha": "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
                "html_url": "https://github.com/Codertocat/Hello-World/runs/128620228",
                "details_url": "https://octocoders.io",
                "check_suite": {{"id": 118578147, "head_branch": "changes"}},
                "app": {{"name": "octocoders"}}, "pull_requests": {pulls}}},
              "repository": {{"full_name": "Codertocat/Hello-World",
                "html_url": "https://github.com/Codertocat/Hello-World"}}}}"#
        )
    }

    fn describe(e: &CheckEvent) -> String {
        format!(
            "{} #{} {:?} {:?} url={} branch={} sha={} pulls={:?} source={} ignored={:?}",
            e.kind.as_str(),
            e.id,
            e.name,
            e.conclusion,
            e.url,
            e.branch,
            e.sha,
            e.pulls
                .iter()
                .map(|p| format!("{}@{}", p.number, p.branch))
                .collect::<Vec<_>>(),
            e.source(),
            e.ignored()
        )
    }

    #[test]
    fn the_three_shapes() {
        let run =
            parse(CheckKind::CheckRun, check_run("\"failure\"", PR).as_bytes()).expect("check_run");
        let suite = parse(
            CheckKind::CheckSuite,
            br#"{"action": "completed", "check_suite": {"id": 118578147, "head_branch": "changes",
                "head_sha": "ec26", "conclusion": "timed_out",
                "url": "https://api.github.com/repos/Codertocat/Hello-World/check-suites/118578147",
                "app": {"name": "GitHub Actions"}, "pull_requests": [{"number": 5}]},
              "repository": {"full_name": "Codertocat/Hello-World",
                "html_url": "https://github.com/Codertocat/Hello-World"}}"#,
        )
        .expect("check_suite");
        let workflow = parse(
            CheckKind::WorkflowRun,
            br#"{"action": "completed", "workflow_run": {"id": 30433642, "name": "Build",
                "head_branch": "main", "head_sha": "acb5", "conclusion": null,
                "html_url": "https://github.com/o/r/actions/runs/30433642", "pull_requests": []},
              "repository": {"full_name": "o/r"}}"#,
        )
        .expect("workflow_run");
        let no_details = parse(
            CheckKind::CheckRun,
            check_run("\"failure\"", PR)
                .replace("\"https://octocoders.io\"", "\"\"")
                .as_bytes(),
        )
        .expect("check_run");
        let requested = parse(
            CheckKind::CheckRun,
            check_run("null", "[]")
                .replace("completed", "created")
                .as_bytes(),
        )
        .expect("created");
        let lines = [&run, &suite, &workflow, &no_details, &requested]
            .iter()
            .map(|e| describe(e))
            .collect::<Vec<_>>();
        insta::assert_snapshot!(lines.join("\n"), @r#"
        check_run #128620228 "Octocoders-linter" "failure" url=https://octocoders.io branch=changes sha=ec26c3e57ca3a959ca5aad62de7213c562f8c821 pulls=["2@changes"] source=check_run/128620228 ignored=None
        check_suite #118578147 "GitHub Actions" "timed_out" url=https://github.com/Codertocat/Hello-World/commit/ec26/checks branch=changes sha=ec26 pulls=["5@changes"] source=check_suite/118578147 ignored=None
        workflow_run #30433642 "Build" "" url=https://github.com/o/r/actions/runs/30433642 branch=main sha=acb5 pulls=[] source=workflow_run/30433642 ignored=Some("workflow_run \"Build\" on main: no pull request (GitHub lists none for a fork's branch or a branch without one)")
        check_run #128620228 "Octocoders-linter" "failure" url=https://github.com/Codertocat/Hello-World/runs/128620228 branch=changes sha=ec26c3e57ca3a959ca5aad62de7213c562f8c821 pulls=["2@changes"] source=check_run/128620228 ignored=None
        check_run #128620228 "Octocoders-linter" "" url=https://octocoders.io branch=changes sha=ec26c3e57ca3a959ca5aad62de7213c562f8c821 pulls=[] source=check_run/128620228 ignored=Some("check_run created: only completed checks start remediation")
        "#);
        let wrong = parse(CheckKind::WorkflowRun, check_run("null", "[]").as_bytes())
            .expect_err("no workflow_run");
        assert_eq!(
            wrong.to_string(),
            "not a GitHub workflow_run event: missing field `workflow_run`"
        );
        assert!(parse(CheckKind::CheckRun, b"{}").is_err());
    }

    #[test]
    fn verdicts() {
        let e =
            parse(CheckKind::CheckRun, check_run("\"failure\"", PR).as_bytes()).expect("parses");
        let with = |conclusions: Vec<CheckConclusion>, names: &[&str]| CheckRemediation {
            conclusions,
            names: names.iter().map(|n| n.to_string()).collect(),
            max_attempts: 3,
        };
        let defaults = CheckRemediation::default();
        let cases = [
            ("defaults", defaults.clone()),
            ("success only", with(vec![CheckConclusion::Success], &[])),
            (
                "exact name",
                with(vec![CheckConclusion::Failure], &["Octocoders-linter"]),
            ),
            ("glob", with(vec![CheckConclusion::Failure], &["Octo*"])),
            (
                "other names",
                with(vec![CheckConclusion::Failure], &["build", "test*"]),
            ),
        ];
        let lines: Vec<String> = cases
            .iter()
            .map(|(what, c)| format!("{what}: {:?}", check_verdict(c, &e)))
            .collect();
        let filter = GitHubIssues {
            labels: vec!["ci".into()],
            exclude_labels: vec!["wip".into()],
            ..GitHubIssues::default()
        };
        let pr = |state: ItemState, labels: &[&str]| WorkItem {
            state,
            labels: labels.iter().map(|l| l.to_string()).collect(),
            ..WorkItem::github(2, ItemKind::PullRequest, "t")
        };
        let items = [
            ("open, labelled", pr(ItemState::Open, &["CI"])),
            ("closed", pr(ItemState::Closed, &["ci"])),
            ("unlabelled", pr(ItemState::Open, &[])),
            ("excluded", pr(ItemState::Open, &["ci", "wip"])),
            ("an issue", WorkItem::github(3, ItemKind::Issue, "t")),
        ];
        let mut lines = lines;
        for (what, item) in &items {
            lines.push(format!("{what}: {:?}", item_verdict(&filter, item)));
        }
        insta::assert_snapshot!(lines.join("\n"), @r##"
        defaults: Ok(())
        success only: Err("conclusion \"failure\" is not in webhook.checks.conclusions (success)")
        exact name: Ok(())
        glob: Ok(())
        other names: Err("check \"Octocoders-linter\" is not in webhook.checks.names")
        open, labelled: Ok(())
        closed: Err("pull request #2 is closed")
        unlabelled: Err("pull request #2 lacks the labels of githubIssues.labels")
        excluded: Err("pull request #2 carries a label of githubIssues.excludeLabels")
        an issue: Err("#3 is not a pull request")
        "##);
    }
}
