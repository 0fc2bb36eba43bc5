//! Local time for log lines and rotation: `2026-11-24 10:00:00,123`, its date and time
//! formatted at most once per second per thread, with the zone's offset looked up at most once
//! a minute.

use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Length of `2026-11-24 10:00:00,123`.
pub(crate) const STAMP_LEN: usize = 23;

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The cached offset: `(minute, offset in seconds)` packed as minute * 2^20 + (offset + 2^19).
static OFFSET: AtomicI64 = AtomicI64::new(i64::MIN);

fn system_zone() -> &'static jiff::tz::TimeZone {
    static ZONE: OnceLock<jiff::tz::TimeZone> = OnceLock::new();
    ZONE.get_or_init(|| jiff::tz::TimeZone::try_system().unwrap_or(jiff::tz::TimeZone::UTC))
}

/// The local zone's offset from UTC at `unix_secs`, in seconds.
pub(crate) fn offset_at(unix_secs: i64) -> i64 {
    let minute = unix_secs.div_euclid(60);
    let packed = OFFSET.load(Ordering::Relaxed);
    if packed != i64::MIN && packed >> 20 == minute {
        return (packed & 0xF_FFFF) - (1 << 19);
    }
    let offset = jiff::Timestamp::from_second(unix_secs)
        .map(|ts| i64::from(system_zone().to_offset(ts).seconds()))
        .unwrap_or(0);
    OFFSET.store((minute << 20) | (offset + (1 << 19)), Ordering::Relaxed);
    offset
}

/// A local civil time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Civil {
    pub(crate) year: i64,
    pub(crate) month: u32,
    pub(crate) day: u32,
    pub(crate) hour: u32,
    pub(crate) minute: u32,
    pub(crate) second: u32,
}

/// The local civil time at `unix_secs`.
pub(crate) fn civil(unix_secs: i64) -> Civil {
    let local = unix_secs + offset_at(unix_secs);
    let days = local.div_euclid(86_400);
    let rest = local.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let rest = u32::try_from(rest).unwrap_or(0);
    Civil {
        year,
        month,
        day,
        hour: rest / 3600,
        minute: rest / 60 % 60,
        second: rest % 60,
    }
}

/// `(year, month, day)` of the day `days` after 1970-01-01 (Howard Hinnant's algorithm).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Unix seconds of the local midnight that starts `(year, month, day)`, for tests.
#[cfg(test)]
pub(crate) fn midnight(year: i64, month: u32, day: u32) -> i64 {
    let local = days_from_civil(year, month, day) * 86_400;
    local - offset_at(local)
}

/// Days after 1970-01-01 of `(year, month, day)`.
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let month = i64::from(month);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DD`.
pub(crate) fn date_string(civil: &Civil) -> String {
    format!("{:04}-{:02}-{:02}", civil.year, civil.month, civil.day)
}

thread_local! {
    /// The stamp of the last second formatted on this thread, and that second.
    static STAMP: Cell<(i64, [u8; STAMP_LEN])> = const { Cell::new((i64::MIN, [0; STAMP_LEN])) };
}

/// `2026-11-24 10:00:00,123` for `ms` after the epoch, in local time. The date and time are
/// formatted once per second per thread; each call writes only the milliseconds.
pub(crate) fn stamp(ms: i64) -> [u8; STAMP_LEN] {
    let second = ms.div_euclid(1000);
    let mut stamp = STAMP.with(|cell| {
        let (cached_second, cached) = cell.get();
        if cached_second == second {
            return cached;
        }
        let formatted = format_second(second);
        cell.set((second, formatted));
        formatted
    });
    put(
        &mut stamp[20..23],
        u32::try_from(ms.rem_euclid(1000)).unwrap_or(0),
    );
    stamp
}

/// `2026-11-24 10:00:00,000` for the second `unix_secs`.
fn format_second(unix_secs: i64) -> [u8; STAMP_LEN] {
    let c = civil(unix_secs);
    let mut out = *b"0000-00-00 00:00:00,000";
    let year = u32::try_from(c.year.clamp(0, 9999)).unwrap_or(0);
    put(&mut out[0..4], year);
    put(&mut out[5..7], c.month);
    put(&mut out[8..10], c.day);
    put(&mut out[11..13], c.hour);
    put(&mut out[14..16], c.minute);
    put(&mut out[17..19], c.second);
    out
}

/// Writes `value` right-aligned in decimal, zero-padded, into `digits`.
fn put(digits: &mut [u8], mut value: u32) {
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + u8::try_from(value % 10).unwrap_or(0);
        value /= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trips() {
        for days in [-1_000_000, -1, 0, 1, 19_000, 20_781, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2026, 11, 24), 20_781);
    }

    #[test]
    fn stamp_has_egg_shape_and_is_cached() {
        let ms = 1_795_510_800_123; // 2026-11-24 05:00:00.123 UTC
        let text = String::from_utf8(stamp(ms).to_vec()).unwrap();
        assert_eq!(text.len(), STAMP_LEN);
        assert!(text.ends_with(",123"), "{text}");
        assert_eq!(&text[4..5], "-");
        assert_eq!(stamp(ms), stamp(ms));
        // Within the cached second, into the next one, back to an earlier one, and at a
        // second's edges: each stamp is what a full formatting gives.
        for at in [
            ms,
            ms + 1,
            ms + 876,
            ms + 877,
            ms + 1_000,
            ms - 124,
            ms - 123,
            ms + 61_000,
        ] {
            let offset = offset_at(at.div_euclid(1000));
            let expected = jiff::Timestamp::from_millisecond(at + offset * 1000)
                .unwrap()
                .strftime("%Y-%m-%d %H:%M:%S,%3f")
                .to_string();
            assert_eq!(String::from_utf8(stamp(at).to_vec()).unwrap(), expected);
        }
    }
}
