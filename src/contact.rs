//! Contact points: which e-mail address, phone numbers and postal address of a customer
//! record are usable, by the contract's rules.
//!
//! Pure functions on one record's values. An invalid address or number is not an error and
//! not a bad row: it only means the channel has no contact point.

use phonenumber::{Mode, Type};
use polars::prelude::PlHashSet;

use crate::values::is_trim_char;

/// Which of a record's two number columns a phone contact point comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumberField {
    Phone,
    Mobile,
}

impl NumberField {
    pub fn column(self) -> &'static str {
        match self {
            NumberField::Phone => "phone",
            NumberField::Mobile => "mobile",
        }
    }
}

/// Which channels a record can be reached on, and for phone and sms, which number.
#[derive(Clone, Copy, Debug, Default)]
pub struct Reach {
    pub email: bool,
    pub app: bool,
    pub post: bool,
    /// sms: the first of `mobile`, `phone` that is a valid mobile number
    pub sms: Option<NumberField>,
    /// the first of `phone`, `mobile` that is a valid number
    pub phone_first: Option<NumberField>,
    /// the first of `phone`, `mobile` that is a valid number not on do_not_call
    pub phone_free: Option<NumberField>,
}

impl Reach {
    /// Every valid phone number is on do_not_call (and there is one).
    pub fn all_numbers_do_not_call(&self) -> bool {
        self.phone_first.is_some() && self.phone_free.is_none()
    }

    /// The number a phone cell calls: with an opt-in, the first valid one; otherwise the
    /// first not on do_not_call.
    pub fn phone(&self, opt_in: bool) -> Option<NumberField> {
        if opt_in {
            self.phone_first
        } else {
            self.phone_free
        }
    }
}

/// A record's contact values (trimmed, empty as `None`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Values<'a> {
    pub email: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub mobile: Option<&'a str>,
    pub app_id: Option<&'a str>,
    pub street: Option<&'a str>,
    pub house_number: Option<&'a str>,
    pub postcode: Option<&'a str>,
    pub city: Option<&'a str>,
    pub country: Option<&'a str>,
}

impl Values<'_> {
    pub fn number(&self, f: NumberField) -> Option<&str> {
        match f {
            NumberField::Phone => self.phone,
            NumberField::Mobile => self.mobile,
        }
    }
}

/// The contract's contact points of one record, judged once: every channel's verdict.
pub fn reach(v: &Values, do_not_call: &PlHashSet<String>) -> Reach {
    use NumberField::{Mobile, Phone};
    let numbers = [Phone, Mobile].map(|f| (f, v.number(f).and_then(phone)));
    let first = |ok: &dyn Fn(&self::Phone) -> bool| {
        numbers
            .iter()
            .find(|(_, p)| p.as_ref().is_some_and(ok))
            .map(|(f, _)| *f)
    };
    Reach {
        email: v.email.and_then(email).is_some(),
        // mobile first, then phone
        sms: numbers
            .iter()
            .rev()
            .find(|(_, p)| p.as_ref().is_some_and(|p| p.mobile))
            .map(|(f, _)| *f),
        app: v.app_id.is_some(),
        post: has_postal_address(v.street, v.house_number, v.postcode, v.city, v.country),
        phone_first: first(&|_| true),
        phone_free: first(&|p| !do_not_call.contains(&p.e164)),
    }
}

/// The lowercased address when it has exactly one `@`, a non-empty local part, a domain
/// with a dot, and no whitespace.
pub fn email(raw: &str) -> Option<String> {
    let lower = raw.to_lowercase();
    let (local, domain) = lower.split_once('@')?;
    let ok = !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !lower.chars().any(is_trim_char);
    ok.then_some(lower)
}

/// Countries whose postcodes must have the Dutch shape; an empty country is the Netherlands.
pub fn is_dutch(country: Option<&str>) -> bool {
    country.is_none_or(|c| {
        ["NL", "NLD", "NEDERLAND"]
            .iter()
            .any(|n| n.eq_ignore_ascii_case(c))
    })
}

