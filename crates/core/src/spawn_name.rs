//! Names of spawned Tasks. Names are identities: the Task for issue 42 of spawner `fix-bugs`
//! is always `fix-bugs-42`, so creating it twice is a no-op and a crash between polls can never
//! duplicate work.
//!
//! A name must also be a valid Kubernetes name that works as a Job name and label value: a
//! DNS-1123 label of at most 63 characters. The readable form `<spawner>-<ID>` (and
//! `<spawner>-<ID>-r<N>` for the N-th re-queue of an item after it needed input) is used only
//! when it is already valid and cannot be confused with another item's name: IDs of the two
//! known sources (a number, or a cron tick `YYYYMMDD-HHMM`) with a valid spawner name. Anything
//! else (upper case, odd characters, too long) becomes a sanitized prefix plus a hash of the
//! exact `(spawner, ID, generation)`, so two different items never collide.
//!
//! `when.items` is different: the user chose each item's key to name its Task, and other
//! Tasks refer to that name in `dependsOn`, so the name is exactly `<spawner>-<key>`, never
//! hashed; [`item_task_name`] refuses a key that does not make a valid name (at apply).

use sha2::{Digest, Sha256};

/// Kubernetes' limit for a DNS-1123 label (and so for Job names and label values).
pub const MAX_NAME_LEN: usize = 63;

/// Hex digits of the hash suffix: 40 bits, enough that a spawner's items never collide in
/// practice while leaving 52 characters of readable prefix.
const HASH_LEN: usize = 10;

/// The Task name for generation `generation` (1 for the first Task) of item `item_id`.
pub fn task_name(spawner: &str, item_id: &str, generation: u32) -> String {
    let readable = if generation <= 1 {
        format!("{spawner}-{item_id}")
    } else {
        format!("{spawner}-{item_id}-r{generation}")
    };
    if is_plain_id(item_id) && is_dns_label(spawner) && readable.len() <= MAX_NAME_LEN {
        return readable;
    }
    hashed_name(&readable, spawner, item_id, generation)
}

/// The Task a `/axon run` or `/axon retry` comment makes for an item whose Task finished (or
/// was deleted): `<spawner>-<ID>-c<comment id>`, keyed by the comment so that any number of
/// redeliveries of one comment name one Task, and two comments two Tasks. Hashed like
/// [`task_name`] when the readable form is not a valid name.
pub fn command_task_name(spawner: &str, item_id: &str, comment_id: u64) -> String {
    let readable = format!("{spawner}-{item_id}-c{comment_id}");
    if is_plain_id(item_id) && is_dns_label(spawner) && readable.len() <= MAX_NAME_LEN {
        return readable;
    }
    // Generation u32::MAX never names a poll's Task, so the two hash spaces stay apart.
    hashed_name(
        &readable,
        spawner,
        &format!("{item_id}#c{comment_id}"),
        u32::MAX,
    )
}

/// The name of the CI remediation Task a failed check makes for item `item_id`:
/// `<spawner>-<ID>-ci<check id>` (the check run's, suite's or workflow run's id), so any number
/// of redeliveries of one check's failure name one Task. Hashed like [`task_name`] when the
/// readable form is not a valid name.
pub fn check_task_name(spawner: &str, item_id: &str, check_id: u64) -> String {
    let readable = format!("{spawner}-{item_id}-ci{check_id}");
    if is_plain_id(item_id) && is_dns_label(spawner) && readable.len() <= MAX_NAME_LEN {
        return readable;
    }
    hashed_name(
        &readable,
        spawner,
        &format!("{item_id}#ci{check_id}"),
        u32::MAX,
    )
}

