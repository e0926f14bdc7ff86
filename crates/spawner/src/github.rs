//! The GitHub source: lists a repository's issues or pull requests and fetches their comments,
//! spending as little of the rate limit as possible.
//!
//! * One endpoint for both kinds: `GET /repos/{o}/{r}/issues` filters by labels and state on
//!   the server and returns pull requests too (marked by a `pull_request` key), oldest first
//!   (`sort=created&direction=asc`), 100 per page, following `Link: rel="next"`.
//! * Conditional requests: every page's `ETag` and body are kept per URL, and the next poll
//!   sends `If-None-Match`; GitHub answers `304` without counting it against the rate limit,
//!   so a poll in which nothing changed costs one `304` per list page.
//! * Comments are fetched lazily, only for items about to become a Task, never for an item
//!   with zero comments, and are cached by the item's `updated_at` and comment count (plus an
//!   `ETag` on the comments URL), so unchanged items are never refetched.
//! * A `403`/`429` rate limit is reported as [`GithubError::RateLimited`] with the reset time;
//!   the spawner loop waits and says so in status.

use crate::clock::Clock;
use crate::rate_limit::rate_limited_until;
use crate::secret::Token;
use axon_api::{GitHubIssues, RepoPermission};
use axon_core::github_filter::wants_kind;
use axon_core::github_issue::ApiIssue;
use axon_core::spawn_item::WorkItem;
use axon_core::template::COMMENT_SEPARATOR;
use jiff::Timestamp;
use reqwest::header::{ACCEPT, AUTHORIZATION, ETAG, HeaderMap, HeaderValue, IF_NONE_MATCH, LINK};
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// Items per list page (GitHub's maximum).
pub const PER_PAGE: u32 = 100;
/// Give up on a request after this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Pages followed at most per listing (100,000 items); guards against a `Link` loop.
const MAX_PAGES: usize = 1000;

/// What went wrong talking to GitHub. Messages never contain the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GithubError {
    /// The HTTP client could not be built.
    #[error("cannot build the GitHub HTTP client: {0}")]
    Client(String),
    /// Connection, TLS or timeout.
    #[error("cannot reach GitHub at {url}: {message}")]
    Transport {
        /// The URL requested.
        url: String,
        /// What failed.
        message: String,
    },
    /// `401`.
    #[error(
        "GitHub rejected the token for {repo} (401 Bad credentials): check GITHUB_TOKEN in the Workspace's secret"
    )]
    Unauthorized {
        /// `owner/repo`.
        repo: String,
    },
    /// `404`.
    #[error(
        "GitHub repository {repo} not found at {api_base} (404): check the Workspace repo URL, and that the token can read it"
    )]
    NotFound {
        /// `owner/repo`.
        repo: String,
        /// API base URL.
        api_base: String,
    },
    /// Primary or secondary rate limit.
    #[error("GitHub rate limit reached; waiting until {until:.0} before polling again")]
    RateLimited {
        /// When to try again.
        until: Timestamp,
    },
    /// Any other unexpected status.
    #[error("GitHub answered {status} for {url}: {message}")]
    Status {
        /// HTTP status.
        status: u16,
        /// The URL requested.
        url: String,
        /// GitHub's `message`, if any.
        message: String,
    },
    /// A body that is not what the API documents.
    #[error("unexpected GitHub response from {url}: {message}")]
    Decode {
        /// The URL requested.
        url: String,
        /// The parse error.
        message: String,
    },
}

/// Where to find the repository and how to authenticate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GithubConfig {
    /// API base URL, `https://api.github.com` or `https://HOST/api/v3`.
    pub api_base: String,
    /// Repository owner.
    pub owner: String,
    /// Repository name.
    pub repo: String,
    /// Token (from the Workspace's secret); anonymous when `None`.
    pub token: Option<Token>,
}

/// Request counts, cumulative over the client's life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestStats {
    /// Requests sent.
    pub requests: u64,
    /// Of those, answered `304 Not Modified`.
    pub not_modified: u64,
    /// Of those, list-page requests.
    pub list_requests: u64,
    /// Of those, comment requests.
    pub comment_requests: u64,
    /// Rate-limit answers (`403`/`429`).
    pub rate_limited: u64,
}

