//! Which GitHub repository a Workspace points at, and which API serves it.
//!
//! Workspaces name their repository the way `git clone` wants it (HTTPS, SSH `git@host:o/r.git`,
//! `ssh://`), while the REST API wants `owner/repo` and a base URL: `https://api.github.com` for
//! github.com, `https://HOST/api/v3` for GitHub Enterprise Server.

/// A repository on a GitHub host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoRef {
    /// Host name, e.g. `github.com` or `ghe.example.com`.
    pub host: String,
    /// Owner (user or organization).
    pub owner: String,
    /// Repository name, without `.git`.
    pub repo: String,
}

/// Why a repository URL was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RepoUrlError {
    /// The URL has no `owner/repo` path.
    #[error(
        "workspace repo {url:?} does not name a GitHub repository; expected https://github.com/OWNER/REPO(.git) or git@github.com:OWNER/REPO.git"
    )]
    NotARepository {
        /// The URL as given.
        url: String,
    },
}

impl RepoRef {
    /// Parses a clone URL: `https://host/o/r(.git)`, `http://…`, `git@host:o/r(.git)`,
    /// `ssh://git@host(:port)/o/r(.git)`, `git://host/o/r`.
    pub fn parse(url: &str) -> Result<RepoRef, RepoUrlError> {
        let bad = || RepoUrlError::NotARepository {
            url: redact_userinfo(url),
        };
        let trimmed = url.trim();
        let (host, path) = if let Some((_, rest)) = trimmed.split_once("://") {
            let (authority, path) = rest.split_once('/').ok_or_else(bad)?;
            let host = authority.rsplit('@').next().unwrap_or(authority);
            let host = host.split(':').next().unwrap_or(host);
            (host, path)
        } else if let Some((user_host, path)) = trimmed.split_once(':') {
            // scp-like syntax: [user@]host:owner/repo.git
            let host = user_host.rsplit('@').next().unwrap_or(user_host);
            (host, path)
        } else {
            return Err(bad());
        };
        let mut parts = path.trim_matches('/').split('/');
        let (Some(owner), Some(repo), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad());
        };
        let repo = repo.strip_suffix(".git").unwrap_or(repo);
        if host.is_empty() || owner.is_empty() || repo.is_empty() {
            return Err(bad());
        }
        Ok(RepoRef {
            host: host.to_ascii_lowercase(),
            owner: owner.to_string(),
            repo: repo.to_string(),
        })
    }

    /// The REST API base for the host: `https://api.github.com` for github.com,
    /// `https://HOST/api/v3` for GitHub Enterprise Server.
    pub fn default_api_base(&self) -> String {
        if self.host == "github.com" || self.host == "www.github.com" {
            "https://api.github.com".to_string()
        } else {
            format!("https://{}/api/v3", self.host)
        }
    }
}

/// `https://user:secret@host/…` without the credentials, for messages.
fn redact_userinfo(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            match rest[..authority_end].rfind('@') {
                Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
                None => url.to_string(),
            }
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(url: &str) -> String {
        match RepoRef::parse(url) {
            Ok(r) => format!(
                "{}/{} on {} via {}",
                r.owner,
                r.repo,
                r.host,
                r.default_api_base()
            ),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn clone_urls() {
        let urls = [
            "https://github.com/axon-core/axon.git",
            "https://github.com/axon-core/axon",
            "https://github.com/axon-core/axon/",
            "https://x-access-token@github.com/o/r.git",
            "git@github.com:o/r.git",
            "ssh://git@github.com:22/o/r.git",
            "git@ghe.example.com:team/service.git",
            "https://GHE.example.com/team/service",
            "https://github.com/just-owner",
            "/srv/git/repo.git",
            "https://user:ghp_secret@github.com/only-owner",
        ];
        let out: Vec<String> = urls
            .iter()
            .map(|u| format!("{u} => {}", parsed(u)))
            .collect();
        insta::assert_snapshot!(out.join("\n"), @r#"
        https://github.com/axon-core/axon.git => axon-core/axon on github.com via https://api.github.com
        https://github.com/axon-core/axon => axon-core/axon on github.com via https://api.github.com
        https://github.com/axon-core/axon/ => axon-core/axon on github.com via https://api.github.com
        https://x-access-token@github.com/o/r.git => o/r on github.com via https://api.github.com
        git@github.com:o/r.git => o/r on github.com via https://api.github.com
        ssh://git@github.com:22/o/r.git => o/r on github.com via https://api.github.com
        git@ghe.example.com:team/service.git => team/service on ghe.example.com via https://ghe.example.com/api/v3
        https://GHE.example.com/team/service => team/service on ghe.example.com via https://ghe.example.com/api/v3
        https://github.com/just-owner => workspace repo "https://github.com/just-owner" does not name a GitHub repository; expected https://github.com/OWNER/REPO(.git) or git@github.com:OWNER/REPO.git
        /srv/git/repo.git => workspace repo "/srv/git/repo.git" does not name a GitHub repository; expected https://github.com/OWNER/REPO(.git) or git@github.com:OWNER/REPO.git
        https://user:ghp_secret@github.com/only-owner => workspace repo "https://***@github.com/only-owner" does not name a GitHub repository; expected https://github.com/OWNER/REPO(.git) or git@github.com:OWNER/REPO.git
        "#);
    }
}
