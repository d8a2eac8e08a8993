//! Privacy reports: the phone tells what its protections are doing; each report is validated,
//! scored with the domain formula, and kept as a snapshot (with its score, for the history).

use chrono::Utc;
use sqlx::PgPool;
use uuid::Uuid;
use wellbeing_common::ServiceError;
use wellbeing_domain::answers::privacy::PrivacyReport;
use wellbeing_domain::records::{LocationMode, PrivacyState};
use wellbeing_domain::scores::privacy_score;
use wellbeing_domain::validation;
use wellbeing_proto::analytics::v1::PrivacyStateReport;

use crate::accounts::{field_error, timezone_of};
use crate::view_cache::ViewCache;
use wellbeing_store::privacy_states::{self, PrivacyStateRow};

#[derive(Clone)]
pub struct Privacy {
    pool: PgPool,
    cache: ViewCache,
}

impl Privacy {
    pub fn new(pool: PgPool, cache: ViewCache) -> Self {
        Self { pool, cache }
    }

    /// Stores a report and answers it with its score.
    pub async fn report(
        &self,
        user_id: Uuid,
        report: PrivacyStateReport,
    ) -> Result<Vec<u8>, ServiceError> {
        timezone_of(&self.pool, user_id).await?;
        let location_mode: LocationMode = report.location_mode.trim().parse().map_err(
            |error: wellbeing_domain::records::UnknownLocationMode| {
                ServiceError::invalid("location_mode", error.to_string())
            },
        )?;
        let state = PrivacyState {
            vpn_connected: report.vpn_connected,
            kill_switch: report.kill_switch,
            leak_detected: report.leak_detected,
            caller_masking: report.caller_masking,
            calls_total: report.calls_total,
            calls_blocked: report.calls_blocked,
            blocklist_size: report.blocklist_size,
            location_mode,
            network_threats: report.network_threats,
            critical_threats: report.critical_threats,
            monitoring_enabled: report.monitoring_enabled,
        };
        validation::validate_privacy_state(&state).map_err(field_error)?;
        let score = privacy_score(&state);
        let row = PrivacyStateRow {
            id: Uuid::new_v4(),
            user_id,
            reported_at: Utc::now(),
            vpn_connected: state.vpn_connected,
            kill_switch: state.kill_switch,
            leak_detected: state.leak_detected,
            caller_masking: state.caller_masking,
            calls_total: state.calls_total,
            calls_blocked: state.calls_blocked,
            blocklist_size: state.blocklist_size,
            location_mode: location_mode.as_str().to_owned(),
            network_threats: state.network_threats,
            critical_threats: state.critical_threats,
            monitoring_enabled: state.monitoring_enabled,
            score: score.score,
        };
        let stored = privacy_states::insert(&self.pool, &row).await?;
        self.cache.invalidate_user(&user_id.to_string()).await;
        let answer = PrivacyReport::new(stored.id, stored.reported_at, state, score);
        serde_json::to_vec(&answer).map_err(|error| ServiceError::internal(&error))
    }
}

/// The domain's view of a stored snapshot.
pub fn domain_state(
    row: &PrivacyStateRow,
) -> Result<PrivacyState, wellbeing_domain::records::UnknownLocationMode> {
    Ok(PrivacyState {
        vpn_connected: row.vpn_connected,
        kill_switch: row.kill_switch,
        leak_detected: row.leak_detected,
        caller_masking: row.caller_masking,
        calls_total: row.calls_total,
        calls_blocked: row.calls_blocked,
        blocklist_size: row.blocklist_size,
        location_mode: row.location_mode.parse()?,
        network_threats: row.network_threats,
        critical_threats: row.critical_threats,
        monitoring_enabled: row.monitoring_enabled,
    })
}
