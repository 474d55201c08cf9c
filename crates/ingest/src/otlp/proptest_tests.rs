//! Property tests: the OTLP decoders answer every byte string with a value
//! or an error, never a panic, and whatever decodes also translates without
//! panicking. Inputs are valid requests with bytes overwritten, cut short
//! or spliced, so the generator reaches deep into the messages.

use proptest::prelude::*;

use super::decode_tests::{sample_metrics, sample_traces};
use super::encode::{encode_metrics, encode_traces};
use super::*;
use crate::Limits;

/// A valid encoding with up to eight bytes overwritten and maybe cut short.
fn mutated(valid: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = valid.len();
    (prop::collection::vec((0..len, any::<u8>()), 0..8), 0..=len).prop_map(move |(edits, cut)| {
        let mut bytes = valid.clone();
        for (at, byte) in edits {
            bytes[at] = byte;
        }
        bytes.truncate(cut.max(1));
        bytes
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_metrics_never_panic(bytes in mutated(encode_metrics(&sample_metrics()))) {
        if let Ok(request) = decode_metrics(&bytes) {
            let _ = translate_metrics(&request, &Limits::default());
        }
    }

    #[test]
    fn mutated_traces_never_panic(bytes in mutated(encode_traces(&sample_traces()))) {
        if let Ok(request) = decode_traces(&bytes) {
            let _ = validate_traces(&request);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_metrics(&bytes);
        let _ = decode_traces(&bytes);
        let _ = decode_metrics_json(&bytes);
        let _ = decode_traces_json(&bytes);
        let _ = gunzip(&bytes, &Limits::default());
    }

    #[test]
    fn json_with_odd_values_never_panics(
        value in prop_oneof![
            Just("\"\"".to_owned()), Just("null".to_owned()), Just("-1".to_owned()),
            Just("1e400".to_owned()), Just("\"18446744073709551616\"".to_owned()),
            Just("[]".to_owned()), Just("{}".to_owned()), Just("\"NaN\"".to_owned()),
            Just("true".to_owned()), Just("\"zz\"".to_owned()), Just("\"a=\"".to_owned()),
        ],
        field in prop_oneof![
            Just("timeUnixNano"), Just("asInt"), Just("asDouble"), Just("bucketCounts"),
            Just("explicitBounds"), Just("count"), Just("flags"), Just("scale"),
            Just("aggregationTemporality"), Just("attributes"),
        ],
        kind in prop_oneof![Just("gauge"), Just("sum"), Just("histogram"),
            Just("exponentialHistogram"), Just("summary")],
    ) {
        let body = format!(
            r#"{{"resourceMetrics":[{{"scopeMetrics":[{{"metrics":[{{"name":"m",
            "{kind}":{{"aggregationTemporality":2,"dataPoints":[{{"timeUnixNano":"1","{field}":{value}}}]}}}}]}}]}}]}}"#
        );
        if let Ok(request) = decode_metrics_json(body.as_bytes()) {
            let _ = translate_metrics(&request, &Limits::default());
        }
        let spans = format!(
            r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{"traceId":{value},"spanId":{value},"kind":{value},"status":{{"code":{value}}}}}]}}]}}]}}"#
        );
        let _ = decode_traces_json(spans.as_bytes());
    }
}
