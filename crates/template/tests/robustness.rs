//! Bad template text and format strings never panic: whatever goes in comes
//! out as text or as an error (templates are outside input: rule files and
//! notification configuration).

use std::collections::BTreeMap;
use std::sync::Arc;

use agentmon_template::prometheus::{self, QuerySample};
use agentmon_template::{sprintf, FuncMap, Template, Value};
use proptest::prelude::*;

const FRAGMENTS: &[&str] = &[
    "{{",
    "}}",
    "{{- ",
    " -}}",
    "{{/*",
    "*/}}",
    ".",
    ".Labels",
    ".Labels.job",
    "$",
    "$x",
    "$x :=",
    "$y =",
    ":=",
    "=",
    "|",
    "(",
    ")",
    "if ",
    "else ",
    "else if ",
    "end",
    "range ",
    "with ",
    "break",
    "continue",
    "define ",
    "template ",
    "block ",
    "\"s\"",
    "\"\\u00e9\\x41\"",
    "`raw`",
    "1",
    "-2.5e3",
    "0x1F",
    "'a'",
    "'\\n'",
    "nil",
    "true",
    "printf ",
    "\"%d %s %5.2f %x\" ",
    "len ",
    "index ",
    "slice ",
    "eq ",
    "lt ",
    "and ",
    "or ",
    "not ",
    "humanize ",
    "query \"up\"",
    "first ",
    "toUpper ",
    "reReplaceAll \"(a\" \"b\" ",
    "title ",
    " ",
    "\n",
    "é",
    "😀",
    ",",
    "-",
    "x",
];

fn funcs() -> FuncMap {
    prometheus::funcs(
        Arc::new(|_| {
            Ok(vec![QuerySample {
                labels: BTreeMap::new(),
                value: 1.0,
            }])
        }),
        "http://x",
    )
}

fn data() -> Value {
    let labels: BTreeMap<String, String> = [("job".to_string(), "node".to_string())].into();
    prometheus::rule_template_data(&labels, &BTreeMap::new(), "http://x", 1.5)
}

fn exercise(text: &str) {
    let f = funcs();
    if let Ok(t) = Template::parse("t", text, &f) {
        let _ = t.execute(&data(), &f);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn template_like_text_never_panics(parts in prop::collection::vec(prop::sample::select(FRAGMENTS), 0..24)) {
        exercise(&parts.concat());
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,40}") {
        exercise(&text);
        exercise(&format!("{{{{{text}}}}}"));
    }

    #[test]
    fn format_strings_never_panic(format in "[%#+\\- 0-9.*\\[\\]vsdfeEgGxXobqtcUT%a-z]{0,16}", n in any::<i64>(), f in any::<f64>(), s in "\\PC{0,8}") {
        let _ = sprintf(&format, &[Value::Int(n), Value::Float(f), Value::String(s), Value::Nil, Value::List(vec![Value::Int(1)])]);
    }
}
