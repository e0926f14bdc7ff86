//! Which TaskSpawners an `issues` delivery concerns. A spawner takes it when it opted in
//! (`when.githubIssues.webhook`), watches the delivery's repository, the action may create a
//! Task, and its `githubIssues` filter takes the issue (the same filter as the poll,
//! [`crate::github_filter`]). `excludeLabels` is left to the spawn decision, as on the poll
//! path, so that a delivery of an excluded issue marks its Task as needing input instead of
//! being dropped unseen.

use super::comment_event::CommentEvent;
use super::issues_event::IssuesEvent;
use super::pull_request_event::PullRequestEvent;
use crate::github_filter::{accepts, wants_kind};
use crate::spawn_item::WorkItem;
use axon_api::TaskSpawner;

/// The key of a webhook's Secret that holds the shared secret.
pub const WEBHOOK_SECRET_KEY: &str = "WEBHOOK_SECRET";

/// The name of the Secret holding `spawner`'s webhook secret; `None` when it takes no
/// webhooks.
pub fn webhook_secret(spawner: &TaskSpawner) -> Option<&str> {
    spawner
        .spec
        .when
        .github_issues
        .as_ref()
        .and_then(|g| g.webhook.as_ref())
        .map(|w| w.secret_ref.name.as_str())
}

/// Whether a spawner takes a delivery, and if not why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Run the spawn decision for the delivery's item.
    Take,
    /// Not for this spawner.
    Skip(String),
}

/// Whether `spawner`, watching `spawner_repo`, takes a `pull_request` or
/// `pull_request_review` delivery: as for issues ([`verdict`]), and a review only when its
/// state is one of `webhook.reviewStates`.
pub fn pull_verdict(
    spawner: &TaskSpawner,
    spawner_repo: &str,
    event: &PullRequestEvent,
) -> Verdict {
    if let Some(state) = &event.review_state {
        let states = spawner
            .spec
            .when
            .github_issues
            .as_ref()
            .and_then(|g| g.webhook.as_ref())
            .map(|w| w.review_states.as_slice())
            .unwrap_or_default();
        if !states.iter().any(|s| s.as_str() == state) {
            return Verdict::Skip(format!(
                "review state {state:?} is not in webhook.reviewStates"
            ));
        }
    }
    item_verdict(
        spawner,
        spawner_repo,
        &event.repository,
        &event.action,
        event.triggers(),
        &event.item,
    )
}

/// Whether `spawner`, watching `spawner_repo` (`owner/repo` of its Workspace), takes `event`.
pub fn verdict(spawner: &TaskSpawner, spawner_repo: &str, event: &IssuesEvent) -> Verdict {
    item_verdict(
        spawner,
        spawner_repo,
        &event.repository,
        &event.action,
        event.triggers(),
        &event.item,
    )
}

fn item_verdict(
    spawner: &TaskSpawner,
    spawner_repo: &str,
    repository: &str,
    action: &str,
    triggers: bool,
    item: &WorkItem,
) -> Verdict {
    let skip = |why: String| Verdict::Skip(why);
    let Some(filter) = spawner.spec.when.github_issues.as_ref() else {
        return skip("not a githubIssues spawner".into());
    };
    if filter.webhook.is_none() {
        return skip("webhooks not enabled (spec.when.githubIssues.webhook)".into());
    }
    if !spawner_repo.eq_ignore_ascii_case(repository) {
        return skip(format!(
            "watches {spawner_repo}, the delivery is for {repository}"
        ));
    }
    if !triggers {
        return skip(format!("action {action:?} starts nothing"));
    }
    if !accepts(filter, item) {
        return skip("the item's kind, state or labels do not match githubIssues".into());
    }
    Verdict::Take
}

