//! Webhook deliveries through the spawn decision (`axon_spawner::deliver_item`), against the
//! in-memory backend and, for agreement with the poll, the fake GitHub: the delivered issue
//! gets the Task the poll would create, under the same name; a Task deleted by TTL is not
//! created again by a later delivery; the needs-input loop works by webhook (an excluded label
//! marks, its removal re-queues exactly once); and a poll after a delivery adds nothing.

mod common;

use axon_api::TaskPhase;
use axon_core::webhook::issues_event::{IssuesEvent, parse};
use axon_spawner::deliver_item;
use common::{github_setup, new_spawner, prompt, task_names};
use serde_json::json;

/// An `issues` delivery about issue `number` of `o/r` with `labels`, last updated at
/// `minute` past 08:00.
fn delivery(action: &str, number: u64, labels: &[&str], minute: u32) -> IssuesEvent {
    let body = json!({
        "action": action,
        "issue": {
            "number": number, "title": "crash on start", "body": "it crashes", "state": "open",
            "html_url": format!("https://github.com/o/r/issues/{number}"),
            "labels": labels.iter().map(|l| json!({"name": l})).collect::<Vec<_>>(),
            "comments": 0, "updated_at": format!("2026-02-07T08:{minute:02}:00Z"),
        },
        "repository": {"full_name": "o/r"},
    });
    parse(&serde_json::to_vec(&body).expect("json")).expect("an issues event")
}

#[tokio::test]
async fn deliveries_run_the_spawn_decision_and_agree_with_the_poll() {
    let spawner = common::github_spawner(
        "s",
        json!({"excludeLabels": ["axon/needs-input"], "webhook": {"secretRef": {"name": "hook"}}}),
        json!({"taskTemplate": {"promptTemplate": "Fix #{{.Number}}: {{.Title}}"}}),
    );
    let (gh, sink, clock) = github_setup(spawner);
    let get = || sink.spawner("s").expect("spawner");

    let e = delivery("opened", 1, &[], 1);
    let d = deliver_item(&sink, &get(), &e.item, e.comments)
        .await
        .expect("deliver");
    assert_eq!(d.created, ["s-1"]);
    assert_eq!(prompt(&sink, "s-1"), "Fix #1: crash on start");
    let status = get().status.expect("status");
    assert_eq!(status.total_tasks_created, 1);
    assert_eq!(status.spawned_items.len(), 1);
    // The same delivery again (a redelivery that got past the store): nothing new.
    let d = deliver_item(&sink, &get(), &e.item, e.comments)
        .await
        .expect("again");
    assert!(
        d.created.is_empty() && d.already_existed == ["s-1"],
        "{d:?}"
    );

    // The Task finishes and TTL deletes it: a later delivery does not bring it back.
    sink.set_phase("s-1", TaskPhase::Succeeded);
    sink.delete_task("s-1");
    let e = delivery("labeled", 1, &["bug"], 2);
    let d = deliver_item(&sink, &get(), &e.item, e.comments)
        .await
        .expect("after TTL");
    assert!(d.created.is_empty(), "{d:?}");
    assert!(task_names(&sink).is_empty());

    // Needs input by webhook: the excluded label marks the item, removing it re-queues once.
    let e = delivery("labeled", 1, &["axon/needs-input"], 3);
    let d = deliver_item(&sink, &get(), &e.item, e.comments)
        .await
        .expect("labelled");
    assert!(d.created.is_empty(), "{d:?}");
    let e = delivery("unlabeled", 1, &[], 4);
    let d = deliver_item(&sink, &get(), &e.item, e.comments)
        .await
        .expect("unlabelled");
    assert_eq!(d.created, ["s-1-r2"]);
    let d = deliver_item(&sink, &get(), &e.item, e.comments)
        .await
        .expect("again");
    assert!(d.created.is_empty(), "{d:?}");
    assert_eq!(task_names(&sink), ["s-1-r2"]);

    // The poll lists the same issue (number 1 at the fake GitHub) and issue 2: it creates
    // only issue 2's Task; a delivery for issue 2 afterwards finds it.
    gh.add_issue("crash on start", "it crashes", &[]);
    gh.add_issue("typo", "", &[]);
    let mut poller = new_spawner("s", &gh, &sink, &clock);
    poller.poll_once().await.expect("poll");
    assert_eq!(task_names(&sink), ["s-1-r2", "s-2"]);
    let e = delivery("opened", 2, &[], 5);
    let d = deliver_item(&sink, &get(), &e.item, e.comments)
        .await
        .expect("after poll");
    assert!(
        d.created.is_empty() && d.already_existed == ["s-2"],
        "{d:?}"
    );
    assert_eq!(task_names(&sink), ["s-1-r2", "s-2"]);
}

#[tokio::test]
async fn a_prompt_with_comments_is_left_to_the_poll() {
    let spawner = common::github_spawner(
        "s",
        json!({"webhook": {"secretRef": {"name": "hook"}}}),
        json!({"taskTemplate": {"promptTemplate": "{{.Title}}\n{{.Comments}}"}}),
    );
    let (_gh, sink, _clock) = github_setup(spawner);
    let mut e = delivery("opened", 1, &[], 1);
    e.comments = 2;
    let d = deliver_item(&sink, &sink.spawner("s").expect("s"), &e.item, e.comments)
        .await
        .expect("deliver");
    assert!(d.created.is_empty());
    assert!(
        d.left_to_poll
            .as_deref()
            .is_some_and(|w| w.contains(".Comments")),
        "{d:?}"
    );
    // Without comments there is nothing to fetch: created at once.
    e.comments = 0;
    let d = deliver_item(&sink, &sink.spawner("s").expect("s"), &e.item, e.comments)
        .await
        .expect("deliver");
    assert_eq!(d.created, ["s-1"]);
}
