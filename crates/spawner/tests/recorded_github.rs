//! The GitHub client against recorded real GitHub responses, replayed on 127.0.0.1:
//!
//! * `@octokit/fixtures` scenario `paginate-issues` (five pages of a real repository's issue
//!   listing: every field GitHub sends, `null` bodies, `Link` headers pointing at
//!   `/repositories/{id}/issues`). Found at `$AXON_OCTOKIT_FIXTURES` (exported by
//!   `scripts/install-deps.sh`, default `~/.cache/axon-ci/octokit-fixtures/package`); missing
//!   fixtures fail the test unless `AXON_SKIP_OCTOKIT_FIXTURES=1`.
//! * The package has no listing with labels or pull requests and no comment listing, so
//!   `tests/fixtures/` holds hand-written pages in the documented shape (see its README).

use axon_api::{GitHubIssues, IssueState, ItemType};
use axon_core::spawn_item::{ItemKind, ItemState};
use axon_spawner::{GithubClient, GithubConfig, ManualClock, Token};
use axon_testsupport::github_replay::{
    Recorded, ReplayServer, load_octokit_scenario, octokit_fixtures_dir,
};

fn clock() -> ManualClock {
    ManualClock::new("2026-02-07T08:00:00Z".parse().expect("valid"))
}

fn client(server: &ReplayServer, owner: &str, repo: &str) -> GithubClient {
    GithubClient::new(GithubConfig {
        api_base: server.base_url(),
        owner: owner.into(),
        repo: repo.into(),
        token: Token::new("0000000000000000000000000000000000000001"),
    })
    .expect("client")
}

fn filter(types: Vec<ItemType>) -> GitHubIssues {
    GitHubIssues {
        state: IssueState::Open,
        types,
        ..GitHubIssues::default()
    }
}

#[tokio::test]
async fn octokit_paginate_issues_is_read_page_by_page() {
    let dir = octokit_fixtures_dir();
    let recorded = match load_octokit_scenario(&dir, "paginate-issues") {
        Ok(r) => r,
        Err(e) if std::env::var("AXON_SKIP_OCTOKIT_FIXTURES").as_deref() == Ok("1") => {
            eprintln!("skipped: {e}");
            return;
        }
        Err(e) => panic!("{e} (or set AXON_SKIP_OCTOKIT_FIXTURES=1 to skip)"),
    };
    assert_eq!(recorded.len(), 5, "five recorded pages");
    let server = ReplayServer::start(recorded).expect("replay server");
    let mut gh = client(&server, "octokit-fixture-org", "paginate-issues");
    let items = gh
        .list_items(&filter(vec![ItemType::Issues]), &clock())
        .await
        .expect("list");
    let numbers: Vec<u64> = items.iter().map(|i| i.number).collect();
    assert_eq!(numbers, (1..=13).rev().collect::<Vec<u64>>());
    let first = &items[0];
    assert_eq!(first.id, "13");
    assert_eq!(first.title, "Test issue 13");
    assert_eq!(first.body, "", "a null body is empty");
    assert_eq!(
        first.url,
        "https://github.com/octokit-fixture-org/paginate-issues/issues/13"
    );
    assert_eq!(first.kind, ItemKind::Issue);
    assert_eq!(first.state, ItemState::Open);
    assert!(first.labels.is_empty());
    assert_eq!(first.updated_at, "2017-10-10T16:00:00Z".parse().ok());
    // The first page on the repository path, the rest by following the recorded `Link`s.
    let requests = server.requests();
    assert_eq!(requests.len(), 5);
    assert!(requests[0].starts_with("/repos/octokit-fixture-org/paginate-issues/issues?"));
    assert_eq!(requests[4], "/repositories/1000/issues?per_page=3&page=5");
    assert_eq!(gh.cached_pages(), 5);
    // Polling again revalidates the same five pages and caches no more.
    gh.list_items(&filter(vec![ItemType::Issues]), &clock())
        .await
        .expect("list");
    assert_eq!(server.requests().len(), 10);
    assert_eq!(gh.cached_pages(), 5);
}

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[tokio::test]
async fn documented_payloads_with_labels_pull_requests_and_comments() {
    let json = |body: String| Recorded {
        path: String::new(),
        status: 200,
        headers: vec![
            (
                "content-type".into(),
                "application/json; charset=utf-8".into(),
            ),
            ("etag".into(), "W/\"5a1b\"".into()),
        ],
        body,
    };
    let server = ReplayServer::start(vec![
        Recorded {
            path: "/repos/octocat/Hello-World/issues".into(),
            ..json(fixture("issues-page.json"))
        },
        Recorded {
            path: "/repos/octocat/Hello-World/issues/1347/comments".into(),
            ..json(fixture("issue-comments.json"))
        },
    ])
    .expect("replay server");
    let mut gh = client(&server, "octocat", "Hello-World");
    let both = gh
        .list_items(&filter(vec![ItemType::Issues, ItemType::Pulls]), &clock())
        .await
        .expect("list");
    assert_eq!(both.len(), 2);
    let (issue, pull) = (&both[0], &both[1]);
    assert_eq!(issue.kind, ItemKind::Issue);
    assert_eq!(issue.labels, ["bug", "axon/needs-input"]);
    assert!(issue.has_any_label(&["AXON/Needs-Input".to_string()]));
    assert_eq!(issue.body, "I'm having a problem with this.");
    assert_eq!(pull.kind, ItemKind::PullRequest);
    assert_eq!(pull.id, "1348");
    assert_eq!(pull.body, "");
    assert_eq!(pull.url, "https://github.com/octocat/Hello-World/pull/1348");
    assert_eq!(pull.labels, ["good first issue"]);
    // Comments: author and body (a null body is empty); the PR has none, so no request.
    let comments = gh.comments(1347, &clock()).await.expect("comments");
    insta::assert_snapshot!(comments, @r"
    @hubot:
    Me too

    ---

    @octocat:
    ");
    let before = server.requests().len();
    assert_eq!(gh.comments(1348, &clock()).await.expect("comments"), "");
    assert_eq!(gh.comments(1347, &clock()).await.expect("cached"), comments);
    assert_eq!(
        server.requests().len(),
        before,
        "no request for cached or empty"
    );
    // The type filter is applied to the `pull_request` marker.
    let issues = gh
        .list_items(&filter(vec![ItemType::Issues]), &clock())
        .await
        .expect("list");
    assert_eq!(issues.iter().map(|i| i.number).collect::<Vec<_>>(), [1347]);
    let pulls = gh
        .list_items(&filter(vec![ItemType::Pulls]), &clock())
        .await
        .expect("list");
    assert_eq!(pulls.iter().map(|i| i.number).collect::<Vec<_>>(), [1348]);
}
