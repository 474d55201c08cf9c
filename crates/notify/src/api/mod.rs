//! The data of Alertmanager's API v2 (OpenAPI spec of Alertmanager 0.25):
//! the JSON shapes of its requests and answers, and pure functions that
//! compute answers from a [`crate::State`]. The HTTP handlers are the
//! server's.
//!
//! - `GET /api/v2/alerts`: [`list_alerts`] with an [`AlertFilter`].
//! - `GET /api/v2/alerts/groups`: [`list_alert_groups`].
//! - `POST /api/v2/alerts`: [`PostableAlert`] and [`prepare_alerts`].
//! - `GET/POST /api/v2/silences`, `GET/DELETE /api/v2/silence/{id}`:
//!   [`GettableSilence`], [`PostableSilence`], [`list_silences`],
//!   [`post_silence`], [`get_silence`].
//! - `GET /api/v2/status` and `/api/v2/receivers`: [`status`] and
//!   [`receivers`].
//!
//! Times are written as Alertmanager writes them: RFC 3339 in UTC with
//! milliseconds (`2024-03-15T09:00:00.000Z`).

mod alerts;
mod silences;
mod status;

pub use alerts::{
    list_alert_groups, list_alerts, prepare_alerts, AlertFilter, AlertGroup, GettableAlert,
    GettableAlertStatus, PostableAlert, ReceiverName,
};
pub use silences::{
    get_silence, list_silences, post_silence, ApiMatcher, GettableSilence, PostableSilence,
    SilenceStatus,
};
pub use status::{receivers, status, ClusterStatus, ConfigStatus, Status, VersionInfo};

use agentmon_model::calendar;

/// Formats milliseconds since the epoch as `2006-01-02T15:04:05.000Z`.
pub fn format_time(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (y, mo, d) = calendar::civil_from_days(days);
    let (h, mi, s, milli) = (
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000,
    );
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z")
}

/// Parses an RFC 3339 time into milliseconds since the epoch.
pub fn parse_time(text: &str) -> Option<i64> {
    calendar::parse_rfc3339_ms(text)
}

#[cfg(test)]
mod tests;
