//! The routing cases of Alertmanager's own route tests, ported as cases:
//! which routes (receiver, grouping, timing) and which keys a label set
//! gets, for a tree written with `match`/`match_re` and the same tree with
//! `matchers`.

use std::time::Duration;

use super::*;
use crate::config::RouteConfig;

const TREE_MATCH: &str = r#"
receiver: 'notify-def'
routes:
- match: {owner: 'team-A'}
  receiver: 'notify-A'
  routes:
  - match: {env: 'testing'}
    receiver: 'notify-testing'
    group_by: [...]
  - match: {env: "production"}
    receiver: 'notify-productionA'
    group_wait: 1m
    continue: true
  - match_re: {env: "produ.*", job: ".*"}
    receiver: 'notify-productionB'
    group_wait: 30s
    group_interval: 5m
    repeat_interval: 1h
    group_by: ['job']
- match_re: {owner: 'team-(B|C)'}
  group_by: ['foo', 'bar']
  group_wait: 2m
  receiver: 'notify-BC'
- match: {group_by: 'role'}
  group_by: ['role']
  routes:
  - match: {env: 'testing'}
    receiver: 'notify-testing'
    routes:
    - match: {wait: 'long'}
      group_wait: 2m
"#;

const TREE_MATCHERS: &str = r#"
receiver: 'notify-def'
routes:
- matchers: ['{owner="team-A"}', '{level!="critical"}']
  receiver: 'notify-A'
  routes:
  - matchers: ['{env="testing"}', '{baz!~".*quux"}']
    receiver: 'notify-testing'
    group_by: [...]
  - matchers: ['{env="production"}']
    receiver: 'notify-productionA'
    group_wait: 1m
    continue: true
  - matchers: [ env=~"produ.*", job=~".*"]
    receiver: 'notify-productionB'
    group_wait: 30s
    group_interval: 5m
    repeat_interval: 1h
    group_by: ['job']
- matchers: [owner=~"team-(B|C)"]
  group_by: ['foo', 'bar']
  group_wait: 2m
  receiver: 'notify-BC'
- matchers: [group_by="role"]
  group_by: ['role']
  routes:
  - matchers: ['{env="testing"}']
    receiver: 'notify-testing'
    routes:
    - matchers: [wait="long"]
      group_wait: 2m
"#;

fn tree(yaml: &str) -> Route {
    let config: RouteConfig = serde_yaml::from_str(yaml).expect("parses");
    Route::build(&config).expect("valid")
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::new(pairs.iter().copied()).expect("valid")
}

/// (receiver, group_by (`...` for all), group_wait s, group_interval s,
/// repeat_interval s, key)
type Expected<'a> = (&'a str, &'a [&'a str], u64, u64, u64, &'a str);

