//! `POST /api/v1/batch`: up to 20 GETs of the caller's own data in one round trip (a phone on a
//! slow link opening a screen). Each runs concurrently through the same API router, with the
//! caller's `Authorization` header, so it is authenticated, limited and answered exactly as it
//! would be alone; one failing does not fail the others.

use std::net::SocketAddr;

use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{Extensions, HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use futures_util::future::join_all;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tower::ServiceExt;
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::openapi::schemas::Envelope;
use crate::routes::API_PREFIX;
use crate::state::AppState;

/// The most requests one batch may carry.
pub const MAX_BATCH_REQUESTS: usize = 20;

/// The largest answer of one request that is read back (`GET /me/export` can be large).
const MAX_ANSWER_BYTES: usize = 32 * 1024 * 1024;

/// Several reads at once.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchGetBody {
    /// Answered in this order.
    #[schema(max_items = 20)]
    requests: Vec<BatchGetItem>,
}

/// One read of the caller's own data.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchGetItem {
    /// Only reads can be batched.
    #[schema(value_type = String, pattern = "^GET$")]
    method: String,
    /// A path under `/api/v1`, with its query string if any (not `/api/v1/batch` itself).
    #[schema(
        pattern = "^/api/v1/[A-Za-z0-9._~!$&'()*+,;=:@/?-]*$",
        example = "/api/v1/analytics/summary/daily?date=2026-11-24"
    )]
    path: String,
}

/// The answers, in the order of the requests.
#[derive(Serialize, ToSchema)]
pub struct BatchGetOutcome {
    responses: Vec<BatchGetAnswer>,
}

/// The answer to one request of the batch.
#[derive(Serialize, ToSchema)]
pub struct BatchGetAnswer {
    /// Its HTTP status.
    #[schema(minimum = 100, maximum = 599)]
    status: u16,
    /// Its JSON body (an envelope, or an error body), or null when it had none.
    #[schema(value_type = Option<Object>)]
    body: Value,
}

/// Marks a request made by a batch, so that a batch cannot contain one.
#[derive(Clone, Copy)]
pub struct InsideBatch;

#[utoipa::path(
    post,
    path = "/batch",
    tag = "reads",
    summary = "Up to 20 GETs of the caller's own data at once",
    description = "Each request runs as it would alone (same token, same rate limit, same \
        answers), concurrently; `responses` keeps their order, and one failing does not fail \
        the others. A method other than GET, a path outside `/api/v1`, a nested batch or more \
        than 20 requests: 422 naming the field (`requests`, `requests[3].method`, ...).",
    security(("bearer" = [])),
    request_body = BatchGetBody,
    responses((status = 200, description = "Each request's answer", body = Envelope<BatchGetOutcome>)),
)]
pub async fn batch_get(
    State(state): State<AppState>,
    _user: AuthUser,
    extensions: Extensions,
    headers: HeaderMap,
    ApiJson(body): ApiJson<BatchGetBody>,
) -> Result<Response, ApiError> {
    if extensions.get::<InsideBatch>().is_some() {
        return Err(ApiError::invalid(
            "requests",
            "a batch cannot contain a batch",
        ));
    }
    let uris = checked_requests(&body.requests)?;
    let connect_info = extensions.get::<ConnectInfo<SocketAddr>>().copied();
    let api = state.api.clone().with_state(state.clone());
    let calls = uris.into_iter().map(|uri| {
        let mut request = Request::new(Body::empty());
        *request.uri_mut() = uri;
        if let Some(authorization) = headers.get(header::AUTHORIZATION) {
            request
                .headers_mut()
                .insert(header::AUTHORIZATION, authorization.clone());
        }
        request.extensions_mut().insert(InsideBatch);
        if let Some(connect_info) = connect_info {
            request.extensions_mut().insert(connect_info);
        }
        run(api.clone(), request)
    });
    let data = BatchGetOutcome {
        responses: join_all(calls).await,
    };
    Ok((
        StatusCode::OK,
        Json(json!({"status": "success", "data": data})),
    )
        .into_response())
}

/// One request through the API router, its answer read back.
async fn run(api: Router, request: Request) -> BatchGetAnswer {
    let Ok(response) = api.oneshot(request).await;
    let status = response.status().as_u16();
    let body = match to_bytes(response.into_body(), MAX_ANSWER_BYTES).await {
        Ok(bytes) if !bytes.is_empty() => serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    BatchGetAnswer { status, body }
}

/// Each request's URI inside the API router (the `/api/v1` prefix removed), or a 422 naming
/// the first request at fault.
fn checked_requests(requests: &[BatchGetItem]) -> Result<Vec<Uri>, ApiError> {
    if requests.len() > MAX_BATCH_REQUESTS {
        return Err(ApiError::invalid(
            "requests",
            format!(
                "a batch carries at most {MAX_BATCH_REQUESTS} requests, this one has {}",
                requests.len()
            ),
        ));
    }
    requests
        .iter()
        .enumerate()
        .map(|(index, item)| {
            if item.method != "GET" {
                return Err(ApiError::invalid(
                    format!("requests[{index}].method"),
                    "only GET requests can be batched",
                ));
            }
            let field = format!("requests[{index}].path");
            let inner = item
                .path
                .strip_prefix(API_PREFIX)
                .filter(|rest| rest.starts_with('/'))
                .ok_or_else(|| {
                    ApiError::invalid(&field, format!("path must start with {API_PREFIX}/"))
                })?;
            let path_only = inner.split(['?', '#']).next().unwrap_or_default();
            if path_only.trim_end_matches('/') == "/batch" {
                return Err(ApiError::invalid(field, "a batch cannot contain a batch"));
            }
            inner.parse::<Uri>().map_err(|_| {
                ApiError::invalid(
                    field,
                    "path must be a valid URI path with an optional query",
                )
            })
        })
        .collect()
}
