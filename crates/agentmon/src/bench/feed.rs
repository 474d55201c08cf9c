//! `agentmon bench feed`: the agent-fleet workload ([`super::workload`])
//! remote-written in real time to one or more receivers, so that servers
//! evaluating rules see the same live data (`bench/rules.sh`).
//!
//! The run starts with `--backfill-steps` past steps sent at once (so
//! range functions over the last minutes have full windows from the
//! start), then sends one step every 15 s, each when the wall clock reaches
//! the step's timestamp. Steps are aligned to multiples of 15 s; every
//! instance's samples carry the step time plus its 1–40 ms jitter, as in
//! `agentmon bench remote-write`. Every receiver gets identical request
//! bodies, each over its own keep-alive connection and thread, so a slow
//! receiver does not delay the others. Once the backfill is acknowledged by
//! every receiver, `--ready-file` is written; `--progress-file` holds the
//! time of the last step every receiver has answered for. The run ends after
//! `--duration` (or when the process is stopped); failed requests (after
//! retries of 5xx, 429 and transport errors) are counted and printed.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use agentmon_ingest::remote_write::encode::{compress, WriteRequestEncoder};
use agentmon_model::{LabelRef, Sample};
use anyhow::{bail, Context};

use super::workload::{Families, InstanceState, STEP_MS};

/// Options of `agentmon bench feed`.
#[derive(clap::Args, Debug, Clone)]
pub struct FeedArgs {
    /// Remote-write endpoint; repeat for several receivers.
    #[arg(long = "url", required = true)]
    pub urls: Vec<String>,
    /// Agent instances, 180 series each.
    #[arg(long, default_value_t = 200)]
    pub instances: usize,
    /// Whole instances per request.
    #[arg(long, default_value_t = 11)]
    pub batch_instances: usize,
    /// Past steps sent at once before the live steps.
    #[arg(long, default_value_t = 40)]
    pub backfill_steps: usize,
    /// How long to send live steps, e.g. 10m.
    #[arg(long, value_parser = parse_duration, default_value = "10m")]
    pub duration: Duration,
    /// Written (empty) once the backfill is acknowledged everywhere.
    #[arg(long)]
    pub ready_file: Option<PathBuf>,
    /// Rewritten after every step with the step's time (ms since the
    /// epoch, before jitter) once every receiver has answered for it: data
    /// up to that time plus 1 s is the same on every receiver.
    #[arg(long)]
    pub progress_file: Option<PathBuf>,
    /// Seed of the workload's random values.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    agentmon_model::duration::parse(text).map_err(|e| e.to_string())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Counters of one receiver.
#[derive(Default)]
struct Sent {
    requests: AtomicU64,
    failed: AtomicU64,
    samples: AtomicU64,
}

/// The bodies of one step, one per batch of instances.
fn step_bodies(
    families: &Families,
    states: &mut [InstanceState],
    batch_instances: usize,
    start_ms: i64,
    with_metadata: bool,
) -> Vec<Vec<u8>> {
    let mut encoder = WriteRequestEncoder::with_capacity(batch_instances * 180 * 200);
    let mut bodies = Vec::new();
    let mut refs: Vec<LabelRef<'_>> = Vec::with_capacity(8);
    for (batch, chunk) in states.chunks_mut(batch_instances).enumerate() {
        encoder.clear();
        if with_metadata && batch == 0 {
            for (family, meta) in &families.metadata {
                encoder.add_metadata(family, meta);
            }
        }
        for state in chunk.iter_mut() {
            let t = state.advance(families, start_ms);
            for (template, &v) in families.series.iter().zip(&state.values) {
                refs.clear();
                refs.extend(template.labels.iter().map(|(name, value)| {
                    let value = if *name == "instance" {
                        state.instance.as_str()
                    } else {
                        value.as_str()
                    };
                    LabelRef::new(name, value)
                }));
                encoder.add_series(&refs, &[Sample::new(t, v)]);
            }
        }
        bodies.push(compress(encoder.finish()));
    }
    bodies
}

/// Sends one body, retrying 5xx, 429 and transport errors up to 4 times.
fn send(client: &reqwest::blocking::Client, url: &str, body: &[u8]) -> Result<(), String> {
    let mut backoff = Duration::from_millis(50);
    let mut attempt = 1;
    loop {
        let result = client
            .post(url)
            .header("Content-Encoding", "snappy")
            .header("Content-Type", "application/x-protobuf")
            .header("User-Agent", "agentmon-bench")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .body(body.to_vec())
            .send();
        let (retryable, message) = match result {
            Ok(response) => {
                let status = response.status();
                let text = response.text().unwrap_or_default();
                if status.is_success() {
                    return Ok(());
                }
                let text: String = text.trim().chars().take(200).collect();
                (
                    status.is_server_error() || status.as_u16() == 429,
                    format!("HTTP {status}: {text}"),
                )
            }
            Err(e) => (true, format!("transport: {e}")),
        };
        if !retryable || attempt >= 4 {
            return Err(format!("{message} (attempt {attempt})"));
        }
        std::thread::sleep(backoff);
        backoff *= 2;
        attempt += 1;
    }
}

/// Sends every body of one step to every receiver in parallel.
fn send_step(
    clients: &[reqwest::blocking::Client],
    urls: &[String],
    sent: &[Sent],
    bodies: &[Vec<u8>],
    samples_per_body: &[u64],
) {
    std::thread::scope(|scope| {
        for ((client, url), sent) in clients.iter().zip(urls).zip(sent) {
            scope.spawn(move || {
                for (body, &samples) in bodies.iter().zip(samples_per_body) {
                    sent.requests.fetch_add(1, Ordering::Relaxed);
                    match send(client, url, body) {
                        Ok(()) => {
                            sent.samples.fetch_add(samples, Ordering::Relaxed);
                        }
                        Err(message) => {
                            let failed = sent.failed.fetch_add(1, Ordering::Relaxed) + 1;
                            if failed <= 5 {
                                eprintln!("feed: {url}: {message}");
                            }
                        }
                    }
                }
            });
        }
    });
}

/// Backfills, then feeds live steps until `--duration` has passed.
pub fn run_feed(args: &FeedArgs) -> anyhow::Result<()> {
    if args.instances == 0 || args.batch_instances == 0 {
        bail!("--instances and --batch-instances must be positive");
    }
    let families = Families::new();
    let mut states: Vec<InstanceState> = (0..args.instances)
        .map(|i| InstanceState::new(&families, args.seed, i))
        .collect();
    let clients = args
        .urls
        .iter()
        .map(|_| {
            reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(30))
                .pool_max_idle_per_host(1)
                .build()
        })
        .collect::<Result<Vec<_>, _>>()
        .context("building HTTP client")?;
    let sent: Vec<Sent> = args.urls.iter().map(|_| Sent::default()).collect();
    let samples_per_body: Vec<u64> = (0..args.instances)
        .collect::<Vec<_>>()
        .chunks(args.batch_instances)
        .map(|c| (c.len() * families.series.len()) as u64)
        .collect();

