//! `agentmon bench scrape-targets`: N scrape targets on N loopback ports,
//! for the scraping benchmark (`bench/scrape.sh`).
//!
//! Every target serves `/metrics` in the Prometheus text format 0.0.4 with
//! [`SERIES_PER_TARGET`] series shaped like an agent service's exposition:
//! labelled counters (requests, tool calls, tokens, cost, errors), gauges
//! (sessions, queues, memory, workers, build info) and two histograms. Each
//! scrape of a target advances its values (counters grow, gauges move,
//! histogram buckets fill), so a scraper stores new values every time, as it
//! would from a live service. Values differ between targets and series.
//!
//! The addresses are written one per line to `--addresses-out` once every
//! port is bound; the process then serves until `--duration` has passed
//! or it is stopped.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

/// Series in one target's exposition.
pub const SERIES_PER_TARGET: usize = 180;

/// Options of `agentmon bench scrape-targets`.
#[derive(clap::Args, Debug, Clone)]
pub struct ScrapeTargetsArgs {
    /// Targets to serve, each on its own loopback port.
    #[arg(long, default_value_t = 1000)]
    pub targets: usize,
    /// Where to write the targets' host:port, one per line.
    #[arg(long)]
    pub addresses_out: PathBuf,
    /// Stop after this long, e.g. 10m; default: serve until stopped.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Worker threads serving the targets.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    agentmon_model::duration::parse(text).map_err(|e| e.to_string())
}

/// One target's state: its number and how often it was scraped.
struct Target {
    number: u64,
    scrapes: AtomicU64,
}

/// Binds every port, writes the address file and serves.
pub fn run_scrape_targets(args: &ScrapeTargetsArgs) -> anyhow::Result<()> {
    if args.targets == 0 {
        anyhow::bail!("--targets must be positive");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        let mut addresses = String::new();
        for number in 0..args.targets {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .with_context(|| format!("binding a loopback port for target {number}"))?;
            let address = listener.local_addr().context("reading the bound address")?;
            let _ = writeln!(addresses, "{address}");
            let target = Arc::new(Target {
                number: number as u64,
                scrapes: AtomicU64::new(0),
            });
            let app = axum::Router::new()
                .route("/metrics", axum::routing::get(metrics))
                .with_state(target);
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, app).await {
                    tracing::error!(error = %e, %address, "target stopped serving");
                }
            });
        }
        std::fs::write(&args.addresses_out, addresses)
            .with_context(|| format!("writing {}", args.addresses_out.display()))?;
        tracing::info!(
            targets = args.targets,
            series_per_target = SERIES_PER_TARGET,
            file = %args.addresses_out.display(),
            "scrape targets serving"
        );
        match args.duration {
            Some(duration) => tokio::time::sleep(duration).await,
            None => std::future::pending::<()>().await,
        }
        Ok(())
    })
}

async fn metrics(State(target): State<Arc<Target>>) -> impl IntoResponse {
    let scrape = target.scrapes.fetch_add(1, Ordering::Relaxed) + 1;
    let mut page = String::with_capacity(16 * 1024);
    render_exposition(&mut page, target.number, scrape);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        page,
    )
}

/// A small stable hash of (target, series), for per-series values.
fn mix(target: u64, series: u64) -> u64 {
    let mut z = target
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add(series.wrapping_mul(0xbf58_476d_1ce4_e5b9));
    z ^= z >> 31;
    z = z.wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 29)
}

/// Writes series of one family, numbering them for [`mix`].
struct Writer<'a> {
    out: &'a mut String,
    target: u64,
    scrape: u64,
    series: u64,
}

