//! Parser for the series selectors of `match[]` parameters:
//! `metric{label="v", l2!="x", l3=~"re", l4!~"re"}`, `metric`, or `{...}`.
//!
//! Strings are quoted with `"`, `'` or `` ` `` and take the Go escapes PromQL
//! takes (`\n`, `\t`, `\\`, `\"`, `\xHH`, `\u{...}`-less `\uHHHH`, octal …);
//! backquoted strings are raw. As in Prometheus, a selector must have a
//! metric name or a matcher, and at least one matcher that does not match the
//! empty string, so that a typo cannot select every series. Errors give the
//! position as `line:column` like PromQL's parser. The full PromQL parser
//! replaces this later; its selectors are a superset.

use agentmon_model::{
    validate_label_name, validate_metric_name, MatchType, Matcher, METRIC_NAME_LABEL,
};

/// A selector that could not be parsed, with where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectorError {
    /// 1-based line of the problem.
    pub line: usize,
    /// 1-based column (in characters) of the problem.
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for SelectorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: parse error: {}",
            self.line, self.column, self.message
        )
    }
}

impl std::error::Error for SelectorError {}

/// Parses one series selector into its matchers (the metric name becomes a
/// `__name__` equality matcher, first).
pub fn parse_selector(input: &str) -> Result<Vec<Matcher>, SelectorError> {
    let mut parser = Parser { input, pos: 0 };
    let matchers = parser.selector()?;
    if matchers.is_empty() {
        return Err(parser.error_at(
            0,
            "vector selector must contain label matchers or metric name",
        ));
    }
    if matchers.iter().all(|m| m.matches_empty()) {
        return Err(parser.error_at(
            0,
            "vector selector must contain at least one non-empty matcher",
        ));
    }
    Ok(matchers)
}

struct Parser<'a> {
    input: &'a str,
    /// Byte offset of the next unread character.
    pos: usize,
}