/// Whether `spawner`, watching `spawner_repo`, takes comment commands on `event`'s item: it
/// opted in (`commentPolicy`), watches the repository, and its `types` take the item's kind.
/// The labels and state filters do not apply: a command is an explicit request.
pub fn comment_verdict(spawner: &TaskSpawner, spawner_repo: &str, event: &CommentEvent) -> Verdict {
    let skip = |why: String| Verdict::Skip(why);
    let Some(filter) = spawner.spec.when.github_issues.as_ref() else {
        return skip("not a githubIssues spawner".into());
    };
    if filter.webhook.is_none() || filter.comment_policy.is_none() {
        return skip("comment commands not enabled (spec.when.githubIssues.commentPolicy)".into());
    }
    if !spawner_repo.eq_ignore_ascii_case(&event.repository) {
        return skip(format!(
            "watches {spawner_repo}, the comment is on {}",
            event.repository
        ));
    }
    if !wants_kind(filter, event.item.kind) {
        return skip(format!(
            "takes no {} (spec.when.githubIssues.types)",
            event.item.kind.as_str()
        ));
    }
    Verdict::Take
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spawn_item::{ItemKind, ItemState, WorkItem};
    use axon_api::Resource;
    use axon_api::loader::load_str;

    fn spawner(when: &str) -> TaskSpawner {
        let yaml = format!(
            "apiVersion: axon.io/v1alpha1\nkind: TaskSpawner\nmetadata: {{name: s}}\nspec:\n  when: {when}\n  taskTemplate:\n    type: codex\n    credentials: {{type: api-key, secretRef: {{name: c}}}}\n    workspaceRef: {{name: w}}\n"
        );
        match load_str("s.yaml", &yaml).expect("loads").remove(0).resource {
            Resource::TaskSpawner(s) => *s,
            other => panic!("{other:?}"),
        }
    }

    fn event(action: &str, labels: &[&str], state: ItemState) -> IssuesEvent {
        IssuesEvent {
            action: action.into(),
            repository: "Octo/Hello".into(),
            item: WorkItem {
                labels: labels.iter().map(|l| l.to_string()).collect(),
                state,
                ..WorkItem::github(1, ItemKind::Issue, "t")
            },
            comments: 0,
        }
    }

    #[test]
    fn verdicts() {
        let hooked = spawner(
            "{githubIssues: {labels: [axon], excludeLabels: [wip], webhook: {secretRef: {name: hook}}}}",
        );
        assert_eq!(webhook_secret(&hooked), Some("hook"));
        let polled = spawner("{githubIssues: {labels: [axon]}}");
        assert_eq!(webhook_secret(&polled), None);
        let open = ItemState::Open;
        let cases = [
            (
                "labeled, matching",
                &hooked,
                "octo/hello",
                event("labeled", &["axon"], open),
            ),
            (
                "excluded label (left to the spawn decision)",
                &hooked,
                "octo/hello",
                event("labeled", &["axon", "wip"], open),
            ),
            (
                "missing label",
                &hooked,
                "octo/hello",
                event("opened", &[], open),
            ),
            (
                "closed issue",
                &hooked,
                "octo/hello",
                event("reopened", &["axon"], ItemState::Closed),
            ),
            (
                "edited",
                &hooked,
                "octo/hello",
                event("edited", &["axon"], open),
            ),
            (
                "other repository",
                &hooked,
                "octo/other",
                event("opened", &["axon"], open),
            ),
            (
                "no webhook",
                &polled,
                "octo/hello",
                event("opened", &["axon"], open),
            ),
            (
                "cron spawner",
                &spawner("{cron: {schedule: '0 * * * *'}}"),
                "octo/hello",
                event("opened", &["axon"], open),
            ),
        ];
        let lines: Vec<String> = cases
            .iter()
            .map(|(what, s, repo, e)| format!("{what}: {:?}", verdict(s, repo, e)))
            .collect();
        insta::assert_snapshot!(lines.join("\n"), @r#"
        labeled, matching: Take
        excluded label (left to the spawn decision): Take
        missing label: Skip("the item's kind, state or labels do not match githubIssues")
        closed issue: Skip("the item's kind, state or labels do not match githubIssues")
        edited: Skip("action \"edited\" starts nothing")
        other repository: Skip("watches octo/other, the delivery is for Octo/Hello")
        no webhook: Skip("webhooks not enabled (spec.when.githubIssues.webhook)")
        cron spawner: Skip("not a githubIssues spawner")
        "#);
    }

    #[test]
    fn pull_verdicts() {
        let pr = |action: &str, review: Option<&str>, labels: &str| {
            let review = review
                .map(|s| format!(r#""review": {{"state": "{s}"}},"#))
                .unwrap_or_default();
            let body = format!(
                r#"{{"action": "{action}", {review} "pull_request": {{"number": 2, "title": "t", "state": "open",
                  "html_url": "u", "labels": [{labels}]}}, "repository": {{"full_name": "Octo/Hello"}}}}"#
            );
            if review.is_empty() {
                crate::webhook::pull_request_event::parse_pull_request(body.as_bytes())
            } else {
                crate::webhook::pull_request_event::parse_review(body.as_bytes())
            }
            .expect("parses")
        };
        let hook = "webhook: {secretRef: {name: hook}, reviewStates: [changes_requested]}";
        let pulls = spawner(&format!(
            "{{githubIssues: {{types: [pulls], labels: [axon], {hook}}}}}"
        ));
        let issues =
            spawner("{githubIssues: {labels: [axon], webhook: {secretRef: {name: hook}}}}");
        let axon = r#"{"name": "axon"}"#;
        let lines = [
            format!(
                "opened: {:?}",
                pull_verdict(&pulls, "octo/hello", &pr("opened", None, axon))
            ),
            format!(
                "synchronize: {:?}",
                pull_verdict(&pulls, "octo/hello", &pr("synchronize", None, axon))
            ),
            format!(
                "unlabelled: {:?}",
                pull_verdict(&pulls, "octo/hello", &pr("opened", None, ""))
            ),
            format!(
                "closed: {:?}",
                pull_verdict(&pulls, "octo/hello", &pr("closed", None, axon))
            ),
            format!(
                "issues-only spawner: {:?}",
                pull_verdict(&issues, "octo/hello", &pr("opened", None, axon))
            ),
            format!(
                "changes requested: {:?}",
                pull_verdict(
                    &pulls,
                    "octo/hello",
                    &pr("submitted", Some("changes_requested"), axon)
                )
            ),
            format!(
                "commented: {:?}",
                pull_verdict(
                    &pulls,
                    "octo/hello",
                    &pr("submitted", Some("commented"), axon)
                )
            ),
            format!(
                "dismissed: {:?}",
                pull_verdict(
                    &pulls,
                    "octo/hello",
                    &pr("dismissed", Some("changes_requested"), axon)
                )
            ),
        ];
        insta::assert_snapshot!(lines.join("\n"), @r#"
        opened: Take
        synchronize: Take
        unlabelled: Skip("the item's kind, state or labels do not match githubIssues")
        closed: Skip("action \"closed\" starts nothing")
        issues-only spawner: Skip("the item's kind, state or labels do not match githubIssues")
        changes requested: Take
        commented: Skip("review state \"commented\" is not in webhook.reviewStates")
        dismissed: Skip("action \"dismissed\" starts nothing")
        "#);
    }

    #[test]
    fn comment_verdicts() {
        let body = |pull: bool| {
            format!(
                r#"{{"action": "created", "issue": {{"number": 1, "title": "t", "state": "closed",
                  "html_url": "u", "labels": []{}}},
                  "comment": {{"id": 1, "body": "/axon run", "user": {{"login": "u"}}}},
                  "repository": {{"full_name": "Octo/Hello"}}}}"#,
                if pull { r#", "pull_request": {}"# } else { "" }
            )
        };
        let issue = crate::webhook::comment_event::parse(body(false).as_bytes()).expect("parses");
        let pull = crate::webhook::comment_event::parse(body(true).as_bytes()).expect("parses");
        let hook = "webhook: {secretRef: {name: hook}}";
        let commands = spawner(&format!(
            "{{githubIssues: {{labels: [axon], {hook}, commentPolicy: {{}}}}}}"
        ));
        let pulls = spawner(&format!(
            "{{githubIssues: {{types: [pulls], {hook}, commentPolicy: {{}}}}}}"
        ));
        let no_commands = spawner(&format!("{{githubIssues: {{{hook}}}}}"));
        let lines = [
            format!(
                "unlabelled closed issue: {:?}",
                comment_verdict(&commands, "octo/hello", &issue)
            ),
            format!(
                "a PR, issues only: {:?}",
                comment_verdict(&commands, "octo/hello", &pull)
            ),
            format!(
                "a PR, pulls: {:?}",
                comment_verdict(&pulls, "octo/hello", &pull)
            ),
            format!(
                "other repository: {:?}",
                comment_verdict(&commands, "octo/x", &issue)
            ),
            format!(
                "no commentPolicy: {:?}",
                comment_verdict(&no_commands, "octo/hello", &issue)
            ),
        ];
        insta::assert_snapshot!(lines.join("\n"), @r#"
        unlabelled closed issue: Take
        a PR, issues only: Skip("takes no PR (spec.when.githubIssues.types)")
        a PR, pulls: Take
        other repository: Skip("watches octo/x, the comment is on Octo/Hello")
        no commentPolicy: Skip("comment commands not enabled (spec.when.githubIssues.commentPolicy)")
        "#);
    }
}
