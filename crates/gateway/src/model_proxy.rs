//! Model calls: the agent's gateway token → its Task's grant, the budget check, the swap of
//! the token for the real credential, and the streamed forwarding with metering.
//!
//! Why: this is where "the agent holds no secret" and "usage cannot be forged" are made true.
//! The agent sends its gateway token where the real key would go (`x-api-key`,
//! `Authorization: Bearer`, `x-goog-api-key`, or the `key` query parameter); the gateway puts
//! the real credential in the same place, forwards to `<upstream base><path>?<query>`, and
//! streams the answer back chunk by chunk, unchanged, while a [`ResponseMeter`] reads a copy of
//! each chunk. When the answer ends (or the agent goes away), the call's tokens are added to the
//! Task's totals, a `Usage` event is sent and the audit record is written.
//!
//! What changes on the way up: hop-by-hop headers are dropped, the token is replaced, and a
//! metered call asks for an uncompressed answer (`Accept-Encoding: identity`) so the meter can
//! read it. Nothing changes on the way down except hop-by-hop headers.
//!
//! Counting: every forwarded call the meter recognises counts as a request; a generation call
//! answered with a success status counts as a turn. A refused call counts as nothing.

use std::sync::Arc;
use std::time::Instant;

use axon_core::budget;
use axon_core::usage::{ResponseMeter, classify, request_model};
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;

use crate::api_error::api_error;
use crate::audit::{AuditRecord, Decision, RequestKind};
use crate::body::{self, Body};
use crate::events::GatewayEvent;
use crate::gateway::Gateway;
use crate::grant::{Secret, TaskGrant};
use crate::headers::strip_hop_by_hop;
use crate::metering::CallKind;
use crate::observed_body::{BodyObserver, ObservedBody};
use crate::proxy::millis;
use crate::relay::error_chain;
use crate::state::TaskState;

/// What the agent is told when its token resolves to no running Task.
pub const UNKNOWN_TOKEN: &str = "unknown or expired Axon gateway token: this request carried no gateway token of a running Axon Task (in x-api-key, Authorization: Bearer, x-goog-api-key or the key query parameter)";

/// Where a request carried its credential.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Place {
    /// `x-api-key: T` (Anthropic).
    XApiKey,
    /// `Authorization: <scheme> T`, scheme spelled as sent (OpenAI, OAuth).
    Authorization(String),
    /// `x-goog-api-key: T` (Gemini).
    GoogApiKey,
    /// `?key=T` (Gemini).
    QueryKey,
}

const X_API_KEY: &str = "x-api-key";
const X_GOOG_API_KEY: &str = "x-goog-api-key";

/// Every place of the request that carries something that may be a token, with its value.
fn candidates(headers: &HeaderMap, query: Option<&str>) -> Vec<(Place, String)> {
    let mut out = Vec::new();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    if let Some(v) = header(X_API_KEY) {
        out.push((Place::XApiKey, v.to_string()));
    }
    if let Some(v) = header(header::AUTHORIZATION.as_str())
        && let Some((scheme, value)) = v.split_once(' ')
        && scheme.eq_ignore_ascii_case("bearer")
    {
        out.push((
            Place::Authorization(scheme.to_string()),
            value.trim().to_string(),
        ));
    }
    if let Some(v) = header(X_GOOG_API_KEY) {
        out.push((Place::GoogApiKey, v.to_string()));
    }
    if let Some(query) = query {
        for pair in query.split('&') {
            if let Some(("key", value)) = pair.split_once('=')
                && !value.is_empty()
            {
                out.push((Place::QueryKey, value.to_string()));
            }
        }
    }
    out
}

