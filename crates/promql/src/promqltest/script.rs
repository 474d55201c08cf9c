//! The command level of the script: splitting it into lines, recognising
//! `load`, `clear` and `eval`, and reading each command's block.
//!
//! As in Prometheus, lines are trimmed, a line starting with `#` counts as
//! blank, and a block ends at the first blank line. A bare number line or a
//! deprecated `expected_fail_*` line also ends an `eval` block.

use std::sync::LazyLock;

use regex::Regex;

use super::literal::{parse_duration_ms, parse_number, parse_quoted, split_word};
use super::series::parse_series_line;
use super::{
    Command, DeprecatedEvalForm, EvalCommand, EvalKind, Expectation, ExpectedResult,
    ExpectedSeries, LoadPoint, LoadSeries, MessageMatch, ParseError, RangeVectorWindow, Script,
    SequenceValue,
};

/// `expect <type>` with an optional `msg:` or `regex:` part, as in FORMAT.md.
static EXPECT_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^expect[ \t]+(ordered|fail|warn|no_warn|info|no_info)(?:[ \t]+(regex|msg):(.+))?$")
        .expect("the expect-line pattern is valid")
});

const RANGE_VECTOR_PREFIX: &str = "expect range vector";
const STRING_PREFIX: &str = "expect string";

/// Parses a whole promqltest script.
pub fn parse(script: &str) -> Result<Script, ParseError> {
    let lines: Vec<&str> = script
        .split('\n')
        .map(|line| {
            let line = line.trim();
            if line.starts_with('#') {
                ""
            } else {
                line
            }
        })
        .collect();
    let mut commands = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let line = lines[index];
        if line.is_empty() {
            index += 1;
            continue;
        }
        let keyword = split_word(line).0.to_ascii_lowercase();
        let (command, next) = if keyword == "clear" {
            (Command::Clear { line: index + 1 }, index + 1)
        } else if keyword.starts_with("load") {
            parse_load(&lines, index)?
        } else if keyword.starts_with("eval") {
            parse_eval(&lines, index)?
        } else {
            return Err(ParseError::new(
                index + 1,
                format!("unknown command {line:?}: expected load, clear or eval"),
            ));
        };
        commands.push(command);
        index = next;
    }
    Ok(Script { commands })
}

/// Reads a `load` command starting at `lines[start]`; returns it and the
/// index of the first line after its block.
fn parse_load(lines: &[&str], start: usize) -> Result<(Command, usize), ParseError> {
    let header_line = start + 1;
    let (keyword, interval) = split_word(lines[start]);
    let with_nhcb = match keyword {
        "load" => false,
        "load_with_nhcb" => true,
        _ => {
            return Err(ParseError::new(
                header_line,
                "invalid load command: expected load[_with_nhcb] <interval>",
            ))
        }
    };
    let interval_ms = parse_duration_ms(interval).map_err(|e| {
        ParseError::new(
            header_line,
            format!("invalid load interval {interval:?}: {e}"),
        )
    })?;
    let mut series = Vec::new();
    let mut index = start + 1;
    while index < lines.len() && !lines[index].is_empty() {
        let line = index + 1;
        let (labels, values) =
            parse_series_line(lines[index]).map_err(|e| ParseError::new(line, e))?;
        let mut points = Vec::with_capacity(values.len());
        for (position, value) in values.into_iter().enumerate() {
            let t_ms = (position as i64)
                .checked_mul(interval_ms)
                .ok_or_else(|| ParseError::new(line, "timestamps overflow i64 milliseconds"))?;
            match value {
                SequenceValue::Missing => {}
                SequenceValue::Float(v) => points.push(LoadPoint::Value { t_ms, v }),
                SequenceValue::Stale => points.push(LoadPoint::Stale { t_ms }),
                SequenceValue::Histogram(literal) => {
                    points.push(LoadPoint::Histogram { t_ms, literal })
                }
            }
        }
        series.push(LoadSeries {
            line,
            labels,
            points,
        });
        index += 1;
    }
    let command = Command::Load {
        line: header_line,
        interval_ms,
        with_nhcb,
        series,
    };
    Ok((command, index))
}

