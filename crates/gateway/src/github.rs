//! The GitHub rules, applied to each request an agent sends to one of its Workspace's GitHub
//! hosts (through the forward proxy, or inside an intercepted `CONNECT` tunnel).
//!
//! Why: the agent's `GITHUB_TOKEN`, `GH_TOKEN` and git credential are its gateway token; the real
//! token stays here and goes only with requests about the Workspace's repository
//! ([`axon_core::github_scope`]): git smart HTTP on the repository, REST under
//! `/repos/<owner>/<repo>`, and GraphQL. In scope, the request carries the real token whatever
//! the agent put in `Authorization` (the gateway token, anything else, or nothing — the proxy
//! credentials already proved which Task it is): `Basic` becomes `Basic
//! x-access-token:<real>`, `token X`/`Bearer X` keep their scheme, and a request without one gets
//! `Basic` for git and `token` for the API. Out of scope, `Authorization` is removed: the request
//! goes anonymously.
//!
//! Pushes (`POST …/git-receive-pack`) are held until their command list is read
//! ([`axon_core::push_policy`]); a push updating the base branch or a protected branch is
//! refused — nothing of it is forwarded — with git's own report (`! [remote rejected] main ->
//! main (Axon gateway: …)`), and recorded as denied. The rest of an admitted push (the pack) is
//! streamed, not buffered.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use axon_core::egress::{HostPort, parse_authority};
use axon_core::github_scope::{
    self, ApiBase, GitService, RepoRef, Scope, api_base_for, parse_repo_url,
};
use axon_core::push_policy::{self, Parsed, PushRules};
use base64::Engine;
use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderValue};
use http::{Request, Response, StatusCode, Uri};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::audit::{AuditRecord, Decision, RequestKind};
use crate::body::{self, Body};
use crate::gateway::Gateway;
use crate::grant::{GitHubGrant, Secret, TaskGrant};
use crate::headers::strip_hop_by_hop;
use crate::proxy::millis;
use crate::relay::{self, UpBody};

/// How long the agent may take to send a push's command list.
pub const COMMANDS_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a refused push's remaining body (its pack) is read and discarded, so that git
/// reads the refusal instead of failing to write.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

/// At most this much of a refused push is read and discarded.
pub const DRAIN_LIMIT: u64 = 1 << 30;

/// The user name put in `Basic` credentials with the real token (GitHub ignores it for
/// tokens; `x-access-token` is what it documents for app tokens).
pub const BASIC_USER: &str = "x-access-token";

/// The Workspace's repository and its hosts, read from the grant.
#[derive(Debug)]
pub struct GitHubTarget {
    repo: RepoRef,
    api: Option<ApiBase>,
    token: Option<Secret>,
    rules: PushRules,
}

impl GitHubTarget {
    /// The target of `grant`; `None` when its host or repository cannot be read (then no
    /// GitHub rule applies and the host is like any other).
    pub fn from_grant(grant: &GitHubGrant) -> Option<GitHubTarget> {
        let url = format!(
            "{}://{}/{}/{}",
            grant.scheme, grant.git_host, grant.owner, grant.repo
        );
        let Some(repo) = parse_repo_url(&url) else {
            tracing::warn!(%url, "gateway: the Workspace repository is not a URL the GitHub rules can read");
            return None;
        };
        let api = match &grant.api_base {
            Some(base) => {
                let api = api_base_for(&repo, Some(base));
                if api.is_none() {
                    tracing::warn!(%base, "gateway: the GitHub API base is not an http(s) URL; REST calls go anonymously");
                }
                api
            }
            None => None,
        };
        let base = grant.base_branch.trim();
        Some(GitHubTarget {
            repo,
            api,
            token: grant.token.clone(),
            rules: PushRules {
                base_branch: (!base.is_empty()).then(|| base.to_string()),
                protected: grant.protected.clone(),
            },
        })
    }

    /// The repository's host and API host.
    pub fn hosts(&self) -> Vec<HostPort> {
        github_scope::github_hosts(&self.repo, self.api.as_ref())
    }

    /// Whether `dest` is one of [`GitHubTarget::hosts`] (host and port).
    pub fn is_github_host(&self, dest: &HostPort) -> bool {
        self.hosts().contains(dest)
    }

    /// The scheme the upstream of `dest` is reached with (the Workspace's, or its API's).
    fn upstream_scheme(&self, dest: &HostPort) -> &str {
        match &self.api {
            Some(api) if api.host == *dest && api.host != self.repo.host => &api.scheme,
            _ => &self.repo.scheme,
        }
    }
}

