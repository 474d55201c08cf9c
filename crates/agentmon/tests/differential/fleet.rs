//! A deterministic "agent fleet": the Hermes agent metrics of the shared
//! seed (`hermes_metrics.py`: tool calls, tokens, cost, step-duration
//! histograms, active sessions) for four agent instances scraped every 15 s
//! for 2 h 45 min, with the events a real fleet has:
//!
//! - `agent-1` misses scrapes for 8 minutes (a gap longer than the 5 minute
//!   lookback, without stale markers);
//! - `agent-2` restarts, so all its counters and histogram buckets reset;
//! - `agent-3` goes away: every one of its series ends with a stale marker
//!   (`0x7ff0000000000002`) and gets no samples after it;
//! - a tool (`browser`) appears on `agent-0` half an hour in.
//!
//! Counters and histograms start from a running total, as those of a
//! process that was up before the data begins.
//!
//! Every sample timestamp ends in a fraction of a second (each instance
//! has its own scrape phase of `n` s + 321 ms), while every evaluation time,
//! range, offset and subquery step the queries use is a whole number of
//! seconds. So no sample ever sits on a window boundary, where Prometheus
//! 2.x (closed windows) and 3.x (left-open) disagree.
//!
//! The span stays under 3 h so that Prometheus's head never compacts
//! (it cuts a block once the head spans 1.5 × 2 h), and everything is
//! written oldest first: Prometheus 2.42's remote-write receiver appends to
//! the head only, which refuses samples older than its newest sample minus
//! one hour.

use std::collections::BTreeMap;

use agentmon_model::STALE_NAN;

use crate::common::http::TestSeries;

/// Scrape interval of every instance.
pub const SCRAPE_INTERVAL_MS: i64 = 15_000;
/// Scrapes per instance: 2 h 45 min.
pub const SCRAPES: i64 = 660;
/// Instances of the fleet.
pub const INSTANCES: [&str; 4] = ["agent-0", "agent-1", "agent-2", "agent-3"];
/// `agent-1` misses the scrapes in this half-open range.
pub const GAP: (i64, i64) = (200, 232);
/// `agent-2` restarts before this scrape: its counters start again from zero.
pub const RESTART_AT: i64 = 300;
/// `agent-3`'s series get a stale marker at this scrape and nothing after.
pub const GONE_AT: i64 = 420;
/// The `browser` tool appears on `agent-0` at this scrape.
pub const BROWSER_FROM: i64 = 120;

/// Scrapes every counter has counted before the data begins. Without
/// them a window reaching back before a counter's first sample would
/// extrapolate towards the counter's zero point, which Prometheus 2.42
/// and 3.x do in a different order (see `docs/promql-compat.md`).
const WARM_UP: i64 = 400;
/// Bucket bounds of `hermes_step_duration_seconds`, as in the seed.
const STEP_BUCKETS: [&str; 7] = ["0.1", "0.5", "1", "2", "5", "10", "30"];
const TOOLS: [&str; 3] = ["web_search", "code_exec", "file_read"];
const MODELS: [(&str, &str); 2] = [("claude-sonnet", "anthropic"), ("gpt-4o", "openai")];
const STEP_TYPES: [&str; 2] = ["plan", "act"];
const LLM_ERRORS: [&str; 2] = ["rate_limit", "timeout"];

/// The generated data and where it sits in time.
pub struct Fleet {
    /// A whole minute, before the first sample of every series.
    pub start_ms: i64,
    pub series: Vec<TestSeries>,
}

impl Fleet {
    /// Generates the fleet so that its last scrape lies a little before
    /// `now_ms`.
    pub fn generate(now_ms: i64) -> Fleet {
        let end_minute = now_ms / 60_000 * 60_000 - 60_000;
        let start_ms = end_minute - SCRAPES * SCRAPE_INTERVAL_MS;
        let mut series = Vec::new();
        for (index, instance) in INSTANCES.iter().enumerate() {
            let scrapes = scrape_times(start_ms, index);
            series.extend(instance_series(instance, index, &scrapes));
        }
        Fleet { start_ms, series }
    }

    /// `start_ms` plus whole minutes and seconds: an evaluation time.
    pub fn at(&self, minutes: i64, seconds: i64) -> i64 {
        self.start_ms + minutes * 60_000 + seconds * 1000
    }

    /// The series restricted to the scrapes in `[from, to)` (by scrape
    /// index), without the series that have no sample there.
    pub fn slice(&self, from: i64, to: i64) -> Vec<TestSeries> {
        let (lo, hi) = (self.scrape_time_floor(from), self.scrape_time_floor(to));
        self.series
            .iter()
            .filter_map(|s| {
                let samples: Vec<(i64, f64)> = s
                    .samples
                    .iter()
                    .copied()
                    .filter(|&(t, _)| t >= lo && t < hi)
                    .collect();
                (!samples.is_empty()).then(|| TestSeries {
                    labels: s.labels.clone(),
                    samples,
                })
            })
            .collect()
    }

