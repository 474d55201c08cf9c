//! Time zones for `location:` of a time interval, read from the system's
//! time-zone database (TZif files under `$ZONEINFO` or
//! `/usr/share/zoneinfo`, as Go's `time.LoadLocation` reads them; RFC 8536).
//!
//! Only the transition table is used: after the last transition (2037 in
//! the "fat" files Debian ships) the last offset stays in force, where Go
//! would follow the file's POSIX rule.

use std::path::PathBuf;

/// A named zone: UTC offsets by transition time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub name: String,
    /// Offset before the first transition, in seconds.
    initial_offset: i32,
    /// (transition time in UTC seconds, offset in seconds from then on).
    transitions: Vec<(i64, i32)>,
}

impl Location {
    /// UTC.
    pub fn utc() -> Location {
        Location {
            name: "UTC".to_owned(),
            initial_offset: 0,
            transitions: Vec::new(),
        }
    }

    /// Loads a zone by IANA name (`Europe/Berlin`); `UTC` and `""` are
    /// UTC, `Local` is the zone of `/etc/localtime`.
    pub fn load(name: &str) -> Result<Location, String> {
        if name.is_empty() || name == "UTC" {
            return Ok(Location::utc());
        }
        let unknown = || format!("unknown time zone {name}");
        let path = if name == "Local" {
            PathBuf::from("/etc/localtime")
        } else {
            if name.starts_with('/') || name.split('/').any(|part| part == ".." || part.is_empty())
            {
                return Err(unknown());
            }
            let dir = std::env::var_os("ZONEINFO")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/usr/share/zoneinfo"));
            dir.join(name)
        };
        let bytes = std::fs::read(&path).map_err(|_| unknown())?;
        let (initial_offset, transitions) = parse_tzif(&bytes).ok_or_else(unknown)?;
        Ok(Location {
            name: name.to_owned(),
            initial_offset,
            transitions,
        })
    }

    /// The UTC offset in force at an instant, in milliseconds.
    pub fn offset_ms_at(&self, utc_ms: i64) -> i64 {
        let secs = utc_ms.div_euclid(1000);
        let index = self.transitions.partition_point(|(at, _)| *at <= secs);
        let offset = match index {
            0 => self.initial_offset,
            i => self.transitions[i - 1].1,
        };
        i64::from(offset) * 1000
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let slice = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(slice)
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// Counts of a TZif header.
struct Header {
    version: u8,
    isut: usize,
    isstd: usize,
    leap: usize,
    time: usize,
    types: usize,
    chars: usize,
}

fn header(r: &mut Reader<'_>) -> Option<Header> {
    if r.take(4)? != b"TZif" {
        return None;
    }
    let version = r.take(1)?[0];
    r.take(15)?;
    let mut counts = [0usize; 6];
    for c in &mut counts {
        *c = r.u32()? as usize;
    }
    Some(Header {
        version,
        isut: counts[0],
        isstd: counts[1],
        leap: counts[2],
        time: counts[3],
        types: counts[4],
        chars: counts[5],
    })
}

fn parse_tzif(bytes: &[u8]) -> Option<(i32, Vec<(i64, i32)>)> {
    let mut r = Reader { bytes, at: 0 };
    let mut h = header(&mut r)?;
    let mut time_size = 4;
    if h.version >= b'2' {
        // Skip the 32-bit block; the 64-bit one follows with its own header.
        let v1 = h.time * 5 + h.types * 6 + h.chars + h.leap * 8 + h.isstd + h.isut;
        r.take(v1)?;
        h = header(&mut r)?;
        time_size = 8;
    }
    let times: Vec<i64> = (0..h.time)
        .map(|_| {
            let b = r.take(time_size)?;
            Some(if time_size == 8 {
                i64::from_be_bytes(b.try_into().ok()?)
            } else {
                i64::from(i32::from_be_bytes(b.try_into().ok()?))
            })
        })
        .collect::<Option<_>>()?;
    let indices = r.take(h.time)?.to_vec();
    let offsets: Vec<i32> = (0..h.types)
        .map(|_| {
            let b = r.take(6)?;
            Some(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        })
        .collect::<Option<_>>()?;
    let initial = *offsets.first()?;
    let transitions = times
        .into_iter()
        .zip(indices)
        .map(|(t, i)| offsets.get(i as usize).map(|o| (t, *o)))
        .collect::<Option<Vec<_>>>()?;
    Some((initial, transitions))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_unknown_and_unsafe_names() {
        assert_eq!(
            Location::load("Nowhere/Atlantis").unwrap_err(),
            "unknown time zone Nowhere/Atlantis"
        );
        assert!(Location::load("../etc/passwd").is_err());
        assert!(Location::load("/etc/passwd").is_err());
        assert_eq!(Location::load("UTC").expect("utc").offset_ms_at(0), 0);
        assert!(parse_tzif(b"TZif2").is_none());
    }

    #[test]
    fn berlin_summer_and_winter() {
        let Ok(berlin) = Location::load("Europe/Berlin") else {
            if std::env::var("AGENTMON_REQUIRE_PEERS").as_deref() == Ok("1") {
                panic!("the time-zone database (Debian package tzdata) is required");
            }
            eprintln!("SKIP: no time-zone database (Debian package tzdata)");
            return;
        };
        // 2024-01-15T10:00Z is CET (+1h), 2024-07-01T10:00Z is CEST (+2h).
        assert_eq!(berlin.offset_ms_at(1_705_312_800_000), 3_600_000);
        assert_eq!(berlin.offset_ms_at(1_719_828_000_000), 7_200_000);
        // The switch on 2024-03-31 at 01:00Z.
        assert_eq!(berlin.offset_ms_at(1_711_846_799_000), 3_600_000);
        assert_eq!(berlin.offset_ms_at(1_711_846_800_000), 7_200_000);
    }
}
