//! Forwarding one proxied request upstream and streaming the answer back, with its audit
//! record written when the answer ends.
//!
//! Why: the forward proxy and the intercepted GitHub requests forward the same way — request
//! body streamed up (possibly after a prefix the gateway already read, such as a push's command
//! list), answer streamed down unchanged — and each must leave one audit record with the bytes
//! each way and the duration to the last byte, also when the agent goes away mid-answer.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::BodyExt;

use crate::audit::AuditRecord;
use crate::body::{self, Body, BoxError};
use crate::gateway::Gateway;
use crate::grant::TaskRef;
use crate::headers::strip_hop_by_hop;
use crate::proxy::millis;

/// A request body: `prefix` (already read by the gateway) then the rest of `inner`, counting
/// every byte into `sent`.
pub(crate) struct UpBody<B> {
    prefix: Option<Bytes>,
    inner: B,
    sent: Arc<AtomicU64>,
}

impl<B> UpBody<B> {
    /// `prefix` (may be empty) followed by `inner`.
    pub(crate) fn new(prefix: Bytes, inner: B, sent: Arc<AtomicU64>) -> UpBody<B> {
        UpBody {
            prefix: (!prefix.is_empty()).then_some(prefix),
            inner,
            sent,
        }
    }
}

impl<B> HttpBody for UpBody<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if let Some(prefix) = this.prefix.take() {
            this.sent.fetch_add(prefix.len() as u64, Ordering::Relaxed);
            return Poll::Ready(Some(Ok(Frame::data(prefix))));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.sent.fetch_add(data.len() as u64, Ordering::Relaxed);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.prefix.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let inner = self.inner.size_hint();
        let extra = self.prefix.as_ref().map_or(0, |p| p.len() as u64);
        let mut hint = SizeHint::new();
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper.saturating_add(extra));
        }
        hint.set_lower(inner.lower().saturating_add(extra));
        hint
    }
}

/// Writes the audit record once, when the answer ended or was dropped.
pub(crate) struct RecordOnEnd {
    gateway: Arc<Gateway>,
    task: TaskRef,
    record: AuditRecord,
    started: Instant,
    sent: Arc<AtomicU64>,
    done: bool,
}

impl RecordOnEnd {
    pub(crate) fn new(
        gateway: Arc<Gateway>,
        task: TaskRef,
        record: AuditRecord,
        started: Instant,
        sent: Arc<AtomicU64>,
    ) -> RecordOnEnd {
        RecordOnEnd {
            gateway,
            task,
            record,
            started,
            sent,
            done: false,
        }
    }

    fn finish(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        self.record.bytes_up = self.sent.load(Ordering::Relaxed);
        self.record.duration_ms = millis(self.started);
        self.gateway.audit(Some(&self.task), &self.record);
    }
}

impl Drop for RecordOnEnd {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The upstream answer passed through frame by frame, counted; ends the record at its end.
struct DownBody<B> {
    inner: B,
    end: RecordOnEnd,
}

impl<B> HttpBody for DownBody<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.end.record.bytes_down += data.len() as u64;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.end.finish();
                Poll::Ready(Some(Err(e.into())))
            }
            Poll::Ready(None) => {
                this.end.finish();
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Sends `upstream` with the gateway's client and streams the answer back (hop-by-hop headers
/// dropped). A failure to reach the upstream is answered 502 with a message from which every
/// string of `secrets` is blanked. The audit record is written when the answer ends.
pub(crate) async fn send(
    gateway: Arc<Gateway>,
    task: TaskRef,
    mut record: AuditRecord,
    started: Instant,
    upstream: Request<Body>,
    sent: Arc<AtomicU64>,
    secrets: &[&str],
) -> Response<Body> {
    let response = match gateway.client().request(upstream).await {
        Ok(response) => response,
        Err(error) => {
            let mut message = format!(
                "Axon gateway: cannot reach {}: {}",
                record.host,
                error_chain(&error)
            );
            for secret in secrets.iter().filter(|s| !s.is_empty()) {
                message = message.replace(secret, "<redacted>");
            }
            // Forwarded but unanswered: allowed (the gateway's decision), status 502.
            record.status = StatusCode::BAD_GATEWAY.as_u16();
            RecordOnEnd::new(gateway, task, record, started, sent).finish();
            return body::text(StatusCode::BAD_GATEWAY, message);
        }
    };
    let (mut parts, incoming) = response.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    record.status = parts.status.as_u16();
    let end = RecordOnEnd::new(gateway, task, record, started, sent);
    Response::from_parts(
        parts,
        DownBody {
            inner: incoming,
            end,
        }
        .boxed(),
    )
}

/// An error and its causes, `: `-joined.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}
