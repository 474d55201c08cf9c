//! agentmon's own HTTP metrics: request counts by handler and status code,
//! and a latency histogram by handler. The handler label is the route
//! pattern (axum's `MatchedPath`, e.g. `/api/v1/label/{name}/values`), so
//! label cardinality stays bounded whatever paths clients send.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use parking_lot::Mutex;

use crate::state::AppState;

/// Prometheus's default histogram buckets, in seconds.
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The handler label of requests that matched no route.
const UNMATCHED: &str = "unmatched";

#[derive(Debug, Default, Clone)]
struct Histogram {
    /// Cumulative counts per bucket, `+Inf` excluded (it is `count`).
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (bucket, bound) in self.buckets.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
        self.count += 1;
        self.sum += seconds;
    }
}

#[derive(Debug, Default)]
struct Counts {
    requests: BTreeMap<(String, u16), u64>,
    durations: BTreeMap<String, Histogram>,
}

/// Request counters and latency histograms, shared by all requests.
#[derive(Debug, Default)]
pub struct HttpMetrics {
    counts: Mutex<Counts>,
}

impl HttpMetrics {
    /// Records one finished request.
    pub fn observe(&self, handler: &str, code: u16, seconds: f64) {
        let mut counts = self.counts.lock();
        *counts
            .requests
            .entry((handler.to_owned(), code))
            .or_insert(0) += 1;
        counts
            .durations
            .entry(handler.to_owned())
            .or_default()
            .observe(seconds);
    }

    /// Appends the families in Prometheus text format.
    pub fn write_text(&self, out: &mut String) {
        let counts = self.counts.lock();
        out.push_str("# HELP agentmon_http_requests_total HTTP requests answered, by route and status code.\n");
        out.push_str("# TYPE agentmon_http_requests_total counter\n");
        for ((handler, code), value) in &counts.requests {
            let _ = writeln!(
                out,
                "agentmon_http_requests_total{{handler=\"{}\",code=\"{code}\"}} {value}",
                escape_label_value(handler)
            );
        }
        out.push_str("# HELP agentmon_http_request_duration_seconds Time to answer HTTP requests, by route.\n");
        out.push_str("# TYPE agentmon_http_request_duration_seconds histogram\n");
        for (handler, histogram) in &counts.durations {
            let handler = escape_label_value(handler);
            for (bound, count) in BUCKETS.iter().zip(histogram.buckets) {
                let _ = writeln!(
                    out,
                    "agentmon_http_request_duration_seconds_bucket{{handler=\"{handler}\",le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "agentmon_http_request_duration_seconds_bucket{{handler=\"{handler}\",le=\"+Inf\"}} {}",
                histogram.count
            );
            let _ = writeln!(
                out,
                "agentmon_http_request_duration_seconds_sum{{handler=\"{handler}\"}} {}",
                histogram.sum
            );
            let _ = writeln!(
                out,
                "agentmon_http_request_duration_seconds_count{{handler=\"{handler}\"}} {}",
                histogram.count
            );
        }
    }
}

/// Escapes a label value for the text format (backslash, quote, newline).
pub(crate) fn escape_label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Middleware that times every request and counts it by route and status.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let handler = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, |path| path.as_str())
        .to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let seconds = started.elapsed().as_secs_f64();
    state
        .http_metrics()
        .observe(&handler, response.status().as_u16(), seconds);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let metrics = HttpMetrics::default();
        metrics.observe("/x", 200, 0.003);
        metrics.observe("/x", 500, 0.2);
        let mut out = String::new();
        metrics.write_text(&mut out);
        assert!(out.contains("agentmon_http_requests_total{handler=\"/x\",code=\"200\"} 1\n"));
        assert!(out.contains("agentmon_http_requests_total{handler=\"/x\",code=\"500\"} 1\n"));
        assert!(out.contains("le=\"0.005\"} 1\n"));
        assert!(out.contains("le=\"0.25\"} 2\n"));
        assert!(out.contains("le=\"+Inf\"} 2\n"));
        assert!(out.contains("agentmon_http_request_duration_seconds_count{handler=\"/x\"} 2\n"));
    }
}
