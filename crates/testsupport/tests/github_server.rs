//! The fake GitHub server on its own, over HTTP: filters, sorting, pagination `Link` headers,
//! `ETag`/`304`, rate-limit answers, authentication and the request log.

use axon_testsupport::github_server::FakeGitHub;
use reqwest::StatusCode;
use serde_json::Value;

struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    fn numbers(&self) -> Vec<u64> {
        self.body
            .as_array()
            .map(|a| a.iter().filter_map(|i| i["number"].as_u64()).collect())
            .unwrap_or_default()
    }
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

async fn get(gh: &FakeGitHub, path: &str, headers: &[(&str, &str)]) -> Answer {
    let url = if path.starts_with("http") {
        path.to_string()
    } else {
        format!("{}{path}", gh.base_url())
    };
    let mut req = client().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).expect("JSON body")
    };
    Answer {
        status,
        headers,
        body,
    }
}

fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (url, rel) = part.split_once(';')?;
        (rel.trim() == "rel=\"next\"").then(|| url.trim().trim_matches(['<', '>']).to_string())
    })
}

#[tokio::test]
async fn filters_by_state_labels_and_kind() {
    let gh = FakeGitHub::start().expect("start");
    let a = gh.add_issue("a", "", &["bug", "P1"]);
    let b = gh.add_issue("b", "", &["bug"]);
    let c = gh.add_pull("c", "", &["bug", "p1"]);
    let d = gh.add_issue("d", "", &[]);
    gh.close(b);
    let issues = "/repos/o/r/issues";
    // Default: open, newest first, pull requests included and marked.
    let all = get(&gh, issues, &[]).await;
    assert_eq!(all.status, StatusCode::OK);
    assert_eq!(all.numbers(), [d, c, a]);
    let pr = &all.body.as_array().expect("array")[1];
    assert!(pr["pull_request"]["url"].is_string());
    assert!(all.body[0].get("pull_request").is_none());
    assert_eq!(all.body[0]["user"]["login"], "octocat");
    // Labels: all of them, case-insensitively.
    let p1 = get(&gh, &format!("{issues}?labels=BUG,p1&direction=asc"), &[]).await;
    assert_eq!(p1.numbers(), [a, c]);
    assert_eq!(
        get(&gh, &format!("{issues}?state=closed"), &[])
            .await
            .numbers(),
        [b]
    );
    assert_eq!(
        get(
            &gh,
            &format!("{issues}?state=all&sort=created&direction=asc"),
            &[]
        )
        .await
        .numbers(),
        [a, b, c, d]
    );
    // Sorting by update: touching `a` moves it last in ascending order.
    gh.add_comment(a, "alice", "ping");
    assert_eq!(
        get(&gh, &format!("{issues}?sort=updated&direction=asc"), &[])
            .await
            .numbers(),
        [c, d, a]
    );
    // The pulls endpoint lists pull requests only.
    assert_eq!(get(&gh, "/repos/o/r/pulls", &[]).await.numbers(), [c]);
    // Comments, with authors; a missing issue is 404.
    let comments = get(&gh, &format!("/repos/o/r/issues/{a}/comments"), &[]).await;
    assert_eq!(comments.body[0]["user"]["login"], "alice");
    assert_eq!(comments.body[0]["body"], "ping");
    assert_eq!(
        get(&gh, "/repos/o/r/issues/99/comments", &[]).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(get(&gh, "/nope", &[]).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn pagination_follows_link_headers_to_the_end() {
    let gh = FakeGitHub::start().expect("start");
    for n in 0..250 {
        gh.add_issue(&format!("issue {n}"), "", &[]);
    }
    let first = get(&gh, "/repos/o/r/issues?per_page=100&direction=asc", &[]).await;
    let link = first.header("link").expect("Link header");
    assert!(link.contains("page=2>; rel=\"next\""), "{link}");
    assert!(link.contains("page=3>; rel=\"last\""), "{link}");
    assert!(!link.contains("rel=\"prev\""));
    let mut seen = first.numbers();
    let mut url = next_link(&link);
    let mut pages = 1;
    while let Some(u) = url {
        assert!(u.starts_with(&gh.base_url()), "absolute link: {u}");
        let page = get(&gh, &u, &[]).await;
        seen.extend(page.numbers());
        let link = page.header("link").unwrap_or_default();
        if u.ends_with("page=3") {
            assert!(link.contains("rel=\"prev\"") && link.contains("rel=\"first\""));
        }
        url = next_link(&link);
        pages += 1;
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, (1..=250).collect::<Vec<u64>>());
    // Default page size 30; per_page is clamped to 100; one page has no Link header.
    assert_eq!(get(&gh, "/repos/o/r/issues", &[]).await.numbers().len(), 30);
    assert_eq!(
        get(&gh, "/repos/o/r/issues?per_page=500", &[])
            .await
            .numbers()
            .len(),
        100
    );
    let small = FakeGitHub::start().expect("start");
    small.add_issue("only", "", &[]);
    assert!(
        get(&small, "/repos/o/r/issues", &[])
            .await
            .header("link")
            .is_none()
    );
}

#[tokio::test]
async fn etags_answer_304_until_something_changes() {
    let gh = FakeGitHub::start().expect("start");
    let n = gh.add_issue("a", "", &[]);
    let first = get(&gh, "/repos/o/r/issues", &[]).await;
    let etag = first.header("etag").expect("ETag");
    assert!(etag.starts_with("W/\""));
    let again = get(&gh, "/repos/o/r/issues", &[("if-none-match", &etag)]).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert_eq!(again.body, Value::Null);
    assert_eq!(again.header("etag").as_deref(), Some(etag.as_str()));
    // A list of validators matches too; a stale one does not.
    let listed = format!("\"other\", {etag}");
    assert_eq!(
        get(&gh, "/repos/o/r/issues", &[("if-none-match", &listed)])
            .await
            .status,
        StatusCode::NOT_MODIFIED
    );
    gh.add_label(n, "bug");
    let changed = get(&gh, "/repos/o/r/issues", &[("if-none-match", &etag)]).await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_ne!(changed.header("etag"), Some(etag));
    assert_eq!(changed.body[0]["labels"][0]["name"], "bug");
    let log = gh.requests();
    assert_eq!(
        log.iter()
            .map(|r| (r.status, r.conditional))
            .collect::<Vec<_>>(),
        [(200, false), (304, true), (304, true), (200, true)]
    );
}

#[tokio::test]
async fn rate_limits_answer_403_with_reset_or_429_with_retry_after() {
    let gh = FakeGitHub::start().expect("start");
    gh.add_issue("a", "", &[]);
    gh.rate_limit_next(2, 1_770_000_000);
    for _ in 0..2 {
        let r = get(&gh, "/repos/o/r/issues", &[]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(r.header("x-ratelimit-remaining").as_deref(), Some("0"));
        assert_eq!(r.header("x-ratelimit-reset").as_deref(), Some("1770000000"));
        assert!(
            r.body["message"]
                .as_str()
                .is_some_and(|m| m.contains("rate limit"))
        );
    }
    let ok = get(&gh, "/repos/o/r/issues", &[]).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.header("x-ratelimit-remaining").as_deref(), Some("4999"));
    gh.throttle_next(1, 7);
    let r = get(&gh, "/repos/o/r/issues", &[]).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.header("retry-after").as_deref(), Some("7"));
    assert_eq!(
        get(&gh, "/repos/o/r/issues", &[]).await.status,
        StatusCode::OK
    );
    let statuses: Vec<u16> = gh.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [403, 403, 200, 429, 200]);
}

#[tokio::test]
async fn tokens_are_checked_and_requests_logged() {
    let gh = FakeGitHub::start().expect("start");
    gh.add_issue("a", "", &[]);
    gh.require_token("s3cret");
    let none = get(&gh, "/repos/o/r/issues", &[]).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(none.body["message"], "Bad credentials");
    let wrong = get(
        &gh,
        "/repos/o/r/issues",
        &[("authorization", "Bearer nope")],
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let bearer = get(
        &gh,
        "/repos/o/r/issues?state=all",
        &[("authorization", "Bearer s3cret")],
    )
    .await;
    assert_eq!(bearer.status, StatusCode::OK);
    let legacy = get(
        &gh,
        "/repos/o/r/issues",
        &[("authorization", "token s3cret")],
    )
    .await;
    assert_eq!(legacy.status, StatusCode::OK);
    let log = gh.requests();
    assert_eq!(log.len(), 4);
    assert_eq!(
        log.iter().map(|r| r.authorized).collect::<Vec<_>>(),
        [false, false, true, true]
    );
    assert_eq!(log[2].method, "GET");
    assert_eq!(log[2].path, "/repos/o/r/issues");
    assert_eq!(log[2].query, "state=all");
    gh.clear_requests();
    assert!(gh.requests().is_empty());
}
