//! A body passed through frame by frame, unchanged, while an observer sees each data frame and
//! the end.
//!
//! Why: the gateway streams three bodies it must watch without holding them — the metered model
//! answer (the meter reads each chunk; the call ends with the body), the relayed answer of a
//! proxied request (bytes down counted; the audit record written at the end) and the relayed
//! request (bytes up counted, after a prefix the gateway may already have read). They differ only
//! in what they do with a chunk and at the end, so one body type does the passing through and
//! each use brings a [`BodyObserver`].

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};

use crate::body::BoxError;

/// What a watched body reports to.
pub(crate) trait BodyObserver {
    /// Called with every data frame, as it passes.
    fn on_data(&mut self, data: &Bytes);

    /// Called when the body ended or failed (not when it is dropped: an observer that must also
    /// act then does so in its own `Drop`).
    fn on_end(&mut self) {}
}

/// `prefix` (bytes read ahead by the gateway, if any) then `inner`, each data frame shown to
/// `observer` on the way.
pub(crate) struct ObservedBody<B, O> {
    prefix: Option<Bytes>,
    inner: B,
    observer: O,
}

impl<B, O> ObservedBody<B, O> {
    /// `inner` as it is, watched by `observer`.
    pub(crate) fn new(inner: B, observer: O) -> ObservedBody<B, O> {
        ObservedBody::with_prefix(Bytes::new(), inner, observer)
    }

    /// `prefix` (may be empty) followed by `inner`, watched by `observer`.
    pub(crate) fn with_prefix(prefix: Bytes, inner: B, observer: O) -> ObservedBody<B, O> {
        ObservedBody {
            prefix: (!prefix.is_empty()).then_some(prefix),
            inner,
            observer,
        }
    }
}

impl<B, O> HttpBody for ObservedBody<B, O>
where
    B: HttpBody<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
    O: BodyObserver + Unpin,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if let Some(prefix) = this.prefix.take() {
            this.observer.on_data(&prefix);
            return Poll::Ready(Some(Ok(Frame::data(prefix))));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.observer.on_data(data);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(error))) => {
                this.observer.on_end();
                Poll::Ready(Some(Err(error.into())))
            }
            Poll::Ready(None) => {
                this.observer.on_end();
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.prefix.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let inner = self.inner.size_hint();
        let Some(prefix) = &self.prefix else {
            return inner;
        };
        let extra = prefix.len() as u64;
        let mut hint = SizeHint::new();
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper.saturating_add(extra));
        }
        hint.set_lower(inner.lower().saturating_add(extra));
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Full};

    #[derive(Default)]
    struct Seen {
        chunks: Vec<Bytes>,
        ends: usize,
    }

    impl BodyObserver for &mut Seen {
        fn on_data(&mut self, data: &Bytes) {
            self.chunks.push(data.clone());
        }

        fn on_end(&mut self) {
            self.ends += 1;
        }
    }

    #[tokio::test]
    async fn passes_prefix_then_body_and_reports_each_chunk_and_the_end() {
        let mut seen = Seen::default();
        let body = ObservedBody::with_prefix(
            Bytes::from_static(b"ab"),
            Full::new(Bytes::from_static(b"cde")),
            &mut seen,
        );
        let hint = body.size_hint();
        assert_eq!((hint.lower(), hint.upper()), (5, Some(5)));
        let bytes = body.collect().await.expect("collect").to_bytes();
        assert_eq!(&bytes[..], b"abcde");
        assert_eq!(
            seen.chunks,
            vec![Bytes::from_static(b"ab"), Bytes::from_static(b"cde")]
        );
        assert_eq!(seen.ends, 1);
    }
}
