//! The GitHub webhook receiver of `axon serve --listen ADDR`: `POST /webhooks/github`.
//!
//! A thin driver around `axon_core::webhook`: the request line and headers are checked first
//! (method, path, `application/json`, at most 25 MiB, read with that limit), then the body's
//! `X-Hub-Signature-256` against the `WEBHOOK_SECRET` of every TaskSpawner that takes
//! webhooks. A delivery no secret verifies is answered 401 and nothing else happens: it is
//! not even recorded. A verified `issues` delivery is claimed under its `X-GitHub-Delivery`
//! in the store before anything is created (a redelivery is answered 200 and does nothing),
//! then each spawner whose secret verified it, that watches its repository and whose filter
//! takes the issue runs the spawn decision for it (`axon_spawner::deliver_item`), creating
//! the Task the poll would create, under the same name. A verified `issue_comment` delivery
//! with an `/axon` command in a new comment by a person is claimed the same way, then each
//! such spawner with `commentPolicy` that watches the repository asks GitHub whether the
//! commenter may and carries the command out (`axon_spawner::deliver_command`). `ping` is
//! answered, other events are acknowledged (202) and ignored. `pull_request` and
//! `pull_request_review` deliveries go the way of `issues`, for spawners whose `types` take
//! pull requests (and, for reviews, whose `webhook.reviewStates` take the review's state).
//! `check_run`, `check_suite` and `workflow_run` deliveries of a completed check on pull
//! requests are claimed the same way, then each spawner with `webhook.checks` that watches
//! the repository reads each pull request from GitHub and creates a CI remediation Task on
//! its head branch (`axon_spawner::deliver_check`).

use axon_api::{Kind, Resource, TaskSpawner};
use axon_core::spawn_item::WorkItem;
use axon_core::webhook::check_event::{self, CheckKind};
use axon_core::webhook::envelope::{
    self, DELIVERY_HEADER, EVENT_HEADER, Event, MAX_BODY_BYTES, Rejection, Route,
};
use axon_core::webhook::matching::{
    Verdict, WEBHOOK_SECRET_KEY, comment_verdict, pull_verdict, verdict, webhook_secret,
};
use axon_core::webhook::signature::{self, SIGNATURE_HEADER, SignatureError};
use axon_core::webhook::{comment_event, issues_event, pull_request_event};
use axon_local::LocalBackend;
use axon_port::SpawnerPort;
use axon_spawner::{
    Commanded, GithubClient, Remediated, RepoRef, SystemClock, deliver_check, deliver_command,
    deliver_item, github_config,
};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// How long a client may take to send a request head.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How long shutdown waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Why the receiver cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ReceiverError {
    /// The address is taken or not ours.
    #[error(
        "cannot listen for GitHub webhooks on {addr}: {source} (pick another address with --listen)"
    )]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The bind error.
        source: std::io::Error,
    },
}

/// Binds `addr`; the address actually bound (port 0 picks one) is in the listener.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, ReceiverError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ReceiverError::Bind { addr, source })
}

/// Serves `listener` until `shutdown` completes, then lets requests in flight finish (for at
/// most [`SHUTDOWN_GRACE`]).
pub async fn serve(
    listener: TcpListener,
    backend: Arc<LocalBackend>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let mut shutdown = std::pin::pin!(shutdown);
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        tracing::warn!(error = %e, "webhook receiver: accept failed");
                        continue;
                    }
                };
                let backend = backend.clone();
                connections.spawn(async move {
                    let service = service_fn(move |req| {
                        let backend = backend.clone();
                        async move { Ok::<_, Infallible>(handle(&backend, req).await) }
                    });
                    let _ = http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(HEADER_READ_TIMEOUT)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
        connections.abort_all();
    }
}

