//! `agentmon bench live`: latency from `POST /api/v1/events` to delivery on
//! the WebSocket live stream (`docs/live-stream.md`).
//!
//! `--subscribers` WebSocket clients connect to `/ws` and subscribe to
//! `"*"`; once every one is confirmed, a poster sends `log` events at
//! `--rate` events per second in batches of `--batch-size` for
//! `--duration`. Each event's message carries its sequence number and the
//! instant its POST began, in microseconds of this process's monotonic
//! clock, so each subscriber measures, per event, the time from the POST to
//! the moment the message was read off its socket. The report gives p50,
//! p99, p99.9 and the maximum over every subscriber and event, and per
//! subscriber the events it never saw (lost), the messages the server told
//! it were dropped (`lagged`), and messages that came out of order.
//!
//! The clock is read in one process on one machine, so no clock skew enters
//! the figures; the subscribers and the server share the machine's cores,
//! so a busy machine shows up as latency.

use std::fmt;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tokio_tungstenite::tungstenite::Message;

/// Options of `agentmon bench live`.
#[derive(clap::Args, Debug, Clone)]
pub struct LiveArgs {
    /// agentmon's base URL, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    pub url: String,
    /// WebSocket subscribers, each subscribed to "*".
    #[arg(long, default_value_t = 100)]
    pub subscribers: usize,
    /// Events posted per second.
    #[arg(long, default_value_t = 10_000)]
    pub rate: u64,
    /// Events per POST.
    #[arg(long, default_value_t = 100)]
    pub batch_size: usize,
    /// How long to post, e.g. 10s.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// How long subscribers wait for the last events after posting ends.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub drain: Duration,
    /// Bearer token (needs the write role for posting and read for /ws).
    #[arg(long)]
    pub token: Option<String>,
    /// Worker threads of the client's runtime.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    pub json_out: Option<PathBuf>,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    agentmon_model::duration::parse(text).map_err(|e| e.to_string())
}

/// What one subscriber saw.
#[derive(Debug, Default, Clone, Serialize)]
pub struct SubscriberOutcome {
    pub received: u64,
    pub lost: u64,
    /// Messages the server said it dropped for this client (`lagged`).
    pub lagged_dropped: u64,
    pub out_of_order: u64,
    #[serde(skip)]
    latencies_us: Vec<u32>,
    pub error: Option<String>,
}

/// Outcome of one run.
#[derive(Debug, Clone, Serialize)]
pub struct LiveReport {
    pub url: String,
    pub subscribers: usize,
    pub target_rate: u64,
    pub batch_size: usize,
    /// Events in acknowledged POSTs.
    pub events_posted: u64,
    pub failed_posts: u64,
    pub post_seconds: f64,
    pub achieved_rate: f64,
    /// POST round trips (request sent to answer read), milliseconds.
    pub post_p50_ms: f64,
    pub post_p99_ms: f64,
    /// Deliveries measured (events × subscribers that received them).
    pub deliveries: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    /// Sum over subscribers of events not received.
    pub lost: u64,
    pub lagged_dropped: u64,
    pub out_of_order: u64,
    pub subscribers_failed: u64,
    pub client_cpu_seconds: f64,
    pub errors: Vec<String>,
}

impl LiveReport {
    /// True when every event reached every subscriber, in order.
    pub fn is_success(&self) -> bool {
        self.failed_posts == 0
            && self.lost == 0
            && self.out_of_order == 0
            && self.subscribers_failed == 0
    }
}

impl fmt::Display for LiveReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "live stream of {}", self.url)?;
        writeln!(
            f,
            "  posted       {} events in batches of {} at {:.0}/s (target {}/s), {} failed posts",
            self.events_posted,
            self.batch_size,
            self.achieved_rate,
            self.target_rate,
            self.failed_posts
        )?;
        writeln!(
            f,
            "  POST         round trip p50 {:.2} ms, p99 {:.2} ms",
            self.post_p50_ms, self.post_p99_ms
        )?;
        writeln!(
            f,
            "  delivered    {} messages to {} subscribers; lost {}, lagged-dropped {}, out of order {}, failed subscribers {}",
            self.deliveries,
            self.subscribers,
            self.lost,
            self.lagged_dropped,
            self.out_of_order,
            self.subscribers_failed
        )?;
        for error in &self.errors {
            writeln!(f, "    {error}")?;
        }
        writeln!(f, "  client CPU   {:.2} s", self.client_cpu_seconds)?;
        write!(
            f,
            "  latency      p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
            self.p50_ms, self.p90_ms, self.p99_ms, self.p999_ms, self.max_ms
        )
    }
}

