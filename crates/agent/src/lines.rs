//! Splitting a byte stream into lines with bounded memory. Agents print tool output inside
//! JSON lines, so a single line can be arbitrarily long; past [`MAX_LINE`] bytes the rest of
//! the line is dropped (and counted) instead of buffered.

use std::io::{self, BufRead};

/// Longest line kept, in bytes.
pub const MAX_LINE: usize = 1024 * 1024;

/// One line as delivered: at most the limit, plus how many bytes were dropped.
#[derive(Debug, PartialEq)]
pub struct Line<'a> {
    pub bytes: &'a [u8],
    pub dropped: usize,
}

impl Line<'_> {
    /// The line as text (invalid UTF-8 replaced), without a trailing `\r`.
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        let b = self.bytes.strip_suffix(b"\r").unwrap_or(self.bytes);
        String::from_utf8_lossy(b)
    }
}

/// Incremental splitter: push chunks, get complete lines.
#[derive(Debug)]
pub struct LineSplitter {
    buf: Vec<u8>,
    dropped: usize,
    limit: usize,
}

impl Default for LineSplitter {
    fn default() -> Self {
        Self::with_limit(MAX_LINE)
    }
}

impl LineSplitter {
    /// A splitter keeping at most `limit` bytes of a line.
    pub fn with_limit(limit: usize) -> Self {
        LineSplitter {
            buf: Vec::new(),
            dropped: 0,
            limit,
        }
    }

    /// Feed a chunk; `f` is called for every line completed by it.
    pub fn push(&mut self, mut chunk: &[u8], mut f: impl FnMut(Line<'_>)) {
        while !chunk.is_empty() {
            let (part, rest, complete) = match chunk.iter().position(|b| *b == b'\n') {
                Some(i) => (&chunk[..i], &chunk[i + 1..], true),
                None => (chunk, &chunk[chunk.len()..], false),
            };
            let room = self.limit.saturating_sub(self.buf.len());
            let keep = part.len().min(room);
            self.buf.extend_from_slice(&part[..keep]);
            self.dropped += part.len() - keep;
            if complete {
                f(Line {
                    bytes: &self.buf,
                    dropped: self.dropped,
                });
                self.buf.clear();
                self.dropped = 0;
            }
            chunk = rest;
        }
    }

    /// End of input: deliver a last line without a newline, if any.
    pub fn finish(&mut self, mut f: impl FnMut(Line<'_>)) {
        if !self.buf.is_empty() || self.dropped > 0 {
            f(Line {
                bytes: &self.buf,
                dropped: self.dropped,
            });
            self.buf.clear();
            self.dropped = 0;
        }
    }
}

/// Read all lines of a blocking reader through a [`LineSplitter`].
pub fn for_each_line(
    mut input: impl BufRead,
    mut f: impl FnMut(Line<'_>) -> io::Result<()>,
) -> io::Result<()> {
    let mut splitter = LineSplitter::default();
    let mut result = Ok(());
    loop {
        let chunk = match input.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            break;
        }
        let n = chunk.len();
        splitter.push(chunk, |line| {
            if result.is_ok() {
                result = f(line);
            }
        });
        input.consume(n);
        result
            .as_ref()
            .map_err(|e| io::Error::new(e.kind(), e.to_string()))?;
    }
    splitter.finish(|line| {
        if result.is_ok() {
            result = f(line);
        }
    });
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(limit: usize, chunks: &[&[u8]]) -> Vec<(String, usize)> {
        let mut s = LineSplitter::with_limit(limit);
        let mut out = Vec::new();
        for c in chunks {
            s.push(c, |l| out.push((l.text().into_owned(), l.dropped)));
        }
        s.finish(|l| out.push((l.text().into_owned(), l.dropped)));
        out
    }

    #[test]
    fn splits_across_chunks() {
        assert_eq!(
            collect(100, &[b"ab", b"c\r\nde", b"\n\nf"]),
            vec![
                ("abc".into(), 0),
                ("de".into(), 0),
                ("".into(), 0),
                ("f".into(), 0)
            ]
        );
    }

    #[test]
    fn bounds_long_lines() {
        assert_eq!(
            collect(3, &[b"abcdef", b"gh\nxy\n"]),
            vec![("abc".into(), 5), ("xy".into(), 0)]
        );
    }

    #[test]
    fn reads_a_line_over_one_mebibyte() {
        let mut input = vec![b'x'; MAX_LINE + 10];
        input.extend_from_slice(b"\n{\"ok\":1}\n");
        let mut seen = Vec::new();
        for_each_line(&input[..], |l| {
            seen.push((l.bytes.len(), l.dropped));
            Ok(())
        })
        .expect("read");
        assert_eq!(seen, vec![(MAX_LINE, 10), (8, 0)]);
    }
}