#[derive(Debug, Deserialize)]
struct ApiUser {
    login: String,
}

#[derive(Debug, Deserialize)]
struct ApiComment {
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    user: Option<ApiUser>,
}

/// What a cached page belongs to, to forget it when it leaves the listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PageKind {
    /// A page of the issue listing (first page, or a `Link` target such as
    /// `/repositories/{id}/issues?page=2`).
    List,
    /// A page of an item's comments.
    Comments(u64),
}

/// A page as last seen: its validator, body and next link.
#[derive(Clone, Debug)]
struct CachedPage {
    etag: String,
    body: String,
    next: Option<String>,
    kind: PageKind,
}

/// What decides whether an item's comments changed.
#[derive(Clone, Debug, PartialEq, Eq)]
struct CommentKey {
    updated_at: String,
    count: u64,
}

/// A GitHub client for one repository, with its caches. Keep it across polls: the caches are
/// what makes an idle poll cost only `304`s.
#[derive(Debug)]
pub struct GithubClient {
    http: reqwest::Client,
    config: GithubConfig,
    pages: HashMap<String, CachedPage>,
    meta: HashMap<u64, CommentKey>,
    comments: HashMap<u64, (CommentKey, String)>,
    stats: RequestStats,
}

enum Fetched {
    Fresh { body: String, next: Option<String> },
    Cached { body: String, next: Option<String> },
}

