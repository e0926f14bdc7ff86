//! `axon logs TASK --requests`: the requests a Task's Axon gateway served, from its audit
//! records (`axon_gateway::AuditRecord`, one JSON line each), as a table for people or as JSON
//! lines for programs.
//!
//! Why a file of its own: the backend hands over the records as bytes, as they are appended
//! (`-f` follows them); this turns complete lines into rows as they come, keeps the columns
//! aligned across a followed table (they only grow), and prints only what the record format
//! defines — every line is parsed and printed again from the typed record, so whatever else a
//! line might hold (it never holds a header, a query string or a token) is never shown. Text
//! the agent chose (host, path) is shown with its control characters replaced.

use crate::output::render_rows;
use axon_gateway::audit::strip_query;
use axon_gateway::{AuditRecord, Decision, RequestKind};
use std::io::Write;

/// The table's columns.
pub const HEADER: [&str; 9] = [
    "TIME",
    "KIND",
    "METHOD",
    "HOST",
    "PATH",
    "STATUS",
    "BYTES ↑/↓",
    "DURATION",
    "DECISION",
];

/// How the records are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestFormat {
    /// An aligned table ([`HEADER`]).
    Table,
    /// One JSON object per line (`-o json`, `--raw`).
    JsonLines,
}

/// Agent-chosen text without control characters (a terminal escape in a path prints as `�`).
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect()
}

/// The time of day of an RFC 3339 UTC stamp (`2026-05-01T12:34:56.789Z` → `12:34:56.789`);
/// anything else as it is.
fn time_of_day(at: &str) -> String {
    match at.split_once('T') {
        Some((_, time)) => time.trim_end_matches('Z').to_string(),
        None => at.to_string(),
    }
}

/// A byte count: `512B`, `1.5KiB`, `2.0MiB`.
pub fn bytes(n: u64) -> String {
    const KIB: f64 = 1024.0;
    let f = n as f64;
    if n < 1024 {
        format!("{n}B")
    } else if f < KIB * KIB {
        format!("{:.1}KiB", f / KIB)
    } else if f < KIB * KIB * KIB {
        format!("{:.1}MiB", f / (KIB * KIB))
    } else {
        format!("{:.1}GiB", f / (KIB * KIB * KIB))
    }
}

/// A duration: `12ms`, `1.5s`, `2m03s`.
pub fn duration(ms: u64) -> String {
    match ms {
        0..=999 => format!("{ms}ms"),
        1_000..=59_999 => format!("{:.1}s", ms as f64 / 1000.0),
        _ => format!("{}m{:02}s", ms / 60_000, (ms % 60_000) / 1000),
    }
}

/// One record's row, in [`HEADER`]'s order.
pub fn row(r: &AuditRecord) -> Vec<String> {
    let kind = match r.kind {
        RequestKind::Model => "model",
        RequestKind::GitHub => "github",
        RequestKind::Egress => "egress",
    };
    let path = clean(strip_query(&r.path));
    let decision = match &r.decision {
        Decision::Allowed => "allowed".to_string(),
        Decision::Denied { reason } => format!("denied: {}", clean(reason)),
    };
    vec![
        time_of_day(&r.at),
        kind.to_string(),
        clean(&r.method),
        clean(&r.host),
        if path.is_empty() {
            crate::spend::UNKNOWN.to_string()
        } else {
            path
        },
        match r.status {
            // The agent went away before an answer.
            0 => crate::spend::UNKNOWN.to_string(),
            s => s.to_string(),
        },
        format!("{}/{}", bytes(r.bytes_up), bytes(r.bytes_down)),
        duration(r.duration_ms),
        decision,
    ]
}

/// A record as the JSON line `-o json` prints: the typed record again, its path without query.
pub fn json_line(r: &AuditRecord) -> String {
    let mut r = r.clone();
    r.path = strip_query(&r.path).to_string();
    serde_json::to_string(&r).unwrap_or_default()
}

