//! Property test: whatever text the parser is given, it returns a script or an
//! error and never panics.

use proptest::prelude::*;

use agentmon_promql::promqltest::parse;

/// Fragments of the script language, so that random scripts get deep into the
/// parser instead of failing on the first word.
const FRAGMENTS: &[&str] = &[
    "load ",
    "load_with_nhcb ",
    "eval ",
    "eval_fail ",
    "eval_ordered ",
    "instant at ",
    "range from ",
    " to ",
    " step ",
    "clear",
    "expect ",
    "fail",
    "warn",
    "no_info",
    "ordered",
    " msg: ",
    " regex: ",
    "expected_fail_message ",
    "expect range vector from ",
    "expect string ",
    "m{a=\"b\"}",
    "{",
    "}",
    "{{schema:0 sum:1}}",
    "x",
    "+",
    "-",
    "_",
    "stale",
    "5m",
    "1m30s",
    "0",
    "Inf",
    "NaN",
    "\"",
    "'",
    "\\",
    " ",
    "\t",
    "\n",
    "#",
    ",",
    "=",
    "1e3",
    ".5",
    "99999999999999999999",
];

fn script_like() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(FRAGMENTS), 0..40).prop_map(|parts| parts.concat())
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let _ = parse(&text);
    }

    #[test]
    fn script_like_text_never_panics(text in script_like()) {
        let _ = parse(&text);
    }
}
