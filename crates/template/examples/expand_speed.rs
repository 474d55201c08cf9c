//! Times template expansion on realistic inputs: a Prometheus annotation
//! per alert and an Alertmanager notification for a large group.
//! Run with `cargo run --release -p agentmon-template --example expand_speed`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use agentmon_template::alertmanager::{alertmanager_data, funcs, AlertData, NotificationData};
use agentmon_template::prometheus::{execute_rule_template, parse_rule_template};
use agentmon_template::Template;

fn main() {
    let labels: BTreeMap<String, String> = [
        ("instance", "host-17:9100"),
        ("job", "node"),
        ("severity", "page"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let text = "{{ $labels.instance }} of {{ $labels.job | toUpper }} is at {{ humanizePercentage $value }} \
                ({{ printf \"%.2f\" $value }}), since {{ humanizeDuration 4000 }}";
    let template =
        parse_rule_template("HighLoad", text, "http://prom").unwrap_or_else(|e| panic!("{e}"));
    let rounds = 20_000;
    let start = Instant::now();
    for i in 0..rounds {
        let out = execute_rule_template(
            &template,
            &labels,
            f64::from(i) / 1000.0,
            &BTreeMap::new(),
            "http://prom",
            Arc::new(|_, _| Ok(Vec::new())),
            0,
        );
        assert!(out.is_ok());
    }
    let per = start.elapsed() / rounds;
    println!("rule annotation: {per:?} per expansion ({rounds} expansions)");

    let alerts: Vec<AlertData> = (0..1000)
        .map(|i| AlertData {
            status: if i % 3 == 0 { "resolved" } else { "firing" }.to_string(),
            labels: [
                ("alertname", "Down".to_string()),
                ("instance", format!("host-{i}:9100")),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
            annotations: [("summary".to_string(), format!("host {i} is down"))].into(),
            starts_at_ms: 1_700_000_000_000 + i,
            ends_at_ms: None,
            generator_url: "http://prom/graph".to_string(),
        })
        .collect();
    let data = alertmanager_data(&NotificationData::new(
        "ops",
        BTreeMap::new(),
        alerts,
        "http://am",
    ));
    let f = funcs();
    let text = "[{{ .Status | toUpper }}{{ if eq .Status \"firing\" }}:{{ .Alerts.Firing | len }}{{ end }}] \
                {{ .CommonLabels.alertname }}\n{{ range .Alerts.Firing }}- {{ .Labels.instance }}: \
                {{ .Annotations.summary }} since {{ .StartsAt.Format \"15:04\" }} {{ $.ExternalURL }}\n{{ end }}";
    let template = Template::parse("", text, &f).unwrap_or_else(|e| panic!("{e}"));
    let rounds = 20;
    let start = Instant::now();
    let mut size = 0;
    for _ in 0..rounds {
        size = template.execute(&data, &f).map(|s| s.len()).unwrap_or(0);
    }
    println!(
        "notification for 1000 alerts: {:?} per render ({size} bytes)",
        start.elapsed() / rounds
    );
}
