//! Differential test against real Alertmanager: `amtool template render`
//! renders each template below with notification data given as JSON, and
//! the text (or the error) must equal what this crate renders from the
//! same data built with `alertmanager_data`.
//!
//! Debian's Alertmanager is 0.25, so only the functions it has are used
//! (`toUpper toLower title join match safeHtml reReplaceAll stringSlice`),
//! and not the `String` methods of label sets and pairs, added later.
//! `amtool` passes the data as a `template.Data` value where the notifier
//! passes a pointer; the test names the type accordingly. Skips when
//! `amtool` is absent, unless `AGENTMON_REQUIRE_PEERS=1`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use agentmon_template::alertmanager::{
    alertmanager_data, fingerprint, funcs, AlertData, NotificationData,
};
use agentmon_template::{Template, Value};

const CASES: &[&str] = &[
    "{{ .Receiver }}|{{ .Status }}|{{ .ExternalURL }}",
    "{{ len .Alerts }}|{{ len .Alerts.Firing }}|{{ len .Alerts.Resolved }}",
    "{{ range .Alerts.Firing }}{{ .Labels.instance }} {{ .StartsAt }}|{{ end }}",
    "{{ range .Alerts }}{{ .Status }}:{{ .EndsAt }}:{{ .GeneratorURL }}:{{ .Fingerprint }};{{ end }}",
    "{{ .CommonLabels.SortedPairs }}|{{ .CommonLabels.Names }}|{{ .CommonLabels.Values }}|{{ .GroupLabels }}",
    "{{ range .CommonLabels.SortedPairs }}{{ .Name }}={{ .Value }} {{ end }}",
    "{{ .CommonLabels.Remove .GroupLabels.Names }}",
    "{{ .CommonLabels.Remove (stringSlice \"severity\" \"x\") | len }}",
    "{{ .CommonLabels.SortedPairs.Names }}|{{ .CommonLabels.SortedPairs.Values }}",
    "{{ join \", \" .CommonLabels.Values }}|{{ join \"-\" (stringSlice \"a\" \"b\") }}|{{ .GroupLabels.Names | join \"/\" }}",
    "{{ toUpper .Status }}|{{ toLower \"ÀB\" }}|{{ title \"hello wORLD o'neil foo-bar x_y\" }}",
    "{{ match \"^High\" .CommonLabels.alertname }}|{{ reReplaceAll \"(\\\\w+)Latency\" \"$1-latency\" .CommonLabels.alertname }}",
    "{{ safeHtml \"<b>\" }}|{{ html \"<b>\" }}",
    "{{ .CommonLabels.missing }}|{{ .GroupLabels.alertname }}|{{ index .CommonLabels \"severity\" }}",
    "{{ if eq .Status \"firing\" }}FIRING:{{ .Alerts.Firing | len }}{{ else }}OK{{ end }}",
    "{{ define \"t\" }}[{{ .Labels.alertname }}]{{ end }}{{ range .Alerts }}{{ template \"t\" . }}{{ end }}",
    "{{ (index .Alerts 0).StartsAt.Format \"2006-01-02T15:04:05Z07:00 Mon Jan _2 3PM\" }}|{{ (index .Alerts 0).StartsAt.Unix }}",
    "{{ . }}",
    "{{ .Alerts }}",
    "{{ .Nope }}",
    "{{ (index .Alerts 0).Nope }}",
    "{{ printf \"%v|%+v\" (index .CommonLabels.SortedPairs 0) (index .CommonLabels.SortedPairs 0) }}",
    "{{ join 1 .CommonLabels.Values }}",
    "{{ range $i, $a := .Alerts }}{{ $i }}={{ $a.Annotations.summary }} {{ end }}",
    "{{ .CommonAnnotations.SortedPairs }}|{{ .CommonAnnotations.Names }}",
    "{{ range .Alerts }}{{ range .Labels.SortedPairs }}{{ .Name }}{{ end }};{{ end }}",
    "{{ with .Alerts.Resolved }}{{ len . }} resolved{{ else }}none{{ end }}",
    "{{ .Status | title }}: {{ .CommonLabels.alertname }} ({{ .Alerts.Firing | len }} firing)\n{{ range .Alerts -}}\n- {{ .Labels.instance }}: {{ .Annotations.summary }}\n{{ end }}",
    "{{ match \"(\" \"x\" }}",
    "{{ toUpper 1 }}",
    "{{ range .Alerts }}{{ .StartsAt.Format \"Mon, 02 Jan 2006 15:04:05 MST\" }}|{{ .EndsAt.IsZero }}|{{ .StartsAt.UTC.Year }};{{ end }}",
    "{{ .GroupLabels.SortedPairs.Names }}|{{ .CommonLabels.Remove (stringSlice) }}",
    "{{ $first := index .Alerts 0 }}{{ $first.Labels.severity | toUpper }}{{ if $first.Annotations.runbook }}rb{{ else }}no runbook{{ end }}",
    "{{ printf \"%q %v %d\" .Receiver .Alerts.Firing (len .Alerts) }}",
    "{{ range $k, $v := .CommonLabels }}{{ $k }}={{ $v | printf \"%q\" }} {{ end }}",
    "{{ with index .Alerts 2 }}{{ .Status }} {{ .EndsAt }} {{ .EndsAt.Unix }}{{ end }}",
    "{{ range .Alerts.Resolved }}{{ .Labels.instance }} ended {{ .EndsAt.Format \"15:04:05.000\" }}{{ end }}",
    "{{ .Alerts.Firing | len | printf \"%02d\" }}|{{ slice .Alerts 1 | len }}|{{ (slice .Alerts 1 2) }}",
    "{{ match \"a:\\\\d\" (index .Alerts 0).Labels.instance }}|{{ reReplaceAll \"\\\\.\" \"_\" .ExternalURL }}",
    "{{ eq (index .Alerts 0).StartsAt (index .Alerts 0).StartsAt }}|{{ eq .Status \"firing\" \"resolved\" }}",
    "{{ len .CommonLabels.SortedPairs }}|{{ index .CommonLabels.SortedPairs 1 }}|{{ (index .CommonLabels.SortedPairs 0).Name }}",
    "{{ join \",\" (.CommonLabels.Remove (stringSlice \"alertname\")).Values }}",
    "{{ .CommonLabels.SortedPairs.Values | join \" \" | toUpper | printf \"[%s]\" }}",
    "{{ range .Alerts }}{{ .GeneratorURL | urlquery }} {{ end }}",
    "{{ title .Receiver }}|{{ toLower .Receiver }}|{{ .Receiver | html }}|{{ js .ExternalURL }}",
];

