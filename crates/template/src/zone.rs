//! Time zones for Alertmanager's `tz` function, read as Go's
//! `time.LoadLocation` reads them: from the system's zoneinfo files (TZif,
//! RFC 8536), using the transition table and, past its end, the POSIX TZ
//! rule in the file's footer.

use agentmon_model::calendar::days_from_civil;

/// Directories searched for zoneinfo files, as Go searches them.
const ZONEINFO_DIRS: &[&str] = &[
    "/usr/share/zoneinfo/",
    "/usr/share/lib/zoneinfo/",
    "/usr/lib/locale/TZ/",
];

/// A loaded zone: local time types and the instants they start at.
#[derive(Debug, Clone)]
pub(crate) struct Zone {
    /// (start in Unix seconds, index into `types`), ascending.
    transitions: Vec<(i64, usize)>,
    /// (offset east of UTC in seconds, abbreviation).
    types: Vec<(i32, String)>,
    /// The footer rule for instants after the last transition.
    rule: Option<Rule>,
}

/// A POSIX TZ rule: standard time, and daylight time between two dates.
#[derive(Debug, Clone)]
struct Rule {
    std: (String, i32),
    dst: Option<(String, i32, DateRule, DateRule)>,
}

/// `Mm.w.d/time`: day `d` (0 = Sunday) of week `w` (5 = last) of month `m`,
/// at `time` seconds after local midnight.
#[derive(Debug, Clone, Copy)]
struct DateRule {
    month: u32,
    week: u32,
    weekday: u32,
    time: i32,
}

/// Loads a zone by IANA name (`Europe/Paris`); `UTC` and `""` are UTC.
pub(crate) fn load(name: &str) -> Result<Zone, String> {
    if name.is_empty() || name == "UTC" {
        return Ok(Zone::utc());
    }
    if name.contains("..") || name.starts_with('/') || name.contains('\\') {
        return Err("time: invalid location name".to_string());
    }
    let paths: Vec<String> = if name == "Local" {
        vec!["/etc/localtime".to_string()]
    } else {
        ZONEINFO_DIRS
            .iter()
            .map(|dir| format!("{dir}{name}"))
            .collect()
    };
    for path in paths {
        if let Ok(bytes) = std::fs::read(&path) {
            return parse_tzif(&bytes).ok_or_else(|| format!("unknown time zone {name}"));
        }
    }
    if name == "Local" {
        return Ok(Zone::utc());
    }
    Err(format!("unknown time zone {name}"))
}

impl Zone {
    fn utc() -> Zone {
        Zone {
            transitions: Vec::new(),
            types: vec![(0, "UTC".to_string())],
            rule: None,
        }
    }

