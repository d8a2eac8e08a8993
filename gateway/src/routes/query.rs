//! Query strings, read by hand so that a bad parameter is a 422 naming it (axum's own `Query`
//! would answer a plain-text 400). Unknown parameters are ignored; an empty value counts as
//! absent, so `?date=` means "today" as it did for the earlier backend.

use std::collections::HashMap;
use std::ops::RangeInclusive;

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use wellbeing_common::ErrorCode;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::routes::parse::parse_date;

/// The parameters of a request's query string (the first value of a repeated name wins).
#[derive(Debug, Default)]
pub struct ApiQuery(HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for ApiQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Query(pairs) =
            Query::<Vec<(String, String)>>::try_from_uri(&parts.uri).map_err(|_| {
                ApiError::new(
                    ErrorCode::ValidationFailed,
                    "the query string could not be parsed",
                )
            })?;
        let mut params = HashMap::with_capacity(pairs.len());
        for (name, value) in pairs {
            params.entry(name).or_insert(value);
        }
        Ok(Self(params))
    }
}

impl ApiQuery {
    /// The value of `name`, trimmed; an empty value counts as absent (one of only spaces does
    /// not: it is a value, and a wrong one).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .filter(|value| !value.is_empty())
            .map(|value| value.trim())
    }

    /// Refuses a `user_id` (sent by older clients) that is not the caller's: 403.
    pub fn check_user(&self, user: &AuthUser) -> Result<(), ApiError> {
        user.check_claimed(self.get("user_id"))
    }

    /// An optional `YYYY-MM-DD` parameter that must name a real day.
    pub fn date(&self, name: &str) -> Result<Option<String>, ApiError> {
        self.get(name)
            .map(|text| parse_date(name, text))
            .transpose()
    }

    /// An integer parameter within `range`, or `default` when absent.
    pub fn bounded(
        &self,
        name: &str,
        range: RangeInclusive<u32>,
        default: u32,
    ) -> Result<u32, ApiError> {
        let Some(text) = self.get(name) else {
            return Ok(default);
        };
        text.parse::<u32>()
            .ok()
            .filter(|value| range.contains(value))
            .ok_or_else(|| {
                ApiError::invalid(
                    name,
                    format!(
                        "{name} must be an integer from {} to {}",
                        range.start(),
                        range.end()
                    ),
                )
            })
    }

    /// An optional parameter that must be one of `allowed`.
    pub fn one_of(&self, name: &str, allowed: &[&str]) -> Result<Option<String>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(value) if allowed.contains(&value) => Ok(Some(value.to_owned())),
            Some(_) => Err(ApiError::invalid(
                name,
                format!("{name} must be one of: {}", allowed.join(", ")),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> ApiQuery {
        ApiQuery(
            pairs
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn integers_are_checked_for_shape_and_range() {
        let field = |text: &str| {
            query(&[("days", text)])
                .bounded("days", 1..=90, 7)
                .map_err(|error| error.0.field)
        };
        assert_eq!(field("90"), Ok(90));
        assert_eq!(field(""), Ok(7));
        assert_eq!(field(" "), Err(Some("days".to_owned())));
        for bad in ["0", "91", "-1", "abc", "7.5"] {
            assert_eq!(field(bad), Err(Some("days".to_owned())), "{bad}");
        }
    }

    #[test]
    fn enumerations_name_the_parameter() {
        let statuses = ["active", "completed", "exceeded"];
        assert_eq!(
            query(&[("status", "active")])
                .one_of("status", &statuses)
                .unwrap(),
            Some("active".to_owned())
        );
        let error = query(&[("status", "paused")])
            .one_of("status", &statuses)
            .unwrap_err();
        assert_eq!(error.0.field.as_deref(), Some("status"));
    }
}
