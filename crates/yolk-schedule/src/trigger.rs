//! When a job fires: a fixed interval, or a cron expression in a time zone.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Local, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds};

use crate::error::ScheduleError;

/// A parsed trigger.
#[derive(Clone, Debug)]
pub enum Trigger {
    /// Every `Duration`, at a fixed rate.
    Interval(Duration),
    /// At the times a cron expression names, in a time zone.
    Cron {
        /// The parsed expression.
        cron: Box<Cron>,
        /// Its time zone.
        time_zone: Zone,
    },
}

/// The time zone a cron expression is read in.
///
/// ```
/// use yolk_schedule::{Trigger, Zone};
///
/// let Trigger::Cron { time_zone, .. } = Trigger::cron("job", "0 0 0 * * *", Some("local"))? else {
///     unreachable!()
/// };
/// assert_eq!(time_zone, Zone::Local);
/// # Ok::<(), yolk_schedule::ScheduleError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Zone {
    /// An IANA zone such as `Europe/Berlin`, or UTC.
    Named(Tz),
    /// The machine's own zone, `"local"`: the `TZ` variable, else `/etc/localtime` — the
    /// zone whose midnight the logger rotates at. Machines in different zones disagree on
    /// it, so a `cluster` job should name its zone.
    Local,
}

impl Trigger {
    /// Parses an interval: a positive number with a unit `ms`, `s`, `m`, `h` or `d`; a bare
    /// number is milliseconds, as in Egg.
    ///
    /// ```
    /// use std::time::Duration;
    /// use yolk_schedule::Trigger;
    ///
    /// let Trigger::Interval(every) = Trigger::interval("job", "5m")? else { unreachable!() };
    /// assert_eq!(every, Duration::from_secs(300));
    /// assert!(Trigger::interval("job", "0s").is_err());
    /// # Ok::<(), yolk_schedule::ScheduleError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ScheduleError::Interval`] when `value` is not a positive duration.
    pub fn interval(job: &str, value: &str) -> Result<Self, ScheduleError> {
        parse_duration(value)
            .filter(|every| !every.is_zero())
            .map(Self::Interval)
            .ok_or_else(|| ScheduleError::Interval {
                job: job.to_owned(),
                value: value.to_owned(),
            })
    }

    /// Parses a cron expression of 6 fields, seconds first, in `time_zone`: an IANA name,
    /// `"local"` for the machine's own zone ([`Zone::Local`]), UTC when `None`.
    ///
    /// ```
    /// use yolk_schedule::Trigger;
    ///
    /// assert!(Trigger::cron("job", "0 30 2 * * *", Some("Europe/Berlin")).is_ok());
    /// assert!(Trigger::cron("job", "30 2 * * *", None).is_err()); // 5 fields: no seconds
    /// assert!(Trigger::cron("job", "0 30 2 * * *", Some("Mars/Olympus")).is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// [`ScheduleError::Cron`] or [`ScheduleError::TimeZone`].
    pub fn cron(
        job: &str,
        expression: &str,
        time_zone: Option<&str>,
    ) -> Result<Self, ScheduleError> {
        let cron = CronParser::builder()
            .seconds(Seconds::Required)
            .build()
            .parse(expression)
            .map_err(|error| ScheduleError::Cron {
                job: job.to_owned(),
                value: expression.to_owned(),
                reason: error.to_string(),
            })?;
        let time_zone = match time_zone {
            None => Zone::Named(Tz::UTC),
            Some("local") => Zone::Local,
            Some(name) => Zone::Named(Tz::from_str(name).map_err(|_| ScheduleError::TimeZone {
                job: job.to_owned(),
                value: name.to_owned(),
            })?),
        };
        Ok(Self::Cron {
            cron: Box::new(cron),
            time_zone,
        })
    }

    /// The first fire time strictly after `after`; `None` when a cron expression never fires
    /// again. An interval's next time is `after + interval`.
    ///
    /// Cron times are computed in the trigger's time zone, so a job at `0 30 2 * * *` in
    /// `Europe/Berlin` fires at 02:30 local time in winter and in summer; on the spring-forward
    /// day, when 02:30 does not exist, it fires at 03:00 local time, right after the gap.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use yolk_schedule::Trigger;
    ///
    /// let trigger = Trigger::cron("job", "0 30 2 * * *", Some("Europe/Berlin"))?;
    /// let winter = trigger.next_after(Utc.with_ymd_and_hms(2026, 1, 10, 0, 0, 0).unwrap());
    /// assert_eq!(winter, Some(Utc.with_ymd_and_hms(2026, 1, 10, 1, 30, 0).unwrap()));
    /// let summer = trigger.next_after(Utc.with_ymd_and_hms(2026, 7, 10, 0, 0, 0).unwrap());
    /// assert_eq!(summer, Some(Utc.with_ymd_and_hms(2026, 7, 10, 0, 30, 0).unwrap()));
    /// # Ok::<(), yolk_schedule::ScheduleError>(())
    /// ```
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Self::Interval(every) => chrono::Duration::from_std(*every)
                .ok()
                .and_then(|every| after.checked_add_signed(every)),
            Self::Cron { cron, time_zone } => match time_zone {
                Zone::Named(zone) => next_in(cron, zone, after),
                Zone::Local => next_in(cron, &Local, after),
            },
        }
    }
}

