//! The six event bodies the phone sends, alone (`/analytics/track/<type>`) or in a batch, and
//! their proto messages. Only shape is checked here (types, unknown fields, timestamp offsets);
//! ranges and time rules are analytics' business, so both paths share one set of rules.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;
use wellbeing_proto::analytics::v1::{
    BreakEvent, DistractionEvent, FocusSessionEvent, NotificationEvent, ScreenTimeEvent,
    SessionEvent,
};

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::json;
use crate::routes::parse::{optional_timestamp, parse_timestamp};

/// The client's `event_id`: a UUID when sent (an empty string is not one).
fn event_id(raw: Option<String>) -> Result<Option<String>, ApiError> {
    match raw {
        Some(text) if uuid::Uuid::parse_str(text.trim()).is_err() => Err(ApiError::invalid(
            "event_id",
            "event_id must be a UUID, e.g. 3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a2b",
        )),
        other => Ok(other),
    }
}

/// A body of one event type.
pub trait EventBody: DeserializeOwned {
    type Event;

    /// The `user_id` an older client sent, if any.
    fn claimed_user(&self) -> Option<&str>;

    /// The proto event; fields are converted in the contract's table order, so that the first
    /// wrong one is named.
    fn into_event(self) -> Result<Self::Event, ApiError>;

    /// The event, once the claimed user is known to be the caller (403 otherwise).
    fn checked(self, user: &AuthUser) -> Result<Self::Event, ApiError> {
        user.check_claimed(self.claimed_user())?;
        self.into_event()
    }
}

/// A device session, unlock to lock.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionBody {
    /// Sent by older clients: must be the caller's own id (403 otherwise).
    #[schema(format = Uuid)]
    user_id: Option<String>,
    /// The client's id of this event, unique per user: sending it again stores nothing and
    /// answers 200 with the record first stored.
    #[schema(format = Uuid)]
    event_id: Option<String>,
    /// RFC 3339 with an offset (none: 422).
    #[schema(format = DateTime)]
    start_time: String,
    /// RFC 3339 with an offset: after `start_time`, at most 24 h later, by now + 5 minutes.
    #[schema(format = DateTime)]
    end_time: String,
    /// 1 to 50 characters.
    #[schema(default = "mobile", max_length = 50)]
    device_type: Option<String>,
}

impl EventBody for SessionBody {
    type Event = SessionEvent;

    fn claimed_user(&self) -> Option<&str> {
        self.user_id.as_deref()
    }

    fn into_event(self) -> Result<SessionEvent, ApiError> {
        Ok(SessionEvent {
            start_time: Some(parse_timestamp("start_time", &self.start_time)?),
            end_time: Some(parse_timestamp("end_time", &self.end_time)?),
            device_type: self.device_type.unwrap_or_else(|| "mobile".to_owned()),
            event_id: event_id(self.event_id)?,
        })
    }
}

/// Time spent in one app.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScreenTimeBody {
    /// Sent by older clients: must be the caller's own id (403 otherwise).
    #[schema(format = Uuid)]
    user_id: Option<String>,
    /// The client's id of this event, unique per user: sending it again stores nothing and
    /// answers 200 with the record first stored.
    #[schema(format = Uuid)]
    event_id: Option<String>,
    /// 1 to 200 characters.
    #[schema(min_length = 1, max_length = 200)]
    app_name: String,
    /// Over 0, at most 1440 (24 h); the use must have ended by now + 5 minutes.
    #[schema(exclusive_minimum = 0, maximum = 1440)]
    duration_minutes: f64,
    /// 1 to 50 characters.
    #[schema(default = "other", max_length = 50)]
    category: Option<String>,
    /// When the use began, RFC 3339 with an offset; default: now minus the duration.
    #[schema(format = DateTime)]
    timestamp: Option<String>,
}

impl EventBody for ScreenTimeBody {
    type Event = ScreenTimeEvent;

    fn claimed_user(&self) -> Option<&str> {
        self.user_id.as_deref()
    }

    fn into_event(self) -> Result<ScreenTimeEvent, ApiError> {
        Ok(ScreenTimeEvent {
            timestamp: optional_timestamp("timestamp", self.timestamp.as_deref())?,
            app_name: self.app_name,
            duration_minutes: self.duration_minutes,
            category: self.category.unwrap_or_else(|| "other".to_owned()),
            event_id: event_id(self.event_id)?,
        })
    }
}

/// A focus session; its quality counts on the local day it starts.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FocusSessionBody {
    /// Sent by older clients: must be the caller's own id (403 otherwise).
    #[schema(format = Uuid)]
    user_id: Option<String>,
    /// The client's id of this event, unique per user: sending it again stores nothing and
    /// answers 200 with the record first stored.
    #[schema(format = Uuid)]
    event_id: Option<String>,
    /// RFC 3339 with an offset (none: 422).
    #[schema(format = DateTime)]
    start_time: String,
    /// RFC 3339 with an offset: after `start_time`, at most 24 h later, by now + 5 minutes.
    #[schema(format = DateTime)]
    end_time: String,
    #[schema(minimum = 0, maximum = 100)]
    quality_score: f64,
    /// At most 200 characters.
    #[schema(max_length = 200)]
    task_name: Option<String>,
}