/// Reads the `eval` line: its deprecated form, timing and expression.
fn parse_eval_header(
    header: &str,
) -> Result<(Option<DeprecatedEvalForm>, EvalKind, String), String> {
    let (keyword, rest) = split_word(header);
    let form = match keyword {
        "eval" => None,
        "eval_fail" => Some(DeprecatedEvalForm::Fail),
        "eval_warn" => Some(DeprecatedEvalForm::Warn),
        "eval_info" => Some(DeprecatedEvalForm::Info),
        "eval_ordered" => Some(DeprecatedEvalForm::Ordered),
        _ => return Err(format!("unknown eval form {keyword:?}")),
    };
    let time = |text: &str, what: &str| {
        parse_duration_ms(text).map_err(|e| format!("invalid {what} {text:?}: {e}"))
    };
    let (mode, rest) = split_word(rest);
    let (kind, expr) = match mode {
        "instant" => {
            let (at, rest) = split_word(rest);
            if at != "at" {
                return Err("expected `eval instant at <time> <expr>`".to_owned());
            }
            let (at, expr) = split_word(rest);
            let at_ms = time(at, "evaluation time")?;
            (EvalKind::Instant { at_ms }, expr)
        }
        "range" => {
            if form == Some(DeprecatedEvalForm::Ordered) {
                return Err("eval_ordered is not supported for range queries".to_owned());
            }
            let (start_ms, end_ms, step_ms, expr) = parse_range_words(rest)?;
            let kind = EvalKind::Range {
                start_ms,
                end_ms,
                step_ms,
            };
            (kind, expr)
        }
        _ => return Err("expected `eval instant at …` or `eval range from …`".to_owned()),
    };
    if expr.is_empty() {
        return Err("the eval command has no expression".to_owned());
    }
    Ok((form, kind, expr.to_owned()))
}

/// Reads `from <a> to <b> step <s> <rest>`, returning the times and the rest.
fn parse_range_words(text: &str) -> Result<(i64, i64, i64, &str), String> {
    let mut rest = text;
    let mut times = [0i64; 3];
    for (slot, keyword) in times.iter_mut().zip(["from", "to", "step"]) {
        let (word, after) = split_word(rest);
        if word != keyword {
            return Err(format!(
                "expected `from <start> to <end> step <step>`, found {word:?} where {keyword:?} belongs"
            ));
        }
        let (value, after) = split_word(after);
        *slot =
            parse_duration_ms(value).map_err(|e| format!("invalid {keyword} {value:?}: {e}"))?;
        rest = after;
    }
    let [start, end, step] = times;
    if end < start {
        return Err(format!(
            "the end ({end} ms) is before the start ({start} ms)"
        ));
    }
    Ok((start, end, step, rest))
}

/// Parses one `expect` line.
fn parse_expect(line: &str) -> Result<Expectation, String> {
    let captures = EXPECT_LINE.captures(line).ok_or_else(|| {
        "invalid expect line: must be `expect <type> [msg|regex: <text>]`".to_owned()
    })?;
    let kind = &captures[1];
    let matcher = match (captures.get(2).map(|m| m.as_str()), captures.get(3)) {
        (Some("msg"), Some(text)) => MessageMatch::Exact(text.as_str().trim().to_owned()),
        (Some(_), Some(text)) => {
            let pattern = text.as_str().trim();
            Regex::new(pattern).map_err(|e| format!("invalid regex {pattern:?}: {e}"))?;
            MessageMatch::Regex(pattern.to_owned())
        }
        _ => MessageMatch::Any,
    };
    let takes_message = matches!(kind, "fail" | "warn" | "info");
    if !takes_message && matcher != MessageMatch::Any {
        return Err(format!("expect {kind} takes no message"));
    }
    Ok(match kind {
        "fail" => Expectation::Fail(matcher),
        "warn" => Expectation::Warn(matcher),
        "info" => Expectation::Info(matcher),
        "no_warn" => Expectation::NoWarn,
        "no_info" => Expectation::NoInfo,
        _ => Expectation::Ordered,
    })
}

/// Rejects combinations Prometheus rejects: `info` with `no_info`, `warn`
/// with `no_warn`, and more than one `expect fail`.
fn check_expectations(expectations: &[Expectation]) -> Result<(), String> {
    let count = |f: fn(&Expectation) -> bool| expectations.iter().filter(|e| f(e)).count();
    if count(|e| matches!(e, Expectation::Info(_))) > 0 && count(|e| *e == Expectation::NoInfo) > 0
    {
        return Err("expect info and expect no_info cannot be used together".to_owned());
    }
    if count(|e| matches!(e, Expectation::Warn(_))) > 0 && count(|e| *e == Expectation::NoWarn) > 0
    {
        return Err("expect warn and expect no_warn cannot be used together".to_owned());
    }
    if count(|e| matches!(e, Expectation::Fail(_))) > 1 {
        return Err("only one expect fail line is allowed".to_owned());
    }
    Ok(())
}

