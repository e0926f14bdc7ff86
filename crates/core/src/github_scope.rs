//! Which GitHub requests of an agent are about its Workspace's repository.
//!
//! Why it exists: the gateway swaps the agent's gateway token for the real GitHub token only
//! for requests that target the Workspace's repository, so a prompt-injected agent cannot use
//! the token on anything else. The classification is pure and strict: a request is in scope
//! only when its host is the repository's git host or API host and its path names the
//! repository literally; anything odd (`..` or `.` segments, empty segments, backslashes, an
//! encoded byte in the owner or repository segment, traversal hidden behind percent-encoding)
//! is out of scope, and goes upstream without a credential.
//!
//! * git smart HTTP on the repository's host: `/<owner>/<repo>(.git)?/info/refs` (GET; the
//!   service comes from `?service=`), `/…/git-upload-pack` and `/…/git-receive-pack` (POST);
//! * REST on the API host: `/repos/<owner>/<repo>` and below (`<prefix>/repos/…` for GitHub
//!   Enterprise, whose API lives under `/api/v3`);
//! * GraphQL: `POST /graphql` on the API host (`/api/graphql` for GitHub Enterprise). It is
//!   passed with the credential; what it can reach is limited by the token's own scope.
//!
//! Owner and repository compare case-insensitively; a `.git` suffix is optional on both sides.

use crate::egress::{HostPort, normalize_host, parse_authority};

/// The Workspace's repository, read from its clone URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoRef {
    /// `https` or `http`.
    pub scheme: String,
    /// Host and port of the git remote.
    pub host: HostPort,
    /// Owner (user or organization), as written.
    pub owner: String,
    /// Repository name without `.git`, as written.
    pub repo: String,
}

/// Where a repository's REST and GraphQL API is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiBase {
    /// `https` or `http`.
    pub scheme: String,
    /// Host and port of the API.
    pub host: HostPort,
    /// Path prefix of REST (`""` on api.github.com, `/api/v3` on GitHub Enterprise).
    pub prefix: String,
}

/// A git smart HTTP service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GitService {
    /// Fetch and clone (`git-upload-pack`).
    Upload,
    /// Push (`git-receive-pack`).
    Receive,
}

/// How the gateway treats one request to a GitHub host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// git smart HTTP on the Workspace's repository: credential swapped in.
    GitSmartHttp {
        /// Which service.
        service: GitService,
        /// Whether this is the POST that carries the commands (`git-upload-pack` or
        /// `git-receive-pack`), as opposed to the `info/refs` advertisement.
        rpc: bool,
    },
    /// REST on the Workspace's repository: credential swapped in.
    Rest,
    /// GraphQL on the API host: credential swapped in (limited by the token's own scope).
    GraphQl,
    /// Anything else: forwarded without a credential.
    OutOfScope,
}

impl Scope {
    /// Whether the real credential goes with the request.
    pub fn in_scope(self) -> bool {
        !matches!(self, Scope::OutOfScope)
    }
}

/// Reads a Workspace repository URL `http(s)://host[:port]/owner/repo(.git)?`; `None` for
/// anything else (an SSH or file URL, a path with more or fewer segments).
pub fn parse_repo_url(url: &str) -> Option<RepoRef> {
    let (scheme, rest) = url.trim().split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => 443,
        "http" => 80,
        _ => return None,
    };
    let (authority, path) = rest.split_once('/')?;
    if authority.contains('@') {
        return None;
    }
    let host = parse_authority(authority, Some(default_port)).ok()?;
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let path = path.strip_suffix('/').unwrap_or(path);
    let mut segments = path.split('/');
    let (owner, repo) = (segments.next()?, segments.next()?);
    if segments.next().is_some() || !plain_segment(owner) {
        return None;
    }
    let repo = strip_git(repo);
    if !plain_segment(repo) {
        return None;
    }
    Some(RepoRef {
        scheme,
        host,
        owner: owner.to_string(),
        repo: repo.to_string(),
    })
}

