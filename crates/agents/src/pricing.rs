//! Model prices: what a step costs when the agent does not say.
//!
//! [`PriceTable::builtin`] is the table shipped in the binary (it works
//! offline); `pricing:` in `agentmon.yml` overrides or adds entries through
//! [`PriceTable::with_overrides`]. Prices are USD per million tokens, input
//! (prompt) and output (completion) separately.
//!
//! A model is looked up by its exact name, ignoring ASCII case, then as a
//! dated snapshot of a listed model (`gpt-4o-2024-08-06` is priced as
//! `gpt-4o`, `claude-sonnet-4-20250514` as `claude-sonnet-4`). Nothing else
//! is guessed: `o3-pro` is not priced as `o3`. A model with no price is
//! never costed at $0; the registry counts its tokens as unpriced instead.

use std::collections::BTreeMap;

/// The version of the built-in table: the date its prices were taken from
/// the providers' public price pages.
pub const BUILTIN_VERSION: &str = "2025-08-15";

/// The built-in prices, `(model, input, output)` in USD per million tokens,
/// as of [`BUILTIN_VERSION`]. Sources:
///
/// - Hermes 3 models: the Hermes instrumentation of the seed
///   (`PRICING`, $0.0002 and $0.0009 per thousand tokens).
/// - OpenAI: <https://openai.com/api/pricing/> (standard tier).
/// - Anthropic: <https://docs.anthropic.com/en/docs/about-claude/pricing>
///   (base input and output, without prompt caching).
/// - Google: <https://ai.google.dev/gemini-api/docs/pricing> (paid tier,
///   prompts up to 200k tokens).
/// - Meta Llama has no first-party API; the prices are Together AI's
///   serverless ones, <https://www.together.ai/pricing>.
pub const BUILTIN_PRICES: &[(&str, f64, f64)] = &[
    ("NousResearch/Hermes-3-Llama-3.1-8B", 0.20, 0.20),
    ("NousResearch/Hermes-3-Llama-3.1-70B", 0.90, 0.90),
    ("gpt-5", 1.25, 10.00),
    ("gpt-5-mini", 0.25, 2.00),
    ("gpt-5-nano", 0.05, 0.40),
    ("gpt-4.1", 2.00, 8.00),
    ("gpt-4.1-mini", 0.40, 1.60),
    ("gpt-4.1-nano", 0.10, 0.40),
    ("gpt-4o", 2.50, 10.00),
    ("gpt-4o-mini", 0.15, 0.60),
    ("o3", 2.00, 8.00),
    ("o3-mini", 1.10, 4.40),
    ("o4-mini", 1.10, 4.40),
    ("claude-opus-4-1", 15.00, 75.00),
    ("claude-opus-4", 15.00, 75.00),
    ("claude-sonnet-4", 3.00, 15.00),
    ("claude-3-7-sonnet", 3.00, 15.00),
    ("claude-3-5-sonnet", 3.00, 15.00),
    ("claude-3-5-haiku", 0.80, 4.00),
    ("claude-3-haiku", 0.25, 1.25),
    ("gemini-2.5-pro", 1.25, 10.00),
    ("gemini-2.5-flash", 0.30, 2.50),
    ("gemini-2.5-flash-lite", 0.10, 0.40),
    ("gemini-2.0-flash", 0.10, 0.40),
    ("gemini-2.0-flash-lite", 0.075, 0.30),
    ("meta-llama/Llama-3.3-70B-Instruct-Turbo", 0.88, 0.88),
    ("meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo", 0.18, 0.18),
    ("meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo", 0.88, 0.88),
    ("meta-llama/Meta-Llama-3.1-405B-Instruct-Turbo", 3.50, 3.50),
];

/// Where a price comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriceSource {
    Builtin,
    Config,
}

impl PriceSource {
    /// `builtin` or `config`, as the pricing API reports it.
    pub fn as_str(self) -> &'static str {
        match self {
            PriceSource::Builtin => "builtin",
            PriceSource::Config => "config",
        }
    }
}

/// The price of one model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    /// USD per million input (prompt) tokens.
    pub input_usd_per_million: f64,
    /// USD per million output (completion) tokens.
    pub output_usd_per_million: f64,
    pub source: PriceSource,
}

impl Price {
    /// The cost of a step with these token counts.
    pub fn cost(&self, prompt_tokens: u64, completion_tokens: u64) -> f64 {
        (prompt_tokens as f64 * self.input_usd_per_million
            + completion_tokens as f64 * self.output_usd_per_million)
            / 1_000_000.0
    }
}

/// Why a price override is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PriceError {
    #[error("pricing: a model name must not be empty")]
    EmptyModel,
    #[error("pricing.{model:?}.{field}: {value} is not a price: must be a finite number >= 0")]
    InvalidPrice {
        model: String,
        field: &'static str,
        value: String,
    },
}

/// The effective price table, keyed by model name as written.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceTable {
    prices: BTreeMap<String, Price>,
}

impl Default for PriceTable {
    fn default() -> PriceTable {
        PriceTable::builtin()
    }
}

impl PriceTable {
    /// The table shipped in the binary.
    pub fn builtin() -> PriceTable {
        let prices = BUILTIN_PRICES
            .iter()
            .map(|(model, input, output)| {
                (
                    (*model).to_owned(),
                    Price {
                        input_usd_per_million: *input,
                        output_usd_per_million: *output,
                        source: PriceSource::Builtin,
                    },
                )
            })
            .collect();
        PriceTable { prices }
    }

