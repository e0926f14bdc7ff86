//! The pull request lookup against the project's fake GitHub REST server on 127.0.0.1.
//!
//! Why: the PR URLs in the results document come from the API, with the token, for the pushed
//! branch; a failure is reported without the token.

use axon_agent::github::{RepoRef, api_for, parse_remote, pull_requests};
use axon_testsupport::github_server::FakeGitHub;

#[tokio::test]
async fn lists_pull_requests_for_the_branch() {
    let gh = FakeGitHub::start().expect("fake github");
    gh.require_token("ghp-test-token");
    gh.add_pull("Fix the bug", "", &[]);
    let remote = RepoRef {
        host: "127.0.0.1".into(),
        owner: "acme".into(),
        repo: "widgets".into(),
    };
    let api =
        api_for(&remote, Some(&gh.base_url())).expect("a loopback API serves a loopback remote");
    let prs = pull_requests(&api, &remote, "axon/fix", "ghp-test-token")
        .await
        .expect("lookup");
    assert_eq!(prs.len(), 1, "{prs:?}");
    assert!(prs[0].contains("/acme/widgets/pull/1"), "{prs:?}");
    let requests = gh.requests();
    let last = requests.last().expect("a request");
    assert_eq!(last.path, "/repos/acme/widgets/pulls");
    assert!(
        last.query.contains("head=acme:axon/fix") && last.query.contains("state=all"),
        "{}",
        last.query
    );
}

#[tokio::test]
async fn errors_do_not_carry_the_token() {
    let gh = FakeGitHub::start().expect("fake github");
    gh.require_token("the-right-token");
    let remote = parse_remote("https://github.com/acme/widgets.git").expect("remote");
    let err = pull_requests(&gh.base_url(), &remote, "b", "ghp-wrong-secret-token")
        .await
        .expect_err("401");
    assert!(err.contains("401"), "{err}");
    assert!(!err.contains("ghp-wrong-secret-token"), "{err}");
}