/// `query` with every `key=<token>` replaced by `key=<credential>`.
fn swap_query(query: &str, token: &str, credential: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some(("key", value)) if value == token => format!("key={}", percent_encode(credential)),
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The grant of the request's token: the first candidate that is a running Task's token.
pub(crate) async fn resolve(
    gateway: &Gateway,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Option<Arc<TaskGrant>> {
    for (_, value) in candidates(headers, query) {
        if let Some(found) = gateway.grants().lookup(&value).await {
            return Some(found);
        }
    }
    None
}

/// Serves one model call.
pub async fn handle(gateway: Arc<Gateway>, req: Request<Incoming>) -> Response<Body> {
    let started = Instant::now();
    let (parts, incoming) = req.into_parts();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().map(str::to_string);
    let call = classify(parts.method.as_str(), &path);
    let format = call.map(|(f, _)| f);
    let mut record = AuditRecord::new(RequestKind::Model, parts.method.as_str(), "", &path);
    let deny = |mut record: AuditRecord,
                grant: Option<&TaskGrant>,
                status: StatusCode,
                message: &str,
                response: Response<Body>| {
        record.status = status.as_u16();
        record.duration_ms = millis(started);
        record.decision = Decision::Denied {
            reason: message.to_string(),
        };
        gateway.audit(grant.map(|g| &g.task), &record);
        response
    };
    // A refusal answered as the model API's own error.
    let refuse =
        |record: AuditRecord, grant: Option<&TaskGrant>, status: StatusCode, message: &str| {
            deny(
                record,
                grant,
                status,
                message,
                api_error(format, status, message),
            )
        };

    let Some(grant) = resolve(&gateway, &parts.headers, query.as_deref()).await else {
        return refuse(record, None, StatusCode::UNAUTHORIZED, UNKNOWN_TOKEN);
    };
    let Some(route) = grant.model.clone() else {
        let message = format!(
            "Axon gateway: Task {} has no model credential, so model calls are refused",
            grant.task
        );
        return refuse(record, Some(&grant), StatusCode::FORBIDDEN, &message);
    };
    let target = format!(
        "{}{}{}",
        route.upstream.trim_end_matches('/'),
        path,
        match &query {
            Some(q) => format!(
                "?{}",
                swap_query(q, grant.token.expose(), route.credential.expose())
            ),
            None => String::new(),
        }
    );
    let target: Uri = match target.parse() {
        Ok(uri) => uri,
        Err(_) => {
            let message = format!(
                "Axon gateway: the model upstream of Task {} is not a valid URL",
                grant.task
            );
            return refuse(record, Some(&grant), StatusCode::BAD_GATEWAY, &message);
        }
    };
    record.host = target
        .authority()
        .map(|a| a.as_str().to_string())
        .unwrap_or_default();

    // The request body, whole: the model it names is needed for metering.
    let max = gateway.max_model_body();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = format!("Axon gateway: request body larger than {max} bytes");
    if declared.is_some_and(|n| n > max as u64) {
        return refuse(
            record,
            Some(&grant),
            StatusCode::PAYLOAD_TOO_LARGE,
            &too_large,
        );
    }
    let body = match Limited::new(incoming, max).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            return refuse(
                record,
                Some(&grant),
                StatusCode::PAYLOAD_TOO_LARGE,
                &too_large,
            );
        }
        Err(_) => {
            let message = "Axon gateway: the request body could not be read";
            return refuse(record, Some(&grant), StatusCode::BAD_REQUEST, message);
        }
    };
    record.bytes_up = body.len() as u64;

    // The budget, before a generation call is forwarded.
    let state = gateway.task(&grant.task);
    let reserved = match call {
        Some((format, CallKind::Generation)) => match state.reserve_turn(&grant.budget) {
            Ok(()) => true,
            Err(exceeded) => {
                let message = exceeded.to_string();
                state.record_refusal(&message);
                let (status, content_type, text) = budget::refusal(format, &message);
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
                gateway.emit(GatewayEvent::BudgetExceeded {
                    task: grant.task.clone(),
                    limit: exceeded.limit.to_string(),
                    figure: exceeded.figure.clone(),
                    message: message.clone(),
                });
                let response = body::respond(status, content_type, text);
                return deny(record, Some(&grant), status, &message, response);
            }
        },
        _ => false,
    };

    let mut headers = parts.headers;
    strip_hop_by_hop(&mut headers);
    for name in [header::HOST, header::CONTENT_LENGTH, header::EXPECT] {
        headers.remove(name);
    }
    if call.is_some() {
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
    }
    if let Err(message) = swap_headers(&mut headers, grant.token.expose(), &route.credential) {
        if reserved {
            state.release_turn();
        }
        return refuse(record, Some(&grant), StatusCode::BAD_GATEWAY, &message);
    }
    let model = call.and_then(|(f, _)| request_model(f, &path, &body));
    let mut upstream = Request::new(body::full(body));
    *upstream.method_mut() = parts.method;
    *upstream.uri_mut() = target;
    *upstream.headers_mut() = headers;

    // From here the call ends (recorded, its turn released) however it ends: answered,
    // failed, or dropped because the agent went away while the upstream was still silent.
    let client = gateway.client().clone();
    let mut end = CallEnd {
        gateway,
        state,
        grant,
        meter: None,
        reserved,
        record,
        started,
        done: false,
    };
    let response = match client.request(upstream).await {
        Ok(response) => response,
        Err(error) => {
            let message = redact(
                &format!(
                    "Axon gateway: cannot reach the model upstream {}: {}",
                    end.record.host,
                    error_chain(&error)
                ),
                &end.grant,
                &route.credential,
            );
            tracing::warn!(task = %end.grant.task, "{message}");
            end.record.status = StatusCode::BAD_GATEWAY.as_u16();
            return api_error(format, StatusCode::BAD_GATEWAY, &message);
        }
    };

    let (mut parts, incoming) = response.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    end.record.status = parts.status.as_u16();
    let event_stream = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("text/event-stream"));
    end.meter = call.map(|(format, kind)| {
        let kind = if parts.status.is_success() {
            kind
        } else {
            CallKind::Auxiliary
        };
        (ResponseMeter::new(format, model, event_stream), kind)
    });
    Response::from_parts(parts, ObservedBody::new(incoming, end).boxed())
}

