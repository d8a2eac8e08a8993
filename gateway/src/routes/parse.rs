//! Shape checks shared by bodies and query strings: timestamps must carry an offset and dates
//! must be real calendar days. Anything that depends on the user's data or zone is left to
//! analytics.

use chrono::NaiveDate;
use wellbeing_proto::Timestamp;

use crate::error::ApiError;

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

/// An optional timestamp: absent stays absent (analytics picks the default).
pub fn optional_timestamp(field: &str, text: Option<&str>) -> Result<Option<Timestamp>, ApiError> {
    text.map(|text| parse_timestamp(field, text)).transpose()
}

/// A `YYYY-MM-DD` day that exists (`2026-02-30` does not), returned as sent.
pub fn parse_date(field: &str, text: &str) -> Result<String, ApiError> {
    let text = text.trim();
    // chrono alone would also take `2026-2-3` or `+2026-02-03`; the contract wants exactly one form.
    let well_formed = text.len() == 10
        && text
            .bytes()
            .enumerate()
            .all(|(position, byte)| match position {
                4 | 7 => byte == b'-',
                _ => byte.is_ascii_digit(),
            });
    if well_formed && NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok() {
        Ok(text.to_owned())
    } else {
        Err(ApiError::invalid(
            field,
            format!("{field} must be a real date as YYYY-MM-DD, e.g. 2026-11-24"),
        ))
    }
}

/// The UUID `{id}` of a route over one of the caller's own things (a goal, a session): anything
/// that is not a UUID cannot be one of them, so it is the same 404 (`missing`) as one they do
/// not own, checked before the body.
pub async fn owned_id<S: Send + Sync>(
    parts: &mut axum::http::request::Parts,
    state: &S,
    missing: &'static str,
) -> Result<uuid::Uuid, ApiError> {
    use axum::extract::{FromRequestParts, Path};
    let no_such = || ApiError(wellbeing_common::ServiceError::not_found(missing));
    let Path(raw) = Path::<String>::from_request_parts(parts, state)
        .await
        .map_err(|_| no_such())?;
    uuid::Uuid::parse_str(raw.trim()).map_err(|_| no_such())
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

    #[test]
    fn dates_must_exist_and_have_one_form() {
        assert_eq!(parse_date("date", "2026-02-28").unwrap(), "2026-02-28");
        assert_eq!(parse_date("date", "2028-02-29").unwrap(), "2028-02-29");
        for bad in [
            "2026-02-30",
            "2026-2-3",
            "+2026-02-03",
            "2026-13-01",
            "today",
            "",
        ] {
            let error = parse_date("end_date", bad).unwrap_err().0;
            assert_eq!(error.field.as_deref(), Some("end_date"), "{bad}");
        }
    }
}
