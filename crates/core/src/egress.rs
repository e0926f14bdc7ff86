//! The egress rule of the gateway: which destinations a Task in `spec.network.mode:
//! restricted` may reach, and how the destination of a proxied request is read.
//!
//! Why it exists: the gateway's forward proxy and CONNECT tunnel admit a host only when it is
//! allowed; the decision must be the same for both, and exact about the strings it compares
//! (case, a trailing dot, IPv6 brackets, a port) so that no spelling of a name slips past an
//! allowlist. Rules:
//!
//! * an entry `example.com` admits exactly `example.com` (any case, with or without a trailing
//!   dot), not its subdomains;
//! * an entry `*.example.com` admits every subdomain (`a.example.com`, `a.b.example.com`) but
//!   not `example.com` itself (list both to admit both);
//! * an IP literal (`10.0.0.1`, `::1`, `[::1]`) admits only that exact address: wildcards never
//!   match an address, and no name resolution is done here;
//! * internationalized names are compared as written (use their `xn--` form in the list).

use std::net::IpAddr;

/// A destination host and port, as read from a CONNECT authority or an absolute URL.
/// `host` is normalized: lower case, no trailing dot, IPv6 without brackets.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPort {
    /// Normalized host name or IP literal.
    pub host: String,
    /// Destination port.
    pub port: u16,
}

impl HostPort {
    /// `host:port`, with brackets around an IPv6 address (the form of a CONNECT authority).
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Why an authority could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorityError {
    /// Nothing was given.
    #[error("the destination is empty: give host:port")]
    Empty,
    /// A CONNECT authority without a port.
    #[error("`{0}` has no port: a CONNECT destination is host:port (e.g. example.com:443)")]
    MissingPort(String),
    /// The port is not a number in 1..=65535.
    #[error("`{0}` has an invalid port: use a number from 1 to 65535")]
    BadPort(String),
    /// The host has characters no host name has (user info, a path, spaces, …).
    #[error("`{0}` is not a host name or IP address (letters, digits, `-`, `.`, or an IP literal)")]
    BadHost(String),
}

/// Lower-cases `host`, removes one trailing dot and the brackets of an IPv6 literal.
pub fn normalize_host(host: &str) -> String {
    let host = host.trim();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let host = host.strip_suffix('.').unwrap_or(host);
    host.to_ascii_lowercase()
}

/// Whether `host` may be reached under the allowlist `allow` (see the module comment).
pub fn allowed(host: &str, allow: &[String]) -> bool {
    let host = normalize_host(host);
    if host.is_empty() {
        return false;
    }
    let host_ip = host.parse::<IpAddr>().ok();
    allow.iter().any(|entry| {
        let entry = entry.trim();
        if let Some(domain) = entry.strip_prefix("*.") {
            let domain = normalize_host(domain);
            // An address is never matched by a wildcard.
            host_ip.is_none()
                && !domain.is_empty()
                && host.len() > domain.len() + 1
                && host.ends_with(&domain)
                && host.as_bytes()[host.len() - domain.len() - 1] == b'.'
        } else {
            let entry = normalize_host(entry);
            match (host_ip, entry.parse::<IpAddr>()) {
                (Some(a), Ok(b)) => a == b,
                (None, Err(_)) => host == entry,
                _ => false,
            }
        }
    })
}

/// Checks one allowlist entry (for validation at apply): a host name, `*.` and a domain, or
/// an IP literal; no scheme, port, path or other wildcard.
pub fn check_allow_entry(entry: &str) -> Result<(), String> {
    let name = entry.strip_prefix("*.").unwrap_or(entry);
    let bare = normalize_host(name);
    if bare.is_empty() {
        return Err(format!(
            "`{entry}` is empty: write a domain such as example.com or *.example.com"
        ));
    }
    if bare.parse::<IpAddr>().is_ok() {
        return if entry.starts_with("*.") {
            Err(format!(
                "`{entry}`: a wildcard cannot apply to an IP address; list the address itself"
            ))
        } else {
            Ok(())
        };
    }
    if !valid_host_name(&bare) {
        return Err(format!(
            "`{entry}` is not a domain: write a name such as example.com or *.example.com \
             (no scheme, port, path, or `*` other than a leading `*.`)"
        ));
    }
    Ok(())
}

/// Reads a CONNECT authority `host:port` (IPv6 as `[::1]:443`); the port is required.
pub fn parse_connect_authority(authority: &str) -> Result<HostPort, AuthorityError> {
    parse_authority(authority, None)
}

/// Reads `host[:port]` (IPv6 as `[::1]` or `[::1]:80`), using `default_port` when no port is
/// given (`None`: a port is required).
pub fn parse_authority(
    authority: &str,
    default_port: Option<u16>,
) -> Result<HostPort, AuthorityError> {
    let authority = authority.trim();
    if authority.is_empty() {
        return Err(AuthorityError::Empty);
    }
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            return Err(AuthorityError::BadHost(authority.to_string()));
        };
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(AuthorityError::BadHost(authority.to_string()));
        }
        let port = match after {
            "" => None,
            p => match p.strip_prefix(':') {
                Some(p) => Some(p),
                None => return Err(AuthorityError::BadHost(authority.to_string())),
            },
        };
        (host, port)
    } else {
        match authority.rsplit_once(':') {
            // A bare IPv6 address without brackets is ambiguous with a port: refused.
            Some((h, _)) if h.contains(':') => {
                return Err(AuthorityError::BadHost(authority.to_string()));
            }
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => return Err(AuthorityError::BadPort(authority.to_string())),
        },
        None => default_port.ok_or_else(|| AuthorityError::MissingPort(authority.to_string()))?,
    };
    let normalized = normalize_host(host);
    if normalized.is_empty()
        || (normalized.parse::<IpAddr>().is_err() && !valid_host_name(&normalized))
    {
        return Err(AuthorityError::BadHost(authority.to_string()));
    }
    Ok(HostPort {
        host: normalized,
        port,
    })
}