impl GithubClient {
    /// A client for `config`. TLS is rustls with the ring provider.
    pub fn new(config: GithubConfig) -> Result<GithubClient, GithubError> {
        // Only the first call in a process installs it; later ones find it installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut headers = HeaderMap::new();
        headers.insert(
            ACCEPT,
            HeaderValue::from_static("application/vnd.github+json"),
        );
        headers.insert(
            "x-github-api-version",
            HeaderValue::from_static("2022-11-28"),
        );
        if let Some(token) = &config.token {
            let mut value =
                HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| {
                    GithubError::Client(
                        "the GitHub token contains characters not allowed in an HTTP header"
                            .to_string(),
                    )
                })?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("axon-spawner/", env!("CARGO_PKG_VERSION")))
            .default_headers(headers)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| GithubError::Client(e.to_string()))?;
        Ok(GithubClient {
            http,
            config,
            pages: HashMap::new(),
            meta: HashMap::new(),
            comments: HashMap::new(),
            stats: RequestStats::default(),
        })
    }

    /// The configuration this client serves.
    pub fn config(&self) -> &GithubConfig {
        &self.config
    }

    /// Request counts so far.
    pub fn stats(&self) -> RequestStats {
        self.stats
    }

    /// Pages held for conditional requests (bounded by the current listing and the comments
    /// of the items in it).
    pub fn cached_pages(&self) -> usize {
        self.pages.len()
    }

    fn repo_name(&self) -> String {
        format!("{}/{}", self.config.owner, self.config.repo)
    }

    fn list_url(&self, filter: &GitHubIssues) -> Result<String, GithubError> {
        let base = self.config.api_base.trim_end_matches('/');
        let raw = format!(
            "{base}/repos/{}/{}/issues",
            self.config.owner, self.config.repo
        );
        let mut url = reqwest::Url::parse(&raw)
            .map_err(|e| GithubError::Client(format!("invalid GitHub API URL {raw:?}: {e}")))?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("state", filter.state.as_str());
            if !filter.labels.is_empty() {
                q.append_pair("labels", &filter.labels.join(","));
            }
            q.append_pair("sort", "created");
            q.append_pair("direction", "asc");
            q.append_pair("per_page", &PER_PAGE.to_string());
        }
        Ok(url.to_string())
    }

    /// Lists the items matching `filter` (labels and state on the server, types here), oldest
    /// first, without comments. `excludeLabels` is left to the spawn decision, which must see
    /// excluded items to run the needs-input loop.
    pub async fn list_items(
        &mut self,
        filter: &GitHubIssues,
        clock: &impl Clock,
    ) -> Result<Vec<WorkItem>, GithubError> {
        let mut url = Some(self.list_url(filter)?);
        let mut visited: HashSet<String> = HashSet::new();
        let mut items = Vec::new();
        let mut meta = HashMap::new();
        while let Some(current) = url.take() {
            if visited.len() >= MAX_PAGES || !visited.insert(current.clone()) {
                break;
            }
            self.stats.list_requests += 1;
            let (body, next) = match self.get(&current, PageKind::List, clock).await? {
                Fetched::Fresh { body, next } | Fetched::Cached { body, next } => (body, next),
            };
            let page: Vec<ApiIssue> =
                serde_json::from_str(&body).map_err(|e| GithubError::Decode {
                    url: current.clone(),
                    message: e.to_string(),
                })?;
            for issue in page {
                if !wants_kind(filter, issue.kind()) {
                    continue;
                }
                meta.insert(
                    issue.number,
                    CommentKey {
                        updated_at: issue.updated_at.clone(),
                        count: issue.comments,
                    },
                );
                items.push(issue.into_work_item());
            }
            url = next;
        }
        // Forget list pages no longer reached (GitHub's `Link` targets are
        // `/repositories/{id}/issues?...`, not under the repository's path) and the comments of
        // items that left the listing, so the caches stay bounded by the repository's current
        // size.
        self.pages.retain(|u, p| match p.kind {
            PageKind::List => visited.contains(u),
            PageKind::Comments(n) => meta.contains_key(&n),
        });
        self.comments.retain(|n, _| meta.contains_key(n));
        self.meta = meta;
        Ok(items)
    }

    /// The item's comments for `{{.Comments}}`, joined with
    /// [`COMMENT_SEPARATOR`], each prefixed with its author. No request when the last listing
    /// showed no comments, or when neither `updated_at` nor the count changed since last time.
    pub async fn comments(
        &mut self,
        number: u64,
        clock: &impl Clock,
    ) -> Result<String, GithubError> {
        let key = self.meta.get(&number).cloned();
        if let Some(k) = &key {
            if k.count == 0 {
                return Ok(String::new());
            }
            if let Some((cached_key, text)) = self.comments.get(&number)
                && cached_key == k
            {
                return Ok(text.clone());
            }
        }
        let base = self.config.api_base.trim_end_matches('/');
        let mut url = Some(format!(
            "{base}/repos/{}/{}/issues/{number}/comments?per_page={PER_PAGE}",
            self.config.owner, self.config.repo
        ));
        let mut parts = Vec::new();
        let mut pages = 0;
        while let Some(current) = url.take() {
            pages += 1;
            if pages > MAX_PAGES {
                break;
            }
            self.stats.comment_requests += 1;
            let (body, next) = match self
                .get(&current, PageKind::Comments(number), clock)
                .await?
            {
                Fetched::Fresh { body, next } | Fetched::Cached { body, next } => (body, next),
            };
            let page: Vec<ApiComment> =
                serde_json::from_str(&body).map_err(|e| GithubError::Decode {
                    url: current.clone(),
                    message: e.to_string(),
                })?;
            for c in page {
                let author = c.user.map(|u| u.login).unwrap_or_else(|| "ghost".into());
                parts.push(format!("@{author}:\n{}", c.body.unwrap_or_default()));
            }
            url = next;
        }
        let text = parts.join(COMMENT_SEPARATOR);
        if let Some(k) = key {
            self.comments.insert(number, (k, text.clone()));
        }
        Ok(text)
    }

    /// `{api_base}/` followed by `segments`, each percent-encoded as one path segment.
    fn api_url(&self, segments: &[&str]) -> Result<reqwest::Url, GithubError> {
        let base = self.config.api_base.trim_end_matches('/');
        let mut url = reqwest::Url::parse(base)
            .map_err(|e| GithubError::Client(format!("invalid GitHub API URL {base:?}: {e}")))?;
        url.path_segments_mut()
            .map_err(|()| GithubError::Client(format!("invalid GitHub API URL {base:?}")))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// An uncached request: the status and body, rate limits as [`GithubError::RateLimited`].
    async fn send(
        &mut self,
        request: reqwest::RequestBuilder,
        url: &str,
        clock: &impl Clock,
    ) -> Result<(u16, String), GithubError> {
        self.stats.requests += 1;
        let response = request.send().await.map_err(|e| GithubError::Transport {
            url: url.to_string(),
            message: e.without_url().to_string(),
        })?;
        let status = response.status().as_u16();
        if let Some(until) = rate_limited_until(status, response.headers(), clock.now()) {
            self.stats.rate_limited += 1;
            return Err(GithubError::RateLimited { until });
        }
        let body = response.text().await.map_err(|e| GithubError::Transport {
            url: url.to_string(),
            message: e.without_url().to_string(),
        })?;
        if status == 401 {
            return Err(GithubError::Unauthorized {
                repo: self.repo_name(),
            });
        }
        Ok((status, body))
    }

    /// `user`'s permission on the repository (`GET
    /// /repos/{o}/{r}/collaborators/{user}/permission`): its `role_name` (`read`, `triage`,
    /// `write`, `maintain`, `admin`), else the legacy `permission`; `None` for no access
    /// (`none`, or 404: not a collaborator of a private repository) or a custom role.
    pub async fn permission(
        &mut self,
        user: &str,
        clock: &impl Clock,
    ) -> Result<Option<RepoPermission>, GithubError> {
        #[derive(Deserialize)]
        struct Answer {
            #[serde(default)]
            permission: String,
            #[serde(default)]
            role_name: String,
        }
        let (owner, repo) = (self.config.owner.clone(), self.config.repo.clone());
        let url = self.api_url(&["repos", &owner, &repo, "collaborators", user, "permission"])?;
        let (status, body) = self
            .send(self.http.get(url.clone()), url.as_str(), clock)
            .await?;
        match status {
            200 => {
                let a: Answer = serde_json::from_str(&body).map_err(|e| GithubError::Decode {
                    url: url.to_string(),
                    message: e.to_string(),
                })?;
                Ok(RepoPermission::from_github(&a.role_name)
                    .or_else(|| RepoPermission::from_github(&a.permission)))
            }
            404 => Ok(None),
            _ => Err(GithubError::Status {
                status,
                url: url.to_string(),
                message: api_message(&body),
            }),
        }
    }

    /// Whether `user` is an active member of team `org/slug` (`GET
    /// /orgs/{org}/teams/{slug}/memberships/{user}`); a 404 (no such member or team, or a
    /// token that cannot see the team) is no.
    pub async fn team_member(
        &mut self,
        org: &str,
        slug: &str,
        user: &str,
        clock: &impl Clock,
    ) -> Result<bool, GithubError> {
        #[derive(Deserialize)]
        struct Answer {
            #[serde(default)]
            state: String,
        }
        let url = self.api_url(&["orgs", org, "teams", slug, "memberships", user])?;
        let (status, body) = self
            .send(self.http.get(url.clone()), url.as_str(), clock)
            .await?;
        match status {
            200 => Ok(serde_json::from_str::<Answer>(&body)
                .map(|a| a.state == "active")
                .unwrap_or(false)),
            403 | 404 => Ok(false),
            _ => Err(GithubError::Status {
                status,
                url: url.to_string(),
                message: api_message(&body),
            }),
        }
    }

    /// Issue or pull request `number` as a work item (`GET /repos/{o}/{r}/issues/{n}`, the
    /// object the poll's listing holds), without comments; `None` when GitHub has no such item.
    pub async fn item(
        &mut self,
        number: u64,
        clock: &impl Clock,
    ) -> Result<Option<(WorkItem, u64)>, GithubError> {
        let (owner, repo) = (self.config.owner.clone(), self.config.repo.clone());
        let n = number.to_string();
        let url = self.api_url(&["repos", &owner, &repo, "issues", &n])?;
        let (status, body) = self
            .send(self.http.get(url.clone()), url.as_str(), clock)
            .await?;
        match status {
            200 => {
                let issue: ApiIssue =
                    serde_json::from_str(&body).map_err(|e| GithubError::Decode {
                        url: url.to_string(),
                        message: e.to_string(),
                    })?;
                let comments = issue.comments;
                Ok(Some((issue.into_work_item(), comments)))
            }
            404 | 410 => Ok(None),
            _ => Err(GithubError::Status {
                status,
                url: url.to_string(),
                message: api_message(&body),
            }),
        }
    }

    /// Posts a comment on issue or pull request `number`.
    pub async fn post_comment(
        &mut self,
        number: u64,
        body: &str,
        clock: &impl Clock,
    ) -> Result<(), GithubError> {
        let (owner, repo) = (self.config.owner.clone(), self.config.repo.clone());
        let number = number.to_string();
        let url = self.api_url(&["repos", &owner, &repo, "issues", &number, "comments"])?;
        let request = self
            .http
            .post(url.clone())
            .json(&serde_json::json!({ "body": body }));
        let (status, answer) = self.send(request, url.as_str(), clock).await?;
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(GithubError::Status {
                status,
                url: url.to_string(),
                message: api_message(&answer),
            })
        }
    }

    /// A conditional GET through the page cache.
    async fn get(
        &mut self,
        url: &str,
        kind: PageKind,
        clock: &impl Clock,
    ) -> Result<Fetched, GithubError> {
        let cached = self.pages.get(url).cloned();
        let mut request = self.http.get(url);
        if let Some(c) = &cached {
            request = request.header(IF_NONE_MATCH, c.etag.as_str());
        }
        self.stats.requests += 1;
        let response = request.send().await.map_err(|e| GithubError::Transport {
            url: url.to_string(),
            message: e.without_url().to_string(),
        })?;
        let status = response.status().as_u16();
        if status == 304
            && let Some(c) = cached
        {
            self.stats.not_modified += 1;
            return Ok(Fetched::Cached {
                body: c.body,
                next: c.next,
            });
        }
        if let Some(until) = rate_limited_until(status, response.headers(), clock.now()) {
            self.stats.rate_limited += 1;
            return Err(GithubError::RateLimited { until });
        }
        let etag = header(response.headers(), ETAG.as_str());
        let next = header(response.headers(), LINK.as_str()).and_then(|l| next_link(&l));
        let body = response.text().await.map_err(|e| GithubError::Transport {
            url: url.to_string(),
            message: e.without_url().to_string(),
        })?;
        match status {
            200..=299 => {
                if let Some(etag) = etag {
                    self.pages.insert(
                        url.to_string(),
                        CachedPage {
                            etag,
                            body: body.clone(),
                            next: next.clone(),
                            kind,
                        },
                    );
                }
                Ok(Fetched::Fresh { body, next })
            }
            401 => Err(GithubError::Unauthorized {
                repo: self.repo_name(),
            }),
            404 => Err(GithubError::NotFound {
                repo: self.repo_name(),
                api_base: self.config.api_base.clone(),
            }),
            _ => Err(GithubError::Status {
                status,
                url: url.to_string(),
                message: api_message(&body),
            }),
        }
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn api_message(body: &str) -> String {
    #[derive(Deserialize)]
    struct Message {
        message: String,
    }
    match serde_json::from_str::<Message>(body) {
        Ok(m) => m.message,
        Err(_) => body.chars().take(200).collect(),
    }
}

/// The `rel="next"` URL of a `Link` header.
pub fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"");
        is_next.then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header_next() {
        let link = r#"<https://api.github.com/repositories/1/issues?page=2>; rel="next", <https://api.github.com/repositories/1/issues?page=5>; rel="last""#;
        assert_eq!(
            next_link(link).as_deref(),
            Some("https://api.github.com/repositories/1/issues?page=2")
        );
        assert_eq!(next_link(r#"<https://x/?page=1>; rel="prev""#), None);
    }

    #[test]
    fn token_never_in_debug() {
        let client = GithubClient::new(GithubConfig {
            api_base: "https://api.github.com".into(),
            owner: "o".into(),
            repo: "r".into(),
            token: Token::new("ghp_topsecret"),
        })
        .expect("client");
        assert!(!format!("{client:?}").contains("topsecret"));
    }
}
