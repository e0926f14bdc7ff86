//! What the receiver checks of a request before it reads the body: that it is a `POST` to
//! the GitHub webhook path, with a JSON body of at most GitHub's maximum size; and, once the
//! signature is verified, which event it carries and under which delivery id. Every refusal
//! is a status code and a message for whoever configured the webhook.

use super::check_event::CheckKind;

/// The path GitHub deliveries are posted to.
pub const GITHUB_PATH: &str = "/webhooks/github";

/// GitHub caps payloads at 25 MB; a larger body is refused before it is read.
pub const MAX_BODY_BYTES: u64 = 25 * 1024 * 1024;

/// The header naming the event (`issues`, `ping`, …).
pub const EVENT_HEADER: &str = "x-github-event";

/// The header carrying the delivery's unique id (the same on every redelivery).
pub const DELIVERY_HEADER: &str = "x-github-delivery";

/// Longest delivery id accepted (GitHub's are GUIDs, 36 characters).
pub const MAX_DELIVERY_ID_LEN: usize = 128;

/// A refused request: the status to answer and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// HTTP status code.
    pub status: u16,
    /// A one-line explanation (sent as the body; never names a secret).
    pub message: String,
}

fn reject(status: u16, message: impl Into<String>) -> Rejection {
    Rejection {
        status,
        message: message.into(),
    }
}

/// Checks the request line and the headers read before the body.
pub fn check_request(
    method: &str,
    path: &str,
    content_type: Option<&str>,
    content_length: Option<u64>,
) -> Result<(), Rejection> {
    if path != GITHUB_PATH {
        return Err(reject(
            404,
            format!("not found: GitHub webhooks are received at POST {GITHUB_PATH}"),
        ));
    }
    if method != "POST" {
        return Err(reject(
            405,
            format!("method {method} not allowed: GitHub webhooks are POSTed"),
        ));
    }
    let media_type = content_type
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase());
    if media_type.as_deref() != Some("application/json") {
        return Err(reject(
            415,
            format!(
                "content type {} is not accepted: set the GitHub webhook's content type to application/json",
                content_type.unwrap_or("(none)")
            ),
        ));
    }
    if let Some(n) = content_length
        && n > MAX_BODY_BYTES
    {
        return Err(reject(
            413,
            format!("body of {n} bytes is over the limit of {MAX_BODY_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// What a verified delivery asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// GitHub's `ping` when the webhook is created: answered, nothing recorded.
    Ping,
    /// An event a TaskSpawner can take, to be recorded under its delivery id and acted on.
    Delivery {
        /// Which event.
        event: Event,
        /// `X-GitHub-Delivery`.
        delivery: String,
    },
    /// An event no TaskSpawner takes yet: acknowledged and ignored.
    Ignored {
        /// `X-GitHub-Event`.
        event: String,
    },
}

/// The events a TaskSpawner can take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// `issues`: an issue opened, labelled, …
    Issues,
    /// `issue_comment`: a comment on an issue or pull request (`/axon` commands).
    IssueComment,
    /// `pull_request`: a pull request opened, pushed to, labelled, …
    PullRequest,
    /// `pull_request_review`: a review submitted.
    PullRequestReview,
    /// `check_run`, `check_suite` or `workflow_run`: CI finished (remediation).
    Check(super::check_event::CheckKind),
}

impl Event {
    /// The `X-GitHub-Event` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Issues => "issues",
            Event::IssueComment => "issue_comment",
            Event::PullRequest => "pull_request",
            Event::PullRequestReview => "pull_request_review",
            Event::Check(kind) => kind.as_str(),
        }
    }

    fn from_header(event: &str) -> Option<Event> {
        match event {
            "issues" => Some(Event::Issues),
            "issue_comment" => Some(Event::IssueComment),
            "pull_request" => Some(Event::PullRequest),
            "pull_request_review" => Some(Event::PullRequestReview),
            "check_run" => Some(Event::Check(CheckKind::CheckRun)),
            "check_suite" => Some(Event::Check(CheckKind::CheckSuite)),
            "workflow_run" => Some(Event::Check(CheckKind::WorkflowRun)),
            _ => None,
        }
    }
}