    let now = now_ms();
    let aligned = now - now.rem_euclid(STEP_MS);
    let start_ms = aligned - args.backfill_steps as i64 * STEP_MS;
    let live_steps = (args.duration.as_millis() as i64 / STEP_MS).max(1) as usize;
    for step in 0..args.backfill_steps + live_steps {
        let due = start_ms + step as i64 * STEP_MS;
        let wait = due - now_ms();
        if wait > 0 {
            std::thread::sleep(Duration::from_millis(wait as u64));
        }
        let bodies = step_bodies(
            &families,
            &mut states,
            args.batch_instances,
            start_ms,
            step == 0,
        );
        send_step(&clients, &args.urls, &sent, &bodies, &samples_per_body);
        if let Some(path) = &args.progress_file {
            // Written beside and renamed over, so a reader sees a whole number.
            let temporary = path.with_extension("tmp");
            std::fs::write(&temporary, format!("{due}\n"))
                .and_then(|()| std::fs::rename(&temporary, path))
                .with_context(|| format!("writing {}", path.display()))?;
        }
        if step + 1 == args.backfill_steps.max(1) {
            if let Some(path) = &args.ready_file {
                std::fs::write(path, b"").with_context(|| format!("writing {}", path.display()))?;
            }
            eprintln!("feed: backfill of {} steps sent", args.backfill_steps);
        }
    }
    for (url, sent) in args.urls.iter().zip(&sent) {
        eprintln!(
            "feed: {url}: {} requests, {} failed, {} samples acknowledged",
            sent.requests.load(Ordering::Relaxed),
            sent.failed.load(Ordering::Relaxed),
            sent.samples.load(Ordering::Relaxed)
        );
    }
    Ok(())
}