/// What the gateway needs to carry a Workspace repository's GitHub requests, read from its URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitHubGrantParts {
    /// `https` or `http`.
    pub scheme: String,
    /// Host of the git remote, with the port when not the scheme's default.
    pub git_host: String,
    /// REST API base: `https://api.github.com` for github.com; `None` for any other host (the
    /// gateway then carries git smart HTTP only; GitHub Enterprise's `/api/v3` is on the git
    /// host itself).
    pub api_base: Option<String>,
    pub owner: String,
    pub repo: String,
}

/// The grant parts of a repository reached over http(s); `None` for anything else (a local
/// path, `file://`, `git://`, ssh), which the gateway does not carry. Both drivers build their
/// gateway's GitHub grant from this.
pub fn github_grant_parts(url: &str) -> Option<GitHubGrantParts> {
    let repo = parse_repo_url(url)?;
    let api_base = (repo.host.host == "github.com").then(|| "https://api.github.com".to_string());
    Some(GitHubGrantParts {
        scheme: repo.scheme.clone(),
        git_host: repo.host.authority(),
        api_base,
        owner: repo.owner,
        repo: repo.repo,
    })
}

/// The API base of `repo`: `api_base` when given (an `http(s)://host[:port][/prefix]` URL),
/// else `https://api.github.com` for github.com and `https://<host>/api/v3` for any other host
/// (GitHub Enterprise). `None` when `api_base` is not such a URL.
pub fn api_base_for(repo: &RepoRef, api_base: Option<&str>) -> Option<ApiBase> {
    let Some(base) = api_base else {
        return Some(if repo.host.host == "github.com" {
            ApiBase {
                scheme: "https".into(),
                host: HostPort {
                    host: "api.github.com".into(),
                    port: 443,
                },
                prefix: String::new(),
            }
        } else {
            ApiBase {
                scheme: repo.scheme.clone(),
                host: repo.host.clone(),
                prefix: "/api/v3".into(),
            }
        });
    };
    let (scheme, rest) = base.trim().split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => 443,
        "http" => 80,
        _ => return None,
    };
    let (authority, prefix) = match rest.split_once('/') {
        Some((a, p)) => (a, format!("/{}", p.trim_end_matches('/'))),
        None => (rest, String::new()),
    };
    let prefix = if prefix == "/" { String::new() } else { prefix };
    if authority.contains('@') || !safe_path(&prefix) {
        return None;
    }
    let host = parse_authority(authority, Some(default_port)).ok()?;
    Some(ApiBase {
        scheme,
        host,
        prefix,
    })
}

/// The hosts a Task reaches GitHub by: the repository's host and the API host (one host on
/// GitHub Enterprise).
pub fn github_hosts(repo: &RepoRef, api: Option<&ApiBase>) -> Vec<HostPort> {
    let mut hosts = vec![repo.host.clone()];
    if let Some(api) = api
        && api.host != repo.host
    {
        hosts.push(api.host.clone());
    }
    hosts
}

/// Classifies a request to `host` (normalized, with its port) with `method`, `path` (raw, as
/// sent, without the query) and `query` (raw, without `?`). `api`: `None` when the repository's
/// host has no API (a plain git server).
pub fn classify(
    repo: &RepoRef,
    api: Option<&ApiBase>,
    host: &HostPort,
    method: &str,
    path: &str,
    query: Option<&str>,
) -> Scope {
    let host = HostPort {
        host: normalize_host(&host.host),
        port: host.port,
    };
    if !safe_path(path) {
        return Scope::OutOfScope;
    }
    let method = method.to_ascii_uppercase();
    if host == repo.host
        && let Some(scope) = classify_git(repo, &method, path, query)
    {
        return scope;
    }
    if let Some(api) = api
        && host == api.host
    {
        if method == "POST" && path == graphql_path(&api.prefix) {
            return Scope::GraphQl;
        }
        if let Some(rest) = path.strip_prefix(api.prefix.as_str())
            && let Some(rest) = rest.strip_prefix("/repos/")
        {
            let mut parts = rest.splitn(3, '/');
            let owner = parts.next().unwrap_or_default();
            let name = parts.next().unwrap_or_default();
            if same_name(owner, &repo.owner) && same_name(strip_git(name), &repo.repo) {
                return Scope::Rest;
            }
        }
    }
    Scope::OutOfScope
}

