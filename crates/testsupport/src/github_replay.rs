//! Replays recorded GitHub API responses on 127.0.0.1, so that a client can be checked against
//! real payloads (every field GitHub sends, `null` bodies, real `Link` headers pointing at
//! `/repositories/{id}/...`) rather than the ones our fake server writes.
//!
//! Recordings come from `@octokit/fixtures` (npm; `scripts/install-deps.sh` unpacks the
//! pinned version and exports `AXON_OCTOKIT_FIXTURES`), read with [`load_octokit_scenario`],
//! or are built by hand with [`Recorded`]. A request is answered by the recording with the
//! same path and query, else by the first one with the same path (so the client may send
//! its own query parameters on a first page); anything else is a `404`. Absolute URLs to
//! `https://api.github.com` in recorded headers are rewritten to the replay server.
//!
//! The server runs on its own thread, serves for at most ten minutes, and stops when dropped.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, Response, StatusCode, Uri};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::serve::Background;

const RECORDED_ORIGIN: &str = "https://api.github.com";

/// One recorded response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    /// Path and query as requested, e.g. `/repositories/1000/issues?per_page=3&page=2`.
    pub path: String,
    /// HTTP status.
    pub status: u16,
    /// Response headers (lowercase names).
    pub headers: Vec<(String, String)>,
    /// Response body.
    pub body: String,
}

/// Why a recording could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The fixture file is missing or unreadable.
    #[error(
        "cannot read recorded GitHub responses from {path}: {source} (run scripts/install-deps.sh and export AXON_OCTOKIT_FIXTURES)"
    )]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The fixture file is not the `@octokit/fixtures` normalized format.
    #[error("{path} is not an @octokit/fixtures normalized fixture: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Binding the server failed.
    #[error("cannot start the GitHub replay server on 127.0.0.1: {0}")]
    Io(#[from] std::io::Error),
}

/// The `GET` responses of scenario `name` (e.g. `paginate-issues`) of an unpacked
/// `@octokit/fixtures` package at `package_dir`, in recorded order.
pub fn load_octokit_scenario(package_dir: &Path, name: &str) -> Result<Vec<Recorded>, ReplayError> {
    let path = package_dir
        .join("scenarios/api.github.com")
        .join(name)
        .join("normalized-fixture.json");
    let text = std::fs::read_to_string(&path).map_err(|source| ReplayError::Read {
        path: path.clone(),
        source,
    })?;
    let format = |message: String| ReplayError::Format {
        path: path.clone(),
        message,
    };
    let entries: Vec<Value> = serde_json::from_str(&text).map_err(|e| format(e.to_string()))?;
    let mut out = Vec::new();
    for e in entries {
        if e.get("method").and_then(Value::as_str) != Some("get") {
            continue;
        }
        let path = e
            .get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| format("an entry has no path".into()))?;
        let status = e
            .get("status")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok())
            .ok_or_else(|| format(format!("{path}: no status")))?;
        let headers = e
            .get("headers")
            .and_then(Value::as_object)
            .map(|h| {
                h.iter()
                    .map(|(k, v)| {
                        let v = match v {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        (k.to_lowercase(), v)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let body = match e.get("response") {
            Some(Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => String::new(),
        };
        out.push(Recorded {
            path: path.to_string(),
            status,
            headers,
            body,
        });
    }
    Ok(out)
}

/// Where `@octokit/fixtures` was unpacked: `$AXON_OCTOKIT_FIXTURES`, else the CI cache
/// (`$AXON_CI_CACHE` or `~/.cache/axon-ci`) `/octokit-fixtures/package`.
pub fn octokit_fixtures_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("AXON_OCTOKIT_FIXTURES") {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("AXON_CI_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/axon-ci")))
        .unwrap_or_else(|| PathBuf::from("/root/.cache/axon-ci"));
    cache.join("octokit-fixtures/package")
}

#[derive(Debug, Default)]
struct Shared {
    recorded: Vec<Recorded>,
    base: String,
    log: Vec<String>,
}

/// The running replay server. Dropping it stops it.
pub struct ReplayServer {
    state: Arc<Mutex<Shared>>,
    server: Background,
}

impl ReplayServer {
    /// Serves `recorded` on an ephemeral port of 127.0.0.1.
    pub fn start(recorded: Vec<Recorded>) -> Result<ReplayServer, ReplayError> {
        let state = Arc::new(Mutex::new(Shared {
            recorded,
            base: String::new(),
            log: Vec::new(),
        }));
        let server = Background::start("github-replay", |addr| {
            state
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .base = format!("http://{addr}");
            Router::new().fallback(answer).with_state(state.clone())
        })?;
        Ok(ReplayServer { state, server })
    }

    /// Base URL to use as the API base, e.g. `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// Paths (with query) requested so far.
    pub fn requests(&self) -> Vec<String> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .log
            .clone()
    }
}

async fn answer(State(state): State<Arc<Mutex<Shared>>>, uri: Uri) -> Response<Body> {
    let mut s = state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let full = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| uri.path().to_string());
    s.log.push(full.clone());
    let found = s
        .recorded
        .iter()
        .find(|r| r.path == full)
        .or_else(|| {
            s.recorded
                .iter()
                .find(|r| r.path.split('?').next() == Some(uri.path()))
        })
        .cloned();
    let Some(rec) = found else {
        let mut r = Response::new(Body::from(r#"{"message":"Not Found"}"#));
        *r.status_mut() = StatusCode::NOT_FOUND;
        return r;
    };
    let mut r = Response::new(Body::from(rec.body));
    *r.status_mut() = StatusCode::from_u16(rec.status).unwrap_or(StatusCode::OK);
    for (name, value) in rec.headers {
        // Hop-by-hop and length headers belong to the original connection.
        if matches!(
            name.as_str(),
            "content-length" | "connection" | "transfer-encoding"
        ) {
            continue;
        }
        let value = value.replace(RECORDED_ORIGIN, &s.base);
        if let (Ok(n), Ok(v)) = (
            axum::http::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            r.headers_mut().insert(n, v);
        }
    }
    r
}
