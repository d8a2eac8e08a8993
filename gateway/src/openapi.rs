//! The OpenAPI 3.1 document served at `GET /openapi.json`, generated from the code with utoipa.
//!
//! - Every handler carries `#[utoipa::path]` with its summary, tag, security, parameters, body
//!   and the answers particular to it (2xx, 304, 404, 409, ...). Request bodies are the structs
//!   the handlers deserialise (`ToSchema`, so `deny_unknown_fields` reads as
//!   `additionalProperties: false`).
//! - The `data` of derived reads is described by the domain types analytics serialises: they
//!   derive `ToSchema` behind wellbeing-domain's `openapi` feature. Mirroring them here would
//!   duplicate some 40 types and drift with every change; deriving on the types themselves keeps
//!   the document true to the served JSON by construction, while the domain stays I/O-free and
//!   pays for utoipa only when the gateway asks. The answers analytics assembles around the
//!   views (records, goals, privacy, quick stats, dashboard, cache statistics, the export's
//!   head) are wellbeing-domain's `answers` types, which analytics builds and serialises; only
//!   the envelopes, the error body and the export's streamed whole are written out in
//!   [`schemas`].
//! - Answers shared by whole classes of routes are added by [`SharedAnswers`] by rule, so one
//!   place states them: see its rules.
//!
//! The tests in `tests/router/openapi.rs` check that the document and the router's table
//! ([`crate::routes::served`]) list the same routes, and that documented ranges are enforced.

pub mod operations;
mod params;
pub mod schemas;

pub use params::*;

use std::sync::LazyLock;

use bytes::Bytes;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, PathItem, Ref, RefOr, Required};
use utoipa::{Modify, OpenApi, ToResponse, ToSchema};

use crate::routes::{self, API_PREFIX};
use schemas::ErrorBody;

/// The name of the bearer-token security scheme.
pub const BEARER: &str = "bearer";

/// The document, as served (built once).
pub fn json() -> Bytes {
    static DOCUMENT: LazyLock<Bytes> = LazyLock::new(|| {
        let document = ApiDoc::openapi()
            .to_pretty_json()
            .expect("the OpenAPI document serialises");
        Bytes::from(document)
    });
    DOCUMENT.clone()
}

/// The document, as a value (tests read it).
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "wellbeing",
        description = "The REST API of the wellbeing mobile app.\n\n\
            - JSON in and out; timestamps RFC 3339 with an offset (none: 422); dates `YYYY-MM-DD`; \
              durations in minutes unless a field name says otherwise.\n\
            - A 2xx answer under `/api/v1` is `{\"status\": \"success\", \"data\": ...}`, except \
              `/auth/*` (bare objects) and 204s. Errors are bare `{detail, code, field?}`.\n\
            - Identity comes from the bearer token. A `user_id` that older clients send (query or \
              body) is accepted only when it is the caller's own; otherwise 403.\n\
            - Days, hours and weeks are the user's, in their IANA timezone.\n\
            - Reads of derived data send `ETag` and `Cache-Control: private, no-cache`; \
              `If-None-Match` gives 304.\n\
            - Every answer carries `X-Response-Time` (gateway wall time, `12.34ms`) and \
              `X-Process-Time` (milliseconds behind the gateway).\n\
            - Rate limits: `/api/v1` per user (per client address without a token), `/health` \
              100 a minute per client address; limited answers carry `RateLimit-Limit`, \
              `RateLimit-Remaining` and `RateLimit-Reset`, and a refusal is a 429 with \
              `Retry-After`.\n\
            - Answers are gzip-compressed when the client sends `Accept-Encoding: gzip`.\n\
            - Browsers: CORS only for the origins the operator lists (`CORS_ALLOWED_ORIGINS`, none \
              by default); a page may send `Authorization`, `Content-Type` and `If-None-Match` \
              and read `ETag`, `Retry-After`, the trace, timing and rate-limit headers.",
    ),
    nest((path = API_PREFIX, api = Api)),
    paths(
        routes::ops::health,
        routes::ops::livez,
        routes::ops::readyz,
        routes::metrics::metrics,
        routes::ops::openapi,
        routes::docs::page,
        routes::docs::script,
    ),
    components(
        schemas(ErrorBody),
        responses(
            NotModified,
            BadRequest,
            Unauthorized,
            Forbidden,
            NotFound,
            Conflict,
            PayloadTooLarge,
            Invalid,
            TooManyRequests,
            Internal,
            Unavailable,
        ),
    ),
    modifiers(&BearerScheme, &Aliases, &SharedAnswers),
    tags(
        (name = "auth", description = "Sign-up, sign-in, sign-out, the caller's sessions and account (bare objects)"),
        (name = "account", description = "The caller's own data: export and erasure"),
        (name = "tracking", description = "Ingestion: one event, or a batch buffered offline"),
        (name = "reads", description = "Derived views, revalidated with ETags"),
        (name = "goals", description = "Goals and their progress"),
        (name = "privacy", description = "The phone's privacy state and its score"),
        (name = "operations", description = "Health, readiness, metrics, this document and its reference page (no token)"),
    ),
)]
pub struct ApiDoc;