/// A Dutch postcode, `1234 AB` (space optional, any case, not SA, SD or SS), normalised to
/// `1234 AB`.
pub fn dutch_postcode(raw: &str) -> Option<String> {
    let up = raw.to_ascii_uppercase();
    let b = up.as_bytes();
    let letters = match b.len() {
        6 => &b[4..6],
        7 if b[4] == b' ' => &b[5..7],
        _ => return None,
    };
    let ok = (b'1'..=b'9').contains(&b[0])
        && b[1..4].iter().all(u8::is_ascii_digit)
        && letters.iter().all(u8::is_ascii_uppercase)
        && !matches!(letters, b"SA" | b"SD" | b"SS");
    ok.then(|| format!("{} {}", &up[..4], &up[b.len() - 2..]))
}

/// Whether the postal channel has an address: street, house number and city present, and a
/// postcode, of the Dutch shape for an address in the Netherlands.
pub fn has_postal_address(
    street: Option<&str>,
    house_number: Option<&str>,
    postcode: Option<&str>,
    city: Option<&str>,
    country: Option<&str>,
) -> bool {
    street.is_some()
        && house_number.is_some()
        && city.is_some()
        && postcode.is_some_and(|p| !is_dutch(country) || dutch_postcode(p).is_some())
}

/// A phone number judged by libphonenumber's rules with default region NL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Phone {
    /// E.164, e.g. `+31612345678`.
    pub e164: String,
    pub mobile: bool,
}

/// The number `raw` spells, when libphonenumber finds it valid.
///
/// Dutch numbers in the usual spellings take a fast path that reads the national significant
/// number and judges it against libphonenumber's own NL patterns; everything else (foreign
/// numbers, extensions, letters, numbers the fast path finds invalid) goes to the
/// `phonenumber` crate, whose parser is exact but slow and serialised by a shared lock.
pub fn phone(raw: &str) -> Option<Phone> {
    if let Some(nsn) = dutch_nsn(raw) {
        if let Some(mobile) = NL.judge(&nsn) {
            return Some(Phone {
                e164: format!("+31{nsn}"),
                mobile,
            });
        }
    }
    let n = phonenumber::parse(Some(phonenumber::country::NL), raw).ok()?;
    if !n.is_valid() {
        return None;
    }
    let kind = n.number_type(&phonenumber::metadata::DATABASE);
    Some(Phone {
        e164: n.format().mode(Mode::E164).to_string(),
        mobile: matches!(kind, Type::Mobile | Type::FixedLineOrMobile),
    })
}

/// The nine-digit national significant number of `0612345678`, `06-12345678`,
/// `+31 6 1234 5678`, `0031 6 ...` or `+31 (0)6 ...` (spaces, `-`, `.`, `/`, brackets).
fn dutch_nsn(raw: &str) -> Option<String> {
    let digits: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '/' | '(' | ')'))
        .collect();
    let nsn = ["+310", "00310", "+31", "0031", "0"]
        .iter()
        .find_map(|p| digits.strip_prefix(p))?;
    let b = nsn.as_bytes();
    (b.len() == 9 && b[0] != b'0' && b.iter().all(u8::is_ascii_digit)).then(|| nsn.to_string())
}

/// libphonenumber's NL number types, as full-match regexes of the crate's metadata, matched
/// in one pass as a set.
struct NlPatterns {
    /// the general description first, then the types in libphonenumber's order of checking
    set: regex::RegexSet,
    /// per pattern of `set`: its number type (`None`: the general description) and possible
    /// lengths
    kinds: Vec<(Option<Type>, Vec<u16>)>,
}

static NL: std::sync::LazyLock<NlPatterns> = std::sync::LazyLock::new(|| {
    let meta = phonenumber::metadata::DATABASE
        .by_id("NL")
        .expect("libphonenumber metadata has NL");
    let order = [
        Type::PremiumRate,
        Type::TollFree,
        Type::SharedCost,
        Type::Voip,
        Type::PersonalNumber,
        Type::Pager,
        Type::Uan,
        Type::Voicemail,
        Type::FixedLine,
        Type::Mobile,
    ];
    let mut described = vec![(None, meta.descriptors().general())];
    described.extend(
        order
            .into_iter()
            .filter_map(|t| meta.descriptors().get(t).map(|d| (Some(t), d))),
    );
    // the metadata's patterns are laid out over several lines, as the crate reads them
    let set = regex::RegexSetBuilder::new(
        described
            .iter()
            .map(|(_, d)| format!("^(?:{})$", d.national_number().as_str())),
    )
    .ignore_whitespace(true)
    .build()
    .expect("libphonenumber patterns compile");
    NlPatterns {
        set,
        kinds: described
            .into_iter()
            .map(|(t, d)| (t, d.possible_length().to_vec()))
            .collect(),
    }
});

