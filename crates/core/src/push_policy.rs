//! The push policy of the gateway: which ref updates a Task's `git push` may make.
//!
//! Why it exists: the agent pushes with the Workspace's real token (swapped in by the
//! gateway), and that token can usually write every branch. The gateway therefore reads the
//! command list at the start of each `git-receive-pack` request — before anything is
//! forwarded — and refuses the whole push when it updates, creates or deletes the Workspace's
//! base branch or a branch matching `spec.policy.protectedBranches`.
//!
//! * The command list is pkt-lines: `<old> <new> <ref>\0<capabilities>`, then `<old> <new>
//!   <ref>` lines, then a flush `0000`; `shallow <oid>` lines may come first; push options
//!   and the pack follow the flush and are never read here. Parsing is bounded
//!   ([`MAX_COMMAND_BYTES`], [`MAX_COMMANDS`]); anything else (garbage, a signed push, a
//!   truncated list) is refused, never guessed at. A flush alone (no command) is git's probe
//!   of the credentials before a large push; it updates nothing and is let through.
//! * Globs: `*` matches within one `/`-separated segment, `**` across segments; a pattern
//!   names a branch (`release/*`) or a full ref (`refs/heads/release/*`).
//! * Tags and other refs are not restricted: the policy protects branches. (A tag can be
//!   overwritten only with `--force`, which the real server's own rules may refuse.)
//! * The refusal is answered the way git reports a rejected ref ([`refusal_response`]), so
//!   `git push` prints `! [remote rejected] main -> main (<reason>)`.

/// At most this many bytes of command list are buffered before the push is refused.
pub const MAX_COMMAND_BYTES: usize = 1 << 20;
/// At most this many ref updates in one push.
pub const MAX_COMMANDS: usize = 10_000;

/// One ref update of a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefUpdate {
    /// Old object name (all zeros: the ref is created).
    pub old: String,
    /// New object name (all zeros: the ref is deleted).
    pub new: String,
    /// Full ref name, e.g. `refs/heads/main`.
    pub refname: String,
}

impl RefUpdate {
    /// Whether the update deletes the ref.
    pub fn is_delete(&self) -> bool {
        self.new.bytes().all(|b| b == b'0')
    }
}

/// The command section of a receive-pack request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushCommands {
    /// The updates, in request order.
    pub updates: Vec<RefUpdate>,
    /// Capabilities the client asked for (after the NUL of the first line).
    pub capabilities: Vec<String>,
    /// Length in bytes of the command section including its flush.
    pub len: usize,
}

impl PushCommands {
    /// Whether the client asked for `cap`.
    pub fn has_capability(&self, cap: &str) -> bool {
        self.capabilities.iter().any(|c| c == cap)
    }
}

/// Outcome of reading a prefix of a receive-pack body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// The whole command section was read.
    Complete(PushCommands),
    /// More bytes are needed (and allowed: below the bounds).
    NeedMore,
}

/// Why a push request cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushParseError {
    /// Not pkt-line framing.
    #[error("the push request is not a git pkt-line command list ({0})")]
    Malformed(String),
    /// A line that is not `<old> <new> <ref>`.
    #[error("the push request has a command that is not `<old> <new> <ref>`: {0:?}")]
    BadCommand(String),
    /// A signed push (`git push --signed`).
    #[error(
        "signed pushes (`git push --signed`) are not supported through the Axon gateway: push without --signed"
    )]
    Signed,
    /// Over the bounds.
    #[error("the push request's command list is too large (over {0}): push fewer refs at once")]
    TooLarge(String),
    /// The body ended before the flush.
    #[error("the push request ended before its command list was complete")]
    Truncated,
}

