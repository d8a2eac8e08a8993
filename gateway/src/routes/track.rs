//! `/api/v1/analytics/track/*`: event ingestion. Shape errors (types, unknown fields, timestamps
//! without an offset) are caught here; the rules of the domain are checked by analytics.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use wellbeing_proto::Timestamp;
use wellbeing_proto::analytics::v1::{RecordEventResponse, RecordScreenTimeRequest};

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::respond::{envelope, json_bytes};
use crate::state::AppState;
use crate::upstream::timed;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScreenTimeBody {
    user_id: Option<String>,
    event_id: Option<String>,
    app_name: String,
    duration_minutes: f64,
    category: Option<String>,
    timestamp: Option<String>,
}

pub async fn screen_time(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<ScreenTimeBody>,
) -> Result<Response, ApiError> {
    user.check_claimed(body.user_id.as_deref())?;
    let request = state.upstreams.request(RecordScreenTimeRequest {
        user_id: user.id(),
        event_id: body.event_id,
        app_name: body.app_name,
        duration_minutes: body.duration_minutes,
        category: body.category.unwrap_or_default(),
        timestamp: body
            .timestamp
            .as_deref()
            .map(|text| parse_timestamp("timestamp", text))
            .transpose()?,
    });
    let response = timed(state.upstreams.analytics().record_screen_time(request)).await?;
    Ok(recorded(response.into_inner()))
}

/// 201 with the new record, or 200 with the record first stored under the same event_id.
fn recorded(response: RecordEventResponse) -> Response {
    let status = if response.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    json_bytes(status, envelope(&response.record_json))
}

/// An RFC 3339 timestamp; one without an offset is refused rather than guessed.
pub fn parse_timestamp(field: &str, text: &str) -> Result<Timestamp, ApiError> {
    let parsed = chrono::DateTime::parse_from_rfc3339(text.trim()).map_err(|_| {
        ApiError::invalid(
            field,
            format!("{field} must be an RFC 3339 timestamp with an offset, e.g. 2026-11-24T08:30:00+05:30"),
        )
    })?;
    Ok(Timestamp {
        seconds: parsed.timestamp(),
        nanos: i32::try_from(parsed.timestamp_subsec_nanos()).unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_need_an_offset() {
        assert!(parse_timestamp("timestamp", "2026-11-24T08:30:00").is_err());
        assert!(parse_timestamp("timestamp", "2026-02-30T08:30:00Z").is_err());
        let parsed = parse_timestamp("timestamp", "2026-11-24T08:30:00+05:30").unwrap();
        assert_eq!(parsed.seconds, 1_795_489_200);
    }
}
