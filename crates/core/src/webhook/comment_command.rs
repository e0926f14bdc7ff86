//! `/axon …` commands in issue and pull request comments: which command a comment gives, if
//! any. A command is a line of its own that starts with `/axon` (after at most three spaces,
//! as Markdown allows for a paragraph); text that merely shows a command is not one: lines in
//! fenced code blocks (```` ``` ```` or `~~~`), indented code blocks (four spaces or a tab) and
//! `>` quotes are skipped, so quoting someone's `/axon run` or documenting the syntax never
//! starts an agent. The first command line of a comment counts; the rest are ignored.
//!
//! Commands: `/axon run [extra prompt]` (the item's Task, or a new attempt when it finished,
//! with the rest of the line as `{{.Command.Args}}`), `/axon retry [extra prompt]` (the same,
//! named for what the user means), `/axon cancel` (stop the item's running Task).

use serde::Serialize;

/// The prefix of every command.
pub const PREFIX: &str = "/axon";

/// What a command asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Verb {
    /// `/axon run`.
    Run,
    /// `/axon retry`.
    Retry,
    /// `/axon cancel`.
    Cancel,
}

impl Verb {
    /// The word as written in a comment (`run`, `retry`, `cancel`).
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Run => "run",
            Verb::Retry => "retry",
            Verb::Cancel => "cancel",
        }
    }
}

/// What a comment says to Axon.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Parsed {
    /// No command line (or only ones inside code or quotes).
    None,
    /// A command.
    Command {
        /// Which one.
        verb: Verb,
        /// The rest of its line, trimmed (empty for `cancel`).
        args: String,
    },
    /// `/axon` followed by a word that is no command (or by nothing).
    Unknown {
        /// The word (at most 40 characters).
        word: String,
    },
}

/// The leading indentation of `line`, counting a tab as four columns.
fn indent(line: &str) -> (usize, &str) {
    let mut cols = 0;
    for (i, c) in line.char_indices() {
        match c {
            ' ' => cols += 1,
            '\t' => cols += 4 - cols % 4,
            _ => return (cols, &line[i..]),
        }
    }
    (cols, "")
}

/// A code fence opening or closing at `rest` (indentation already removed): its character
/// and length.
fn fence(rest: &str) -> Option<(char, usize)> {
    let c = rest.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let n = rest.chars().take_while(|x| *x == c).count();
    (n >= 3).then_some((c, n))
}

/// The command of a comment's body, if any.
pub fn parse(body: &str) -> Parsed {
    let mut open_fence: Option<(char, usize)> = None;
    for raw in body.lines() {
        let line = raw.trim_end_matches('\r');
        let (cols, rest) = indent(line);
        if let Some((c, n)) = open_fence {
            if cols < 4
                && let Some((c2, n2)) = fence(rest)
                && c2 == c
                && n2 >= n
                && rest.trim_start_matches(c).trim().is_empty()
            {
                open_fence = None;
            }
            continue;
        }
        if cols >= 4 {
            continue; // indented code
        }
        if let Some(f) = fence(rest) {
            open_fence = Some(f);
            continue;
        }
        if rest.starts_with('>') {
            continue; // a quote
        }
        let Some(after) = rest.strip_prefix(PREFIX) else {
            continue;
        };
        if !(after.is_empty() || after.starts_with(char::is_whitespace)) {
            continue; // `/axonfoo`, a path such as `/axon/x`
        }
        let after = after.trim();
        let (word, args) = match after.split_once(char::is_whitespace) {
            Some((w, a)) => (w, a.trim()),
            None => (after, ""),
        };
        let verb = match word.to_ascii_lowercase().as_str() {
            "run" => Verb::Run,
            "retry" => Verb::Retry,
            "cancel" => Verb::Cancel,
            _ => {
                return Parsed::Unknown {
                    word: word.chars().take(40).collect(),
                };
            }
        };
        let args = if verb == Verb::Cancel {
            String::new()
        } else {
            args.to_string()
        };
        return Parsed::Command { verb, args };
    }
    Parsed::None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(body: &str) -> String {
        match parse(body) {
            Parsed::None => "none".into(),
            Parsed::Command { verb, args } if args.is_empty() => verb.as_str().to_string(),
            Parsed::Command { verb, args } => format!("{} [{args}]", verb.as_str()),
            Parsed::Unknown { word } => format!("unknown {word:?}"),
        }
    }

    #[test]
    fn commands_and_what_is_not_one() {
        let cases = [
            ("plain run", "/axon run"),
            ("run with a prompt", "/axon run  also update the docs  "),
            ("retry with CRLF", "thanks!\r\n/axon retry\r\n"),
            ("cancel ignores its args", "/axon cancel now please"),
            ("verb in capitals", "/axon RUN"),
            ("up to three spaces", "   /axon run"),
            ("four spaces: code", "    /axon run"),
            ("a tab: code", "\t/axon run"),
            ("mid-line", "please /axon run"),
            ("quoted", "> /axon run\nI agree"),
            ("nested quote", " >> /axon run"),
            ("in a fence", "Try this:\n```\n/axon run\n```\nlater text"),
            ("after a fence", "```sh\n/axon cancel\n```\n/axon run after"),
            (
                "a longer closing fence is needed",
                "````\n```\n/axon run\n````\n",
            ),
            ("tilde fence", "~~~\n/axon run\n~~~"),
            ("unclosed fence", "```\n/axon run"),
            ("inline code", "`/axon run`"),
            ("first command counts", "/axon cancel\n/axon run"),
            ("prefix of a word", "/axonify run"),
            ("a path", "/axon/run"),
            ("unknown verb", "/axon deploy prod"),
            ("bare prefix", "/axon"),
            ("empty", ""),
        ];
        let lines: Vec<String> = cases
            .iter()
            .map(|(what, body)| format!("{what}: {}", show(body)))
            .collect();
        insta::assert_snapshot!(lines.join("\n"), @r#"
        plain run: run
        run with a prompt: run [also update the docs]
        retry with CRLF: retry
        cancel ignores its args: cancel
        verb in capitals: run
        up to three spaces: run
        four spaces: code: none
        a tab: code: none
        mid-line: none
        quoted: none
        nested quote: none
        in a fence: none
        after a fence: run [after]
        a longer closing fence is needed: none
        tilde fence: none
        unclosed fence: none
        inline code: none
        first command counts: cancel
        prefix of a word: none
        a path: none
        unknown verb: unknown "deploy"
        bare prefix: unknown ""
        empty: none
        "#);
    }
}