/// Reads the command section from the start of a receive-pack body `buf` (which may be a
/// prefix of it). `complete_body`: `buf` is the whole body, so a missing flush is an error.
pub fn parse_commands(buf: &[u8], complete_body: bool) -> Result<Parsed, PushParseError> {
    let mut pos = 0;
    let mut updates = Vec::new();
    let mut capabilities = Vec::new();
    loop {
        if pos > MAX_COMMAND_BYTES {
            return Err(PushParseError::TooLarge(format!(
                "{MAX_COMMAND_BYTES} bytes"
            )));
        }
        let Some(header) = buf.get(pos..pos + 4) else {
            return need_more(buf, complete_body);
        };
        let len = pkt_len(header)?;
        if len == 0 {
            pos += 4;
            return Ok(Parsed::Complete(PushCommands {
                updates,
                capabilities,
                len: pos,
            }));
        }
        if len < 4 {
            return Err(PushParseError::Malformed(format!(
                "special packet {len:04x} in the command list"
            )));
        }
        let Some(payload) = buf.get(pos + 4..pos + len) else {
            return need_more(buf, complete_body);
        };
        pos += len;
        let payload = payload.strip_suffix(b"\n").unwrap_or(payload);
        let (line, caps) = match payload.iter().position(|&b| b == 0) {
            Some(nul) => (&payload[..nul], Some(&payload[nul + 1..])),
            None => (payload, None),
        };
        let line = std::str::from_utf8(line)
            .map_err(|_| PushParseError::BadCommand(String::from_utf8_lossy(line).into()))?;
        if updates.is_empty() && line.starts_with("push-cert") {
            return Err(PushParseError::Signed);
        }
        if updates.is_empty()
            && caps.is_none()
            && let Some(oid) = line.strip_prefix("shallow ")
            && is_oid(oid)
        {
            continue;
        }
        if let Some(caps) = caps {
            if !updates.is_empty() {
                return Err(PushParseError::Malformed(
                    "capabilities after the first command".into(),
                ));
            }
            capabilities = String::from_utf8_lossy(caps)
                .split(' ')
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect();
        }
        updates.push(parse_update(line)?);
        if updates.len() > MAX_COMMANDS {
            return Err(PushParseError::TooLarge(format!(
                "{MAX_COMMANDS} ref updates"
            )));
        }
    }
}

fn need_more(buf: &[u8], complete_body: bool) -> Result<Parsed, PushParseError> {
    if complete_body {
        Err(PushParseError::Truncated)
    } else if buf.len() > MAX_COMMAND_BYTES {
        Err(PushParseError::TooLarge(format!(
            "{MAX_COMMAND_BYTES} bytes"
        )))
    } else {
        Ok(Parsed::NeedMore)
    }
}

fn pkt_len(header: &[u8]) -> Result<usize, PushParseError> {
    let text = std::str::from_utf8(header)
        .ok()
        .filter(|t| t.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| {
            PushParseError::Malformed(format!(
                "{:?} is not a pkt-line length",
                String::from_utf8_lossy(header)
            ))
        })?;
    usize::from_str_radix(text, 16).map_err(|_| PushParseError::Malformed(text.into()))
}

fn parse_update(line: &str) -> Result<RefUpdate, PushParseError> {
    let bad = || PushParseError::BadCommand(line.chars().take(200).collect());
    let mut parts = line.splitn(3, ' ');
    let (old, new, refname) = (
        parts.next().ok_or_else(bad)?,
        parts.next().ok_or_else(bad)?,
        parts.next().ok_or_else(bad)?,
    );
    if !is_oid(old)
        || !is_oid(new)
        || old.len() != new.len()
        || !refname.starts_with("refs/")
        || refname
            .bytes()
            .any(|b| b <= b' ' || b == 0x7f || b == b'\\')
    {
        return Err(bad());
    }
    Ok(RefUpdate {
        old: old.into(),
        new: new.into(),
        refname: refname.into(),
    })
}

/// A SHA-1 or SHA-256 object name in lower-case hex.
fn is_oid(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// What a Task may not push to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PushRules {
    /// The Workspace's base branch (`main`), when known.
    pub base_branch: Option<String>,
    /// `spec.policy.protectedBranches` globs.
    pub protected: Vec<String>,
}

/// Why a ref update is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// It is the Workspace's base branch.
    BaseBranch,
    /// It matches this protected-branch pattern.
    Protected(String),
}

/// The decision on a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushDecision {
    /// Forward it.
    Allowed,
    /// Refuse the whole push because of this update.
    Refused {
        /// The full ref name.
        refname: String,
        /// The branch name (without `refs/heads/`).
        branch: String,
        /// The rule it breaks.
        rule: Rule,
    },
}