    /// This table with `(model, input, output)` overrides from the
    /// configuration; an override replaces a built-in entry of the same
    /// name (ignoring ASCII case). Every override is checked first, so a
    /// bad one changes nothing.
    pub fn with_overrides(
        mut self,
        overrides: &[(String, f64, f64)],
    ) -> Result<PriceTable, PriceError> {
        for (model, input, output) in overrides {
            if model.trim().is_empty() {
                return Err(PriceError::EmptyModel);
            }
            for (field, value) in [("input", input), ("output", output)] {
                if !value.is_finite() || *value < 0.0 {
                    return Err(PriceError::InvalidPrice {
                        model: model.clone(),
                        field,
                        value: value.to_string(),
                    });
                }
            }
        }
        for (model, input, output) in overrides {
            self.prices
                .retain(|name, _| !name.eq_ignore_ascii_case(model));
            self.prices.insert(
                model.clone(),
                Price {
                    input_usd_per_million: *input,
                    output_usd_per_million: *output,
                    source: PriceSource::Config,
                },
            );
        }
        Ok(self)
    }

    /// The price of `model`: its exact name ignoring ASCII case, else the
    /// longest listed name of which it is a dated snapshot.
    pub fn lookup(&self, model: &str) -> Option<&Price> {
        if let Some(price) = self.prices.get(model) {
            return Some(price);
        }
        let mut best: Option<(&str, &Price)> = None;
        for (name, price) in &self.prices {
            let matches = name.eq_ignore_ascii_case(model) || is_dated_snapshot(model, name);
            let longer = !matches!(best, Some((known, _)) if known.len() >= name.len());
            if matches && longer {
                best = Some((name, price));
            }
        }
        best.map(|(_, price)| price)
    }

    /// Every entry, by model name.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Price)> {
        self.prices
            .iter()
            .map(|(name, price)| (name.as_str(), price))
    }
}

/// `model` is `name` followed by `-` and a date: digits and dashes with at
/// least four digits (`-20250514`, `-2024-08-06`).
fn is_dated_snapshot(model: &str, name: &str) -> bool {
    let Some(head) = model.get(..name.len()) else {
        return false;
    };
    if !head.eq_ignore_ascii_case(name) {
        return false;
    }
    let Some(date) = model[name.len()..].strip_prefix('-') else {
        return false;
    };
    date.bytes().all(|b| b.is_ascii_digit() || b == b'-')
        && date.bytes().filter(u8::is_ascii_digit).count() >= 4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_hermes_prices_are_per_million() {
        let table = PriceTable::builtin();
        let price = table.lookup("NousResearch/Hermes-3-Llama-3.1-70B").unwrap();
        // The seed: 1000 prompt + 1000 completion tokens at $0.0009 each per 1K.
        assert!((price.cost(1000, 1000) - 0.0018).abs() < 1e-12);
        assert_eq!(price.source, PriceSource::Builtin);
    }

    #[test]
    fn lookup_ignores_case_and_accepts_dated_snapshots_only() {
        let table = PriceTable::builtin();
        assert_eq!(table.lookup("GPT-4o").unwrap().input_usd_per_million, 2.5);
        assert_eq!(
            table
                .lookup("gpt-4o-2024-08-06")
                .unwrap()
                .input_usd_per_million,
            2.5
        );
        assert_eq!(
            table
                .lookup("gpt-4o-mini-2024-07-18")
                .unwrap()
                .input_usd_per_million,
            0.15
        );
        assert_eq!(
            table
                .lookup("claude-sonnet-4-20250514")
                .unwrap()
                .output_usd_per_million,
            15.0
        );
        assert!(table.lookup("o3-pro").is_none());
        assert!(table.lookup("gpt-4o-").is_none());
        assert!(table.lookup("gpt-4o-12").is_none());
        assert!(table.lookup("my-local-model").is_none());
        assert!(table.lookup("").is_none());
    }

    #[test]
    fn overrides_replace_and_add_and_are_validated_whole() {
        let table = PriceTable::builtin()
            .with_overrides(&[
                ("GPT-4O".to_owned(), 1.0, 2.0),
                ("my-local-model".to_owned(), 0.0, 0.5),
            ])
            .unwrap();
        let price = table.lookup("gpt-4o").unwrap();
        assert_eq!(price.input_usd_per_million, 1.0);
        assert_eq!(price.source, PriceSource::Config);
        assert_eq!(
            table
                .entries()
                .filter(|(n, _)| n.eq_ignore_ascii_case("gpt-4o"))
                .count(),
            1
        );
        assert_eq!(
            table.lookup("my-local-model").unwrap().cost(0, 2_000_000),
            1.0
        );

        let refused = PriceTable::builtin()
            .with_overrides(&[("a".to_owned(), 1.0, 1.0), ("b".to_owned(), -1.0, 1.0)]);
        assert!(matches!(
            refused,
            Err(PriceError::InvalidPrice { field: "input", .. })
        ));
        let nan = PriceTable::builtin().with_overrides(&[("c".to_owned(), 1.0, f64::NAN)]);
        assert!(matches!(
            nan,
            Err(PriceError::InvalidPrice {
                field: "output",
                ..
            })
        ));
        let empty = PriceTable::builtin().with_overrides(&[(" ".to_owned(), 1.0, 1.0)]);
        assert_eq!(empty, Err(PriceError::EmptyModel));
    }
}