    /// Earliest time any instance could scrape for scrape index `k`.
    fn scrape_time_floor(&self, k: i64) -> i64 {
        self.start_ms + k * SCRAPE_INTERVAL_MS
    }

    /// How many samples the fleet holds.
    pub fn sample_count(&self) -> usize {
        self.series.iter().map(|s| s.samples.len()).sum()
    }
}

/// `(scrape index, timestamp)` of every scrape instance `index` answered.
fn scrape_times(start_ms: i64, index: usize) -> Vec<(i64, i64)> {
    let phase = 321 + 1000 * (3 + 4 * index as i64 % 11);
    (0..SCRAPES)
        .filter(|&k| !(index == 1 && (GAP.0..GAP.1).contains(&k)))
        .filter(|&k| !(index == 3 && k > GONE_AT))
        .map(|k| (k, start_ms + k * SCRAPE_INTERVAL_MS + phase))
        .collect()
}

/// SplitMix64: a well-mixed 64-bit value for any input, so the data is
/// the same on every run without a random-number crate.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A uniform value in `[0, 1)` for the stream `stream` at scrape `k`.
fn uniform(stream: u64, k: i64) -> f64 {
    (mix(mix(stream) ^ k as u64) >> 11) as f64 / (1u64 << 53) as f64
}

