//! Egress: where a Task's agent may connect (`spec.network`, also on a TaskSpawner's
//! `taskTemplate`).
//!
//! Why a module of its own: the allowlist is a security boundary read by the gateway's proxy
//! (which admits a host only when it equals an entry or is under a `*.` entry) and by the
//! sandbox and NetworkPolicy (which cut everything else). An entry that is a URL, carries a
//! port or a path, or is not a host name would silently never match; this module refuses it
//! at apply, with the shape to write instead.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The longest host name (RFC 1035), plus the `*.` of a wildcard entry.
pub const MAX_DOMAIN_LENGTH: usize = 253;
/// An `allow` entry: a lowercase host name or IPv4 address, optionally `*.` in front, as an
/// OpenAPI `pattern` (label lengths are checked by the loader).
pub const ALLOW_ENTRY_PATTERN: &str =
    r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
/// `allow` only with `mode: restricted`, as a CEL rule on `network`.
pub const ALLOW_NEEDS_RESTRICTED_CEL: &str =
    "!has(self.allow) || size(self.allow) == 0 || (has(self.mode) && self.mode == 'restricted')";

/// Whether the agent's network is open or limited to the gateway and an allowlist.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    /// The agent reaches any host (model and GitHub calls still pass through the gateway).
    #[default]
    Open,
    /// The agent reaches only the gateway; the gateway admits the model upstream, the
    /// Workspace's GitHub hosts and the `allow` entries.
    Restricted,
}

impl NetworkMode {
    /// The name used in YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            NetworkMode::Open => "open",
            NetworkMode::Restricted => "restricted",
        }
    }
}

/// `spec.network`: the agent's egress.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(ALLOW_NEEDS_RESTRICTED_CEL).message("allow is only used with mode: restricted: set mode: restricted or remove allow"))]
pub struct Network {
    /// `open` (default) or `restricted`.
    #[serde(default)]
    pub mode: NetworkMode,
    /// With `restricted`: the hosts the agent may also reach, besides the model upstream and
    /// the Workspace's GitHub hosts. Each entry is a host name in lowercase (`pypi.org`) or
    /// `*.` and a domain (`*.npmjs.org`: any host under it, not the domain itself); no
    /// scheme, port or path (any port of an allowed host is allowed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256))]
    #[schemars(inner(length(min = 1, max = 255), regex(pattern = ALLOW_ENTRY_PATTERN)))]
    pub allow: Vec<String>,
}

/// The most `allow` entries.
pub const MAX_ALLOW_ENTRIES: usize = 256;

/// One `allow` entry: a host name or `*.domain`, never a URL, port or path.
pub fn check_allow_entry(entry: &str) -> Result<(), String> {
    const SHAPE: &str =
        "a host name such as pypi.org, or *.example.com for every host under example.com";
    if entry.is_empty() {
        return Err(format!("is empty: write {SHAPE}"));
    }
    if let Some((scheme, rest)) = entry.split_once("://") {
        let host = rest.split(['/', ':', '?', '#']).next().unwrap_or_default();
        return Err(format!(
            "{entry:?} is a URL: write the host only ({host:?}, without {scheme}:// or a path)"
        ));
    }
    if let Some(c) = entry.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "{entry:?} contains {c:?}: write {SHAPE}, one host per entry"
        ));
    }
    if entry.starts_with('[') || entry.matches(':').count() > 1 {
        return Err(format!(
            "{entry:?} is an IPv6 address: allow entries are host names or IPv4 addresses"
        ));
    }
    if let Some((host, port)) = entry.rsplit_once(':') {
        return Err(format!(
            "{entry:?} has a port ({port:?}): write the host only ({host:?}); every port of an allowed host is allowed"
        ));
    }
    if let Some((host, _)) = entry.split_once('/') {
        return Err(format!(
            "{entry:?} has a path: write the host only ({host:?}); the allowlist admits hosts, not paths"
        ));
    }
    if entry == "*" || entry == "*." {
        return Err(format!(
            "{entry:?} would allow every host: use mode: open instead of an allowlist"
        ));
    }
    if entry.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(format!(
            "{entry:?} has uppercase letters: write host names in lowercase ({:?})",
            entry.to_ascii_lowercase()
        ));
    }
    let domain = entry.strip_prefix("*.").unwrap_or(entry);
    if domain.contains('*') {
        return Err(format!(
            "{entry:?} has '*' in the wrong place: a wildcard is only allowed as a leading \"*.\" ({SHAPE})"
        ));
    }
    if entry.len() > MAX_DOMAIN_LENGTH {
        return Err(format!(
            "is {} characters: a host name is at most {MAX_DOMAIN_LENGTH}",
            entry.len()
        ));
    }
    for label in domain.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(format!(
                "{entry:?} is not a valid host name: each dot-separated part is 1 to 63 letters, digits or '-', not starting or ending with '-' (write {SHAPE})"
            ));
        }
    }
    Ok(())
}

