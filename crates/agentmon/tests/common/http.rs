//! Talking to a running server over real HTTP: remote write, imports,
//! export, series, self-metrics and flush.

use std::collections::BTreeMap;
use std::time::Duration;

use agentmon_ingest::remote_write::encode::{compress, WriteRequestEncoder};
use agentmon_model::{LabelRef, Sample, STALE_NAN};
use reqwest::blocking::Client;
use serde_json::Value;

use super::server::Server;

/// Per-request timeout: long enough for a 70 MiB upload on a busy machine.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// A blocking client with a request timeout, so no call can hang a test.
pub fn client() -> Client {
    Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("build HTTP client")
}

/// A series with its labels in the order they are sent (remote write wants
/// them sorted; tests of unsorted input rely on the order being kept).
#[derive(Debug, Clone, PartialEq)]
pub struct TestSeries {
    pub labels: Vec<(String, String)>,
    pub samples: Vec<(i64, f64)>,
}

impl TestSeries {
    pub fn new(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TestSeries {
        TestSeries {
            labels: labels
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            samples: samples.to_vec(),
        }
    }

    /// The label set as export and series answers carry it.
    pub fn label_map(&self) -> BTreeMap<String, String> {
        self.labels.iter().cloned().collect()
    }
}

/// The uncompressed protobuf `WriteRequest` carrying `series`.
pub fn encode(series: &[TestSeries]) -> Vec<u8> {
    let mut encoder = WriteRequestEncoder::new();
    for s in series {
        let labels: Vec<LabelRef<'_>> = s.labels.iter().map(|(n, v)| LabelRef::new(n, v)).collect();
        let samples: Vec<Sample> = s.samples.iter().map(|&(t, v)| Sample::new(t, v)).collect();
        encoder.add_series(&labels, &samples);
    }
    encoder.finish().to_vec()
}

/// A complete remote-write body: snappy block of the protobuf.
pub fn remote_write_body(series: &[TestSeries]) -> Vec<u8> {
    compress(&encode(series))
}

/// Snappy block compression of arbitrary bytes.
pub fn snappy(bytes: &[u8]) -> Vec<u8> {
    compress(bytes)
}

/// The headers a remote write 1.0 sender sets.
pub const REMOTE_WRITE_HEADERS: [(&str, &str); 3] = [
    ("Content-Encoding", "snappy"),
    ("Content-Type", "application/x-protobuf"),
    ("X-Prometheus-Remote-Write-Version", "0.1.0"),
];

/// Status and body text of an answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub text: String,
}