/// A stable stream number for a name.
fn stream_of(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Builds one series of `instance` from per-scrape values; scrapes where
/// `value` returns `None` are left out, and a series of `agent-3` ends with
/// a stale marker at [`GONE_AT`].
fn build(
    name: &str,
    instance: &str,
    labels: &[(&str, &str)],
    scrapes: &[(i64, i64)],
    mut value: impl FnMut(i64) -> Option<f64>,
) -> TestSeries {
    let mut all: Vec<(&str, &str)> = vec![
        ("__name__", name),
        ("instance", instance),
        ("job", "hermes"),
    ];
    all.extend_from_slice(labels);
    all.sort();
    let mut samples = Vec::new();
    for &(k, t) in scrapes {
        if k == GONE_AT && instance == "agent-3" {
            samples.push((t, STALE_NAN));
        } else if let Some(v) = value(k) {
            samples.push((t, v));
        }
    }
    TestSeries::new(&all, &samples)
}

/// A counter whose increment at scrape `k` is `step(k)`. It has counted
/// [`WARM_UP`] scrapes before the first one written, as the counter of a
/// process that was running before the data begins; it starts from zero
/// again at [`RESTART_AT`] on `agent-2`.
fn counter(instance: &str, mut step: impl FnMut(i64) -> f64) -> impl FnMut(i64) -> Option<f64> {
    let mut total: f64 = (-WARM_UP..0).map(&mut step).sum();
    let restarts = instance == "agent-2";
    move |k| {
        if restarts && k == RESTART_AT {
            total = 0.0;
        }
        total += step(k);
        Some(total)
    }
}

fn instance_series(instance: &str, index: usize, scrapes: &[(i64, i64)]) -> Vec<TestSeries> {
    let mut out = Vec::new();
    let seed = stream_of(instance);
    let load = 1.0 + index as f64 * 0.5;

    let mut tools: Vec<&str> = TOOLS.to_vec();
    if index == 0 {
        tools.push("browser");
    }
    for tool in tools {
        for status in ["success", "error"] {
            let stream = seed ^ stream_of(tool) ^ stream_of(status);
            let (scale, first) = match (tool, status) {
                ("browser", _) => (3.0, BROWSER_FROM),
                (_, "success") => (12.0 * load, 0),
                _ => (1.5, 0),
            };
            let mut calls = counter(instance, move |k| (uniform(stream, k) * scale).floor());
            out.push(build(
                "hermes_tool_call_total",
                instance,
                &[("tool_name", tool), ("status", status)],
                scrapes,
                move |k| if k >= first { calls(k) } else { None },
            ));
        }
    }

    for (model, provider) in MODELS {
        let mut cost_of_scrape = Vec::new();
        for token_type in ["prompt", "completion"] {
            let stream = seed ^ stream_of(model) ^ stream_of(token_type);
            let size = if token_type == "prompt" {
                40_000.0
            } else {
                6_000.0
            };
            let price = if token_type == "prompt" { 3e-6 } else { 15e-6 };
            let tokens_at = move |k: i64| (uniform(stream, k) * size * load).floor();
            cost_of_scrape.push(move |k: i64| tokens_at(k) * price);
            out.push(build(
                "hermes_tokens_total",
                instance,
                &[("model", model), ("token_type", token_type)],
                scrapes,
                counter(instance, tokens_at),
            ));
        }
        let [prompt_cost, completion_cost] = [cost_of_scrape[0], cost_of_scrape[1]];
        out.push(build(
            "hermes_cost_usd_total",
            instance,
            &[("model", model), ("provider", provider)],
            scrapes,
            counter(instance, move |k| prompt_cost(k) + completion_cost(k)),
        ));
        for error_type in LLM_ERRORS {
            let stream = seed ^ stream_of(model) ^ stream_of(error_type);
            out.push(build(
                "hermes_llm_errors_total",
                instance,
                &[("model", model), ("error_type", error_type)],
                scrapes,
                counter(
                    instance,
                    move |k| {
                        if uniform(stream, k) < 0.04 {
                            1.0
                        } else {
                            0.0
                        }
                    },
                ),
            ));
        }
        for step_type in STEP_TYPES {
            out.extend(step_histogram(instance, index, model, step_type, scrapes));
        }
    }

    let sessions_stream = seed ^ stream_of("sessions");
    let mut sessions = 10.0 + 4.0 * index as f64;
    out.push(build(
        "hermes_active_sessions",
        instance,
        &[],
        scrapes,
        move |k| {
            let u = uniform(sessions_stream, k);
            sessions = (sessions + (u * 7.0).floor() - 3.0).clamp(0.0, 48.0);
            Some(sessions)
        },
    ));
    let budget_stream = seed ^ stream_of("budget");
    out.push(build(
        "hermes_budget_remaining_usd",
        instance,
        &[],
        scrapes,
        move |k| Some(40.0 - 0.11 * k as f64 * load + uniform(budget_stream, k) * 3.0),
    ));
    let region = if index.is_multiple_of(2) { "eu" } else { "us" };
    let version = if index < 2 { "1.4.2" } else { "1.5.0" };
    out.push(build(
        "hermes_agent_info",
        instance,
        &[("region", region), ("version", version)],
        scrapes,
        |_| Some(1.0),
    ));
    out
}

/// A histogram's state after one scrape: cumulative bucket counts (the
/// last is `+Inf`, which is also the count) and the sum of observations.
struct HistogramRow {
    buckets: Vec<f64>,
    sum: f64,
}

/// The `_bucket`, `_sum` and `_count` series of one step-duration
/// histogram, fed by a few observations per scrape.
fn step_histogram(
    instance: &str,
    index: usize,
    model: &str,
    step_type: &str,
    scrapes: &[(i64, i64)],
) -> Vec<TestSeries> {
    let stream = stream_of(instance) ^ stream_of(model) ^ stream_of(step_type);
    let bounds: Vec<f64> = STEP_BUCKETS.iter().map(|b| b.parse().unwrap()).collect();
    let mut counts = vec![0.0; bounds.len() + 1];
    let mut sum = 0.0;
    let mut rows: BTreeMap<i64, HistogramRow> = BTreeMap::new();
    let typical = if step_type == "plan" { 0.8 } else { 3.0 } * (1.0 + index as f64 * 0.3);
    let warm_up = (-WARM_UP..0).map(|k| (k, 0));
    for (k, _) in warm_up.chain(scrapes.iter().copied()) {
        if instance == "agent-2" && k == RESTART_AT {
            counts.iter_mut().for_each(|c| *c = 0.0);
            sum = 0.0;
        }
        let observations = (uniform(stream, k) * 5.0).floor() as i64;
        for i in 0..observations {
            let u = uniform(stream ^ 0x5eed, k * 8 + i);
            // Roughly log-normal around `typical`, from 0.02 s to 60 s.
            let seconds = (typical * (4.0 * (u - 0.5)).exp() * (0.5 + u)).min(60.0);
            sum += seconds;
            for (bucket, bound) in counts
                .iter_mut()
                .zip(bounds.iter().chain([f64::INFINITY].iter()))
            {
                if seconds <= *bound {
                    *bucket += 1.0;
                }
            }
        }
        if k < 0 {
            continue;
        }
        rows.insert(
            k,
            HistogramRow {
                buckets: counts.clone(),
                sum,
            },
        );
    }
    let value_at = |k: i64, pick: &dyn Fn(&HistogramRow) -> f64| rows.get(&k).map(pick);
    let base = [("model", model), ("step_type", step_type)];
    let mut out = Vec::new();
    for (b, le) in STEP_BUCKETS.iter().chain(["+Inf"].iter()).enumerate() {
        let mut labels = base.to_vec();
        labels.push(("le", le));
        out.push(build(
            "hermes_step_duration_seconds_bucket",
            instance,
            &labels,
            scrapes,
            |k| value_at(k, &|r| r.buckets[b]),
        ));
    }
    out.push(build(
        "hermes_step_duration_seconds_sum",
        instance,
        &base,
        scrapes,
        |k| value_at(k, &|r| r.sum),
    ));
    out.push(build(
        "hermes_step_duration_seconds_count",
        instance,
        &base,
        scrapes,
        |k| value_at(k, &|r| r.buckets[bounds.len()]),
    ));
    out
}
