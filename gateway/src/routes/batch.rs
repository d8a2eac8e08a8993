//! `POST /api/v1/analytics/track/batch`: what a phone buffered offline, up to 1000 events. Every
//! event's shape is checked before anything is sent, and every shape error is reported at once
//! (`errors[{index, field, detail}]`) so that the phone can fix its whole buffer in one go;
//! analytics then applies the domain rules and stores all or nothing.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type};
use utoipa::{PartialSchema, ToSchema};
use wellbeing_common::error::ItemError;
use wellbeing_common::{ErrorCode, ServiceError};
use wellbeing_proto::analytics::v1::track_event::Kind;
use wellbeing_proto::analytics::v1::{TrackBatchRequest, TrackEvent};

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::json::{self, ApiJson};
use crate::openapi::schemas::Envelope;
use crate::respond::{envelope, json_bytes};
use crate::routes::events::{
    BreakBody, DistractionBody, EventBody, FocusSessionBody, NotificationBody, ScreenTimeBody,
    SessionBody,
};
use crate::state::AppState;
use crate::upstream::timed;

/// What a valid batch did.
#[derive(Serialize, ToSchema)]
pub struct BatchOutcome {
    /// Events stored now.
    accepted: u32,
    /// Events already stored under their `event_id`, or repeated within the batch.
    duplicates: u32,
}

/// The most events one batch may carry.
pub const MAX_BATCH_EVENTS: usize = 1000;

/// What a phone buffered offline: stored all together, or nothing when any event is invalid.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchBody {
    /// Sent by older clients: must be the caller's own id (403 otherwise).
    #[schema(format = Uuid)]
    user_id: Option<String>,
    /// Raw, so that one bad event does not hide the others' errors.
    #[schema(value_type = Vec<BatchEvent>, max_items = 1000)]
    events: Vec<Value>,
}

/// One event of a batch, for the OpenAPI document: `type` names the body it must fit (that of
/// `POST /analytics/track/<type>`), and that body's fields sit beside it. The variants are the
/// body schemas themselves, so they cannot drift from what [`checked_event`] decodes.
pub struct BatchEvent;

impl BatchEvent {
    /// Each `type` with the schema of its body.
    fn variants() -> [(&'static str, RefOr<Schema>); 6] {
        [
            ("session", SessionBody::schema()),
            ("screen-time", ScreenTimeBody::schema()),
            ("focus-session", FocusSessionBody::schema()),
            ("break", BreakBody::schema()),
            ("notification", NotificationBody::schema()),
            ("distraction", DistractionBody::schema()),
        ]
    }
}

impl PartialSchema for BatchEvent {
    fn schema() -> RefOr<Schema> {
        let mut one_of = OneOfBuilder::new().description(Some(
            "An event: `type` selects which body's fields it carries.",
        ));
        for (kind, body) in Self::variants() {
            // A derived body schema is always an inline object.
            let RefOr::T(Schema::Object(mut object)) = body else {
                continue;
            };
            object.properties.insert(
                "type".to_owned(),
                ObjectBuilder::new()
                    .schema_type(SchemaType::new(Type::String))
                    .enum_values(Some([kind]))
                    .into(),
            );
            object.required.insert(0, "type".to_owned());
            object.title = Some(kind.to_owned());
            one_of = one_of.item(Schema::Object(object));
        }
        one_of.into()
    }
}

impl ToSchema for BatchEvent {}

#[utoipa::path(
    post,
    path = "/analytics/track/batch",
    tag = "tracking",
    summary = "Track up to 1000 buffered events at once",
    description = "All valid: stored in one transaction. Any invalid: 422 with `errors` listing \
        every invalid event (`index`, `field`, `detail`), and nothing stored. A foreign `user_id` \
        anywhere is a 403 for the whole batch.",
    security(("bearer" = [])),
    request_body = BatchBody,
    responses(
        (status = 201, description = "Something was stored", body = Envelope<BatchOutcome>),
        (status = 200, description = "Nothing new: every event was already stored (or none sent)", body = Envelope<BatchOutcome>),
    ),
)]
pub async fn track_batch(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<BatchBody>,
) -> Result<Response, ApiError> {
    user.check_claimed(body.user_id.as_deref())?;
    let events = checked_events(&user, body.events)?;
    let request = state.upstreams.request(TrackBatchRequest {
        user_id: user.id(),
        events,
    });
    let response = state
        .view_cache
        .after_write(
            &user.id(),
            timed(state.upstreams.analytics().track_batch(request)),
        )
        .await?
        .into_inner();
    let status = if response.accepted > 0 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let outcome = BatchOutcome {
        accepted: response.accepted,
        duplicates: response.duplicates,
    };
    let data = serde_json::to_vec(&outcome).map_err(|error| ServiceError::internal(&error))?;
    Ok(json_bytes(status, envelope(&data)))
}

