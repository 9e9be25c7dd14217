//! Five-field cron expressions (minute hour day-of-month month day-of-week,
//! UTC) for scheduled jobs: `*`, numbers, lists `1,5`, ranges `1-5`, steps
//! `*/15`, `10-50/20` and `5/10` (5, 15, 25, …), the shorthands `@hourly`,
//! `@daily` (`@midnight`), `@weekly`, `@monthly`, and names (`MON`, `JAN`).
//! Day-of-week 0 and 7 are Sunday. As in classic cron, when both day fields
//! are restricted a day matches if either does.
//!
//! Parsing and the next-time search are the `croner` crate's (POSIX/Vixie
//! semantics; it also takes `L`, `W` and `#` in the day fields). This module
//! fixes the shape we accept (exactly five fields, no seconds or years) and
//! turns croner's errors into messages that name the field at fault.

use chrono::{DateTime, Duration, Timelike, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// The five fields, in order, with their value ranges (for error messages).
const FIELDS: [(&str, u32, u32); 5] = [
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("weekday", 0, 7),
];

/// A parsed schedule; equal when two expressions select the same minutes
/// (`@daily` equals `0 0 * * *`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    cron: Cron,
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
        let cron = parser()
            .parse(&fields.join(" "))
            .map_err(|e| explain(&fields, &e))?;
        Ok(Self { cron })
    }

    /// Whether the minute starting at `t` is a scheduled one.
    pub fn matches(&self, t: DateTime<Utc>) -> bool {
        minute_of(t).is_some_and(|m| self.cron.is_time_matching(&m).unwrap_or(false))
    }

    /// The first scheduled minute strictly after `after`, within four years.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let next = self.cron.find_next_occurrence(&after, false).ok()?;
        (next <= after + Duration::days(366 * 4)).then_some(next)
    }
}

/// The start of `t`'s minute.
fn minute_of(t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    t.with_second(0)?.with_nanosecond(0)
}

/// Exactly five fields (no seconds, no year); `5/10` as in classic cron.
fn parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .sloppy_ranges(true)
        .build()
}

/// croner's error with the field at fault named: each field is parsed alone
/// (the others `*`), and the first that fails is the one reported.
fn explain(fields: &[&str], e: &croner::errors::CronError) -> String {
    for (i, (name, lo, hi)) in FIELDS.iter().enumerate() {
        let mut probe = ["*"; 5];
        probe[i] = fields[i];
        if let Err(e) = parser().parse(&probe.join(" ")) {
            return format!(
                "{name}: `{}` is not a valid {name} (numbers {lo}-{hi}, lists, ranges, steps): {e}",
                fields[i]
            );
        }
    }
    e.to_string()
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
    fn names_and_single_number_steps() {
        assert_eq!(
            Schedule::parse("0 9 * JAN MON").unwrap(),
            Schedule::parse("0 9 * 1 1").unwrap()
        );
        let s = Schedule::parse("5/20 * * * *").unwrap();
        assert!(s.matches(at(2026, 1, 1, 0, 45)));
        assert!(!s.matches(at(2026, 1, 1, 0, 0)));
        assert!(
            Schedule::parse("0 0 30 2 *")
                .unwrap()
                .next_after(at(2026, 1, 1, 0, 0))
                .is_none(),
            "the 30th of February never comes"
        );
        assert!(Schedule::parse("0 0 0 * * *").is_err(), "six fields");
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
            ("*/0 * * * *", "Step cannot be zero"),
            ("5-1 * * * *", "minute: `5-1`"),
            ("a * * * *", "minute: `a`"),
            ("* * * 1-13/2 *", "month"),
        ] {
            let e = Schedule::parse(expr).unwrap_err();
            assert!(e.contains(needle), "{expr}: {e}");
        }
    }
}
