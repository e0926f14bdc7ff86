//! The gateway's forward-proxy half end to end: real `git` and `curl` (and reqwest) using the
//! gateway as their HTTP proxy, in front of a token-protected git smart-HTTP server, the fake
//! GitHub REST server and plain local HTTP servers — all on 127.0.0.1.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axon_gateway::{
    AuditRecord, Decision, Gateway, GatewayEvent, GitHubGrant, MemorySink, Network, Proxy,
    RequestKind, Secret, Server, StaticGrants, TaskCa, TaskGrant, TaskRef, new_token,
};
use axon_testsupport::git_http_server::{GIT_EMAIL, GIT_NAME, GitHttpServer, OWNER, REPO};
use axon_testsupport::github_server::FakeGitHub;

const REAL_TOKEN: &str = "ghs_real_github_token_0123456789";
/// Bound on every wait of these tests.
const DEADLINE: Duration = Duration::from_secs(60);

/// A gateway with the forward proxy on 127.0.0.1 and one Task granted the git server (and the
/// fake GitHub API, when given).
struct Harness {
    gateway: Arc<Gateway>,
    proxy: Arc<Proxy>,
    server: Server,
    audit: Arc<MemorySink>,
    token: Secret,
    task: TaskRef,
    dir: tempfile::TempDir,
}

struct Repo<'a> {
    scheme: &'a str,
    git_host: String,
    api_base: Option<String>,
    protected: Vec<String>,
}

impl Harness {
    async fn start(repo: Option<Repo<'_>>, network: Network) -> Harness {
        Harness::start_with(repo, network, |b| b).await
    }