impl EventBody for FocusSessionBody {
    type Event = FocusSessionEvent;

    fn claimed_user(&self) -> Option<&str> {
        self.user_id.as_deref()
    }

    fn into_event(self) -> Result<FocusSessionEvent, ApiError> {
        Ok(FocusSessionEvent {
            start_time: Some(parse_timestamp("start_time", &self.start_time)?),
            end_time: Some(parse_timestamp("end_time", &self.end_time)?),
            quality_score: self.quality_score,
            task_name: self.task_name,
            event_id: event_id(self.event_id)?,
        })
    }
}

/// A break taken.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BreakBody {
    /// Sent by older clients: must be the caller's own id (403 otherwise).
    #[schema(format = Uuid)]
    user_id: Option<String>,
    /// The client's id of this event, unique per user: sending it again stores nothing and
    /// answers 200 with the record first stored.
    #[schema(format = Uuid)]
    event_id: Option<String>,
    /// Over 0, at most 1440 (24 h); the break must have ended by now + 5 minutes.
    #[schema(exclusive_minimum = 0, maximum = 1440)]
    duration_minutes: f64,
    /// 1 to 50 characters.
    #[schema(default = "short", max_length = 50)]
    break_type: Option<String>,
    /// When the break began, RFC 3339 with an offset; default: now minus the duration.
    #[schema(format = DateTime)]
    timestamp: Option<String>,
}

impl EventBody for BreakBody {
    type Event = BreakEvent;

    fn claimed_user(&self) -> Option<&str> {
        self.user_id.as_deref()
    }

    fn into_event(self) -> Result<BreakEvent, ApiError> {
        Ok(BreakEvent {
            timestamp: optional_timestamp("timestamp", self.timestamp.as_deref())?,
            duration_minutes: self.duration_minutes,
            break_type: self.break_type.unwrap_or_else(|| "short".to_owned()),
            event_id: event_id(self.event_id)?,
        })
    }
}

/// A notification received.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationBody {
    /// Sent by older clients: must be the caller's own id (403 otherwise).
    #[schema(format = Uuid)]
    user_id: Option<String>,
    /// The client's id of this event, unique per user: sending it again stores nothing and
    /// answers 200 with the record first stored.
    #[schema(format = Uuid)]
    event_id: Option<String>,
    /// 1 to 200 characters.
    #[schema(min_length = 1, max_length = 200)]
    app_name: String,
    /// An integer: `2.5` is a 422 naming `priority`, not a silent truncation.
    #[serde(deserialize_with = "json::integer")]
    #[schema(minimum = 0, maximum = 100)]
    priority: i64,
    #[serde(default)]
    #[schema(default = false)]
    was_interacted: bool,
    /// When it arrived, RFC 3339 with an offset, by now + 5 minutes; default: now.
    #[schema(format = DateTime)]
    timestamp: Option<String>,
}

impl EventBody for NotificationBody {
    type Event = NotificationEvent;

    fn claimed_user(&self) -> Option<&str> {
        self.user_id.as_deref()
    }

    fn into_event(self) -> Result<NotificationEvent, ApiError> {
        Ok(NotificationEvent {
            timestamp: optional_timestamp("timestamp", self.timestamp.as_deref())?,
            app_name: self.app_name,
            priority: self.priority,
            was_interacted: self.was_interacted,
            event_id: event_id(self.event_id)?,
        })
    }
}

/// A distraction.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DistractionBody {
    /// Sent by older clients: must be the caller's own id (403 otherwise).
    #[schema(format = Uuid)]
    user_id: Option<String>,
    /// The client's id of this event, unique per user: sending it again stores nothing and
    /// answers 200 with the record first stored.
    #[schema(format = Uuid)]
    event_id: Option<String>,
    /// 1 to 200 characters.
    #[schema(min_length = 1, max_length = 200)]
    source: String,
    /// An integer, like `priority`.
    #[serde(deserialize_with = "json::integer")]
    #[schema(minimum = 1, maximum = 5)]
    severity: i64,
    #[serde(default)]
    #[schema(default = 0, minimum = 0, maximum = 86400)]
    duration_seconds: f64,
    /// When it happened, RFC 3339 with an offset, by now + 5 minutes; default: now.
    #[schema(format = DateTime)]
    timestamp: Option<String>,
}

impl EventBody for DistractionBody {
    type Event = DistractionEvent;

    fn claimed_user(&self) -> Option<&str> {
        self.user_id.as_deref()
    }

    fn into_event(self) -> Result<DistractionEvent, ApiError> {
        Ok(DistractionEvent {
            timestamp: optional_timestamp("timestamp", self.timestamp.as_deref())?,
            source: self.source,
            severity: self.severity,
            duration_seconds: self.duration_seconds,
            event_id: event_id(self.event_id)?,
        })
    }
}
