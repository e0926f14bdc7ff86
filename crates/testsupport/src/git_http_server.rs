//! A git remote over smart HTTP with token authentication, for tests of the gateway's GitHub
//! rules: the real `git http-backend` (CGI) behind a Basic-auth check, serving a bare
//! repository `axon/repo.git` seeded like [`git_server`](crate::git_server)'s (one commit on
//! `main` with a `README.md`).
//!
//! Why: `git clone`/`git push` over HTTP through the gateway must reach a server that, like
//! GitHub, wants `Basic x-access-token:<token>` and answers `401` otherwise; and the test must be
//! able to tell which credential the server saw ([`GitHttpServer::requests`]).
//!
//! Bounds: request bodies up to [`MAX_BODY`], each `git http-backend` run killed after
//! [`CGI_TIMEOUT`], the server lives at most ten minutes and stops when dropped.
//!
//! ```no_run
//! let git = axon_testsupport::git_http_server::GitHttpServer::start().expect("server");
//! git.require_token("ghs_real");
//! // git -c credential.helper=… clone git.url() …
//! assert_eq!(git.file_at("main", "README.md").as_deref(), Some("# test repo\n"));
//! ```

use std::io;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, Method, Response, StatusCode, Uri, header};
use base64::Engine;
use tokio::io::AsyncWriteExt;

use crate::bare_repo::BareRepo;
pub use crate::bare_repo::{GIT_EMAIL, GIT_NAME, GitCommit, SEED_README};
use crate::serve::Background;

/// Largest request body accepted (a push's pack).
pub const MAX_BODY: usize = 64 * 1024 * 1024;

/// How long one `git http-backend` run may take.
pub const CGI_TIMEOUT: Duration = Duration::from_secs(60);

/// Owner of the served repository (its URL path is `/<OWNER>/<REPO>.git`).
pub const OWNER: &str = "axon";
/// Name of the served repository, without `.git`.
pub const REPO: &str = "repo";

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitHttpRequest {
    /// HTTP method.
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// Status answered.
    pub status: u16,
    /// The password (token) of the request's Basic credentials, if it had any.
    pub token: Option<String>,
    /// Whether the request passed the token check (always, when no token is required).
    pub authorized: bool,
}

#[derive(Debug, Default)]
struct Shared {
    token: Option<String>,
    log: Vec<GitHttpRequest>,
}

type SharedState = Arc<Mutex<Shared>>;

fn lock(state: &SharedState) -> MutexGuard<'_, Shared> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[derive(Clone)]
struct App {
    root: PathBuf,
    state: SharedState,
}

/// The running server; dropping it stops it and removes the repository.
pub struct GitHttpServer {
    server: Background,
    repo: BareRepo,
    state: SharedState,
    _dir: tempfile::TempDir,
}

impl std::fmt::Debug for GitHttpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHttpServer")
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

