//! The server's own parsers of outside input — `match[]` selectors — answer
//! every string with a value or an error, never a panic. Inputs mix
//! arbitrary text with the selector grammar's special characters so the
//! generator reaches deep into the parser.

use agentmon_server::selector::parse_selector;
use proptest::prelude::*;

fn selector_like() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("=".to_owned()),
        Just("!=".to_owned()),
        Just("=~".to_owned()),
        Just("!~".to_owned()),
        Just("\"".to_owned()),
        Just("`".to_owned()),
        Just("\\".to_owned()),
        Just(",".to_owned()),
        Just("\\u00e9".to_owned()),
        Just("\\x4".to_owned()),
        Just("é".to_owned()),
        "[a-z_:]{1,6}",
        ".{0,3}",
    ];
    prop::collection::vec(pieces, 0..24).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]
    #[test]
    fn selectors_never_panic(input in selector_like()) {
        let _ = parse_selector(&input);
    }

    #[test]
    fn arbitrary_text_never_panics(input in ".{0,64}") {
        let _ = parse_selector(&input);
    }
}
