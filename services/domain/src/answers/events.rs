//! A stored tracking record, as `POST /analytics/track/<type>` answers it: the fields every
//! record has, then those of its `type` (the fields sent, defaults filled in).

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::timestamp;

/// A stored tracking record: the common fields, then those of its `type`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventRecord {
    pub id: Uuid,
    /// The client's `event_id`, or one assigned when none was sent.
    pub event_id: Uuid,
    pub user_id: Uuid,
    /// The local day (user's timezone) where the record starts.
    pub date: NaiveDate,
    /// The local hour where the record starts.
    #[cfg_attr(feature = "openapi", schema(maximum = 23))]
    pub hour: u32,
    /// Minutes the record lasts: 0 for a notification, `duration_seconds / 60` for a distraction.
    pub duration_minutes: f64,
    #[serde(serialize_with = "timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    /// `type` and the fields of that kind, beside the common ones.
    #[serde(flatten)]
    pub fields: EventFields,
}

/// The fields particular to each kind, tagged by `type` as `POST /analytics/track/<type>`
/// names it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum EventFields {
    Session {
        #[serde(serialize_with = "timestamp::serialize")]
        start_time: DateTime<Utc>,
        #[serde(serialize_with = "timestamp::serialize")]
        end_time: DateTime<Utc>,
        device_type: String,
    },
    ScreenTime {
        app_name: String,
        category: String,
        /// When the use began.
        #[serde(serialize_with = "timestamp::serialize")]
        timestamp: DateTime<Utc>,
    },
    FocusSession {
        #[serde(serialize_with = "timestamp::serialize")]
        start_time: DateTime<Utc>,
        #[serde(serialize_with = "timestamp::serialize")]
        end_time: DateTime<Utc>,
        #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 100))]
        quality_score: f64,
        /// Null when none was given.
        #[cfg_attr(feature = "openapi", schema(required = true))]
        task_name: Option<String>,
    },
    Break {
        break_type: String,
        /// When the break began.
        #[serde(serialize_with = "timestamp::serialize")]
        timestamp: DateTime<Utc>,
    },
    Notification {
        app_name: String,
        #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 100))]
        priority: i32,
        was_interacted: bool,
        #[serde(serialize_with = "timestamp::serialize")]
        timestamp: DateTime<Utc>,
    },
    Distraction {
        source: String,
        #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 5))]
        severity: i32,
        #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 86400))]
        duration_seconds: f64,
        #[serde(serialize_with = "timestamp::serialize")]
        timestamp: DateTime<Utc>,
    },
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;

    #[test]
    fn a_record_is_one_flat_object_with_its_type() {
        let at = Utc.with_ymd_and_hms(2024, 5, 1, 9, 0, 0).unwrap();
        let record = EventRecord {
            id: Uuid::nil(),
            event_id: Uuid::nil(),
            user_id: Uuid::nil(),
            date: at.date_naive(),
            hour: 9,
            duration_minutes: 30.0,
            created_at: at,
            fields: EventFields::FocusSession {
                start_time: at,
                end_time: at + chrono::Duration::minutes(30),
                quality_score: 80.0,
                task_name: None,
            },
        };
        let nil = Uuid::nil();
        assert_eq!(
            serde_json::to_value(&record).unwrap(),
            json!({
                "id": nil, "event_id": nil, "user_id": nil, "type": "focus-session",
                "date": "2024-05-01", "hour": 9, "duration_minutes": 30.0,
                "created_at": "2024-05-01T09:00:00.000000Z",
                "start_time": "2024-05-01T09:00:00.000000Z",
                "end_time": "2024-05-01T09:30:00.000000Z",
                "quality_score": 80.0, "task_name": null,
            })
        );
    }
}
