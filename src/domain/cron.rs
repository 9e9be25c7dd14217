//! Five-field cron expressions (minute hour day-of-month month day-of-week,
//! UTC) for scheduled jobs: `*`, numbers, lists `1,5`, ranges `1-5`, steps
//! `*/15` and `10-50/20`, and the shorthands `@hourly`, `@daily`, `@weekly`,
//! `@monthly`. Day-of-week 0 and 7 are Sunday. As in classic cron, when both
//! day fields are restricted a day matches if either does.

use chrono::{DateTime, Datelike, Duration, Timelike, Utc};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    day_restricted: bool,
    weekday_restricted: bool,
}

impl Schedule {
    pub fn parse(expr: &str) -> Result<Self, String> {
        let expanded = match expr.trim() {
            "@hourly" => "0 * * * *",
            "@daily" | "@midnight" => "0 0 * * *",
            "@weekly" => "0 0 * * 0",
            "@monthly" => "0 0 1 * *",
            other => other,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!(
                "`{expr}` is not a cron expression: expected 5 fields (minute hour day month weekday), got {}",
                fields.len()
            ));
        }
        let weekdays = field(fields[4], 0, 7, "weekday")?;
        // 7 is Sunday too.
        let weekdays = (weekdays | (weekdays >> 7)) & 0x7f;
        Ok(Self {
            minutes: field(fields[0], 0, 59, "minute")?,
            hours: field(fields[1], 0, 23, "hour")?,
            days: field(fields[2], 1, 31, "day of month")?,
            months: field(fields[3], 1, 12, "month")?,
            weekdays,
            day_restricted: fields[2] != "*",
            weekday_restricted: fields[4] != "*",
        })
    }

    /// Whether the minute starting at `t` is a scheduled one.
    pub fn matches(&self, t: DateTime<Utc>) -> bool {
        let bit = |set: u64, n: u32| set & (1 << n) != 0;
        let day = bit(self.days, t.day());
        let weekday = bit(self.weekdays, t.weekday().num_days_from_sunday());
        let day_ok = match (self.day_restricted, self.weekday_restricted) {
            (true, true) => day || weekday,
            _ => day && weekday,
        };
        bit(self.minutes, t.minute())
            && bit(self.hours, t.hour())
            && bit(self.months, t.month())
            && day_ok
    }

    /// The first scheduled minute strictly after `after`, within four years.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut t = after.with_second(0)?.with_nanosecond(0)? + Duration::minutes(1);
        let end = after + Duration::days(366 * 4);
        while t <= end {
            if !self.matches(t) {
                // Skip whole hours and days that cannot match.
                if self.months & (1 << t.month()) == 0 || !self.day_could_match(t) {
                    t = (t + Duration::days(1)).with_hour(0)?.with_minute(0)?;
                    continue;
                }
                if self.hours & (1 << t.hour()) == 0 {
                    t = (t + Duration::hours(1)).with_minute(0)?;
                    continue;
                }
                t += Duration::minutes(1);
                continue;
            }
            return Some(t);
        }
        None
    }

    fn day_could_match(&self, t: DateTime<Utc>) -> bool {
        let day = self.days & (1 << t.day()) != 0;
        let weekday = self.weekdays & (1 << t.weekday().num_days_from_sunday()) != 0;
        match (self.day_restricted, self.weekday_restricted) {
            (true, true) => day || weekday,
            _ => day && weekday,
        }
    }
}

/// One field as a bit set of allowed values.
fn field(text: &str, min: u32, max: u32, name: &str) -> Result<u64, String> {
    let mut set = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s
                    .parse()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("{name}: bad step `{s}`"))?;
                (r, step)
            }
            None => (part, 1),
        };
        let (lo, hi) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (num(a, min, max, name)?, num(b, min, max, name)?)
        } else {
            let n = num(range, min, max, name)?;
            // `5/10` means 5, 15, 25, …
            (n, if part.contains('/') { max } else { n })
        };
        if lo > hi {
            return Err(format!("{name}: range `{range}` is backwards"));
        }
        let mut v = lo;
        while v <= hi {
            set |= 1 << v;
            v += step;
        }
    }
    Ok(set)
}

fn num(text: &str, min: u32, max: u32, name: &str) -> Result<u32, String> {
    text.parse::<u32>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| format!("{name}: `{text}` is not a number from {min} to {max}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn next_runs() {
        let s = Schedule::parse("0 3 * * *").unwrap();
        assert_eq!(
            s.next_after(at(2026, 12, 5, 21, 30)),
            Some(at(2026, 12, 6, 3, 0))
        );
        assert_eq!(
            s.next_after(at(2026, 12, 6, 3, 0)),
            Some(at(2026, 12, 7, 3, 0)),
            "strictly after"
        );
        let every15 = Schedule::parse("*/15 * * * *").unwrap();
        assert_eq!(
            every15.next_after(at(2026, 1, 1, 0, 16)),
            Some(at(2026, 1, 1, 0, 30))
        );
        let yearly = Schedule::parse("30 1 29 2 *").unwrap();
        assert_eq!(
            yearly.next_after(at(2026, 3, 1, 0, 0)),
            Some(at(2028, 2, 29, 1, 30)),
            "leap day"
        );
        let sundays = Schedule::parse("0 0 * * 7").unwrap();
        assert_eq!(
            sundays.next_after(at(2026, 12, 5, 0, 0)),
            Some(at(2026, 12, 6, 0, 0))
        );
        assert_eq!(
            Schedule::parse("@daily").unwrap(),
            Schedule::parse("0 0 * * *").unwrap()
        );
    }

    #[test]
    fn lists_ranges_steps_and_either_day() {
        let s = Schedule::parse("5,10-20/5 9-17 1 * 1").unwrap();
        assert!(s.matches(at(2026, 12, 7, 9, 15)), "a Monday");
        assert!(s.matches(at(2026, 12, 1, 17, 5)), "the 1st (a Tuesday)");
        assert!(!s.matches(at(2026, 12, 2, 9, 15)), "neither day");
        assert!(!s.matches(at(2026, 12, 7, 9, 25)));
        assert!(!s.matches(at(2026, 12, 7, 18, 5)));
    }

    #[test]
    fn bad_expressions_say_what_is_wrong() {
        for (expr, needle) in [
            ("* * * *", "expected 5 fields"),
            ("60 * * * *", "minute"),
            ("* 24 * * *", "hour"),
            ("* * 0 * *", "day of month"),
            ("* * * 13 *", "month"),
            ("* * * * 8", "weekday"),
            ("*/0 * * * *", "step"),
            ("5-1 * * * *", "backwards"),
            ("a * * * *", "not a number"),
        ] {
            let e = Schedule::parse(expr).unwrap_err();
            assert!(e.contains(needle), "{expr}: {e}");
        }
    }
}
