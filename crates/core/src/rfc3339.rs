//! The one textual form of a time that Axon writes: RFC 3339 in UTC at whole seconds with `Z`
//! (`2026-02-07T09:00:00Z`), as in Kubernetes status. Every time written to status, to a work
//! item (`{{.Time}}`, a cron tick's title) or to the spawner's memory goes through [`format`],
//! and every such time read back (or read from GitHub) goes through [`parse`], so the two
//! drivers and the spawner cannot drift apart on precision or offset spelling.

use jiff::Timestamp;

/// `t` as written to status: RFC 3339, UTC, whole seconds (sub-seconds truncated), `Z`.
pub fn format(t: Timestamp) -> String {
    format!("{t:.0}")
}

/// An RFC 3339 time with an offset (`Z` or `±hh:mm`), as an instant; `None` if it is not one.
pub fn parse(s: &str) -> Option<Timestamp> {
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_and_zulu_whatever_the_precision() {
        let t = Timestamp::new(1_770_454_800, 987_654_321).expect("valid");
        assert_eq!(format(t), "2026-02-07T09:00:00Z");
        assert_eq!(
            format(Timestamp::from_second(1_770_454_800).expect("valid")),
            "2026-02-07T09:00:00Z"
        );
    }

    #[test]
    fn parses_offsets_and_fractions_to_the_instant() {
        let t = Timestamp::from_second(1_770_454_800).expect("valid");
        assert_eq!(parse("2026-02-07T09:00:00Z"), Some(t));
        assert_eq!(parse("2026-02-07T10:00:00+01:00"), Some(t));
        assert_eq!(
            parse("2026-02-07T09:00:00.5Z"),
            Some(Timestamp::new(1_770_454_800, 500_000_000).expect("valid"))
        );
        assert_eq!(
            parse("2026-02-07T09:00:00"),
            None,
            "no offset: not an instant"
        );
        assert_eq!(parse("yesterday"), None);
    }
}