/// Where a followed table starts its columns' widths (TIME, KIND, METHOD, HOST, PATH, STATUS,
/// BYTES, DURATION): wide enough for most rows, so that rows printed after the header, as
/// they come, line up with it.
const FOLLOW_WIDTHS: [usize; 8] = [12, 6, 7, 24, 32, 6, 15, 8];

/// A table printed a few rows at a time (a followed log): the header comes with the first rows,
/// and each column is as wide as its widest cell so far, so rows stay aligned as long as no
/// later cell is wider.
#[derive(Debug, Default)]
pub struct StreamTable {
    widths: Vec<usize>,
    started: bool,
}

impl StreamTable {
    /// A table whose columns are at least `widths` wide.
    pub fn with_widths(widths: &[usize]) -> Self {
        StreamTable {
            widths: widths.to_vec(),
            started: false,
        }
    }

    /// Whether the header has been printed.
    pub fn started(&self) -> bool {
        self.started
    }

    /// The text of `rows` (after the header, the first time).
    pub fn render(&mut self, rows: &[Vec<String>]) -> String {
        let mut all: Vec<Vec<String>> = Vec::new();
        if !self.started {
            all.push(HEADER.iter().map(|h| h.to_string()).collect());
            self.started = true;
        }
        all.extend(rows.iter().cloned());
        for r in &all {
            for (i, cell) in r.iter().enumerate() {
                let w = cell.chars().count();
                match self.widths.get_mut(i) {
                    Some(have) => *have = (*have).max(w),
                    None => self.widths.push(w),
                }
            }
        }
        render_rows(&all, &self.widths)
    }
}

/// Receives the records' bytes from the backend and prints them: complete lines become rows
/// (printed at each flush, which ends a batch: the backend flushes after each read) or JSON
/// lines. Lines that are not records are counted, never printed.
pub struct RequestWriter<W: Write> {
    format: RequestFormat,
    follow: bool,
    buffer: Vec<u8>,
    pending: Vec<Vec<String>>,
    table: StreamTable,
    out: W,
    /// Records printed.
    pub shown: usize,
    /// Lines that were not a record.
    pub unreadable: usize,
}

impl<W: Write> RequestWriter<W> {
    /// A writer printing to `out`; `follow`: print the header even before the first record.
    pub fn new(format: RequestFormat, follow: bool, out: W) -> Self {
        RequestWriter {
            format,
            follow,
            buffer: Vec::new(),
            pending: Vec::new(),
            table: if follow {
                StreamTable::with_widths(&FOLLOW_WIDTHS)
            } else {
                StreamTable::default()
            },
            out,
            shown: 0,
            unreadable: 0,
        }
    }

    fn line(&mut self, line: &[u8]) -> std::io::Result<()> {
        let text = String::from_utf8_lossy(line);
        let text = text.trim();
        if text.is_empty() {
            return Ok(());
        }
        let Ok(record) = serde_json::from_str::<AuditRecord>(text) else {
            self.unreadable += 1;
            return Ok(());
        };
        self.shown += 1;
        match self.format {
            RequestFormat::JsonLines => writeln!(self.out, "{}", json_line(&record)),
            RequestFormat::Table => {
                self.pending.push(row(&record));
                Ok(())
            }
        }
    }

    /// The end: a last line without its newline, then everything pending.
    pub fn finish(&mut self) -> std::io::Result<()> {
        let rest = std::mem::take(&mut self.buffer);
        self.line(&rest)?;
        self.flush()
    }
}

