//! The GitHub source end to end against the fake GitHub server: filters, templates,
//! conditional requests, pagination, rate limits, idempotency across restarts, maxConcurrency
//! and the needs-input loop.

mod common;

use axon_api::TaskPhase;
use axon_spawner::{Clock, PollOutcome, PollReport};
use common::*;
use serde_json::json;
use std::collections::BTreeMap;

fn report(outcome: PollOutcome) -> PollReport {
    match outcome {
        PollOutcome::Polled(r) => r,
        other => panic!("expected a poll, got {other:?}"),
    }
}

#[tokio::test]
async fn filters_labels_state_types_and_exclude_labels() {
    let sp = github_spawner(
        "bugs",
        json!({"labels": ["bug"], "excludeLabels": ["wontfix"], "state": "open"}),
        json!({}),
    );
    let (gh, sink, clock) = github_setup(sp);
    let a = gh.add_issue("bug A", "", &["bug"]);
    gh.add_issue("feature", "", &["enhancement"]);
    let c = gh.add_issue("bug closed", "", &["bug"]);
    gh.close(c);
    gh.add_issue("bug wontfix", "", &["bug", "wontfix"]);
    gh.add_pull("bug PR", "", &["bug"]);
    let e = gh.add_issue("Bug upper-case label", "", &["BUG"]);
    let mut s = new_spawner("bugs", &gh, &sink, &clock);
    let r = report(s.poll_once().await.expect("poll"));
    assert_eq!(
        task_names(&sink),
        [format!("bugs-{a}"), format!("bugs-{e}")]
    );
    assert_eq!(r.excluded, ["4"]);
    assert_eq!(r.discovered, 2);

    // Pull requests only, any state.
    let sp = github_spawner(
        "prs",
        json!({"labels": ["bug"], "state": "all", "types": ["pulls"]}),
        json!({}),
    );
    sink.put_spawner(sp);
    let mut s = new_spawner("prs", &gh, &sink, &clock);
    s.poll_once().await.expect("poll");
    let prs: Vec<String> = task_names(&sink)
        .into_iter()
        .filter(|n| n.starts_with("prs-"))
        .collect();
    assert_eq!(prs, ["prs-5"]);

    // Closed issues and PRs together.
    let sp = github_spawner(
        "closed",
        json!({"state": "closed", "types": ["issues", "pulls"]}),
        json!({}),
    );
    sink.put_spawner(sp);
    let mut s = new_spawner("closed", &gh, &sink, &clock);
    s.poll_once().await.expect("poll");
    assert!(sink.tasks().contains_key(&format!("closed-{c}")));
    // Every request carried the token.
    assert!(gh.requests().iter().all(|r| r.authorized));
}

