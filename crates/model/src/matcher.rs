use std::fmt;

use regex::Regex;

use crate::ModelError;

/// The four PromQL matcher types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchType {
    Equal,
    NotEqual,
    RegexMatch,
    RegexNoMatch,
}

impl MatchType {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchType::Equal => "=",
            MatchType::NotEqual => "!=",
            MatchType::RegexMatch => "=~",
            MatchType::RegexNoMatch => "!~",
        }
    }
}

/// Selects series by one label. A label that is absent has the value `""`,
/// so `{foo=""}` matches series without `foo`, and regexes are anchored at
/// both ends (`=~"a.*"` does not match `"ba"`), as in Prometheus.
#[derive(Debug, Clone)]
pub struct Matcher {
    pub match_type: MatchType,
    pub name: String,
    pub value: String,
    regex: Option<Regex>,
}

impl Matcher {
    pub fn new(
        match_type: MatchType,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Matcher, ModelError> {
        let name = name.into();
        let value = value.into();
        let regex = match match_type {
            MatchType::RegexMatch | MatchType::RegexNoMatch => {
                // (?s) makes `.` match newlines, as Go's RE2 does in Prometheus.
                let anchored = format!("^(?s:{value})$");
                Some(Regex::new(&anchored).map_err(|e| ModelError::InvalidRegex {
                    name: name.clone(),
                    regex: value.clone(),
                    reason: e.to_string(),
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

    /// Shorthand for an equality matcher, which cannot fail.
    pub fn equal(name: impl Into<String>, value: impl Into<String>) -> Matcher {
        Matcher {
            match_type: MatchType::Equal,
            name: name.into(),
            value: value.into(),
            regex: None,
        }
    }

    /// Whether a label value (`""` when the label is absent) is selected.
    pub fn matches(&self, value: &str) -> bool {
        match self.match_type {
            MatchType::Equal => self.value == value,
            MatchType::NotEqual => self.value != value,
            MatchType::RegexMatch => self.regex_matches(value),
            MatchType::RegexNoMatch => !self.regex_matches(value),
        }
    }

    fn regex_matches(&self, value: &str) -> bool {
        self.regex.as_ref().is_some_and(|r| r.is_match(value))
    }

    /// Whether the matcher selects series that lack the label altogether.
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }

    /// For regex matchers that are a plain alternation of literals
    /// (`a|b|c`), the literals; lets an index look values up directly.
    pub fn literal_alternatives(&self) -> Option<Vec<&str>> {
        if !matches!(self.match_type, MatchType::RegexMatch) {
            return None;
        }
        let literal = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-:/ ".contains(&b))
        };
        let parts: Vec<&str> = self.value.split('|').collect();
        parts.iter().all(|p| literal(p)).then_some(parts)
    }
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Matcher) -> bool {
        self.match_type == other.match_type && self.name == other.name && self.value == other.value
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}{:?}",
            self.name,
            self.match_type.as_str(),
            self.value
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regexes_are_anchored() {
        let m = Matcher::new(MatchType::RegexMatch, "job", "a.*").unwrap();
        assert!(m.matches("abc"));
        assert!(!m.matches("bab"));
        let m = Matcher::new(MatchType::RegexMatch, "job", "a|b").unwrap();
        assert!(m.matches("a") && m.matches("b") && !m.matches("ab"));
        assert_eq!(m.literal_alternatives(), Some(vec!["a", "b"]));
    }

    #[test]
    fn absent_labels_match_as_empty() {
        assert!(Matcher::equal("x", "").matches_empty());
        assert!(Matcher::new(MatchType::RegexMatch, "x", ".*")
            .unwrap()
            .matches_empty());
        assert!(!Matcher::new(MatchType::RegexMatch, "x", ".+")
            .unwrap()
            .matches_empty());
        assert!(Matcher::new(MatchType::NotEqual, "x", "a")
            .unwrap()
            .matches_empty());
    }

    #[test]
    fn dot_matches_newline_like_re2_in_prometheus() {
        let m = Matcher::new(MatchType::RegexMatch, "x", "a.b").unwrap();
        assert!(m.matches("a\nb"));
    }

    #[test]
    fn bad_regex_is_an_error() {
        assert!(Matcher::new(MatchType::RegexMatch, "x", "(").is_err());
    }
}
