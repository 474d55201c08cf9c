//! Differential test of the routing tree against real Alertmanager 0.25:
//! `amtool config routes test` prints the receivers a label set is routed
//! to; the same configuration and label sets must give the same receivers
//! here. Skipped when amtool is absent, unless `AGENTMON_REQUIRE_PEERS=1`.

use std::path::Path;
use std::process::Command;

use agentmon_model::Labels;
use agentmon_notify::AlertmanagerConfig;

fn amtool() -> Option<&'static str> {
    let found = Command::new("amtool").arg("--version").output().is_ok();
    if found {
        return Some("amtool");
    }
    if std::env::var("AGENTMON_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!("amtool is required (AGENTMON_REQUIRE_PEERS=1) but was not found");
    }
    eprintln!("SKIP: amtool not found (Debian package prometheus-alertmanager)");
    None
}

/// What amtool routes the label set to, as `a,b`.
fn amtool_receivers(tool: &str, config: &Path, labels: &[(String, String)]) -> String {
    let out = Command::new(tool)
        .arg("config")
        .arg("routes")
        .arg("test")
        .arg(format!("--config.file={}", config.display()))
        .args(labels.iter().map(|(n, v)| format!("{n}={v}")))
        .output()
        .expect("amtool runs");
    assert!(
        out.status.success(),
        "amtool failed for {labels:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Combinations of a few values for each label (or the label left out),
/// `limit` of them picked by stepping through all combinations with a
/// prime stride, so every dimension varies.
fn label_sets(dims: &[(&str, &[&str])], limit: usize) -> Vec<Vec<(String, String)>> {
    const STRIDE: usize = 7919;
    let total: usize = dims.iter().map(|(_, vs)| vs.len() + 1).product();
    // A prime stride visits distinct combinations unless it divides the total.
    assert!(!total.is_multiple_of(STRIDE));
    let mut sets = Vec::new();
    for i in 0..limit.min(total) {
        let mut rest = (i * STRIDE) % total;
        let mut set = Vec::new();
        for (name, values) in dims {
            let choice = rest % (values.len() + 1);
            rest /= values.len() + 1;
            // Choice 0 leaves the label out.
            if choice > 0 {
                set.push((name.to_string(), values[choice - 1].to_string()));
            }
        }
        if !set.is_empty() {
            sets.push(set);
        }
    }
    sets
}

fn compare(name: &str, yaml: &str, dims: &[(&str, &[&str])], limit: usize) {
    let Some(tool) = amtool() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(format!("{name}.yml"));
    std::fs::write(&path, yaml).expect("write config");
    let config = AlertmanagerConfig::from_yaml(yaml).expect("valid config");
    let sets = label_sets(dims, limit);
    let mut mismatches = Vec::new();
    let mut outcomes = std::collections::BTreeSet::new();
    for set in &sets {
        let labels =
            Labels::new(set.iter().map(|(n, v)| (n.as_str(), v.as_str()))).expect("labels");
        let ours: Vec<&str> = config
            .route
            .match_labels(&labels)
            .iter()
            .map(|r| r.opts.receiver.as_str())
            .collect();
        let theirs = amtool_receivers(tool, &path, set);
        outcomes.insert(theirs.clone());
        if ours.join(",") != theirs {
            mismatches.push(format!(
                "{set:?}: agentmon {:?}, amtool {theirs:?}",
                ours.join(",")
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{name}: {} of {} label sets differ:\n{}",
        mismatches.len(),
        sets.len(),
        mismatches.join("\n")
    );
    // The label sets must exercise the tree: many different outcomes,
    // some of them several receivers (`continue`).
    assert!(outcomes.len() >= 6, "{name}: only {outcomes:?}");
    assert!(
        outcomes.iter().any(|o| o.contains(',')),
        "{name}: {outcomes:?}"
    );
    eprintln!(
        "{name}: {} label sets routed as amtool routes them ({} distinct outcomes)",
        sets.len(),
        outcomes.len()
    );
}

const RECEIVERS: &str = "
receivers:
  - name: notify-def
  - name: notify-A
  - name: notify-testing
  - name: notify-productionA
  - name: notify-productionB
  - name: notify-BC
  - name: notify-crit
  - name: notify-any
";

#[test]
fn matchers_tree_routes_like_alertmanager() {
    let yaml = format!(
        r#"
route:
  receiver: notify-def
  routes:
  - matchers: ['{{owner="team-A"}}', '{{level!="critical"}}']
    receiver: notify-A
    routes:
    - matchers: ['{{env="testing"}}', '{{baz!~".*quux"}}']
      receiver: notify-testing
    - matchers: ['{{env="production"}}']
      receiver: notify-productionA
      continue: true
    - matchers: [ env=~"produ.*", job=~".*"]
      receiver: notify-productionB
  - matchers: [owner=~"team-(B|C)"]
    receiver: notify-BC
    continue: true
  - matchers: ['level=~"crit.*"', 'owner!=""']
    receiver: notify-crit
    continue: true
  - matchers: [job!~"api|web"]
    receiver: notify-any
{RECEIVERS}"#
    );
    compare(
        "matchers",
        &yaml,
        &[
            ("owner", &["team-A", "team-B", "team-C", "team-AB"]),
            ("level", &["critical", "crit", "warning"]),
            ("env", &["testing", "production", "produce"]),
            ("baz", &["quux", "aquux", "x"]),
            ("job", &["api", "web", "db"]),
        ],
        220,
    );
}

#[test]
fn match_and_match_re_tree_routes_like_alertmanager() {
    let yaml = format!(
        r#"
route:
  receiver: notify-def
  routes:
  - match: {{owner: team-A}}
    receiver: notify-A
    continue: true
    routes:
    - match: {{env: testing}}
      receiver: notify-testing
    - match_re: {{env: "produ.*", job: ".+"}}
      receiver: notify-productionB
      continue: true
    - match: {{env: production}}
      receiver: notify-productionA
  - match_re: {{owner: 'team-(B|C)'}}
    receiver: notify-BC
  - match: {{level: critical}}
    match_re: {{job: 'api|db'}}
    receiver: notify-crit
    routes:
    - match: {{env: testing}}
  - receiver: notify-any
{RECEIVERS}"#
    );
    compare(
        "match",
        &yaml,
        &[
            ("owner", &["team-A", "team-B", "team-C"]),
            ("level", &["critical", "warning"]),
            ("env", &["testing", "production", "produce"]),
            ("job", &["api", "web", "db"]),
        ],
        200,
    );
}