fn alert(status: &str, instance: &str, starts: i64, ends: Option<i64>, url: &str) -> AlertData {
    let labels: BTreeMap<String, String> = [
        ("alertname", "HighLatency"),
        ("severity", "page"),
        ("instance", instance),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    AlertData {
        status: status.to_string(),
        labels,
        annotations: [("summary".to_string(), format!("{instance} is slow"))]
            .into_iter()
            .collect(),
        starts_at_ms: starts,
        ends_at_ms: ends,
        generator_url: url.to_string(),
    }
}

fn data() -> NotificationData {
    let group: BTreeMap<String, String> =
        [("alertname".to_string(), "HighLatency".to_string())].into();
    NotificationData::new(
        "team-x",
        group,
        vec![
            alert(
                "firing",
                "a:1",
                1_435_065_584_128,
                None,
                "http://prom/graph?g0.expr=up",
            ),
            alert("firing", "b:2", 1_435_060_000_000, None, ""),
            alert(
                "resolved",
                "c:3",
                1_435_000_000_000,
                Some(1_435_003_600_500),
                "http://prom/x",
            ),
        ],
        "http://am.example.com:9093",
    )
}

fn rfc3339(ms: Option<i64>) -> String {
    match ms {
        None => "0001-01-01T00:00:00Z".to_string(),
        Some(ms) => agentmon_template::GoTime::from_unix_millis(ms)
            .format("2006-01-02T15:04:05.999999999Z07:00"),
    }
}

/// The data as `amtool --template.data` reads it (Alertmanager's JSON).
fn data_json(d: &NotificationData) -> String {
    let alerts: Vec<serde_json::Value> = d
        .alerts
        .iter()
        .map(|a| {
            serde_json::json!({
                "status": a.status,
                "labels": a.labels,
                "annotations": a.annotations,
                "startsAt": rfc3339(Some(a.starts_at_ms)),
                "endsAt": rfc3339(a.ends_at_ms),
                "generatorURL": a.generator_url,
                "fingerprint": fingerprint(&a.labels),
            })
        })
        .collect();
    serde_json::json!({
        "receiver": d.receiver,
        "status": d.status,
        "alerts": alerts,
        "groupLabels": d.group_labels,
        "commonLabels": d.common_labels,
        "commonAnnotations": d.common_annotations,
        "externalURL": d.external_url,
    })
    .to_string()
}

fn amtool() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("amtool"))
        .find(|p| p.is_file())
}

fn ours(text: &str, value: &Value) -> Result<String, String> {
    let f = funcs();
    let t = Template::parse("", text, &f).map_err(|e| e.to_string())?;
    t.execute(value, &f).map_err(|e| e.to_string())
}

