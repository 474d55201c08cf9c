//! `agentmon bench query`: times PromQL range queries against any server
//! that speaks Prometheus's `/api/v1/query_range`.
//!
//! Each query is sent `--warmup` times untimed, then `--iterations` times
//! one after another over one keep-alive connection; the report gives the
//! median, the 90th percentile and the fastest wall-clock time per query
//! (request sent to body read), the number of series and points returned
//! and the sum of all returned values, so answers of different servers can
//! be compared at a glance. A query whose answer is not `success` is
//! reported with its error instead of times.
//!
//! Without `--query`, the five standard dashboard queries of
//! `bench/WORKLOAD.md` and a few heavier ones are run.

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;

/// The standard dashboard queries of the agent-fleet workload, then heavier
/// ones: more series per selector, wider windows, nested aggregations.
pub const STANDARD_QUERIES: &[&str] = &[
    "histogram_quantile(0.95, sum by (le) (rate(hermes_request_duration_seconds_bucket[5m])))",
    "sum by (tool_name) (rate(hermes_tool_call_total{status=\"error\"}[5m])) / sum by (tool_name) (rate(hermes_tool_call_total[5m]))",
    "topk(5, sum by (instance) (rate(hermes_tokens_total[5m])))",
    "sum(rate(hermes_cost_usd_total[1h])) by (model) * 3600",
    "count(hermes_active_sessions)",
    "histogram_quantile(0.99, sum by (le, tool_name) (rate(hermes_tool_duration_seconds_bucket[5m])))",
    "sum by (instance) (rate(hermes_tool_call_total[5m]))",
    "avg_over_time(hermes_active_sessions[15m])",
    "sum by (model, error_type) (increase(hermes_llm_errors_total[10m])) > 0",
];

/// Options of `agentmon bench query`.
#[derive(clap::Args, Debug, Clone)]
pub struct QueryArgs {
    /// Server base URL, e.g. http://127.0.0.1:9090 (the API path is added).
    #[arg(long)]
    pub url: String,
    /// A query to time; repeat for several. Default: the standard set.
    #[arg(long = "query")]
    pub queries: Vec<String>,
    /// Range start in ms since the epoch.
    #[arg(long)]
    pub start_ms: i64,
    /// Range end in ms since the epoch.
    #[arg(long)]
    pub end_ms: i64,
    /// Resolution step in seconds.
    #[arg(long, default_value_t = 15.0)]
    pub step_seconds: f64,
    /// Timed runs per query.
    #[arg(long, default_value_t = 15)]
    pub iterations: usize,
    /// Untimed runs per query before the timed ones.
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
    /// Bearer token sent in the Authorization header.
    #[arg(long)]
    pub token: Option<String>,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    pub json_out: Option<PathBuf>,
}

/// The timing of one query.
#[derive(Debug, Clone, Serialize)]
pub struct QueryTiming {
    pub query: String,
    /// Milliseconds; absent when the query failed.
    pub median_ms: Option<f64>,
    pub p90_ms: Option<f64>,
    pub min_ms: Option<f64>,
    pub series: usize,
    pub points: usize,
    /// Sum of every returned finite value (a cheap fingerprint of the answer).
    pub value_sum: f64,
    /// The server's error, if the query failed.
    pub error: Option<String>,
}

/// Outcome of one run.
#[derive(Debug, Clone, Serialize)]
pub struct QueryReport {
    pub url: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub step_seconds: f64,
    pub iterations: usize,
    pub queries: Vec<QueryTiming>,
}