impl Writer<'_> {
    fn header(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    /// A counter sample: grows by a per-series step every scrape.
    fn counter(&mut self, name: &str, labels: &str) {
        let h = mix(self.target, self.series);
        self.series += 1;
        let value = h % 5000 + self.scrape * (1 + h % 97);
        let _ = writeln!(self.out, "{name}{labels} {value}");
    }

    /// A gauge sample: moves around a per-series level every scrape.
    fn gauge(&mut self, name: &str, labels: &str, scale: f64) {
        let h = mix(self.target, self.series);
        self.series += 1;
        let level = (h % 1000) as f64;
        let wobble = ((self.scrape.wrapping_mul(31).wrapping_add(h)) % 200) as f64 - 100.0;
        let value = (level + wobble).max(0.0) * scale;
        let _ = writeln!(self.out, "{name}{labels} {value}");
    }

    /// A classic histogram with `le` buckets (the last is +Inf), whose
    /// count grows every scrape; `labels` is the other labels, each with a
    /// trailing comma.
    fn histogram(&mut self, name: &str, labels: &str, bounds: &[&str], mean: f64) {
        let h = mix(self.target, self.series);
        let count = self.scrape * (20 + h % 40) + h % 100;
        let buckets = bounds.len() as u64;
        for (i, bound) in bounds.iter().enumerate() {
            // A cumulative share that reaches the whole count at +Inf.
            let i = i as u64 + 1;
            let filled = if i == buckets {
                count
            } else {
                count * i * i / (buckets * buckets)
            };
            let _ = writeln!(self.out, "{name}_bucket{{{labels}le=\"{bound}\"}} {filled}");
        }
        let labels = labels.trim_end_matches(',');
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(self.out, "{name}_sum{braces} {}", count as f64 * mean);
        let _ = writeln!(self.out, "{name}_count{braces} {count}");
        self.series += buckets + 2;
    }
}

