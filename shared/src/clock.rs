//! Time as the state store sees it.
//!
//! Store primitives take `now` as an argument instead of reading a clock: expiry rules become
//! plain comparisons that tests can drive to the exact millisecond, and both adapters compare
//! the same numbers.

use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UnixMillis(pub i64);

impl UnixMillis {
    pub fn now() -> Self {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        Self(i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX))
    }

    /// `self + duration`, saturating instead of overflowing.
    pub fn plus(self, duration: Duration) -> Self {
        let millis = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
        Self(self.0.saturating_add(millis))
    }

    /// Whole seconds, rounded up: the unit of DynamoDB's TTL attribute. Rounding up keeps a TTL
    /// from ever falling before the logical expiry it cleans up after.
    pub fn as_epoch_seconds_ceil(self) -> i64 {
        self.0.div_euclid(1000) + i64::from(self.0.rem_euclid(1000) != 0)
    }

    /// ISO-8601 UTC with milliseconds and `Z`, the format both platforms use.
    pub fn to_iso(self) -> String {
        chrono::DateTime::from_timestamp_millis(self.0)
            .unwrap_or_default()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string()
    }

    /// Milliseconds from `self` until `later` (zero when `later` is not later).
    pub fn until(self, later: UnixMillis) -> Duration {
        Duration::from_millis(u64::try_from(later.0.saturating_sub(self.0)).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_seconds_round_up_so_ttl_never_precedes_expiry() {
        assert_eq!(UnixMillis(5_000).as_epoch_seconds_ceil(), 5);
        assert_eq!(UnixMillis(5_001).as_epoch_seconds_ceil(), 6);
        assert_eq!(UnixMillis(-1).as_epoch_seconds_ceil(), 0);
    }

    #[test]
    fn iso_text_has_milliseconds_and_z() {
        assert_eq!(
            UnixMillis(1_795_464_827_123).to_iso(),
            "2026-11-23T20:13:47.123Z"
        );
    }

    #[test]
    fn plus_saturates_and_until_is_never_negative() {
        assert_eq!(
            UnixMillis(i64::MAX - 1).plus(Duration::from_secs(1)),
            UnixMillis(i64::MAX)
        );
        assert_eq!(UnixMillis(10).until(UnixMillis(5)), Duration::ZERO);
        assert_eq!(
            UnixMillis(5).until(UnixMillis(1_505)),
            Duration::from_millis(1_500)
        );
    }
}