fn check(tree: &Route, input: &[(&str, &str)], want: &[Expected<'_>]) {
    let got = tree.match_labels(&labels(input));
    assert_eq!(got.len(), want.len(), "{input:?}");
    for (route, (receiver, group_by, wait, interval, repeat, key)) in got.iter().zip(want) {
        assert_eq!(route.opts.receiver, *receiver, "{input:?}");
        if group_by == &["..."] {
            assert!(route.opts.group_by_all, "{input:?}");
        } else {
            assert!(!route.opts.group_by_all, "{input:?}");
            let names: Vec<&str> = route.opts.group_by.iter().map(String::as_str).collect();
            let mut want_names = group_by.to_vec();
            want_names.sort_unstable();
            assert_eq!(names, want_names, "{input:?}");
        }
        assert_eq!(
            route.opts.group_wait,
            Duration::from_secs(*wait),
            "{input:?}"
        );
        assert_eq!(
            route.opts.group_interval,
            Duration::from_secs(*interval),
            "{input:?}"
        );
        assert_eq!(
            route.opts.repeat_interval,
            Duration::from_secs(*repeat),
            "{input:?}"
        );
        assert_eq!(route.key(), *key, "{input:?}");
    }
}

const H4: u64 = 4 * 3600;

#[test]
fn match_and_match_re_tree() {
    let t = tree(TREE_MATCH);
    check(
        &t,
        &[("owner", "team-A")],
        &[("notify-A", &[], 30, 300, H4, r#"{}/{owner="team-A"}"#)],
    );
    check(
        &t,
        &[("owner", "team-A"), ("env", "unset")],
        &[("notify-A", &[], 30, 300, H4, r#"{}/{owner="team-A"}"#)],
    );
    check(
        &t,
        &[("owner", "team-C")],
        &[(
            "notify-BC",
            &["foo", "bar"],
            120,
            300,
            H4,
            r#"{}/{owner=~"^(?:team-(B|C))$"}"#,
        )],
    );
    check(
        &t,
        &[("owner", "team-A"), ("env", "testing")],
        &[(
            "notify-testing",
            &["..."],
            30,
            300,
            H4,
            r#"{}/{owner="team-A"}/{env="testing"}"#,
        )],
    );
    check(
        &t,
        &[("owner", "team-A"), ("env", "production")],
        &[
            (
                "notify-productionA",
                &[],
                60,
                300,
                H4,
                r#"{}/{owner="team-A"}/{env="production"}"#,
            ),
            (
                "notify-productionB",
                &["job"],
                30,
                300,
                3600,
                r#"{}/{owner="team-A"}/{env=~"^(?:produ.*)$",job=~"^(?:.*)$"}"#,
            ),
        ],
    );
    check(
        &t,
        &[("group_by", "role")],
        &[(
            "notify-def",
            &["role"],
            30,
            300,
            H4,
            r#"{}/{group_by="role"}"#,
        )],
    );
    check(
        &t,
        &[("env", "testing"), ("group_by", "role")],
        &[(
            "notify-testing",
            &["role"],
            30,
            300,
            H4,
            r#"{}/{group_by="role"}/{env="testing"}"#,
        )],
    );
    check(
        &t,
        &[("env", "testing"), ("group_by", "role"), ("wait", "long")],
        &[(
            "notify-testing",
            &["role"],
            120,
            300,
            H4,
            r#"{}/{group_by="role"}/{env="testing"}/{wait="long"}"#,
        )],
    );
    check(
        &t,
        &[("nothing", "here")],
        &[("notify-def", &[], 30, 300, H4, "{}")],
    );
}

#[test]
fn matchers_tree() {
    let t = tree(TREE_MATCHERS);
    let a = r#"{}/{level!="critical",owner="team-A"}"#;
    check(
        &t,
        &[("owner", "team-A")],
        &[("notify-A", &[], 30, 300, H4, a)],
    );
    check(
        &t,
        &[("owner", "team-A"), ("level", "critical")],
        &[("notify-def", &[], 30, 300, H4, "{}")],
    );
    check(
        &t,
        &[("owner", "team-C")],
        &[(
            "notify-BC",
            &["foo", "bar"],
            120,
            300,
            H4,
            r#"{}/{owner=~"team-(B|C)"}"#,
        )],
    );
    let testing = format!(r#"{a}/{{baz!~".*quux",env="testing"}}"#);
    check(
        &t,
        &[("owner", "team-A"), ("env", "testing")],
        &[("notify-testing", &["..."], 30, 300, H4, &testing)],
    );
    // `baz` ending in quux fails the testing route: back to notify-A.
    check(
        &t,
        &[("owner", "team-A"), ("env", "testing"), ("baz", "aquux")],
        &[("notify-A", &[], 30, 300, H4, a)],
    );
    let prod_a = format!(r#"{a}/{{env="production"}}"#);
    let prod_b = format!(r#"{a}/{{env=~"produ.*",job=~".*"}}"#);
    check(
        &t,
        &[("owner", "team-A"), ("env", "production")],
        &[
            ("notify-productionA", &[], 60, 300, H4, &prod_a),
            ("notify-productionB", &["job"], 30, 300, 3600, &prod_b),
        ],
    );
}

#[test]
fn group_by_all_is_inherited_until_overridden() {
    let t = tree(
        "routes:\n- match: {env: parent}\n  group_by: ['...']\n  routes:\n  - match: {env: child1}\n  - match: {env: child2}\n    group_by: [foo]\n",
    );
    let parent = &t.routes[0];
    assert!(parent.opts.group_by_all);
    assert!(parent.routes[0].opts.group_by_all);
    assert!(!parent.routes[1].opts.group_by_all);
}

#[test]
fn walk_order_and_group_labels() {
    let t = tree(TREE_MATCH);
    let receivers: Vec<&str> = t.walk().iter().map(|r| r.opts.receiver.as_str()).collect();
    let indexes: Vec<usize> = t.walk().iter().map(|r| r.index()).collect();
    assert_eq!(indexes, (0..9).collect::<Vec<_>>());
    assert_eq!(
        receivers,
        [
            "notify-def",
            "notify-A",
            "notify-testing",
            "notify-productionA",
            "notify-productionB",
            "notify-BC",
            "notify-def",
            "notify-testing",
            "notify-testing"
        ]
    );
    let ls = labels(&[("owner", "team-C"), ("foo", "1"), ("zzz", "x\"y")]);
    let routes = t.match_labels(&ls);
    let group = routes[0].group_labels(&ls);
    assert_eq!(
        group_key(routes[0], &group),
        r#"{}/{owner=~"^(?:team-(B|C))$"}:{foo="1"}"#
    );
    let all = t.match_labels(&labels(&[
        ("owner", "team-A"),
        ("env", "testing"),
        ("q", "a\"b"),
    ]));
    let g = all[0].group_labels(&labels(&[
        ("owner", "team-A"),
        ("env", "testing"),
        ("q", "a\"b"),
    ]));
    assert_eq!(
        format_label_set(&g),
        r#"{env="testing", owner="team-A", q="a\"b"}"#
    );
}