fn text(status: u16, message: impl Into<String>) -> Response<Full<Bytes>> {
    let mut body = message.into();
    body.push('\n');
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn rejected(r: Rejection) -> Response<Full<Bytes>> {
    text(r.status, r.message)
}

fn header<'a>(req: &'a Request<Incoming>, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The TaskSpawners that take webhooks and whose secret verifies `body` under `signature`;
/// the error is the reason for the 401.
async fn verified_spawners(
    backend: &LocalBackend,
    body: &[u8],
    signature: Option<&str>,
) -> Result<Result<Vec<TaskSpawner>, String>, String> {
    let all = axon_port::Backend::list(backend, Kind::TaskSpawner)
        .await
        .map_err(|e| format!("cannot list TaskSpawners: {e}"))?;
    let mut verified = Vec::new();
    let mut reason: Option<SignatureError> = None;
    let mut any = false;
    for r in all {
        let Resource::TaskSpawner(s) = r else {
            continue;
        };
        let Some(secret_name) = webhook_secret(&s) else {
            continue;
        };
        any = true;
        let secret = backend
            .secret_value(secret_name, WEBHOOK_SECRET_KEY)
            .await
            .map_err(|e| format!("cannot read Secret {secret_name}: {e}"))?;
        let Some(secret) = secret else {
            tracing::warn!(spawner = %s.metadata.name.as_deref().unwrap_or_default(), secret = %secret_name, "webhook Secret or its WEBHOOK_SECRET key is missing");
            continue;
        };
        match signature::verify(secret.as_bytes(), body, signature) {
            Ok(()) => verified.push(*s),
            Err(e) => {
                // The most telling reason: a missing or malformed header over a mismatch.
                if reason.is_none_or(|r| r == SignatureError::Mismatch) {
                    reason = Some(e);
                }
            }
        }
    }
    if !verified.is_empty() {
        return Ok(Ok(verified));
    }
    Ok(Err(match (any, reason) {
        (false, _) => "no TaskSpawner takes GitHub webhooks here (spec.when.githubIssues.webhook with a Secret holding WEBHOOK_SECRET)".to_string(),
        (true, Some(e)) => e.to_string(),
        (true, None) => "no webhook Secret holds WEBHOOK_SECRET".to_string(),
    }))
}

/// `owner/repo` of the Workspace `spawner` watches, if it can be read.
async fn spawner_repository(backend: &LocalBackend, spawner: &TaskSpawner) -> Option<String> {
    let name = &spawner.spec.task_template.workspace_ref.as_ref()?.name;
    match SpawnerPort::get(backend, Kind::Workspace, name)
        .await
        .ok()??
    {
        Resource::Workspace(w) => RepoRef::parse(&w.spec.repo)
            .ok()
            .map(|r| format!("{}/{}", r.owner, r.repo)),
        _ => None,
    }
}

async fn handle(backend: &LocalBackend, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let content_length = header(&req, hyper::header::CONTENT_LENGTH.as_str())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Err(r) = envelope::check_request(
        req.method().as_str(),
        req.uri().path(),
        header(&req, hyper::header::CONTENT_TYPE.as_str()),
        content_length,
    ) {
        return rejected(r);
    }
    let signature_header = header(&req, SIGNATURE_HEADER).map(str::to_string);
    let event = header(&req, EVENT_HEADER).map(str::to_string);
    let delivery = header(&req, DELIVERY_HEADER).map(str::to_string);
    let limit = usize::try_from(MAX_BODY_BYTES).unwrap_or(usize::MAX);
    let body = match Limited::new(req.into_body(), limit).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return text(
                413,
                format!("body is over the limit of {MAX_BODY_BYTES} bytes"),
            );
        }
        Err(e) => return text(400, format!("cannot read the body: {e}")),
    };
    let spawners = match verified_spawners(backend, &body, signature_header.as_deref()).await {
        Ok(Ok(s)) => s,
        Ok(Err(reason)) => {
            tracing::warn!(%reason, "webhook delivery refused (401)");
            return text(401, reason);
        }
        Err(e) => return text(500, e),
    };
    let route = match envelope::route(event.as_deref(), delivery.as_deref()) {
        Ok(r) => r,
        Err(r) => return rejected(r),
    };
    let (event, delivery) = match route {
        Route::Ping => return text(200, "pong"),
        Route::Ignored { event } => {
            return text(
                202,
                format!("event {event:?} ignored: no TaskSpawner takes it"),
            );
        }
        Route::Delivery { event, delivery } => (event, delivery),
    };
    match event {
        Event::IssueComment => comment(backend, &spawners, &body, &delivery).await,
        Event::Issues | Event::PullRequest | Event::PullRequestReview => {
            item_event(backend, &spawners, event, &body, &delivery).await
        }
        Event::Check(kind) => check(backend, &spawners, kind, &body, &delivery).await,
    }
}