impl PushDecision {
    /// A message for the agent (and the audit record) naming the branch and the rule.
    pub fn message(&self) -> Option<String> {
        match self {
            PushDecision::Allowed => None,
            PushDecision::Refused { branch, rule, .. } => Some(match rule {
                Rule::BaseBranch => format!(
                    "Axon gateway: pushing to branch `{branch}` is refused: it is the Workspace's \
                     base branch; push to a new branch and open a pull request"
                ),
                Rule::Protected(pattern) => format!(
                    "Axon gateway: pushing to branch `{branch}` is refused: it matches the \
                     protected branch pattern `{pattern}` (spec.policy.protectedBranches); push \
                     to another branch"
                ),
            }),
        }
    }
}

/// Decides a push: the first update of the base branch or of a protected branch refuses it.
pub fn decide(commands: &PushCommands, rules: &PushRules) -> PushDecision {
    for update in &commands.updates {
        let Some(branch) = update.refname.strip_prefix("refs/heads/") else {
            continue;
        };
        let refused = |rule| PushDecision::Refused {
            refname: update.refname.clone(),
            branch: branch.to_string(),
            rule,
        };
        if rules.base_branch.as_deref() == Some(branch) {
            return refused(Rule::BaseBranch);
        }
        for pattern in &rules.protected {
            let hit = match pattern.strip_prefix("refs/heads/") {
                Some(p) => glob_match(p, branch),
                None if pattern.starts_with("refs/") => glob_match(pattern, &update.refname),
                None => glob_match(pattern, branch),
            };
            if hit {
                return refused(Rule::Protected(pattern.clone()));
            }
        }
    }
    PushDecision::Allowed
}

/// Matches `name` against `pattern`: `*` matches any run of characters except `/`, `**` any
/// run including `/` (a `**/` also matches nothing, so `a/**/b` matches `a/b`).
pub fn glob_match(pattern: &str, name: &str) -> bool {
    glob(pattern.as_bytes(), name.as_bytes())
}

fn glob(p: &[u8], n: &[u8]) -> bool {
    match p {
        [] => n.is_empty(),
        [b'*', b'*', b'/', rest @ ..] => {
            // `**/` matches zero or more whole segments.
            glob(rest, n) || (0..n.len()).any(|i| n[i] == b'/' && glob(rest, &n[i + 1..]))
        }
        [b'*', b'*', rest @ ..] => (0..=n.len()).any(|i| glob(rest, &n[i..])),
        [b'*', rest @ ..] => {
            let mut i = 0;
            loop {
                if glob(rest, &n[i..]) {
                    return true;
                }
                if i == n.len() || n[i] == b'/' {
                    return false;
                }
                i += 1;
            }
        }
        [c, rest @ ..] => n.first() == Some(c) && glob(rest, &n[1..]),
    }
}

/// The body of a `200 application/x-git-receive-pack-result` answer that refuses every update
/// of `commands` with `message` (as `ng <ref> <reason>` report-status lines, inside side band
/// 1 when the client asked for `side-band-64k`, and `message` on side band 2 so git prints it
/// as `remote: …`). `None` when the client did not ask for `report-status`: answer `403`
/// with the message as text then.
pub fn refusal_response(commands: &PushCommands, message: &str) -> Option<Vec<u8>> {
    if !commands.has_capability("report-status") && !commands.has_capability("report-status-v2") {
        return None;
    }
    let reason: String = message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut status = Vec::new();
    pkt_line(&mut status, b"unpack ok\n");
    for update in &commands.updates {
        pkt_line(
            &mut status,
            format!("ng {} {reason}\n", update.refname).as_bytes(),
        );
    }
    status.extend_from_slice(b"0000");
    let side_band =
        commands.has_capability("side-band-64k") || commands.has_capability("side-band");
    if !side_band {
        return Some(status);
    }
    let max_payload = if commands.has_capability("side-band-64k") {
        65515
    } else {
        995
    };
    let mut out = Vec::new();
    let progress = format!("{reason}\n");
    for chunk in progress.as_bytes().chunks(max_payload) {
        let mut band = vec![2u8];
        band.extend_from_slice(chunk);
        pkt_line(&mut out, &band);
    }
    for chunk in status.chunks(max_payload) {
        let mut band = vec![1u8];
        band.extend_from_slice(chunk);
        pkt_line(&mut out, &band);
    }
    out.extend_from_slice(b"0000");
    Some(out)
}

