//! Question reading: what the question's own words ask for, before any
//! mention is placed — a count ("how many", "number of"), a comparison with
//! the average, aggregate words, a superlative (ranking), an ordering, or
//! text to match inside a column ("containing 'West'").

use super::context::Ctx;
use super::linking::Link;
use super::plan::{Agg, Cmp};

/// "more than the average age": a comparison with a subquery, not an aggregate.
#[derive(Debug, Clone, Copy)]
pub(super) struct AverageComparison {
    /// Position of the "average" word.
    pub(super) pos: usize,
    pub(super) cmp: Cmp,
}

/// An aggregate word ("average", "total", …) and where it is.
#[derive(Debug, Clone, Copy)]
pub(super) struct AggWord {
    pub(super) pos: usize,
    pub(super) agg: Agg,
}

/// The intent words of a question.
pub(super) struct Intent {
    /// "how many", "number of", "count".
    pub(super) count: bool,
    pub(super) avg_cmp: Option<AverageComparison>,
    /// Position of the superlative that ranks ("the oldest", "top").
    pub(super) rank_pos: Option<usize>,
    /// "sort", "order", "arranged" appear in the question.
    pub(super) sort_words: bool,
}

/// Words before "number of" that make it part of a column name ("phone number of").
const NUMBER_COLUMN_WORDS: &[&str] = &[
    "phone",
    "telephone",
    "cell",
    "mobile",
    "fax",
    "serial",
    "version",
    "flight",
];

impl Intent {
    pub(super) fn read(cx: &Ctx) -> Self {
        let count = cx.has_seq("how", "many") || counts_number_of(cx) || cx.has("count");
        let sort_words = ["sort", "sorted", "order", "ordered", "arranged"]
            .iter()
            .any(|w| cx.has(w));
        Intent {
            count,
            avg_cmp: average_comparison(cx),
            rank_pos: rank_position(cx),
            sort_words,
        }
    }

    /// Aggregate words in question order, leaving out the average compared
    /// with and "total" where it names a `total` column (`total_cols`: the
    /// token positions of those mentions).
    pub(super) fn agg_words(&self, cx: &Ctx, total_cols: &[usize]) -> Vec<AggWord> {
        cx.tokens
            .iter()
            .enumerate()
            .filter(|(i, _)| self.avg_cmp.is_none_or(|a| a.pos != *i))
            .filter_map(|(i, t)| {
                let agg = match t.lower.as_str() {
                    "average" | "avg" | "mean" => Agg::Avg,
                    "sum" => Agg::Sum,
                    "minimum" | "min" => Agg::Min,
                    "maximum" | "max" => Agg::Max,
                    // "total" is the column `total` unless used as "total revenue".
                    "total" if !total_cols.contains(&i) => Agg::Sum,
                    _ => return None,
                };
                Some(AggWord { pos: i, agg })
            })
            .collect()
    }
}

/// "number of" counts, unless "number" belongs to a column ("phone number
/// of") or is aggregated ("the average number of …").
fn counts_number_of(cx: &Ctx) -> bool {
    let tokens = cx.tokens;
    // Inside a multi-word mention ("phone number").
    let covered = |i: usize| {
        cx.mentions
            .iter()
            .any(|m| m.start <= i && i < m.end && m.end - m.start > 1)
    };
    let number_of = (1..tokens.len()).any(|i| {
        cx.word(i) == "number"
            && cx.word(i + 1) == "of"
            && !covered(i)
            && !NUMBER_COLUMN_WORDS.contains(&cx.word(i - 1))
    }) || (cx.word(0) == "number" && cx.word(1) == "of");
    // "the average number of …" is an aggregate of a column, not a count.
    number_of
        && !(1..tokens.len()).any(|i| {
            cx.word(i) == "number"
                && cx.word(i + 1) == "of"
                && (i.checked_sub(1).map(|k| cx.word(k)) == Some("the")
                    && i >= 2
                    && matches!(
                        cx.word(i - 2),
                        "average" | "maximum" | "minimum" | "max" | "min"
                    )
                    || matches!(
                        cx.word(i - 1),
                        "average" | "maximum" | "minimum" | "max" | "min"
                    ))
        })
}

/// "more than the average age", "below average".
fn average_comparison(cx: &Ctx) -> Option<AverageComparison> {
    (0..cx.tokens.len()).find_map(|i| {
        if !matches!(cx.word(i), "average" | "mean" | "avg") {
            return None;
        }
        let j = if i > 0 && cx.word(i - 1) == "the" {
            i - 1
        } else {
            i
        };
        let cmp = match (
            j.checked_sub(2).map(|k| cx.word(k)),
            j.checked_sub(1).map(|k| cx.word(k)),
        ) {
            (Some("more" | "greater" | "higher" | "larger" | "bigger" | "older"), Some("than"))
            | (_, Some("above" | "over" | "exceeding" | "exceeds")) => Cmp::Gt,
            (Some("less" | "fewer" | "lower" | "smaller" | "younger"), Some("than"))
            | (_, Some("below" | "under")) => Cmp::Lt,
            _ => return None,
        };
        Some(AverageComparison { pos: i, cmp })
    })
}

/// A superlative: `Some(true)` ranks descending, `Some(false)` ascending.
pub(super) fn superlative(w: &str) -> Option<bool> {
    match w {
        "most" | "top" | "highest" | "largest" | "biggest" | "best" | "expensive" | "priciest"
        | "newest" | "latest" | "greatest" | "heaviest" | "longest" | "tallest" => Some(true),
        "least" | "fewest" | "lowest" | "smallest" | "bottom" | "worst" | "cheapest" | "oldest"
        | "earliest" | "lightest" | "shortest" => Some(false),
        "youngest" => Some(false),
        _ => None,
    }
}

/// The first superlative that ranks: not quoted, not part of a multi-word
/// column or table name ("best finish"), not the "least" of "at least".
fn rank_position(cx: &Ctx) -> Option<usize> {
    let in_name = |p: usize| {
        cx.mentions.iter().any(|m| {
            m.start <= p
                && p < m.end
                && m.end - m.start > 1
                && matches!(m.link, Link::Column(_) | Link::Table(_))
        })
    };
    let rank_pos = cx
        .tokens
        .iter()
        .enumerate()
        .position(|(i, t)| superlative(&t.lower).is_some() && !t.quoted && !in_name(i));
    // "at least" is a comparison, not a superlative.
    rank_pos.filter(|&p| !(cx.tokens[p].lower == "least" && p > 0 && cx.word(p - 1) == "at"))
}

/// Literal text to match inside a column ("containing the substring 'West'").
pub(super) fn like_context(cx: &Ctx, start: usize) -> bool {
    (start.saturating_sub(3)..start).any(|i| {
        matches!(
            cx.word(i),
            "substring"
                | "contains"
                | "containing"
                | "contain"
                | "word"
                | "includes"
                | "including"
                | "include"
        )
    })
}
