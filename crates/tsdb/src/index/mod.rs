//! Inverted index logic shared by the head and the on-disk blocks.
//!
//! Both keep, for every label pair, a sorted list of series ids (postings).
//! [`postings_for_matchers`] turns PromQL matchers into the sorted ids of the
//! matching series, with Prometheus's semantics: a missing label counts as
//! the empty value, so a matcher that matches `""` also selects series that
//! lack the label, and regexes are anchored.

mod postings;

pub use postings::{intersect, merge_union, subtract};

use agentmon_model::{MatchType, Matcher};

use crate::Result;

/// The read side of an inverted index, implemented by the head and by blocks.
pub trait IndexReader {
    /// All values of label `name`, sorted, without duplicates.
    fn label_values(&self, name: &str) -> Result<Vec<String>>;
    /// Sorted ids of the series that have label `name` = `value`.
    fn postings(&self, name: &str, value: &str) -> Result<Vec<u32>>;
    /// Sorted ids of every series in the index.
    fn all_postings(&self) -> Result<Vec<u32>>;
}

/// Sorted ids of the series selected by all `matchers` together.
pub fn postings_for_matchers(index: &impl IndexReader, matchers: &[Matcher]) -> Result<Vec<u32>> {
    // Matchers that select something positively narrow fastest; apply them
    // first, and the ones that only remove series afterwards.
    let mut ordered: Vec<&Matcher> = matchers.iter().collect();
    ordered.sort_by_key(|m| (m.matches_empty(), !matches!(m.match_type, MatchType::Equal)));

    let mut result: Option<Vec<u32>> = None;
    for matcher in ordered {
        if result.as_ref().is_some_and(|r| r.is_empty()) {
            return Ok(Vec::new());
        }
        if matcher.matches_empty() {
            // Series without the label match, so remove those whose value does not.
            let excluded = values_postings(index, matcher, |v| !matcher.matches(v))?;
            let base = match result.take() {
                Some(r) => r,
                None => index.all_postings()?,
            };
            result = Some(subtract(&base, &excluded));
        } else {
            let selected = values_postings(index, matcher, |v| matcher.matches(v))?;
            result = Some(match result.take() {
                Some(r) => intersect(&r, &selected),
                None => selected,
            });
        }
    }
    match result {
        Some(r) => Ok(r),
        None => index.all_postings(),
    }
}

/// Union of the postings of the values of `matcher.name` that `keep` accepts.
fn values_postings(
    index: &impl IndexReader,
    matcher: &Matcher,
    keep: impl Fn(&str) -> bool,
) -> Result<Vec<u32>> {
    if matcher.match_type == MatchType::Equal && !matcher.value.is_empty() {
        return index.postings(&matcher.name, &matcher.value);
    }
    let values: Vec<String> = match matcher.literal_alternatives() {
        Some(literals) if keep("") == matcher.matches("") => literals
            .into_iter()
            .filter(|v| keep(v))
            .map(str::to_owned)
            .collect(),
        _ => index
            .label_values(&matcher.name)?
            .into_iter()
            .filter(|v| keep(v))
            .collect(),
    };
    let lists = values
        .iter()
        .map(|v| index.postings(&matcher.name, v))
        .collect::<Result<Vec<_>>>()?;
    Ok(merge_union(lists))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// A brute-force index over explicit label sets.
    struct TestIndex(Vec<BTreeMap<String, String>>);

    impl IndexReader for TestIndex {
        fn label_values(&self, name: &str) -> Result<Vec<String>> {
            let mut v: Vec<String> = self.0.iter().filter_map(|s| s.get(name).cloned()).collect();
            v.sort();
            v.dedup();
            Ok(v)
        }
        fn postings(&self, name: &str, value: &str) -> Result<Vec<u32>> {
            Ok((0..self.0.len() as u32)
                .filter(|&i| self.0[i as usize].get(name).map(String::as_str) == Some(value))
                .collect())
        }
        fn all_postings(&self) -> Result<Vec<u32>> {
            Ok((0..self.0.len() as u32).collect())
        }
    }

    fn index() -> TestIndex {
        let sets = [
            vec![("__name__", "up"), ("job", "a")],
            vec![("__name__", "up"), ("job", "b"), ("env", "prod")],
            vec![("__name__", "up_total"), ("job", "a"), ("env", "dev")],
            vec![("__name__", "down")],
        ];
        TestIndex(
            sets.iter()
                .map(|s| {
                    s.iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect()
                })
                .collect(),
        )
    }

    fn select(matchers: &[(&str, MatchType, &str)]) -> Vec<u32> {
        let ms: Vec<Matcher> = matchers
            .iter()
            .map(|(n, t, v)| Matcher::new(*t, *n, *v).unwrap())
            .collect();
        postings_for_matchers(&index(), &ms).unwrap()
    }

    #[test]
    fn matchers_follow_prometheus_semantics() {
        use MatchType::*;
        assert_eq!(select(&[("__name__", Equal, "up")]), vec![0, 1]);
        assert_eq!(select(&[("__name__", RegexMatch, "up.*")]), vec![0, 1, 2]);
        assert_eq!(select(&[("__name__", RegexMatch, "u")]), Vec::<u32>::new());
        assert_eq!(select(&[("env", Equal, "")]), vec![0, 3]);
        assert_eq!(select(&[("env", NotEqual, "prod")]), vec![0, 2, 3]);
        assert_eq!(select(&[("env", RegexMatch, "prod|")]), vec![0, 1, 3]);
        assert_eq!(select(&[("env", RegexNoMatch, "")]), vec![1, 2]);
        assert_eq!(
            select(&[("job", RegexMatch, "a|b"), ("env", RegexNoMatch, "dev")]),
            vec![0, 1]
        );
        assert_eq!(select(&[("__name__", NotEqual, "up")]), vec![2, 3]);
        assert_eq!(select(&[]), vec![0, 1, 2, 3]);
    }
}