fn pkt_line(out: &mut Vec<u8>, payload: &[u8]) {
    out.extend_from_slice(format!("{:04x}", payload.len() + 4).as_bytes());
    out.extend_from_slice(payload);
}

#[cfg(test)]
mod tests {
    use super::*;

    const Z: &str = "0000000000000000000000000000000000000000";
    const A: &str = "1111111111111111111111111111111111111111";
    const B: &str = "2222222222222222222222222222222222222222";

    fn pkt(payload: &str) -> String {
        format!("{:04x}{payload}", payload.len() + 4)
    }

    fn body(lines: &[String]) -> Vec<u8> {
        let mut s = String::new();
        for l in lines {
            s.push_str(&pkt(l));
        }
        s.push_str("0000PACK....");
        s.into_bytes()
    }

    fn complete(buf: &[u8]) -> PushCommands {
        match parse_commands(buf, false) {
            Ok(Parsed::Complete(c)) => c,
            other => panic!("expected a complete command list, got {other:?}"),
        }
    }

    #[test]
    fn parses_commands_capabilities_and_stops_before_the_pack() {
        let buf = body(&[
            format!("{Z} {A} refs/heads/feature\0report-status side-band-64k agent=git/2.47\n"),
            format!("{A} {Z} refs/heads/old\n"),
            format!("{A} {B} refs/tags/v1"),
        ]);
        let c = complete(&buf);
        assert_eq!(c.updates.len(), 3);
        assert_eq!(c.updates[0].refname, "refs/heads/feature");
        assert!(c.updates[1].is_delete());
        assert_eq!(c.updates[2].refname, "refs/tags/v1");
        assert!(c.has_capability("side-band-64k"));
        assert!(c.has_capability("agent=git/2.47"));
        assert_eq!(&buf[c.len..], b"PACK....");
    }

    #[test]
    fn a_flush_alone_is_the_auth_probe_and_updates_nothing() {
        let c = complete(b"0000");
        assert!(c.updates.is_empty());
        assert_eq!(
            decide(
                &c,
                &PushRules {
                    base_branch: Some("main".into()),
                    protected: vec!["**".into()]
                }
            ),
            PushDecision::Allowed
        );
    }

    #[test]
    fn shallow_lines_are_skipped() {
        let buf = body(&[
            format!("shallow {B}\n"),
            format!("{A} {B} refs/heads/x\0report-status"),
        ]);
        assert_eq!(complete(&buf).updates[0].refname, "refs/heads/x");
    }

