//! Warnings and infos a query returns alongside its result, as Prometheus
//! returns them in the `warnings` and `infos` fields of its API: each
//! message once, in the order first raised.

/// The annotations of one query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Annotations {
    warnings: Vec<String>,
    infos: Vec<String>,
}

impl Annotations {
    /// Adds a warning (Prometheus prefixes these `PromQL warning: `).
    pub fn warn(&mut self, message: impl Into<String>) {
        push_unique(
            &mut self.warnings,
            format!("PromQL warning: {}", message.into()),
        );
    }

    /// Adds an info (Prometheus prefixes these `PromQL info: `).
    pub fn info(&mut self, message: impl Into<String>) {
        push_unique(&mut self.infos, format!("PromQL info: {}", message.into()));
    }

    /// The warnings, in the order first raised.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The infos, in the order first raised.
    pub fn infos(&self) -> &[String] {
        &self.infos
    }

    /// Whether there are neither warnings nor infos.
    pub fn is_empty(&self) -> bool {
        self.warnings.is_empty() && self.infos.is_empty()
    }
}

fn push_unique(list: &mut Vec<String>, message: String) {
    if !list.contains(&message) {
        list.push(message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_prefixed_and_kept_once() {
        let mut a = Annotations::default();
        a.warn("x");
        a.warn("x");
        a.info("y");
        assert_eq!(a.warnings(), ["PromQL warning: x"]);
        assert_eq!(a.infos(), ["PromQL info: y"]);
        assert!(!a.is_empty());
    }
}