#[tokio::test]
async fn every_template_variable_for_issues_and_pull_requests() {
    let sp = github_spawner(
        "t",
        json!({"types": ["issues", "pulls"]}),
        json!({"taskTemplate": {"promptTemplate":
            "ID={{.ID}} Number={{.Number}} Title={{.Title}} Body={{.Body}} URL={{.URL}} Labels={{.Labels}} Kind={{.Kind}} Time={{.Time}} Schedule={{.Schedule}}\nComments:\n{{.Comments}}"}}),
    );
    let (gh, sink, clock) = github_setup(sp);
    let i = gh.add_issue("Crash on start", "It crashes.", &["bug", "p1"]);
    gh.add_comment(i, "alice", "Stack trace attached.");
    gh.add_comment(i, "bob", "Reproduced on main.");
    let p = gh.add_pull("Fix crash", "Closes #1", &[]);
    let mut s = new_spawner("t", &gh, &sink, &clock);
    s.poll_once().await.expect("poll");
    insta::assert_snapshot!(prompt(&sink, &format!("t-{i}")), @r"
    ID=1 Number=1 Title=Crash on start Body=It crashes. URL=https://github.com/o/r/issues/1 Labels=bug, p1 Kind=Issue Time= Schedule=
    Comments:
    @alice:
    Stack trace attached.

    ---

    @bob:
    Reproduced on main.
    ");
    insta::assert_snapshot!(prompt(&sink, &format!("t-{p}")), @r"
    ID=2 Number=2 Title=Fix crash Body=Closes #1 URL=https://github.com/o/r/pull/2 Labels= Kind=PR Time= Schedule=
    Comments:
    ");
    let task = &sink.tasks()[&format!("t-{i}")];
    let labels = task.metadata.labels.clone().unwrap_or_default();
    let annotations = task.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(labels["axon.io/taskspawner"], "t");
    assert_eq!(annotations["axon.io/source-id"], "1");
    assert_eq!(annotations["axon.io/source-generation"], "1");
    assert_eq!(
        task.spec.workspace_ref.as_ref().map(|w| w.name.as_str()),
        Some("ws")
    );
}

#[tokio::test]
async fn idle_poll_costs_one_304_per_page_and_no_comment_fetches() {
    let sp = github_spawner(
        "idle",
        json!({}),
        json!({"taskTemplate": {"promptTemplate": "{{.Title}} {{.Comments}}"}}),
    );
    let (gh, sink, clock) = github_setup(sp);
    for n in 1..=250 {
        let i = gh.add_issue(&format!("issue {n}"), "", &[]);
        if n % 10 == 0 {
            gh.add_comment(i, "dev", "a comment");
        }
    }
    let mut s = new_spawner("idle", &gh, &sink, &clock);
    let r = report(s.poll_once().await.expect("first poll"));
    assert_eq!(r.created.len(), 250);
    let first = gh.requests();
    let lists = first.iter().filter(|r| r.path.ends_with("/issues")).count();
    let comments = first
        .iter()
        .filter(|r| r.path.ends_with("/comments"))
        .count();
    assert_eq!(
        (lists, comments),
        (3, 25),
        "3 pages of 100, comments only where present"
    );

    gh.clear_requests();
    let r = report(s.poll_once().await.expect("idle poll"));
    assert!(r.created.is_empty());
    let idle = gh.requests();
    assert_eq!(idle.len(), 3, "{idle:#?}");
    assert!(idle.iter().all(|r| r.status == 304 && r.conditional));

    // A change on one page: that page is fetched again, the others stay 304; a new issue
    // gets a Task, and no comment of an unchanged issue is fetched again.
    gh.clear_requests();
    let new = gh.add_issue("late arrival", "", &[]);
    gh.add_comment(new, "dev", "fresh");
    let r = report(s.poll_once().await.expect("poll after change"));
    assert_eq!(r.created, [format!("idle-{new}")]);
    let statuses: Vec<(String, u16)> = gh
        .requests()
        .iter()
        .map(|r| (format!("{}?{}", r.path, r.query), r.status))
        .collect();
    insta::assert_debug_snapshot!(statuses, @r#"
    [
        (
            "/repos/o/r/issues?state=open&sort=created&direction=asc&per_page=100",
            304,
        ),
        (
            "/repos/o/r/issues?state=open&sort=created&direction=asc&per_page=100&page=2",
            304,
        ),
        (
            "/repos/o/r/issues?state=open&sort=created&direction=asc&per_page=100&page=3",
            200,
        ),
        (
            "/repos/o/r/issues/251/comments?per_page=100",
            200,
        ),
    ]
    "#);
}

#[tokio::test]
async fn comments_are_not_fetched_when_the_template_does_not_use_them() {
    let sp = github_spawner("plain", json!({}), json!({}));
    let (gh, sink, clock) = github_setup(sp);
    let i = gh.add_issue("t", "b", &[]);
    gh.add_comment(i, "a", "c");
    let mut s = new_spawner("plain", &gh, &sink, &clock);
    s.poll_once().await.expect("poll");
    assert_eq!(prompt(&sink, "plain-1"), "t\n\nb");
    assert!(gh.requests().iter().all(|r| !r.path.ends_with("/comments")));
}

#[tokio::test]
async fn rate_limit_waits_until_reset_then_keeps_going() {
    let sp = github_spawner("rl", json!({}), json!({}));
    let (gh, sink, clock) = github_setup(sp);
    for n in 0..150 {
        gh.add_issue(&format!("i{n}"), "", &[]);
    }
    let reset = start().as_second() + 120;
    gh.rate_limit_next(1, reset);
    let mut s = new_spawner("rl", &gh, &sink, &clock);
    let outcome = s.poll_once().await.expect("poll");
    assert!(
        matches!(outcome, PollOutcome::RateLimited { until } if until.as_second() == reset),
        "{outcome:?}"
    );
    let status = sink.spawner("rl").and_then(|s| s.status).expect("status");
    let message = status.message.clone().unwrap_or_default();
    assert!(
        message.contains("rate limit") && message.contains("2026-02-07T08:02:00Z"),
        "{message}"
    );
    assert!(
        status
            .conditions
            .iter()
            .any(|c| c.type_ == "RateLimited" && c.status == "True")
    );
    assert!(!message.contains(TOKEN));

    // run(): rate-limited again, it waits until the reset on the injected clock (no real
    // sleep), polls again, creates everything, and stops when told.
    gh.rate_limit_next(1, clock.now().as_second() + 120);
    let done_sink = sink.clone();
    let shutdown = async move {
        while done_sink.tasks().len() < 150 {
            tokio::task::yield_now().await;
        }
    };
    s.run(shutdown).await.expect("run");
    assert_eq!(sink.tasks().len(), 150);
    assert_eq!(
        clock.sleeps().first(),
        Some(&std::time::Duration::from_secs(120))
    );
    let status = sink.spawner("rl").and_then(|s| s.status).expect("status");
    assert!(
        status
            .conditions
            .iter()
            .any(|c| c.type_ == "RateLimited" && c.status == "False")
    );

    // Secondary limit (429 + retry-after) is handled the same way.
    gh.throttle_next(1, 30);
    let outcome = s.poll_once().await.expect("poll");
    assert!(
        matches!(outcome, PollOutcome::RateLimited { .. }),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn bad_token_and_missing_repo_go_to_status() {
    let sp = github_spawner("auth", json!({}), json!({}));
    let (gh, sink, clock) = github_setup(sp);
    sink.put_workspace(
        workspace("https://github.com/o/r.git"),
        axon_spawner::Token::new("ghp_wrong_secret"),
    );
    let mut s = new_spawner("auth", &gh, &sink, &clock);
    let outcome = s.poll_once().await.expect("poll");
    let PollOutcome::Failed { message } = outcome else {
        panic!("expected failure, got {outcome:?}");
    };
    assert!(
        message.contains("401") && !message.contains("ghp_wrong_secret"),
        "{message}"
    );
    let status = sink.spawner("auth").and_then(|s| s.status).expect("status");
    assert_eq!(
        status.phase.map(|p| p.to_string()).as_deref(),
        Some("Failed")
    );
    assert!(
        !serde_json::to_string(&status)
            .expect("json")
            .contains("wrong_secret")
    );
}

/// 1,000 issues; the spawner "crashes" after every few creations and a fresh one (no caches)
/// picks up. Zero duplicates, every issue exactly one Task.
#[tokio::test]
async fn restarts_never_duplicate_over_1000_issues() {
    let sp = github_spawner("many", json!({}), json!({}));
    let (gh, sink, clock) = github_setup(sp);
    for n in 0..1000 {
        gh.add_issue(&format!("issue {n}"), "", &[]);
    }
    let mut restarts = 0;
    loop {
        sink.fail_creates_after(Some(137));
        let mut s = new_spawner("many", &gh, &sink, &clock);
        restarts += 1;
        match s.poll_once().await {
            Ok(PollOutcome::Polled(_)) => break,
            Ok(other) => panic!("{other:?}"),
            Err(_) => continue, // the injected crash
        }
    }
    assert!(restarts > 5, "{restarts}");
    sink.fail_creates_after(None);
    // More restarts and polls on top: nothing new.
    for _ in 0..3 {
        let mut s = new_spawner("many", &gh, &sink, &clock);
        let r = report(s.poll_once().await.expect("poll"));
        assert!(r.created.is_empty() && r.already_existed.is_empty());
    }
    let tasks = sink.tasks();
    assert_eq!(tasks.len(), 1000);
    let mut per_item: BTreeMap<String, usize> = BTreeMap::new();
    for t in tasks.values() {
        let id = t.metadata.annotations.as_ref().expect("annotations")["axon.io/source-id"].clone();
        *per_item.entry(id).or_default() += 1;
    }
    assert_eq!(per_item.len(), 1000);
    assert!(per_item.values().all(|&n| n == 1));
    let status = sink.spawner("many").and_then(|s| s.status).expect("status");
    assert_eq!(status.active_tasks, 1000);
    assert_eq!(status.total_discovered, 1000);
}

#[tokio::test]
async fn max_concurrency_oldest_first() {
    let sp = github_spawner("mc", json!({}), json!({"maxConcurrency": 2}));
    let (gh, sink, clock) = github_setup(sp);
    for n in 1..=5 {
        gh.add_issue(&format!("issue {n}"), "", &[]);
    }
    let mut s = new_spawner("mc", &gh, &sink, &clock);
    let r = report(s.poll_once().await.expect("poll"));
    assert_eq!(r.created, ["mc-1", "mc-2"]);
    assert_eq!(r.deferred, ["3", "4", "5"]);
    let r = report(s.poll_once().await.expect("poll"));
    assert!(r.created.is_empty());
    sink.set_phase("mc-1", TaskPhase::Succeeded);
    let r = report(s.poll_once().await.expect("poll"));
    assert_eq!(r.created, ["mc-3"]);
    sink.set_phase("mc-2", TaskPhase::Failed);
    sink.set_phase("mc-3", TaskPhase::Running);
    let r = report(s.poll_once().await.expect("poll"));
    assert_eq!(r.created, ["mc-4"]);
    let status = sink.spawner("mc").and_then(|s| s.status).expect("status");
    assert_eq!(
        (
            status.active_tasks,
            status.total_tasks_created,
            status.total_discovered
        ),
        (2, 4, 5)
    );
    assert!(
        status
            .message
            .unwrap_or_default()
            .contains("maxConcurrency 2")
    );
}

#[tokio::test]
async fn needs_input_loop_requeues_exactly_once() {
    let sp = github_spawner(
        "self",
        json!({"excludeLabels": ["axon/needs-input"]}),
        json!({"taskTemplate": {"promptTemplate": "{{.Title}}\n{{.Comments}}"}}),
    );
    let (gh, sink, clock) = github_setup(sp);
    let n = gh.add_issue("Add dark mode", "", &[]);
    let mut s = new_spawner("self", &gh, &sink, &clock);
    s.poll_once().await.expect("poll");
    assert_eq!(task_names(&sink), ["self-1"]);

    // The agent gets stuck: asks a question, labels the issue, finishes.
    gh.add_comment(n, "axon-bot", "Which palette should I use?");
    gh.add_label(n, "axon/needs-input");
    s.poll_once().await.expect("poll");
    sink.set_phase("self-1", TaskPhase::Succeeded);
    for _ in 0..3 {
        s.poll_once().await.expect("poll");
    }
    assert_eq!(task_names(&sink), ["self-1"]);

    // A human answers and removes the label: exactly one new Task, with the answer in its
    // prompt, also across a restart.
    gh.add_comment(n, "maintainer", "Use the Solarized palette.");
    gh.remove_label(n, "axon/needs-input");
    s.poll_once().await.expect("poll");
    let mut restarted = new_spawner("self", &gh, &sink, &clock);
    for _ in 0..3 {
        restarted.poll_once().await.expect("poll");
    }
    assert_eq!(task_names(&sink), ["self-1", "self-1-r2"]);
    assert!(prompt(&sink, "self-1-r2").contains("Use the Solarized palette."));

    // Finishing without needing input again: never re-queued.
    sink.set_phase("self-1-r2", TaskPhase::Succeeded);
    for _ in 0..3 {
        restarted.poll_once().await.expect("poll");
    }
    assert_eq!(task_names(&sink), ["self-1", "self-1-r2"]);

    // Closed while labelled, then unlabelled: not re-queued (the item is no longer open, and
    // with state=open it is not even listed).
    gh.add_label(n, "axon/needs-input");
    restarted.poll_once().await.expect("poll");
    gh.close(n);
    gh.remove_label(n, "axon/needs-input");
    restarted.poll_once().await.expect("poll");
    assert_eq!(task_names(&sink), ["self-1", "self-1-r2"]);
}

#[tokio::test]
async fn render_errors_create_nothing_and_set_a_condition() {
    let sp = github_spawner(
        "render",
        json!({}),
        json!({"taskTemplate": {"promptTemplate": "{{slice .Body 0 10}}"}}),
    );
    let (gh, sink, clock) = github_setup(sp);
    gh.add_issue("short body", "tiny", &[]);
    gh.add_issue("long body", "long enough body", &[]);
    let mut s = new_spawner("render", &gh, &sink, &clock);
    let r = report(s.poll_once().await.expect("poll"));
    assert_eq!(r.created, ["render-2"]);
    assert_eq!(r.render_errors, ["1"]);
    assert_eq!(prompt(&sink, "render-2"), "long enoug");
    let status = sink
        .spawner("render")
        .and_then(|s| s.status)
        .expect("status");
    let c = status
        .conditions
        .iter()
        .find(|c| c.type_ == "TemplateError")
        .expect("condition");
    assert_eq!(
        (c.status.as_str(), c.reason.as_str()),
        ("True", "RenderFailed")
    );

    // A template that does not parse fails the spawner before any request.
    let sp = github_spawner(
        "broken",
        json!({}),
        json!({"taskTemplate": {"promptTemplate": "{{.Titel}}"}}),
    );
    sink.put_spawner(sp);
    gh.clear_requests();
    let mut s = new_spawner("broken", &gh, &sink, &clock);
    assert!(matches!(
        s.poll_once().await.expect("poll"),
        PollOutcome::Failed { .. }
    ));
    assert!(gh.requests().is_empty());
}
