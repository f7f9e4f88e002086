//! Callers' numbers into E.164 (R-K-1, R-D-2; issue 14): one normaliser for every number that
//! enters the bridge (the ESE external participant's `dn`, the metadata file, the Apps API end
//! user), on libphonenumber's metadata through the `phonenumber` crate. National formats are
//! read in `DEFAULT_COUNTRY`; `+` and `00` prefixes, spaces, punctuation and extensions are
//! handled. Withheld, anonymous and non-numbers are told apart from numbers: such a caller
//! becomes an "Unknown caller" customer of their own (never a failure).

use crate::config::CountryCode;
use std::str::FromStr;

/// What a caller's reported number is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallerNumber {
    /// `+` and the digits.
    E164(String),
    /// Withheld, anonymous, or not a number; the raw value (kept in the session's record,
    /// never logged).
    Unknown { raw: String },
}

/// Words carriers and platforms use for a number they do not give.
const WITHHELD: [&str; 8] = [
    "anonymous",
    "withheld",
    "private",
    "restricted",
    "unknown",
    "unavailable",
    "blocked",
    "hidden",
];

/// Where an extension starts (`ext. 12`, `x123`, `#5`, `;ext=5`, `,5`): what follows is not the
/// caller's number. (Stripped here: the crate reads some of these as part of the number.)
fn without_extension(raw: &str) -> &str {
    let lower = raw.to_ascii_lowercase();
    let cut = ["ext", "x", "#", ";", ","]
        .iter()
        .filter_map(|marker| lower.find(marker))
        .min();
    match cut {
        Some(at) => &raw[..at],
        None => raw,
    }
}

/// The caller's number in E.164, read in `country` when it is national.
pub fn normalise(raw: &str, country: &CountryCode) -> CallerNumber {
    let unknown = || CallerNumber::Unknown {
        raw: raw.to_owned(),
    };
    let lower = raw.trim().to_ascii_lowercase();
    if lower.is_empty() || WITHHELD.iter().any(|word| lower.contains(word)) {
        return unknown();
    }
    let main = without_extension(raw.trim());
    if main.chars().any(|c| c.is_alphabetic()) {
        return unknown();
    }
    let digits: String = main.chars().filter(char::is_ascii_digit).collect();
    let international = main.trim_start().starts_with('+') || digits.starts_with("00");
    let text = if international {
        format!("+{}", digits.strip_prefix("00").unwrap_or(&digits))
    } else {
        digits
    };
    let region = phonenumber::country::Id::from_str(country.as_str()).ok();
    let Ok(number) = phonenumber::parse(if international { None } else { region }, &text) else {
        return unknown();
    };
    let e164 = number.format().mode(phonenumber::Mode::E164).to_string();
    // A number given in international form is the caller's as reported, even in a range
    // libphonenumber does not know as assigned; a national one must be a valid number of the
    // default country (else it is more likely a typo than a number).
    let accepted = crate::kustomer::is_e164(&e164) && (international || number.is_valid());
    if accepted {
        CallerNumber::E164(e164)
    } else {
        unknown()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn country(code: &str) -> CountryCode {
        CountryCode::parse(code).unwrap_or_else(|| panic!("{code}"))
    }

    fn e164(raw: &str, code: &str) -> Option<String> {
        match normalise(raw, &country(code)) {
            CallerNumber::E164(number) => Some(number),
            CallerNumber::Unknown { .. } => None,
        }
    }

    #[test]
    fn r_k_1_numbers_in_national_and_international_formats_become_e164() {
        let cases = [
            // National, read in the default country.
            ("(415) 555-2671", "US", "+14155552671"),
            ("415.555.2671", "US", "+14155552671"),
            ("1 415 555 2671", "US", "+14155552671"),
            ("020 7946 0958", "GB", "+442079460958"),
            ("01 42 68 53 00", "FR", "+33142685300"),
            ("030 901820", "DE", "+4930901820"),
            ("03-3224-9999", "JP", "+81332249999"),
            ("(02) 9374 4000", "AU", "+61293744000"),
            ("(11) 3067-4000", "BR", "+551130674000"),
            ("022 2282 8282", "IN", "+912222828282"),
            // International prefixes, spaces, extensions.
            ("+44 20 7946 0958", "US", "+442079460958"),
            ("0044 20 7946 0958", "US", "+442079460958"),
            ("00442079460958", "FR", "+442079460958"),
            ("+33 1 42 68 53 00 ext. 12", "US", "+33142685300"),
            ("415-555-2671 x123", "US", "+14155552671"),
            ("+1 (415) 555-2671;ext=9", "GB", "+14155552671"),
            // E.164 as the platform sends it, in a range reserved for fiction: kept as given.
            ("+15550104477", "US", "+15550104477"),
        ];
        for (raw, code, expected) in cases {
            assert_eq!(
                e164(raw, code).as_deref(),
                Some(expected),
                "{raw} in {code}"
            );
        }
    }

    #[test]
    fn r_k_1_withheld_anonymous_and_malformed_caller_ids_are_unknown() {
        for raw in [
            "",
            "   ",
            "anonymous",
            "Anonymous",
            "WITHHELD",
            "private number",
            "restricted",
            "unknown",
            "sip:anonymous@invalid",
            "12",
            "+0",
            "hello",
            "555-0104",
            "(555) 010-4477",
        ] {
            assert_eq!(
                normalise(raw, &country("US")),
                CallerNumber::Unknown { raw: raw.into() },
                "{raw:?}"
            );
        }
    }
}
