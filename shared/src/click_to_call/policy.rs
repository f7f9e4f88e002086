//! Which calls an agent may start (R-SEC-2, review S1/S14): pure rules, no I/O.
//!
//! - The number is one of the clicked customer's phones in Kustomer (compared in E.164), so a
//!   forged request cannot dial anywhere under the company's caller id.
//! - The destination is a number libphonenumber knows as valid, of an allowed country
//!   (`CLICK_TO_CALL_COUNTRIES`, default `DEFAULT_COUNTRY`), and not premium-rate or
//!   shared-cost (toll fraud).
//! - An agent starts at most `CLICK_TO_CALL_PER_HOUR` calls in a clock hour (a fixed window:
//!   up to twice that across an hour's edge, which still bounds the damage).

use crate::config::CountryCode;
use crate::phone::{CallerNumber, normalise};

/// Calls an agent may start in one clock hour when `CLICK_TO_CALL_PER_HOUR` is unset.
pub const DEFAULT_PER_HOUR: u32 = 30;

/// The policy, read once at cold start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallPolicy {
    /// ISO alpha-2 codes of the countries calls may go to.
    pub countries: Vec<String>,
    pub per_hour: u32,
}

impl CallPolicy {
    /// Calls to the default country only, [`DEFAULT_PER_HOUR`] an hour.
    pub fn domestic(country: &CountryCode) -> Self {
        Self {
            countries: vec![country.as_str().to_owned()],
            per_hour: DEFAULT_PER_HOUR,
        }
    }

    /// `CLICK_TO_CALL_COUNTRIES` (comma-separated ISO codes) and `CLICK_TO_CALL_PER_HOUR`
    /// (1–10000), over [`Self::domestic`]; a bad value names its variable.
    pub fn from_env(
        get: impl Fn(&str) -> Option<String>,
        country: &CountryCode,
    ) -> Result<Self, String> {
        let mut policy = Self::domestic(country);
        if let Some(list) = get("CLICK_TO_CALL_COUNTRIES").filter(|v| !v.trim().is_empty()) {
            let mut countries = Vec::new();
            for code in list.split(',').map(str::trim).filter(|c| !c.is_empty()) {
                let parsed = CountryCode::parse(code).ok_or_else(|| {
                    format!("CLICK_TO_CALL_COUNTRIES: {code:?} is not a two-letter country code")
                })?;
                countries.push(parsed.as_str().to_owned());
            }
            policy.countries = countries;
        }
        if let Some(value) = get("CLICK_TO_CALL_PER_HOUR").filter(|v| !v.trim().is_empty()) {
            policy.per_hour = value
                .trim()
                .parse()
                .ok()
                .filter(|n| (1..=10_000).contains(n))
                .ok_or_else(|| {
                    format!("CLICK_TO_CALL_PER_HOUR: expected 1 to 10000 calls, got {value:?}")
                })?;
        }
        Ok(policy)
    }
}

/// Why a call is not started.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// 400: not a number anyone can be called at.
    #[error("phone: {0}")]
    InvalidNumber(String),
    /// 403: a destination the policy does not allow.
    #[error("phone: calls to {0} are not allowed (CLICK_TO_CALL_COUNTRIES)")]
    Country(String),
    /// 403: premium-rate or shared-cost.
    #[error("phone: premium-rate and shared-cost numbers are not called")]
    Premium,
    /// 403: the number is not one of the clicked customer's.
    #[error("phone: the number is not one of the customer's phones in Kustomer")]
    NotTheCustomers,
    /// 403: the conversation belongs to another customer.
    #[error("conversation_id: the conversation is not the customer's")]
    OtherCustomersConversation,
    /// 429: the agent's hourly budget is spent.
    #[error("over {0} calls this hour; try again later (CLICK_TO_CALL_PER_HOUR)")]
    Rate(u32),
}

impl Refusal {
    /// The HTTP status the route answers with.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::InvalidNumber(_) => 400,
            Refusal::Rate(_) => 429,
            _ => 403,
        }
    }
}

