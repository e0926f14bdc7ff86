//! Go-style durations (`30s`, `5m`, `1h30m`) as used by `pollInterval`.

use std::fmt;
use std::str::FromStr;

/// A parsed duration, kept in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration(std::time::Duration);

impl Duration {
    /// The default `pollInterval`: five minutes.
    pub const DEFAULT_POLL_INTERVAL: Duration = Duration(std::time::Duration::from_secs(300));

    /// As a standard library duration.
    pub fn as_std(self) -> std::time::Duration {
        self.0
    }
}

impl FromStr for Duration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!(
                "invalid duration {s:?}: expected a number with a unit (ms, s, m, h), e.g. \"30s\", \"5m\", \"1h30m\""
            )
        };
        if s.is_empty() {
            return Err(bad());
        }
        let mut total_ms: f64 = 0.0;
        let mut rest = s;
        while !rest.is_empty() {
            let num_len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(bad)?;
            if num_len == 0 {
                return Err(bad());
            }
            let value: f64 = rest[..num_len].parse().map_err(|_| bad())?;
            rest = &rest[num_len..];
            let (unit_ms, unit_len) = if rest.starts_with("ms") {
                (1.0, 2)
            } else if rest.starts_with('s') {
                (1000.0, 1)
            } else if rest.starts_with('m') {
                (60_000.0, 1)
            } else if rest.starts_with('h') {
                (3_600_000.0, 1)
            } else {
                return Err(bad());
            };
            total_ms += value * unit_ms;
            rest = &rest[unit_len..];
        }
        if total_ms <= 0.0 {
            return Err(format!("invalid duration {s:?}: must be greater than zero"));
        }
        Ok(Duration(std::time::Duration::from_millis(total_ms as u64)))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms.is_multiple_of(3_600_000) {
            write!(f, "{}h", ms / 3_600_000)
        } else if ms.is_multiple_of(60_000) {
            write!(f, "{}m", ms / 60_000)
        } else if ms.is_multiple_of(1000) {
            write!(f, "{}s", ms / 1000)
        } else {
            write!(f, "{ms}ms")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        let secs = |s: &str| s.parse::<Duration>().map(|d| d.as_std().as_secs_f64());
        assert_eq!(secs("30s"), Ok(30.0));
        assert_eq!(secs("5m"), Ok(300.0));
        assert_eq!(secs("1h"), Ok(3600.0));
        assert_eq!(secs("1h30m"), Ok(5400.0));
        assert_eq!(secs("1.5s"), Ok(1.5));
        assert_eq!(secs("250ms"), Ok(0.25));
        for bad in ["", "5", "m", "5x", "-5m", "0s", "5 m"] {
            assert!(bad.parse::<Duration>().is_err(), "{bad} should fail");
        }
    }

    #[test]
    fn displays_compactly() {
        assert_eq!(Duration::DEFAULT_POLL_INTERVAL.to_string(), "5m");
        assert_eq!(
            "90s".parse::<Duration>().map(|d| d.to_string()),
            Ok("90s".to_string())
        );
    }
}
