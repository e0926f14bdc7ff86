//! A GitHub token that cannot leak by accident: its `Debug` and `Display` print a placeholder,
//! so it never shows up in logs, errors or status.

use std::fmt;

/// A bearer token.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Wraps a token; surrounding whitespace (a trailing newline from a Secret file) is
    /// dropped. An empty token is `None`.
    pub fn new(value: impl Into<String>) -> Option<Token> {
        let value = value.into();
        let trimmed = value.trim();
        if trimmed.is_empty() {
            None
        } else {
            Some(Token(trimmed.to_string()))
        }
    }

    /// The secret itself, for the `Authorization` header only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_printed() {
        let t = Token::new("ghp_supersecret\n").expect("non-empty");
        assert!(!format!("{t:?} {t}").contains("supersecret"));
        assert_eq!(t.expose(), "ghp_supersecret");
        assert!(Token::new("  ").is_none());
    }
}
