//! A fake GitHub REST server on 127.0.0.1 for the TaskSpawner's GitHub source.
//!
//! It serves the slice of the API the spawner uses, with the behaviours that matter for cost
//! and correctness: issues and pull requests (`GET /repos/{o}/{r}/issues`, `.../pulls`) with
//! label and state filters, sorting, `per_page`/`page` pagination with `Link` headers,
//! one item (`.../issues/{n}`), comments (`.../issues/{n}/comments`, listed and posted), the permission checks of comment
//! commands (`.../collaborators/{user}/permission`, `/orgs/{org}/teams/{team}/memberships/{user}`), `ETag`/`If-None-Match` answered with `304`, and a
//! switchable rate limit (`403` with `x-ratelimit-remaining: 0` and `x-ratelimit-reset`, or
//! `429` with `retry-after`). Tests mutate the repository (add issues, add/remove labels,
//! close) and read a request log to count exactly what the client asked for.
//!
//! The server runs on its own thread and runtime so it works from sync and async tests alike,
//! serves for at most ten minutes, and stops when dropped.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, Response, StatusCode, Uri};
use axum::routing::get;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::serve::Background;

/// One request as the server saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestRecord {
    /// HTTP method.
    pub method: String,
    /// Path, e.g. `/repos/o/r/issues`.
    pub path: String,
    /// Raw query string (empty when none).
    pub query: String,
    /// Status code answered.
    pub status: u16,
    /// Whether the request carried `If-None-Match`.
    pub conditional: bool,
    /// Whether the request carried the expected token (or any token when none is required).
    pub authorized: bool,
}

/// A comment on an issue or pull request.
#[derive(Clone, Debug)]
struct Comment {
    id: u64,
    author: String,
    body: String,
}

/// An issue or pull request.
#[derive(Clone, Debug)]
struct Item {
    number: u64,
    title: String,
    body: String,
    labels: Vec<String>,
    open: bool,
    pull: bool,
    created: u64,
    updated: u64,
    comments: Vec<Comment>,
}

#[derive(Debug, Default)]
struct RateLimit {
    /// Requests still to refuse.
    remaining_refusals: usize,
    /// `x-ratelimit-reset` (epoch seconds) to announce.
    reset_epoch: i64,
    /// Answer `429` with `retry-after` instead of `403`.
    use_429: bool,
}

#[derive(Debug, Default)]
struct Repo {
    items: Vec<Item>,
    /// Logical clock for `created_at`/`updated_at`: seconds after 2026-01-01T00:00:00Z.
    clock: u64,
    next_comment_id: u64,
    log: Vec<RequestRecord>,
    rate_limit: RateLimit,
    token: Option<String>,
    /// `role_name` per login (lower case) for the collaborator permission API.
    permissions: BTreeMap<String, String>,
    /// Active memberships: (org, team slug, login), lower case.
    team_members: Vec<(String, String, String)>,
    /// Comments POSTed through the API: (issue number, body).
    posted: Vec<(u64, String)>,
}

impl Repo {
    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    fn item_mut(&mut self, number: u64) -> Option<&mut Item> {
        self.items.iter_mut().find(|i| i.number == number)
    }
}

type Shared = Arc<Mutex<Repo>>;

fn lock(state: &Shared) -> MutexGuard<'_, Repo> {
    // A panicking test thread must not wedge every other request.
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The running fake server. Dropping it stops it.
pub struct FakeGitHub {
    server: Background,
    state: Shared,
}

/// Error starting the server.
#[derive(Debug, thiserror::Error)]
pub enum FakeGitHubError {
    /// Binding or starting the runtime failed.
    #[error("cannot start the fake GitHub server on 127.0.0.1: {0}")]
    Io(#[from] std::io::Error),
}

impl FakeGitHub {
    /// Starts an empty repository on an ephemeral port of 127.0.0.1.
    pub fn start() -> Result<FakeGitHub, FakeGitHubError> {
        let state: Shared = Arc::new(Mutex::new(Repo::default()));
        let server = Background::start("fake-github", |_| router(state.clone()))?;
        Ok(FakeGitHub { server, state })
    }

    /// Base URL of the API, e.g. `http://127.0.0.1:PORT` (what GitHub Enterprise calls
    /// `https://HOST/api/v3`).
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// Requires `Authorization: Bearer <token>` (or `token <token>`); others get `401`.
    pub fn require_token(&self, token: &str) {
        lock(&self.state).token = Some(token.to_string());
    }

