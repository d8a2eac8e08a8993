//! The shapes of the answers analytics assembles around the read views: tracking records,
//! goals with their progress, privacy answers, quick stats, the dashboard, cache statistics and
//! the head of the export.
//! Analytics builds and serialises exactly these types, and the gateway's OpenAPI document
//! describes them (feature `openapi`), so the document cannot drift from the served JSON.
//!
//! Instants are written as analytics has always written them: RFC 3339 in UTC with exactly six
//! fractional digits and `Z` ([`timestamp`]), not chrono's default of as many digits as needed.

pub mod account;
pub mod cache;
pub mod events;
pub mod goals;
pub mod privacy;
pub mod summaries;

/// Serialisers for `DateTime<Utc>` fields: `2024-05-01T12:30:00.000000Z`.
pub mod timestamp {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::Serializer;

    pub fn serialize<S: Serializer>(
        instant: &DateTime<Utc>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&instant.to_rfc3339_opts(SecondsFormat::Micros, true))
    }

    /// For `Option<DateTime<Utc>>`: `null` when absent.
    pub fn optional<S: Serializer>(
        instant: &Option<DateTime<Utc>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match instant {
            Some(instant) => serialize(instant, serializer),
            None => serializer.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use serde::Serialize;

    #[derive(Serialize)]
    struct Stamped {
        #[serde(serialize_with = "super::timestamp::serialize")]
        at: chrono::DateTime<Utc>,
        #[serde(serialize_with = "super::timestamp::optional")]
        maybe: Option<chrono::DateTime<Utc>>,
    }

    #[test]
    fn instants_have_six_fractional_digits_and_z() {
        let at = Utc.with_ymd_and_hms(2024, 5, 1, 12, 30, 0).unwrap();
        let json = serde_json::to_string(&Stamped { at, maybe: None }).unwrap();
        assert_eq!(json, r#"{"at":"2024-05-01T12:30:00.000000Z","maybe":null}"#);
    }
}
