//! Benchmark: GitHub requests per poll, and time to discover, for a repository with 1,000 open
//! issues (a third of them with comments), against the fake GitHub server on 127.0.0.1.
//!
//! Compares Axon's GitHub source (ETag cache, lazy and cached comments) with the naive
//! approach measured in the same process: list every page and fetch every issue's comments on
//! every poll. Run with `bench/github_poll.sh`.

use axon_spawner::{MemorySink, PollOutcome, Spawner, SpawnerOptions, SystemClock, Token};
use axon_testsupport::github_server::FakeGitHub;
use serde_json::json;
use std::time::{Duration, Instant};

const ISSUES: u64 = 1000;
const TOKEN: &str = "bench-token";

fn spawner(template: &str) -> axon_api::TaskSpawner {
    serde_json::from_value(json!({
        "apiVersion": "axon.io/v1alpha1",
        "kind": "TaskSpawner",
        "metadata": {"name": "bench", "namespace": "default"},
        "spec": {
            "when": {"githubIssues": {"state": "open"}},
            "taskTemplate": {
                "type": "claude-code",
                "credentials": {"type": "api-key", "secretRef": {"name": "creds"}},
                "workspaceRef": {"name": "ws"},
                "promptTemplate": template,
            },
        },
    }))
    .expect("valid TaskSpawner")
}

fn workspace() -> axon_api::Workspace {
    serde_json::from_value(json!({
        "apiVersion": "axon.io/v1alpha1",
        "kind": "Workspace",
        "metadata": {"name": "ws"},
        "spec": {"repo": "https://github.com/o/r.git", "secretRef": {"name": "gh"}},
    }))
    .expect("valid Workspace")
}

struct Poll {
    requests: usize,
    not_modified: usize,
    comments: usize,
    elapsed: Duration,
    created: usize,
}

async fn poll(s: &mut Spawner<MemorySink, SystemClock>, gh: &FakeGitHub) -> Poll {
    gh.clear_requests();
    let started = Instant::now();
    let outcome = s.poll_once().await.expect("poll");
    let elapsed = started.elapsed();
    let created = match outcome {
        PollOutcome::Polled(r) => r.created.len(),
        other => panic!("unexpected outcome {other:?}"),
    };
    let log = gh.requests();
    Poll {
        requests: log.len(),
        not_modified: log.iter().filter(|r| r.status == 304).count(),
        comments: log.iter().filter(|r| r.path.ends_with("/comments")).count(),
        elapsed,
        created,
    }
}

/// One naive poll: every page, then every issue's comments, no caching.
async fn naive_poll(gh: &FakeGitHub) -> (usize, Duration) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    gh.clear_requests();
    let started = Instant::now();
    let mut numbers = Vec::new();
    let mut url = Some(format!(
        "{}/repos/o/r/issues?state=open&per_page=100",
        gh.base_url()
    ));
    while let Some(u) = url.take() {
        let resp = client
            .get(&u)
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("list");
        url = resp
            .headers()
            .get("link")
            .and_then(|l| l.to_str().ok())
            .and_then(axon_spawner::github::next_link);
        let page: Vec<serde_json::Value> = resp.json().await.expect("json");
        numbers.extend(page.iter().filter_map(|i| i["number"].as_u64()));
    }
    for n in numbers {
        let u = format!(
            "{}/repos/o/r/issues/{n}/comments?per_page=100",
            gh.base_url()
        );
        let _ = client
            .get(&u)
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("comments")
            .text()
            .await;
    }
    (gh.requests().len(), started.elapsed())
}

fn ratio(naive: usize, ours: usize) -> String {
    if ours == 0 {
        "∞".to_string()
    } else {
        format!("{:.1}x", naive as f64 / ours as f64)
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let gh = FakeGitHub::start().expect("fake GitHub");
    gh.require_token(TOKEN);
    for n in 1..=ISSUES {
        let i = gh.add_issue(&format!("Issue {n}"), "Something is broken.", &["bug"]);
        if n % 3 == 0 {
            gh.add_comment(i, "alice", "Seen it too.");
            gh.add_comment(i, "bob", "Here is a stack trace.");
        }
    }
    let (naive_requests, naive_time) = naive_poll(&gh).await;

    println!(
        "GitHub requests per poll, repository with {ISSUES} open issues (a third with comments)"
    );
    println!(
        "naive (list + comments per issue, every poll): {naive_requests} requests, {:.1} ms",
        naive_time.as_secs_f64() * 1000.0
    );
    for (label, template) in [
        (
            "promptTemplate uses {{.Comments}}",
            "{{.Title}}\n{{.Body}}\n{{.Comments}}",
        ),
        ("default promptTemplate", ""),
    ] {
        let sink = MemorySink::new();
        sink.put_spawner(spawner(template));
        sink.put_workspace(workspace(), Token::new(TOKEN));
        let mut s = Spawner::new(
            "bench",
            sink.clone(),
            SystemClock,
            SpawnerOptions {
                github_api_base: Some(gh.base_url()),
            },
        );
        let first = poll(&mut s, &gh).await;
        let idle = poll(&mut s, &gh).await;
        assert_eq!(first.created as u64, ISSUES);
        assert_eq!(idle.created, 0);
        println!("\n{label}:");
        println!(
            "  first poll: {:>5} requests ({} comment fetches), {} Tasks, discovered in {:.1} ms   naive/axon: {} requests, {} time",
            first.requests,
            first.comments,
            first.created,
            first.elapsed.as_secs_f64() * 1000.0,
            ratio(naive_requests, first.requests),
            ratio(
                naive_time.as_micros() as usize,
                first.elapsed.as_micros() as usize
            ),
        );
        println!(
            "  idle poll:  {:>5} requests ({} of them 304, {} comment fetches), {:.1} ms   naive/axon: {} requests, {} time",
            idle.requests,
            idle.not_modified,
            idle.comments,
            idle.elapsed.as_secs_f64() * 1000.0,
            ratio(naive_requests, idle.requests),
            ratio(
                naive_time.as_micros() as usize,
                idle.elapsed.as_micros() as usize
            ),
        );
    }
}