    fn add(&self, title: &str, body: &str, labels: &[&str], pull: bool) -> u64 {
        let mut repo = lock(&self.state);
        let number = repo.items.len() as u64 + 1;
        let now = repo.tick();
        repo.items.push(Item {
            number,
            title: title.to_string(),
            body: body.to_string(),
            labels: labels.iter().map(|l| l.to_string()).collect(),
            open: true,
            pull,
            created: now,
            updated: now,
            comments: Vec::new(),
        });
        number
    }

    /// Adds an open issue; returns its number.
    pub fn add_issue(&self, title: &str, body: &str, labels: &[&str]) -> u64 {
        self.add(title, body, labels, false)
    }

    /// Adds an open pull request; returns its number (shared with issues, as on GitHub).
    pub fn add_pull(&self, title: &str, body: &str, labels: &[&str]) -> u64 {
        self.add(title, body, labels, true)
    }

    fn update(&self, number: u64, change: impl FnOnce(&mut Item)) {
        let mut repo = lock(&self.state);
        let now = repo.tick();
        if let Some(item) = repo.item_mut(number) {
            change(item);
            item.updated = now;
        }
    }

    /// Adds a comment (bumps `updated_at` and the comment count).
    pub fn add_comment(&self, number: u64, author: &str, body: &str) {
        let id = {
            let mut repo = lock(&self.state);
            repo.next_comment_id += 1;
            repo.next_comment_id
        };
        self.update(number, |i| {
            i.comments.push(Comment {
                id,
                author: author.to_string(),
                body: body.to_string(),
            })
        });
    }

    /// Adds a label.
    pub fn add_label(&self, number: u64, label: &str) {
        self.update(number, |i| {
            if !i.labels.iter().any(|l| l == label) {
                i.labels.push(label.to_string());
            }
        });
    }

    /// Removes a label.
    pub fn remove_label(&self, number: u64, label: &str) {
        self.update(number, |i| i.labels.retain(|l| l != label));
    }

    /// Closes an issue or pull request.
    pub fn close(&self, number: u64) {
        self.update(number, |i| i.open = false);
    }

    /// Reopens an issue or pull request.
    pub fn reopen(&self, number: u64) {
        self.update(number, |i| i.open = true);
    }

    /// Refuses the next `requests` requests with `403`, `x-ratelimit-remaining: 0` and
    /// `x-ratelimit-reset: reset_epoch`, as GitHub does when the primary rate limit is spent.
    pub fn rate_limit_next(&self, requests: usize, reset_epoch: i64) {
        lock(&self.state).rate_limit = RateLimit {
            remaining_refusals: requests,
            reset_epoch,
            use_429: false,
        };
    }

    /// Refuses the next `requests` requests with `429` and `retry-after: seconds` (a secondary
    /// rate limit).
    pub fn throttle_next(&self, requests: usize, retry_after_secs: i64) {
        lock(&self.state).rate_limit = RateLimit {
            remaining_refusals: requests,
            reset_epoch: retry_after_secs,
            use_429: true,
        };
    }

    /// Sets `login`'s permission on the repository as GitHub's `role_name` (`read`, `triage`,
    /// `write`, `maintain`, `admin`); logins never set have `read` (anyone, on a public
    /// repository).
    pub fn set_permission(&self, login: &str, role: &str) {
        lock(&self.state)
            .permissions
            .insert(login.to_lowercase(), role.to_string());
    }

    /// Makes `login` an active member of team `org/slug`.
    pub fn add_team_member(&self, org: &str, slug: &str, login: &str) {
        lock(&self.state).team_members.push((
            org.to_lowercase(),
            slug.to_lowercase(),
            login.to_lowercase(),
        ));
    }

    /// Comments POSTed through the API, oldest first: (issue number, body).
    pub fn posted_comments(&self) -> Vec<(u64, String)> {
        lock(&self.state).posted.clone()
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.state).log.clone()
    }

    /// Forgets the request log.
    pub fn clear_requests(&self) {
        lock(&self.state).log.clear();
    }
}

fn router(state: Shared) -> Router {
    Router::new()
        .route("/repos/{owner}/{repo}/issues", get(list_issues))
        .route("/repos/{owner}/{repo}/pulls", get(list_pulls))
        .route("/repos/{owner}/{repo}/issues/{number}", get(get_item))
        .route(
            "/repos/{owner}/{repo}/issues/{number}/comments",
            get(list_comments).post(post_comment),
        )
        .route(
            "/repos/{owner}/{repo}/collaborators/{user}/permission",
            get(permission),
        )
        .route(
            "/orgs/{org}/teams/{team}/memberships/{user}",
            get(team_membership),
        )
        .fallback(not_found)
        .with_state(state)
}

