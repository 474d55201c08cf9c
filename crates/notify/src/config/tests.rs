use super::*;

const FULL: &str = r#"
global:
  resolve_timeout: 2m
  smtp_smarthost: 'smtp.example.org:587'
  smtp_from: 'alertmanager@example.org'
  smtp_auth_username: 'alertmanager'
  smtp_auth_password: 'hunter2'
  slack_api_url: 'https://hooks.slack.com/services/T/B/X'
templates: ['/etc/alertmanager/template/*.tmpl']
route:
  receiver: team-X-mails
  group_by: ['alertname', 'cluster', 'service']
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 3h
  routes:
    - matchers: ['service=~"foo1|foo2|baz"']
      receiver: team-X-mails
      routes:
        - matchers: [severity="critical"]
          receiver: team-X-pager
    - match: {service: files}
      receiver: team-Y-mails
      mute_time_intervals: [offhours]
      routes:
        - match: {severity: critical}
          receiver: team-Y-pager
    - match_re: {service: 'database|db'}
      receiver: team-DB-pager
      group_by: [alertname, cluster, database]
      active_time_intervals: [offhours]
      continue: true
    - receiver: everything
      group_by: ['...']
inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    equal: [alertname, cluster, service]
  - source_match: {severity: page}
    target_match_re: {severity: 'info|warning'}
time_intervals:
  - name: offhours
    time_intervals:
      - times: [{start_time: '18:00', end_time: '24:00'}]
        weekdays: ['monday:friday']
receivers:
  - name: team-X-mails
    email_configs:
      - to: 'team-X+alerts@example.org'
        headers: {subject: 'Alert!', x-team: X}
  - name: team-X-pager
    email_configs:
      - to: 'team-X+alerts-critical@example.org'
        smarthost: 'other.example.org:25'
        require_tls: false
    pagerduty_configs:
      - routing_key: abc
  - name: team-Y-mails
    webhook_configs:
      - url: 'http://127.0.0.1:5001/hook'
        max_alerts: 10
        timeout: 10s
  - name: team-Y-pager
    slack_configs:
      - channel: '#pager'
        title: 'custom'
  - name: team-DB-pager
    pagerduty_configs:
      - service_key: 'legacy'
        url: 'https://example.org/pd'
        details: {firing: 'mine'}
  - name: everything
    discord_configs:
      - webhook_url: 'https://discord.com/api/webhooks/1/x'
    opsgenie_configs:
      - api_key: x
"#;

#[test]
fn full_sample_with_defaults() {
    let c = AlertmanagerConfig::from_yaml(FULL).expect("valid");
    assert_eq!(c.global.resolve_timeout.0.as_secs(), 120);
    assert_eq!(c.global.smtp_hello, "localhost");
    assert_eq!(c.global.pagerduty_url.0, DEFAULT_PAGERDUTY_URL);
    assert_eq!(c.templates, ["/etc/alertmanager/template/*.tmpl"]);
    let mails = &c.receiver("team-X-mails").expect("exists").email_configs[0];
    assert_eq!(mails.from, "alertmanager@example.org");
    assert_eq!(
        mails.smarthost.as_ref().expect("global").to_string(),
        "smtp.example.org:587"
    );
    assert_eq!(mails.auth_password.expose(), "hunter2");
    assert!(!format!("{mails:?}").contains("hunter2"));
    assert_eq!(mails.require_tls, Some(true));
    assert!(!mails.send_resolved);
    assert_eq!(
        mails.headers.get("Subject").map(String::as_str),
        Some("Alert!")
    );
    assert_eq!(mails.headers.get("X-Team").map(String::as_str), Some("X"));
    assert!(mails.html.contains("email.default.html"));
    let pager = c.receiver("team-X-pager").expect("exists");
    assert_eq!(pager.email_configs[0].require_tls, Some(false));
    assert!(pager.email_configs[0].headers["Subject"].contains("email.default.subject"));
    let pd = &pager.pagerduty_configs[0];
    assert!(pd.send_resolved);
    assert_eq!(pd.url.as_ref().expect("global").0, DEFAULT_PAGERDUTY_URL);
    assert_eq!(pd.details.len(), 4);
    let db = &c
        .receiver("team-DB-pager")
        .expect("exists")
        .pagerduty_configs[0];
    assert_eq!(db.details["firing"], "mine");
    assert_eq!(db.url.as_ref().expect("own").0, "https://example.org/pd");
    let hook = &c.receiver("team-Y-mails").expect("exists").webhook_configs[0];
    assert!(hook.send_resolved);
    assert_eq!(hook.max_alerts, 10);
    assert_eq!(hook.timeout.map(|t| t.as_secs()), Some(10));
    let slack = &c.receiver("team-Y-pager").expect("exists").slack_configs[0];
    assert!(!slack.send_resolved);
    assert_eq!(
        slack.api_url.as_ref().expect("global").expose(),
        "https://hooks.slack.com/services/T/B/X"
    );
    assert_eq!(slack.title, "custom");
    assert!(slack.text.contains("slack.default.text"));
    let everything = c.receiver("everything").expect("exists");
    assert!(everything.discord_configs[0].send_resolved);
    assert_eq!(everything.unsupported_integrations(), ["opsgenie_configs"]);
    assert_eq!(c.inhibit_rules.len(), 2);
    assert!(c.time_intervals.contains_key("offhours"));
    // Secrets are not shown.
    assert!(!c.original.contains("hunter2"), "{}", c.original);
    assert!(!c.original.contains("hooks.slack.com"));
    assert!(c.original.contains("<secret>"));
}

