//! Names of things made through the API (alert rules, event webhooks):
//! 1 to [`API_NAME_MAX_LEN`] of `A-Z a-z 0-9 _ . -`, safe in URL paths
//! and log lines.

/// The longest name the API accepts.
pub const API_NAME_MAX_LEN: usize = 128;

/// Whether `name` is an acceptable API name.
pub fn is_api_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= API_NAME_MAX_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_short_and_plain() {
        assert!(is_api_name("tool-loop_2.prod"));
        assert!(is_api_name(&"a".repeat(API_NAME_MAX_LEN)));
        assert!(!is_api_name(&"a".repeat(API_NAME_MAX_LEN + 1)));
        assert!(!is_api_name(""));
        assert!(!is_api_name("a/b"));
        assert!(!is_api_name("ä"));
    }
}