    #[test]
    fn every_prefix_needs_more_and_the_whole_is_complete() {
        let buf = body(&[format!("{A} {B} refs/heads/x\0report-status\n")]);
        let c = complete(&buf);
        for cut in 0..c.len {
            assert_eq!(
                parse_commands(&buf[..cut], false),
                Ok(Parsed::NeedMore),
                "{cut}"
            );
            assert_eq!(
                parse_commands(&buf[..cut], true),
                Err(PushParseError::Truncated),
                "{cut}"
            );
        }
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        let big = format!("{A} {B} refs/heads/{}", "x".repeat(65000));
        let mut huge = Vec::new();
        for _ in 0..20 {
            huge.extend_from_slice(pkt(&big).as_bytes());
        }
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("not hex", b"zzzzhello".to_vec()),
            ("delimiter", b"0001".to_vec()),
            ("short oid", body(&[format!("abc {B} refs/heads/x")])),
            (
                "upper-case oid",
                body(&[format!("{} {B} refs/heads/x", A.replace('1', "A"))]),
            ),
            (
                "mixed oid lengths",
                body(&[format!("{A} {B}{B} refs/heads/x")]),
            ),
            ("not a ref", body(&[format!("{A} {B} main")])),
            ("space in ref", body(&[format!("{A} {B} refs/heads/a b")])),
            ("two fields", body(&[format!("{A} {B}")])),
            (
                "late capabilities",
                body(&[
                    format!("{A} {B} refs/heads/x"),
                    format!("{A} {B} refs/heads/y\0ofs"),
                ]),
            ),
            (
                "signed push",
                body(&["push-cert\0report-status".to_string()]),
            ),
            ("not utf-8", b"0009\xff\xfe\xfd\xfc\xfb0000".to_vec()),
            ("too large", huge),
        ];
        let out: Vec<String> = cases
            .into_iter()
            .map(|(name, buf)| match parse_commands(&buf, false) {
                Ok(p) => format!("{name}: {p:?}"),
                Err(e) => format!("{name}: {e}"),
            })
            .map(|l| l.chars().take(240).collect())
            .collect();
        insta::assert_snapshot!(out.join("\n"));
    }

    #[test]
    fn globs() {
        let cases = [
            ("main", "main", true),
            ("release/*", "release/1.0", true),
            ("release/*", "release/1.0/hotfix", false),
            ("release/**", "release/1.0/hotfix", true),
            ("release/**", "release/", true),
            ("**", "anything/at/all", true),
            ("*", "a/b", false),
            ("*-stable", "v1-stable", true),
            ("*-stable", "team/v1-stable", false),
            ("**/stable", "stable", true),
            ("**/stable", "a/b/stable", true),
            ("**/stable", "a/bstable", false),
            ("a/**/b", "a/b", true),
            ("a/**/b", "a/x/y/b", true),
            ("prod", "production", false),
            ("p*d*", "prod", true),
        ];
        for (pattern, name, want) in cases {
            assert_eq!(glob_match(pattern, name), want, "{pattern} vs {name}");
        }
    }

    #[test]
    fn decisions_name_branch_and_rule() {
        let rules = PushRules {
            base_branch: Some("main".into()),
            protected: vec![
                "release/*".into(),
                "refs/heads/prod".into(),
                "refs/tags/locked".into(),
            ],
        };
        let cases = [
            format!("{A} {B} refs/heads/axon/fix-1"),
            format!("{A} {B} refs/heads/main"),
            format!("{A} {Z} refs/heads/main"),
            format!("{Z} {B} refs/heads/release/2.0"),
            format!("{A} {B} refs/heads/release/2.0/rc"),
            format!("{A} {B} refs/heads/prod"),
            format!("{A} {B} refs/tags/v1"),
            format!("{A} {B} refs/tags/locked"),
            format!("{A} {B} refs/heads/mainline"),
        ];
        let out: Vec<String> = cases
            .iter()
            .map(|cmd| {
                let c = complete(&body(&[format!("{cmd}\0report-status")]));
                let d = decide(&c, &rules);
                format!(
                    "{cmd:>55} -> {}",
                    d.message().unwrap_or_else(|| "allowed".into())
                )
            })
            .map(|l| l.replace(A, "A").replace(B, "B").replace(Z, "0"))
            .collect();
        insta::assert_snapshot!(out.join("\n"));
        // No base branch known: only the patterns apply.
        let c = complete(&body(&[format!("{A} {B} refs/heads/main\0report-status")]));
        assert_eq!(decide(&c, &PushRules::default()), PushDecision::Allowed);
    }

    #[test]
    fn refusals_speak_report_status() {
        let msg = "Axon gateway: pushing to branch `main` is refused";
        let plain = complete(&body(&[
            format!("{A} {B} refs/heads/main\0report-status"),
            format!("{A} {B} refs/heads/ok"),
        ]));
        let out = refusal_response(&plain, msg).expect("report-status");
        insta::assert_snapshot!(String::from_utf8_lossy(&out), @r"
        000eunpack ok
        0049ng refs/heads/main Axon gateway: pushing to branch `main` is refused
        0047ng refs/heads/ok Axon gateway: pushing to branch `main` is refused
        0000
        ");
        let banded = complete(&body(&[format!(
            "{A} {B} refs/heads/main\0report-status side-band-64k"
        )]));
        let out = refusal_response(&banded, msg).expect("report-status");
        insta::assert_snapshot!(String::from_utf8_lossy(&out).replace(['\u{1}', '\u{2}'], "|"), @r"
        0037|Axon gateway: pushing to branch `main` is refused
        0060|000eunpack ok
        0049ng refs/heads/main Axon gateway: pushing to branch `main` is refused
        00000000
        ");
        let none = complete(&body(&[format!("{A} {B} refs/heads/main\0ofs-delta")]));
        assert_eq!(refusal_response(&none, msg), None);
    }
}