/// Claims `delivery` of `event` in the store: `Some` is the answer when it was taken before
/// or cannot be recorded (and nothing is to be done).
fn claim(backend: &LocalBackend, delivery: &str, event: Event) -> Option<Response<Full<Bytes>>> {
    match backend.claim_webhook_delivery(delivery, event.as_str()) {
        Ok(true) => None,
        Ok(false) => Some(text(200, format!("delivery {delivery} was already taken"))),
        Err(e) => Some(text(500, format!("cannot record delivery {delivery}: {e}"))),
    }
}

/// An `issue_comment` delivery: each verified spawner that takes comment commands on the
/// item carries out the comment's `/axon` command, if its commenter may give it.
async fn comment(
    backend: &LocalBackend,
    spawners: &[TaskSpawner],
    body: &[u8],
    delivery: &str,
) -> Response<Full<Bytes>> {
    let event = match comment_event::parse(body) {
        Ok(e) => e,
        Err(e) => return text(400, e.to_string()),
    };
    if let Some(why) = event.ignored() {
        return text(200, format!("delivery {delivery}: ignored: {why}"));
    }
    if let Some(answer) = claim(backend, delivery, Event::IssueComment) {
        return answer;
    }
    let options = crate::spawner_host::options_from_env();
    let mut lines = Vec::new();
    for spawner in spawners {
        let name = spawner.metadata.name.clone().unwrap_or_default();
        let config = match github_config(backend, spawner, options.github_api_base.as_deref()).await
        {
            Ok(Ok(c)) => c,
            Ok(Err(why)) => {
                lines.push(format!("{name}: {why}"));
                continue;
            }
            Err(e) => {
                let _ = backend.release_webhook_delivery(delivery);
                return text(500, format!("delivery {delivery}: {e}"));
            }
        };
        let repo = format!("{}/{}", config.owner, config.repo);
        if let Verdict::Skip(why) = comment_verdict(spawner, &repo, &event) {
            lines.push(format!("{name}: skipped: {why}"));
            continue;
        }
        let mut client = match GithubClient::new(config) {
            Ok(c) => c,
            Err(e) => {
                lines.push(format!("{name}: {e}"));
                continue;
            }
        };
        let outcome =
            match deliver_command(backend, spawner, &mut client, &event, &SystemClock).await {
                Ok(o) => o,
                Err(e) => {
                    let _ = backend.release_webhook_delivery(delivery);
                    return text(500, format!("delivery {delivery}: {e}"));
                }
            };
        let line = match outcome {
            Commanded::Created(t) => {
                tracing::info!(spawner = %name, task = %t, %delivery, author = %event.author, "comment command created Task");
                format!("created Task {t}")
            }
            Commanded::AlreadyExists(t) => format!("Task {t} already exists"),
            Commanded::Running(t) => format!("Task {t} is still running: nothing started"),
            Commanded::Ignored(why) => format!("ignored: {why}"),
            Commanded::Denied { reason, replied } => {
                tracing::info!(spawner = %name, %delivery, author = %event.author, "comment command refused");
                format!(
                    "denied: {reason}{}",
                    if replied { " (replied)" } else { "" }
                )
            }
            Commanded::Cancelled(t) => format!("Task {t} cancelled"),
            Commanded::NothingToCancel => "nothing to cancel".to_string(),
            Commanded::Failed(why) => format!("failed: {why}"),
            Commanded::Unavailable(why) => {
                // Let a redelivery try again once GitHub answers.
                let _ = backend.release_webhook_delivery(delivery);
                return text(
                    503,
                    format!("delivery {delivery}: cannot ask GitHub now: {why}"),
                );
            }
        };
        lines.push(format!("{name}: {line}"));
    }
    text(200, format!("delivery {delivery}\n{}", lines.join("\n")))
}

