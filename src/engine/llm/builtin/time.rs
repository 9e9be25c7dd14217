//! Time words of a question: grains ("monthly", "per quarter") and periods
//! ("last year", "this month", "the last 30 days", "in December 2025").
//!
//! Relative periods are counted back from an **anchor**: the latest date
//! stored in the date column the period filters (`MAX(column)`), not the
//! clock. Data is often loaded in batches or ends before today, so "the last
//! 30 days" of the clock could be empty while the data's last 30 days are
//! what the question means; the SQL carries the anchor as a subquery and the
//! answer states it as an assumption. This module only reads words; the
//! SQL for each dialect is in the shapes' `dates` room.

use crate::text::Token;

/// A calendar grain to group dates by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

impl Bucket {
    /// The grain a word names ("monthly", "months", "quarter").
    pub fn of_word(w: &str) -> Option<Bucket> {
        Some(match w {
            "day" | "days" | "daily" => Bucket::Day,
            "week" | "weeks" | "weekly" => Bucket::Week,
            "month" | "months" | "monthly" => Bucket::Month,
            "quarter" | "quarters" | "quarterly" => Bucket::Quarter,
            "year" | "years" | "yearly" | "annual" | "annually" => Bucket::Year,
            _ => return None,
        })
    }

    /// An adverb or adjective ("monthly revenue", "revenue, yearly"): it
    /// groups wherever it stands, unlike the noun ("month"), which groups
    /// only after "per", "by", "each".
    pub fn is_adjective(w: &str) -> bool {
        matches!(
            w,
            "daily" | "weekly" | "monthly" | "quarterly" | "yearly" | "annual" | "annually"
        )
    }

    pub fn noun(self) -> &'static str {
        match self {
            Bucket::Day => "day",
            Bucket::Week => "week",
            Bucket::Month => "month",
            Bucket::Quarter => "quarter",
            Bucket::Year => "year",
        }
    }
}

/// A span of time the question restricts dates to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// One calendar month of one year: "in December 2025".
    Month { year: i32, month: u32 },
    /// The calendar unit holding the anchor (`back == 0`: "this month",
    /// "today") or the one `back` units before it ("last year", "yesterday").
    Calendar { unit: Bucket, back: u32 },
    /// A window of `n` units ending at the anchor: "the last 30 days", "the
    /// past year".
    Trailing { unit: Bucket, n: u32 },
}

impl Period {
    /// Counted from the anchor (the data's latest date), not absolute.
    pub fn is_relative(self) -> bool {
        !matches!(self, Period::Month { .. })
    }
}