/// Routes a verified delivery by its `X-GitHub-Event` and `X-GitHub-Delivery` headers.
pub fn route(event: Option<&str>, delivery: Option<&str>) -> Result<Route, Rejection> {
    let event = event.map(str::trim).unwrap_or_default();
    if event.is_empty() {
        return Err(reject(400, "missing X-GitHub-Event header"));
    }
    if event == "ping" {
        return Ok(Route::Ping);
    }
    let Some(kind) = Event::from_header(event) else {
        return Ok(Route::Ignored {
            event: event.chars().take(64).collect(),
        });
    };
    let delivery = delivery.map(str::trim).unwrap_or_default();
    if delivery.is_empty() {
        return Err(reject(400, "missing X-GitHub-Delivery header"));
    }
    if delivery.len() > MAX_DELIVERY_ID_LEN
        || !delivery
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(reject(
            400,
            format!(
                "X-GitHub-Delivery must be at most {MAX_DELIVERY_ID_LEN} letters, digits, '-' or '_'"
            ),
        ));
    }
    Ok(Route::Delivery {
        event: kind,
        delivery: delivery.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests() {
        let json = Some("application/json");
        let cases = [
            ("POST", GITHUB_PATH, json, Some(10)),
            (
                "POST",
                GITHUB_PATH,
                Some("Application/JSON; charset=utf-8"),
                None,
            ),
            ("POST", "/webhooks/gitlab", json, None),
            ("GET", GITHUB_PATH, json, None),
            (
                "POST",
                GITHUB_PATH,
                Some("application/x-www-form-urlencoded"),
                None,
            ),
            ("POST", GITHUB_PATH, None, None),
            ("POST", GITHUB_PATH, json, Some(MAX_BODY_BYTES)),
            ("POST", GITHUB_PATH, json, Some(MAX_BODY_BYTES + 1)),
        ];
        let lines: Vec<String> = cases
            .iter()
            .map(|(m, p, c, n)| match check_request(m, p, *c, *n) {
                Ok(()) => format!("{m} {p} {c:?} {n:?}: ok"),
                Err(r) => format!("{m} {p} {c:?} {n:?}: {} {}", r.status, r.message),
            })
            .collect();
        insta::assert_snapshot!(lines.join("\n"), @r#"
        POST /webhooks/github Some("application/json") Some(10): ok
        POST /webhooks/github Some("Application/JSON; charset=utf-8") None: ok
        POST /webhooks/gitlab Some("application/json") None: 404 not found: GitHub webhooks are received at POST /webhooks/github
        GET /webhooks/github Some("application/json") None: 405 method GET not allowed: GitHub webhooks are POSTed
        POST /webhooks/github Some("application/x-www-form-urlencoded") None: 415 content type application/x-www-form-urlencoded is not accepted: set the GitHub webhook's content type to application/json
        POST /webhooks/github None None: 415 content type (none) is not accepted: set the GitHub webhook's content type to application/json
        POST /webhooks/github Some("application/json") Some(26214400): ok
        POST /webhooks/github Some("application/json") Some(26214401): 413 body of 26214401 bytes is over the limit of 26214400 bytes
        "#);
    }

    #[test]
    fn routes() {
        let guid = "72d3162e-cc78-11e3-81ab-4c9367dc0958";
        let long = "a".repeat(MAX_DELIVERY_ID_LEN + 1);
        let cases = [
            (Some("issues"), Some(guid)),
            (Some("ping"), None),
            (Some("pull_request"), Some(guid)),
            (Some("issue_comment"), Some(guid)),
            (Some("check_run"), Some(guid)),
            (Some("workflow_job"), Some(guid)),
            (None, Some(guid)),
            (Some("issues"), None),
            (Some("issues"), Some("a b")),
            (Some("issues"), Some(long.as_str())),
        ];
        let lines: Vec<String> = cases
            .iter()
            .map(|(e, d)| format!("{e:?} {:?}: {:?}", d.map(|d| d.len()), route(*e, *d)))
            .collect();
        insta::assert_snapshot!(lines.join("\n"), @r#"
        Some("issues") Some(36): Ok(Delivery { event: Issues, delivery: "72d3162e-cc78-11e3-81ab-4c9367dc0958" })
        Some("ping") None: Ok(Ping)
        Some("pull_request") Some(36): Ok(Delivery { event: PullRequest, delivery: "72d3162e-cc78-11e3-81ab-4c9367dc0958" })
        Some("issue_comment") Some(36): Ok(Delivery { event: IssueComment, delivery: "72d3162e-cc78-11e3-81ab-4c9367dc0958" })
        Some("check_run") Some(36): Ok(Delivery { event: Check(CheckRun), delivery: "72d3162e-cc78-11e3-81ab-4c9367dc0958" })
        Some("workflow_job") Some(36): Ok(Ignored { event: "workflow_job" })
        None Some(36): Err(Rejection { status: 400, message: "missing X-GitHub-Event header" })
        Some("issues") None: Err(Rejection { status: 400, message: "missing X-GitHub-Delivery header" })
        Some("issues") Some(3): Err(Rejection { status: 400, message: "X-GitHub-Delivery must be at most 128 letters, digits, '-' or '_'" })
        Some("issues") Some(129): Err(Rejection { status: 400, message: "X-GitHub-Delivery must be at most 128 letters, digits, '-' or '_'" })
        "#);
    }
}
