//! An incremental Server-Sent Events splitter with bounded memory.
//!
//! Why: the gateway streams a model's answer to the agent byte for byte and meters a copy. The
//! copy arrives in arbitrary chunks (split inside a line, inside a UTF-8 sequence, between `\r`
//! and `\n`), so usage can only be read after reassembling lines and events, and an upstream that
//! never ends a line must not make the gateway hold unbounded memory. This module only frames
//! events (the `data:` payload of each, per the SSE spec); the wire formats interpret them.

/// Longest line or event payload kept; anything longer is dropped (that event is skipped).
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;

/// Splits a byte stream into SSE events and hands each event's `data` to a callback.
#[derive(Debug, Default)]
pub struct SseSplitter {
    /// Bytes of the current, unfinished line.
    line: Vec<u8>,
    /// The current line grew beyond [`MAX_EVENT_BYTES`]: drop it up to its end.
    line_overflow: bool,
    /// The previous chunk ended in `\r`: a leading `\n` belongs to that line ending.
    after_cr: bool,
    /// `data` lines of the current event, joined by `\n`.
    data: Vec<u8>,
    /// The event saw at least one `data` field.
    has_data: bool,
    /// The current event is too large (or one of its lines was): skip it when dispatched.
    event_overflow: bool,
}

impl SseSplitter {
    /// Feeds the next chunk; `on_event` receives the data of every event completed by it.
    pub fn feed(&mut self, chunk: &[u8], on_event: &mut impl FnMut(&[u8])) {
        let mut rest = chunk;
        if self.after_cr {
            self.after_cr = false;
            if let Some(b'\n') = rest.first() {
                rest = &rest[1..];
            }
        }
        while !rest.is_empty() {
            match rest.iter().position(|b| *b == b'\n' || *b == b'\r') {
                Some(i) => {
                    self.push_line_bytes(&rest[..i]);
                    let cr = rest[i] == b'\r';
                    rest = &rest[i + 1..];
                    if cr {
                        match rest.first() {
                            Some(b'\n') => rest = &rest[1..],
                            Some(_) => {}
                            None => self.after_cr = true,
                        }
                    }
                    self.end_line(on_event);
                }
                None => {
                    self.push_line_bytes(rest);
                    rest = &[];
                }
            }
        }
    }

    /// Ends the stream: an event still open (no blank line after it) is dispatched, so a
    /// stream cut right after its last `data:` line is still read.
    pub fn finish(&mut self, on_event: &mut impl FnMut(&[u8])) {
        if !self.line.is_empty() || self.line_overflow {
            self.end_line(on_event);
        }
        self.dispatch(on_event);
    }

    fn push_line_bytes(&mut self, bytes: &[u8]) {
        if self.line_overflow {
            return;
        }
        if self.line.len() + bytes.len() > MAX_EVENT_BYTES {
            self.line_overflow = true;
            self.line = Vec::new();
            return;
        }
        self.line.extend_from_slice(bytes);
    }

    fn end_line(&mut self, on_event: &mut impl FnMut(&[u8])) {
        let line = std::mem::take(&mut self.line);
        if std::mem::take(&mut self.line_overflow) {
            // A line we could not hold: whatever field it was, the event is incomplete.
            self.event_overflow = true;
            return;
        }
        if line.is_empty() {
            self.dispatch(on_event);
            return;
        }
        if line[0] == b':' {
            return; // comment
        }
        let (field, value) = match line.iter().position(|b| *b == b':') {
            Some(i) => {
                let value = &line[i + 1..];
                (&line[..i], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (&line[..], &[][..]),
        };
        if field != b"data" || self.event_overflow {
            return;
        }
        let extra = usize::from(self.has_data) + value.len();
        if self.data.len() + extra > MAX_EVENT_BYTES {
            self.event_overflow = true;
            self.data = Vec::new();
            return;
        }
        if self.has_data {
            self.data.push(b'\n');
        }
        self.data.extend_from_slice(value);
        self.has_data = true;
    }

    fn dispatch(&mut self, on_event: &mut impl FnMut(&[u8])) {
        let data = std::mem::take(&mut self.data);
        let has_data = std::mem::take(&mut self.has_data);
        let overflow = std::mem::take(&mut self.event_overflow);
        if has_data && !overflow {
            on_event(&data);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(chunks: &[&[u8]]) -> Vec<String> {
        let mut s = SseSplitter::default();
        let mut out = Vec::new();
        let mut push = |d: &[u8]| out.push(String::from_utf8_lossy(d).into_owned());
        for c in chunks {
            s.feed(c, &mut push);
        }
        s.finish(&mut push);
        out
    }

    #[test]
    fn lf_crlf_and_cr_line_endings_frame_the_same_events() {
        let lf = b"event: a\ndata: {\"x\":1}\n\n: comment\ndata: two\ndata: lines\n\n";
        let crlf =
            b"event: a\r\ndata: {\"x\":1}\r\n\r\n: comment\r\ndata: two\r\ndata: lines\r\n\r\n";
        let cr = b"event: a\rdata: {\"x\":1}\r\r: comment\rdata: two\rdata: lines\r\r";
        let want = vec!["{\"x\":1}".to_string(), "two\nlines".to_string()];
        assert_eq!(events(&[lf]), want);
        assert_eq!(events(&[crlf]), want);
        assert_eq!(events(&[cr]), want);
    }

    #[test]
    fn crlf_split_between_cr_and_lf_is_one_line_ending() {
        assert_eq!(
            events(&[b"data: a\r", b"\n\r", b"\ndata: b\r\n\r\n"]),
            vec!["a", "b"]
        );
    }

    #[test]
    fn no_space_after_colon_and_unterminated_last_event() {
        assert_eq!(events(&[b"data:x\n\ndata: [DONE]"]), vec!["x", "[DONE]"]);
    }

    #[test]
    fn events_without_data_are_not_dispatched() {
        assert_eq!(
            events(&[b"event: ping\n\nretry: 5\n\n"]),
            Vec::<String>::new()
        );
    }

    #[test]
    fn an_oversized_line_skips_its_event_and_keeps_memory_bounded() {
        let mut s = SseSplitter::default();
        let mut out = Vec::new();
        let mut push = |d: &[u8]| out.push(d.len());
        s.feed(b"data: ", &mut push);
        let block = vec![b'a'; 64 * 1024];
        for _ in 0..40 {
            s.feed(&block, &mut push);
            assert!(s.line.capacity() <= 2 * MAX_EVENT_BYTES);
        }
        s.feed(b"\n\ndata: ok\n\n", &mut push);
        s.finish(&mut push);
        assert_eq!(out, vec![2]);
    }

    #[test]
    fn an_oversized_event_of_many_lines_is_skipped() {
        let mut s = SseSplitter::default();
        let mut out = Vec::new();
        let mut push = |d: &[u8]| out.push(d.len());
        let line = format!("data: {}\n", "b".repeat(1000));
        for _ in 0..2000 {
            s.feed(line.as_bytes(), &mut push);
        }
        assert!(s.data.len() <= MAX_EVENT_BYTES);
        s.feed(b"\ndata: ok\n\n", &mut push);
        assert_eq!(out, vec![2]);
    }
}