/// The routes under [`API_PREFIX`], nested into [`ApiDoc`] as the router nests them.
#[derive(OpenApi)]
#[openapi(paths(
    routes::auth::register,
    routes::auth::login,
    routes::auth::refresh,
    routes::auth::me,
    routes::account::update_me,
    routes::sessions::logout,
    routes::sessions::logout_all,
    routes::sessions::change_password,
    routes::sessions::list_sessions,
    routes::sessions::end_session,
    routes::account::erase,
    routes::account::export,
    routes::track::session,
    routes::track::screen_time,
    routes::track::focus_session,
    routes::track::break_taken,
    routes::track::notification,
    routes::track::distraction,
    routes::batch::track_batch,
    routes::reads::daily_summary,
    routes::reads::weekly_summary,
    routes::reads::apps_usage,
    routes::reads::dashboard,
    routes::reads::quick_stats,
    routes::reads::insights,
    routes::reads::patterns,
    routes::reads::peak_hours,
    routes::reads::comparison,
    routes::reads::wellbeing_score,
    routes::reads::daily_optimized,
    routes::reads::weekly_optimized,
    routes::reads::insights_optimized,
    routes::cache::cache_stats,
    routes::cache::drop_cache,
    routes::goals::create_goal,
    routes::goals::list_goals,
    routes::goals::update_goal,
    routes::goals::delete_goal,
    routes::privacy::report_state,
    routes::privacy::score,
    routes::privacy::history,
    routes::privacy::trend,
    routes::batch_get::batch_get,
))]
struct Api;

// --- reusable answers (`#/components/responses`) ---

/// The error answer of one status: `ErrorBody`, with the headers that status carries.
fn error_response(description: &str, code: &str) -> ResponseBuilder {
    ResponseBuilder::new()
        .description(format!("{description} (`code`: `{code}`)"))
        .content(
            "application/json",
            Content::new(Some(Ref::from_schema_name(ErrorBody::name()))),
        )
}

fn string_header(description: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(Some(
            ObjectBuilder::new().schema_type(SchemaType::new(Type::String)),
        ))
        .description(Some(description))
        .build()
}

macro_rules! reusable_response {
    ($name:ident, $response:expr) => {
        pub struct $name;

        impl<'s> ToResponse<'s> for $name {
            fn response() -> (&'s str, RefOr<Response>) {
                (stringify!($name), $response.build().into())
            }
        }
    };
}

