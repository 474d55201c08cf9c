//! Differential test against real Prometheus: every template below goes
//! into one alerting rule as an annotation, `promtool test rules` evaluates
//! the rule over fixed series, and — given a deliberately wrong expectation
//! — prints the annotations Prometheus expanded. Each one must equal what
//! this crate's `expand_rule_template` gives for the same labels and value,
//! error texts included.
//!
//! Skips when `promtool` is absent, unless `AGENTMON_REQUIRE_PEERS=1`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use agentmon_template::prometheus::{
    expand_rule_template, expansion_error_text, QuerySample, RuleQueryFn,
};

/// Annotation templates. Functions added after Prometheus 2.42 (the
/// Debian version: `toDuration`, `stripDomain`) and known deviations (Go
/// struct field errors, ranging over integers, which Go 1.22 added) are
/// left out; `externalURL`/`pathPrefix` crash inside promtool (it has no
/// URL), so only `$externalURL` is used.
const CASES: &[&str] = &[
    "{{ $value }}",
    "{{ humanize $value }}",
    "{{ humanize1024 $value }}",
    "{{ humanizeDuration $value }}",
    "{{ humanizePercentage $value }}",
    "{{ humanizeTimestamp $value }}",
    "{{ humanize 0 }}|{{ humanize 0.000123 }}|{{ humanize -2500 }}|{{ humanize 1e30 }}|{{ humanize \"1234.5\" }}",
    "{{ humanize1024 1 }}|{{ humanize1024 1023 }}|{{ humanize1024 1048577 }}|{{ humanize1024 -5000 }}",
    "{{ humanizeDuration 0 }}|{{ humanizeDuration 0.0005 }}|{{ humanizeDuration 59.99 }}|{{ humanizeDuration 3601 }}|{{ humanizeDuration -90061 }}|{{ humanizeDuration \"3600\" }}",
    "{{ humanizePercentage 0.1234567 }}|{{ humanizePercentage 1 }}|{{ humanizePercentage 0 }}",
    "{{ humanizeTimestamp 1435065584.128 }}|{{ humanizeTimestamp 0 }}|{{ humanizeTimestamp -1.5 }}",
    "{{ humanize \"abc\" }}",
    "{{ toTime 1435065584.128 }}|{{ (toTime 86400).Unix }}|{{ (toTime 1.5).Format \"2006-01-02T15:04:05.000Z07:00 Mon Jan _2\" }}",
    "{{ printf \"%.2f\" $value }}",
    "{{ $value | printf \"%.3e|%g|%G|%v|%8.2f|%-10.1f|\" $value $value $value $value $value }}",
    "{{ printf \"%d|%5d|%-5d|%05d|%x|%X|%#x|%o|%#o|%b|%c|%q|%U|%+d|% d\" 42 42 42 -42 255 255 255 8 8 5 65 65 9731 7 7 }}",
    "{{ printf \"%s|%10s|%-10s|%.2s|%q|%x|% X|%#q\" \"abc\" \"abc\" \"abc\" \"abc\" \"a\\\"b\\n\" \"hi\" \"hi\" \"back\" }}",
    "{{ printf \"%t|%v|%T|%T|%T|%#v\" true false 1 1.5 $labels \"s\" }}",
    "{{ printf \"%d\" \"foo\" }}|{{ printf \"%d %d\" 1 }}|{{ printf \"%d\" 1 \"x\" 2.5 }}|{{ printf \"%z\" 3 }}|{{ printf \"100%%\" }}|{{ printf \"%s\" nil }}|{{ printf \"abc%\" }}",
    "{{ printf \"%*d|%-*d|%.*f|%[2]d %[1]d\" 5 1 3 2 2 3.14159 }}",
    "{{ printf \"%e|%E|%.0e|%#g|%#.3g|%.0f|%.0f|%.1f\" 0.0 1e-100 12345.0 1.0 2.0 2.5 3.5 0.05 }}",
    "{{ printf \"%v|%v|%v|%v|%v|%v\" 1e20 1e21 0.0001 0.00001 100000.0 1234567.0 }}",
    "{{ printf \"%06.2f|%+.3g|% .2e|%x|%X\" -1.5 123456.0 0.000123 1.0 255.5 }}",
    "{{ printf \"%v %s %d\" $labels $labels.job (len $labels) }}",
    "{{ print 1 2 \"a\" 3 \"b\" \"c\" 4.5 true }}",
    "{{ println 1 \"a\" $value }}",
    "{{ $labels.instance | reReplaceAll \"(.*):(.*)\" \"$2 on $1\" }}",
    "{{ reReplaceAll \"[aeiou]\" \"\" \"education\" }}|{{ reReplaceAll \"(?P<first>\\\\w+) (\\\\w+)\" \"${2}_${first}$$\" \"hello world\" }}|{{ reReplaceAll \"a(x*)b\" \"$1W\" \"-ab-axxb-\" }}",
    "{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}",
    "{{ range $labels }}[{{ . }}]{{ end }}",
    "{{ range $i, $e := query \"up\" | sortByLabel \"job\" }}{{ $i }}:{{ $e.Labels.job }}={{ $e.Value }} {{ end }}",
    "{{ with query \"up{job='node'}\" }}{{ . | first | value | humanize }}{{ end }}",
    "{{ with query \"nonexistent\" }}has{{ else }}empty{{ end }}",
    "{{ query \"nonexistent\" | first }}",
    "{{ range query \"up\" | sortByLabel \"instance\" }}{{ label \"instance\" . }} {{ end }}",
    "{{ range sortByLabel \"job\" (query \"up\") }}{{ .Labels.job }} {{ strvalue . }}| {{ end }}",
    "{{ if gt $value 100.0 }}high{{ else if gt $value 0.1 }}mid{{ else }}low{{ end }}",
    "{{ if eq $labels.job \"node\" }}node{{ else if eq $labels.job \"api\" }}api{{ end }}|{{ if and $labels.job (not $labels.missing) }}both{{ end }}",
    "{{ if eq $value 1 }}one{{ end }}",
    "{{ if lt $labels.job 1 }}x{{ end }}",
    "{{ title \"hello world-foo_bar o'neil\" }}|{{ toUpper \"abc é\" }}|{{ toLower \"ABC É\" }}",
    "{{ $labels.missing }}|{{ index $labels \"missing\" }}|{{ $externalLabels.missing }}|{{ len $labels.missing }}",
    "{{ match \"^host\" $labels.instance }}|{{ match \"node|api\" $labels.job }}|{{ match \"[\" \"x\" }}",
    "{{ stripPort $labels.instance }}|{{ stripPort \"host\" }}|{{ stripPort \"[::1]:80\" }}|{{ stripPort \"a:b:c\" }}",
    "{{ parseDuration \"1h30m\" }}|{{ parseDuration \"90s\" }}|{{ parseDuration \"1d\" }}|{{ parseDuration \"1w2d\" }}",
    "{{ parseDuration \"x\" }}",
    "{{ $externalURL }}|{{ $externalLabels }}|{{ $externalLabels.region }}",
    "{{ graphLink \"rate(http_requests_total{job=\\\"x\\\"}[5m]) > 0\" }}|{{ tableLink \"up\" }}",
    "{{ args 1 \"a\" 2.5 }}|{{ (args 1 2).arg1 }}|{{ with args \"x\" }}{{ .arg0 }}{{ end }}",
    "a  {{- 1 -}}  b|{{ 2 }} {{- /* c */ -}} 3|x\n  {{- 4 }}",
    "{{ len $labels }}|{{ index $labels \"job\" }}|{{ len \"héllo\" }}|{{ index \"abc\" 1 }}|{{ slice \"abcdef\" 1 3 }}",
    "{{ $x := 0 }}{{ range $i, $e := query \"up\" }}{{ $x = $i }}{{ end }}{{ $x }}",
    "{{ range $i, $e := sortByLabel \"job\" (query \"up\") }}{{ if $i }}{{ break }}{{ end }}[{{ $e.Labels.job }}]{{ end }}",
    "{{ range $i, $e := query \"up\" }}{{ if eq $i 0 }}{{ continue }}{{ end }}[{{ $i }}]{{ end }}",
    "{{ safeHtml \"<b>\" }}|{{ html \"<a href='x'>&\\\"\" }}|{{ js \"it's <b> = &\\n\" }}|{{ urlquery \"a b/c?d=é\" }}",
    "{{ define \"x\" }}X{{ . }}{{ end }}{{ template \"x\" $value }}|{{ template \"x\" }}",
    "{{ block \"b\" $labels.job }}[{{ . }}]{{ end }}",
    "{{ 0x1F }}|{{ 1e3 }}|{{ 'a' }}|{{ -1.5 }}|{{ 0o17 }}|{{ 1_000 }}|{{ .5 }}|{{ 1.0 }}|{{ \"\\u00e9\\t|\" }}|{{ `raw\\n` }}",
    "{{ with $v := $value }}{{ $v }}{{ end }}|{{ with $labels.missing }}set{{ else }}unset{{ end }}",
    "{{ and 1 0 }}|{{ and 1 2 }}|{{ or 0 \"\" }}|{{ or 0 2 }}|{{ not 0 }}|{{ or 1 (index $labels 1) }}",
    "{{ eq 1 2 3 1 }}|{{ ne \"a\" \"b\" }}|{{ lt 1.5 2.5 }}|{{ le 2 2 }}|{{ gt \"b\" \"a\" }}|{{ ge 1 2 }}|{{ eq $labels.missing \"\" }}",
    "{{ eq 1 1.0 }}",
    "{{ index $labels 1 }}",
    "{{ nil }}",
    "{{ $value.Foo }}",
    "{{ template \"nope\" }}",
    "{{ len 3 }}",
    "{{ slice \"abc\" 2 1 }}",
    "{{ printf \"%.3f\" (value (first (query \"up\" | sortByLabel \"instance\"))) }}",
    "{{ humanize (len $labels) }}|{{ humanizePercentage (index (args 0.5) \"arg0\") }}",
    "{{ first 3 }}",
    "{{ (query \"up{job='api'}\" | first).Labels.instance }}|{{ (first (query \"up\" | sortByLabel \"job\")).Value }}",
    "{{ toUpper 1 }}",
    "{{ toUpper $value }}",
    "{{ $value | toUpper }}",
    "{{ printf 1 }}",
    "{{ label \"x\" 3 }}",
    "{{ humanize $labels }}",
    "{{ value nil }}",
    "{{ toUpper nil }}",
    "{{ match 1 \"x\" }}",
    "{{ reReplaceAll \"a\" \"b\" $labels }}",
    "{{ .Value }}|{{ .Labels.job }}|{{ .ExternalURL }}|{{ .ExternalLabels.region }}",
    "{{ index $labels }}|{{ slice $labels.job 1 }}|{{ \"xyz\" | len }}|{{ 1 | printf \"%d %d\" 2 }}|{{ printf \"%s\" }}",
    "{{ not }}",
    "{{ humanize }}",
    "{{ and }}",
    "{{ $labels.job.x }}",
    "{{ $labels.job 1 }}",
    "{{ humanize 1 2 }}",
    "{{ sortByLabel \"x\" $value }}",
    "{{ label 1 (first (query \"up\")) }}",
    "{{ (first (query \"up\")).Nope }}",
    "{{ printf \"%#v|%#v|%#v|%#v|%#v\" 1.0 1e6 2.5 true nil }}",
    "{{ printf \"%#v\" (args 1 \"a\") }}|{{ printf \"%#v\" $labels }}",
    "{{ printf \"%+q|%q|%#q|%+q\" \"é\\x01\" \"é😀\" \"a`b\" 233 }}",
    "{{ 0x1p-2 }}|{{ 0x1.8p1 }}|{{ 1e100 }}|{{ 0X_1F }}",
    "{{ printf \"%05s|%-05d|%+05d|%x|% x|%#X\" \"ab\" 3 3 -255 \"hi\" \"hi\" }}",
    "{{ printf \"%v|%d|%s\" (args 1 2.5) (args 1 2) (args \"a\" 1) }}",
    "{{ printf \"%6.2v|%.1v|%10.4v|\" 3.14159 \"abc\" 123456.789 }}",
    "{{ len (printf \"%v\" (query \"up\")) | printf \"%T\" }}",
];

