//! Alert fingerprints as Alertmanager computes them
//! (`model.LabelSet.Fingerprint` of prometheus/common): FNV-1a 64 over the
//! label pairs sorted by name, each name and value followed by the byte
//! 0xff. The empty set hashes to the FNV offset basis.

use agentmon_model::Labels;

const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;
const SEPARATOR: u8 = 0xff;

fn add(mut hash: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(PRIME);
    }
    hash
}

/// The fingerprint of a label set (`Labels` is already sorted by name).
pub fn fingerprint(labels: &Labels) -> u64 {
    let mut hash = OFFSET;
    for label in labels {
        hash = add(hash, label.name.as_bytes());
        hash = add(hash, &[SEPARATOR]);
        hash = add(hash, label.value.as_bytes());
        hash = add(hash, &[SEPARATOR]);
    }
    hash
}

/// The fingerprint as the API shows it: 16 lower-case hex digits.
pub fn fingerprint_hex(fp: u64) -> String {
    format!("{fp:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_reference_vectors() {
        // The published FNV-1a 64 test vectors: "" and "a".
        assert_eq!(add(OFFSET, b""), 0xcbf29ce484222325);
        assert_eq!(add(OFFSET, b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(add(OFFSET, b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn same_as_alertmanager() {
        // Read back from a real Alertmanager 0.25 (Debian's package) after
        // posting an alert with these labels to /api/v2/alerts.
        let labels = Labels::new([("alertname", "X"), ("job", "api")]).expect("valid");
        assert_eq!(fingerprint_hex(fingerprint(&labels)), "066f64239d6975fb");
    }

    #[test]
    fn pairs_are_separated_and_order_free() {
        let a = Labels::new([("ab", "c")]).expect("valid");
        let b = Labels::new([("a", "bc")]).expect("valid");
        assert_ne!(fingerprint(&a), fingerprint(&b));
        let x = Labels::new([("x", "1"), ("y", "2")]).expect("valid");
        let y = Labels::new([("y", "2"), ("x", "1")]).expect("valid");
        assert_eq!(fingerprint(&x), fingerprint(&y));
        let manual = add(add(add(add(OFFSET, b"ab"), &[0xff]), b"c"), &[0xff]);
        assert_eq!(fingerprint(&a), manual);
        assert_eq!(fingerprint_hex(0xab), "00000000000000ab");
    }
}