fn timestamp(logical: u64) -> String {
    // 2026-01-01T00:00:00Z plus `logical` seconds, spelled out without a date library.
    let (days, rest) = (logical / 86_400, logical % 86_400);
    let (h, m, s) = (rest / 3600, rest % 3600 / 60, rest % 60);
    // Days beyond January are not needed by any test; keep them inside the month.
    let day = 1 + days % 28;
    let month = 1 + (days / 28) % 12;
    format!("2026-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
}

fn item_json(base: &str, owner: &str, repo: &str, item: &Item) -> Value {
    let kind = if item.pull { "pull" } else { "issues" };
    let mut v = json!({
        "number": item.number,
        "title": item.title,
        "body": item.body,
        "state": if item.open { "open" } else { "closed" },
        "html_url": format!("https://github.com/{owner}/{repo}/{kind}/{}", item.number),
        "labels": item.labels.iter().map(|l| json!({"name": l})).collect::<Vec<_>>(),
        "comments": item.comments.len(),
        "created_at": timestamp(item.created),
        "updated_at": timestamp(item.updated),
        "user": {"login": "octocat"},
    });
    if item.pull {
        v["pull_request"] = json!({
            "url": format!("{base}/repos/{owner}/{repo}/pulls/{}", item.number),
        });
    }
    v
}

fn params(query: &Option<String>) -> BTreeMap<String, String> {
    query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Checks auth and the rate limit, logs, and answers `304` when the ETag matches.
struct Gate<'a> {
    state: &'a Shared,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
}

/// What a handler answers once auth and the rate limit let the request through.
enum Answer {
    /// One page of a listing: the values, the page number and the last page.
    Page(Vec<Value>, usize, usize),
    /// One JSON object with a status.
    Object(StatusCode, Value),
    /// `404`.
    NotFound,
}

impl Gate<'_> {
    fn finish(self, base: &str, page: Option<(Vec<Value>, usize, usize)>) -> Response<Body> {
        let answer = match page {
            Some((values, page, last)) => Answer::Page(values, page, last),
            None => Answer::NotFound,
        };
        self.answer(base, answer)
    }

    fn answer(self, base: &str, answer: Answer) -> Response<Body> {
        let mut repo = lock(self.state);
        let authorized = match (&repo.token, self.headers.get("authorization")) {
            (None, _) => true,
            (Some(t), Some(h)) => {
                h.to_str().ok() == Some(&format!("Bearer {t}"))
                    || h.to_str().ok() == Some(&format!("token {t}"))
            }
            (Some(_), None) => false,
        };
        let conditional = self.headers.contains_key("if-none-match");
        let mut record = RequestRecord {
            method: self.method.to_string(),
            path: self.uri.path().to_string(),
            query: self.uri.query().unwrap_or("").to_string(),
            status: 0,
            conditional,
            authorized,
        };
        let response = if !authorized {
            json_response(
                StatusCode::UNAUTHORIZED,
                &json!({"message": "Bad credentials"}),
            )
        } else if repo.rate_limit.remaining_refusals > 0 {
            repo.rate_limit.remaining_refusals -= 1;
            let rl = &repo.rate_limit;
            let mut r = if rl.use_429 {
                let mut r = json_response(
                    StatusCode::TOO_MANY_REQUESTS,
                    &json!({"message": "You have exceeded a secondary rate limit."}),
                );
                insert(&mut r, "retry-after", &rl.reset_epoch.to_string());
                r
            } else {
                let mut r = json_response(
                    StatusCode::FORBIDDEN,
                    &json!({"message": "API rate limit exceeded for user."}),
                );
                insert(&mut r, "x-ratelimit-reset", &rl.reset_epoch.to_string());
                r
            };
            insert(&mut r, "x-ratelimit-limit", "5000");
            insert(&mut r, "x-ratelimit-remaining", "0");
            r
        } else {
            match answer {
                Answer::NotFound => {
                    json_response(StatusCode::NOT_FOUND, &json!({"message": "Not Found"}))
                }
                Answer::Object(status, v) => json_response(status, &v),
                Answer::Page(values, page, last) => {
                    let body = Value::Array(values).to_string();
                    let etag = etag(&body, page, last);
                    let matches = self
                        .headers
                        .get("if-none-match")
                        .and_then(|h| h.to_str().ok())
                        .is_some_and(|h| h.split(',').any(|t| t.trim() == etag));
                    let mut r = if matches {
                        let mut r = Response::new(Body::empty());
                        *r.status_mut() = StatusCode::NOT_MODIFIED;
                        r
                    } else {
                        json_text(StatusCode::OK, body)
                    };
                    insert(&mut r, "etag", &etag);
                    if let Some(link) = link_header(base, &self.uri, page, last) {
                        insert(&mut r, "link", &link);
                    }
                    insert(&mut r, "x-ratelimit-limit", "5000");
                    insert(&mut r, "x-ratelimit-remaining", "4999");
                    r
                }
            }
        };
        record.status = response.status().as_u16();
        repo.log.push(record);
        response
    }
}