#[test]
fn route_options_are_inherited() {
    let c = AlertmanagerConfig::from_yaml(FULL).expect("valid");
    let routes = c.route.walk();
    let root = routes[0];
    assert_eq!(root.opts.repeat_interval.as_secs(), 3 * 3600);
    let x_pager = routes[2];
    assert_eq!(x_pager.opts.receiver, "team-X-pager");
    assert_eq!(x_pager.opts.repeat_interval.as_secs(), 3 * 3600);
    assert_eq!(
        x_pager.opts.group_by.iter().cloned().collect::<Vec<_>>(),
        ["alertname", "cluster", "service"]
    );
    assert_eq!(
        x_pager.key(),
        r#"{}/{service=~"foo1|foo2|baz"}/{severity="critical"}"#
    );
    let y_mails = routes[3];
    assert_eq!(y_mails.opts.mute_time_intervals, ["offhours"]);
    // Time intervals are not inherited.
    assert!(routes[4].opts.mute_time_intervals.is_empty());
    let everything = routes[6];
    assert!(everything.opts.group_by_all);
}

#[test]
fn global_http_config_and_empty_smarthost() {
    let c = AlertmanagerConfig::from_yaml(
        "global:\n  smtp_smarthost: ''\n  http_config: {bearer_token: t, follow_redirects: false}\nroute: {receiver: r}\nreceivers:\n- name: r\n  webhook_configs:\n  - url: 'http://a/'\n  - url: 'http://b/'\n    http_config: {basic_auth: {username: u}}\n",
    )
    .expect("valid");
    assert!(c.global.smtp_smarthost.is_none());
    let hooks = &c.receivers[0].webhook_configs;
    assert_eq!(
        hooks[0]
            .http_config
            .bearer_token
            .as_ref()
            .map(|t| t.expose()),
        Some("t")
    );
    assert!(!hooks[0].http_config.follow_redirects);
    assert!(hooks[1].http_config.bearer_token.is_none());
    assert_eq!(
        hooks[1]
            .http_config
            .basic_auth
            .as_ref()
            .map(|b| b.username.as_str()),
        Some("u")
    );
}

#[test]
fn defaults_of_a_minimal_config() {
    let c = AlertmanagerConfig::from_yaml("route: {receiver: r}\nreceivers: [{name: r}]")
        .expect("valid");
    assert_eq!(c.route.opts.group_wait.as_secs(), 30);
    assert_eq!(c.route.opts.group_interval.as_secs(), 300);
    assert_eq!(c.route.opts.repeat_interval.as_secs(), 4 * 3600);
    assert!(c.route.opts.group_by.is_empty() && !c.route.opts.group_by_all);
    assert_eq!(c.global.resolve_timeout.0.as_secs(), 300);
    assert!(c.global.smtp_require_tls);
    let from_value = AlertmanagerConfig::from_value(
        serde_yaml::from_str("route: {receiver: r}\nreceivers: [{name: r}]").expect("yaml"),
    )
    .expect("valid");
    assert_eq!(from_value.receivers.len(), 1);
}

