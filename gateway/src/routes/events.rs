//! The six event bodies the phone sends, alone (`/analytics/track/<type>`) or in a batch, and
//! their proto messages. Only shape is checked here (types, unknown fields, timestamp offsets);
//! ranges and time rules are analytics' business, so both paths share one set of rules.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use wellbeing_proto::analytics::v1::{
    BreakEvent, DistractionEvent, FocusSessionEvent, NotificationEvent, ScreenTimeEvent,
    SessionEvent,
};

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::routes::parse::{optional_timestamp, parse_timestamp};

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionBody {
    user_id: Option<String>,
    event_id: Option<String>,
    start_time: String,
    end_time: String,
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
            event_id: self.event_id,
        })
    }
}

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
            event_id: self.event_id,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FocusSessionBody {
    user_id: Option<String>,
    event_id: Option<String>,
    start_time: String,
    end_time: String,
    quality_score: f64,
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
            event_id: self.event_id,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakBody {
    user_id: Option<String>,
    event_id: Option<String>,
    duration_minutes: f64,
    break_type: Option<String>,
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
            event_id: self.event_id,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationBody {
    user_id: Option<String>,
    event_id: Option<String>,
    app_name: String,
    /// An integer: `2.5` is a 422 naming `priority`, not a silent truncation.
    priority: i64,
    #[serde(default)]
    was_interacted: bool,
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
            event_id: self.event_id,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistractionBody {
    user_id: Option<String>,
    event_id: Option<String>,
    source: String,
    /// An integer, like `priority`.
    severity: i64,
    #[serde(default)]
    duration_seconds: f64,
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
            event_id: self.event_id,
        })
    }
}