fn classify_git(repo: &RepoRef, method: &str, path: &str, query: Option<&str>) -> Option<Scope> {
    let rest = path.strip_prefix('/')?;
    let mut parts = rest.splitn(3, '/');
    let owner = parts.next()?;
    let name = parts.next()?;
    let tail = parts.next()?;
    if !same_name(owner, &repo.owner) || !same_name(strip_git(name), &repo.repo) {
        return None;
    }
    let service_param = query.and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("service="))
            .map(str::to_string)
    });
    match (method, tail) {
        ("GET", "info/refs") => match service_param.as_deref() {
            Some("git-upload-pack") => Some(Scope::GitSmartHttp {
                service: GitService::Upload,
                rpc: false,
            }),
            Some("git-receive-pack") => Some(Scope::GitSmartHttp {
                service: GitService::Receive,
                rpc: false,
            }),
            _ => None,
        },
        ("POST", "git-upload-pack") => Some(Scope::GitSmartHttp {
            service: GitService::Upload,
            rpc: true,
        }),
        ("POST", "git-receive-pack") => Some(Scope::GitSmartHttp {
            service: GitService::Receive,
            rpc: true,
        }),
        _ => None,
    }
}

/// `/graphql` on api.github.com, `/api/graphql` on GitHub Enterprise (`/api/v3` prefix).
fn graphql_path(prefix: &str) -> String {
    match prefix.strip_suffix("/v3") {
        Some(api) => format!("{api}/graphql"),
        None => format!("{prefix}/graphql"),
    }
}

fn strip_git(name: &str) -> &str {
    if name.len() > 4 && name[name.len() - 4..].eq_ignore_ascii_case(".git") {
        &name[..name.len() - 4]
    } else {
        name
    }
}

fn same_name(a: &str, b: &str) -> bool {
    plain_segment(a) && a.eq_ignore_ascii_case(b)
}

