//! Reading GitHub's rate-limit answers. A `403` or `429` is a rate limit when it says so:
//! `retry-after` (secondary limits) or `x-ratelimit-remaining: 0` with `x-ratelimit-reset`
//! (the primary limit). Anything else with `403` is a permission problem and must not make
//! the spawner wait.

use jiff::{SignedDuration, Timestamp};
use reqwest::header::HeaderMap;

/// Used when GitHub says "rate limited" without saying until when.
pub const DEFAULT_BACKOFF_SECS: i64 = 60;

/// When the spawner may call again, if `status`/`headers` describe a rate limit.
pub fn rate_limited_until(status: u16, headers: &HeaderMap, now: Timestamp) -> Option<Timestamp> {
    if status != 403 && status != 429 {
        return None;
    }
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(secs) = header("retry-after").and_then(|v| v.parse::<i64>().ok()) {
        return Some(after(now, secs.max(1)));
    }
    let exhausted = header("x-ratelimit-remaining") == Some("0");
    if exhausted {
        let reset = header("x-ratelimit-reset")
            .and_then(|v| v.parse::<i64>().ok())
            .and_then(|epoch| Timestamp::from_second(epoch).ok());
        // Never wait less than a second (clock skew) and never in the past.
        let floor = after(now, 1);
        return Some(reset.map_or(after(now, DEFAULT_BACKOFF_SECS), |r| r.max(floor)));
    }
    (status == 429).then(|| after(now, DEFAULT_BACKOFF_SECS))
}

/// `secs` seconds after `now`; a `retry-after` too large to represent waits until the end of
/// time rather than overflowing.
fn after(now: Timestamp, secs: i64) -> Timestamp {
    now.checked_add(SignedDuration::from_secs(secs))
        .unwrap_or(Timestamp::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).expect("ascii"));
        }
        h
    }

    #[test]
    fn primary_secondary_and_permission() {
        let now = Timestamp::from_second(1_000_000).expect("valid");
        let primary = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1000060"),
        ]);
        assert_eq!(
            rate_limited_until(403, &primary, now),
            Some(now + SignedDuration::from_secs(60))
        );
        let secondary = headers(&[("retry-after", "30")]);
        assert_eq!(
            rate_limited_until(429, &secondary, now),
            Some(now + SignedDuration::from_secs(30))
        );
        let forbidden = headers(&[("x-ratelimit-remaining", "4999")]);
        assert_eq!(rate_limited_until(403, &forbidden, now), None);
        assert_eq!(rate_limited_until(200, &primary, now), None);
        let past = headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "5")]);
        assert_eq!(
            rate_limited_until(403, &past, now),
            Some(now + SignedDuration::from_secs(1))
        );
    }
}
