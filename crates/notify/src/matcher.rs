//! Alertmanager's label matchers (`labels.Matcher`) and their text syntax:
//! `name="value"`, `name!=value`, `name=~"regex"`, `name!~"regex"`, one at
//! a time or as a list `{a="b",c=~"d"}` (braces optional). Values may be
//! quoted; inside quotes `\"`, `\\` and `\n` are escapes. Regexes are
//! anchored at both ends. A missing label has the value `""`.
//!
//! Follows `pkg/labels/parse.go` of Alertmanager 0.25.

use std::cmp::Ordering;
use std::fmt;

use agentmon_model::Labels;
use regex::Regex;

use crate::NotifyError;

/// The four matcher types, in Alertmanager's order (which sorting uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MatchType {
    Equal,
    NotEqual,
    Regexp,
    NotRegexp,
}

impl MatchType {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchType::Equal => "=",
            MatchType::NotEqual => "!=",
            MatchType::Regexp => "=~",
            MatchType::NotRegexp => "!~",
        }
    }
}

/// One label matcher.
#[derive(Debug, Clone)]
pub struct Matcher {
    pub match_type: MatchType,
    pub name: String,
    pub value: String,
    regex: Option<Regex>,
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Matcher) -> bool {
        self.match_type == other.match_type && self.name == other.name && self.value == other.value
    }
}

impl Eq for Matcher {}

impl Matcher {
    /// Builds a matcher, compiling the anchored regex of `=~` and `!~`.
    pub fn new(
        match_type: MatchType,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Matcher, NotifyError> {
        let name = name.into();
        let value = value.into();
        let regex = match match_type {
            MatchType::Regexp | MatchType::NotRegexp => {
                Some(Regex::new(&format!("^(?:{value})$")).map_err(|e| {
                    NotifyError::Matcher(format!("invalid regular expression {value:?}: {e}"))
                })?)
            }
            _ => None,
        };
        Ok(Matcher {
            match_type,
            name,
            value,
            regex,
        })
    }

    /// Whether a label value (`""` for an absent label) is selected.
    pub fn matches_value(&self, value: &str) -> bool {
        match (self.match_type, &self.regex) {
            (MatchType::Equal, _) => self.value == value,
            (MatchType::NotEqual, _) => self.value != value,
            (MatchType::Regexp, Some(re)) => re.is_match(value),
            (MatchType::NotRegexp, Some(re)) => !re.is_match(value),
            // Regex types always carry a compiled regex (see `new`).
            (_, None) => false,
        }
    }

    /// Whether a label set is selected.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.matches_value(labels.get(&self.name).unwrap_or(""))
    }

    /// Alertmanager's matcher order: by name, then value, then type.
    pub fn compare(&self, other: &Matcher) -> Ordering {
        self.name
            .cmp(&other.name)
            .then_with(|| self.value.cmp(&other.value))
            .then_with(|| self.match_type.cmp(&other.match_type))
    }
}

impl fmt::Display for Matcher {
    /// `name="value"` with the value escaped as OpenMetrics does, as
    /// Alertmanager prints matchers (and so builds group keys).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}\"", self.name, self.match_type.as_str())?;
        for c in self.value.chars() {
            match c {
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '"' => f.write_str("\\\"")?,
                c => write!(f, "{c}")?,
            }
        }
        f.write_str("\"")
    }
}

/// A list of matchers that all must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Matchers(pub Vec<Matcher>);

impl Matchers {
    /// Whether every matcher selects the label set (true for no matchers).
    pub fn matches(&self, labels: &Labels) -> bool {
        self.0.iter().all(|m| m.matches(labels))
    }

    /// Sorts in Alertmanager's order.
    pub fn sort(&mut self) {
        self.0.sort_by(Matcher::compare);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Matcher> {
        self.0.iter()
    }
}

impl fmt::Display for Matchers {
    /// `{a="b",c=~"d"}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, m) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{m}")?;
        }
        f.write_str("}")
    }
}

/// Parses a list of matchers: `{a="b", c=~"d"}` or `a=b,c=~d`. Commas
/// inside quotes do not split.
pub fn parse_matchers(input: &str) -> Result<Vec<Matcher>, NotifyError> {
    let s = input.strip_prefix('{').unwrap_or(input);
    let s = s.strip_suffix('}').unwrap_or(s);
    let mut tokens = Vec::new();
    let mut token = String::new();
    let (mut inside_quotes, mut escaped) = (false, false);
    for c in s.chars() {
        match c {
            ',' if !inside_quotes => {
                tokens.push(std::mem::take(&mut token));
                continue;
            }
            ',' => {}
            '"' => {
                if escaped {
                    escaped = false;
                } else {
                    inside_quotes = !inside_quotes;
                }
            }
            '\\' => escaped = !escaped,
            _ => escaped = false,
        }
        token.push(c);
    }
    let last = token.trim();
    if !last.is_empty() {
        tokens.push(last.to_owned());
    }
    tokens.iter().map(|t| parse_matcher(t)).collect()
}