impl NlPatterns {
    /// `Some(is_mobile)` when `nsn` is a valid NL number, `None` when the fast path cannot
    /// tell (the caller then asks the full parser).
    fn judge(&self, nsn: &str) -> Option<bool> {
        let matched = self.set.matches(nsn);
        // pattern i fits: it matches and the number has one of its possible lengths
        let fits = |i: usize| {
            let len = &self.kinds[i].1;
            matched.matched(i) && (len.is_empty() || len.contains(&(nsn.len() as u16)))
        };
        if !fits(0) {
            return None;
        }
        let is = |t: Type| (1..self.kinds.len()).any(|i| self.kinds[i].0 == Some(t) && fits(i));
        let kind = (1..self.kinds.len()).find(|&i| fits(i))?;
        Some(match self.kinds[kind].0 {
            Some(Type::FixedLine) => is(Type::Mobile),
            Some(Type::Mobile) => true,
            _ => false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_rules() {
        assert_eq!(
            email("Jan.Jansen@Ziggo.NL").as_deref(),
            Some("jan.jansen@ziggo.nl")
        );
        for bad in [
            "geen",
            "n.v.t.",
            "-",
            "jan@ziggo",
            "jan@@ziggo.nl",
            "@ziggo.nl",
            "jan jansen@gmail.com",
            "a@b@c.nl",
        ] {
            assert_eq!(email(bad), None, "{bad}");
        }
    }

    #[test]
    fn postcode_rules() {
        assert_eq!(dutch_postcode("1234ab").as_deref(), Some("1234 AB"));
        assert_eq!(dutch_postcode("1234 AB").as_deref(), Some("1234 AB"));
        for bad in [
            "0123 AB", "1234 SS", "1234 sa", "1234  AB", "1234", "geen", "12345",
        ] {
            assert_eq!(dutch_postcode(bad), None, "{bad}");
        }
        assert!(has_postal_address(
            Some("Kerkstraat"),
            Some("1"),
            Some("12345"),
            Some("Gent"),
            Some("BE")
        ));
        assert!(!has_postal_address(
            Some("Kerkstraat"),
            Some("1"),
            Some("12345"),
            Some("Gent"),
            Some("nl")
        ));
        assert!(!has_postal_address(
            Some("Kerkstraat"),
            None,
            Some("1234 AB"),
            Some("Ede"),
            None
        ));
    }

    #[test]
    fn phone_spellings_are_one_number() {
        for s in [
            "06-12345678",
            "+31 6 1234 5678",
            "0031612345678",
            "+31 (0)6 12345678",
            "0612345678",
        ] {
            assert_eq!(
                phone(s),
                Some(Phone {
                    e164: "+31612345678".into(),
                    mobile: true
                }),
                "{s}"
            );
        }
        assert_eq!(
            phone("010-1234567").map(|p| (p.e164, p.mobile)),
            Some(("+31101234567".into(), false))
        );
        for bad in ["geen", "06-1234", "0000000000", "12345", "-", "0690247149"] {
            assert_eq!(phone(bad), None, "{bad}");
        }
    }

    /// The fast path agrees with the full parser on every nine-digit number it accepts.
    #[test]
    fn fast_path_agrees_with_the_parser() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut hits = 0;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let nsn = format!("{}", 100_000_000 + x % 900_000_000);
            let fast = NL.judge(&nsn);
            let full = phonenumber::parse(Some(phonenumber::country::NL), format!("0{nsn}"))
                .ok()
                .filter(phonenumber::PhoneNumber::is_valid)
                .map(|n| {
                    matches!(
                        n.number_type(&phonenumber::metadata::DATABASE),
                        Type::Mobile | Type::FixedLineOrMobile
                    )
                });
            if fast.is_some() {
                assert_eq!(fast, full, "0{nsn}");
                hits += 1;
            }
        }
        assert!(hits > 1000, "the fast path judges most numbers ({hits})");
    }
}
