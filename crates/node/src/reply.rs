//! What every HTTP handler shares: the error reply (`{"error": {"code", "message"}}` with its
//! status), path parsing, and the snapshot of the committed state handlers read through the
//! ledger's own views. Handlers import this; it imports no handler.

use axum::Json;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use depin_core::Rejection;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::node::Node;

/// A refusal: status code plus `{"error": {"code", "message"}}`.
pub struct ApiError {
    status: StatusCode,
    code: String,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: code.to_string(),
            message: message.into(),
        }
    }

    pub fn internal(e: impl std::fmt::Display) -> ApiError {
        tracing::error!("internal error serving a request: {e}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("the node failed to read its store ({e}); check the node's log"),
        )
    }
}

/// The committed state, read through the ledger's own views (one consistent snapshot).
pub fn snapshot(node: &Node) -> ApiResult<depin_store::Snapshot> {
    node.store
        .snapshot(node.params.clone())
        .map_err(ApiError::internal)
}

impl From<&Rejection> for ApiError {
    fn from(r: &Rejection) -> ApiError {
        ApiError::new(status_of(r), r.code(), r.to_string())
    }
}

/// The HTTP status of a refused transaction.
pub fn status_of(r: &Rejection) -> StatusCode {
    match r {
        Rejection::Malformed { .. } | Rejection::WrongChain { .. } | Rejection::BadSignature => {
            StatusCode::BAD_REQUEST
        }
        Rejection::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        Rejection::NonceReplayed { .. }
        | Rejection::NonceGap { .. }
        | Rejection::NonceTooFarAhead { .. }
        | Rejection::Duplicate => StatusCode::CONFLICT,
        Rejection::UnknownAccount { .. }
        | Rejection::InsufficientFunds { .. }
        | Rejection::ZeroAmount
        | Rejection::BalanceOverflow
        | Rejection::ModuleDisabled { .. }
        | Rejection::NotEmergencyKey
        | Rejection::FeeTooLow { .. }
        | Rejection::TooHeavy { .. }
        | Rejection::FeeUnpaid { .. }
        | Rejection::Module(_) => StatusCode::UNPROCESSABLE_ENTITY,
        Rejection::MempoolFull => StatusCode::SERVICE_UNAVAILABLE,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(json!({"error": {"code": self.code, "message": self.message}}));
        let mut resp = (self.status, body).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        resp
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Path parameters, refused in the API's error shape (`bad_path`) rather than axum's plain text
/// (a path that is not UTF-8 once percent-decoded, for one).
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|e| ApiError::new(e.status(), "bad_path", e.body_text()))
    }
}

/// Query parameters, refused in the API's error shape (`bad_query`) rather than axum's plain
/// text (`?k=-1` for an unsigned field, for one).
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|e| ApiError::new(e.status(), "bad_query", e.body_text()))
    }
}

/// Runs `read` (a handler's store reads) on tokio's blocking pool, so a slow disk or a large
/// read never stalls the threads that accept and answer other requests.
pub async fn blocking<T: Send + 'static>(
    read: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(read)
        .await
        .map_err(ApiError::internal)?
}

pub(crate) fn parse_path<T: std::str::FromStr>(text: &str, what: &str) -> ApiResult<T>
where
    T::Err: std::fmt::Display,
{
    text.parse::<T>().map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            &format!("bad_{what}"),
            e.to_string(),
        )
    })
}
