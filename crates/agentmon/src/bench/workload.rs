//! The agent-fleet workload of `bench/WORKLOAD.md`: 180 series per Hermes
//! agent instance, advanced one 15 s step at a time.
//!
//! Everything is deterministic for a seed. Each instance draws from its own
//! PRNG stream (seeded from the run seed and the instance number), so an
//! instance's data does not depend on how instances are batched or on which
//! thread generates them.
//!
//! Values:
//! - counters grow each step by `rate × 15 s × modulation × U(0.5, 1.5)`,
//!   rounded to the counter's quantum (one token, one call, 0.0001 USD); the
//!   modulation is `1 + 0.5·sin(2π·step/40 + phase)` with a per-instance phase;
//! - gauges random-walk in small integer steps (sessions by −2..=2, resident
//!   memory by −64..=64 pages of 4 KiB);
//! - each histogram label set draws one observation count per step, places
//!   every observation in a bucket by an exponential distribution around the
//!   group's mean, adds the count to `+Inf` and `_count`, and adds
//!   `count × mean` to `_sum`, rounding the sum to 3 decimals (whole
//!   milliseconds) so it stays a short decimal; buckets stay cumulative.
//!
//! Timestamps: every series of one instance in one step carries the same
//! timestamp, the step time plus 1–40 ms of jitter drawn once per
//! (instance, step), as one real scrape of that instance would.

use agentmon_model::{MetricMetadata, MetricType};

use super::rng::Rng;

/// Series emitted per instance.
pub const SERIES_PER_INSTANCE: usize = 180;
/// Time between two scrapes of an instance.
pub const STEP_MS: i64 = 15_000;
const STEP_SECONDS: f64 = 15.0;
/// Steps in one period of the traffic modulation.
const MODULATION_PERIOD: f64 = 40.0;

const MODELS: [&str; 2] = ["hermes-3-8b", "hermes-3-70b"];
const TOOLS: [&str; 10] = [
    "web_search",
    "python",
    "shell",
    "read_file",
    "write_file",
    "browser",
    "sql",
    "http_get",
    "calculator",
    "memory",
];
const REQUEST_BUCKETS: [&str; 9] = ["0.5", "1", "2", "5", "10", "30", "60", "120", "300"];
const TOOL_BUCKETS: [&str; 8] = ["0.01", "0.05", "0.1", "0.5", "1", "5", "10", "30"];
const PAGE_BYTES: f64 = 4096.0;

/// How one series' value evolves.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// `rate` per second, increments rounded to multiples of `quantum`.
    Counter { rate: f64, quantum: f64 },
    /// Random walk by `-max_step..=max_step` units of `unit`, starting at
    /// `initial.0..=initial.1` units.
    Gauge {
        max_step: i64,
        unit: f64,
        initial: (i64, i64),
    },
    /// Bucket, `+Inf`, `_sum` and `_count` series are written by their group.
    Histogram,
}

