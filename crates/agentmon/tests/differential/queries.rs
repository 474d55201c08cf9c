//! The query list, read from `queries.txt` beside this file.
//!
//! One query per line; `#` starts a comment line. A line may begin with
//! flags:
//!
//! - `@instant`: run only as instant queries (the result is a range vector
//!   or a string, which a range query refuses);
//! - `@ordered`: the result order is defined (`sort`, `sort_desc`), so an
//!   instant answer must list values in Prometheus's order;
//! - `@error`: Prometheus is expected to refuse the query, and agentmon
//!   must refuse it too. Without this flag a Prometheus error fails the
//!   run, so a mistyped query cannot pass silently.
//!
//! `agentmon query ;; Prometheus query` asks Prometheus an equivalent
//! query instead, for features Prometheus 2.42 lacks but can spell
//! otherwise (`histogram_fraction` on classic buckets, added in 3.x).
//!
//! `$MID` stands for a whole-second time inside the data (for `@`).

/// One entry of the list.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedQuery {
    /// Line number in `queries.txt`.
    pub line: usize,
    /// What agentmon is asked.
    pub query: String,
    /// What Prometheus is asked (usually the same text).
    pub reference: String,
    pub instant_only: bool,
    pub ordered: bool,
    pub expect_error: bool,
}

/// The list as shipped.
pub const QUERY_LIST: &str = include_str!("queries.txt");

/// Parses the list, substituting `$MID` with `mid_seconds`.
pub fn parse_query_list(text: &str, mid_seconds: &str) -> Vec<ListedQuery> {
    let mut queries = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let mut rest = raw.trim();
        if rest.is_empty() || rest.starts_with('#') {
            continue;
        }
        let (mut instant_only, mut ordered, mut expect_error) = (false, false, false);
        loop {
            let flag = match rest.split_once(' ') {
                Some((word, tail)) if word.starts_with('@') => {
                    rest = tail.trim_start();
                    word
                }
                _ => break,
            };
            match flag {
                "@instant" => instant_only = true,
                "@ordered" => ordered = true,
                "@error" => expect_error = true,
                other => panic!("queries.txt:{}: unknown flag {other}", index + 1),
            }
        }
        let rest = rest.replace("$MID", mid_seconds);
        let (query, reference) = match rest.split_once(";;") {
            Some((ours, theirs)) => (ours.trim().to_owned(), theirs.trim().to_owned()),
            None => (rest.clone(), rest.clone()),
        };
        queries.push(ListedQuery {
            line: index + 1,
            query,
            reference,
            instant_only,
            ordered,
            expect_error,
        });
    }
    queries
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_references_and_placeholders_are_read() {
        let list = "# comment\n\n@instant @ordered x[5m] @ $MID\nrate(a[5m]) ;; b\n@error 1 +";
        let parsed = parse_query_list(list, "1700.000");
        assert_eq!(parsed.len(), 3);
        assert_eq!(parsed[0].query, "x[5m] @ 1700.000");
        assert!(parsed[0].instant_only && parsed[0].ordered && !parsed[0].expect_error);
        assert_eq!(parsed[0].line, 3);
        assert_eq!(
            (parsed[1].query.as_str(), parsed[1].reference.as_str()),
            ("rate(a[5m])", "b")
        );
        assert!(parsed[2].expect_error);
    }

    #[test]
    fn the_shipped_list_is_long_enough_and_has_no_repeats() {
        let parsed = parse_query_list(QUERY_LIST, "0");
        assert!(parsed.len() >= 200, "only {} queries", parsed.len());
        let mut seen = std::collections::BTreeSet::new();
        for q in &parsed {
            assert!(
                seen.insert(&q.query),
                "line {}: repeated {}",
                q.line,
                q.query
            );
        }
    }
}