fn hashed_name(readable: &str, spawner: &str, item_id: &str, generation: u32) -> String {
    let mut hasher = Sha256::new();
    hasher.update(spawner.as_bytes());
    hasher.update([0]);
    hasher.update(item_id.as_bytes());
    hasher.update([0]);
    hasher.update(generation.to_le_bytes());
    let digest = hasher.finalize();
    let hash: String = digest
        .iter()
        .flat_map(|b| [b >> 4, b & 0xf])
        .take(HASH_LEN)
        .map(|n| char::from_digit(u32::from(n), 16).unwrap_or('0'))
        .collect();
    let mut prefix = sanitize(readable);
    prefix.truncate(MAX_NAME_LEN - HASH_LEN - 1);
    let prefix = prefix.trim_end_matches('-');
    if prefix.is_empty() {
        format!("t-{hash}")
    } else {
        format!("{prefix}-{hash}")
    }
}

/// Lower case, `[a-z0-9-]` only, no repeated or leading dashes.
fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().flat_map(char::to_lowercase) {
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() {
            c
        } else {
            '-'
        };
        if c == '-' && (out.is_empty() || out.ends_with('-')) {
            continue;
        }
        out.push(c);
    }
    out
}

/// The Task of `when.items` entry `key`: exactly `<spawner>-<key>`, or why that is not a valid
/// Task name (a DNS-1123 label of at most 63 characters, so that it works as a Job name and a
/// label value on Kubernetes).
pub fn item_task_name(spawner: &str, key: &str) -> Result<String, String> {
    let name = format!("{spawner}-{key}");
    if is_dns_label(&name) {
        return Ok(name);
    }
    let why = if name.len() > MAX_NAME_LEN {
        format!(
            "is {} characters, over the limit of {MAX_NAME_LEN}",
            name.len()
        )
    } else {
        "is not a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit)".to_string()
    };
    Err(format!(
        "{key:?} names Task {name:?}, which {why}: `<spawner>-<key>` must be a valid Task name (a DNS-1123 label of at most {MAX_NAME_LEN} characters)"
    ))
}

/// IDs that the readable form cannot confuse: a number, or a cron tick `YYYYMMDD-HHMM`.
fn is_plain_id(id: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if digits(id) {
        return true;
    }
    matches!(id.split_once('-'), Some((d, t)) if d.len() == 8 && t.len() == 4 && digits(d) && digits(t))
}