/// One series of an instance, minus the instance's own label value.
#[derive(Debug, Clone)]
pub struct SeriesTemplate {
    /// Label pairs sorted by name; the `instance` pair has an empty value that
    /// [`Families::labels_for`] replaces.
    pub labels: Vec<(&'static str, String)>,
    kind: Kind,
}

/// The series of one histogram label set, by index into the series list.
#[derive(Debug, Clone)]
struct Group {
    /// Observations per second.
    rate: f64,
    /// Mean observed value in seconds, a whole number of milliseconds.
    mean: f64,
    /// Probability that an observation is ≤ each finite bound.
    cdf: Vec<f64>,
    /// Series indices of the finite buckets, then `+Inf`.
    buckets: Vec<usize>,
    sum: usize,
    count: usize,
}

/// The per-instance series set shared by all instances, with its metadata.
#[derive(Debug, Clone)]
pub struct Families {
    pub series: Vec<SeriesTemplate>,
    groups: Vec<Group>,
    /// (family name, metadata) for every family, to send once per run.
    pub metadata: Vec<(&'static str, MetricMetadata)>,
}

impl Default for Families {
    fn default() -> Self {
        Self::new()
    }
}

impl Families {
    pub fn new() -> Families {
        let mut f = Families {
            series: Vec::new(),
            groups: Vec::new(),
            metadata: Vec::new(),
        };
        f.meta(
            "hermes_request_duration_seconds",
            MetricType::Histogram,
            "Agent run latency.",
        );
        for (status, rate, mean) in [("success", 1.5, 4.2), ("error", 0.1, 11.5)] {
            let extra = [("method", "POST"), ("endpoint", "/run"), ("status", status)];
            f.histogram(
                "hermes_request_duration_seconds",
                &extra,
                &REQUEST_BUCKETS,
                rate,
                mean,
            );
        }
        f.meta(
            "hermes_tokens_total",
            MetricType::Counter,
            "LLM tokens used.",
        );
        for (model, prompt, completion) in [(MODELS[0], 420.0, 160.0), (MODELS[1], 210.0, 70.0)] {
            for (token_type, rate) in [("prompt", prompt), ("completion", completion)] {
                let extra = [("model", model), ("token_type", token_type)];
                f.counter("hermes_tokens_total", &extra, rate, 1.0);
            }
        }
        f.meta(
            "hermes_cost_usd_total",
            MetricType::Counter,
            "LLM spend in US dollars.",
        );
        for (model, rate) in [(MODELS[0], 0.0004), (MODELS[1], 0.0021)] {
            let extra = [("model", model), ("provider", "nous_research")];
            f.counter("hermes_cost_usd_total", &extra, rate, 0.0001);
        }
        f.meta(
            "hermes_llm_errors_total",
            MetricType::Counter,
            "Failed LLM calls.",
        );
        for model in MODELS {
            for (error_type, rate) in [
                ("rate_limit", 0.2),
                ("context_too_long", 0.03),
                ("timeout", 0.08),
                ("api_error", 0.05),
            ] {
                let extra = [("model", model), ("error_type", error_type)];
                f.counter("hermes_llm_errors_total", &extra, rate, 1.0);
            }
        }
        f.meta(
            "hermes_tool_call_total",
            MetricType::Counter,
            "Tool invocations.",
        );
        for (i, tool) in TOOLS.iter().enumerate() {
            let base = 3.0 / (1.0 + i as f64 * 0.6);
            for (status, share) in [("success", 0.92), ("error", 0.05), ("timeout", 0.03)] {
                let extra = [("tool_name", *tool), ("status", status)];
                f.counter("hermes_tool_call_total", &extra, base * share, 1.0);
            }
        }
        f.meta(
            "hermes_tool_duration_seconds",
            MetricType::Histogram,
            "Tool call latency.",
        );
        for (i, tool) in TOOLS.iter().enumerate() {
            let rate = 3.0 / (1.0 + i as f64 * 0.6);
            let mean = [0.9, 1.8, 0.35, 0.012, 0.02, 4.5, 0.25, 0.6, 0.003, 0.04][i];
            let extra = [("tool_name", *tool)];
            f.histogram(
                "hermes_tool_duration_seconds",
                &extra,
                &TOOL_BUCKETS,
                rate,
                mean,
            );
        }
        f.meta(
            "hermes_active_sessions",
            MetricType::Gauge,
            "Sessions in progress.",
        );
        let sessions = Kind::Gauge {
            max_step: 2,
            unit: 1.0,
            initial: (5, 40),
        };
        f.push("hermes_active_sessions", &[], sessions);
        f.meta(
            "process_resident_memory_bytes",
            MetricType::Gauge,
            "Resident memory size.",
        );
        let rss = Kind::Gauge {
            max_step: 64,
            unit: PAGE_BYTES,
            initial: (70_000, 200_000),
        };
        f.push("process_resident_memory_bytes", &[], rss);
        debug_assert_eq!(f.series.len(), SERIES_PER_INSTANCE);
        f
    }

    fn meta(&mut self, family: &'static str, metric_type: MetricType, help: &str) {
        let meta = MetricMetadata {
            metric_type,
            help: help.to_owned(),
            unit: String::new(),
        };
        self.metadata.push((family, meta));
    }