/// Runs the benchmark on a runtime of its own.
pub fn run_live_bench(args: &LiveArgs) -> anyhow::Result<LiveReport> {
    if args.subscribers == 0 || args.rate == 0 || args.batch_size == 0 || args.duration.is_zero() {
        bail!("--subscribers, --rate, --batch-size and --duration must be positive");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
        .context("starting the client runtime")?;
    let cpu_before = super::remote_write::process_cpu_seconds();
    let mut report = runtime.block_on(run(args))?;
    report.client_cpu_seconds = super::remote_write::process_cpu_seconds() - cpu_before;
    if let Some(path) = &args.json_out {
        let json = serde_json::to_string_pretty(&report).context("serializing the report")?;
        std::fs::write(path, json + "\n").with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(report)
}

/// Shared between the poster and the subscribers.
struct Progress {
    origin: Instant,
    /// Events posted and acknowledged; final once `posting_done`.
    posted: AtomicU64,
    posting_done: AtomicBool,
}

async fn run(args: &LiveArgs) -> anyhow::Result<LiveReport> {
    let base = args.url.trim_end_matches('/');
    let ws_url = match base.strip_prefix("http://") {
        Some(rest) => format!("ws://{rest}/ws"),
        None => bail!("--url must start with http:// (got {base:?})"),
    };
    let progress = Arc::new(Progress {
        origin: Instant::now(),
        posted: AtomicU64::new(0),
        posting_done: AtomicBool::new(false),
    });

    // Connect and subscribe everyone before the first event.
    let mut sockets = Vec::with_capacity(args.subscribers);
    for index in 0..args.subscribers {
        let mut request =
            tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
                ws_url.as_str(),
            )
            .context("building the WebSocket request")?;
        if let Some(token) = &args.token {
            let value = format!("Bearer {token}")
                .parse()
                .context("token is not a valid header value")?;
            request.headers_mut().insert("Authorization", value);
        }
        let (mut socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .with_context(|| format!("subscriber {index}: connecting to {ws_url}"))?;
        socket
            .send(Message::Text(
                r#"{"type":"subscribe","executionId":"*"}"#.into(),
            ))
            .await
            .with_context(|| format!("subscriber {index}: subscribing"))?;
        let confirmed = tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(frame) = socket.next().await {
                if let Ok(Message::Text(text)) = frame {
                    if text.contains("\"subscribed\"") {
                        return true;
                    }
                }
            }
            false
        })
        .await;
        if confirmed != Ok(true) {
            bail!("subscriber {index}: no \"subscribed\" answer within 10 s");
        }
        sockets.push(socket);
    }

    let subscribers: Vec<_> = sockets
        .into_iter()
        .map(|socket| tokio::spawn(subscriber(socket, progress.clone(), args.drain)))
        .collect();
    let mut round_trips = Vec::new();
    let (failed_posts, post_seconds, mut errors) =
        post_events(args, base, &progress, &mut round_trips).await;
    round_trips.sort_unstable();

    let mut outcomes = Vec::with_capacity(subscribers.len());
    for handle in subscribers {
        outcomes.push(handle.await.unwrap_or_else(|e| SubscriberOutcome {
            error: Some(format!("subscriber task failed: {e}")),
            ..SubscriberOutcome::default()
        }));
    }
    let posted = progress.posted.load(Ordering::Relaxed);
    let mut latencies: Vec<u32> = Vec::new();
    let mut report = LiveReport {
        url: args.url.clone(),
        subscribers: args.subscribers,
        target_rate: args.rate,
        batch_size: args.batch_size,
        events_posted: posted,
        failed_posts,
        post_seconds,
        achieved_rate: posted as f64 / post_seconds.max(1e-9),
        post_p50_ms: quantile_ms(&round_trips, 0.50),
        post_p99_ms: quantile_ms(&round_trips, 0.99),
        deliveries: 0,
        p50_ms: 0.0,
        p90_ms: 0.0,
        p99_ms: 0.0,
        p999_ms: 0.0,
        max_ms: 0.0,
        lost: 0,
        lagged_dropped: 0,
        out_of_order: 0,
        subscribers_failed: 0,
        client_cpu_seconds: 0.0,
        errors: Vec::new(),
    };
    for (index, mut outcome) in outcomes.into_iter().enumerate() {
        outcome.lost = posted.saturating_sub(outcome.received);
        report.deliveries += outcome.received;
        report.lost += outcome.lost;
        report.lagged_dropped += outcome.lagged_dropped;
        report.out_of_order += outcome.out_of_order;
        if let Some(error) = &outcome.error {
            report.subscribers_failed += 1;
            errors.push(format!("subscriber {index}: {error}"));
        }
        latencies.append(&mut outcome.latencies_us);
    }
    latencies.sort_unstable();
    let at = |q: f64| quantile_ms(&latencies, q);
    report.p50_ms = at(0.50);
    report.p90_ms = at(0.90);
    report.p99_ms = at(0.99);
    report.p999_ms = at(0.999);
    report.max_ms = at(1.0);
    errors.truncate(8);
    report.errors = errors;
    Ok(report)
}

/// The `q` quantile (nearest rank) of sorted microseconds, in milliseconds.
fn quantile_ms(sorted_us: &[u32], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = ((sorted_us.len() as f64 * q).ceil() as usize).clamp(1, sorted_us.len());
    f64::from(sorted_us[rank - 1]) / 1000.0
}

