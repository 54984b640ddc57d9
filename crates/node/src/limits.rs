//! What one client may cost the API: how long it may take to send its request line and headers
//! and to be answered, how many connections and requests are served at once, and how large a
//! body it may announce. Past a limit the client gets a JSON refusal, never a queue.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use crate::reply::ApiError;

/// The API's limits; [`Default`] is what `depin node` runs with.
#[derive(Clone, Debug)]
pub struct ApiLimits {
    /// A connection that has not sent a whole request head within this is closed (also an
    /// idle one, and a slowloris sending a byte at a time).
    pub header_read_timeout: Duration,
    /// A request not answered within this (a slow body upload, or a busy node) is refused
    /// with 503 `timeout`.
    pub request_timeout: Duration,
    /// Open connections at most; past it a new connection is answered 503 and closed. Kept
    /// well below the usual 1,024 file descriptors so the store and the log always have some.
    pub max_connections: usize,
    /// Requests handled at once at most; past it a request is answered 503 `busy`.
    pub max_concurrent_requests: usize,
}

impl Default for ApiLimits {
    fn default() -> ApiLimits {
        ApiLimits {
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_connections: 512,
            max_concurrent_requests: 128,
        }
    }
}

struct Guard {
    requests: Arc<Semaphore>,
    request_timeout: Duration,
    max_body_bytes: usize,
}

/// `router` with the per-request limits of `limits`, and a body whose declared length is above
/// `max_body_bytes` refused before any of it is read (so a client that sent
/// `Expect: 100-continue` gets 413, not "100 Continue").
pub fn apply<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    limits: &ApiLimits,
    max_body_bytes: usize,
) -> Router<S> {
    let guard = Arc::new(Guard {
        requests: Arc::new(Semaphore::new(limits.max_concurrent_requests)),
        request_timeout: limits.request_timeout,
        max_body_bytes,
    });
    router.layer(middleware::from_fn_with_state(guard, guarded))
}

async fn guarded(State(guard): State<Arc<Guard>>, req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(len) = declared
        && len > guard.max_body_bytes as u64
    {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!(
                "a body of {len} bytes is more than the limit of {} bytes",
                guard.max_body_bytes
            ),
        )
        .into_response();
    }
    let Ok(_permit) = guard.requests.clone().try_acquire_owned() else {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "the node is answering as many requests as it allows at once; retry shortly",
        )
        .into_response();
    };
    match tokio::time::timeout(guard.request_timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            format!(
                "the request was not answered within {} ms (a slow upload or a busy node); retry shortly",
                guard.request_timeout.as_millis()
            ),
        )
        .into_response(),
    }
}