    fn push(&mut self, name: &str, extra: &[(&'static str, &str)], kind: Kind) -> usize {
        let mut labels: Vec<(&'static str, String)> = vec![
            ("__name__", name.to_owned()),
            ("job", "hermes-agent".to_owned()),
            ("instance", String::new()),
        ];
        labels.extend(extra.iter().map(|(n, v)| (*n, (*v).to_owned())));
        labels.sort_by(|a, b| a.0.cmp(b.0));
        self.series.push(SeriesTemplate { labels, kind });
        self.series.len() - 1
    }

    fn counter(&mut self, name: &str, extra: &[(&'static str, &str)], rate: f64, quantum: f64) {
        self.push(name, extra, Kind::Counter { rate, quantum });
    }

    fn histogram(
        &mut self,
        family: &str,
        extra: &[(&'static str, &str)],
        bounds: &[&'static str],
        rate: f64,
        mean: f64,
    ) {
        let bucket_name = format!("{family}_bucket");
        let mut buckets = Vec::with_capacity(bounds.len() + 1);
        let mut cdf = Vec::with_capacity(bounds.len());
        for le in bounds.iter().copied().chain(["+Inf"]) {
            let mut labels = extra.to_vec();
            labels.push(("le", le));
            buckets.push(self.push(&bucket_name, &labels, Kind::Histogram));
        }
        for le in bounds {
            let bound: f64 = le.parse().expect("numeric bucket bound");
            cdf.push(1.0 - (-bound / mean).exp());
        }
        let sum = self.push(&format!("{family}_sum"), extra, Kind::Histogram);
        let count = self.push(&format!("{family}_count"), extra, Kind::Histogram);
        self.groups.push(Group {
            rate,
            mean,
            cdf,
            buckets,
            sum,
            count,
        });
    }

    /// The instance label value of instance `i`: `10.0.<i/250>.<i%250>:8000`.
    pub fn instance_name(i: usize) -> String {
        format!("10.0.{}.{}:8000", i / 250, i % 250)
    }
}

/// Rounds to a multiple of `quantum`, computed in units so that decimal
/// quanta (0.0001, 0.001) give the nearest short decimal.
fn round_to(value: f64, quantum: f64) -> f64 {
    let units = 1.0 / quantum;
    (value * units).round() / units
}

/// The evolving values of one instance.
#[derive(Debug, Clone)]
pub struct InstanceState {
    pub instance: String,
    rng: Rng,
    phase: f64,
    step: u64,
    /// Current value of every series, in [`Families::series`] order.
    pub values: Vec<f64>,
}

impl InstanceState {
    /// Instance `index` of a run seeded with `seed`, with random starting
    /// values as if it had been up for a while.
    pub fn new(families: &Families, seed: u64, index: usize) -> InstanceState {
        let mut mixer = Rng::new(seed ^ (index as u64).wrapping_mul(0xd6e8_feb8_6659_fd93));
        let mut rng = Rng::new(mixer.next_u64());
        let phase = rng.next_f64() * std::f64::consts::TAU;
        let uptime = 600.0 + rng.next_f64() * 7200.0;
        let mut values = vec![0.0; families.series.len()];
        for (value, series) in values.iter_mut().zip(&families.series) {
            *value = match series.kind {
                Kind::Counter { rate, quantum } => round_to(rate * uptime, quantum),
                Kind::Gauge { unit, initial, .. } => rng.range(initial.0, initial.1) as f64 * unit,
                Kind::Histogram => 0.0,
            };
        }
        for group in &families.groups {
            let n = (group.rate * uptime).round();
            for (&series, p) in group.buckets.iter().zip(&group.cdf) {
                values[series] = (n * p).floor();
            }
            values[*group.buckets.last().expect("+Inf bucket")] = n;
            values[group.count] = n;
            values[group.sum] = round_to(n * group.mean, 0.001);
        }
        InstanceState {
            instance: Families::instance_name(index),
            rng,
            phase,
            step: 0,
            values,
        }
    }

    /// Advances every value by one step and returns the step's timestamp:
    /// `start_ms + step × 15 s + jitter`, jitter 1–40 ms, shared by all the
    /// instance's series in this step.
    pub fn advance(&mut self, families: &Families, start_ms: i64) -> i64 {
        let step = self.step;
        self.step += 1;
        let angle = std::f64::consts::TAU * step as f64 / MODULATION_PERIOD + self.phase;
        let modulation = 1.0 + 0.5 * angle.sin();
        let rng = &mut self.rng;
        for (value, series) in self.values.iter_mut().zip(&families.series) {
            match series.kind {
                Kind::Counter { rate, quantum } => {
                    let increment = rate * STEP_SECONDS * modulation * (0.5 + rng.next_f64());
                    *value = round_to(*value + round_to(increment, quantum), quantum);
                }
                Kind::Gauge { max_step, unit, .. } => {
                    let walked = *value + rng.range(-max_step, max_step) as f64 * unit;
                    *value = walked.max(0.0);
                }
                Kind::Histogram => {}
            }
        }
        for group in &families.groups {
            let expected = group.rate * STEP_SECONDS * modulation;
            let n = (expected * (0.5 + rng.next_f64())).round() as usize;
            let mut per_bucket = [0u32; 16];
            for _ in 0..n {
                let u = rng.next_f64();
                if let Some(b) = group.cdf.iter().position(|p| u <= *p) {
                    per_bucket[b] += 1;
                }
            }
            let mut cumulative = 0.0;
            for (b, &series) in group.buckets[..group.cdf.len()].iter().enumerate() {
                cumulative += per_bucket[b] as f64;
                self.values[series] += cumulative;
            }
            let n = n as f64;
            self.values[*group.buckets.last().expect("+Inf bucket")] += n;
            self.values[group.count] += n;
            let sum = &mut self.values[group.sum];
            *sum = round_to(*sum + n * group.mean, 0.001);
        }
        let jitter = self.rng.range(1, 40);
        start_ms + step as i64 * STEP_MS + jitter
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentmon_model::{validate_wire_labels, LabelRef};
    use std::collections::HashSet;

    fn label_refs<'a>(t: &'a SeriesTemplate, instance: &'a str) -> Vec<LabelRef<'a>> {
        let value = |n: &str, v: &'a str| if n == "instance" { instance } else { v };
        t.labels
            .iter()
            .map(|(n, v)| LabelRef::new(n, value(n, v)))
            .collect()
    }

    #[test]
    fn every_instance_has_180_unique_valid_series() {
        let families = Families::new();
        assert_eq!(families.series.len(), SERIES_PER_INSTANCE);
        assert_eq!(families.metadata.len(), 8);
        let mut seen = HashSet::new();
        for i in [0usize, 1, 251, 5599] {
            let instance = Families::instance_name(i);
            for t in &families.series {
                let labels = label_refs(t, &instance);
                validate_wire_labels(&labels).unwrap();
                let key: Vec<(String, String)> = labels
                    .iter()
                    .map(|l| (l.name.to_owned(), l.value.to_owned()))
                    .collect();
                assert!(seen.insert(key), "duplicate series {:?}", t.labels);
            }
        }
        assert_eq!(seen.len(), 4 * SERIES_PER_INSTANCE);
        assert_eq!(Families::instance_name(251), "10.0.1.1:8000");
    }

    #[test]
    fn same_seed_same_data_other_seed_other_data() {
        let families = Families::new();
        let run = |seed| {
            let mut state = InstanceState::new(&families, seed, 7);
            (0..30)
                .map(|_| (state.advance(&families, 0), state.values.clone()))
                .collect::<Vec<_>>()
        };
        let a = run(42);
        let b = run(42);
        assert!(a.iter().zip(&b).all(|(x, y)| {
            x.0 == y.0
                && x.1
                    .iter()
                    .zip(&y.1)
                    .all(|(p, q)| p.to_bits() == q.to_bits())
        }));
        assert_ne!(a.last().unwrap().1, run(43).last().unwrap().1);
    }

    #[test]
    fn histograms_stay_cumulative_and_counters_never_decrease() {
        let families = Families::new();
        let mut state = InstanceState::new(&families, 1, 3);
        let mut previous = state.values.clone();
        for _ in 0..100 {
            state.advance(&families, 0);
            for group in &families.groups {
                let buckets: Vec<f64> = group.buckets.iter().map(|&s| state.values[s]).collect();
                assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
                assert_eq!(*buckets.last().unwrap(), state.values[group.count]);
                assert!(state.values[group.sum] >= previous[group.sum]);
            }
            for (i, t) in families.series.iter().enumerate() {
                if !matches!(t.kind, Kind::Gauge { .. }) {
                    assert!(state.values[i] >= previous[i], "{:?}", t.labels);
                }
            }
            previous = state.values.clone();
        }
    }

    #[test]
    fn timestamps_increase_and_carry_jitter() {
        let families = Families::new();
        let mut state = InstanceState::new(&families, 9, 0);
        let start = 1_700_000_000_000 - 1_700_000_000_000 % STEP_MS;
        let mut last = i64::MIN;
        for step in 0..240 {
            let t = state.advance(&families, start);
            let jitter = t - (start + step * STEP_MS);
            assert!((1..=40).contains(&jitter), "jitter {jitter}");
            assert!(t > last);
            last = t;
        }
    }

    #[test]
    fn values_are_short_decimals() {
        let families = Families::new();
        let mut state = InstanceState::new(&families, 5, 11);
        for _ in 0..50 {
            state.advance(&families, 0);
        }
        for v in &state.values {
            let text = format!("{v}");
            let decimals = text.split('.').nth(1).map_or(0, str::len);
            assert!(decimals <= 4, "{text}");
        }
    }
}