struct Series {
    labels: BTreeMap<String, String>,
    value: f64,
}

fn series() -> Vec<Series> {
    let make = |pairs: &[(&str, &str)], value: f64| Series {
        labels: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        value,
    };
    vec![
        make(
            &[
                ("__name__", "up"),
                ("job", "node"),
                ("instance", "host1.example.com:9100"),
            ],
            1234567.0,
        ),
        make(
            &[
                ("__name__", "up"),
                ("job", "api"),
                ("instance", "[::1]:8080"),
            ],
            0.0042,
        ),
        make(
            &[
                ("__name__", "up"),
                ("job", "batch"),
                ("instance", "10.0.0.7:80"),
            ],
            0.0,
        ),
    ]
}

const EXTERNAL_URL: &str = "http://prom.example.com:9090/prefix/";
const EVAL_TIME_MS: i64 = 300_000;

fn external_labels() -> BTreeMap<String, String> {
    [("region", "eu"), ("cluster", "c1")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The fixture as storage: answers selectors `name` and `name{k='v',...}`
/// (double or single quotes) with the series in input order. Prometheus
/// does not promise an order for instant-query results, so every case
/// that lists more than one sample sorts them with `sortByLabel`.
fn query_fn() -> RuleQueryFn {
    Arc::new(|query: &str, _at_ms: i64| {
        let (name, matchers) = match query.find('{') {
            Some(i) => (&query[..i], query[i + 1..].trim_end_matches('}')),
            None => (query, ""),
        };
        let wanted: Vec<(String, String)> = matchers
            .split(',')
            .filter(|m| !m.trim().is_empty())
            .map(|m| {
                let (k, v) = m.split_once('=').unwrap_or((m, ""));
                (
                    k.trim().to_string(),
                    v.trim().trim_matches(['"', '\'']).to_string(),
                )
            })
            .collect();
        Ok(series()
            .into_iter()
            .filter(|s| s.labels.get("__name__").map(String::as_str) == Some(name.trim()))
            .filter(|s| wanted.iter().all(|(k, v)| s.labels.get(k) == Some(v)))
            .map(|s| QuerySample {
                labels: s.labels,
                value: s.value,
            })
            .collect())
    })
}

fn promtool() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("promtool"))
        .find(|p| p.is_file())
}