#[test]
fn notification_templates_render_like_alertmanager() {
    let Some(amtool) = amtool() else {
        if std::env::var("AGENTMON_REQUIRE_PEERS").as_deref() == Ok("1") {
            panic!("amtool is required (AGENTMON_REQUIRE_PEERS=1) but not on PATH");
        }
        eprintln!(
            "SKIP: amtool not found on PATH; install Debian's `prometheus-alertmanager` package"
        );
        return;
    };
    let d = data();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let data_path = dir.path().join("data.json");
    std::fs::write(&data_path, data_json(&d)).unwrap_or_else(|e| panic!("writing data: {e}"));
    let glob = dir.path().join("none.tmpl");
    std::fs::write(&glob, "").unwrap_or_else(|e| panic!("writing template file: {e}"));

    let mut value = alertmanager_data(&d);
    if let Value::Struct(s) = &mut value {
        s.type_name = "template.Data".to_string();
    }
    let mut mismatches = Vec::new();
    for case in CASES {
        let output = Command::new(&amtool)
            .arg("template")
            .arg("render")
            .arg(format!("--template.glob={}", glob.display()))
            .arg(format!("--template.data={}", data_path.display()))
            .arg(format!("--template.text={case}"))
            .output()
            .unwrap_or_else(|e| panic!("running amtool: {e}"));
        let theirs = if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            let stderr = String::from_utf8_lossy(&output.stderr);
            Err(stderr
                .trim_end()
                .trim_start_matches("amtool: error: ")
                .to_string())
        };
        let mine = ours(case, &value);
        if theirs != mine {
            mismatches.push(format!(
                "{case:?}:\n  alertmanager: {theirs:?}\n  ours:         {mine:?}"
            ));
        }
    }
    eprintln!(
        "compared {} templates with amtool, {} differ",
        CASES.len(),
        mismatches.len()
    );
    assert!(
        mismatches.is_empty(),
        "{} differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

fn http(port: u16, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .ok()?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())?;
    Some((status, body))
}

/// Decodes a chunked HTTP body if it is one.
fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    loop {
        let Some((size, after)) = rest.split_once("\r\n") else {
            return body.to_string();
        };
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            return body.to_string();
        };
        if n == 0 || after.len() < n {
            return out;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
}

struct ChildGuard(std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The fingerprints `alertmanager_data` gives alerts are the ones a real
/// Alertmanager shows for the same label sets.
#[test]
fn fingerprints_match_alertmanager() {
    let binary = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .flat_map(|dir| {
                [
                    dir.join("prometheus-alertmanager"),
                    dir.join("alertmanager"),
                ]
            })
            .find(|p| p.is_file())
    });
    let Some(binary) = binary else {
        if std::env::var("AGENTMON_REQUIRE_PEERS").as_deref() == Ok("1") {
            panic!("Alertmanager is required (AGENTMON_REQUIRE_PEERS=1) but not on PATH");
        }
        eprintln!("SKIP: Alertmanager not found on PATH; install Debian's `prometheus-alertmanager` package");
        return;
    };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let config = dir.path().join("alertmanager.yml");
    std::fs::write(
        &config,
        "route:\n  receiver: blackhole\nreceivers:\n- name: blackhole\n",
    )
    .unwrap_or_else(|e| panic!("writing config: {e}"));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("free port: {e}"));
    let child = Command::new(&binary)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting Alertmanager: {e}"));
    let _guard = ChildGuard(child);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while http(port, "GET", "/-/ready", "").map(|(s, _)| s) != Some(200) {
        assert!(
            std::time::Instant::now() < deadline,
            "Alertmanager did not become ready"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let label_sets: Vec<BTreeMap<String, String>> = vec![
        [("alertname", "A")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        [
            ("alertname", "HighLatency"),
            ("instance", "host:9100"),
            ("severity", "page"),
            ("note", "ünïcode ✓"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
    ];
    let alerts: Vec<serde_json::Value> = label_sets
        .iter()
        .map(|l| serde_json::json!({ "labels": l }))
        .collect();
    let posted = http(
        port,
        "POST",
        "/api/v2/alerts",
        &serde_json::Value::from(alerts).to_string(),
    );
    assert_eq!(
        posted.as_ref().map(|(s, _)| *s),
        Some(200),
        "posting alerts: {posted:?}"
    );
    let (status, body) =
        http(port, "GET", "/api/v2/alerts", "").unwrap_or_else(|| panic!("listing alerts"));
    assert_eq!(status, 200);
    let listed: serde_json::Value =
        serde_json::from_str(&dechunk(&body)).unwrap_or_else(|e| panic!("{e}: {body}"));
    let mut theirs: BTreeMap<String, String> = BTreeMap::new();
    for alert in listed.as_array().cloned().unwrap_or_default() {
        let name = alert["labels"]["alertname"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        theirs.insert(
            name,
            alert["fingerprint"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
    }
    for labels in &label_sets {
        let name = &labels["alertname"];
        assert_eq!(
            theirs.get(name),
            Some(&fingerprint(labels)),
            "fingerprint of {labels:?}"
        );
    }
}