fn etag(body: &str, page: usize, last: usize) -> String {
    let mut h = DefaultHasher::new();
    body.hash(&mut h);
    page.hash(&mut h);
    last.hash(&mut h);
    format!("W/\"{:016x}\"", h.finish())
}

fn link_header(base: &str, uri: &Uri, page: usize, last: usize) -> Option<String> {
    if last <= 1 {
        return None;
    }
    let others: Vec<String> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("page="))
        .map(str::to_string)
        .collect();
    let url = |p: usize| {
        let mut q = others.clone();
        q.push(format!("page={p}"));
        format!("<{base}{}?{}>", uri.path(), q.join("&"))
    };
    let mut parts = Vec::new();
    if page < last {
        parts.push(format!("{}; rel=\"next\"", url(page + 1)));
        parts.push(format!("{}; rel=\"last\"", url(last)));
    }
    if page > 1 {
        parts.push(format!("{}; rel=\"first\"", url(1)));
        parts.push(format!("{}; rel=\"prev\"", url(page - 1)));
    }
    Some(parts.join(", "))
}

fn insert(r: &mut Response<Body>, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().insert(name, v);
    }
}

fn json_text(status: StatusCode, body: String) -> Response<Body> {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    insert(&mut r, "content-type", "application/json; charset=utf-8");
    r
}

fn json_response(status: StatusCode, v: &Value) -> Response<Body> {
    json_text(status, v.to_string())
}

/// Cuts one page out of `all` by `per_page` (default 30, at most 100) and `page`.
fn paginate(all: Vec<Value>, q: &BTreeMap<String, String>) -> (Vec<Value>, usize, usize) {
    let per_page = q
        .get("per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(30)
        .clamp(1, 100);
    let page = q
        .get("page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let last = all.len().div_ceil(per_page).max(1);
    let values = all
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    (values, page, last)
}

fn sorted<'a>(mut items: Vec<&'a Item>, q: &BTreeMap<String, String>) -> Vec<&'a Item> {
    let by_updated = q.get("sort").map(String::as_str) == Some("updated");
    items.sort_by_key(|i| if by_updated { i.updated } else { i.created });
    if q.get("direction").map(String::as_str) != Some("asc") {
        items.reverse();
    }
    items
}

fn state_matches(item: &Item, q: &BTreeMap<String, String>) -> bool {
    match q.get("state").map(String::as_str).unwrap_or("open") {
        "closed" => !item.open,
        "all" => true,
        _ => item.open,
    }
}

/// One page of the items that pass `keep` and the `state` filter, sorted as `q` asks, each
/// rendered by `render`.
fn list_page(
    state: &Shared,
    q: &BTreeMap<String, String>,
    keep: impl Fn(&Item) -> bool,
    render: impl Fn(&Item) -> Value,
) -> (Vec<Value>, usize, usize) {
    let r = lock(state);
    let items: Vec<&Item> = r
        .items
        .iter()
        .filter(|i| state_matches(i, q) && keep(i))
        .collect();
    let values = sorted(items, q).into_iter().map(render).collect();
    paginate(values, q)
}