/// Parses one matcher: `name op value`, spaces allowed around each part.
pub fn parse_matcher(input: &str) -> Result<Matcher, NotifyError> {
    let bad = || NotifyError::Matcher(format!("bad matcher format: {input}"));
    let s = input.trim_start();
    let name_len = s
        .char_indices()
        .find(|&(i, c)| {
            !(c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit()))
        })
        .map_or(s.len(), |(i, _)| i);
    if name_len == 0 {
        return Err(bad());
    }
    let name = &s[..name_len];
    let rest = s[name_len..].trim_start();
    let (match_type, rest) = if let Some(r) = rest.strip_prefix("=~") {
        (MatchType::Regexp, r)
    } else if let Some(r) = rest.strip_prefix("!~") {
        (MatchType::NotRegexp, r)
    } else if let Some(r) = rest.strip_prefix("!=") {
        (MatchType::NotEqual, r)
    } else if let Some(r) = rest.strip_prefix('=') {
        (MatchType::Equal, r)
    } else {
        return Err(bad());
    };
    let raw_original = rest.trim();
    let (raw, mut expect_quote) = match raw_original.strip_prefix('"') {
        Some(r) => (r, true),
        None => (raw_original, false),
    };
    let unescaped_quote = || {
        NotifyError::Matcher(format!(
            "matcher value contains unescaped double quote: {raw_original}"
        ))
    };
    let mut value = String::with_capacity(raw.len());
    let mut escaped = false;
    for (i, c) in raw.char_indices() {
        let last = i + c.len_utf8() == raw.len();
        if escaped {
            escaped = false;
            match c {
                'n' => value.push('\n'),
                '"' | '\\' => value.push(c),
                other => {
                    value.push('\\');
                    value.push(other);
                }
            }
            continue;
        }
        match c {
            '\\' if !last => escaped = true,
            '\\' => value.push('\\'),
            '"' => {
                if !expect_quote || !last {
                    return Err(unescaped_quote());
                }
                expect_quote = false;
            }
            other => value.push(other),
        }
    }
    if expect_quote {
        return Err(unescaped_quote());
    }
    Matcher::new(match_type, name, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::new(pairs.iter().copied()).expect("valid labels")
    }

    #[test]
    fn parses_every_operator_and_quoting() {
        let ms = parse_matchers(r#"{a="b", c=~"d|e",f!=g , h!~ "i.*"}"#).expect("parses");
        let printed: Vec<String> = ms.iter().map(|m| m.to_string()).collect();
        assert_eq!(
            printed,
            [r#"a="b""#, r#"c=~"d|e""#, r#"f!="g""#, r#"h!~"i.*""#]
        );
        let m = parse_matcher(r#"msg="say \"hi\", then\nbye \\ \x""#).expect("parses");
        assert_eq!(m.value, "say \"hi\", then\nbye \\ \\x");
        let list = parse_matchers(r#"a="x,y",b=z"#).expect("parses");
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].value, "x,y");
    }

    #[test]
    fn refuses_bad_matchers() {
        for bad in ["=b", "a", "a!", "1a=b", "a=\"b", "a=b\"c", r#"a="b"c""#] {
            let err = parse_matcher(bad);
            assert!(err.is_err(), "{bad} should fail, got {err:?}");
        }
        assert_eq!(
            parse_matcher("a=~(")
                .unwrap_err()
                .to_string()
                .split(':')
                .next(),
            Some("invalid regular expression \"(\"")
        );
        assert_eq!(
            parse_matcher("foo").unwrap_err().to_string(),
            "bad matcher format: foo"
        );
    }

    #[test]
    fn matching_is_anchored_and_absent_is_empty() {
        let ls = labels(&[("job", "api"), ("env", "prod")]);
        let m = parse_matcher("job=~ap").expect("parses");
        assert!(!m.matches(&ls));
        assert!(parse_matcher("job=~a.i").expect("parses").matches(&ls));
        assert!(parse_matcher("team=\"\"").expect("parses").matches(&ls));
        assert!(parse_matcher("team!~.+").expect("parses").matches(&ls));
        assert!(!parse_matcher("env!=prod").expect("parses").matches(&ls));
    }

    #[test]
    fn sorts_by_name_value_type() {
        let mut ms = Matchers(parse_matchers("b=1,a!=2,a=2,a=1").expect("parses"));
        ms.sort();
        assert_eq!(ms.to_string(), r#"{a="1",a="2",a!="2",b="1"}"#);
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Outside input never panics the parser.
        #[test]
        fn parsing_never_panics(input in "\\PC{0,40}") {
            let _ = parse_matchers(&input);
            let _ = parse_matcher(&input);
        }

        /// A printed matcher parses back to itself, whatever its value
        /// (quotes, backslashes, newlines, commas, braces).
        #[test]
        fn printing_round_trips(
            name in "[a-zA-Z_][a-zA-Z0-9_]{0,8}",
            value in "[a-z\"\\\\\n,{} =~!]{0,12}",
            negate in any::<bool>(),
        ) {
            let match_type = if negate { MatchType::NotEqual } else { MatchType::Equal };
            let m = Matcher::new(match_type, name, value).expect("equality matchers compile");
            let printed = m.to_string();
            let back = parse_matcher(&printed).expect("printed matchers parse");
            prop_assert_eq!(&back, &m, "printed as {}", printed);
            let list = Matchers(vec![m.clone(), m.clone()]).to_string();
            let parsed = parse_matchers(&list).expect("printed lists parse");
            prop_assert_eq!(parsed, vec![m.clone(), m]);
        }
    }
}
