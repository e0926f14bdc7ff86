//! An axum app served on 127.0.0.1 from its own thread and runtime, for the GitHub fakes.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;

/// How long a server lives at most, so a leaked one cannot outlive the test run.
const MAX_LIFETIME: Duration = Duration::from_secs(600);

/// A running server; dropping it shuts it down gracefully and waits for its thread.
pub(crate) struct Background {
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Background {
    /// Binds an ephemeral port of 127.0.0.1 and serves `app(addr)` on a thread named `name`,
    /// for at most [`MAX_LIFETIME`].
    pub(crate) fn start(
        name: &str,
        app: impl FnOnce(SocketAddr) -> Router,
    ) -> std::io::Result<Background> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let app = app(addr);
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                        let _ = rx.await;
                    });
                    let _ = tokio::time::timeout(MAX_LIFETIME, serve).await;
                });
            })?;
        Ok(Background {
            addr,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT`
    pub(crate) fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