/// A `check_run`, `check_suite` or `workflow_run` delivery (CI remediation): for each pull
/// request the check ran for, each verified spawner with `webhook.checks` that watches the
/// repository and takes the check's conclusion and name creates a Task on the pull request's
/// head branch.
async fn check(
    backend: &LocalBackend,
    spawners: &[TaskSpawner],
    kind: CheckKind,
    body: &[u8],
    delivery: &str,
) -> Response<Full<Bytes>> {
    let event = match check_event::parse(kind, body) {
        Ok(e) => e,
        Err(e) => return text(400, e.to_string()),
    };
    if let Some(why) = event.ignored() {
        return text(200, format!("delivery {delivery}: ignored: {why}"));
    }
    if let Some(answer) = claim(backend, delivery, Event::Check(kind)) {
        return answer;
    }
    let options = crate::spawner_host::options_from_env();
    let mut lines = Vec::new();
    for spawner in spawners {
        let name = spawner.metadata.name.clone().unwrap_or_default();
        if spawner
            .spec
            .when
            .github_issues
            .as_ref()
            .and_then(|g| g.webhook.as_ref())
            .and_then(|w| w.checks.as_ref())
            .is_none()
        {
            lines.push(format!(
                "{name}: skipped: CI remediation not enabled (spec.when.githubIssues.webhook.checks)"
            ));
            continue;
        }
        let config = match github_config(backend, spawner, options.github_api_base.as_deref()).await
        {
            Ok(Ok(c)) => c,
            Ok(Err(why)) => {
                lines.push(format!("{name}: {why}"));
                continue;
            }
            Err(e) => {
                let _ = backend.release_webhook_delivery(delivery);
                return text(500, format!("delivery {delivery}: {e}"));
            }
        };
        let repo = format!("{}/{}", config.owner, config.repo);
        if !repo.eq_ignore_ascii_case(&event.repository) {
            lines.push(format!(
                "{name}: skipped: watches {repo}, the check ran on {}",
                event.repository
            ));
            continue;
        }
        let mut client = match GithubClient::new(config) {
            Ok(c) => c,
            Err(e) => {
                lines.push(format!("{name}: {e}"));
                continue;
            }
        };
        for pull in &event.pulls {
            let n = pull.number;
            let outcome = match deliver_check(
                backend,
                spawner,
                &mut client,
                &event,
                pull,
                &SystemClock,
            )
            .await
            {
                Ok(o) => o,
                Err(e) => {
                    let _ = backend.release_webhook_delivery(delivery);
                    return text(500, format!("delivery {delivery}: {e}"));
                }
            };
            let line = match outcome {
                Remediated::Created(t) => {
                    tracing::info!(spawner = %name, task = %t, %delivery, check = %event.name, "failed check created Task");
                    format!("created Task {t} on branch {}", pull.branch)
                }
                Remediated::AlreadyExists(t) => format!("Task {t} already exists"),
                Remediated::Running(t) => format!("Task {t} is still running: nothing started"),
                Remediated::Exhausted { attempts, max } => format!(
                    "{attempts} CI Tasks already (webhook.checks.maxAttempts {max}): nothing started"
                ),
                Remediated::Skipped(why) => format!("skipped: {why}"),
                Remediated::Failed(why) => format!("failed: {why}"),
                Remediated::Unavailable(why) => {
                    let _ = backend.release_webhook_delivery(delivery);
                    return text(
                        503,
                        format!("delivery {delivery}: cannot ask GitHub now: {why}"),
                    );
                }
            };
            lines.push(format!("{name}: #{n}: {line}"));
        }
    }
    text(200, format!("delivery {delivery}\n{}", lines.join("\n")))
}

