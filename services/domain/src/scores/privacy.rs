//! The privacy score of the phone's last reported state: VPN, caller screening, location and
//! network protection, each 0..=100, weighted into one figure. With no state reported there is
//! no score at all; the caller says so instead of calling this.

use serde::{Deserialize, Serialize};

use crate::numbers::round1;
use crate::records::{LocationMode, PrivacyState};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum PrivacyLevel {
    Excellent,
    Good,
    Fair,
    Poor,
    Critical,
}

impl PrivacyLevel {
    /// ≥90 excellent, ≥75 good, ≥60 fair, ≥40 poor, else critical.
    pub fn from_score(score: f64) -> Self {
        if score >= 90.0 {
            PrivacyLevel::Excellent
        } else if score >= 75.0 {
            PrivacyLevel::Good
        } else if score >= 60.0 {
            PrivacyLevel::Fair
        } else if score >= 40.0 {
            PrivacyLevel::Poor
        } else {
            PrivacyLevel::Critical
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PrivacyComponents {
    pub vpn: f64,
    pub caller: f64,
    pub location: f64,
    pub network: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PrivacyScore {
    pub score: f64,
    pub level: PrivacyLevel,
    pub components: PrivacyComponents,
    pub recommendations: Vec<String>,
}

/// `0.30·vpn + 0.20·caller + 0.25·location + 0.25·network`, one decimal; see the component
/// functions for each part. The level is read from the rounded score.
pub fn privacy_score(state: &PrivacyState) -> PrivacyScore {
    let components = PrivacyComponents {
        vpn: vpn_component(state),
        caller: caller_component(state),
        location: location_component(state.location_mode),
        network: network_component(state),
    };
    let score = round1(
        0.30 * components.vpn
            + 0.20 * components.caller
            + 0.25 * components.location
            + 0.25 * components.network,
    );
    PrivacyScore {
        score,
        level: PrivacyLevel::from_score(score),
        recommendations: recommendations(state, &components),
        components: PrivacyComponents {
            vpn: round1(components.vpn),
            caller: round1(components.caller),
            location: round1(components.location),
            network: round1(components.network),
        },
    }
}

/// connected ? 70 + 15·kill_switch + 15·(no leak) : 20
fn vpn_component(state: &PrivacyState) -> f64 {
    if !state.vpn_connected {
        return 20.0;
    }
    70.0 + if state.kill_switch { 15.0 } else { 0.0 } + if state.leak_detected { 0.0 } else { 15.0 }
}

/// (masking ? 60 : 20) + min(blocked% / 2, 20) when any calls + 10 when the blocklist is
/// non-empty, at most 100.
fn caller_component(state: &PrivacyState) -> f64 {
    let mut caller = if state.caller_masking { 60.0 } else { 20.0 };
    if state.calls_total > 0 {
        let blocked = state.calls_blocked.clamp(0, state.calls_total) as f64;
        let blocked_percent = blocked / state.calls_total as f64 * 100.0;
        caller += (blocked_percent / 2.0).min(20.0);
    }
    if state.blocklist_size > 0 {
        caller += 10.0;
    }
    caller.min(100.0)
}

/// real 0, approximate 50, spoofed 90, random 100.
fn location_component(mode: LocationMode) -> f64 {
    match mode {
        LocationMode::Real => 0.0,
        LocationMode::Approximate => 50.0,
        LocationMode::Spoofed => 90.0,
        LocationMode::Random => 100.0,
    }
}

/// 100 − min(2·threats, 30) − 10·critical − (20 when monitoring is off), clamped 0..=100.
/// Negative counts (a confused client) read as 0.
fn network_component(state: &PrivacyState) -> f64 {
    let threats = state.network_threats.max(0) as f64;
    let critical = state.critical_threats.max(0) as f64;
    let unmonitored = if state.monitoring_enabled { 0.0 } else { 20.0 };
    (100.0 - (2.0 * threats).min(30.0) - 10.0 * critical - unmonitored).clamp(0.0, 100.0)
}

/// Concrete fixes, grouped by component, weakest component first (ties in the order vpn,
/// caller, location, network); a single encouragement when there is nothing to fix.
fn recommendations(state: &PrivacyState, components: &PrivacyComponents) -> Vec<String> {
    let mut vpn = Vec::new();
    if !state.vpn_connected {
        vpn.push("Connect to a VPN");
    } else {
        if state.leak_detected {
            vpn.push("Fix the VPN leak: reconnect or switch servers");
        }
        if !state.kill_switch {
            vpn.push("Turn on the VPN kill switch");
        }
    }
    let mut caller = Vec::new();
    if !state.caller_masking {
        caller.push("Turn on caller ID masking");
    }
    if state.blocklist_size <= 0 {
        caller.push("Add unwanted numbers to your call blocklist");
    }
    let location = match state.location_mode {
        LocationMode::Real => vec!["Stop sharing your real location with apps"],
        LocationMode::Approximate => vec!["Use a spoofed or random location for stronger privacy"],
        LocationMode::Spoofed | LocationMode::Random => Vec::new(),
    };
    let mut network = Vec::new();
    if state.critical_threats > 0 {
        network.push("Resolve the critical network threats");
    } else if state.network_threats > 0 {
        network.push("Review the detected network threats");
    }
    if !state.monitoring_enabled {
        network.push("Turn on network monitoring");
    }

    let mut groups = [
        (components.vpn, vpn),
        (components.caller, caller),
        (components.location, location),
        (components.network, network),
    ];
    groups.sort_by(|a, b| a.0.total_cmp(&b.0));
    let advice: Vec<String> = groups
        .into_iter()
        .flat_map(|(_, lines)| lines)
        .map(str::to_owned)
        .collect();
    if advice.is_empty() {
        return vec!["Your privacy protection is strong; keep it up".to_owned()];
    }
    advice
}

#[cfg(test)]
mod tests {
    use super::*;

    fn protected() -> PrivacyState {
        PrivacyState {
            vpn_connected: true,
            kill_switch: true,
            leak_detected: false,
            caller_masking: true,
            calls_total: 10,
            calls_blocked: 4,
            blocklist_size: 12,
            location_mode: LocationMode::Spoofed,
            network_threats: 3,
            critical_threats: 1,
            monitoring_enabled: true,
        }
    }

    #[test]
    fn privacy_worked_example() {
        // vpn: connected 70 + kill switch 15 + no leak 15                 = 100
        // caller: masking 60 + min(40 % / 2, 20) = 20 + blocklist 10      =  90
        // location: spoofed                                               =  90
        // network: 100 − min(2·3, 30) − 10·1 = 100 − 6 − 10               =  84
        // score: 0.30·100 + 0.20·90 + 0.25·90 + 0.25·84
        //      = 30 + 18 + 22.5 + 21 = 91.5 -> excellent
        let score = privacy_score(&protected());
        assert_eq!(
            score.components,
            PrivacyComponents {
                vpn: 100.0,
                caller: 90.0,
                location: 90.0,
                network: 84.0
            }
        );
        assert_eq!(score.score, 91.5);
        assert_eq!(score.level, PrivacyLevel::Excellent);
        assert_eq!(
            score.recommendations,
            vec!["Resolve the critical network threats"]
        );
    }

    #[test]
    fn an_unprotected_phone_is_critical() {
        // vpn 20; caller 20 (no masking, no calls, empty blocklist); location real 0;
        // network 100 − 30 (20 threats, capped) − 10·8 − 20 = −30 -> 0.
        // score: 0.30·20 + 0.20·20 + 0 + 0 = 6 + 4 = 10.0 -> critical.
        let state = PrivacyState {
            vpn_connected: false,
            kill_switch: false,
            leak_detected: true,
            caller_masking: false,
            calls_total: 0,
            calls_blocked: 0,
            blocklist_size: 0,
            location_mode: LocationMode::Real,
            network_threats: 20,
            critical_threats: 8,
            monitoring_enabled: false,
        };
        let score = privacy_score(&state);
        assert_eq!(score.score, 10.0);
        assert_eq!(score.level, PrivacyLevel::Critical);
        // location (0) and network (0) first, then vpn (20) and caller (20) in formula order.
        assert_eq!(
            score.recommendations,
            vec![
                "Stop sharing your real location with apps",
                "Resolve the critical network threats",
                "Turn on network monitoring",
                "Connect to a VPN",
                "Turn on caller ID masking",
                "Add unwanted numbers to your call blocklist",
            ]
        );
    }

    #[test]
    fn vpn_and_caller_parts_add_up() {
        // Connected without kill switch and with a leak: 70.
        let leaky = PrivacyState {
            kill_switch: false,
            leak_detected: true,
            ..protected()
        };
        assert_eq!(privacy_score(&leaky).components.vpn, 70.0);
        // Masking 60 + 10 % blocked / 2 = 5 + blocklist 10 = 75.
        let few_blocked = PrivacyState {
            calls_blocked: 1,
            ..protected()
        };
        assert_eq!(privacy_score(&few_blocked).components.caller, 75.0);
        // More blocked than received reads as 100 %: 60 + 20 + 10 = 90.
        let odd = PrivacyState {
            calls_blocked: 50,
            ..protected()
        };
        assert_eq!(privacy_score(&odd).components.caller, 90.0);
    }

    #[test]
    fn a_fully_protected_phone_scores_100() {
        let state = PrivacyState {
            location_mode: LocationMode::Random,
            network_threats: 0,
            critical_threats: 0,
            ..protected()
        };
        let score = privacy_score(&state);
        // caller 60 + 20 + 10 = 90 is the cap in practice: 0.3·100 + 0.2·90 + 25 + 25 = 98.
        assert_eq!(score.score, 98.0);
        assert_eq!(
            score.recommendations,
            vec!["Your privacy protection is strong; keep it up"]
        );
    }

    #[test]
    fn levels_follow_the_thresholds() {
        assert_eq!(PrivacyLevel::from_score(90.0), PrivacyLevel::Excellent);
        assert_eq!(PrivacyLevel::from_score(75.0), PrivacyLevel::Good);
        assert_eq!(PrivacyLevel::from_score(60.0), PrivacyLevel::Fair);
        assert_eq!(PrivacyLevel::from_score(40.0), PrivacyLevel::Poor);
        assert_eq!(PrivacyLevel::from_score(39.9), PrivacyLevel::Critical);
    }
}