    async fn start_with(
        repo: Option<Repo<'_>>,
        network: Network,
        configure: impl FnOnce(axon_gateway::GatewayBuilder) -> axon_gateway::GatewayBuilder,
    ) -> Harness {
        let grants = Arc::new(StaticGrants::new());
        let token = new_token().expect("token");
        let task = TaskRef {
            namespace: "default".into(),
            name: "fix-1".into(),
            uid: "uid-proxy-1".into(),
        };
        grants.add(TaskGrant {
            task: task.clone(),
            token: token.clone(),
            model: None,
            github: repo.map(|r| GitHubGrant {
                scheme: r.scheme.into(),
                git_host: r.git_host,
                api_base: r.api_base,
                owner: OWNER.into(),
                repo: REPO.into(),
                token: Some(Secret::new(REAL_TOKEN)),
                base_branch: "main".into(),
                protected: r.protected,
            }),
            network,
            budget: Default::default(),
            prices: Default::default(),
        });
        let audit = Arc::new(MemorySink::new());
        let proxy = Arc::new(Proxy::new());
        let gateway = configure(
            Gateway::builder(grants)
                .audit(audit.clone())
                .proxy(proxy.clone()),
        )
        .build()
        .expect("gateway");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let server = gateway.serve_tcp(listener).expect("serve");
        Harness {
            gateway,
            proxy,
            server,
            audit,
            token,
            task,
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// `http://axon:<token>@127.0.0.1:PORT`
    fn proxy_url(&self) -> String {
        let addr = self.server.local_addr().expect("tcp");
        format!("http://axon:{}@{addr}", self.token.expose())
    }

    fn records(&self) -> Vec<AuditRecord> {
        self.audit.records().into_iter().map(|(_, r)| r).collect()
    }

    /// Writes the Task's CA bundle (system roots + Task CA) and returns its path.
    fn ca_bundle(&self) -> std::path::PathBuf {
        let ca = self.proxy.ca_for(&self.task).expect("task ca");
        let path = self.dir.path().join("ca-bundle.pem");
        std::fs::write(&path, ca.bundle_with_system_roots()).expect("write bundle");
        path
    }

    /// Runs git through the gateway, as an agent would: the proxy, a credential helper that
    /// answers the gateway token, and (for https) the Task's CA bundle.
    async fn git(&self, dir: &Path, args: &[&str]) -> std::process::Output {
        let helper = format!(
            "credential.helper=!f() {{ echo username=x-access-token; echo password={}; }}; f",
            self.token.expose()
        );
        let bundle = self.ca_bundle();
        let mut command = tokio::process::Command::new("git");
        command
            .args(["-c", &format!("http.proxy={}", self.proxy_url())])
            .args(["-c", &helper])
            // Basic at once, as the agent's environment sets it (GIT_HTTP_PROXY_AUTHMETHOD):
            // curl's default first asks without credentials and is answered 407.
            .args(["-c", "http.proxyAuthMethod=basic"])
            .args(args)
            .current_dir(dir)
            // What the agent's environment names (it wins over http.sslCAInfo).
            .env("GIT_SSL_CAINFO", &bundle)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_ASKPASS", "/bin/false")
            .env("GIT_AUTHOR_NAME", GIT_NAME)
            .env("GIT_AUTHOR_EMAIL", GIT_EMAIL)
            .env("GIT_COMMITTER_NAME", GIT_NAME)
            .env("GIT_COMMITTER_EMAIL", GIT_EMAIL);
        for var in [
            "http_proxy",
            "https_proxy",
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
            "all_proxy",
            "NO_PROXY",
            "no_proxy",
        ] {
            command.env_remove(var);
        }
        tokio::time::timeout(DEADLINE, command.output())
            .await
            .expect("git finished in time")
            .expect("run git")
    }
}

fn ok(out: &std::process::Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Clones `url` into `<dir>/work` and commits a file there; returns the work tree.
async fn clone_and_commit(h: &Harness, url: &str) -> std::path::PathBuf {
    let out = h
        .git(h.dir.path(), &["clone", "--quiet", url, "work"])
        .await;
    ok(&out, "clone through the gateway");
    let work = h.dir.path().join("work");
    std::fs::write(work.join("fix.txt"), "fixed\n").expect("write");
    ok(&h.git(&work, &["add", "-A"]).await, "add");
    ok(
        &h.git(&work, &["commit", "--quiet", "-m", "Fix it"]).await,
        "commit",
    );
    work
}

fn git_repo(server: &GitHttpServer, scheme: &'static str) -> Repo<'static> {
    Repo {
        scheme,
        git_host: server.base_url().trim_start_matches("http://").to_string(),
        api_base: None,
        protected: vec!["release/*".into()],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_clone_and_push_through_the_http_proxy_carry_the_real_token() {
    let git = GitHttpServer::start().expect("git server");
    git.require_token(REAL_TOKEN);
    let h = Harness::start(Some(git_repo(&git, "http")), Network::Open).await;

    let work = clone_and_commit(&h, &git.url()).await;
    let out = h
        .git(&work, &["push", "origin", "HEAD:refs/heads/axon/fix-1"])
        .await;
    ok(&out, "push of a new branch");
    assert_eq!(
        git.file_at("axon/fix-1", "fix.txt").as_deref(),
        Some("fixed\n")
    );

    // A push larger than git's post buffer (1 MiB) goes chunked, after a credential probe
    // (a body of just `0000`): both pass the push policy, and the pack streams through.
    let mut noise = Vec::with_capacity(3 << 20);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    while noise.len() < 3 << 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        noise.extend_from_slice(&x.to_le_bytes());
    }
    std::fs::write(work.join("big.bin"), &noise).expect("write");
    ok(&h.git(&work, &["add", "-A"]).await, "add");
    ok(
        &h.git(&work, &["commit", "--quiet", "-m", "Big"]).await,
        "commit",
    );
    ok(
        &h.git(&work, &["push", "origin", "HEAD:refs/heads/axon/big"])
            .await,
        "large push",
    );
    assert_eq!(git.commits("axon/big")[0].subject, "Big");
    let out = h.git(&work, &["push", "origin", "HEAD:main"]).await;
    assert!(!out.status.success(), "a large push to main went through");
    assert!(
        stderr(&out).contains("is the Workspace's base branch"),
        "{}",
        stderr(&out)
    );
    assert_eq!(git.commits("main").len(), 1);

    // The server saw only the real token, never the gateway token.
    let seen = git.requests();
    assert!(!seen.is_empty());
    for r in &seen {
        assert_eq!(r.token.as_deref(), Some(REAL_TOKEN), "{r:?}");
        assert!(r.authorized);
    }
    assert!(seen.iter().any(|r| r.path.ends_with("/git-receive-pack")));

    // Every request is recorded, as GitHub, without its query.
    let records = h.records();
    assert!(records.len() >= 4, "{records:?}");
    for r in &records {
        assert_eq!(r.kind, RequestKind::GitHub);
        assert!(!r.path.contains('?'));
        assert_eq!(r.status, 200);
    }
    let denied: Vec<_> = records
        .iter()
        .filter(|r| matches!(r.decision, Decision::Denied { .. }))
        .collect();
    assert_eq!(denied.len(), 1, "{denied:?}");
    let big = records
        .iter()
        .filter(|r| r.path.ends_with("/git-receive-pack") && r.decision == Decision::Allowed)
        .map(|r| r.bytes_up)
        .max()
        .expect("push recorded");
    assert!(big > 3 << 20, "the large push's pack was counted: {big}");
    let line = serde_json::to_string(&records).expect("json");
    assert!(!line.contains(REAL_TOKEN) && !line.contains(h.token.expose()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_to_the_base_branch_or_a_protected_branch_are_refused_and_change_nothing() {
    let git = GitHttpServer::start().expect("git server");
    git.require_token(REAL_TOKEN);
    let h = Harness::start(Some(git_repo(&git, "http")), Network::Open).await;
    let main_before = git.commits("main");

    let work = clone_and_commit(&h, &git.url()).await;
    let out = h.git(&work, &["push", "origin", "HEAD:main"]).await;
    assert!(!out.status.success(), "a push to main went through");
    let err = stderr(&out);
    assert!(
        err.contains(
            "Axon gateway: pushing to branch `main` is refused: it is the Workspace's base branch"
        ),
        "git said: {err}"
    );
    assert!(err.contains("[remote rejected]"), "git said: {err}");

    let out = h
        .git(&work, &["push", "origin", "HEAD:refs/heads/release/1.0"])
        .await;
    assert!(!out.status.success(), "a push to release/1.0 went through");
    let err = stderr(&out);
    assert!(
        err.contains(
            "`release/1.0` is refused: it matches the protected branch pattern `release/*`"
        ),
        "git said: {err}"
    );

    // Deleting main is refused too.
    let out = h.git(&work, &["push", "origin", ":main"]).await;
    assert!(!out.status.success());

    // The remote is unchanged, and no refused push reached it.
    assert_eq!(git.commits("main"), main_before);
    assert_eq!(git.branches(), vec!["main".to_string()]);
    assert!(
        !git.requests()
            .iter()
            .any(|r| r.method == "POST" && r.path.ends_with("/git-receive-pack"))
    );
    let denied: Vec<AuditRecord> = h
        .records()
        .into_iter()
        .filter(|r| matches!(r.decision, Decision::Denied { .. }))
        .collect();
    assert_eq!(denied.len(), 3, "{denied:?}");
    assert!(denied.iter().all(|r| r.kind == RequestKind::GitHub));
}

/// An https clone through CONNECT: the gateway intercepts TLS with the Task CA (the client
/// trusts only the bundle), applies the rules, and forwards to the http upstream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_git_through_connect_is_intercepted_with_the_task_ca() {
    let git = GitHttpServer::start().expect("git server");
    git.require_token(REAL_TOKEN);
    let h = Harness::start(Some(git_repo(&git, "http")), Network::Open).await;
    let https_url = git.url().replacen("http://", "https://", 1);

    let work = clone_and_commit(&h, &https_url).await;
    ok(
        &h.git(&work, &["push", "origin", "HEAD:refs/heads/axon/tls"])
            .await,
        "push over intercepted TLS",
    );
    assert_eq!(
        git.file_at("axon/tls", "fix.txt").as_deref(),
        Some("fixed\n")
    );
    let out = h.git(&work, &["push", "origin", "HEAD:main"]).await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("is the Workspace's base branch"));
    assert!(
        git.requests()
            .iter()
            .all(|r| r.token.as_deref() == Some(REAL_TOKEN))
    );

    // Without the Task CA the client refuses the gateway's certificate.
    let out = tokio::process::Command::new("git")
        .args(["-c", &format!("http.proxy={}", h.proxy_url())])
        .args(["-c", "http.proxyAuthMethod=basic"])
        .args(["ls-remote", &https_url])
        .current_dir(h.dir.path())
        .env("GIT_SSL_CAINFO", "/etc/ssl/certs/ca-certificates.crt")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .await
        .expect("git");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("certificate"),
        "git said: {}",
        stderr(&out)
    );
}

/// A client for the proxy that trusts only `roots` (or nothing) for TLS.
fn client(proxy_url: &str, roots: Option<&TaskCa>) -> reqwest::Client {
    let mut store = rustls::RootCertStore::empty();
    if let Some(ca) = roots {
        store.add(ca.cert_der().clone()).expect("root");
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(store)
    .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .proxy(reqwest::Proxy::all(proxy_url).expect("proxy"))
        .timeout(DEADLINE)
        .build()
        .expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_calls_in_scope_carry_the_real_token_and_others_go_anonymous() {
    let gh = FakeGitHub::start().expect("fake github");
    gh.require_token(REAL_TOKEN);
    gh.add_issue("Bug", "body", &[]);
    let git = GitHttpServer::start().expect("git server");
    let mut repo = git_repo(&git, "http");
    repo.api_base = Some(gh.base_url());
    let h = Harness::start(Some(repo), Network::Open).await;
    let c = client(&h.proxy_url(), None);

    let inside = c
        .get(format!("{}/repos/{OWNER}/{REPO}/issues", gh.base_url()))
        .header("authorization", format!("token {}", h.token.expose()))
        .send()
        .await
        .expect("in-scope call");
    assert_eq!(inside.status(), 200);
    let issues: serde_json::Value = inside.json().await.expect("json");
    assert_eq!(issues[0]["title"], "Bug");

    let outside = c
        .get(format!("{}/repos/someone/else/issues", gh.base_url()))
        .header("authorization", format!("token {}", h.token.expose()))
        .send()
        .await
        .expect("out-of-scope call");
    assert_eq!(outside.status(), 401);

    let traversal = c
        .get(format!(
            "{}/repos/{OWNER}/{REPO}/..%2F..%2Fsomeone/else/issues",
            gh.base_url()
        ))
        .header("authorization", format!("token {}", h.token.expose()))
        .send()
        .await
        .expect("traversal call");
    assert_ne!(traversal.status(), 200);

    let log = gh.requests();
    assert_eq!(log.len(), 3, "{log:?}");
    assert!(log[0].authorized);
    assert!(!log[1].authorized);
    assert!(!log[2].authorized);
    let records = h.records();
    assert_eq!(records.len(), 3);
    assert!(records.iter().all(|r| r.kind == RequestKind::GitHub));

    // Interception of the API host over CONNECT: the client trusts only the Task CA.
    let ca = h.proxy.ca_for(&h.task).expect("ca");
    let tls_client = client(&h.proxy_url(), Some(&ca));
    let https_api = gh.base_url().replacen("http://", "https://", 1);
    let answer = tls_client
        .get(format!("{https_api}/repos/{OWNER}/{REPO}/issues"))
        .bearer_auth(h.token.expose())
        .send()
        .await
        .expect("intercepted call");
    assert_eq!(answer.status(), 200);
    assert!(gh.requests().last().expect("logged").authorized);
}

/// A proxy client without the gateway token is asked for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_requests_without_the_token_get_407() {
    let h = Harness::start(None, Network::Open).await;
    let addr = h.server.local_addr().expect("tcp");
    let anonymous = client(&format!("http://{addr}"), None);
    let answer = anonymous
        .get("http://127.0.0.1:9/")
        .send()
        .await
        .expect("answer");
    assert_eq!(answer.status(), 407);
    assert_eq!(
        answer
            .headers()
            .get("proxy-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Basic realm=\"axon-gateway\"")
    );
    let wrong = client(&format!("http://axon:axon-gw-wrong@{addr}"), None);
    let answer = wrong
        .get("http://127.0.0.1:9/")
        .send()
        .await
        .expect("answer");
    assert_eq!(answer.status(), 407);
    let records = h.audit.records();
    assert_eq!(records.len(), 2);
    assert!(records.iter().all(|(task, _)| task.is_none()));
}

/// A plain local HTTP server answering `hello from <name>`.
async fn hello_server(name: &'static str) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_req| async move {
                    Ok::<_, std::convert::Infallible>(http::Response::new(
                        http_body_util::Full::new(bytes::Bytes::from(format!("hello from {name}"))),
                    ))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restricted_egress_admits_allowed_hosts_and_refuses_others() {
    let (allowed, allowed_task) = hello_server("allowed").await;
    let (other, other_task) = hello_server("other").await;
    let h = Harness::start(
        None,
        Network::Restricted {
            allow: vec!["localhost".into()],
        },
    )
    .await;
    let mut events = h.gateway.events();
    let c = client(&h.proxy_url(), None);

    let answer = c
        .get(format!("http://localhost:{}/x", allowed.port()))
        .send()
        .await
        .expect("allowed");
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.text().await.expect("body"), "hello from allowed");

    let answer = c
        .get(format!("http://127.0.0.1:{}/x", other.port()))
        .send()
        .await
        .expect("refused");
    assert_eq!(answer.status(), 403);
    let text = answer.text().await.expect("body");
    assert!(
        text.contains("egress to 127.0.0.1 is not allowed"),
        "{text}"
    );
    assert!(text.contains("spec.network.allow"), "{text}");

    let event = tokio::time::timeout(DEADLINE, events.recv())
        .await
        .expect("event in time")
        .expect("event");
    assert_eq!(
        event,
        GatewayEvent::EgressDenied {
            task: h.task.clone(),
            host: format!("127.0.0.1:{}", other.port()),
        }
    );
    assert_eq!(h.gateway.denied(&h.task.uid), 1);

    // CONNECT: a blind tunnel to the allowed host, a refusal for the other (curl -p tunnels
    // plain HTTP through CONNECT).
    let curl = |target: String| {
        let proxy = h.proxy_url();
        async move {
            tokio::process::Command::new("curl")
                .args(["-sS", "-p", "-x", &proxy, "--max-time", "20", &target])
                .env_remove("NO_PROXY")
                .env_remove("no_proxy")
                .output()
                .await
                .expect("curl")
        }
    };
    let out = curl(format!("http://localhost:{}/t", allowed.port())).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello from allowed");
    let out = curl(format!("http://127.0.0.1:{}/t", other.port())).await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("403"), "curl said: {}", stderr(&out));
    assert_eq!(h.gateway.denied(&h.task.uid), 2);

    // The tunnel's record is written when it closes.
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let tunnel = loop {
        if let Some(r) = h
            .records()
            .into_iter()
            .find(|r| r.method == "CONNECT" && r.status == 200)
        {
            break r;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no tunnel record: {:?}",
            h.records()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(tunnel.kind, RequestKind::Egress);
    assert_eq!(tunnel.host, format!("localhost:{}", allowed.port()));
    assert!(tunnel.bytes_up > 0 && tunnel.bytes_down > 0);
    let denied = h
        .records()
        .into_iter()
        .filter(|r| matches!(r.decision, Decision::Denied { .. }))
        .count();
    assert_eq!(denied, 2);
    allowed_task.abort();
    other_task.abort();
}

/// The https-upstream path: the gateway intercepts the agent's TLS with the Task CA and talks
/// TLS to the real host, verified against the roots it is configured with (here a test CA
/// standing in for GitHub's).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intercepted_requests_reach_an_https_upstream_with_the_real_token() {
    // The "real GitHub": TLS with a certificate of its own CA, echoing what it received.
    let upstream_ca = Arc::new(TaskCa::generate("upstream").expect("ca"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server_ca = upstream_ca.clone();
    let upstream = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let ca = server_ca.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    |req: http::Request<hyper::body::Incoming>| async move {
                        let auth = req
                            .headers()
                            .get("authorization")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("none")
                            .to_string();
                        let text = format!("{} {} auth={auth}", req.method(), req.uri().path());
                        Ok::<_, std::convert::Infallible>(http::Response::new(
                            http_body_util::Full::new(bytes::Bytes::from(text)),
                        ))
                    },
                );
                let _ = axon_gateway::serve_intercepted(stream, "127.0.0.1", &ca, service).await;
            });
        }
    });
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(upstream_ca.cert_der().clone())
        .expect("upstream root");
    let gateway_tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let h = Harness::start_with(
        Some(Repo {
            scheme: "https",
            git_host: format!("127.0.0.1:{port}"),
            api_base: Some(format!("https://127.0.0.1:{port}/api/v3")),
            protected: vec![],
        }),
        Network::Open,
        |b| b.tls(gateway_tls),
    )
    .await;
    let ca = h.proxy.ca_for(&h.task).expect("ca");
    let c = client(&h.proxy_url(), Some(&ca));
    let answer = c
        .get(format!(
            "https://127.0.0.1:{port}/api/v3/repos/{OWNER}/{REPO}/pulls"
        ))
        .header("authorization", format!("token {}", h.token.expose()))
        .send()
        .await
        .expect("through the gateway");
    assert_eq!(answer.status(), 200);
    assert_eq!(
        answer.text().await.expect("body"),
        format!("GET /api/v3/repos/{OWNER}/{REPO}/pulls auth=token {REAL_TOKEN}")
    );
    let answer = c
        .get(format!("https://127.0.0.1:{port}/api/v3/user"))
        .header("authorization", format!("token {}", h.token.expose()))
        .send()
        .await
        .expect("through the gateway");
    assert_eq!(
        answer.text().await.expect("body"),
        "GET /api/v3/user auth=none"
    );
    upstream.abort();
}

/// A CA in the shape `axon install` writes into the gateway Secret (rcgen's default key,
/// PKCS#8 PEM; self-signed, CA for leaves only).
fn install_style_ca() -> (String, String) {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::OrganizationName, "Axon");
    dn.push(rcgen::DnType::CommonName, "Axon gateway CA");
    params.distinguished_name = dn;
    let cert = params.self_signed(&key).expect("self-signed");
    (cert.pem(), key.serialize_pem())
}

/// The cluster's one CA, loaded from PEM: a leaf it mints for a host is accepted by a TLS
/// client that trusts only the loaded certificate; `Proxy::with_ca` hands it to every Task;
/// a key of another CA or garbage is refused without repeating the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loaded_ca_signs_leaves_its_certificate_verifies() {
    let (cert_pem, key_pem) = install_style_ca();
    let ca = Arc::new(TaskCa::from_pem(&cert_pem, &key_pem).expect("load"));
    assert_eq!(ca.name(), "Axon gateway CA");
    assert_eq!(ca.cert_pem().trim(), cert_pem.trim());

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server_ca = ca.clone();
    let server = tokio::spawn(async move {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let service =
            hyper::service::service_fn(|_req: http::Request<hyper::body::Incoming>| async {
                Ok::<_, std::convert::Infallible>(http::Response::new(http_body_util::Full::new(
                    bytes::Bytes::from_static(b"intercepted"),
                )))
            });
        let _ = axon_gateway::serve_intercepted(stream, "127.0.0.1", &server_ca, service).await;
    });
    let mut roots = rustls::RootCertStore::empty();
    use rustls::pki_types::pem::PemObject;
    let der = rustls::pki_types::CertificateDer::from_pem_slice(cert_pem.as_bytes()).expect("pem");
    roots.add(der).expect("root");
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let c = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .no_proxy()
        .build()
        .expect("client");
    let answer = c
        .get(format!("https://127.0.0.1:{port}/"))
        .send()
        .await
        .expect("the leaf verifies against the loaded certificate");
    assert_eq!(answer.text().await.expect("body"), "intercepted");
    server.abort();

    let proxy = Proxy::with_ca(ca.clone());
    let task = |uid: &str| TaskRef {
        namespace: "ns".into(),
        name: uid.into(),
        uid: uid.into(),
    };
    let a = proxy.ca_for(&task("a")).expect("a");
    let b = proxy.ca_for(&task("b")).expect("b");
    assert!(
        Arc::ptr_eq(&a, &ca) && Arc::ptr_eq(&b, &ca),
        "one CA for every Task"
    );

    let (_, other_key) = install_style_ca();
    let e = TaskCa::from_pem(&cert_pem, &other_key).expect_err("another CA's key");
    assert!(e.to_string().contains("does not belong"), "{e}");
    let e = TaskCa::from_pem("not a certificate", &key_pem).expect_err("garbage");
    assert!(e.to_string().contains("not PEM"), "{e}");
    let e = TaskCa::from_pem(&cert_pem, "garbage").expect_err("garbage key");
    assert!(!e.to_string().contains("PRIVATE KEY"), "{e}");
}