impl Reply {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// POSTs `body` to `url` with `headers`; a transport error is returned, not
/// a panic, because crash tests expect them.
pub fn try_post(
    http: &Client,
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> reqwest::Result<Reply> {
    let mut request = http.post(url).body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send()?;
    let status = response.status().as_u16();
    let text = response.text()?;
    Ok(Reply { status, text })
}

/// POSTs and panics on a transport error.
pub fn post(http: &Client, url: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Reply {
    try_post(http, url, headers, body).unwrap_or_else(|e| panic!("POST {url}: {e}"))
}

/// Sends one remote-write request with the standard headers.
pub fn remote_write(http: &Client, server: &Server, series: &[TestSeries]) -> Reply {
    post(
        http,
        &server.url("/api/v1/write"),
        &REMOTE_WRITE_HEADERS,
        remote_write_body(series),
    )
}

/// One line of `/api/v1/export`.
#[derive(Debug, Clone, PartialEq)]
pub struct Exported {
    pub labels: BTreeMap<String, String>,
    pub samples: Vec<(i64, f64)>,
}

/// Every sample of every series matching `selector`, over all time.
pub fn export(http: &Client, server: &Server, selector: &str) -> Vec<Exported> {
    let url = server.url("/api/v1/export");
    let response = http
        .get(&url)
        .query(&[("match[]", selector)])
        .send()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status().as_u16();
    let text = response.text().expect("export body");
    assert_eq!(status, 200, "export {selector}: {text}");
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| parse_export_line(line).unwrap_or_else(|e| panic!("export line {line:?}: {e}")))
        .collect()
}

fn parse_export_line(line: &str) -> Result<Exported, String> {
    let json: Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let labels = json["metric"]
        .as_object()
        .ok_or("no \"metric\" object")?
        .iter()
        .map(|(k, v)| {
            Ok((
                k.clone(),
                v.as_str().ok_or("label value is not a string")?.to_owned(),
            ))
        })
        .collect::<Result<BTreeMap<_, _>, String>>()?;
    let values = json["values"].as_array().ok_or("no \"values\" array")?;
    let timestamps = json["timestamps"]
        .as_array()
        .ok_or("no \"timestamps\" array")?;
    if values.len() != timestamps.len() {
        return Err(format!(
            "{} values but {} timestamps",
            values.len(),
            timestamps.len()
        ));
    }
    let samples = timestamps
        .iter()
        .zip(values)
        .map(|(t, v)| {
            Ok((
                t.as_i64().ok_or("timestamp is not an integer")?,
                export_value(v)?,
            ))
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Exported { labels, samples })
}

/// Reads a value the way the VictoriaMetrics JSON format writes it: numbers,
/// `null` for NaN, strings for the infinities, and agentmon's `"StaleNaN"`.
fn export_value(value: &Value) -> Result<f64, String> {
    match value {
        Value::Number(n) => n.as_f64().ok_or_else(|| format!("bad number {n}")),
        Value::Null => Ok(f64::NAN),
        Value::String(s) => match s.as_str() {
            "StaleNaN" => Ok(STALE_NAN),
            "NaN" | "nan" => Ok(f64::NAN),
            "Infinity" | "+Infinity" | "Inf" | "+Inf" | "inf" => Ok(f64::INFINITY),
            "-Infinity" | "-Inf" | "-inf" => Ok(f64::NEG_INFINITY),
            other => other
                .parse()
                .map_err(|_| format!("bad value string {other:?}")),
        },
        other => Err(format!("bad value {other}")),
    }
}

/// Label sets of the series matching `selector`, from `/api/v1/series`.
pub fn series(http: &Client, server: &Server, selector: &str) -> Vec<BTreeMap<String, String>> {
    let url = server.url("/api/v1/series");
    let response = http
        .get(&url)
        .query(&[("match[]", selector)])
        .send()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status().as_u16();
    let text = response.text().expect("series body");
    assert_eq!(status, 200, "series {selector}: {text}");
    let json: Value = serde_json::from_str(&text).expect("series JSON");
    assert_eq!(json["status"], "success", "{text}");
    json["data"]
        .as_array()
        .expect("series data array")
        .iter()
        .map(|set| serde_json::from_value(set.clone()).expect("label set of strings"))
        .collect()
}

/// The `/metrics` page.
pub fn metrics(http: &Client, server: &Server) -> String {
    let url = server.url("/metrics");
    let response = http
        .get(&url)
        .send()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    assert_eq!(response.status().as_u16(), 200);
    response.text().expect("metrics body")
}

/// The value of metric `name` on a text-format page, summed over its label
/// sets; `None` when no line carries it.
pub fn metric_value(page: &str, name: &str) -> Option<f64> {
    let mut total = None;
    for line in page.lines().filter(|l| !l.starts_with('#')) {
        let rest = match line.strip_prefix(name) {
            Some(rest) if rest.starts_with(' ') || rest.starts_with('{') => rest,
            _ => continue,
        };
        let after_labels = match rest.find('}') {
            Some(end) if rest.starts_with('{') => &rest[end + 1..],
            _ => rest,
        };
        let value = after_labels
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<f64>().ok());
        if let Some(value) = value {
            total = Some(total.unwrap_or(0.0) + value);
        }
    }
    total
}

/// Cuts the head into a block through the admin API.
pub fn flush(http: &Client, server: &Server) {
    let reply = post(
        http,
        &server.url("/api/v1/admin/tsdb/flush"),
        &[],
        Vec::new(),
    );
    assert_eq!(reply.status, 200, "flush: {}", reply.text);
}