/// Posts `log` events at the target rate for the duration, noting each
/// POST's round trip in microseconds; returns the failed posts, the posting
/// time and the first failure messages.
async fn post_events(
    args: &LiveArgs,
    base: &str,
    progress: &Progress,
    round_trips: &mut Vec<u32>,
) -> (u64, f64, Vec<String>) {
    let url = format!("{base}/api/v1/events");
    let mut errors = Vec::new();
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            progress.posting_done.store(true, Ordering::Release);
            return (1, 0.0, vec![format!("building HTTP client: {e}")]);
        }
    };
    let period = Duration::from_secs_f64(args.batch_size as f64 / args.rate as f64);
    let mut ticker = tokio::time::interval(period);
    // A late post is followed at once by the ones it held up, so the
    // average rate stays the target while the server keeps up; posting
    // stops at the end of the duration either way, and the achieved rate
    // is reported.
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut failed = 0;
    let mut sequence: u64 = 0;
    let mut body = String::with_capacity(args.batch_size * 160);
    let mut batch: u64 = 0;
    while started.elapsed() < args.duration {
        ticker.tick().await;
        body.clear();
        let sent_us = progress.origin.elapsed().as_micros() as u64;
        for i in 0..args.batch_size as u64 {
            let seq = sequence + i;
            let _ = writeln!(
                body,
                "{{\"type\":\"log\",\"session_id\":\"live-{}\",\"agent\":\"bench\",\"instance\":\"bench-{}\",\"level\":\"info\",\"message\":\"lb {seq} {sent_us}\"}}",
                seq % 64,
                batch % 4
            );
        }
        let mut request = client
            .post(&url)
            .header("Content-Type", "application/x-ndjson")
            .body(body.clone());
        if let Some(token) = &args.token {
            request = request.bearer_auth(token);
        }
        let outcome = match request.send().await {
            Ok(response) if response.status().is_success() => {
                let _ = response.bytes().await;
                Ok(())
            }
            Ok(response) => Err(format!("HTTP {}", response.status())),
            Err(e) => Err(format!("transport: {e}")),
        };
        let round_trip_us = progress.origin.elapsed().as_micros() as u64 - sent_us;
        round_trips.push(round_trip_us.min(u64::from(u32::MAX)) as u32);
        match outcome {
            // Acknowledged events are numbered consecutively; a refused
            // batch's numbers are reused so "lost" counts only real losses.
            Ok(()) => {
                sequence += args.batch_size as u64;
                progress.posted.store(sequence, Ordering::Release);
            }
            Err(message) => {
                failed += 1;
                if errors.len() < 8 {
                    errors.push(format!("post {batch}: {message}"));
                }
            }
        }
        batch += 1;
    }
    let seconds = started.elapsed().as_secs_f64();
    progress.posting_done.store(true, Ordering::Release);
    (failed, seconds, errors)
}

/// Reads messages until every posted event has arrived or the drain time
/// after the last post has passed.
async fn subscriber<S>(mut socket: S, progress: Arc<Progress>, drain: Duration) -> SubscriberOutcome
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let mut outcome = SubscriberOutcome::default();
    let mut next_expected: u64 = 0;
    let mut drain_deadline: Option<Instant> = None;
    loop {
        if progress.posting_done.load(Ordering::Acquire) {
            let posted = progress.posted.load(Ordering::Acquire);
            if outcome.received >= posted {
                break;
            }
            let deadline = *drain_deadline.get_or_insert_with(|| Instant::now() + drain);
            if Instant::now() >= deadline {
                break;
            }
        }
        let frame = match tokio::time::timeout(Duration::from_millis(100), socket.next()).await {
            Err(_) => continue,
            Ok(None) => {
                outcome.error = Some("connection closed by the server".into());
                break;
            }
            Ok(Some(Err(e))) => {
                outcome.error = Some(format!("read failed: {e}"));
                break;
            }
            Ok(Some(Ok(frame))) => frame,
        };
        let now_us = progress.origin.elapsed().as_micros() as u64;
        let Message::Text(text) = frame else {
            continue;
        };
        if let Some((seq, sent_us)) = parse_probe(&text) {
            outcome.received += 1;
            outcome
                .latencies_us
                .push(now_us.saturating_sub(sent_us).min(u64::from(u32::MAX)) as u32);
            if seq != next_expected {
                outcome.out_of_order += u64::from(seq < next_expected);
            }
            next_expected = next_expected.max(seq + 1);
        } else if let Some(dropped) = parse_lagged(&text) {
            outcome.lagged_dropped += dropped;
        }
    }
    outcome
}

/// The sequence number and send instant of a probe event's `log` message.
pub fn parse_probe(text: &str) -> Option<(u64, u64)> {
    let start = text.find("\"log\":\"lb ")? + "\"log\":\"lb ".len();
    let rest = &text[start..];
    let end = rest.find('"')?;
    let (seq, sent) = rest[..end].split_once(' ')?;
    Some((seq.parse().ok()?, sent.parse().ok()?))
}

/// The `dropped` count of a `lagged` message.
pub fn parse_lagged(text: &str) -> Option<u64> {
    if !text.contains("\"type\":\"lagged\"") {
        return None;
    }
    let start = text.find("\"dropped\":")? + "\"dropped\":".len();
    let digits: String = text[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}