reusable_response!(
    NotModified,
    ResponseBuilder::new()
        .description("`If-None-Match` matched the view's `ETag`: no body")
        .header("ETag", string_header("The view's entity tag"))
        .header("Cache-Control", string_header("`private, no-cache`"))
);
reusable_response!(
    BadRequest,
    error_response("The body is not JSON", "invalid_json")
);
reusable_response!(
    Unauthorized,
    error_response(
        "Missing, malformed, expired or foreign bearer token, or the account was erased",
        "unauthenticated"
    )
    .header("WWW-Authenticate", string_header("`Bearer`"))
);
reusable_response!(
    Forbidden,
    error_response(
        "A `user_id` (query or body) that is not the caller's",
        "forbidden"
    )
);
reusable_response!(
    NotFound,
    error_response(
        "No such resource of the caller's (also another user's goal)",
        "not_found"
    )
);
reusable_response!(
    Conflict,
    error_response("The email is already registered", "conflict")
);
reusable_response!(
    PayloadTooLarge,
    error_response("The body is over 1 MiB", "payload_too_large")
);
reusable_response!(
    Invalid,
    error_response(
        "The content breaks a rule: unknown or missing field, wrong type, out of range, a \
         timestamp without offset, text holding U+0000, a bad query parameter; `field` names \
         the first culprit (a batch lists every invalid event in `errors`)",
        "validation_failed"
    )
);
reusable_response!(
    TooManyRequests,
    error_response(
        "Over the rate limit: per user under `/api/v1`, per client address for `/health` and \
         the sign-in routes, and per account for `/auth/login` after 5 failed sign-ins in a row \
         (the wait doubles with each further failure)",
        "rate_limited"
    )
    .header("Retry-After", string_header("Seconds to wait"))
    .header("RateLimit-Limit", string_header("Requests allowed at once"))
    .header("RateLimit-Remaining", string_header("`0`"))
    .header(
        "RateLimit-Reset",
        string_header("Seconds until a request is allowed again")
    )
);
reusable_response!(
    Internal,
    error_response(
        "A fault of ours, with a generic detail; never caused by input",
        "internal"
    )
);
reusable_response!(
    Unavailable,
    error_response("A dependency cannot answer now; retry later", "unavailable")
        .header("Retry-After", string_header("Seconds to wait"))
);

// --- modifiers ---

/// `bearer`: the access token from `/auth/login` or `/auth/refresh`.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An access token from `POST /api/v1/auth/login` or `/auth/refresh`",
                    ))
                    .build(),
            ),
        );
    }
}

/// Older names of routes, served by the same handler (see `routes::api_routes`):
/// `(alias, documented path, operation id of the alias)`.
const ALIASES: [(&str, &str, &str); 2] = [
    (
        "/api/v1/analytics/insights/productivity",
        "/api/v1/analytics/insights",
        "insights_productivity",
    ),
    (
        "/api/v1/analytics/insights/wellbeing-score",
        "/api/v1/wellbeing/score",
        "insights_wellbeing_score",
    ),
];

/// Documents each alias as a copy of the operation it names, with its own operation id.
struct Aliases;

impl Modify for Aliases {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (alias, of, operation_id) in ALIASES {
            let Some(mut item) = openapi.paths.paths.get(of).cloned() else {
                continue;
            };
            for operation in operations_mut(&mut item) {
                operation.operation_id = Some(operation_id.to_owned());
                operation.description = Some(format!(
                    "The older name of `{of}`: the same handler, parameters and answers."
                ));
            }
            openapi.paths.paths.insert(alias.to_owned(), item);
        }
    }
}

/// The answers whole classes of routes share, stated once:
///
/// 1. every route under `/api/v1` calls an upstream: 500 and 503;
/// 2. every route with a bearer token: 401 (token) and 403 (a foreign `user_id`);
/// 3. every route with a body (`json::ApiJson`): 400, 413 and 422;
/// 4. every route with query parameters (`routes::query::ApiQuery`): 422;
/// 5. every rate-limited route (under `/api/v1`, and `/health`): 429;
/// 6. every derived read (one that declares 304): `If-None-Match`, and `ETag` and
///    `Cache-Control` on its 200;
/// 7. every answer: `X-Response-Time` and `X-Process-Time` (`middleware::timing`);
/// 8. every query parameter: `allowEmptyValue`, since `ApiQuery` reads `?date=` as absent
///    (as the earlier backend did).
struct SharedAnswers;