fn yaml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

fn write_files(dir: &std::path::Path) {
    let mut rules =
        String::from("groups:\n- name: differential\n  rules:\n  - alert: Diff\n    expr: up\n");
    rules.push_str("    labels:\n");
    rules.push_str(&format!(
        "      templated: {}\n",
        yaml_string("{{ $labels.job | toUpper }}-{{ $value }}")
    ));
    rules.push_str("    annotations:\n");
    for (i, case) in CASES.iter().enumerate() {
        rules.push_str(&format!("      c{i:03}: {}\n", yaml_string(case)));
    }
    let mut test =
        String::from("rule_files: [rules.yml]\nevaluation_interval: 1m\ntests:\n- interval: 1m\n");
    test.push_str("  external_labels: {region: eu, cluster: c1}\n");
    test.push_str(&format!("  external_url: {}\n", yaml_string(EXTERNAL_URL)));
    test.push_str("  input_series:\n");
    for s in series() {
        let name = &s.labels["__name__"];
        let matchers: Vec<String> = s
            .labels
            .iter()
            .filter(|(k, _)| *k != "__name__")
            .map(|(k, v)| format!("{k}={}", yaml_string(v)))
            .collect();
        let selector = format!("{name}{{{}}}", matchers.join(", "));
        test.push_str(&format!(
            "  - series: {}\n    values: '{}+0x10'\n",
            yaml_string(&selector),
            s.value
        ));
    }
    test.push_str("  alert_rule_test:\n  - eval_time: 5m\n    alertname: Diff\n    exp_alerts:\n");
    test.push_str("    - exp_labels: {deliberately: wrong}\n      exp_annotations: {}\n");
    std::fs::write(dir.join("rules.yml"), rules).unwrap_or_else(|e| panic!("writing rules: {e}"));
    std::fs::write(dir.join("test.yml"), test).unwrap_or_else(|e| panic!("writing test: {e}"));
}