/// An `issues`, `pull_request` or `pull_request_review` delivery, read.
enum ItemDelivery {
    Issue(issues_event::IssuesEvent),
    Pull(pull_request_event::PullRequestEvent),
}

impl ItemDelivery {
    /// Reads an item event's body; the error is the reason for a 400.
    fn parse(event: Event, body: &[u8]) -> Result<ItemDelivery, String> {
        match event {
            Event::Issues => issues_event::parse(body)
                .map(ItemDelivery::Issue)
                .map_err(|e| e.to_string()),
            Event::PullRequest => pull_request_event::parse_pull_request(body)
                .map(ItemDelivery::Pull)
                .map_err(|e| e.to_string()),
            Event::PullRequestReview => pull_request_event::parse_review(body)
                .map(ItemDelivery::Pull)
                .map_err(|e| e.to_string()),
            Event::IssueComment | Event::Check(_) => {
                Err(format!("{} is not an item event", event.as_str()))
            }
        }
    }

    fn item(&self) -> &WorkItem {
        match self {
            ItemDelivery::Issue(e) => &e.item,
            ItemDelivery::Pull(e) => &e.item,
        }
    }

    fn comments(&self) -> u64 {
        match self {
            ItemDelivery::Issue(e) => e.comments,
            ItemDelivery::Pull(e) => e.comments,
        }
    }

    /// Whether `spawner`, watching `repo`, takes it.
    fn verdict(&self, spawner: &TaskSpawner, repo: &str) -> Verdict {
        match self {
            ItemDelivery::Issue(e) => verdict(spawner, repo, e),
            ItemDelivery::Pull(e) => pull_verdict(spawner, repo, e),
        }
    }
}

/// An `issues`, `pull_request` or `pull_request_review` delivery: each verified spawner
/// whose filter takes the item runs the poll's spawn decision for it.
async fn item_event(
    backend: &LocalBackend,
    spawners: &[TaskSpawner],
    event: Event,
    body: &[u8],
    delivery: &str,
) -> Response<Full<Bytes>> {
    let d = match ItemDelivery::parse(event, body) {
        Ok(d) => d,
        Err(why) => return text(400, why),
    };
    if let Some(answer) = claim(backend, delivery, event) {
        return answer;
    }
    let mut lines = Vec::new();
    for spawner in spawners {
        let name = spawner.metadata.name.clone().unwrap_or_default();
        let Some(repo) = spawner_repository(backend, spawner).await else {
            lines.push(format!("{name}: its Workspace's repository cannot be read"));
            continue;
        };
        if let Verdict::Skip(why) = d.verdict(spawner, &repo) {
            lines.push(format!("{name}: skipped: {why}"));
            continue;
        }
        match deliver_item(backend, spawner, d.item(), d.comments()).await {
            Ok(d) => {
                for t in &d.created {
                    tracing::info!(spawner = %name, task = %t, %delivery, "webhook created Task");
                    lines.push(format!("{name}: created Task {t}"));
                }
                for t in &d.already_existed {
                    lines.push(format!("{name}: Task {t} already exists"));
                }
                for t in &d.marked {
                    lines.push(format!("{name}: Task {t} marked as needing input"));
                }
                if let Some(why) = &d.left_to_poll {
                    lines.push(format!("{name}: left to the next poll: {why}"));
                }
                if d == axon_spawner::Delivered::default() {
                    lines.push(format!("{name}: nothing to do"));
                }
            }
            Err(e) => {
                // Let GitHub's redelivery try again.
                let _ = backend.release_webhook_delivery(delivery);
                return text(500, format!("delivery {delivery}: {e}"));
            }
        }
    }
    text(200, format!("delivery {delivery}\n{}", lines.join("\n")))
}