impl Modify for SharedAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let under_api = path.starts_with(API_PREFIX);
            let limited = under_api || path == routes::HEALTH_PATH;
            for operation in operations_mut(item) {
                add_shared_answers(operation, under_api, limited);
            }
        }
        if let Some(components) = openapi.components.as_mut() {
            for response in components.responses.values_mut() {
                if let RefOr::T(response) = response {
                    add_timing_headers(response);
                }
            }
        }
    }
}

fn add_shared_answers(operation: &mut Operation, under_api: bool, limited: bool) {
    let bearer = SecurityRequirement::new(BEARER, Vec::<String>::new());
    let has_bearer = operation
        .security
        .iter()
        .flatten()
        .any(|item| *item == bearer);
    let has_body = operation.request_body.is_some();
    let has_query = operation.parameters.iter().flatten().any(|parameter| {
        matches!(parameter, RefOr::T(parameter) if parameter.parameter_in == ParameterIn::Query)
    });
    let revalidated = operation.responses.responses.contains_key("304");
    for parameter in operation.parameters.iter_mut().flatten() {
        if let RefOr::T(parameter) = parameter
            && parameter.parameter_in == ParameterIn::Query
        {
            parameter
                .extensions
                .get_or_insert_with(Default::default)
                .insert("allowEmptyValue".to_owned(), serde_json::Value::Bool(true));
        }
    }

    let mut shared: Vec<(&str, &str)> = Vec::new();
    if has_body {
        shared.extend([("400", "BadRequest"), ("413", "PayloadTooLarge")]);
    }
    if has_bearer {
        shared.extend([("401", "Unauthorized"), ("403", "Forbidden")]);
    }
    if has_body || has_query {
        shared.push(("422", "Invalid"));
    }
    if limited {
        shared.push(("429", "TooManyRequests"));
    }
    if under_api {
        shared.extend([("500", "Internal"), ("503", "Unavailable")]);
    }
    for (status, name) in shared {
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
    }

    if revalidated {
        operation
            .parameters
            .get_or_insert_with(Vec::new)
            .push(RefOr::T(
                ParameterBuilder::new()
                    .name("If-None-Match")
                    .parameter_in(ParameterIn::Header)
                    .required(Required::False)
                    .description(Some(
                        "An `ETag` this view was answered with: 304 when it still holds",
                    ))
                    .schema(Some(
                        ObjectBuilder::new().schema_type(SchemaType::new(Type::String)),
                    ))
                    .build(),
            ));
        if let Some(RefOr::T(ok)) = operation.responses.responses.get_mut("200") {
            ok.headers.insert(
                "ETag".to_owned(),
                RefOr::T(string_header("The view's entity tag")),
            );
            ok.headers.insert(
                "Cache-Control".to_owned(),
                RefOr::T(string_header("`private, no-cache`")),
            );
        }
    }
    for response in operation.responses.responses.values_mut() {
        if let RefOr::T(response) = response {
            add_timing_headers(response);
        }
    }
}

fn add_timing_headers(response: &mut Response) {
    response.headers.insert(
        "X-Response-Time".to_owned(),
        RefOr::T(string_header("Gateway wall time, e.g. `12.34ms`")),
    );
    response.headers.insert(
        "X-Process-Time".to_owned(),
        RefOr::T(string_header(
            "Milliseconds spent behind the gateway, e.g. `12.34`",
        )),
    );
}

/// The operations of a path item, whatever their method.
fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
        item.head.as_mut(),
        item.options.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
}