/// Reads a Go `strconv.Quote`d string at the start of `s`; returns it and
/// the rest.
fn go_unquote(s: &str) -> (String, &str) {
    let mut out = String::new();
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return (out, &s[i + 1..]),
            '\\' => {
                let Some((_, e)) = chars.next() else { break };
                let hex = |n: usize, chars: &mut dyn Iterator<Item = (usize, char)>| {
                    let digits: String = chars.take(n).map(|(_, c)| c).collect();
                    u32::from_str_radix(&digits, 16).unwrap_or(0xfffd)
                };
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'a' => out.push('\x07'),
                    'b' => out.push('\x08'),
                    'f' => out.push('\x0c'),
                    'v' => out.push('\x0b'),
                    'x' => out.push(char::from_u32(hex(2, &mut chars)).unwrap_or('\u{fffd}')),
                    'u' => out.push(char::from_u32(hex(4, &mut chars)).unwrap_or('\u{fffd}')),
                    'U' => out.push(char::from_u32(hex(8, &mut chars)).unwrap_or('\u{fffd}')),
                    other => out.push(other),
                }
            }
            c => out.push(c),
        }
    }
    panic!("unterminated quoted string in promtool output: {s:?}");
}

/// Parses `{a="x", b="y"}` as Prometheus prints label sets.
fn parse_label_set(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = s.trim_start().strip_prefix('{').unwrap_or(s);
    loop {
        rest = rest.trim_start_matches([',', ' ']);
        if rest.starts_with('}') || rest.is_empty() {
            return out;
        }
        let Some(eq) = rest.find('=') else { return out };
        let name = rest[..eq].to_string();
        let (value, after) = go_unquote(&rest[eq + 1..]);
        out.insert(name, value);
        rest = after;
    }
}

