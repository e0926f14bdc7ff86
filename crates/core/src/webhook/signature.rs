//! `X-Hub-Signature-256`: GitHub signs every delivery's raw body with HMAC-SHA256 under the
//! webhook's secret and sends `sha256=<hex>`. A delivery is believed only when the MAC over the
//! exact bytes received matches, compared in constant time, so that an attacker learns nothing
//! from how fast a guess is refused. No secret (or an empty one) verifies nothing: an
//! unauthenticated receiver is what this exists to prevent.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The header GitHub signs deliveries in.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

const PREFIX: &str = "sha256=";

/// Why a delivery's signature is refused. The messages name no secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `X-Hub-Signature-256` header.
    #[error(
        "missing X-Hub-Signature-256: set a secret on the GitHub webhook (the same as the spawner's WEBHOOK_SECRET)"
    )]
    Missing,
    /// Not `sha256=` and 64 hex digits.
    #[error("malformed X-Hub-Signature-256: expected sha256= followed by 64 hex digits")]
    Malformed,
    /// A well-formed signature that the secret does not make.
    #[error(
        "X-Hub-Signature-256 does not match the body under any webhook secret: the secret in GitHub differs from the spawner's WEBHOOK_SECRET"
    )]
    Mismatch,
    /// The secret is empty, which would make anyone able to sign.
    #[error("the webhook secret is empty: put a long random value in WEBHOOK_SECRET")]
    EmptySecret,
}

fn mac(secret: &[u8], body: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of every length: `new_from_slice` cannot fail.
    let mut m = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    m.update(body);
    m
}

/// The header value GitHub would send for `body` under `secret`: `sha256=<64 hex digits>`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let tag = mac(secret, body).finalize().into_bytes();
    let mut out = String::with_capacity(PREFIX.len() + 64);
    out.push_str(PREFIX);
    for b in tag {
        out.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
        out.push(char::from_digit(u32::from(b & 0xf), 16).unwrap_or('0'));
    }
    out
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// The 32 bytes of a `sha256=<hex>` header value.
fn parse(header: &str) -> Result<[u8; 32], SignatureError> {
    let hex = header
        .trim()
        .strip_prefix(PREFIX)
        .ok_or(SignatureError::Malformed)?
        .as_bytes();
    if hex.len() != 64 {
        return Err(SignatureError::Malformed);
    }
    let mut out = [0u8; 32];
    for (i, pair) in hex.chunks_exact(2).enumerate() {
        let (Some(hi), Some(lo)) = (hex_digit(pair[0]), hex_digit(pair[1])) else {
            return Err(SignatureError::Malformed);
        };
        out[i] = (hi << 4) | lo;
    }
    Ok(out)
}

/// Whether `header` (the `X-Hub-Signature-256` value, `None` when absent) is `body`'s MAC
/// under `secret`, compared in constant time.
pub fn verify(secret: &[u8], body: &[u8], header: Option<&str>) -> Result<(), SignatureError> {
    if secret.is_empty() {
        return Err(SignatureError::EmptySecret);
    }
    let tag = parse(header.ok_or(SignatureError::Missing)?)?;
    mac(secret, body)
        .verify_slice(&tag)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"It's a Secret to Everybody";
    const BODY: &[u8] = b"Hello, World!";

    /// GitHub's documented example ("Validating webhook deliveries").
    #[test]
    fn githubs_documented_example() {
        let want = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(sign(SECRET, BODY), want);
        assert_eq!(verify(SECRET, BODY, Some(want)), Ok(()));
        assert_eq!(
            verify(
                SECRET,
                BODY,
                Some(&want.to_ascii_uppercase().replace("SHA256=", "sha256="))
            ),
            Ok(())
        );
    }

    #[test]
    fn refusals() {
        let good = sign(SECRET, BODY);
        let mut flipped = good.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).expect("ascii");
        let not_hex = format!("sha256={}", "zz".repeat(32));
        type Case<'a> = (&'a str, &'a [u8], &'a [u8], Option<&'a str>);
        let cases: [Case; 7] = [
            ("missing", SECRET, BODY, None),
            ("sha1 header", SECRET, BODY, Some("sha1=0123")),
            ("short", SECRET, BODY, Some("sha256=abcd")),
            ("not hex", SECRET, BODY, Some(&not_hex)),
            ("one bit off", SECRET, BODY, Some(&flipped)),
            ("other body", SECRET, b"Hello, World?", Some(&good)),
            ("empty secret", b"", BODY, Some(&good)),
        ];
        let lines: Vec<String> = cases
            .iter()
            .map(|(what, s, b, h)| match verify(s, b, *h) {
                Ok(()) => format!("{what}: accepted"),
                Err(e) => format!("{what}: {e}"),
            })
            .collect();
        insta::assert_snapshot!(lines.join("\n"), @r"
        missing: missing X-Hub-Signature-256: set a secret on the GitHub webhook (the same as the spawner's WEBHOOK_SECRET)
        sha1 header: malformed X-Hub-Signature-256: expected sha256= followed by 64 hex digits
        short: malformed X-Hub-Signature-256: expected sha256= followed by 64 hex digits
        not hex: malformed X-Hub-Signature-256: expected sha256= followed by 64 hex digits
        one bit off: X-Hub-Signature-256 does not match the body under any webhook secret: the secret in GitHub differs from the spawner's WEBHOOK_SECRET
        other body: X-Hub-Signature-256 does not match the body under any webhook secret: the secret in GitHub differs from the spawner's WEBHOOK_SECRET
        empty secret: the webhook secret is empty: put a long random value in WEBHOOK_SECRET
        ");
        assert_eq!(
            verify(b"another secret", BODY, Some(&good)),
            Err(SignatureError::Mismatch)
        );
    }
}