impl<'a> Parser<'a> {
    fn selector(&mut self) -> Result<Vec<Matcher>, SelectorError> {
        let mut matchers = Vec::new();
        self.skip_space();
        let mut metric_name: Option<(usize, &'a str)> = None;
        if self
            .peek()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        {
            let start = self.pos;
            let name = self.identifier(true);
            validate_metric_name(name).map_err(|e| self.error_at(start, &e.to_string()))?;
            matchers.push(Matcher::equal(METRIC_NAME_LABEL, name));
            metric_name = Some((start, name));
            self.skip_space();
        }
        if self.peek() == Some('{') {
            self.pos += 1;
            self.matchers(&mut matchers, metric_name)?;
            self.skip_space();
        } else if metric_name.is_none() {
            return Err(match self.peek() {
                None => self.error_at(
                    self.pos,
                    "unexpected end of input, expected a metric name or \"{\"",
                ),
                Some(c) => self.error_at(
                    self.pos,
                    &format!("unexpected character {c:?}, expected a metric name or \"{{\""),
                ),
            });
        }
        if let Some(c) = self.peek() {
            return Err(self.error_at(
                self.pos,
                &format!("unexpected character {c:?} after the selector"),
            ));
        }
        Ok(matchers)
    }

    /// Parses `label op "value"` items up to and including the closing brace.
    fn matchers(
        &mut self,
        matchers: &mut Vec<Matcher>,
        metric_name: Option<(usize, &'a str)>,
    ) -> Result<(), SelectorError> {
        loop {
            self.skip_space();
            match self.peek() {
                Some('}') => {
                    self.pos += 1;
                    return Ok(());
                }
                None => {
                    return Err(self.error_at(self.pos, "unexpected end of input inside braces"))
                }
                Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
                Some(c) => {
                    return Err(self.error_at(
                        self.pos,
                        &format!("unexpected character {c:?}, expected a label name"),
                    ))
                }
            }
            let name_start = self.pos;
            let name = self.identifier(false);
            validate_label_name(name).map_err(|e| self.error_at(name_start, &e.to_string()))?;
            self.skip_space();
            let op_start = self.pos;
            let match_type = self.operator()?;
            self.skip_space();
            let value_start = self.pos;
            let value = self.string()?;
            if name == METRIC_NAME_LABEL {
                if let Some((_, metric)) = metric_name {
                    return Err(self.error_at(
                        name_start,
                        &format!("metric name must not be set twice: {metric:?} or {value:?}"),
                    ));
                }
                if match_type == MatchType::Equal {
                    validate_metric_name(&value)
                        .map_err(|e| self.error_at(value_start, &e.to_string()))?;
                }
            }
            let matcher = Matcher::new(match_type, name, value)
                .map_err(|e| self.error_at(op_start, &e.to_string()))?;
            matchers.push(matcher);
            self.skip_space();
            match self.peek() {
                Some(',') => self.pos += 1,
                Some('}') => {}
                None => {
                    return Err(self.error_at(self.pos, "unexpected end of input inside braces"))
                }
                Some(c) => {
                    return Err(self.error_at(
                        self.pos,
                        &format!("unexpected character {c:?}, expected \",\" or \"}}\""),
                    ))
                }
            }
        }
    }

    fn operator(&mut self) -> Result<MatchType, SelectorError> {
        let rest = &self.input[self.pos..];
        let (match_type, len) = if rest.starts_with("=~") {
            (MatchType::RegexMatch, 2)
        } else if rest.starts_with("!~") {
            (MatchType::RegexNoMatch, 2)
        } else if rest.starts_with("!=") {
            (MatchType::NotEqual, 2)
        } else if rest.starts_with('=') {
            (MatchType::Equal, 1)
        } else {
            return Err(self.error_at(self.pos, "expected a matcher operator: =, !=, =~ or !~"));
        };
        self.pos += len;
        Ok(match_type)
    }

    /// A quoted string, with escapes resolved.
    fn string(&mut self) -> Result<String, SelectorError> {
        let start = self.pos;
        let quote = match self.peek() {
            Some(q @ ('"' | '\'' | '`')) => q,
            _ => return Err(self.error_at(self.pos, "expected a quoted string")),
        };
        self.pos += 1;
        let mut value = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.error_at(start, "unterminated quoted string"));
            };
            self.pos += c.len_utf8();
            if c == quote {
                return Ok(value);
            }
            if c == '\\' && quote != '`' {
                self.escape(&mut value)?;
            } else if c == '\n' && quote != '`' {
                return Err(self.error_at(start, "unterminated quoted string"));
            } else {
                value.push(c);
            }
        }
    }

    /// Resolves the escape after a backslash, as Go's strconv.Unquote does.
    fn escape(&mut self, value: &mut String) -> Result<(), SelectorError> {
        let escape_start = self.pos - 1;
        let Some(c) = self.peek() else {
            return Err(self.error_at(escape_start, "unterminated escape sequence"));
        };
        self.pos += c.len_utf8();
        let simple = match c {
            'a' => Some('\u{7}'),
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\u{b}'),
            '\\' | '"' | '\'' => Some(c),
            _ => None,
        };
        if let Some(resolved) = simple {
            value.push(resolved);
            return Ok(());
        }
        let (digits, radix) = match c {
            'x' => (2, 16),
            'u' => (4, 16),
            'U' => (8, 16),
            '0'..='7' => {
                self.pos -= 1;
                (3, 8)
            }
            _ => {
                return Err(
                    self.error_at(escape_start, &format!("unknown escape sequence \"\\{c}\""))
                )
            }
        };
        let digits_start = self.pos;
        let end = digits_start + digits;
        let text = self
            .input
            .get(digits_start..end)
            .filter(|t| t.chars().all(|d| d.is_digit(radix)))
            .ok_or_else(|| {
                self.error_at(escape_start, "invalid escape sequence: too few digits")
            })?;
        let code = u32::from_str_radix(text, radix)
            .map_err(|_| self.error_at(escape_start, "invalid escape sequence"))?;
        self.pos = end;
        if c == 'x' || radix == 8 {
            // Byte escapes: only ASCII keeps the value valid UTF-8.
            if code > 0x7f {
                return Err(self.error_at(
                    escape_start,
                    "byte escape above \\x7f would not be valid UTF-8",
                ));
            }
        }
        let resolved = char::from_u32(code).ok_or_else(|| {
            self.error_at(
                escape_start,
                "escape sequence is not a valid Unicode code point",
            )
        })?;
        value.push(resolved);
        Ok(())
    }

    /// An identifier; metric names may also contain `:`.
    fn identifier(&mut self, allow_colon: bool) -> &'a str {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == '_' || (allow_colon && c == ':') {
                self.pos += 1;
            } else {
                break;
            }
        }
        &self.input[start..self.pos]
    }

    fn skip_space(&mut self) {
        while let Some(c) = self.peek() {
            if c.is_whitespace() {
                self.pos += c.len_utf8();
            } else {
                break;
            }
        }
    }

    fn peek(&self) -> Option<char> {
        self.input[self.pos..].chars().next()
    }

    fn error_at(&self, offset: usize, message: &str) -> SelectorError {
        let before = &self.input[..offset.min(self.input.len())];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        SelectorError {
            line,
            column,
            message: message.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &str) -> Vec<String> {
        parse_selector(input)
            .unwrap()
            .iter()
            .map(|m| m.to_string())
            .collect()
    }

    fn error(input: &str) -> String {
        parse_selector(input).unwrap_err().to_string()
    }

    #[test]
    fn parses_names_and_all_four_operators() {
        assert_eq!(parse("up"), ["__name__=\"up\""]);
        assert_eq!(
            parse(r#"http_requests_total{job="api", code!="500", path=~"/a.*", m!~'GET|HEAD',}"#),
            [
                "__name__=\"http_requests_total\"",
                "job=\"api\"",
                "code!=\"500\"",
                "path=~\"/a.*\"",
                "m!~\"GET|HEAD\""
            ]
        );
        assert_eq!(
            parse(r#" { __name__ =~ "up|down" } "#),
            ["__name__=~\"up|down\""]
        );
        assert_eq!(parse("ns:rule:rate5m{}"), ["__name__=\"ns:rule:rate5m\""]);
    }

    #[test]
    fn resolves_go_string_escapes() {
        let m = parse_selector(r#"{a="x\"y\\z\n\u00e9\x41\101", b=`raw\n`}"#).unwrap();
        assert_eq!(m[0].value, "x\"y\\z\né\x41A");
        assert_eq!(m[1].value, "raw\\n");
        assert!(error(r#"{a="\q"}"#).contains("unknown escape sequence"));
        assert!(error(r#"{a="\x4"}"#).contains("too few digits"));
    }

    #[test]
    fn reports_positions() {
        assert_eq!(
            error(r#"up{job="a" x="b"}"#),
            "1:12: parse error: unexpected character 'x', expected \",\" or \"}\""
        );
        assert_eq!(
            error(r#"up{job="a"#),
            "1:8: parse error: unterminated quoted string"
        );
        assert_eq!(
            error(r#"up{job=a}"#),
            "1:8: parse error: expected a quoted string"
        );
        assert_eq!(
            error(r#"up{job=="a"}"#),
            "1:8: parse error: expected a quoted string"
        );
        assert_eq!(
            error("up}"),
            "1:3: parse error: unexpected character '}' after the selector"
        );
        assert!(error(r#"up{a=~"("}"#).starts_with("1:5: parse error: invalid regular expression"));
        assert!(error("").contains("unexpected end of input"));
        assert!(error("{").contains("unexpected end of input inside braces"));
        assert!(error("{2a=\"x\"}").contains("expected a label name"));
    }

    #[test]
    fn refuses_selectors_that_match_everything() {
        assert_eq!(
            error("{}"),
            "1:1: parse error: vector selector must contain label matchers or metric name"
        );
        for input in [r#"{x=""}"#, r#"{x=~".*"}"#, r#"{x!~".+"}"#, r#"{x!="a"}"#] {
            assert_eq!(
                error(input),
                "1:1: parse error: vector selector must contain at least one non-empty matcher",
                "{input}"
            );
        }
        assert!(parse_selector(r#"{x="", y="a"}"#).is_ok());
    }

    #[test]
    fn refuses_a_metric_name_given_twice() {
        assert!(error(r#"up{__name__="down"}"#).contains("metric name must not be set twice"));
        assert!(error(r#"{__name__="1up"}"#).contains("metric name \"1up\" is invalid"));
    }
}
