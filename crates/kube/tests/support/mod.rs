//! A scripted Kubernetes API for reconcile tests (the kube-rs `ApiServerVerifier` pattern):
//! each expected call is a method and path with the response to give; any other call, or a
//! call after the script ended, fails the test. Request bodies are returned for assertions.

#![allow(dead_code)]

use http::{Method, Request, Response};
use http_body_util::BodyExt;
use kube::Client;
use kube::client::Body;
use serde_json::{Value, json};
use std::time::Duration;
use tower_test::mock;

/// One expected call and its answer.
pub struct Expect {
    pub method: Method,
    pub path: String,
    pub status: u16,
    /// `None`: echo the request body back (what a create/patch returns).
    pub body: Option<Value>,
    /// Bytes to answer with instead of `body` (a log stream, several watch events).
    pub raw: Option<Vec<u8>>,
}

pub fn expect(method: Method, path: &str, status: u16, body: Option<Value>) -> Expect {
    Expect {
        method,
        path: path.to_string(),
        status,
        body,
        raw: None,
    }
}

/// An answer of raw bytes: a container log, or watch events one JSON document a line.
pub fn raw(method: Method, path: &str, status: u16, bytes: impl Into<Vec<u8>>) -> Expect {
    Expect {
        raw: Some(bytes.into()),
        ..expect(method, path, status, None)
    }
}

pub fn not_found(path: &str) -> Expect {
    expect(
        Method::GET,
        path,
        404,
        Some(
            json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": "not found", "reason": "NotFound", "code": 404}),
        ),
    )
}

pub fn get(path: &str, body: Value) -> Expect {
    expect(Method::GET, path, 200, Some(body))
}

/// A recorded request: method, path (without query), query, JSON body (`Null` when none).
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub body: Value,
    /// The request headers (`Accept`, `Content-Type`).
    pub headers: http::HeaderMap,
}

/// A mock client and the task serving the script; await the handle for the requests seen.
pub fn scripted(script: Vec<Expect>) -> (Client, tokio::task::JoinHandle<Vec<Seen>>) {
    let (service, mut handle) = mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "default");
    let task = tokio::spawn(async move {
        let mut seen = Vec::new();
        for exp in script {
            let Some((req, send)) =
                tokio::time::timeout(Duration::from_secs(5), handle.next_request())
                    .await
                    .ok()
                    .flatten()
            else {
                panic!(
                    "expected {} {} but no request came; seen: {seen:#?}",
                    exp.method, exp.path
                );
            };
            let method = req.method().clone();
            let path = req.uri().path().to_string();
            let query = req.uri().query().unwrap_or_default().to_string();
            let headers = req.headers().clone();
            let bytes = req
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            assert_eq!(
                (&method, path.as_str()),
                (&exp.method, exp.path.as_str()),
                "unexpected call (query {query}, body {body}); seen before: {seen:#?}"
            );
            let answer = match exp.raw {
                Some(bytes) => bytes,
                None => serde_json::to_vec(&exp.body.unwrap_or_else(|| body.clone()))
                    .unwrap_or_default(),
            };
            seen.push(Seen {
                method,
                path,
                query,
                body,
                headers,
            });
            send.send_response(
                Response::builder()
                    .status(exp.status)
                    .body(Body::from(answer))
                    .expect("response"),
            );
        }
        if let Ok(Some((req, _))) =
            tokio::time::timeout(Duration::from_millis(200), handle.next_request()).await
        {
            panic!("unexpected extra call {} {}", req.method(), req.uri());
        }
        seen
    });
    (client, task)
}