/// Every broken rule of `network`: (field under `network`, reason).
pub fn network_violations(n: &Network) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if n.mode == NetworkMode::Open && !n.allow.is_empty() {
        out.push((
            "allow".to_string(),
            "is only used with mode: restricted (mode is open, which allows every host): set mode: restricted or remove allow".to_string(),
        ));
        return out;
    }
    if n.allow.len() > MAX_ALLOW_ENTRIES {
        out.push((
            "allow".to_string(),
            format!(
                "has {} entries: at most {MAX_ALLOW_ENTRIES} (use *.domain entries to cover many hosts)",
                n.allow.len()
            ),
        ));
        return out;
    }
    for (i, entry) in n.allow.iter().enumerate() {
        if let Err(r) = check_allow_entry(entry) {
            out.push((format!("allow[{i}]"), r));
        } else if n.allow[..i].contains(entry) {
            out.push((format!("allow[{i}]"), format!("{entry:?} is listed twice")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_wildcards_are_allowed() {
        for ok in [
            "pypi.org",
            "*.npmjs.org",
            "files.pythonhosted.org",
            "localhost",
            "127.0.0.1",
            "a-b.example",
            "xn--bcher-kva.example",
        ] {
            assert!(check_allow_entry(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn urls_ports_paths_spaces_and_junk_are_refused_with_what_to_write() {
        let lines: Vec<String> = [
            "",
            "https://pypi.org/simple",
            "pypi.org:443",
            "pypi.org/simple",
            "pypi .org",
            "*",
            "a.*.com",
            "PyPI.org",
            "-x.org",
            "a..b",
            "under_score.org",
            "[::1]:80",
            "::1",
        ]
        .iter()
        .map(|e| format!("{e:?}: {}", check_allow_entry(e).expect_err(e)))
        .collect();
        insta::assert_snapshot!(lines.join("\n"));
    }

    #[test]
    fn allow_with_open_mode_is_a_conflict() {
        let n = Network {
            mode: NetworkMode::Open,
            allow: vec!["pypi.org".into()],
        };
        let v = network_violations(&n);
        assert_eq!(v.len(), 1);
        assert!(
            v[0].1.contains("set mode: restricted or remove allow"),
            "{v:?}"
        );
        let ok = Network {
            mode: NetworkMode::Restricted,
            allow: vec!["pypi.org".into(), "*.npmjs.org".into()],
        };
        assert!(network_violations(&ok).is_empty());
        assert!(network_violations(&Network::default()).is_empty());
        let restricted_nothing = Network {
            mode: NetworkMode::Restricted,
            allow: vec![],
        };
        assert!(network_violations(&restricted_nothing).is_empty());
        let twice = Network {
            mode: NetworkMode::Restricted,
            allow: vec!["a.org".into(), "https://b.org".into(), "a.org".into()],
        };
        let v = network_violations(&twice);
        assert_eq!(
            v.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(),
            ["allow[1]", "allow[2]"]
        );
    }
}
