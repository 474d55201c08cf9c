//! The Prometheus and Alertmanager functions that the Debian peers (Prometheus
//! 2.42, Alertmanager 0.25) are too old to check differentially, and the
//! notification data builder.

use std::collections::BTreeMap;
use std::sync::Arc;

use agentmon_template::alertmanager::{
    self, alertmanager_data, fingerprint, AlertData, NotificationData,
};
use agentmon_template::prometheus::{
    self, execute_rule_template, expand_rule_template, expansion_error_text, parse_rule_template,
    QuerySample,
};
use agentmon_template::{FuncMap, Template, Value};

fn render(text: &str, data: &Value, funcs: &FuncMap) -> Result<String, String> {
    let t = Template::parse("t", text, funcs).map_err(|e| e.to_string())?;
    t.execute(data, funcs).map_err(|e| e.to_string())
}

fn prom_funcs() -> FuncMap {
    prometheus::funcs(
        Arc::new(|q: &str| {
            if q == "fail" {
                return Err("query failed: boom".to_string());
            }
            Ok(vec![QuerySample {
                labels: [("__name__".to_string(), q.to_string())].into(),
                value: 2.0,
            }])
        }),
        "https://prom.example.com:9090/sub/path?x=1",
    )
}

#[test]
fn newer_prometheus_functions() {
    let f = prom_funcs();
    let cases = [
        ("{{ toDuration 90.5 }}|{{ (toDuration 3600).Hours }}|{{ toDuration 0.0015 }}", "1m30.5s|1|1.5ms"),
        ("{{ stripDomain \"node1.example.com:9100\" }}|{{ stripDomain \"node1.example.com\" }}|{{ stripDomain \"10.0.0.1:80\" }}|{{ stripDomain \"[::1]:80\" }}", "node1:9100|node1|10.0.0.1:80|[::1]:80"),
        ("{{ externalURL }}|{{ pathPrefix }}", "https://prom.example.com:9090/sub/path?x=1|/sub/path"),
        ("{{ humanizeDuration (toDuration 125) }}", "2m 5s"),
        ("{{ humanizeTimestamp (toTime 1435065584.128) }}", "2015-06-23 13:19:44.128 +0000 UTC"),
        ("{{ query \"x\" | first | value }}|{{ (query \"up\" | first).Labels.__name__ }}", "2|up"),
    ];
    for (text, want) in cases {
        assert_eq!(render(text, &Value::Nil, &f).as_deref(), Ok(want), "{text}");
    }
    assert_eq!(
        render("{{ query \"fail\" }}", &Value::Nil, &f),
        Err("template: t:1:3: executing \"t\" at <query \"fail\">: error calling query: query failed: boom".to_string())
    );
    assert_eq!(
        render("{{ toDuration \"NaN\" }}", &Value::Nil, &f),
        Err("template: t:1:3: executing \"t\" at <toDuration \"NaN\">: error calling toDuration: value is NaN or Inf".to_string())
    );
}

#[test]
fn rule_templates_get_prometheus_variables_and_error_text() {
    let labels: BTreeMap<String, String> = [("job".to_string(), "node".to_string())].into();
    let external: BTreeMap<String, String> = [("region".to_string(), "eu".to_string())].into();
    let seen_at = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = seen_at.clone();
    let query: prometheus::RuleQueryFn = Arc::new(move |q: &str, at: i64| {
        if let Ok(mut v) = seen.lock() {
            v.push((q.to_string(), at));
        }
        Ok(Vec::new())
    });
    let out = expand_rule_template(
        "HighLoad",
        "{{ $labels.job }} {{ $value }} {{ $externalLabels.region }} {{ $externalURL }} {{ .Value }} {{ len (query \"up\") }}",
        &labels,
        0.5,
        &external,
        "http://x",
        query.clone(),
        42_000,
    );
    assert_eq!(out.as_deref(), Ok("node 0.5 eu http://x 0.5 0"));
    assert_eq!(
        seen_at.lock().map(|v| v.clone()).unwrap_or_default(),
        vec![("up".to_string(), 42_000)]
    );

    let err = expand_rule_template(
        "HighLoad",
        "{{ .Nope }}",
        &labels,
        0.5,
        &external,
        "",
        query.clone(),
        0,
    )
    .expect_err("a missing struct field is an error");
    assert_eq!(
        expansion_error_text(&err),
        "<error expanding template: error executing template __alert_HighLoad: template: __alert_HighLoad:1:115: \
         executing \"__alert_HighLoad\" at <.Nope>: can't evaluate field Nope in type struct { Labels map[string]string; \
         ExternalLabels map[string]string; ExternalURL string; Value float64 }>"
    );
    let parsed = parse_rule_template("R", "{{ $labels.job }}={{ $value }}", "")
        .unwrap_or_else(|e| panic!("{e}"));
    for (value, want) in [(1.0, "node=1"), (2.5, "node=2.5")] {
        let out = execute_rule_template(&parsed, &labels, value, &external, "", query.clone(), 0);
        assert_eq!(out.as_deref(), Ok(want));
    }
    let err = expand_rule_template("R", "{{ if }}", &labels, 0.5, &external, "", query, 0)
        .expect_err("parse error");
    assert_eq!(
        expansion_error_text(&err),
        "<error expanding template: error parsing template __alert_R: template: __alert_R:1: missing value for if>"
    );
}

