//! Reading one value: trimming, dates in a configured format, timestamps, booleans, decimals,
//! and calendar-month arithmetic.
//!
//! Pure functions on strings and dates; they never guess (a date in another format is a bad
//! value) and never touch frames or files.

use chrono::{Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::Europe::Amsterdam;

/// Whitespace removed around every value: Unicode White_Space plus the ASCII separators
/// U+001C..U+001F (the set Python's `str.strip()` removes, which the reference uses).
pub fn is_trim_char(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// The value as the contract reads it: trimmed, and `None` when empty.
pub fn clean(s: &str) -> Option<&str> {
    // most values start and end with a visible ASCII character: nothing to trim
    let visible = |b: Option<&u8>| b.is_some_and(u8::is_ascii_graphic);
    if visible(s.as_bytes().first()) && visible(s.as_bytes().last()) {
        return Some(s);
    }
    let t = s.trim_matches(is_trim_char);
    (!t.is_empty()).then_some(t)
}

/// A date format written with `YYYY`, `MM` and `DD` once each and literal separators, such
/// as `YYYY-MM-DD` or `DD-MM-YYYY`. Dates must match it exactly, zero-padded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DateFormat {
    spec: String,
    parts: Vec<Part>,
    width: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    Year,
    Month,
    Day,
    Lit(u8),
}

impl DateFormat {
    pub fn iso() -> DateFormat {
        DateFormat::parse("YYYY-MM-DD").expect("ISO format is valid")
    }

    /// Reads a format spec; the error says what is wrong with it.
    pub fn parse(spec: &str) -> Result<DateFormat, String> {
        let b = spec.as_bytes();
        let (mut parts, mut i, mut width) = (Vec::new(), 0, 0);
        while i < b.len() {
            let (part, len) = if b[i..].starts_with(b"YYYY") {
                (Part::Year, 4)
            } else if b[i..].starts_with(b"MM") {
                (Part::Month, 2)
            } else if b[i..].starts_with(b"DD") {
                (Part::Day, 2)
            } else if b[i].is_ascii_alphanumeric() || !b[i].is_ascii() {
                return Err(format!(
                    "date format `{spec}`: unexpected `{}`; write it with YYYY, MM and DD and separators, e.g. DD-MM-YYYY",
                    &spec[i..].chars().next().unwrap_or(' ')
                ));
            } else {
                (Part::Lit(b[i]), 1)
            };
            parts.push(part);
            i += len;
            width += len;
        }
        for need in [Part::Year, Part::Month, Part::Day] {
            if parts.iter().filter(|p| **p == need).count() != 1 {
                return Err(format!(
                    "date format `{spec}`: needs YYYY, MM and DD once each"
                ));
            }
        }
        Ok(DateFormat {
            spec: spec.to_string(),
            parts,
            width,
        })
    }

    pub fn spec(&self) -> &str {
        &self.spec
    }

    pub fn is_iso(&self) -> bool {
        self.spec == "YYYY-MM-DD"
    }

    /// The date `s` spells in exactly this format, or `None`.
    pub fn date(&self, s: &str) -> Option<NaiveDate> {
        let b = s.as_bytes();
        if b.len() != self.width {
            return None;
        }
        let (mut y, mut m, mut d, mut i) = (0, 0, 0, 0);
        for part in &self.parts {
            match *part {
                Part::Lit(c) => {
                    if b[i] != c {
                        return None;
                    }
                    i += 1;
                }
                Part::Year => {
                    y = digits(&b[i..i + 4])?;
                    i += 4;
                }
                Part::Month => {
                    m = digits(&b[i..i + 2])?;
                    i += 2;
                }
                Part::Day => {
                    d = digits(&b[i..i + 2])?;
                    i += 2;
                }
            }
        }
        if y == 0 {
            return None; // there is no year 0000
        }
        NaiveDate::from_ymd_opt(y as i32, m, d)
    }
}

fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

/// A contract timestamp as microseconds since the epoch, UTC: `DATE[ T]HH:MM[:SS]` with an
/// optional `Z` or `±HH:MM`, or a bare `DATE` (midnight), `DATE` being ISO or `fmt`. Without
/// an offset the time is Europe/Amsterdam local time; a local time that falls in the spring
/// gap or the autumn overlap takes the offset in force before the change.
pub fn timestamp_micros(s: &str, fmt: &DateFormat) -> Option<i64> {
    let (date, rest) = split_date(s, fmt)?;
    let (time, zone) = if rest.is_empty() {
        (NaiveTime::MIN, None)
    } else {
        let rest = rest.strip_prefix(['T', ' '])?;
        let b = rest.as_bytes();
        if b.len() < 5 || b[2] != b':' {
            return None;
        }
        let (h, mi) = (digits(&b[0..2])?, digits(&b[3..5])?);
        let (sec, zone) = match b.get(5) {
            Some(b':') if b.len() >= 8 => (digits(&b[6..8])?, &rest[8..]),
            _ => (0, &rest[5..]),
        };
        (NaiveTime::from_hms_opt(h, mi, sec)?, Some(zone))
    };
    let local = NaiveDateTime::new(date, time);
    let offset_secs = match zone {
        None | Some("") => return Some(amsterdam_to_utc(local).and_utc().timestamp_micros()),
        Some("Z") => 0,
        Some(z) => {
            let b = z.as_bytes();
            if b.len() != 6 || b[3] != b':' || !matches!(b[0], b'+' | b'-') {
                return None;
            }
            let (oh, om) = (digits(&b[1..3])?, digits(&b[4..6])?);
            if oh > 23 || om > 59 {
                return None;
            }
            let secs = i64::from(oh * 3600 + om * 60);
            if b[0] == b'-' {
                -secs
            } else {
                secs
            }
        }
    };
    Some(
        (local - Duration::seconds(offset_secs))
            .and_utc()
            .timestamp_micros(),
    )
}

/// The date part of a timestamp: the first 10 characters in ISO, else the configured format.
fn split_date<'a>(s: &'a str, fmt: &DateFormat) -> Option<(NaiveDate, &'a str)> {
    let iso = DateFormat::iso();
    for f in [&iso, fmt] {
        if s.len() >= f.width && s.is_char_boundary(f.width) {
            if let Some(d) = f.date(&s[..f.width]) {
                return Some((d, &s[f.width..]));
            }
        }
    }
    None
}