/// The alerts promtool says it got: (labels, annotations) pairs.
fn parse_got_alerts(output: &str) -> Vec<(BTreeMap<String, String>, BTreeMap<String, String>)> {
    let got = output
        .split("got:[")
        .nth(1)
        .unwrap_or_else(|| panic!("no `got:[` in promtool output:\n{output}"));
    let mut alerts = Vec::new();
    let mut labels = None;
    for line in got.lines() {
        let line = line.trim_start();
        if let Some(rest) = line.strip_prefix("Labels:") {
            labels = Some(parse_label_set(rest));
        } else if let Some(rest) = line.strip_prefix("Annotations:") {
            let annotations = parse_label_set(rest.trim_end_matches(','));
            alerts.push((labels.take().unwrap_or_default(), annotations));
        }
    }
    alerts
}

fn expand(text: &str, series: &Series) -> String {
    match expand_rule_template(
        "Diff",
        text,
        &series.labels,
        series.value,
        &external_labels(),
        EXTERNAL_URL,
        query_fn(),
        EVAL_TIME_MS,
    ) {
        Ok(s) => s,
        Err(e) => expansion_error_text(&e),
    }
}

#[test]
fn annotations_expand_like_prometheus() {
    let Some(promtool) = promtool() else {
        if std::env::var("AGENTMON_REQUIRE_PEERS").as_deref() == Ok("1") {
            panic!("promtool is required (AGENTMON_REQUIRE_PEERS=1) but not on PATH");
        }
        eprintln!("SKIP: promtool not found on PATH; install Debian's `prometheus` package");
        return;
    };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    write_files(dir.path());
    let output = Command::new(&promtool)
        .args(["test", "rules", "test.yml"])
        .current_dir(dir.path())
        .output()
        .unwrap_or_else(|e| panic!("running promtool: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let alerts = parse_got_alerts(&text);
    let fixture = series();
    assert_eq!(
        alerts.len(),
        fixture.len(),
        "one alert per series expected; promtool said:\n{text}"
    );

    let mut compared = 0;
    let mut mismatches = Vec::new();
    for (labels, annotations) in &alerts {
        let instance = labels.get("instance").cloned().unwrap_or_default();
        let series = fixture
            .iter()
            .find(|s| s.labels.get("instance") == Some(&instance))
            .unwrap_or_else(|| {
                panic!("promtool reported an alert for unknown instance {instance:?}")
            });
        assert_eq!(
            annotations.len(),
            CASES.len(),
            "promtool lost annotations:\n{text}"
        );
        for (i, case) in CASES.iter().enumerate() {
            let theirs = &annotations[&format!("c{i:03}")];
            let ours = expand(case, series);
            compared += 1;
            if *theirs != ours {
                mismatches.push(format!(
                    "case c{i:03} {case:?} for {instance}:\n  prometheus: {theirs:?}\n  ours:       {ours:?}"
                ));
            }
        }
        let ours = expand("{{ $labels.job | toUpper }}-{{ $value }}", series);
        compared += 1;
        if labels.get("templated") != Some(&ours) {
            mismatches.push(format!(
                "label template: prometheus {:?}, ours {ours:?}",
                labels.get("templated")
            ));
        }
    }
    eprintln!(
        "compared {compared} expansions with promtool, {} differ",
        mismatches.len()
    );
    assert!(
        mismatches.is_empty(),
        "{} of {compared} differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