fn notification() -> NotificationData {
    let alert = |status: &str, instance: &str, summary: &str| AlertData {
        status: status.to_string(),
        labels: [
            ("alertname".to_string(), "Down".to_string()),
            ("instance".to_string(), instance.to_string()),
            ("team".to_string(), "db".to_string()),
        ]
        .into(),
        annotations: [("summary".to_string(), summary.to_string())].into(),
        starts_at_ms: 1_700_000_000_000,
        ends_at_ms: None,
        generator_url: String::new(),
    };
    NotificationData::new(
        "ops.team",
        [("alertname".to_string(), "Down".to_string())].into(),
        vec![alert("resolved", "a", "same"), alert("firing", "b", "same")],
        "http://am",
    )
}

#[test]
fn notification_data_is_built_as_alertmanager_builds_it() {
    let d = notification();
    assert_eq!(d.status, "firing");
    assert_eq!(
        d.receiver, "ops\\.team",
        "Alertmanager quotes the receiver as a regexp"
    );
    assert_eq!(
        d.common_labels,
        [
            ("alertname".to_string(), "Down".to_string()),
            ("team".to_string(), "db".to_string())
        ]
        .into()
    );
    assert_eq!(
        d.common_annotations.get("summary").map(String::as_str),
        Some("same")
    );
    let all_resolved = NotificationData::new("r", BTreeMap::new(), vec![d.alerts[0].clone()], "");
    assert_eq!(all_resolved.status, "resolved");
    // FNV-1a of nothing is the offset basis; labels change it.
    assert_eq!(fingerprint(&BTreeMap::new()), "cbf29ce484222325");
    assert_ne!(
        fingerprint(&d.alerts[0].labels),
        fingerprint(&d.alerts[1].labels)
    );
}

#[test]
fn newer_alertmanager_functions() {
    let f = alertmanager::funcs();
    let data = alertmanager_data(&notification());
    let cases = [
        ("{{ trimSpace \"  x y \\n\" }}", "x y"),
        ("{{ safeUrl \"http://x/?a=b\" }}|{{ urlUnescape \"a%20b+c%2Fd\" }}", "http://x/?a=b|a b c/d"),
        ("{{ date \"2006-01-02 15:04\" (index .Alerts 0).StartsAt }}", "2023-11-14 22:13"),
        ("{{ (index .Alerts 0).StartsAt | tz \"UTC\" }}", "2023-11-14 22:13:20 +0000 UTC"),
        ("{{ humanizeDuration 3725 }}|{{ humanizeDuration \"0.5\" }}", "1h 2m 5s|500ms"),
        ("{{ .CommonLabels | toJson }}", "{\"alertname\":\"Down\",\"team\":\"db\"}"),
        ("{{ .CommonLabels.String }}|{{ .CommonLabels.SortedPairs.String }}", "alertname=Down, team=db|alertname=Down, team=db"),
        ("{{ (index .Alerts 1).Labels.SortedPairs | toJson }}", "[{\"Name\":\"alertname\",\"Value\":\"Down\"},{\"Name\":\"instance\",\"Value\":\"b\"},{\"Name\":\"team\",\"Value\":\"db\"}]"),
        ("{{ (index .Alerts 0) | toJson }}", "{\"status\":\"resolved\",\"labels\":{\"alertname\":\"Down\",\"instance\":\"a\",\"team\":\"db\"},\"annotations\":{\"summary\":\"same\"},\"startsAt\":\"2023-11-14T22:13:20Z\",\"endsAt\":\"0001-01-01T00:00:00Z\",\"generatorURL\":\"\",\"fingerprint\":\""),
    ];
    for (text, want) in cases {
        let got = render(text, &data, &f);
        assert!(
            got.as_deref().is_ok_and(|g| g.starts_with(want)),
            "{text}: want {want:?}, got {got:?}"
        );
    }
    if std::path::Path::new("/usr/share/zoneinfo/Asia/Kolkata").exists() {
        assert_eq!(
            render("{{ (index .Alerts 0).StartsAt | tz \"Asia/Kolkata\" | date \"15:04 -07:00 MST\" }}", &data, &f).as_deref(),
            Ok("03:43 +05:30 IST")
        );
    } else {
        eprintln!("SKIP: no zoneinfo for Asia/Kolkata; tz by zone name not checked");
    }
    let since = render("{{ since (index .Alerts 0).StartsAt }}", &data, &f).unwrap_or_default();
    assert!(
        since.ends_with('s') && since.contains('h'),
        "since gives a Go duration, got {since:?}"
    );
    assert_eq!(
        render("{{ tz \"Mars/Olympus\" (index .Alerts 0).StartsAt }}", &data, &f),
        Err("template: t:1:3: executing \"t\" at <tz \"Mars/Olympus\" (index .Alerts 0).StartsAt>: error calling tz: unknown time zone Mars/Olympus".to_string())
    );
    assert_eq!(
        render("{{ date \"x\" 5 }}", &data, &f),
        Err(
            "template: t:1:12: executing \"t\" at <5>: can't handle 5 for arg of type time.Time"
                .to_string()
        )
    );
}