const MONTHS: &[&str] = &[
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// The month a word names (1-based): full names, and three-letter
/// abbreviations other than "may"/"mar" (which are ordinary words too).
fn month_of(w: &str) -> Option<u32> {
    if let Some(i) = MONTHS.iter().position(|m| *m == w) {
        return Some(i as u32 + 1);
    }
    const SHORT: &[(&str, u32)] = &[
        ("jan", 1),
        ("feb", 2),
        ("apr", 4),
        ("jun", 6),
        ("jul", 7),
        ("aug", 8),
        ("sep", 9),
        ("sept", 9),
        ("oct", 10),
        ("nov", 11),
        ("dec", 12),
    ];
    SHORT.iter().find(|(s, _)| *s == w).map(|&(_, m)| m)
}

fn small_number(t: &Token) -> Option<u32> {
    if let Some(x) = t.number() {
        return (x.fract() == 0.0 && (1.0..=10_000.0).contains(&x)).then_some(x as u32);
    }
    const WORDS: &[&str] = &[
        "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
        "twelve",
    ];
    WORDS
        .iter()
        .position(|w| *w == t.lower)
        .map(|i| i as u32 + 1)
}

/// The period spelled from token `i` on, and how many tokens it takes.
pub fn period_at(tokens: &[Token], i: usize) -> Option<(usize, Period)> {
    let t = tokens.get(i)?;
    if t.quoted {
        return None;
    }
    let word = |k: usize| {
        tokens
            .get(k)
            .filter(|t| !t.quoted)
            .map(|t| t.lower.as_str())
    };
    match t.lower.as_str() {
        "today" => {
            return Some((
                1,
                Period::Calendar {
                    unit: Bucket::Day,
                    back: 0,
                },
            ));
        }
        "yesterday" => {
            return Some((
                1,
                Period::Calendar {
                    unit: Bucket::Day,
                    back: 1,
                },
            ));
        }
        "this" | "current" => {
            let unit = word(i + 1).and_then(Bucket::of_word)?;
            let singular = word(i + 1).is_some_and(|w| !w.ends_with('s'));
            return singular.then_some((2, Period::Calendar { unit, back: 0 }));
        }
        "last" | "past" | "previous" | "prior" => {
            if let Some(n) = tokens.get(i + 1).and_then(small_number) {
                let unit = word(i + 2).and_then(Bucket::of_word)?;
                return Some((3, Period::Trailing { unit, n }));
            }
            let unit = word(i + 1).and_then(Bucket::of_word)?;
            if word(i + 1).is_some_and(|w| Bucket::is_adjective(w) || w.ends_with('s')) {
                return None;
            }
            // "the past year" is a window; "last year" the calendar year before.
            let p = if t.lower == "past" {
                Period::Trailing { unit, n: 1 }
            } else {
                Period::Calendar { unit, back: 1 }
            };
            return Some((2, p));
        }
        _ => {}
    }
    let month = month_of(&t.lower)?;
    let year = tokens.get(i + 1)?.number()?;
    ((1900.0..=2100.0).contains(&year) && year.fract() == 0.0).then_some((
        2,
        Period::Month {
            year: year as i32,
            month,
        },
    ))
}

/// The sentence an answer carries for a relative period read against the
/// anchor `column` ("orders.order_date").
pub fn anchor_note(words: &str, p: Period, column: &str) -> String {
    let what = match p {
        Period::Calendar { unit, back: 0 } => format!("the {} of", unit.noun()),
        Period::Calendar { unit, back: 1 } => format!("the {} before that of", unit.noun()),
        Period::Calendar { unit, back } => format!("{back} {}s before that of", unit.noun()),
        Period::Trailing { unit, n } => format!("{n} {}(s) up to", unit.noun()),
        Period::Month { .. } => return format!("'{words}' read as that calendar month"),
    };
    format!(
        "'{words}' read as {what} the latest {column} in the data (the anchor), not today's date"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::question_tokens;

    fn read(q: &str) -> Vec<Period> {
        let toks = question_tokens(q);
        (0..toks.len())
            .filter_map(|i| period_at(&toks, i).map(|(_, p)| p))
            .collect()
    }

    #[test]
    fn periods_are_read_from_everyday_phrases() {
        use Bucket::*;
        assert_eq!(
            read("How many orders last year?"),
            [Period::Calendar {
                unit: Year,
                back: 1
            }]
        );
        assert_eq!(
            read("Revenue this month"),
            [Period::Calendar {
                unit: Month,
                back: 0
            }]
        );
        assert_eq!(
            read("Orders in the last 30 days"),
            [Period::Trailing { unit: Day, n: 30 }]
        );
        assert_eq!(
            read("customers who signed up in the past three months"),
            [Period::Trailing { unit: Month, n: 3 }]
        );
        assert_eq!(
            read("Revenue in December 2025"),
            [Period::Month {
                year: 2025,
                month: 12
            }]
        );
        assert_eq!(
            read("orders placed yesterday"),
            [Period::Calendar { unit: Day, back: 1 }]
        );
        // Not periods: a column name, a grain, a month without a year, a plural.
        assert!(read("the last name of each employee").is_empty());
        assert!(read("revenue for the last months").is_empty());
        assert!(read("orders in May").is_empty());
        assert!(read("total of this order").is_empty());
    }

    #[test]
    fn grains_and_anchor_notes() {
        assert_eq!(Bucket::of_word("quarterly"), Some(Bucket::Quarter));
        assert!(Bucket::is_adjective("weekly") && !Bucket::is_adjective("week"));
        let note = anchor_note(
            "last year",
            Period::Calendar {
                unit: Bucket::Year,
                back: 1,
            },
            "orders.order_date",
        );
        assert!(note.contains("latest orders.order_date"), "{note}");
    }
}