impl GitHttpServer {
    /// Creates the seeded repository and serves it on an ephemeral port of 127.0.0.1; no token
    /// is required until [`GitHttpServer::require_token`].
    pub fn start() -> io::Result<GitHttpServer> {
        let dir = tempfile::Builder::new()
            .prefix("axon-git-http-")
            .tempdir()?;
        let root = dir.path().to_path_buf();
        let repo = BareRepo::create_seeded(&root.join(OWNER), &format!("{REPO}.git"))?;
        // Pushes are allowed once authenticated (http-backend wants REMOTE_USER or this).
        repo.git(&["config", "http.receivepack", "true"])?;
        let state = SharedState::default();
        let app = App {
            root,
            state: state.clone(),
        };
        let server = Background::start("git-http", move |_| {
            Router::new()
                .fallback(handle)
                .layer(DefaultBodyLimit::max(MAX_BODY))
                .with_state(app)
        })?;
        Ok(GitHttpServer {
            server,
            repo,
            state,
            _dir: dir,
        })
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// `http://127.0.0.1:PORT/axon/repo.git`
    pub fn url(&self) -> String {
        format!("{}/{OWNER}/{REPO}.git", self.base_url())
    }

    /// Requires Basic credentials whose password is `token` (any user name); others get `401`
    /// with `WWW-Authenticate: Basic`.
    pub fn require_token(&self, token: &str) {
        lock(&self.state).token = Some(token.to_string());
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<GitHttpRequest> {
        lock(&self.state).log.clone()
    }

    /// Path of the bare repository on disk.
    pub fn repo_path(&self) -> PathBuf {
        self.repo.path().to_path_buf()
    }

    /// Branch names (without `refs/heads/`), sorted.
    pub fn branches(&self) -> Vec<String> {
        self.repo.branches()
    }

    /// Content of `path` at the tip of `branch`, or `None` when either does not exist.
    pub fn file_at(&self, branch: &str, path: &str) -> Option<String> {
        self.repo.file_at(branch, path)
    }

    /// Commits reachable from `branch`, newest first (empty when the branch does not exist).
    pub fn commits(&self, branch: &str) -> Vec<GitCommit> {
        self.repo.commits(branch)
    }
}

/// The password of `Authorization: Basic …`, if present and readable.
fn basic_password(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    decoded.split_once(':').map(|(_, p)| p.to_string())
}

async fn handle(
    State(app): State<App>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let token = basic_password(&headers);
    let required = lock(&app.state).token.clone();
    let authorized = required.is_none() || token.is_some() && token == required;
    let response = if authorized {
        run_backend(&app, &method, &uri, &headers, body).await
    } else {
        let mut response = Response::new(Body::from("authentication required\n"));
        *response.status_mut() = StatusCode::UNAUTHORIZED;
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"axon-test\""),
        );
        response
    };
    lock(&app.state).log.push(GitHttpRequest {
        method: method.to_string(),
        path: uri.path().to_string(),
        status: response.status().as_u16(),
        token,
        authorized,
    });
    response
}

fn plain(status: StatusCode, message: String) -> Response<Body> {
    let mut response = Response::new(Body::from(message));
    *response.status_mut() = status;
    response
}

/// Runs `git http-backend` for one request (CGI) and turns its output into a response.
async fn run_backend(
    app: &App,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let mut command = tokio::process::Command::new("git");
    command
        .arg("http-backend")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_PROJECT_ROOT", &app.root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", method.as_str())
        .env("PATH_INFO", uri.path())
        .env("QUERY_STRING", uri.query().unwrap_or_default())
        .env("CONTENT_TYPE", header("content-type"))
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("HTTP_CONTENT_ENCODING", header("content-encoding"))
        .env("HTTP_GIT_PROTOCOL", header("git-protocol"))
        .env("REMOTE_USER", "x-access-token")
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            return plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot run git http-backend: {e}\n"),
            );
        }
    };
    let stdin = child.stdin.take();
    let writer = tokio::spawn(async move {
        if let Some(mut stdin) = stdin {
            let _ = stdin.write_all(&body).await;
        }
    });
    let output = match tokio::time::timeout(CGI_TIMEOUT, child.wait_with_output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => {
            return plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("git http-backend failed: {e}\n"),
            );
        }
        Err(_) => {
            return plain(
                StatusCode::GATEWAY_TIMEOUT,
                "git http-backend timed out\n".into(),
            );
        }
    };
    let _ = writer.await;
    cgi_response(&output.stdout).unwrap_or_else(|| {
        plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!(
                "git http-backend answered no CGI headers: {}\n",
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        )
    })
}

/// Parses CGI output: headers (`Status:` sets the status), a blank line, the body.
fn cgi_response(out: &[u8]) -> Option<Response<Body>> {
    let (head_len, sep_len) = find(out, b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| find(out, b"\n\n").map(|i| (i, 2)))?;
    let head = std::str::from_utf8(&out[..head_len]).ok()?;
    let mut response = Response::new(Body::from(out[head_len + sep_len..].to_vec()));
    for line in head.lines() {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code = value.split(' ').next()?.parse::<u16>().ok()?;
            *response.status_mut() = StatusCode::from_u16(code).ok()?;
        } else if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(name.trim().as_bytes()),
            HeaderValue::from_str(value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    Some(response)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