/// Runs every query and gathers the report.
pub fn run_query_bench(args: &QueryArgs) -> anyhow::Result<QueryReport> {
    anyhow::ensure!(args.iterations > 0, "--iterations must be at least 1");
    anyhow::ensure!(
        args.end_ms >= args.start_ms,
        "--end-ms is before --start-ms"
    );
    anyhow::ensure!(args.step_seconds > 0.0, "--step-seconds must be positive");
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()?;
    let queries: Vec<String> = if args.queries.is_empty() {
        STANDARD_QUERIES.iter().map(|q| (*q).to_owned()).collect()
    } else {
        args.queries.clone()
    };
    let endpoint = format!("{}/api/v1/query_range", args.url.trim_end_matches('/'));
    let mut timings = Vec::with_capacity(queries.len());
    for query in queries {
        timings.push(time_query(&client, &endpoint, &query, args)?);
    }
    let report = QueryReport {
        url: args.url.clone(),
        start_ms: args.start_ms,
        end_ms: args.end_ms,
        step_seconds: args.step_seconds,
        iterations: args.iterations,
        queries: timings,
    };
    if let Some(path) = &args.json_out {
        let json = serde_json::to_vec_pretty(&report)?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(report)
}

fn time_query(
    client: &reqwest::blocking::Client,
    endpoint: &str,
    query: &str,
    args: &QueryArgs,
) -> anyhow::Result<QueryTiming> {
    let form = [
        ("query", query.to_owned()),
        ("start", format_seconds(args.start_ms)),
        ("end", format_seconds(args.end_ms)),
        ("step", args.step_seconds.to_string()),
    ];
    let send = || -> anyhow::Result<(Duration, serde_json::Value)> {
        let mut request = client.post(endpoint).form(&form);
        if let Some(token) = &args.token {
            request = request.bearer_auth(token);
        }
        let started = Instant::now();
        let response = request.send().with_context(|| format!("POST {endpoint}"))?;
        let body = response.bytes()?;
        let elapsed = started.elapsed();
        let json: serde_json::Value = serde_json::from_slice(&body)
            .with_context(|| format!("answer to {query:?} is not JSON"))?;
        Ok((elapsed, json))
    };
    let mut timing = QueryTiming {
        query: query.to_owned(),
        median_ms: None,
        p90_ms: None,
        min_ms: None,
        series: 0,
        points: 0,
        value_sum: 0.0,
        error: None,
    };
    for _ in 0..args.warmup {
        send()?;
    }
    let mut times = Vec::with_capacity(args.iterations);
    for _ in 0..args.iterations {
        let (elapsed, json) = send()?;
        if json["status"] != "success" {
            timing.error = Some(json["error"].as_str().unwrap_or("no error text").to_owned());
            return Ok(timing);
        }
        (timing.series, timing.points, timing.value_sum) = fingerprint(&json);
        times.push(elapsed.as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    timing.median_ms = Some(percentile(&times, 0.5));
    timing.p90_ms = Some(percentile(&times, 0.9));
    timing.min_ms = times.first().copied();
    Ok(timing)
}

/// Series, points and the sum of finite values of a matrix answer.
fn fingerprint(json: &serde_json::Value) -> (usize, usize, f64) {
    let result = json["data"]["result"].as_array();
    let series = result.map_or(0, Vec::len);
    let mut points = 0;
    let mut sum = 0.0;
    for s in result.into_iter().flatten() {
        for p in s["values"].as_array().into_iter().flatten() {
            points += 1;
            let v: f64 = p[1]
                .as_str()
                .and_then(|v| v.parse().ok())
                .unwrap_or(f64::NAN);
            if v.is_finite() {
                sum += v;
            }
        }
    }
    (series, points, sum)
}

/// The value at fraction `q` of sorted `values` (nearest rank).
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let rank = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Milliseconds as the seconds string the API takes.
fn format_seconds(ms: i64) -> String {
    format!("{:.3}", ms as f64 / 1000.0)
}

impl fmt::Display for QueryReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} — range {} s at {} s steps, {} timed runs per query",
            self.url,
            (self.end_ms - self.start_ms) / 1000,
            self.step_seconds,
            self.iterations
        )?;
        for (i, t) in self.queries.iter().enumerate() {
            match (&t.error, t.median_ms) {
                (Some(error), _) => writeln!(f, "  q{}: error: {error}", i + 1)?,
                (None, Some(median)) => writeln!(
                    f,
                    "  q{}: median {median:.1} ms, p90 {:.1} ms, min {:.1} ms; {} series, {} points, sum {:.6e}",
                    i + 1,
                    t.p90_ms.unwrap_or(f64::NAN),
                    t.min_ms.unwrap_or(f64::NAN),
                    t.series,
                    t.points,
                    t.value_sum
                )?,
                (None, None) => writeln!(f, "  q{}: no timed runs", i + 1)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0];
        assert_eq!(percentile(&v, 0.5), 5.0);
        assert_eq!(percentile(&v, 0.9), 9.0);
        assert_eq!(percentile(&[3.0], 0.9), 3.0);
    }

    #[test]
    fn seconds_keep_milliseconds_and_negative_times() {
        assert_eq!(format_seconds(1_700_000_000_123), "1700000000.123");
        assert_eq!(format_seconds(-1), "-0.001");
    }

    #[test]
    fn fingerprints_count_points_and_skip_non_finite_values() {
        let json = serde_json::json!({"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{},"values":[[1,"1.5"],[2,"NaN"]]},
            {"metric":{"a":"b"},"values":[[1,"+Inf"],[2,"2"]]}
        ]}});
        assert_eq!(fingerprint(&json), (2, 4, 3.5));
    }
}