/// Replaces the gateway token with the credential in every header that carries it.
fn swap_headers(headers: &mut HeaderMap, token: &str, credential: &Secret) -> Result<(), String> {
    let value = |s: &str| {
        HeaderValue::from_str(s)
            .map(|mut v| {
                v.set_sensitive(true);
                v
            })
            .map_err(|_| {
                "Axon gateway: the model credential cannot be sent in a header".to_string()
            })
    };
    for (place, found) in candidates(headers, None) {
        if found != token {
            continue;
        }
        match place {
            Place::XApiKey => {
                headers.insert(X_API_KEY, value(credential.expose())?);
            }
            Place::GoogApiKey => {
                headers.insert(X_GOOG_API_KEY, value(credential.expose())?);
            }
            Place::Authorization(scheme) => {
                headers.insert(
                    header::AUTHORIZATION,
                    value(&format!("{scheme} {}", credential.expose()))?,
                );
            }
            Place::QueryKey => {}
        }
    }
    Ok(())
}

/// `message` with the Task's token and credential blanked, should an error have echoed them.
fn redact(message: &str, grant: &TaskGrant, credential: &Secret) -> String {
    let mut out = message.to_string();
    for secret in [credential.expose(), grant.token.expose()] {
        if !secret.is_empty() {
            out = out.replace(secret, "<redacted>");
        }
    }
    out
}

/// What is done once a forwarded call has ended: its answer ended or failed, the upstream could
/// not be reached, or the agent went away. Runs once, at the latest when dropped.
struct CallEnd {
    gateway: Arc<Gateway>,
    state: Arc<TaskState>,
    grant: Arc<TaskGrant>,
    meter: Option<(ResponseMeter, CallKind)>,
    reserved: bool,
    record: AuditRecord,
    started: Instant,
    done: bool,
}

impl CallEnd {
    fn finish(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        match self.meter.take() {
            Some((meter, kind)) => {
                let usage = meter.finish();
                let totals = self
                    .state
                    .end_call(kind, self.reserved, &usage, &self.grant.prices);
                self.gateway.emit(GatewayEvent::Usage {
                    task: self.grant.task.clone(),
                    totals,
                });
            }
            None if self.reserved => self.state.release_turn(),
            None => {}
        }
        self.record.duration_ms = millis(self.started);
        self.gateway.audit(Some(&self.grant.task), &self.record);
    }
}

impl Drop for CallEnd {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The upstream answer's observer: the meter reads each data frame; the call ends when the body
/// ends, fails, or is dropped (the agent went away).
impl BodyObserver for CallEnd {
    fn on_data(&mut self, chunk: &Bytes) {
        self.record.bytes_down += chunk.len() as u64;
        if let Some((meter, _)) = &mut self.meter {
            meter.feed(chunk);
        }
    }

    fn on_end(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_tokens_in_each_place() {
        let mut h = HeaderMap::new();
        h.insert("x-api-key", HeaderValue::from_static("a"));
        h.insert("authorization", HeaderValue::from_static("bearer b"));
        h.insert("x-goog-api-key", HeaderValue::from_static("c"));
        let found = candidates(&h, Some("alt=sse&key=d"));
        assert_eq!(
            found,
            vec![
                (Place::XApiKey, "a".into()),
                (Place::Authorization("bearer".into()), "b".into()),
                (Place::GoogApiKey, "c".into()),
                (Place::QueryKey, "d".into()),
            ]
        );
        let mut basic = HeaderMap::new();
        basic.insert("authorization", HeaderValue::from_static("Basic eA=="));
        assert!(candidates(&basic, None).is_empty());
    }

    #[test]
    fn swaps_in_the_same_place_and_scheme() {
        let mut h = HeaderMap::new();
        h.insert("authorization", HeaderValue::from_static("Bearer tok"));
        h.insert("x-api-key", HeaderValue::from_static("other"));
        swap_headers(&mut h, "tok", &Secret::new("sk-real")).expect("swap");
        assert_eq!(h["authorization"], "Bearer sk-real");
        assert!(h["authorization"].is_sensitive());
        assert_eq!(h["x-api-key"], "other");
        assert_eq!(
            swap_query("alt=sse&key=tok&x=1", "tok", "AI za/+"),
            "alt=sse&key=AI%20za%2F%2B&x=1"
        );
        assert_eq!(swap_query("key=other", "tok", "k"), "key=other");
    }
}