/// Every refusal, with the message Alertmanager gives where it has one.
pub(crate) const INVALID: &[(&str, &str)] = &[
    ("receivers: [{name: r}]", "no routes provided"),
    ("route: {group_by: [a]}\nreceivers: [{name: r}]", "root route must specify a default receiver"),
    ("route: {receiver: r, matchers: [a=b]}\nreceivers: [{name: r}]", "root route must not have any matchers"),
    ("route: {receiver: r, match: {a: b}}\nreceivers: [{name: r}]", "root route must not have any matchers"),
    ("route: {receiver: r, mute_time_intervals: [x]}\nreceivers: [{name: r}]\ntime_intervals: [{name: x}]", "root route must not have any mute time intervals"),
    ("route: {receiver: r, active_time_intervals: [x]}\nreceivers: [{name: r}]\ntime_intervals: [{name: x}]", "root route must not have any active time intervals"),
    ("route: {receiver: nope}\nreceivers: [{name: r}]", "undefined receiver \"nope\" used in route"),
    ("route: {receiver: r, routes: [{receiver: x}]}\nreceivers: [{name: r}]", "undefined receiver \"x\" used in route"),
    ("route: {receiver: r}\nreceivers: [{name: r}, {name: r}]", "notification config name \"r\" is not unique"),
    ("route: {receiver: r}\nreceivers: [{webhook_configs: []}]", "missing name in receiver"),
    ("route: {receiver: r, routes: [{match_re: {a: '('}}]}\nreceivers: [{name: r}]", "invalid regular expression"),
    ("route: {receiver: r, routes: [{matchers: ['a=~(']}]}\nreceivers: [{name: r}]", "invalid regular expression"),
    ("route: {receiver: r, routes: [{matchers: ['a']}]}\nreceivers: [{name: r}]", "bad matcher format: a"),
    ("route: {receiver: r, routes: [{match: {'a-b': c}}]}\nreceivers: [{name: r}]", "invalid label name \"a-b\""),
    ("route: {receiver: r, group_by: ['a-b']}\nreceivers: [{name: r}]", "invalid label name \"a-b\" in group_by list"),
    ("route: {receiver: r, group_by: ['...', a]}\nreceivers: [{name: r}]", "cannot have wildcard group_by (`...`) and other other labels at the same time"),
    ("route: {receiver: r, group_by: [a, a]}\nreceivers: [{name: r}]", "duplicated label \"a\" in group_by"),
    ("route: {receiver: r, group_interval: 0s}\nreceivers: [{name: r}]", "group_interval cannot be zero"),
    ("route: {receiver: r, repeat_interval: 0s}\nreceivers: [{name: r}]", "repeat_interval cannot be zero"),
    ("route: {receiver: r, group_wait: soon}\nreceivers: [{name: r}]", "soon"),
    ("route: {receiver: r, routes: [{mute_time_intervals: [x]}]}\nreceivers: [{name: r}]", "undefined time interval \"x\" used in route"),
    ("route: {receiver: r}\nreceivers: [{name: r}]\ntime_intervals: [{name: x}, {name: x}]", "time interval \"x\" is not unique"),
    ("route: {receiver: r}\nreceivers: [{name: r}]\nmute_time_intervals: [{name: x}, {name: x}]", "mute time interval \"x\" is not unique"),
    ("route: {receiver: r}\nreceivers: [{name: r}]\ntime_intervals: [{name: x, time_intervals: [{weekdays: [someday]}]}]", "someday is not a valid weekday"),
    ("route: {receiver: r}\nreceivers: [{name: r}]\ntime_intervals: [{name: x, time_intervals: [{location: Mars/Olympus}]}]", "unknown time zone Mars/Olympus"),
    ("route: {receiver: r}\nreceivers: [{name: r}]\ninhibit_rules: [{source_match_re: {a: '['}}]", "invalid regular expression"),
    ("route: {receiver: r}\nreceivers: [{name: r}]\ninhibit_rules: [{equal: ['x y']}]", "\"x y\" is not a valid label name"),
    ("route: {receiver: r}\nreceivers: [{name: r, webhook_configs: [{}]}]", "missing URL in webhook config"),
    ("route: {receiver: r}\nreceivers: [{name: r, webhook_configs: [{url: 'http://a/', url_file: f}]}]", "at most one of url & url_file must be configured"),
    ("route: {receiver: r}\nreceivers: [{name: r, webhook_configs: [{url: 'ftp://a/'}]}]", "unsupported scheme \"ftp\" for URL"),
    ("route: {receiver: r}\nreceivers: [{name: r, slack_configs: [{channel: x}]}]", "no global Slack API URL set either inline or in a file"),
    ("route: {receiver: r}\nreceivers: [{name: r, slack_configs: [{api_url: 'http://a/', fields: [{title: a}]}]}]", "missing value in Slack field configuration"),
    ("route: {receiver: r}\nreceivers: [{name: r, slack_configs: [{api_url: 'http://a/', fields: [{value: a}]}]}]", "missing title in Slack field configuration"),
    ("route: {receiver: r}\nreceivers: [{name: r, slack_configs: [{api_url: 'http://a/', actions: [{text: a, name: b}]}]}]", "missing type in Slack action configuration"),
    ("route: {receiver: r}\nreceivers: [{name: r, slack_configs: [{api_url: 'http://a/', actions: [{type: button, name: b}]}]}]", "missing text in Slack action configuration"),
    ("route: {receiver: r}\nreceivers: [{name: r, slack_configs: [{api_url: 'http://a/', actions: [{type: button, text: a}]}]}]", "missing name or url in Slack action configuration"),
    ("route: {receiver: r}\nreceivers: [{name: r, slack_configs: [{api_url: 'http://a/', actions: [{type: button, text: a, url: 'http://b/', confirm: {title: x}}]}]}]", "missing text in Slack confirmation configuration"),
    ("route: {receiver: r}\nreceivers: [{name: r, email_configs: [{to: a@b}]}]", "no global SMTP smarthost set"),
    ("global: {smtp_smarthost: 'h:25'}\nroute: {receiver: r}\nreceivers: [{name: r, email_configs: [{to: a@b}]}]", "no global SMTP from set"),
    ("route: {receiver: r}\nreceivers: [{name: r, email_configs: [{from: a@b, smarthost: 'h:25'}]}]", "missing to address in email config"),
    ("route: {receiver: r}\nreceivers: [{name: r, email_configs: [{to: a@b, from: a@b, smarthost: 'nohost'}]}]", "missing port in address"),
    ("route: {receiver: r}\nreceivers: [{name: r, email_configs: [{to: a, from: a, smarthost: 'h:1', headers: {subject: x, Subject: y}}]}]", "duplicate header \"Subject\" in email config"),
    ("route: {receiver: r}\nreceivers: [{name: r, pagerduty_configs: [{}]}]", "missing service or routing key in PagerDuty config"),
    ("route: {receiver: r}\nreceivers: [{name: r, discord_configs: [{}]}]", "no discord webhook URL provided"),
    ("route: {receiver: r}\nreceivers: [{name: r, webhook_configs: [{url: 'http://a/', http_config: {basic_auth: {username: u}, bearer_token: t}}]}]", "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured"),
    ("route: {receiver: r}\nreceivers: [{name: r}]\nglobal: {slack_api_url: 'http://a/', slack_api_url_file: f}", "at most one of slack_api_url & slack_api_url_file must be configured"),
    ("route: {receiver: r, typo: 1}\nreceivers: [{name: r}]", "unknown field `typo`"),
    ("route: {receiver: r}\nreceivers: [{name: r}]\nextra: 1", "unknown field `extra`"),
];

