//! The queue's metrics, rendered by the server's `/metrics`:
//! `agentmon_notifications_total{integration,status}` counts attempts by
//! how they ended (`sent`, `failed`, `retried`) and deliveries given up or
//! replaced (`expired`, `superseded`);
//! `agentmon_notification_latency_seconds{integration}` is the time one
//! attempt took, whatever its outcome.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use parking_lot::Mutex;

use crate::receivers::IntegrationKind;

/// The `status` label values of `agentmon_notifications_total`.
pub const OUTCOMES: [&str; 5] = ["sent", "failed", "retried", "expired", "superseded"];

/// Latency buckets in seconds: loopback webhooks take milliseconds, SMTP
/// and far services seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 10.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    /// Counts per bucket, not cumulative; `+Inf` is `count`.
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Debug, Default)]
struct Values {
    counts: BTreeMap<(IntegrationKind, &'static str), u64>,
    latency: BTreeMap<IntegrationKind, Histogram>,
}

/// Counters and histograms, shared by the workers.
#[derive(Debug, Default)]
pub struct DeliveryMetrics {
    values: Mutex<Values>,
}

impl DeliveryMetrics {
    /// Counts one outcome; `outcome` is one of [`OUTCOMES`].
    pub fn count(&self, integration: IntegrationKind, outcome: &'static str) {
        *self
            .values
            .lock()
            .counts
            .entry((integration, outcome))
            .or_insert(0) += 1;
    }

    pub fn observe_latency(&self, integration: IntegrationKind, seconds: f64) {
        let mut values = self.values.lock();
        let histogram = values.latency.entry(integration).or_default();
        if let Some(index) = BUCKETS.iter().position(|bound| seconds <= *bound) {
            histogram.buckets[index] += 1;
        }
        histogram.count += 1;
        histogram.sum += seconds;
    }

    /// The count for one label pair (tests, status pages).
    pub fn value(&self, integration: IntegrationKind, outcome: &str) -> u64 {
        self.values
            .lock()
            .counts
            .iter()
            .find(|((i, o), _)| *i == integration && *o == outcome)
            .map_or(0, |(_, v)| *v)
    }

    /// Appends both families in Prometheus text format 0.0.4. Every
    /// integration and outcome is present from the start (at 0), so
    /// `rate()` sees the first increase.
    pub fn write_text(&self, out: &mut String) {
        let values = self.values.lock();
        out.push_str("# HELP agentmon_notifications_total Notification delivery attempts and decisions, by integration and outcome.\n");
        out.push_str("# TYPE agentmon_notifications_total counter\n");
        for integration in IntegrationKind::ALL {
            for outcome in OUTCOMES {
                let value = values
                    .counts
                    .get(&(integration, outcome))
                    .copied()
                    .unwrap_or(0);
                let _ = writeln!(
                    out,
                    "agentmon_notifications_total{{integration=\"{integration}\",status=\"{outcome}\"}} {value}"
                );
            }
        }
        out.push_str("# HELP agentmon_notification_latency_seconds Time one notification delivery attempt took.\n");
        out.push_str("# TYPE agentmon_notification_latency_seconds histogram\n");
        for (integration, histogram) in &values.latency {
            let mut cumulative = 0;
            for (bound, count) in BUCKETS.iter().zip(histogram.buckets) {
                cumulative += count;
                let _ = writeln!(
                    out,
                    "agentmon_notification_latency_seconds_bucket{{integration=\"{integration}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "agentmon_notification_latency_seconds_bucket{{integration=\"{integration}\",le=\"+Inf\"}} {}",
                histogram.count
            );
            let _ = writeln!(
                out,
                "agentmon_notification_latency_seconds_sum{{integration=\"{integration}\"}} {}",
                histogram.sum
            );
            let _ = writeln!(
                out,
                "agentmon_notification_latency_seconds_count{{integration=\"{integration}\"}} {}",
                histogram.count
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let metrics = DeliveryMetrics::default();
        metrics.count(IntegrationKind::Webhook, "sent");
        metrics.count(IntegrationKind::Webhook, "sent");
        metrics.count(IntegrationKind::Email, "retried");
        metrics.observe_latency(IntegrationKind::Webhook, 0.003);
        metrics.observe_latency(IntegrationKind::Webhook, 0.2);
        metrics.observe_latency(IntegrationKind::Webhook, 60.0);
        let mut out = String::new();
        metrics.write_text(&mut out);
        assert!(out
            .contains("agentmon_notifications_total{integration=\"webhook\",status=\"sent\"} 2\n"));
        assert!(out.contains(
            "agentmon_notifications_total{integration=\"email\",status=\"retried\"} 1\n"
        ));
        assert!(out
            .contains("agentmon_notifications_total{integration=\"slack\",status=\"failed\"} 0\n"));
        assert!(out.contains("agentmon_notification_latency_seconds_bucket{integration=\"webhook\",le=\"0.0025\"} 0\n"));
        assert!(out.contains("agentmon_notification_latency_seconds_bucket{integration=\"webhook\",le=\"0.005\"} 1\n"));
        assert!(out.contains(
            "agentmon_notification_latency_seconds_bucket{integration=\"webhook\",le=\"0.25\"} 2\n"
        ));
        assert!(out.contains(
            "agentmon_notification_latency_seconds_bucket{integration=\"webhook\",le=\"10\"} 2\n"
        ));
        assert!(out.contains(
            "agentmon_notification_latency_seconds_bucket{integration=\"webhook\",le=\"+Inf\"} 3\n"
        ));
        assert!(out
            .contains("agentmon_notification_latency_seconds_count{integration=\"webhook\"} 3\n"));
        assert_eq!(metrics.value(IntegrationKind::Webhook, "sent"), 2);
    }
}
