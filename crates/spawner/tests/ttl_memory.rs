//! Tasks deleted by `ttlSecondsAfterFinished` do not come back: the spawner remembers the
//! items it spawned (`status.spawnedItems`), across restarts and crashes, and re-queues an
//! item only through the needs-input loop.

mod common;

use axon_api::TaskPhase;
use axon_spawner::{MemorySink, PollOutcome, PollReport};
use common::*;
use serde_json::json;

fn report(outcome: PollOutcome) -> PollReport {
    match outcome {
        PollOutcome::Polled(r) => r,
        other => panic!("expected a poll, got {other:?}"),
    }
}

/// Every Task succeeds, then TTL cleanup deletes it.
fn finish_and_delete_all(sink: &MemorySink) {
    for name in sink.tasks().keys() {
        sink.set_phase(name, TaskPhase::Succeeded);
        sink.delete_task(name);
    }
}

fn remembered(sink: &MemorySink, spawner: &str) -> Vec<String> {
    sink.spawner(spawner)
        .and_then(|s| s.status)
        .map(|s| s.spawned_items.into_iter().map(|i| i.id).collect())
        .unwrap_or_default()
}

fn ttl_spawner(name: &str) -> axon_api::TaskSpawner {
    github_spawner(
        name,
        json!({"excludeLabels": ["axon/needs-input"]}),
        json!({"taskTemplate": {"ttlSecondsAfterFinished": 60}}),
    )
}

#[tokio::test]
async fn deleted_tasks_of_open_issues_are_not_spawned_again() {
    let (gh, sink, clock) = github_setup(ttl_spawner("ttl"));
    for n in 1..=20 {
        gh.add_issue(&format!("issue {n}"), "", &[]);
    }
    let r = report(
        new_spawner("ttl", &gh, &sink, &clock)
            .poll_once()
            .await
            .expect("poll"),
    );
    assert_eq!(r.created.len(), 20);
    assert_eq!(remembered(&sink, "ttl").len(), 20);
    finish_and_delete_all(&sink);
    // Restarted spawners, and activity on an issue (a comment bumps updated_at): nothing.
    gh.add_comment(3, "alice", "any news?");
    for _ in 0..3 {
        let mut s = new_spawner("ttl", &gh, &sink, &clock);
        let r = report(s.poll_once().await.expect("poll"));
        assert!(r.created.is_empty(), "{r:?}");
    }
    assert!(sink.tasks().is_empty());
    assert_eq!(sink.tasks_created(), 20);
    // The memory follows the source: a closed issue leaves it.
    gh.close(5);
    report(
        new_spawner("ttl", &gh, &sink, &clock)
            .poll_once()
            .await
            .expect("poll"),
    );
    let ids = remembered(&sink, "ttl");
    assert_eq!(ids.len(), 19);
    assert!(!ids.contains(&"5".to_string()));
    let status = sink.spawner("ttl").and_then(|s| s.status).expect("status");
    assert_eq!(status.total_tasks_created, 20);
    assert_eq!(status.active_tasks, 0);
}

#[tokio::test]
async fn a_crash_between_create_and_status_write_duplicates_nothing() {
    let (gh, sink, clock) = github_setup(ttl_spawner("crash"));
    for n in 1..=10 {
        gh.add_issue(&format!("issue {n}"), "", &[]);
    }
    sink.fail_status_updates(1);
    let mut s = new_spawner("crash", &gh, &sink, &clock);
    assert!(s.poll_once().await.is_err(), "the status write was lost");
    assert_eq!(sink.tasks().len(), 10);
    assert!(remembered(&sink, "crash").is_empty());
    // Restart: the existing Tasks block their items, and the memory is written from them.
    let mut s = new_spawner("crash", &gh, &sink, &clock);
    let r = report(s.poll_once().await.expect("poll"));
    assert!(
        r.created.is_empty() && r.already_existed.is_empty(),
        "{r:?}"
    );
    assert_eq!(remembered(&sink, "crash").len(), 10);
    finish_and_delete_all(&sink);
    let mut s = new_spawner("crash", &gh, &sink, &clock);
    let r = report(s.poll_once().await.expect("poll"));
    assert!(r.created.is_empty(), "{r:?}");
    assert_eq!(sink.tasks_created(), 10);
}

