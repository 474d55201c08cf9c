use std::collections::BTreeMap;

use super::*;

fn set(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

fn rules(yaml: &str) -> Vec<RelabelRule> {
    let configs: Vec<RelabelConfig> = serde_yaml::from_str(yaml).expect("yaml");
    compile_rules(&configs, "relabel_configs").expect("valid rules")
}

fn compile_error(yaml: &str) -> String {
    let configs: Vec<RelabelConfig> = serde_yaml::from_str(yaml).expect("yaml");
    compile_rules(&configs, "relabel_configs")
        .expect_err("invalid rule")
        .1
}

#[test]
fn replace_with_defaults_copies_the_joined_sources() {
    let r = rules("- source_labels: [a, b]\n  target_label: c\n");
    let out = relabel(set(&[("a", "foo"), ("b", "bar")]), &r).unwrap();
    assert_eq!(out, set(&[("a", "foo"), ("b", "bar"), ("c", "foo;bar")]));
}

#[test]
fn replace_regex_is_anchored_and_groups_expand() {
    let r = rules(
        "- source_labels: [a]\n  regex: 'f(o+)'\n  target_label: b\n  replacement: 'x-${1}-$1'\n",
    );
    assert_eq!(
        relabel(set(&[("a", "foo")]), &r).unwrap(),
        set(&[("a", "foo"), ("b", "x-oo-oo")])
    );
    // "afoo" does not match the anchored regex: nothing changes.
    assert_eq!(
        relabel(set(&[("a", "afoo")]), &r).unwrap(),
        set(&[("a", "afoo")])
    );
}

#[test]
fn replace_target_may_use_groups_and_empty_result_deletes() {
    let r = rules(
        "- source_labels: [a]\n  regex: '(.+)=(.*)'\n  target_label: '${1}'\n  replacement: '$2'\n",
    );
    assert_eq!(
        relabel(set(&[("a", "k=v")]), &r).unwrap(),
        set(&[("a", "k=v"), ("k", "v")])
    );
    // An empty replacement result deletes the target label.
    let r = rules("- source_labels: [x]\n  target_label: b\n");
    assert_eq!(relabel(set(&[("b", "old")]), &r).unwrap(), set(&[]));
    // An invalid expanded target name leaves the set alone.
    let r = rules("- source_labels: [a]\n  regex: '(.*)'\n  target_label: '$1'\n");
    assert_eq!(
        relabel(set(&[("a", "1bad")]), &r).unwrap(),
        set(&[("a", "1bad")])
    );
}

#[test]
fn keep_and_drop() {
    let keep = rules("- source_labels: [a]\n  regex: 'foo|bar'\n  action: keep\n");
    assert!(relabel(set(&[("a", "foo")]), &keep).is_some());
    assert!(relabel(set(&[("a", "foox")]), &keep).is_none());
    assert!(relabel(set(&[]), &keep).is_none());
    let drop = rules("- source_labels: [a]\n  regex: 'foo'\n  action: drop\n");
    assert!(relabel(set(&[("a", "foo")]), &drop).is_none());
    assert!(relabel(set(&[("a", "fo")]), &drop).is_some());
}

#[test]
fn keepequal_and_dropequal_compare_with_the_target() {
    let keep = rules("- source_labels: [a]\n  target_label: b\n  action: keepequal\n");
    assert!(relabel(set(&[("a", "1"), ("b", "1")]), &keep).is_some());
    assert!(relabel(set(&[("a", "1"), ("b", "2")]), &keep).is_none());
    let drop = rules("- source_labels: [a]\n  target_label: b\n  action: dropequal\n");
    assert!(relabel(set(&[("a", "1"), ("b", "1")]), &drop).is_none());
    assert!(relabel(set(&[("a", "1"), ("b", "2")]), &drop).is_some());
}

#[test]
fn hashmod_matches_prometheus() {
    // From Prometheus's relabel_test.go: md5("baz") mod 1000 is 976.
    let r = rules("- source_labels: [c]\n  target_label: d\n  modulus: 1000\n  action: hashmod\n");
    let out = relabel(set(&[("c", "baz")]), &r).unwrap();
    assert_eq!(out.get("d").map(String::as_str), Some("976"));
}

#[test]
fn labelmap_labeldrop_labelkeep() {
    let map = rules("- regex: '__meta_(.+)'\n  action: labelmap\n");
    assert_eq!(
        relabel(set(&[("__meta_zone", "eu"), ("a", "1")]), &map).unwrap(),
        set(&[("__meta_zone", "eu"), ("a", "1"), ("zone", "eu")])
    );
    let drop = rules("- regex: 'tmp_.*'\n  action: labeldrop\n");
    assert_eq!(
        relabel(set(&[("tmp_x", "1"), ("a", "1")]), &drop).unwrap(),
        set(&[("a", "1")])
    );
    let keep = rules("- regex: 'a|__name__'\n  action: labelkeep\n");
    assert_eq!(
        relabel(set(&[("__name__", "m"), ("a", "1"), ("b", "2")]), &keep).unwrap(),
        set(&[("__name__", "m"), ("a", "1")])
    );
}

#[test]
fn lowercase_and_uppercase() {
    let r = rules(
        "- source_labels: [a]\n  target_label: lo\n  action: lowercase\n\
         - source_labels: [a]\n  target_label: up\n  action: UpperCase\n",
    );
    assert_eq!(
        relabel(set(&[("a", "MiXed")]), &r).unwrap(),
        set(&[("a", "MiXed"), ("lo", "mixed"), ("up", "MIXED")])
    );
}

#[test]
fn invalid_rules_are_refused_with_reasons() {
    assert!(compile_error("- action: explode\n").contains("unknown relabel action"));
    assert!(compile_error("- source_labels: [a]\n").contains("requires a target_label"));
    assert!(compile_error("- target_label: b\n  action: hashmod\n").contains("modulus"));
    assert!(compile_error("- regex: '(('\n  target_label: b\n").contains("invalid regex"));
    assert!(
        compile_error("- regex: a\n  action: labeldrop\n  target_label: b\n")
            .contains("takes only a regex")
    );
    assert!(
        compile_error("- target_label: b\n  action: lowercase\n  replacement: x\n")
            .contains("does not take a replacement")
    );
    assert!(compile_error("- target_label: '1b'\n").contains("target_label"));
    let configs: Result<Vec<RelabelConfig>, _> = serde_yaml::from_str("- sources: [a]\n");
    assert!(configs.unwrap_err().to_string().contains("unknown field"));
}
