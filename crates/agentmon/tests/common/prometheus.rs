//! A real Prometheus (Debian's package) as a peer of end-to-end tests:
//! finding the executable, deciding whether a missing one skips or fails
//! the test, starting and stopping the process, and reading its HTTP API.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use reqwest::blocking::Client;
use serde_json::Value;

/// A Prometheus we started; killed and reaped when dropped.
pub struct PeerProcess {
    child: Child,
    log: PathBuf,
    port: u16,
}

impl PeerProcess {
    /// Everything the process printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Whether the process has exited already.
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }
}

impl Drop for PeerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The executable `program` on PATH, if any.
pub fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// The executable `program`, or `None` after printing a `SKIPPED` line
/// naming the Debian `package` to install; panics instead when
/// `AGENTMON_REQUIRE_PEERS=1`, so CI cannot skip silently.
pub fn peer_or_skip(program: &str, package: &str) -> Option<PathBuf> {
    if let Some(binary) = find_program(program) {
        return Some(binary);
    }
    if std::env::var("AGENTMON_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!(
            "{program} is not installed and AGENTMON_REQUIRE_PEERS=1 (apt-get install {package})"
        );
    }
    // Written to the stderr handle, not with eprintln!, so that the test
    // harness's output capture does not hide it.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: {program} not installed (apt-get install {package})"
    );
    None
}

/// [`peer_or_skip`] for Prometheus.
pub fn prometheus_or_skip() -> Option<PathBuf> {
    peer_or_skip("prometheus", "prometheus")
}

/// Starts `binary` with `config` (the text of `prometheus.yml`) on `port`,
/// its data and log in `dir`, plus `extra_args`.
pub fn start_prometheus(
    binary: &Path,
    dir: &Path,
    port: u16,
    config: &str,
    extra_args: &[&str],
) -> PeerProcess {
    let config_path = dir.join("prometheus.yml");
    std::fs::write(&config_path, config).expect("write prometheus.yml");
    let log = dir.join("prometheus.log");
    let out = File::create(&log).expect("create prometheus log");
    let err = out.try_clone().expect("clone log handle");
    let child = Command::new(binary)
        .arg(format!("--config.file={}", config_path.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .args(extra_args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .spawn()
        .expect("spawn prometheus");
    PeerProcess { child, log, port }
}

/// GETs a Prometheus API path and returns `data`, or `None` on any failure.
pub fn prometheus_data(http: &Client, url: &str, query: &[(&str, String)]) -> Option<Value> {
    let response = http.get(url).query(query).send().ok()?;
    if !response.status().is_success() {
        return None;
    }
    let json: Value = serde_json::from_str(&response.text().ok()?).ok()?;
    (json["status"] == "success").then(|| json["data"].clone())
}

/// Prometheus's `[t, "v"]` pair as milliseconds and a float (the API
/// writes the non-finite values as `"NaN"`, `"+Inf"` and `"-Inf"`).
pub fn prometheus_sample(pair: &Value) -> (i64, f64) {
    let t = pair[0].as_f64().expect("sample time");
    let v = pair[1].as_str().expect("sample value string");
    ((t * 1000.0).round() as i64, parse_api_float(v))
}

/// A value string of the query API as a float.
pub fn parse_api_float(text: &str) -> f64 {
    match text {
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other
            .parse()
            .unwrap_or_else(|_| panic!("bad sample value {other:?}")),
    }
}

/// A JSON object of label names to values.
pub fn labels_of(value: &Value) -> BTreeMap<String, String> {
    serde_json::from_value(value.clone()).expect("label set")
}
