//! Byte sizes as Prometheus's `--storage.tsdb.retention.size` takes them:
//! a number and a unit `B KB MB GB TB PB EB`, powers of 1024.

use crate::ModelError;

/// Parses a size such as `512MB` into bytes.
pub fn parse_bytes(input: &str) -> Result<u64, ModelError> {
    let err = |reason| ModelError::InvalidSize {
        input: input.to_owned(),
        reason,
    };
    let split = input
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(input.len());
    let (number, unit) = input.split_at(split);
    if number.is_empty() {
        return Err(err("expected a number"));
    }
    let number: u64 = number.parse().map_err(|_| err("number too large"))?;
    let shift = match unit.to_ascii_uppercase().as_str() {
        "B" | "" => 0,
        "KB" | "KIB" => 10,
        "MB" | "MIB" => 20,
        "GB" | "GIB" => 30,
        "TB" | "TIB" => 40,
        "PB" | "PIB" => 50,
        "EB" | "EIB" => 60,
        _ => return Err(err("unknown unit: use B, KB, MB, GB, TB, PB or EB")),
    };
    number
        .checked_mul(1u64 << shift)
        .ok_or_else(|| err("size too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_binary_units() {
        assert_eq!(parse_bytes("512MB").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("1GB").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("10").unwrap(), 10);
        assert!(parse_bytes("1XB").is_err());
        assert!(parse_bytes("MB").is_err());
    }
}