/// Whether `s` is a DNS-1123 label: 1..=63 of `[a-z0-9-]`, starting and ending alphanumeric.
pub fn is_dns_label(s: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = s.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(&first), Some(&last)) => {
            bytes.len() <= MAX_NAME_LEN
                && alnum(first)
                && alnum(last)
                && bytes.iter().all(|&b| alnum(b) || b == b'-')
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn readable_names_for_known_sources() {
        assert_eq!(task_name("fix-bugs", "42", 1), "fix-bugs-42");
        assert_eq!(task_name("fix-bugs", "42", 2), "fix-bugs-42-r2");
        assert_eq!(
            task_name("nightly", "20260207-0900", 1),
            "nightly-20260207-0900"
        );
    }

    #[test]
    fn odd_or_long_inputs_get_a_hash() {
        let names = [
            task_name("Fix_Bugs", "42", 1),
            task_name("fix-bugs", "Feature/X", 1),
            task_name(&"a".repeat(70), "42", 1),
            task_name(
                "spawner-with-a-rather-long-name-for-nightly-runs",
                "123456789",
                3,
            ),
            task_name("s", "", 1),
            task_name("---", "???", 1),
        ];
        insta::assert_snapshot!(names.join("\n"), @r"
        fix-bugs-42-4bc9b47074
        fix-bugs-feature-x-bb6e08e02a
        aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-c9f55e3953
        spawner-with-a-rather-long-name-for-nightly-runs-123456789-r3
        s-ff0cb10c3c
        t-a0d877f748
        ");
        for n in &names {
            assert!(is_dns_label(n), "{n}");
        }
    }

    #[test]
    fn command_attempts_are_keyed_by_the_comment() {
        assert_eq!(
            command_task_name("fix", "42", 492700400),
            "fix-42-c492700400"
        );
        let long = command_task_name(&"s".repeat(50), "42", 492700400);
        assert!(is_dns_label(&long), "{long}");
        assert_ne!(long, command_task_name(&"s".repeat(50), "42", 492700401));
        assert_ne!(long, task_name(&"s".repeat(50), "42", 2));
        assert!(is_dns_label(&command_task_name("Odd_Name", "x/y", 1)));
    }

    #[test]
    fn check_attempts_are_keyed_by_the_check() {
        assert_eq!(
            check_task_name("fix", "42", 128620228),
            "fix-42-ci128620228"
        );
        let long = check_task_name(&"s".repeat(50), "42", 1);
        assert!(is_dns_label(&long), "{long}");
        assert_ne!(long, command_task_name(&"s".repeat(50), "42", 1));
        assert_ne!(long, check_task_name(&"s".repeat(50), "42", 2));
    }

    /// Exhaustive over a grid of spawner names, IDs (numbers, ticks, look-alikes, odd text,
    /// long text) and generations: every name is a valid DNS-1123 label, and no two distinct
    /// `(spawner, id, generation)` share a name.
    #[test]
    fn names_are_valid_and_never_collide() {
        let mut spawners: Vec<String> = ["a", "a-1", "a-1-r", "fix-bugs", "fix-bugs-4", "A", "x_y"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        spawners.push("s".repeat(50));
        spawners.push("s".repeat(63));
        let mut ids: Vec<String> = (0..3000).map(|n| n.to_string()).collect();
        ids.extend(
            [
                "20260207-0900",
                "20260207-0900-r2",
                "1-2",
                "1-r2",
                "r2",
                "42-r2",
            ]
            .map(String::from),
        );
        ids.extend(["Foo", "foo", "FOO", "a b", "a-b", "a--b", "-a", "ü", ""].map(String::from));
        ids.extend((0..50).map(|n| format!("{}{n}", "9".repeat(60))));
        let mut seen: HashMap<String, (String, String, u32)> = HashMap::new();
        for s in &spawners {
            for id in &ids {
                for generation in 1..=3 {
                    let name = task_name(s, id, generation);
                    assert!(
                        is_dns_label(&name),
                        "{name:?} from {s:?} {id:?} {generation}"
                    );
                    let key = (s.clone(), id.clone(), generation);
                    if let Some(prev) = seen.insert(name.clone(), key.clone()) {
                        panic!("{name:?} for both {prev:?} and {key:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn item_names_are_exact_or_refused() {
        assert_eq!(
            item_task_name("refactor", "billing"),
            Ok("refactor-billing".into())
        );
        let errors = [
            item_task_name("refactor", "Billing").expect_err("upper case"),
            item_task_name("refactor", "a_b").expect_err("underscore"),
            item_task_name("refactor", "").expect_err("empty"),
            item_task_name("refactor", &"x".repeat(60)).expect_err("long"),
            item_task_name("re.factor", "x").expect_err("dotted spawner"),
        ];
        insta::assert_snapshot!(errors.join("\n"), @r#"
        "Billing" names Task "refactor-Billing", which is not a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit): `<spawner>-<key>` must be a valid Task name (a DNS-1123 label of at most 63 characters)
        "a_b" names Task "refactor-a_b", which is not a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit): `<spawner>-<key>` must be a valid Task name (a DNS-1123 label of at most 63 characters)
        "" names Task "refactor-", which is not a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit): `<spawner>-<key>` must be a valid Task name (a DNS-1123 label of at most 63 characters)
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" names Task "refactor-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", which is 69 characters, over the limit of 63: `<spawner>-<key>` must be a valid Task name (a DNS-1123 label of at most 63 characters)
        "x" names Task "re.factor-x", which is not a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit): `<spawner>-<key>` must be a valid Task name (a DNS-1123 label of at most 63 characters)
        "#);
    }

    #[test]
    fn names_are_stable() {
        // Names are identities across restarts and versions: pin a hashed one.
        assert_eq!(
            task_name("fix-bugs", "Feature/X", 1),
            "fix-bugs-feature-x-bb6e08e02a"
        );
    }
}