impl<W: Write> Write for RequestWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        while let Some(pos) = self.buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.buffer.drain(..=pos).collect();
            self.line(&line)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let header_due = self.follow && !self.table.started();
        if self.format == RequestFormat::Table && (!self.pending.is_empty() || header_due) {
            let rows = std::mem::take(&mut self.pending);
            let text = self.table.render(&rows);
            self.out.write_all(text.as_bytes())?;
        }
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: RequestKind, method: &str, host: &str, path: &str, status: u16) -> AuditRecord {
        let mut r = AuditRecord::new(kind, method, host, path);
        r.at = "2026-05-01T12:34:56.789Z".into();
        r.status = status;
        r
    }

    fn sample() -> Vec<AuditRecord> {
        let mut model = record(
            RequestKind::Model,
            "POST",
            "api.anthropic.com",
            "/v1/messages",
            200,
        );
        (model.bytes_up, model.bytes_down, model.duration_ms) = (2_345, 18_430, 1_532);
        let mut clone = record(
            RequestKind::GitHub,
            "GET",
            "github.com",
            "/acme/app.git/info/refs",
            200,
        );
        (clone.bytes_down, clone.duration_ms) = (3 * 1024 * 1024 + 200, 75_100);
        let mut push = record(
            RequestKind::GitHub,
            "POST",
            "github.com",
            "/acme/app.git/git-receive-pack",
            403,
        );
        push.bytes_up = 312;
        push.decision = Decision::Denied {
            reason: "push to refs/heads/main refused: main is the base branch".into(),
        };
        let mut tunnel = record(RequestKind::Egress, "CONNECT", "pypi.org:443", "", 403);
        tunnel.decision = Decision::Denied {
            reason: "spec.network is restricted: pypi.org is not in spec.network.allow".into(),
        };
        let gone = record(
            RequestKind::Egress,
            "GET",
            "example.com",
            "/p\u{1b}[31m?q=1",
            0,
        );
        vec![model, clone, push, tunnel, gone]
    }

    #[test]
    fn the_request_table() {
        let rows: Vec<Vec<String>> = sample().iter().map(row).collect();
        let mut table = StreamTable::default();
        insta::assert_snapshot!(table.render(&rows));
    }

    #[test]
    fn a_followed_table_keeps_its_columns_and_prints_its_header_once() {
        let mut out = Vec::new();
        let mut w = RequestWriter::new(RequestFormat::Table, true, &mut out);
        w.flush().expect("flush");
        let lines: Vec<String> = sample().iter().map(json_line).collect();
        w.write_all(format!("{}\n{}", lines[0], &lines[1][..10]).as_bytes())
            .expect("write");
        w.flush().expect("flush");
        w.write_all(format!("{}\nnot a record\n", &lines[1][10..]).as_bytes())
            .expect("write");
        w.write_all(lines[2].as_bytes()).expect("write");
        w.finish().expect("finish");
        assert_eq!((w.shown, w.unreadable), (3, 1));
        insta::assert_snapshot!(String::from_utf8_lossy(&out));
    }

    #[test]
    fn json_lines_are_the_records_without_any_query() {
        let mut out = Vec::new();
        let mut w = RequestWriter::new(RequestFormat::JsonLines, false, &mut out);
        let mut leaky = sample()[4].clone();
        leaky.path = "/v1beta/models/g:generateContent?key=SECRET".into();
        let mut line = serde_json::to_value(&leaky).expect("json");
        line["headers"] = serde_json::json!({"x-api-key": "SECRET"});
        w.write_all(format!("{line}\n").as_bytes()).expect("write");
        w.finish().expect("finish");
        let text = String::from_utf8_lossy(&out).into_owned();
        assert!(
            !text.contains("SECRET") && !text.contains("headers"),
            "{text}"
        );
        let back: AuditRecord = serde_json::from_str(text.trim()).expect("a record");
        assert_eq!(back.path, "/v1beta/models/g:generateContent");
        assert_eq!(text.lines().count(), 1);
    }

    #[test]
    fn figures_read_quickly() {
        assert_eq!(bytes(0), "0B");
        assert_eq!(bytes(1023), "1023B");
        assert_eq!(bytes(1536), "1.5KiB");
        assert_eq!(bytes(5 * 1024 * 1024), "5.0MiB");
        assert_eq!(duration(12), "12ms");
        assert_eq!(duration(1_532), "1.5s");
        assert_eq!(duration(125_000), "2m05s");
        assert_eq!(time_of_day("2026-05-01T12:34:56.789Z"), "12:34:56.789");
        assert_eq!(time_of_day("yesterday"), "yesterday");
    }
}
