//! Gateway tokens that need no store: a token names its Task (namespace, name, uid) and
//! carries an HMAC-SHA256 of that name under a key only the issuer (the controller) and the
//! gateway hold, so the gateway maps a token to its Task by checking the MAC and looking the
//! Task up, with nothing to remember or revoke. A token is worth something only while its Task
//! runs (the gateway checks the Task, its uid and its phase on every request); a Task
//! recreated under the same name has another uid, so an old token does not reach it.
//!
//! Format: `axgw1.<base64url(namespace/name/uid)>.<base64url(HMAC-SHA256(key, "axgw1.<payload>"))>`
//! (unpadded base64url: the token is safe in a header, a URL's user info and a query string).
//! The MAC covers the version prefix, so a future format cannot be confused with this one.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use thiserror::Error;

type HmacSha256 = Hmac<Sha256>;

/// The version prefix of the format.
pub const PREFIX: &str = "axgw1";
/// The longest token accepted (a namespace of 63, a name of 253 and a uid of 36 characters
/// make about 500); anything longer is refused before any decoding.
pub const MAX_TOKEN_LEN: usize = 1024;
/// The shortest key accepted when a key is loaded ([`check_key`]): 256 bits.
pub const MIN_KEY_LEN: usize = 32;
/// Length of the MAC (SHA-256).
const MAC_LEN: usize = 32;

/// The Task a token was minted for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TaskIdentity {
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

/// Why a token or a key is refused. The messages never repeat the token.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the gateway token is longer than {MAX_TOKEN_LEN} characters")]
    TooLong,
    #[error("not an Axon gateway token (expected axgw1.<task>.<signature>)")]
    Malformed,
    #[error(
        "the gateway token's signature does not match (a token from another cluster, or altered)"
    )]
    BadSignature,
    #[error(
        "the gateway key has {0} bytes; it needs at least {MIN_KEY_LEN} (axon install generates one)"
    )]
    WeakKey(usize),
}

fn mac(key: &[u8], signed: &str) -> HmacSha256 {
    // HMAC accepts keys of every length: `new_from_slice` cannot fail.
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    m.update(signed.as_bytes());
    m
}

/// Refuse a key too short to sign tokens with.
pub fn check_key(key: &[u8]) -> Result<(), TokenError> {
    if key.len() < MIN_KEY_LEN {
        return Err(TokenError::WeakKey(key.len()));
    }
    Ok(())
}

/// The token of `task` under `key`. Kubernetes names and uids hold no `/`, so the payload
/// splits back into exactly the identity that was signed.
pub fn mint(key: &[u8], task: &TaskIdentity) -> String {
    let payload = URL_SAFE_NO_PAD.encode(format!("{}/{}/{}", task.namespace, task.name, task.uid));
    let signed = format!("{PREFIX}.{payload}");
    let tag = URL_SAFE_NO_PAD.encode(mac(key, &signed).finalize().into_bytes());
    format!("{signed}.{tag}")
}