#[test]
fn every_refusal_has_its_message() {
    for (yaml, want) in INVALID {
        let err = AlertmanagerConfig::from_yaml(yaml)
            .expect_err(yaml)
            .to_string();
        assert!(
            err.contains(want),
            "config:\n{yaml}\nwant: {want}\ngot: {err}"
        );
        assert!(
            err.starts_with("invalid alertmanager configuration: "),
            "{err}"
        );
    }
}

/// The refusals above are Alertmanager's too (with its messages, except
/// for regex errors, which Go words differently, and keys 0.25 does not
/// know): `amtool check-config`
/// (Alertmanager 0.25) refuses each, and accepts the full sample once the
/// keys it does not know are taken out. Skipped without amtool unless
/// `AGENTMON_REQUIRE_PEERS=1`.
#[test]
fn alertmanager_refuses_the_same_configs() {
    use std::process::Command;
    if Command::new("amtool").arg("--version").output().is_err() {
        if std::env::var("AGENTMON_REQUIRE_PEERS").as_deref() == Ok("1") {
            panic!("amtool is required (AGENTMON_REQUIRE_PEERS=1) but was not found");
        }
        eprintln!("SKIP: amtool not found (Debian package prometheus-alertmanager)");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let check = |yaml: &str| -> (bool, String) {
        let path = dir.path().join("am.yml");
        std::fs::write(&path, yaml).expect("write");
        let out = Command::new("amtool")
            .arg("check-config")
            .arg(&path)
            .output()
            .expect("amtool runs");
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.success(), text)
    };
    // Alertmanager 0.25 has no webhook `timeout` (agentmon's addition).
    let full = FULL.replace("        timeout: 10s\n", "");
    assert!(check(&full).0, "amtool refuses the full sample");
    // Messages agentmon words its own way: Rust's regex errors, serde's
    // unknown-key errors, and `url_file`, which 0.25 does not know.
    const WORDED_DIFFERENTLY: &[&str] = &[
        "invalid regular expression",
        "unknown field",
        "at most one of url & url_file",
    ];
    let mut differences = Vec::new();
    for (yaml, want) in INVALID {
        let (accepted, text) = check(yaml);
        let own_words = WORDED_DIFFERENTLY.iter().any(|w| want.starts_with(w));
        if accepted || !(own_words || text.contains(want)) {
            differences.push(format!("{want}: amtool says {text:?}"));
        }
    }
    assert!(differences.is_empty(), "{differences:#?}");
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Outside input never panics the loader.
        #[test]
        fn loading_never_panics(text in "[a-z_:{}\\[\\]'\" \n0-9.=~!-]{0,80}") {
            let _ = AlertmanagerConfig::from_yaml(&text);
            let with_route = format!("route: {{receiver: r}}\nreceivers: [{{name: r}}]\n{text}");
            let _ = AlertmanagerConfig::from_yaml(&with_route);
        }
    }
}