/// Letters, digits, `-` and `_` in dot-separated labels of 1..=63 characters, 253 at most.
fn valid_host_name(host: &str) -> bool {
    host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> Vec<String> {
        entries.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn exact_entries_match_only_that_name_in_any_spelling() {
        let allow = list(&["Example.com", "pypi.org."]);
        assert!(allowed("example.com", &allow));
        assert!(allowed("EXAMPLE.COM.", &allow));
        assert!(allowed("pypi.org", &allow));
        assert!(!allowed("www.example.com", &allow));
        assert!(!allowed("badexample.com", &allow));
        assert!(!allowed("example.com.evil.test", &allow));
        assert!(!allowed("", &allow));
    }

    #[test]
    fn wildcards_match_subdomains_only() {
        let allow = list(&["*.githubusercontent.com"]);
        assert!(allowed("raw.githubusercontent.com", &allow));
        assert!(allowed("a.b.githubusercontent.com.", &allow));
        assert!(allowed("RAW.GitHubUserContent.com", &allow));
        assert!(!allowed("githubusercontent.com", &allow));
        assert!(!allowed("evilgithubusercontent.com", &allow));
        assert!(!allowed(".githubusercontent.com", &allow));
    }

    #[test]
    fn addresses_match_only_exact_address_entries() {
        let allow = list(&["10.0.0.1", "[::1]", "*.0.0.1", "*.example.com"]);
        assert!(allowed("10.0.0.1", &allow));
        assert!(allowed("[::1]", &allow));
        assert!(allowed("::1", &allow));
        assert!(allowed("0:0:0:0:0:0:0:1", &allow));
        assert!(!allowed("127.0.0.1", &allow));
        assert!(!allowed("10.0.0.2", &allow));
        // `*.0.0.1` is no way to admit addresses.
        assert!(!allowed("1.0.0.1", &allow));
        assert!(!allowed("localhost", &list(&["127.0.0.1"])));
        assert!(!allowed("anything", &[]));
    }

    #[test]
    fn connect_authorities() {
        let hp = |h: &str, p: u16| HostPort {
            host: h.to_string(),
            port: p,
        };
        assert_eq!(
            parse_connect_authority("GitHub.com:443"),
            Ok(hp("github.com", 443))
        );
        assert_eq!(parse_connect_authority("[::1]:8443"), Ok(hp("::1", 8443)));
        assert_eq!(
            parse_connect_authority("127.0.0.1:80"),
            Ok(hp("127.0.0.1", 80))
        );
        assert_eq!(
            parse_authority("example.com.", Some(80)),
            Ok(hp("example.com", 80))
        );
        assert_eq!(parse_authority("[::1]", Some(80)), Ok(hp("::1", 80)));
        assert_eq!(hp("::1", 443).authority(), "[::1]:443");
        assert_eq!(hp("a.test", 443).authority(), "a.test:443");
    }

    #[test]
    fn bad_authorities_say_what_to_write() {
        let cases = [
            "",
            "github.com",
            "github.com:",
            "github.com:0",
            "github.com:65536",
            "github.com:+443",
            "::1:443",
            "[::1",
            "[::1]x",
            "[nothost]:443",
            "user@github.com:443",
            "github.com/path:443",
            "exa mple.com:443",
            "a..b:443",
        ];
        let out: Vec<String> = cases
            .iter()
            .map(|c| match parse_connect_authority(c) {
                Ok(hp) => format!("{c:?} -> ok {hp:?}"),
                Err(e) => format!("{c:?} -> {e}"),
            })
            .collect();
        insta::assert_snapshot!(out.join("\n"));
    }

    #[test]
    fn allow_entries_are_checked() {
        let cases = [
            "example.com",
            "*.example.com",
            "10.0.0.1",
            "[::1]",
            "",
            "*.",
            "*.10.0.0.1",
            "https://example.com",
            "example.com:443",
            "a.*.example.com",
            "*example.com",
        ];
        let out: Vec<String> = cases
            .iter()
            .map(|c| match check_allow_entry(c) {
                Ok(()) => format!("{c:?} -> ok"),
                Err(e) => format!("{c:?} -> {e}"),
            })
            .collect();
        insta::assert_snapshot!(out.join("\n"));
    }
}