/// Europe/Amsterdam wall-clock time to UTC; in a gap or an overlap the offset in force before
/// the change applies.
pub fn amsterdam_to_utc(local: NaiveDateTime) -> NaiveDateTime {
    let offset = match Amsterdam.offset_from_local_datetime(&local) {
        LocalResult::Single(o) | LocalResult::Ambiguous(o, _) => o,
        LocalResult::None => Amsterdam.offset_from_utc_datetime(&(local - Duration::hours(2))),
    };
    local - offset_secs(offset)
}

fn offset_secs(o: <chrono_tz::Tz as TimeZone>::Offset) -> Duration {
    use chrono::Offset;
    Duration::seconds(i64::from(o.fix().local_minus_utc()))
}

/// The first instant (µs UTC) after `as_of` in Europe/Amsterdam: a timestamp at or past it
/// is dated after the as-of date.
pub fn day_after_micros(as_of: NaiveDate) -> i64 {
    let next = as_of.succ_opt().unwrap_or(as_of).and_time(NaiveTime::MIN);
    amsterdam_to_utc(next).and_utc().timestamp_micros()
}

/// A contract boolean; empty is handled by the caller (it is false).
pub fn boolean(s: &str) -> Option<bool> {
    const TRUE: [&str; 6] = ["true", "1", "j", "ja", "y", "yes"];
    const FALSE: [&str; 5] = ["false", "0", "n", "nee", "no"];
    if TRUE.iter().any(|w| w.eq_ignore_ascii_case(s)) {
        Some(true)
    } else if FALSE.iter().any(|w| w.eq_ignore_ascii_case(s)) {
        Some(false)
    } else {
        None
    }
}

/// A decimal with `,` or `.` as the separator: `-12`, `12,50`, `+0.5`; no thousands marks.
pub fn is_decimal(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (int, frac) = match s.find([',', '.']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let all_digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    all_digits(int) && frac.is_none_or(all_digits)
}

/// The word among `words` that `s` spells, ignoring ASCII case.
pub fn word<'w>(s: &str, words: &[&'w str]) -> Option<&'w str> {
    words.iter().copied().find(|w| w.eq_ignore_ascii_case(s))
}

/// `date` plus `months` calendar months; a day the target month lacks becomes its last day
/// (2022-08-31 + 18 = 2024-02-29).
pub fn add_months(date: NaiveDate, months: u32) -> NaiveDate {
    date.checked_add_months(chrono::Months::new(months))
        .unwrap_or(NaiveDate::MAX)
}

/// Days since 1970-01-01, the physical value of a Parquet/Arrow date.
pub fn epoch_days(d: NaiveDate) -> i32 {
    (d - NaiveDate::default()).num_days() as i32
}

pub fn from_epoch_days(days: i32) -> NaiveDate {
    NaiveDate::default() + Duration::days(i64::from(days))
}