/// The proto events, in order, or a 422 listing every event whose shape is wrong. A `user_id`
/// inside an event that is not the caller's is a 403 for the whole batch.
pub fn checked_events(user: &AuthUser, events: Vec<Value>) -> Result<Vec<TrackEvent>, ApiError> {
    if events.len() > MAX_BATCH_EVENTS {
        return Err(ApiError::invalid(
            "events",
            format!(
                "a batch carries at most {MAX_BATCH_EVENTS} events, this one has {}",
                events.len()
            ),
        ));
    }
    let mut checked = Vec::with_capacity(events.len());
    let mut errors = Vec::new();
    for (index, event) in events.into_iter().enumerate() {
        match checked_event(user, event) {
            Ok(kind) => checked.push(TrackEvent { kind: Some(kind) }),
            Err(ApiError(error)) if error.code == ErrorCode::Forbidden => {
                return Err(ApiError(error));
            }
            Err(ApiError(error)) => errors.push(ItemError {
                index,
                field: error.field.unwrap_or_else(|| "type".to_owned()),
                detail: error.detail,
            }),
        }
    }
    if errors.is_empty() {
        return Ok(checked);
    }
    let detail = format!(
        "{} of the batch's events are invalid; nothing was stored",
        errors.len()
    );
    Err(ApiError(ServiceError {
        errors,
        ..ServiceError::new(ErrorCode::ValidationFailed, detail)
    }))
}

/// One event: its `type` selects the body it must fit.
fn checked_event(user: &AuthUser, event: Value) -> Result<Kind, ApiError> {
    let Value::Object(mut fields) = event else {
        return Err(ApiError::invalid(
            "type",
            "each event must be a JSON object with a type",
        ));
    };
    let kind = match fields.remove("type") {
        Some(Value::String(kind)) => kind,
        Some(_) => return Err(ApiError::invalid("type", "type must be a string")),
        None => return Err(ApiError::invalid("type", "missing field `type`")),
    };
    let fields = Value::Object(fields);
    Ok(match kind.as_str() {
        "session" => Kind::Session(decode::<SessionBody>(user, fields)?),
        "screen-time" => Kind::ScreenTime(decode::<ScreenTimeBody>(user, fields)?),
        "focus-session" => Kind::FocusSession(decode::<FocusSessionBody>(user, fields)?),
        "break" => Kind::BreakEvent(decode::<BreakBody>(user, fields)?),
        "notification" => Kind::Notification(decode::<NotificationBody>(user, fields)?),
        "distraction" => Kind::Distraction(decode::<DistractionBody>(user, fields)?),
        _ => {
            return Err(ApiError::invalid(
                "type",
                "type must be one of: session, screen-time, focus-session, break, notification, distraction",
            ));
        }
    })
}

fn decode<B: EventBody>(user: &AuthUser, fields: Value) -> Result<B::Event, ApiError> {
    json::from_value::<B>(fields)?.checked(user)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use uuid::Uuid;

    #[test]
    fn every_bad_event_is_listed_with_its_index() {
        let user = AuthUser(Uuid::new_v4());
        let events = vec![
            json!({"type": "break", "duration_minutes": 5}),
            json!({"type": "notification", "app_name": "x", "priority": 2.5}),
            json!({"type": "nap"}),
            json!({"type": "screen-time", "app_name": "x", "duration_minutes": 1, "timestamp": "2026-11-24T08:30:00"}),
            json!(7),
        ];
        let error = checked_events(&user, events).unwrap_err().0;
        let listed: Vec<(usize, &str)> = error
            .errors
            .iter()
            .map(|item| (item.index, item.field.as_str()))
            .collect();
        assert_eq!(
            listed,
            vec![(1, "priority"), (2, "type"), (3, "timestamp"), (4, "type")]
        );
    }

    #[test]
    fn a_valid_batch_keeps_its_order() {
        let user = AuthUser(Uuid::new_v4());
        let events = vec![
            json!({"type": "distraction", "source": "x", "severity": 2, "user_id": user.id()}),
            json!({"type": "session", "start_time": "2026-11-24T08:00:00Z", "end_time": "2026-11-24T08:05:00Z"}),
        ];
        let checked = checked_events(&user, events).unwrap();
        assert!(matches!(checked[0].kind, Some(Kind::Distraction(_))));
        let Some(Kind::Session(session)) = &checked[1].kind else {
            panic!("expected a session");
        };
        assert_eq!(session.device_type, "mobile");
    }
}