/// Checks the destination: valid, allowed country, not premium.
pub fn destination(e164: &str, policy: &CallPolicy) -> Result<(), Refusal> {
    let number = phonenumber::parse(None, e164)
        .map_err(|_| Refusal::InvalidNumber(format!("{e164:?} is not a phone number")))?;
    if !number.is_valid() {
        return Err(Refusal::InvalidNumber(
            "not a valid number for its country".into(),
        ));
    }
    let country = number
        .country()
        .id()
        .map(|id| id.as_ref().to_owned())
        .unwrap_or_default();
    if !policy.countries.contains(&country) {
        return Err(Refusal::Country(if country.is_empty() {
            "this destination".into()
        } else {
            country
        }));
    }
    match number.number_type(&phonenumber::metadata::DATABASE) {
        phonenumber::Type::PremiumRate | phonenumber::Type::SharedCost => Err(Refusal::Premium),
        _ => Ok(()),
    }
}

/// Whether `e164` is one of `phones` (as Kustomer holds them, in any format, read in
/// `country` when national).
pub fn among_phones<'a>(
    e164: &str,
    phones: impl IntoIterator<Item = &'a str>,
    country: &CountryCode,
) -> bool {
    phones
        .into_iter()
        .any(|phone| matches!(normalise(phone, country), CallerNumber::E164(n) if n == e164))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us() -> CountryCode {
        CountryCode::parse("US").unwrap_or_else(|| panic!("US"))
    }

    #[test]
    fn r_sec_2_only_valid_numbers_of_allowed_countries_and_no_premium_ranges() {
        let policy = CallPolicy::domestic(&us());
        assert_eq!(destination("+16502530000", &policy), Ok(()));
        assert!(matches!(
            destination("+442079460000", &policy),
            Err(Refusal::Country(c)) if c == "GB"
        ));
        let both = CallPolicy {
            countries: vec!["US".into(), "GB".into()],
            per_hour: 5,
        };
        assert_eq!(destination("+442079460000", &both), Ok(()));
        // A US premium-rate (900) number.
        assert_eq!(destination("+19002530000", &policy), Err(Refusal::Premium));
        // Too short to be a number anywhere.
        assert!(matches!(
            destination("+1650253", &policy),
            Err(Refusal::InvalidNumber(_))
        ));
        // International numbers in no known range (+882 "international networks").
        assert!(destination("+88213112345678", &policy).is_err());
        assert_eq!(Refusal::Rate(5).status(), 429);
        assert_eq!(Refusal::NotTheCustomers.status(), 403);
    }

    #[test]
    fn r_sec_2_the_number_must_be_one_of_the_customers_phones_in_any_format() {
        let phones = ["(650) 253-0000", "+1 415 555 0100"];
        assert!(among_phones("+16502530000", phones, &us()));
        assert!(among_phones("+14155550100", phones, &us()));
        assert!(!among_phones("+16502530001", phones, &us()));
        assert!(!among_phones("+16502530000", [], &us()));
    }

    #[test]
    fn r_sec_2_the_policy_is_read_from_its_variables_and_names_a_bad_one() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert_eq!(
            CallPolicy::from_env(env(&[]), &us()),
            Ok(CallPolicy::domestic(&us()))
        );
        let policy = CallPolicy::from_env(
            env(&[
                ("CLICK_TO_CALL_COUNTRIES", "us, gb"),
                ("CLICK_TO_CALL_PER_HOUR", "12"),
            ]),
            &us(),
        );
        assert_eq!(
            policy,
            Ok(CallPolicy {
                countries: vec!["US".into(), "GB".into()],
                per_hour: 12
            })
        );
        assert!(
            CallPolicy::from_env(env(&[("CLICK_TO_CALL_COUNTRIES", "USA")]), &us())
                .unwrap_err()
                .contains("CLICK_TO_CALL_COUNTRIES")
        );
        assert!(
            CallPolicy::from_env(env(&[("CLICK_TO_CALL_PER_HOUR", "0")]), &us())
                .unwrap_err()
                .contains("CLICK_TO_CALL_PER_HOUR")
        );
    }
}