#[test]
fn receiver_secrets_seal_and_open_in_place() {
    use crate::secrets::{is_sealed_text, SecretKey};
    let key = SecretKey::generate().expect("key");
    let mut receiver = ReceiverConfig::from_yaml(
        "name: r\nwebhook_configs: [{url: 'http://h/tok', http_config: {basic_auth: {username: u, password: pw}}}]\npagerduty_configs: [{routing_key: rk}]\nemail_configs: [{to: a@b.c, from: x@y.z, smarthost: 'h:25', auth_password: mailpw}]",
    )
    .expect("valid");
    let original = receiver.clone();
    receiver.seal_secrets(&key).expect("seals");
    let mut sealed = 0;
    receiver.for_each_secret_mut(|s| {
        if !s.is_empty() {
            assert!(is_sealed_text(s.expose()));
            sealed += 1;
        }
    });
    assert_eq!(sealed, 4);
    assert_ne!(receiver, original);
    let mut wrong = receiver.clone();
    assert!(wrong
        .open_sealed_secrets(&SecretKey::generate().expect("key"))
        .is_err());
    receiver.open_sealed_secrets(&key).expect("opens");
    assert_eq!(receiver, original);
}

#[test]
fn sidecar_routes_deliver_beside_the_configured_tree() {
    let config = AlertmanagerConfig::from_yaml(
        "route: {receiver: root, routes: [{receiver: team, matchers: ['severity=\"critical\"']}]}\nreceivers: [{name: root}, {name: team}]",
    )
    .expect("valid");
    let with = config
        .with_sidecar_routes(&[
            SidecarRoute {
                label: "agentmon_alert".into(),
                value: "low-balance".into(),
                receiver: "agentmon-alert-low-balance".into(),
                webhook_url: Some("http://127.0.0.1:9/hook".into()),
            },
            SidecarRoute {
                label: "agentmon_alert".into(),
                value: "down".into(),
                receiver: "team".into(),
                webhook_url: None,
            },
        ])
        .expect("valid");
    let receivers = |pairs: &[(&str, &str)]| -> Vec<String> {
        let labels = agentmon_model::Labels::new(pairs.iter().copied()).expect("valid");
        with.route
            .match_labels(&labels)
            .iter()
            .map(|r| r.opts.receiver.clone())
            .collect()
    };
    // In addition to the tree: the root still gets what no child takes,
    // and a matching child still stops nothing.
    assert_eq!(
        receivers(&[("agentmon_alert", "low-balance")]),
        ["root", "agentmon-alert-low-balance"]
    );
    assert_eq!(
        receivers(&[("agentmon_alert", "low-balance"), ("severity", "critical")]),
        ["team", "agentmon-alert-low-balance"]
    );
    assert_eq!(receivers(&[("agentmon_alert", "down")]), ["root", "team"]);
    assert_eq!(receivers(&[("alertname", "x")]), ["root"]);
    assert_eq!(
        with.original, config.original,
        "the shown config is as written"
    );
    let hook = with.receiver("agentmon-alert-low-balance").expect("added");
    assert!(hook.webhook_configs[0].send_resolved);
    let err = config
        .with_sidecar_routes(&[SidecarRoute {
            label: "agentmon_alert".into(),
            value: "x".into(),
            receiver: "nope".into(),
            webhook_url: None,
        }])
        .unwrap_err();
    assert!(
        err.to_string().contains("unknown receiver \"nope\""),
        "{err}"
    );
    let err = config
        .with_sidecar_routes(&[SidecarRoute {
            label: "agentmon_alert".into(),
            value: "x".into(),
            receiver: "root".into(),
            webhook_url: Some("http://127.0.0.1:9/".into()),
        }])
        .unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
}