/// The exposition of target `target` at its `scrape`-th scrape: exactly
/// [`SERIES_PER_TARGET`] samples.
pub fn render_exposition(out: &mut String, target: u64, scrape: u64) {
    const ROUTES: &[&str] = &[
        "/chat",
        "/sessions",
        "/tools",
        "/health",
        "/metrics",
        "/events",
    ];
    const TOOLS: &[&str] = &[
        "web_search",
        "read_file",
        "write_file",
        "run_shell",
        "http_get",
        "sql_query",
        "vector_search",
    ];
    const MODELS: &[&str] = &[
        "gpt-4o",
        "gpt-4o-mini",
        "claude-sonnet-4",
        "gemini-2.5-flash",
        "local-7b",
    ];
    const QUEUES: &[&str] = &[
        "interactive",
        "batch",
        "retry",
        "scheduled",
        "webhook",
        "internal",
    ];
    let mut w = Writer {
        out,
        target,
        scrape,
        series: 0,
    };
    w.header(
        "app_http_requests_total",
        "counter",
        "HTTP requests handled.",
    );
    for method in ["GET", "POST"] {
        for route in ROUTES {
            for code in ["200", "404", "500"] {
                w.counter(
                    "app_http_requests_total",
                    &format!("{{method=\"{method}\",route=\"{route}\",code=\"{code}\"}}"),
                );
            }
        }
    }
    w.header("app_tool_calls_total", "counter", "Tool calls by outcome.");
    for tool in TOOLS {
        for status in ["success", "error", "timeout"] {
            w.counter(
                "app_tool_calls_total",
                &format!("{{tool=\"{tool}\",status=\"{status}\"}}"),
            );
        }
    }
    w.header("app_llm_tokens_total", "counter", "Tokens used by model.");
    for model in MODELS {
        for kind in ["prompt", "completion"] {
            w.counter(
                "app_llm_tokens_total",
                &format!("{{model=\"{model}\",kind=\"{kind}\"}}"),
            );
        }
    }
    w.header("app_llm_cost_usd_total", "counter", "Spend by model.");
    for model in MODELS {
        w.counter("app_llm_cost_usd_total", &format!("{{model=\"{model}\"}}"));
    }
    w.header("app_errors_total", "counter", "Errors by kind.");
    for kind in [
        "rate_limit",
        "context_too_long",
        "timeout",
        "api_error",
        "internal",
    ] {
        w.counter("app_errors_total", &format!("{{kind=\"{kind}\"}}"));
    }
    w.header("app_active_sessions", "gauge", "Sessions running now.");
    for queue in QUEUES {
        w.gauge(
            "app_active_sessions",
            &format!("{{queue=\"{queue}\"}}"),
            1.0,
        );
    }
    w.header("app_queue_depth", "gauge", "Work items waiting.");
    for queue in QUEUES {
        w.gauge("app_queue_depth", &format!("{{queue=\"{queue}\"}}"), 1.0);
    }
    w.header("app_memory_bytes", "gauge", "Memory by area.");
    for area in ["heap", "stack", "cache", "buffers", "embeddings"] {
        w.gauge(
            "app_memory_bytes",
            &format!("{{area=\"{area}\"}}"),
            1048576.0,
        );
    }
    w.header("app_cache_hit_ratio", "gauge", "Cache hit ratio.");
    for cache in ["prompt", "embedding", "tool", "session"] {
        w.gauge(
            "app_cache_hit_ratio",
            &format!("{{cache=\"{cache}\"}}"),
            0.001,
        );
    }
    w.header("app_worker_busy", "gauge", "Whether a worker is busy.");
    for worker in 0..8 {
        w.gauge(
            "app_worker_busy",
            &format!("{{worker=\"{worker}\"}}"),
            0.001,
        );
    }
    for (name, kind, scale) in [
        ("app_open_connections", "gauge", 1.0),
        ("app_threads", "gauge", 0.1),
        ("app_config_last_reload_successful", "gauge", 0.001),
        ("process_resident_memory_bytes", "gauge", 1048576.0),
        ("process_open_fds", "gauge", 1.0),
        ("app_uptime_seconds", "gauge", 10.0),
    ] {
        w.header(name, kind, "Process state.");
        w.gauge(name, "", scale);
    }
    w.header("process_cpu_seconds_total", "counter", "CPU time used.");
    w.counter("process_cpu_seconds_total", "");
    w.header("process_start_time_seconds", "gauge", "Start time.");
    let _ = writeln!(
        w.out,
        "process_start_time_seconds {}",
        1_700_000_000 + target
    );
    w.series += 1;
    w.header("app_build_info", "gauge", "Build information.");
    let _ = writeln!(
        w.out,
        "app_build_info{{version=\"1.4.{}\",commit=\"{:08x}\"}} 1",
        target % 7,
        mix(target, 0) as u32
    );
    w.series += 1;
    const SECONDS: &[&str] = &[
        "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf",
    ];
    w.header(
        "app_request_duration_seconds",
        "histogram",
        "Request latency.",
    );
    for route in &ROUTES[..4] {
        w.histogram(
            "app_request_duration_seconds",
            &format!("route=\"{route}\","),
            SECONDS,
            0.2,
        );
    }
    w.header(
        "app_step_duration_seconds",
        "histogram",
        "Model step latency.",
    );
    w.histogram(
        "app_step_duration_seconds",
        "",
        &["0.1", "0.5", "1", "2", "5", "10", "+Inf"],
        1.8,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(page: &str) -> Vec<(&str, f64)> {
        page.lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| {
                let (series, value) = l.rsplit_once(' ').unwrap();
                (series, value.parse().unwrap())
            })
            .collect()
    }

    #[test]
    fn an_exposition_has_180_distinct_series_whose_counters_grow() {
        let (mut first, mut second) = (String::new(), String::new());
        render_exposition(&mut first, 3, 1);
        render_exposition(&mut second, 3, 2);
        let (a, b) = (samples(&first), samples(&second));
        assert_eq!(a.len(), SERIES_PER_TARGET);
        let distinct: std::collections::BTreeSet<_> = a.iter().map(|(s, _)| *s).collect();
        assert_eq!(distinct.len(), SERIES_PER_TARGET, "{first}");
        let names: Vec<_> = b.iter().map(|(s, _)| *s).collect();
        assert_eq!(names, a.iter().map(|(s, _)| *s).collect::<Vec<_>>());
        let mut changed = 0;
        for ((series, v1), (_, v2)) in a.iter().zip(&b) {
            if series.contains("_total") || series.contains("_bucket") || series.contains("_count")
            {
                assert!(v2 >= v1, "{series}: {v1} -> {v2}");
            }
            changed += usize::from(v1 != v2);
        }
        assert!(
            changed > SERIES_PER_TARGET / 2,
            "only {changed} series changed"
        );
        // Buckets are cumulative and end at the count.
        let buckets: Vec<f64> = b
            .iter()
            .filter(|(s, _)| s.starts_with("app_step_duration_seconds_bucket"))
            .map(|(_, v)| *v)
            .collect();
        assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
        let count = b
            .iter()
            .find(|(s, _)| *s == "app_step_duration_seconds_count")
            .unwrap()
            .1;
        assert_eq!(buckets.last(), Some(&count));
    }
}
