//! Self-metrics of the OTLP receiver: data points (metrics) and spans
//! (traces) received, and those refused by signal and reason. Both label
//! sets are fixed by code, so cardinality stays bounded.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use parking_lot::Mutex;

/// The OTLP signals agentmon receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Signal {
    Metrics,
    Traces,
}

impl Signal {
    fn as_str(self) -> &'static str {
        match self {
            Signal::Metrics => "metrics",
            Signal::Traces => "traces",
        }
    }
}

#[derive(Debug, Default)]
struct Counts {
    received: BTreeMap<Signal, u64>,
    rejected: BTreeMap<(Signal, &'static str), u64>,
}

/// Counters shared by all OTLP requests.
#[derive(Debug, Default)]
pub struct OtlpMetrics {
    counts: Mutex<Counts>,
}

impl OtlpMetrics {
    /// Counts the items (data points or spans) of one decoded request.
    pub fn received(&self, signal: Signal, items: usize) {
        *self.counts.lock().received.entry(signal).or_insert(0) += items as u64;
    }

    /// Counts items refused for `reason`.
    pub fn rejected(&self, signal: Signal, reason: &'static str, items: usize) {
        if items == 0 {
            return;
        }
        *self
            .counts
            .lock()
            .rejected
            .entry((signal, reason))
            .or_insert(0) += items as u64;
    }

    /// Appends the families in Prometheus text format.
    pub fn write_text(&self, out: &mut String) {
        let counts = self.counts.lock();
        out.push_str("# HELP agentmon_otlp_data_points_received_total OTLP data points (metrics) and spans (traces) in decoded requests.\n");
        out.push_str("# TYPE agentmon_otlp_data_points_received_total counter\n");
        for signal in [Signal::Metrics, Signal::Traces] {
            let value = counts.received.get(&signal).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "agentmon_otlp_data_points_received_total{{signal=\"{}\"}} {value}",
                signal.as_str()
            );
        }
        out.push_str(
            "# HELP agentmon_otlp_rejected_total OTLP data points or spans refused, by reason.\n",
        );
        out.push_str("# TYPE agentmon_otlp_rejected_total counter\n");
        for ((signal, reason), value) in &counts.rejected {
            let _ = writeln!(
                out,
                "agentmon_otlp_rejected_total{{signal=\"{}\",reason=\"{reason}\"}} {value}",
                signal.as_str()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_render_by_signal_and_reason() {
        let metrics = OtlpMetrics::default();
        metrics.received(Signal::Metrics, 5);
        metrics.received(Signal::Metrics, 2);
        metrics.rejected(Signal::Metrics, "delta_temporality", 3);
        metrics.rejected(Signal::Traces, "ignored", 0);
        let mut out = String::new();
        metrics.write_text(&mut out);
        assert!(out.contains("agentmon_otlp_data_points_received_total{signal=\"metrics\"} 7\n"));
        assert!(out.contains("agentmon_otlp_data_points_received_total{signal=\"traces\"} 0\n"));
        assert!(out.contains(
            "agentmon_otlp_rejected_total{signal=\"metrics\",reason=\"delta_temporality\"} 3\n"
        ));
        assert!(!out.contains("ignored"));
    }
}