/// Serves one request of `grant`'s agent to the GitHub host `dest`.
pub(crate) async fn handle(
    gateway: Arc<Gateway>,
    grant: Arc<TaskGrant>,
    target: Arc<GitHubTarget>,
    dest: HostPort,
    req: Request<Incoming>,
) -> Response<Body> {
    let started = Instant::now();
    let (parts, incoming) = req.into_parts();
    let method = parts.method.as_str().to_string();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().map(str::to_string);
    let scope = github_scope::classify(
        &target.repo,
        target.api.as_ref(),
        &dest,
        &method,
        &path,
        query.as_deref(),
    );
    let record = AuditRecord::new(RequestKind::GitHub, &method, &dest.authority(), &path);
    let deny = |mut record: AuditRecord, status: StatusCode, reason: String| {
        record.status = status.as_u16();
        record.duration_ms = millis(started);
        record.decision = Decision::Denied { reason };
        gateway.audit(Some(&grant.task), &record);
    };

    let mut headers = parts.headers;
    strip_hop_by_hop(&mut headers);
    for name in [header::HOST, header::EXPECT] {
        headers.remove(name);
    }
    let credential = target.token.as_ref().filter(|_| scope.in_scope());
    set_authorization(&mut headers, credential, scope);

    // A push: read its commands before anything is forwarded.
    let mut prefix = Bytes::new();
    let mut incoming = incoming;
    if let Scope::GitSmartHttp {
        service: GitService::Receive,
        rpc: true,
    } = scope
    {
        let read = tokio::time::timeout(COMMANDS_TIMEOUT, read_commands(&mut incoming)).await;
        let (buffered, parsed) = match read {
            Ok(Ok(read)) => read,
            Ok(Err(message)) => {
                let message = format!("Axon gateway: push refused: {message}");
                deny(record, StatusCode::FORBIDDEN, message.clone());
                return body::text(StatusCode::FORBIDDEN, message);
            }
            Err(_) => {
                let message = "Axon gateway: push refused: its command list did not arrive in time";
                deny(record, StatusCode::REQUEST_TIMEOUT, message.into());
                return body::text(StatusCode::REQUEST_TIMEOUT, message);
            }
        };
        let decision = push_policy::decide(&parsed, &target.rules);
        if let Some(message) = decision.message() {
            drain(incoming).await;
            let response = match push_policy::refusal_response(&parsed, &message) {
                Some(report) => {
                    let mut response = body::respond(
                        StatusCode::OK,
                        "application/x-git-receive-pack-result",
                        report,
                    );
                    response
                        .headers_mut()
                        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
                    response
                }
                None => body::text(StatusCode::FORBIDDEN, message.clone()),
            };
            deny(record, response.status(), message);
            return response;
        }
        prefix = buffered;
    }

    let authority = dest.authority();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_string();
    let uri: Uri = match format!(
        "{}://{authority}{path_and_query}",
        target.upstream_scheme(&dest)
    )
    .parse()
    {
        Ok(uri) => uri,
        Err(_) => {
            let message = format!("Axon gateway: cannot form the upstream URL for {authority}");
            deny(record, StatusCode::BAD_REQUEST, message.clone());
            return body::text(StatusCode::BAD_REQUEST, message);
        }
    };
    let sent = Arc::new(AtomicU64::new(0));
    let mut upstream = Request::new(UpBody::new(prefix, incoming, sent.clone()).boxed());
    *upstream.method_mut() = parts.method;
    *upstream.uri_mut() = uri;
    *upstream.headers_mut() = headers;
    let secrets: Vec<&str> = [
        Some(grant.token.expose()),
        target.token.as_ref().map(Secret::expose),
    ]
    .into_iter()
    .flatten()
    .collect();
    relay::send(
        gateway.clone(),
        grant.task.clone(),
        record,
        started,
        upstream,
        sent,
        &secrets,
    )
    .await
}

/// Reads the body until the push's command list is complete; returns the bytes read and the
/// commands, or why the push is refused.
async fn read_commands(
    incoming: &mut Incoming,
) -> Result<(Bytes, push_policy::PushCommands), String> {
    let mut buf = BytesMut::new();
    loop {
        let complete = match incoming.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    buf.extend_from_slice(&data);
                }
                false
            }
            Some(Err(e)) => return Err(format!("its body could not be read ({e})")),
            None => true,
        };
        match push_policy::parse_commands(&buf, complete) {
            Ok(Parsed::Complete(commands)) => return Ok((buf.freeze(), commands)),
            Ok(Parsed::NeedMore) if !complete => {}
            Ok(Parsed::NeedMore) => return Err("its command list is incomplete".into()),
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Reads and discards the rest of a refused push, bounded by [`DRAIN_TIMEOUT`] and
/// [`DRAIN_LIMIT`].
async fn drain(mut incoming: Incoming) {
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, async {
        let mut read = 0u64;
        while let Some(Ok(frame)) = incoming.frame().await {
            if let Ok(data) = frame.into_data() {
                read += data.len() as u64;
                if read > DRAIN_LIMIT {
                    break;
                }
            }
        }
    })
    .await;
}

