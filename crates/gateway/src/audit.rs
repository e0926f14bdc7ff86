//! The audit trail: one record per request an agent made through the gateway.
//!
//! Why: `axon logs TASK --requests` shows what the agent reached, when, and what the gateway
//! decided — and the record must be safe to show. A record holds the host, the method, the path
//! **without its query** (Gemini puts keys there) and figures; never a header value, never a
//! query string, never a token. Sinks write records as they come ([`JsonlSink`] appends one
//! JSON line per record to `<task dir>/requests.jsonl`, so a crash loses nothing written).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::grant::TaskRef;

/// What kind of request a record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestKind {
    /// A model API call.
    Model,
    /// A GitHub (or git host) call.
    GitHub,
    /// Any other destination through the proxy.
    Egress,
}

/// What the gateway decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "lowercase")]
pub enum Decision {
    /// Forwarded upstream.
    Allowed,
    /// Refused by the gateway; nothing was forwarded.
    Denied {
        /// Why, in words the agent was also shown.
        reason: String,
    },
}

/// One request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    /// When the request arrived (RFC 3339, UTC, milliseconds).
    pub at: String,
    /// Model, GitHub or other egress.
    pub kind: RequestKind,
    /// HTTP method (`CONNECT` for a tunnel).
    pub method: String,
    /// Destination host (and port when not the default).
    pub host: String,
    /// Request path without the query string (empty for a tunnel).
    pub path: String,
    /// HTTP status answered to the agent (`0` when the agent went away before an answer).
    pub status: u16,
    /// Request body bytes sent upstream (or tunnelled up).
    pub bytes_up: u64,
    /// Response body bytes sent to the agent (or tunnelled down).
    pub bytes_down: u64,
    /// From arrival to the last byte answered.
    pub duration_ms: u64,
    /// Allowed, or denied and why.
    #[serde(flatten)]
    pub decision: Decision,
}

impl AuditRecord {
    /// A record stamped now; `path` is cut at its `?` so no query value can enter it.
    pub fn new(kind: RequestKind, method: &str, host: &str, path: &str) -> AuditRecord {
        AuditRecord {
            at: now_rfc3339(),
            kind,
            method: method.to_string(),
            host: host.to_string(),
            path: strip_query(path).to_string(),
            status: 0,
            bytes_up: 0,
            bytes_down: 0,
            duration_ms: 0,
            decision: Decision::Allowed,
        }
    }
}

/// `path` without its query string.
pub fn strip_query(path: &str) -> &str {
    path.split_once('?').map_or(path, |(p, _)| p)
}

/// Now, RFC 3339 in UTC with milliseconds.
pub fn now_rfc3339() -> String {
    format!("{:.3}", jiff::Timestamp::now())
}

/// Where records go. Writing must not fail a request: a sink logs its own errors.
pub trait AuditSink: Send + Sync + 'static {
    /// Records `record` of `task` (`None`: the request named no known Task).
    fn record(&self, task: Option<&TaskRef>, record: &AuditRecord);
}

/// Appends one JSON line per record to a file.
#[derive(Debug)]
pub struct JsonlSink {
    file: Mutex<File>,
}

impl JsonlSink {
    /// Opens `path` for appending, creating it if needed.
    pub fn open(path: &Path) -> std::io::Result<JsonlSink> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(JsonlSink {
            file: Mutex::new(file),
        })
    }
}

impl AuditSink for JsonlSink {
    fn record(&self, _task: Option<&TaskRef>, record: &AuditRecord) {
        let mut line = match serde_json::to_vec(record) {
            Ok(line) => line,
            Err(e) => {
                tracing::warn!(error = %e, "audit record not serialisable");
                return;
            }
        };
        line.push(b'\n');
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        // One write of the whole line to an O_APPEND file: lines never interleave.
        if let Err(e) = file.write_all(&line).and_then(|()| file.flush()) {
            tracing::warn!(error = %e, "cannot append the gateway's audit record");
        }
    }
}

/// Keeps records in memory (tests).
#[derive(Debug, Default)]
pub struct MemorySink {
    records: Mutex<Vec<(Option<TaskRef>, AuditRecord)>>,
}

impl MemorySink {
    /// Empty.
    pub fn new() -> MemorySink {
        MemorySink::default()
    }

    /// Every record so far, in order.
    pub fn records(&self) -> Vec<(Option<TaskRef>, AuditRecord)> {
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl AuditSink for MemorySink {
    fn record(&self, task: Option<&TaskRef>, record: &AuditRecord) {
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((task.cloned(), record.clone()));
    }
}

/// Discards records.
#[derive(Debug, Default, Clone, Copy)]
pub struct NullSink;

impl AuditSink for NullSink {
    fn record(&self, _task: Option<&TaskRef>, _record: &AuditRecord) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_drop_the_query_and_flatten_the_decision() {
        let mut r = AuditRecord::new(
            RequestKind::Model,
            "POST",
            "generativelanguage.googleapis.com",
            "/v1beta/models/g:streamGenerateContent?alt=sse&key=secret",
        );
        r.at = "2026-01-01T00:00:00.000Z".into();
        r.decision = Decision::Denied {
            reason: "budget".into(),
        };
        let line = serde_json::to_string(&r).expect("json");
        assert_eq!(
            line,
            r#"{"at":"2026-01-01T00:00:00.000Z","kind":"model","method":"POST","host":"generativelanguage.googleapis.com","path":"/v1beta/models/g:streamGenerateContent","status":0,"bytesUp":0,"bytesDown":0,"durationMs":0,"decision":"denied","reason":"budget"}"#
        );
        let back: AuditRecord = serde_json::from_str(&line).expect("parse");
        assert_eq!(back, r);
        r.decision = Decision::Allowed;
        assert!(
            serde_json::to_string(&r)
                .expect("json")
                .ends_with(r#""decision":"allowed"}"#)
        );
    }

    #[test]
    fn jsonl_appends_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("requests.jsonl");
        let sink = JsonlSink::open(&path).expect("open");
        let r = AuditRecord::new(RequestKind::Egress, "CONNECT", "example.com:443", "");
        sink.record(None, &r);
        sink.record(None, &r);
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text.lines().count(), 2);
    }
}