/// The first time of `cron` strictly after `after`, reading the expression in `zone`.
fn next_in<Z: TimeZone>(cron: &Cron, zone: &Z, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let local = zone.from_utc_datetime(&after.naive_utc());
    cron.find_next_occurrence(&local, false)
        .ok()
        .map(|next| next.with_timezone(&Utc))
}

/// `"500ms"`, `"10s"`, `"5m"`, `"1h"`, `"1d"`, or a bare number of milliseconds.
fn parse_duration(value: &str) -> Option<Duration> {
    let value = value.trim();
    let digits = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(digits);
    let number: u64 = number.parse().ok()?;
    let unit_ms: u64 = match unit.trim() {
        "" | "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    number.checked_mul(unit_ms).map(Duration::from_millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1d"), Some(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("1500"), Some(Duration::from_millis(1500)));
        for bad in [
            "",
            "s",
            "10 parsecs",
            "-1s",
            "1.5s",
            "99999999999999999999d",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn bad_expressions_name_the_job_and_the_fix() {
        let error = Trigger::cron("nightly", "* * *", None).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("`nightly`"), "{message}");
        assert!(message.contains("6 fields, seconds first"), "{message}");
        let error = Trigger::interval("sweep", "soon").unwrap_err().to_string();
        assert!(error.contains("`10s`"), "{error}");
    }

    #[test]
    fn every_two_seconds_fires_on_even_seconds() {
        let trigger = Trigger::cron("job", "*/2 * * * * *", None).unwrap();
        let mut at = utc(2026, 3, 1, 0, 0, 1);
        let mut fired = Vec::new();
        for _ in 0..3 {
            at = trigger.next_after(at).unwrap();
            fired.push(at);
        }
        assert_eq!(
            fired,
            [
                utc(2026, 3, 1, 0, 0, 2),
                utc(2026, 3, 1, 0, 0, 4),
                utc(2026, 3, 1, 0, 0, 6)
            ]
        );
        // Strictly after: a time that matches is not its own next time.
        assert_eq!(
            trigger.next_after(utc(2026, 3, 1, 0, 0, 2)),
            Some(utc(2026, 3, 1, 0, 0, 4))
        );
    }

    /// 2026-03-29: Europe/Berlin springs from 02:00 CET to 03:00 CEST. 02:30 does not exist that
    /// day; the job runs once, right after the gap, and at 02:30 local (00:30 UTC) the next day —
    /// not an hour off.
    #[test]
    fn berlin_0230_across_spring_forward() {
        let trigger = Trigger::cron("job", "0 30 2 * * *", Some("Europe/Berlin")).unwrap();
        let day_before = trigger.next_after(utc(2026, 3, 27, 12, 0, 0)).unwrap();
        assert_eq!(day_before, utc(2026, 3, 28, 1, 30, 0)); // 02:30 CET
        let change_day = trigger.next_after(day_before).unwrap();
        assert_eq!(change_day, utc(2026, 3, 29, 1, 0, 0)); // 03:00 CEST, after the gap
        let day_after = trigger.next_after(change_day).unwrap();
        assert_eq!(day_after, utc(2026, 3, 30, 0, 30, 0)); // 02:30 CEST
        let later = trigger.next_after(day_after).unwrap();
        assert_eq!(later, utc(2026, 3, 31, 0, 30, 0));
    }

    /// 2026-10-25: Europe/Berlin falls back from 03:00 CEST to 02:00 CET; 02:30 happens twice.
    /// A fixed-time job runs once that day.
    #[test]
    fn berlin_0230_across_fall_back_runs_once() {
        let trigger = Trigger::cron("job", "0 30 2 * * *", Some("Europe/Berlin")).unwrap();
        let first = trigger.next_after(utc(2026, 10, 24, 12, 0, 0)).unwrap();
        assert_eq!(first, utc(2026, 10, 25, 0, 30, 0)); // 02:30 CEST
        let next = trigger.next_after(first).unwrap();
        assert_eq!(next, utc(2026, 10, 26, 1, 30, 0)); // 02:30 CET the next day
    }

    /// `"local"` reads the expression in the process's own zone (`TZ`), as chrono's `Local`
    /// does: a midnight job fires at the local midnight.
    #[test]
    fn local_midnight_is_the_machine_zones_midnight() {
        let trigger = Trigger::cron("job", "0 0 0 * * *", Some("local")).unwrap();
        let next = trigger.next_after(utc(2026, 1, 5, 12, 0, 0)).unwrap();
        let local = next.with_timezone(&Local);
        assert_eq!(local.time(), chrono::NaiveTime::MIN, "{local}");
        assert!(next > utc(2026, 1, 5, 12, 0, 0));
        assert!(next - utc(2026, 1, 5, 12, 0, 0) <= chrono::Duration::hours(25));
    }

    #[test]
    fn new_york_and_utc_differ_by_the_offset() {
        let ny = Trigger::cron("job", "0 0 9 * * *", Some("America/New_York")).unwrap();
        assert_eq!(
            ny.next_after(utc(2026, 1, 5, 0, 0, 0)),
            Some(utc(2026, 1, 5, 14, 0, 0))
        );
        let plain = Trigger::cron("job", "0 0 9 * * *", None).unwrap();
        assert_eq!(
            plain.next_after(utc(2026, 1, 5, 0, 0, 0)),
            Some(utc(2026, 1, 5, 9, 0, 0))
        );
    }
}