/// Sets `Authorization` for a request of `scope`: the real token when `credential` is given
/// (see the module comment for the scheme), removed otherwise.
fn set_authorization(headers: &mut HeaderMap, credential: Option<&Secret>, scope: Scope) {
    let Some(credential) = credential else {
        headers.remove(header::AUTHORIZATION);
        return;
    };
    let sent = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' ').map(|(s, _)| s.to_string()));
    let basic = || {
        let pair = format!("{BASIC_USER}:{}", credential.expose());
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    };
    let value = match sent {
        Some(scheme) if scheme.eq_ignore_ascii_case("basic") => basic(),
        Some(scheme)
            if scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer") =>
        {
            format!("{scheme} {}", credential.expose())
        }
        _ => match scope {
            Scope::GitSmartHttp { .. } => basic(),
            _ => format!("token {}", credential.expose()),
        },
    };
    match HeaderValue::from_str(&value) {
        Ok(mut value) => {
            value.set_sensitive(true);
            headers.insert(header::AUTHORIZATION, value);
        }
        Err(_) => {
            // A token with characters no header may hold: go anonymously rather than fail.
            tracing::warn!("gateway: the GitHub token cannot be sent in a header");
            headers.remove(header::AUTHORIZATION);
        }
    }
}

/// `host[:port]` with `default_port` when absent (for absolute-form requests).
pub(crate) fn dest_of(uri: &Uri, default_port: u16) -> Option<HostPort> {
    parse_authority(uri.authority()?.as_str(), Some(default_port)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(h: &HeaderMap) -> Option<String> {
        h.get(header::AUTHORIZATION)
            .map(|v| v.to_str().expect("ascii").to_string())
    }

    fn with(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(value).expect("header"),
        );
        h
    }

    #[test]
    fn authorization_keeps_the_scheme_and_carries_the_real_token() {
        let real = Secret::new("ghs_real");
        let git = Scope::GitSmartHttp {
            service: GitService::Upload,
            rpc: false,
        };
        let gw_basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("x-access-token:axon-gw-1")
        );
        let real_basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("x-access-token:ghs_real")
        );
        let cases: Vec<(HeaderMap, Scope, Option<&Secret>, Option<String>)> = vec![
            (with(&gw_basic), git, Some(&real), Some(real_basic.clone())),
            (
                with("token axon-gw-1"),
                Scope::Rest,
                Some(&real),
                Some("token ghs_real".into()),
            ),
            (
                with("Bearer axon-gw-1"),
                Scope::GraphQl,
                Some(&real),
                Some("Bearer ghs_real".into()),
            ),
            (HeaderMap::new(), git, Some(&real), Some(real_basic.clone())),
            (
                HeaderMap::new(),
                Scope::Rest,
                Some(&real),
                Some("token ghs_real".into()),
            ),
            (with("Digest x"), git, Some(&real), Some(real_basic)),
            (with("token axon-gw-1"), Scope::OutOfScope, None, None),
            (with(&gw_basic), git, None, None),
        ];
        for (mut headers, scope, credential, want) in cases {
            set_authorization(&mut headers, credential, scope);
            assert_eq!(auth(&headers), want, "{scope:?}");
            if let Some(v) = headers.get(header::AUTHORIZATION) {
                assert!(v.is_sensitive());
            }
        }
    }

    fn grant(scheme: &str, host: &str, api: Option<&str>) -> GitHubGrant {
        GitHubGrant {
            scheme: scheme.into(),
            git_host: host.into(),
            api_base: api.map(str::to_string),
            owner: "o".into(),
            repo: "r".into(),
            token: Some(Secret::new("ghs")),
            base_branch: "main".into(),
            protected: vec![],
        }
    }

    #[test]
    fn targets_know_their_hosts_and_schemes() {
        let hp = |h: &str, p: u16| HostPort {
            host: h.into(),
            port: p,
        };
        let t = GitHubTarget::from_grant(&grant(
            "https",
            "github.com",
            Some("https://api.github.com"),
        ))
        .expect("target");
        assert_eq!(
            t.hosts(),
            vec![hp("github.com", 443), hp("api.github.com", 443)]
        );
        assert!(t.is_github_host(&hp("api.github.com", 443)));
        assert!(!t.is_github_host(&hp("api.github.com", 80)));
        let t = GitHubTarget::from_grant(&grant(
            "http",
            "127.0.0.1:8080",
            Some("http://127.0.0.1:9090"),
        ))
        .expect("target");
        assert_eq!(t.upstream_scheme(&hp("127.0.0.1", 8080)), "http");
        assert_eq!(t.upstream_scheme(&hp("127.0.0.1", 9090)), "http");
        let t = GitHubTarget::from_grant(&grant("https", "git.local", None)).expect("target");
        assert_eq!(t.hosts(), vec![hp("git.local", 443)]);
        assert!(GitHubTarget::from_grant(&grant("ssh", "github.com", None)).is_none());
    }
}
