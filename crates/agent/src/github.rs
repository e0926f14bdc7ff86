//! Pull requests for the pushed branch, from the GitHub REST API
//! (`GET {api}/repos/{owner}/{repo}/pulls?head={owner}:{branch}&state=all`). Asked only when a
//! token is present and the remote is on GitHub (or on the GitHub Enterprise host named by
//! `AXON_GITHUB_API_URL`). A failed lookup is a warning, never a failed run.

use std::time::Duration;

/// The public GitHub API.
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// `owner/repo` of a GitHub remote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoRef {
    pub host: String,
    pub owner: String,
    pub repo: String,
}

/// Parse `https://[user[:pass]@]host/owner/repo(.git)`, `ssh://git@host/owner/repo`, or
/// `git@host:owner/repo`.
pub fn parse_remote(url: &str) -> Option<RepoRef> {
    let (host, path) = if let Some(rest) = url.split_once("://").map(|(_, r)| r) {
        let (authority, path) = rest.split_once('/')?;
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        (host.split(':').next()?.to_string(), path.to_string())
    } else {
        let (user_host, path) = url.split_once(':')?;
        let host = user_host.rsplit_once('@').map_or(user_host, |(_, h)| h);
        (host.to_string(), path.to_string())
    };
    let path = path.trim_end_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    let mut parts = path.split('/').filter(|p| !p.is_empty());
    let (owner, repo) = (parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    Some(RepoRef {
        host: host.to_lowercase(),
        owner: owner.into(),
        repo: repo.into(),
    })
}

/// The API base URL for a remote, if the remote is GitHub-like: `github.com` with the public
/// API, or the host of a configured API URL (GitHub Enterprise, or a test server).
pub fn api_for(remote: &RepoRef, configured_api: Option<&str>) -> Option<String> {
    match configured_api {
        Some(api) => {
            let api = api.trim_end_matches('/');
            let api_host = api
                .split_once("://")?
                .1
                .split(['/', ':'])
                .next()?
                .to_lowercase();
            let local = |h: &str| h == "127.0.0.1" || h == "localhost";
            (api_host == remote.host
                || remote.host == "github.com"
                || local(&api_host) && local(&remote.host))
            .then(|| api.to_string())
        }
        None => (remote.host == "github.com").then(|| DEFAULT_API_URL.to_string()),
    }
}

/// Look up pull requests whose head is `branch`. Errors are described without the token.
pub async fn pull_requests(
    api: &str,
    remote: &RepoRef,
    branch: &str,
    token: &str,
) -> Result<Vec<String>, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .user_agent("axon-agent-runner")
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
    let url = format!("{api}/repos/{}/{}/pulls", remote.owner, remote.repo);
    let query = format!(
        "?head={}&state=all",
        encode(&format!("{}:{branch}", remote.owner))
    );
    let response = client
        .get(format!("{url}{query}"))
        .bearer_auth(token)
        .header("Accept", "application/vnd.github+json")
        .header("X-GitHub-Api-Version", "2022-11-28")
        .send()
        .await
        .map_err(|e| format!("GET {url}: {}", e.without_url()))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("GET {url}: HTTP {status}"));
    }
    let body: serde_json::Value = response
        .json()
        .await
        .map_err(|e| format!("GET {url}: {}", e.without_url()))?;
    Ok(body
        .as_array()
        .map(|prs| {
            prs.iter()
                .filter_map(|pr| {
                    pr.get("html_url")
                        .and_then(|u| u.as_str())
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default())
}

/// Percent-encode a query value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' | b':' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_remotes() {
        let want = RepoRef {
            host: "github.com".into(),
            owner: "o".into(),
            repo: "r".into(),
        };
        for url in [
            "https://github.com/o/r.git",
            "https://x-access-token:secret@github.com/o/r",
            "git@github.com:o/r.git",
            "ssh://git@github.com/o/r",
        ] {
            assert_eq!(parse_remote(url).as_ref(), Some(&want), "{url}");
        }
        assert_eq!(parse_remote("/tmp/repo.git"), None);
    }

    #[test]
    fn only_github_like_remotes_have_an_api() {
        let gh = parse_remote("https://github.com/o/r").expect("remote");
        assert_eq!(api_for(&gh, None).as_deref(), Some(DEFAULT_API_URL));
        let ghe = parse_remote("https://git.corp.example/o/r").expect("remote");
        assert_eq!(api_for(&ghe, None), None);
        assert_eq!(
            api_for(&ghe, Some("https://git.corp.example/api/v3/")).as_deref(),
            Some("https://git.corp.example/api/v3")
        );
        let other = parse_remote("https://gitlab.com/o/r").expect("remote");
        assert_eq!(
            api_for(&other, Some("https://git.corp.example/api/v3")),
            None
        );
    }
}