/// An owner or repository name as GitHub allows them: letters, digits, `-`, `_`, `.`; not
/// `.` or `..`; nothing encoded.
fn plain_segment(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A path that means what it says: starts with `/` (or is empty), and — after
/// percent-decoding, repeated while it changes — has no empty, `.` or `..` segment, no
/// backslash and no control character.
fn safe_path(path: &str) -> bool {
    if path.is_empty() {
        return true;
    }
    if !path.starts_with('/') {
        return false;
    }
    let mut current = path.to_string();
    for _ in 0..4 {
        if current.bytes().any(|b| b == b'\\' || b < 0x20 || b == 0x7f) {
            return false;
        }
        let segments = current[1..].split('/');
        let mut segments = segments.peekable();
        while let Some(seg) = segments.next() {
            let last = segments.peek().is_none();
            // A trailing slash (`/repos/o/r/`) is harmless; an empty inner segment is not.
            if (seg.is_empty() && !last) || seg == "." || seg == ".." {
                return false;
            }
        }
        match percent_decode(&current) {
            Some(decoded) if decoded == current => return true,
            Some(decoded) => current = decoded,
            None => return false,
        }
    }
    // Still changing after four rounds of decoding: nobody means that honestly.
    false
}

/// Decodes `%XX` escapes; `None` for a malformed escape or bytes that are not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hp(host: &str, port: u16) -> HostPort {
        HostPort {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn grant_parts() {
        let g = github_grant_parts("https://github.com/acme/app.git").expect("github");
        assert_eq!(g.git_host, "github.com:443");
        assert_eq!(g.api_base.as_deref(), Some("https://api.github.com"));
        assert_eq!((g.owner.as_str(), g.repo.as_str()), ("acme", "app"));
        let g = github_grant_parts("http://127.0.0.1:9418/o/r").expect("git server");
        assert_eq!(
            (g.scheme.as_str(), g.git_host.as_str()),
            ("http", "127.0.0.1:9418")
        );
        assert_eq!(g.api_base, None);
        assert_eq!(github_grant_parts("/srv/repo"), None);
        assert_eq!(github_grant_parts("git@github.com:acme/app.git"), None);
    }

    #[test]
    fn repo_urls() {
        let r = parse_repo_url("https://github.com/Axon-Dev/Axon.git").expect("repo");
        assert_eq!(r.host, hp("github.com", 443));
        assert_eq!((r.owner.as_str(), r.repo.as_str()), ("Axon-Dev", "Axon"));
        let r = parse_repo_url("http://127.0.0.1:8080/o/r/").expect("repo");
        assert_eq!(r.host, hp("127.0.0.1", 8080));
        assert_eq!(r.scheme, "http");
        assert_eq!(r.repo, "r");
        for bad in [
            "git@github.com:o/r.git",
            "file:///tmp/r.git",
            "https://github.com/o",
            "https://github.com/o/r/x",
            "https://user:pw@github.com/o/r",
            "https://github.com/../r",
            "https://github.com/o/%72",
            "ssh://github.com/o/r",
        ] {
            assert_eq!(parse_repo_url(bad), None, "{bad}");
        }
    }

    #[test]
    fn api_bases() {
        let gh = parse_repo_url("https://github.com/o/r").expect("repo");
        let api = api_base_for(&gh, None).expect("api");
        assert_eq!(api.host, hp("api.github.com", 443));
        assert_eq!(api.prefix, "");
        assert_eq!(
            github_hosts(&gh, Some(&api)),
            vec![hp("github.com", 443), hp("api.github.com", 443)]
        );
        let ghe = parse_repo_url("https://git.corp.test/o/r").expect("repo");
        let api = api_base_for(&ghe, None).expect("api");
        assert_eq!(api.host, hp("git.corp.test", 443));
        assert_eq!(api.prefix, "/api/v3");
        assert_eq!(
            github_hosts(&ghe, Some(&api)),
            vec![hp("git.corp.test", 443)]
        );
        let api = api_base_for(&gh, Some("http://127.0.0.1:9999/")).expect("api");
        assert_eq!((api.host, api.prefix.as_str()), (hp("127.0.0.1", 9999), ""));
        let api = api_base_for(&gh, Some("https://ghe.test/api/v3")).expect("api");
        assert_eq!(api.prefix, "/api/v3");
        assert_eq!(api_base_for(&gh, Some("ftp://x")), None);
        assert_eq!(api_base_for(&gh, Some("https://x/a/../b")), None);
    }

    /// Every interesting request against github.com and a GHE host, one line each.
    #[test]
    fn classification_table() {
        let gh = parse_repo_url("https://github.com/octo/hello.git").expect("repo");
        let gh_api = api_base_for(&gh, None).expect("api");
        let ghe = parse_repo_url("https://ghe.corp.test/octo/hello").expect("repo");
        let ghe_api = api_base_for(&ghe, None).expect("api");
        let cases: &[(&str, &str, &str)] = &[
            (
                "github.com",
                "GET",
                "/octo/hello.git/info/refs?service=git-upload-pack",
            ),
            (
                "github.com",
                "GET",
                "/octo/hello/info/refs?service=git-receive-pack",
            ),
            (
                "github.com",
                "GET",
                "/Octo/Hello.GIT/info/refs?service=git-upload-pack",
            ),
            ("github.com", "POST", "/octo/hello.git/git-upload-pack"),
            ("github.com", "POST", "/octo/hello.git/git-receive-pack"),
            ("github.com", "GET", "/octo/hello.git/git-receive-pack"),
            ("github.com", "GET", "/octo/hello.git/info/refs"),
            ("github.com", "GET", "/octo/hello.git/objects/info/packs"),
            ("github.com", "POST", "/octo/other.git/git-receive-pack"),
            ("github.com", "POST", "/evil/hello.git/git-receive-pack"),
            (
                "github.com",
                "POST",
                "/octo/hello.git/../../evil/x.git/git-receive-pack",
            ),
            (
                "github.com",
                "POST",
                "/octo/hello%2F..%2F..%2Fevil/x.git/git-receive-pack",
            ),
            ("github.com", "POST", "/octo%2Fhello.git/git-receive-pack"),
            ("github.com", "GET", "/repos/octo/hello/issues"),
            ("api.github.com", "GET", "/repos/octo/hello"),
            ("api.github.com", "GET", "/repos/octo/hello/"),
            (
                "api.github.com",
                "POST",
                "/repos/OCTO/hello/issues/1/comments",
            ),
            ("api.github.com", "GET", "/repos/octo/hello.git/pulls"),
            (
                "api.github.com",
                "GET",
                "/repos/octo/hello/branches/feat%2Fx",
            ),
            (
                "api.github.com",
                "GET",
                "/repos/octo/hello/x/..%2F..%2F..%2Fevil/r",
            ),
            (
                "api.github.com",
                "GET",
                "/repos/octo/hello/x/%252e%252e/%252e%252e/evil",
            ),
            ("api.github.com", "GET", "/repos/octo/hello//issues"),
            ("api.github.com", "GET", "/repos/octo/hello/./issues"),
            ("api.github.com", "GET", "/repos/octo/hello\\..\\evil"),
            ("api.github.com", "GET", "/repos/octo/hello-fork/issues"),
            ("api.github.com", "GET", "/repos/octo"),
            ("api.github.com", "GET", "/user"),
            ("api.github.com", "GET", "/search/issues"),
            ("api.github.com", "POST", "/graphql"),
            ("api.github.com", "GET", "/graphql"),
            (
                "uploads.github.com",
                "POST",
                "/repos/octo/hello/releases/1/assets",
            ),
            (
                "ghe.corp.test",
                "GET",
                "/octo/hello.git/info/refs?service=git-upload-pack",
            ),
            ("ghe.corp.test", "GET", "/api/v3/repos/octo/hello/pulls"),
            ("ghe.corp.test", "GET", "/repos/octo/hello/pulls"),
            ("ghe.corp.test", "POST", "/api/graphql"),
            ("ghe.corp.test", "POST", "/api/v3/graphql"),
        ];
        let mut out = Vec::new();
        for (host, method, target) in cases {
            let (path, query) = match target.split_once('?') {
                Some((p, q)) => (p, Some(q)),
                None => (*target, None),
            };
            let host = hp(host, 443);
            let (repo, api) = if host.host.starts_with("ghe") {
                (&ghe, &ghe_api)
            } else {
                (&gh, &gh_api)
            };
            let scope = classify(repo, Some(api), &host, method, path, query);
            out.push(format!(
                "{:<14} {method:<4} {target} -> {scope:?}",
                host.host
            ));
        }
        insta::assert_snapshot!(out.join("\n"));
    }

    #[test]
    fn ports_must_match() {
        let repo = parse_repo_url("http://127.0.0.1:8080/o/r.git").expect("repo");
        let api = api_base_for(&repo, Some("http://127.0.0.1:9090")).expect("api");
        let path = "/o/r.git/git-receive-pack";
        assert!(
            classify(
                &repo,
                Some(&api),
                &hp("127.0.0.1", 8080),
                "POST",
                path,
                None
            )
            .in_scope()
        );
        assert!(
            !classify(
                &repo,
                Some(&api),
                &hp("127.0.0.1", 8081),
                "POST",
                path,
                None
            )
            .in_scope()
        );
        assert_eq!(
            classify(
                &repo,
                Some(&api),
                &hp("127.0.0.1", 9090),
                "GET",
                "/repos/o/r",
                None
            ),
            Scope::Rest
        );
        assert_eq!(
            classify(
                &repo,
                Some(&api),
                &hp("127.0.0.1", 8080),
                "GET",
                "/repos/o/r",
                None
            ),
            Scope::OutOfScope
        );
    }
}