/// Bytes as lowercase hexadecimal (sha256 digests in the manifest).
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn month_end_clamps() {
        assert_eq!(add_months(d("2022-08-31"), 18), d("2024-02-29"));
        assert_eq!(add_months(d("2023-08-31"), 18), d("2025-02-28"));
        assert_eq!(add_months(d("2024-01-31"), 1), d("2024-02-29"));
        assert_eq!(add_months(d("2024-03-31"), 1), d("2024-04-30"));
        assert_eq!(add_months(d("2024-02-29"), 12), d("2025-02-28"));
        assert_eq!(add_months(d("2024-02-29"), 48), d("2028-02-29"));
        assert_eq!(add_months(d("2020-11-30"), 3), d("2021-02-28"));
        assert_eq!(add_months(d("2024-05-15"), 0), d("2024-05-15"));
        assert_eq!(add_months(d("2019-12-31"), 84), d("2026-12-31"));
    }

    #[test]
    fn dates_only_in_the_configured_format() {
        let iso = DateFormat::iso();
        let dmy = DateFormat::parse("DD-MM-YYYY").unwrap();
        assert_eq!(iso.date("2024-02-29"), Some(d("2024-02-29")));
        assert_eq!(iso.date("2023-02-29"), None);
        assert_eq!(iso.date("2024-2-29"), None);
        assert_eq!(iso.date("29-02-2024"), None);
        assert_eq!(iso.date("0000-01-01"), None);
        assert_eq!(iso.date("2024-02-29 "), None);
        assert_eq!(dmy.date("29-02-2024"), Some(d("2024-02-29")));
        assert_eq!(dmy.date("2024-02-29"), None);
        assert!(DateFormat::parse("DD-MM").is_err());
        assert!(DateFormat::parse("%d-%m-%Y").is_err());
        assert!(DateFormat::parse("YYYY/MM/DD").is_ok());
    }

    #[test]
    fn timestamps_are_utc_micros() {
        let iso = DateFormat::iso();
        let dmy = DateFormat::parse("DD-MM-YYYY").unwrap();
        let utc = |s: &str| {
            NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
                .unwrap()
                .and_utc()
                .timestamp_micros()
        };
        // winter: +01:00, summer: +02:00
        assert_eq!(
            timestamp_micros("2024-01-15 10:00", &iso),
            Some(utc("2024-01-15 09:00:00"))
        );
        assert_eq!(
            timestamp_micros("2024-07-15T10:00:30", &iso),
            Some(utc("2024-07-15 08:00:30"))
        );
        assert_eq!(
            timestamp_micros("2024-07-15T10:00:30Z", &iso),
            Some(utc("2024-07-15 10:00:30"))
        );
        assert_eq!(
            timestamp_micros("2024-07-15T10:00-05:30", &iso),
            Some(utc("2024-07-15 15:30:00"))
        );
        assert_eq!(
            timestamp_micros("2024-07-15", &iso),
            Some(utc("2024-07-14 22:00:00"))
        );
        assert_eq!(
            timestamp_micros("15-07-2024 10:00", &dmy),
            Some(utc("2024-07-15 08:00:00"))
        );
        assert_eq!(
            timestamp_micros("2024-07-15 10:00", &dmy),
            Some(utc("2024-07-15 08:00:00"))
        );
        // spring gap (02:30 does not exist on 2024-03-31): the offset before, +01:00
        assert_eq!(
            timestamp_micros("2024-03-31 02:30", &iso),
            Some(utc("2024-03-31 01:30:00"))
        );
        // autumn overlap (02:30 twice on 2024-10-27): the offset before, +02:00
        assert_eq!(
            timestamp_micros("2024-10-27 02:30", &iso),
            Some(utc("2024-10-27 00:30:00"))
        );
        for bad in [
            "2024-07-15 24:00",
            "2024-07-15 10:60",
            "2024-07-15T10",
            "2024-07-15 10:00+0100",
            "2024-07-15 10:00:00.5",
            "15-07-2024 10:00",
            "2024-07-15 10:00+24:00",
            "gisteren",
        ] {
            assert_eq!(timestamp_micros(bad, &iso), None, "{bad}");
        }
    }

    #[test]
    fn day_after_is_amsterdam_midnight() {
        let t = timestamp_micros("2024-07-16 00:00", &DateFormat::iso());
        assert_eq!(Some(day_after_micros(d("2024-07-15"))), t);
    }

    #[test]
    fn booleans_decimals_words() {
        assert_eq!(boolean("JA"), Some(true));
        assert_eq!(boolean("n"), Some(false));
        assert_eq!(boolean("misschien"), None);
        assert!(is_decimal("12,50") && is_decimal("-3") && is_decimal("+0.5"));
        assert!(
            !is_decimal("1.234,56") && !is_decimal("€ 12") && !is_decimal("12,") && !is_decimal("")
        );
        assert_eq!(word("OPT_IN", &["opt_in", "opt_out"]), Some("opt_in"));
        assert_eq!(word("optin", &["opt_in", "opt_out"]), None);
        assert_eq!(clean("  a b \u{a0}"), Some("a b"));
        assert_eq!(clean(" \t"), None);
    }
}