async fn list_issues(
    State(state): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response<Body> {
    let base = base_of(&headers);
    let q = params(&query);
    let labels: Vec<String> = q
        .get("labels")
        .map(|l| {
            l.split(',')
                .map(|s| s.trim().to_lowercase())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let page = list_page(
        &state,
        &q,
        |i| {
            labels
                .iter()
                .all(|want| i.labels.iter().any(|l| l.to_lowercase() == *want))
        },
        |i| item_json(&base, &owner, &repo, i),
    );
    let gate = Gate {
        state: &state,
        method,
        uri,
        headers,
    };
    gate.finish(&base, Some(page))
}

async fn list_pulls(
    State(state): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response<Body> {
    let base = base_of(&headers);
    let q = params(&query);
    let page = list_page(
        &state,
        &q,
        |i| i.pull,
        |i| {
            let mut v = item_json(&base, &owner, &repo, i);
            if let Some(obj) = v.as_object_mut() {
                obj.remove("pull_request");
                obj.remove("comments");
            }
            v
        },
    );
    Gate {
        state: &state,
        method,
        uri,
        headers,
    }
    .finish(&base, Some(page))
}

async fn get_item(
    State(state): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response<Body> {
    let base = base_of(&headers);
    let found = {
        let r = lock(&state);
        number
            .parse::<u64>()
            .ok()
            .and_then(|n| r.items.iter().find(|i| i.number == n))
            .map(|item| item_json(&base, &owner, &repo, item))
    };
    let answer = match found {
        Some(v) => Answer::Object(StatusCode::OK, v),
        None => Answer::NotFound,
    };
    Gate {
        state: &state,
        method,
        uri,
        headers,
    }
    .answer(&base, answer)
}

async fn list_comments(
    State(state): State<Shared>,
    Path((_owner, _repo, number)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response<Body> {
    let base = base_of(&headers);
    let q = params(&query);
    let page = {
        let r = lock(&state);
        number
            .parse::<u64>()
            .ok()
            .and_then(|n| r.items.iter().find(|i| i.number == n))
            .map(|item| {
                let values = item
                    .comments
                    .iter()
                    .map(|c| json!({"id": c.id, "body": c.body, "user": {"login": c.author}}))
                    .collect();
                paginate(values, &q)
            })
    };
    Gate {
        state: &state,
        method,
        uri,
        headers,
    }
    .finish(&base, page)
}

async fn permission(
    State(state): State<Shared>,
    Path((_owner, _repo, user)): Path<(String, String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response<Body> {
    let base = base_of(&headers);
    let role = lock(&state)
        .permissions
        .get(&user.to_lowercase())
        .cloned()
        .unwrap_or_else(|| "read".to_string());
    // The legacy `permission` folds maintain into write and triage into read.
    let legacy = match role.as_str() {
        "admin" => "admin",
        "maintain" | "write" => "write",
        "none" => "none",
        _ => "read",
    };
    let body = json!({"permission": legacy, "role_name": role, "user": {"login": user}});
    Gate {
        state: &state,
        method,
        uri,
        headers,
    }
    .answer(&base, Answer::Object(StatusCode::OK, body))
}

async fn team_membership(
    State(state): State<Shared>,
    Path((org, team, user)): Path<(String, String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response<Body> {
    let base = base_of(&headers);
    let key = (org.to_lowercase(), team.to_lowercase(), user.to_lowercase());
    let member = lock(&state).team_members.contains(&key);
    let answer = if member {
        Answer::Object(
            StatusCode::OK,
            json!({"state": "active", "role": "member", "url": format!("{base}{}", uri.path())}),
        )
    } else {
        Answer::NotFound
    };
    Gate {
        state: &state,
        method,
        uri,
        headers,
    }
    .answer(&base, answer)
}

async fn post_comment(
    State(state): State<Shared>,
    Path((_owner, _repo, number)): Path<(String, String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response<Body> {
    let base = base_of(&headers);
    let text = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("body").and_then(Value::as_str).map(str::to_string));
    let answer = match (number.parse::<u64>(), text) {
        (Ok(n), Some(text)) => {
            let id = {
                let mut r = lock(&state);
                r.next_comment_id += 1;
                r.posted.push((n, text.clone()));
                r.next_comment_id
            };
            Answer::Object(
                StatusCode::CREATED,
                json!({"id": id, "body": text, "user": {"login": "axon[bot]", "type": "Bot"}}),
            )
        }
        (_, None) => Answer::Object(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"message": "Invalid request: body is required"}),
        ),
        (Err(_), _) => Answer::NotFound,
    };
    Gate {
        state: &state,
        method,
        uri,
        headers,
    }
    .answer(&base, answer)
}

async fn not_found(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response<Body> {
    let base = base_of(&headers);
    Gate {
        state: &state,
        method,
        uri,
        headers,
    }
    .finish(&base, None)
}

fn base_of(headers: &HeaderMap) -> String {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}