#[tokio::test]
async fn needs_input_after_the_task_was_deleted_requeues_exactly_once() {
    let (gh, sink, clock) = github_setup(ttl_spawner("ni"));
    let n = gh.add_issue("stuck", "", &[]);
    let poll = || async {
        report(
            new_spawner("ni", &gh, &sink, &clock)
                .poll_once()
                .await
                .expect("poll"),
        )
    };
    assert_eq!(poll().await.created, ["ni-1"]);
    // The agent labels the issue and finishes; TTL deletes its Task.
    gh.add_label(n, "axon/needs-input");
    finish_and_delete_all(&sink);
    let r = poll().await;
    assert!(r.created.is_empty());
    assert_eq!(r.excluded, ["1"]);
    let status = sink.spawner("ni").and_then(|s| s.status).expect("status");
    assert!(status.spawned_items[0].needs_input);
    // A human removes the label: one new generation, whatever the number of polls/restarts.
    gh.remove_label(n, "axon/needs-input");
    assert_eq!(poll().await.created, ["ni-1-r2"]);
    for _ in 0..3 {
        assert!(poll().await.created.is_empty());
    }
    finish_and_delete_all(&sink);
    for _ in 0..3 {
        assert!(poll().await.created.is_empty());
    }
    assert_eq!(sink.tasks_created(), 2);
    let status = sink.spawner("ni").and_then(|s| s.status).expect("status");
    assert_eq!(status.spawned_items[0].generation, 2);
    assert!(!status.spawned_items[0].needs_input);
}

/// 1,000 issues, crashes while creating and while writing status, restarts, and TTL deleting
/// every finished Task: each issue gets exactly one Task over the whole run.
#[tokio::test]
async fn zero_duplicates_over_1000_issues_with_ttl_crashes_and_restarts() {
    let (gh, sink, clock) = github_setup(ttl_spawner("many"));
    for n in 0..1000 {
        gh.add_issue(&format!("issue {n}"), "", &[]);
    }
    // Crashes while creating: 137 Tasks per attempt, no status written.
    sink.fail_creates_after(Some(137));
    for _ in 0..4 {
        let mut s = new_spawner("many", &gh, &sink, &clock);
        assert!(s.poll_once().await.is_err());
        sink.fail_creates_after(Some(137));
    }
    assert_eq!(sink.tasks().len(), 4 * 137);
    // A crash after creating the rest, before the status write.
    sink.fail_creates_after(None);
    sink.fail_status_updates(1);
    let mut s = new_spawner("many", &gh, &sink, &clock);
    assert!(s.poll_once().await.is_err());
    assert!(remembered(&sink, "many").is_empty());
    // The restart writes the memory from the existing Tasks and creates nothing.
    let mut s = new_spawner("many", &gh, &sink, &clock);
    let r = report(s.poll_once().await.expect("poll"));
    assert!(r.created.is_empty() && r.already_existed.is_empty());
    sink.fail_creates_after(None);
    assert_eq!(sink.tasks().len(), 1000);
    assert_eq!(remembered(&sink, "many").len(), 1000);
    for round in 0..4 {
        // Half of the Tasks finish and are deleted, then all of them.
        let names: Vec<String> = sink.tasks().keys().cloned().collect();
        for name in names.iter().skip(round % 2).step_by(2) {
            sink.set_phase(name, TaskPhase::Succeeded);
            sink.delete_task(name);
        }
        if round == 2 {
            finish_and_delete_all(&sink);
            gh.add_comment(500, "bob", "bump");
        }
        let mut s = new_spawner("many", &gh, &sink, &clock);
        let r = report(s.poll_once().await.expect("poll"));
        assert!(r.created.is_empty(), "round {round}: {:?}", r.created);
    }
    assert_eq!(sink.tasks_created(), 1000);
    // New issues still get their Task.
    gh.add_issue("new", "", &[]);
    let mut s = new_spawner("many", &gh, &sink, &clock);
    let r = report(s.poll_once().await.expect("poll"));
    assert_eq!(r.created, ["many-1001"]);
    assert_eq!(sink.tasks_created(), 1001);
}