/// Reads an `eval` command starting at `lines[start]`; returns it and the
/// index of the first line after its block.
fn parse_eval(lines: &[&str], start: usize) -> Result<(Command, usize), ParseError> {
    let header_line = start + 1;
    let (form, kind, expr) =
        parse_eval_header(lines[start]).map_err(|e| ParseError::new(header_line, e))?;
    let mut eval = EvalCommand {
        line: header_line,
        kind,
        expr,
        expectations: Vec::new(),
        ordered: form == Some(DeprecatedEvalForm::Ordered),
        deprecated_form: form,
        range_vector: None,
        result: ExpectedResult::Series(Vec::new()),
    };
    let mut legacy_fail = MessageMatch::Any;
    let mut index = start + 1;
    while index < lines.len() && !lines[index].is_empty() {
        let text = lines[index];
        let line = index + 1;
        index += 1;
        let err = |message: String| ParseError::new(line, message);
        if form == Some(DeprecatedEvalForm::Fail) {
            if let Some(message) = text.strip_prefix("expected_fail_message") {
                legacy_fail = MessageMatch::Exact(message.trim().to_owned());
                break;
            }
            if let Some(pattern) = text.strip_prefix("expected_fail_regexp") {
                let pattern = pattern.trim();
                Regex::new(pattern)
                    .map_err(|e| err(format!("invalid expected_fail_regexp {pattern:?}: {e}")))?;
                legacy_fail = MessageMatch::Regex(pattern.to_owned());
                break;
            }
        }
        if let Some(window) = text.strip_prefix(RANGE_VECTOR_PREFIX) {
            let (start_ms, end_ms, step_ms, rest) = parse_range_words(window.trim_start())
                .map_err(|e| err(format!("invalid range vector expectation: {e}")))?;
            if !rest.is_empty() {
                return Err(err(format!("unexpected {rest:?} after the step")));
            }
            eval.range_vector = Some(RangeVectorWindow {
                start_ms,
                end_ms,
                step_ms,
            });
            continue;
        }
        if let Some(literal) = text.strip_prefix(STRING_PREFIX) {
            let literal = literal.trim_start();
            let (value, used) = parse_quoted(literal)
                .map_err(|e| err(format!("expect string needs a quoted string: {e}")))?;
            if used != literal.len() {
                return Err(err("unexpected text after the expected string".to_owned()));
            }
            set_result(&mut eval.result, ExpectedResult::String(value)).map_err(err)?;
            continue;
        }
        if text.split(' ').next() == Some("expect") {
            let expectation = parse_expect(text).map_err(err)?;
            if expectation == Expectation::Ordered {
                eval.ordered = true;
            }
            eval.expectations.push(expectation);
            check_expectations(&eval.expectations).map_err(err)?;
            continue;
        }
        if let Some(value) = parse_number(text) {
            set_result(&mut eval.result, ExpectedResult::Scalar(value)).map_err(err)?;
            break;
        }
        let (labels, values) = parse_series_line(text).map_err(err)?;
        let instant = matches!(eval.kind, EvalKind::Instant { .. });
        if instant && values.len() > 1 && eval.range_vector.is_none() {
            return Err(err(
                "an instant query expects one value per series (add `expect range vector …` for a range vector)"
                    .to_owned(),
            ));
        }
        let series = ExpectedSeries {
            line,
            labels,
            values,
        };
        match &mut eval.result {
            ExpectedResult::Series(list) => list.push(series),
            _ => {
                return Err(err(
                    "a series cannot follow a scalar or string result".to_owned()
                ))
            }
        }
    }
    let implied = match form {
        Some(DeprecatedEvalForm::Fail) => Some(Expectation::Fail(legacy_fail)),
        Some(DeprecatedEvalForm::Warn) => Some(Expectation::Warn(MessageMatch::Any)),
        Some(DeprecatedEvalForm::Info) => Some(Expectation::Info(MessageMatch::Any)),
        Some(DeprecatedEvalForm::Ordered) => Some(Expectation::Ordered),
        None => None,
    };
    if let Some(expectation) = implied {
        eval.expectations.insert(0, expectation);
    }
    Ok((Command::Eval(eval), index))
}

/// Sets a scalar or string result, which must be the only result.
fn set_result(result: &mut ExpectedResult, new: ExpectedResult) -> Result<(), String> {
    match result {
        ExpectedResult::Series(list) if list.is_empty() => {
            *result = new;
            Ok(())
        }
        _ => Err("an eval block can expect only one scalar or string result".to_owned()),
    }
}