    /// The offset and abbreviation in force at `unix_seconds`.
    pub fn at(&self, unix_seconds: i64) -> (i32, String) {
        let after_last = self
            .transitions
            .last()
            .is_none_or(|(start, _)| unix_seconds >= *start);
        if after_last {
            if let Some(rule) = &self.rule {
                return rule.at(unix_seconds);
            }
        }
        // Before the first transition, local time type 0 applies (RFC 8536).
        let index = match self
            .transitions
            .partition_point(|(start, _)| *start <= unix_seconds)
        {
            0 => 0,
            n => self.transitions[n - 1].1,
        };
        self.types
            .get(index)
            .cloned()
            .unwrap_or((0, "UTC".to_string()))
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let slice = self.bytes.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(slice)
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

fn parse_tzif(bytes: &[u8]) -> Option<Zone> {
    let mut r = Reader { bytes, pos: 0 };
    let (version, counts) = header(&mut r)?;
    if version >= b'2' {
        // Skip the 32-bit block; the 64-bit one follows with its own header.
        skip_block(&mut r, &counts, 4)?;
        let (_, counts64) = header(&mut r)?;
        return read_block(&mut r, &counts64, 8, true);
    }
    read_block(&mut r, &counts, 4, false)
}

/// isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt.
type Counts = [usize; 6];

fn header(r: &mut Reader) -> Option<(u8, Counts)> {
    if r.take(4)? != b"TZif" {
        return None;
    }
    let version = r.take(1)?[0];
    r.take(15)?;
    let mut counts = [0usize; 6];
    for c in &mut counts {
        *c = r.u32()? as usize;
    }
    Some((version, counts))
}

fn skip_block(r: &mut Reader, c: &Counts, time_size: usize) -> Option<()> {
    let [isut, isstd, leap, time, types, chars] = *c;
    r.take(time * time_size + time + types * 6 + chars + leap * (time_size + 4) + isstd + isut)?;
    Some(())
}

fn read_block(r: &mut Reader, c: &Counts, time_size: usize, footer: bool) -> Option<Zone> {
    let [isut, isstd, leap, time, types, chars] = *c;
    let mut starts = Vec::with_capacity(time);
    for _ in 0..time {
        let b = r.take(time_size)?;
        starts.push(if time_size == 8 {
            i64::from_be_bytes(b.try_into().ok()?)
        } else {
            i64::from(i32::from_be_bytes(b.try_into().ok()?))
        });
    }
    let indexes = r.take(time)?.to_vec();
    let mut raw_types = Vec::with_capacity(types);
    for _ in 0..types {
        let b = r.take(6)?;
        raw_types.push((i32::from_be_bytes([b[0], b[1], b[2], b[3]]), b[5] as usize));
    }
    let names = r.take(chars)?.to_vec();
    r.take(leap * (time_size + 4) + isstd + isut)?;
    let type_list = raw_types
        .iter()
        .map(|(offset, at)| {
            let tail = names.get(*at..).unwrap_or_default();
            let end = tail.iter().position(|b| *b == 0).unwrap_or(tail.len());
            (*offset, String::from_utf8_lossy(&tail[..end]).into_owned())
        })
        .collect();
    let transitions = starts
        .into_iter()
        .zip(indexes)
        .map(|(s, i)| (s, usize::from(i)))
        .filter(|(_, i)| *i < types)
        .collect();
    let rule = if footer {
        let rest = r.bytes.get(r.pos..)?;
        let text = String::from_utf8_lossy(rest);
        parse_rule(text.trim_matches('\n'))
    } else {
        None
    };
    Some(Zone {
        transitions,
        types: type_list,
        rule,
    })
}

/// Parses `CET-1CEST,M3.5.0,M10.5.0/3`.
fn parse_rule(text: &str) -> Option<Rule> {
    let mut rest = text;
    let std_name = take_name(&mut rest)?;
    let std_offset = -take_offset(&mut rest)?;
    if rest.is_empty() {
        return Some(Rule {
            std: (std_name, std_offset),
            dst: None,
        });
    }
    let dst_name = take_name(&mut rest)?;
    let dst_offset = if rest.starts_with(',') {
        std_offset + 3600
    } else {
        -take_offset(&mut rest)?
    };
    let rest = rest.strip_prefix(',')?;
    let (start, end) = rest.split_once(',')?;
    Some(Rule {
        std: (std_name, std_offset),
        dst: Some((
            dst_name,
            dst_offset,
            parse_date_rule(start)?,
            parse_date_rule(end)?,
        )),
    })
}

fn take_name(rest: &mut &str) -> Option<String> {
    if let Some(quoted) = rest.strip_prefix('<') {
        let end = quoted.find('>')?;
        let name = quoted[..end].to_string();
        *rest = &quoted[end + 1..];
        return Some(name);
    }
    let end = rest
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(rest.len());
    if end < 3 {
        return None;
    }
    let name = rest[..end].to_string();
    *rest = &rest[end..];
    Some(name)
}

/// `[+-]hh[:mm[:ss]]` in seconds (positive west of Greenwich, as POSIX).
fn take_offset(rest: &mut &str) -> Option<i32> {
    let (sign, body) = match rest.as_bytes().first() {
        Some(b'-') => (-1, &rest[1..]),
        Some(b'+') => (1, &rest[1..]),
        _ => (1, *rest),
    };
    let end = body
        .find(|c: char| !(c.is_ascii_digit() || c == ':'))
        .unwrap_or(body.len());
    let mut seconds = 0;
    for (i, part) in body[..end].split(':').enumerate() {
        let n: i32 = part.parse().ok()?;
        seconds += n * [3600, 60, 1].get(i)?;
    }
    *rest = &body[end..];
    Some(sign * seconds)
}

fn parse_date_rule(text: &str) -> Option<DateRule> {
    let (date, time) = match text.split_once('/') {
        Some((d, t)) => (d, {
            let mut t = t;
            take_offset(&mut t)?
        }),
        None => (text, 7200),
    };
    let mut parts = date.strip_prefix('M')?.split('.');
    Some(DateRule {
        month: parts.next()?.parse().ok()?,
        week: parts.next()?.parse().ok()?,
        weekday: parts.next()?.parse().ok()?,
        time,
    })
}

impl DateRule {
    /// The local-time second of the year's `year` this rule names, as Unix
    /// seconds minus the offset in force before it.
    fn local_seconds(&self, year: i64) -> i64 {
        let first = days_from_civil(year, self.month, 1);
        let first_weekday = (first + 4).rem_euclid(7) as u32;
        let mut day = 1 + (self.weekday + 7 - first_weekday) % 7 + (self.week.max(1) - 1) * 7;
        let month_days = agentmon_model::calendar::days_in_month(year, self.month);
        while day > month_days {
            day -= 7;
        }
        (first + i64::from(day) - 1) * 86_400 + i64::from(self.time)
    }
}

impl Rule {
    fn at(&self, unix_seconds: i64) -> (i32, String) {
        let Some((dst_name, dst_offset, start, end)) = &self.dst else {
            return (self.std.1, self.std.0.clone());
        };
        let local = unix_seconds + i64::from(self.std.1);
        let year = agentmon_model::calendar::civil_from_days(local.div_euclid(86_400)).0;
        // Start is given in standard local time, end in daylight local time.
        let start_utc = start.local_seconds(year) - i64::from(self.std.1);
        let end_utc = end.local_seconds(year) - i64::from(*dst_offset);
        let in_dst = if start_utc < end_utc {
            unix_seconds >= start_utc && unix_seconds < end_utc
        } else {
            unix_seconds >= start_utc || unix_seconds < end_utc
        };
        if in_dst {
            (*dst_offset, dst_name.clone())
        } else {
            (self.std.1, self.std.0.clone())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posix_rules_switch_on_the_right_days() {
        let rule =
            parse_rule("CET-1CEST,M3.5.0,M10.5.0/3").unwrap_or_else(|| panic!("rule parses"));
        // 2040-03-25 00:59:59 UTC is before the last Sunday of March 01:00 UTC.
        let day = days_from_civil(2040, 3, 25) * 86_400;
        assert_eq!(rule.at(day + 3599), (3600, "CET".to_string()));
        assert_eq!(rule.at(day + 3600), (7200, "CEST".to_string()));
        let autumn = days_from_civil(2040, 10, 28) * 86_400;
        assert_eq!(rule.at(autumn + 3599), (7200, "CEST".to_string()));
        assert_eq!(rule.at(autumn + 3600), (3600, "CET".to_string()));
        let south = parse_rule("<-03>3").unwrap_or_else(|| panic!("rule parses"));
        assert_eq!(south.at(0), (-10800, "-03".to_string()));
    }

    #[test]
    fn system_zones_load_when_present() {
        let Ok(zone) = load("Europe/Paris") else {
            eprintln!("SKIP: no zoneinfo for Europe/Paris on this machine");
            return;
        };
        // 2015-06-23 13:19:44 UTC: summer time.
        assert_eq!(zone.at(1_435_065_584), (7200, "CEST".to_string()));
        // 2015-01-10: winter.
        assert_eq!(zone.at(1_420_848_000), (3600, "CET".to_string()));
        assert_eq!(
            load("Mars/Olympus").map(|_| ()),
            Err("unknown time zone Mars/Olympus".to_string())
        );
        assert_eq!(
            load("../etc/passwd").map(|_| ()),
            Err("time: invalid location name".to_string())
        );
    }
}