/// A name part of the payload: a DNS label or subdomain (namespace, name) or a uid.
fn valid_part(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// The Task `token` was minted for, when its MAC under `key` matches (compared in constant
/// time). Anything else (too long, another shape, bad base64, a payload that is not
/// `namespace/name/uid`) is refused.
pub fn verify(key: &[u8], token: &str) -> Result<TaskIdentity, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::TooLong);
    }
    let mut parts = token.split('.');
    let (Some(prefix), Some(payload), Some(tag), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    if prefix != PREFIX || payload.is_empty() {
        return Err(TokenError::Malformed);
    }
    let tag = URL_SAFE_NO_PAD
        .decode(tag)
        .map_err(|_| TokenError::Malformed)?;
    if tag.len() != MAC_LEN {
        return Err(TokenError::Malformed);
    }
    mac(key, &format!("{PREFIX}.{payload}"))
        .verify_slice(&tag)
        .map_err(|_| TokenError::BadSignature)?;
    let payload = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| TokenError::Malformed)?;
    let payload = String::from_utf8(payload).map_err(|_| TokenError::Malformed)?;
    let mut fields = payload.split('/');
    let (Some(namespace), Some(name), Some(uid), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(TokenError::Malformed);
    };
    if ![namespace, name, uid].into_iter().all(valid_part) {
        return Err(TokenError::Malformed);
    }
    Ok(TaskIdentity {
        namespace: namespace.into(),
        name: name.into(),
        uid: uid.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn task() -> TaskIdentity {
        TaskIdentity {
            namespace: "team-a".into(),
            name: "fix-issue-42".into(),
            uid: "6f1c2b4e-9a0d-4c53-8e2f-3b7d1a9c0e55".into(),
        }
    }

    /// A token signed with `key` over an arbitrary payload (what a forger with the key could
    /// make; verify must still refuse payloads of the wrong shape).
    fn signed(key: &[u8], payload: &str) -> String {
        let p = URL_SAFE_NO_PAD.encode(payload);
        let s = format!("{PREFIX}.{p}");
        format!(
            "{s}.{}",
            URL_SAFE_NO_PAD.encode(mac(key, &s).finalize().into_bytes())
        )
    }

    #[test]
    fn a_minted_token_verifies_to_its_task() {
        let token = mint(KEY, &task());
        assert_eq!(verify(KEY, &token), Ok(task()));
        insta::assert_snapshot!(token);
    }

    #[test]
    fn minting_is_deterministic_and_depends_on_every_part() {
        let t = task();
        assert_eq!(mint(KEY, &t), mint(KEY, &t));
        let other_uid = TaskIdentity {
            uid: "00000000-0000-0000-0000-000000000000".into(),
            ..t.clone()
        };
        let other_ns = TaskIdentity {
            namespace: "team-b".into(),
            ..t.clone()
        };
        assert_ne!(mint(KEY, &t), mint(KEY, &other_uid));
        assert_ne!(mint(KEY, &t), mint(KEY, &other_ns));
        assert_ne!(mint(KEY, &t), mint(b"another key, also 32 bytes long!", &t));
    }

    #[test]
    fn another_key_or_an_altered_token_is_refused() {
        let token = mint(KEY, &task());
        assert_eq!(
            verify(b"another key, also 32 bytes long!", &token),
            Err(TokenError::BadSignature)
        );
        // The payload of another Task with this token's signature.
        let other = mint(
            KEY,
            &TaskIdentity {
                name: "other".into(),
                ..task()
            },
        );
        let (_, sig) = token.rsplit_once('.').expect("dots");
        let (head, _) = other.rsplit_once('.').expect("dots");
        assert_eq!(
            verify(KEY, &format!("{head}.{sig}")),
            Err(TokenError::BadSignature)
        );
        // One character of the signature changed.
        let mut flipped = token.clone();
        let last = flipped.pop().expect("last");
        flipped.push(if last == 'A' { 'B' } else { 'A' });
        assert!(verify(KEY, &flipped).is_err());
    }

    #[test]
    fn garbage_is_refused() {
        let token = mint(KEY, &task());
        let (head, _) = token.rsplit_once('.').expect("dots");
        let long = format!("{token}{}", "A".repeat(MAX_TOKEN_LEN));
        let cases: Vec<(&str, TokenError)> = vec![
            ("", TokenError::Malformed),
            ("axgw1", TokenError::Malformed),
            ("axgw1..", TokenError::Malformed),
            ("sk-ant-api03-abcdef", TokenError::Malformed),
            ("Bearer axgw1.a.b", TokenError::Malformed),
            (head, TokenError::Malformed),
            (&long, TokenError::TooLong),
        ];
        for (bad, want) in cases {
            assert_eq!(verify(KEY, bad), Err(want), "{bad:?}");
        }
        let other_version = token.replacen("axgw1", "axgw2", 1);
        let extra = format!("{token}.x");
        let bad_base64 = format!("{head}.!!!!");
        let short_mac = format!("{head}.AAAA");
        for bad in [other_version, extra, bad_base64, short_mac] {
            assert_eq!(verify(KEY, &bad), Err(TokenError::Malformed), "{bad:?}");
        }
    }

    #[test]
    fn a_signed_payload_of_the_wrong_shape_is_refused() {
        for payload in [
            "team-a/fix",
            "team-a/fix/uid/extra",
            "team-a//uid",
            "team a/fix/uid",
            "team-a/fix/uid\n",
        ] {
            assert_eq!(
                verify(KEY, &signed(KEY, payload)),
                Err(TokenError::Malformed),
                "{payload:?}"
            );
        }
        assert!(verify(KEY, &signed(KEY, "a/b/c")).is_ok());
    }

    #[test]
    fn errors_never_repeat_the_token() {
        let token = mint(KEY, &task());
        let e = verify(b"another key, also 32 bytes long!", &token).expect_err("refused");
        assert!(!e.to_string().contains(&token[6..20]), "{e}");
    }

    #[test]
    fn short_keys_are_refused() {
        assert_eq!(check_key(b"short"), Err(TokenError::WeakKey(5)));
        assert_eq!(check_key(KEY), Ok(()));
    }
}
