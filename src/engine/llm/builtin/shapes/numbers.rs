//! Numbers in a question: a comparison with a column ("older than 30",
//! "a greater weight than 10", "between 5000 and 10000", "8 cylinders",
//! "3 years old"), a count condition ("more than 10 orders"), or a row
//! limit ("top 5"). Anything else is a number we cannot place, and the
//! question is refused rather than guessed.

use super::columns::{age_column, default_numeric};
use super::context::{Ctx, num};
use super::intent::superlative;
use super::linking::{Link, Mention, is_numeric};
use super::plan::{Cmp, ColRef, HavingCount, NumberComparison};
use super::roles::{Roles, before};
use super::{Choices, Reason};

/// The comparison two words make before a number or a column ("more than",
/// "over", "at least", "no more").
fn word_cmp(a: &str, b: &str) -> Option<Cmp> {
    match (a, b) {
        ("more" | "greater" | "higher" | "larger" | "bigger" | "longer", "than")
        | (_, "over" | "above" | "exceeding" | "exceed" | "exceeds") => Some(Cmp::Gt),
        ("less" | "fewer" | "lower" | "smaller" | "shorter", "than") | (_, "under" | "below") => {
            Some(Cmp::Lt)
        }
        ("cheaper", "than") => Some(Cmp::Lt),
        ("expensive" | "pricier", "than") => Some(Cmp::Gt),
        ("at", "least") | ("no", "less") => Some(Cmp::Ge),
        ("at", "most") | ("no", "more") => Some(Cmp::Le),
        _ => None,
    }
}

/// The first numeric candidate of a column mention.
fn numeric_col(cx: &Ctx, l: &Link) -> Option<ColRef> {
    match l {
        Link::Column(cs) => {
            let nums: Vec<ColRef> = cs
                .iter()
                .copied()
                .filter(|&(t, c)| is_numeric(&cx.schema.tables[t].columns[c]))
                .collect();
            (!nums.is_empty()).then(|| nums[0])
        }
        _ => None,
    }
}

/// The word `k` places after the number of mention `m`.
fn after<'a>(cx: &'a Ctx, m: &Mention, k: usize) -> &'a str {
    cx.word(m.end - 1 + k)
}

impl Roles {
    /// Mention `mi` is the number `x`: place it as a comparison, a count
    /// condition or a limit.
    pub(super) fn number(
        &mut self,
        cx: &Ctx,
        mi: usize,
        x: f64,
        choices: &mut Choices,
    ) -> Result<(), Reason> {
        let m = &cx.mentions[mi];
        let before = |k: usize| before(cx, m, k);
        let or_more = match (after(cx, m, 1), after(cx, m, 2)) {
            ("or", "more" | "greater" | "higher" | "above") => Some(Cmp::Ge),
            ("or", "less" | "fewer" | "lower" | "below") => Some(Cmp::Le),
            _ => None,
        };
        // A numeric column written just before the number ("above age 20",
        // "a greater weight than 10", "age 3").
        let prev_col = mi
            .checked_sub(1)
            .map(|p| &cx.mentions[p])
            .filter(|p| p.end == m.start || (p.end + 1 == m.start && before(1) == "than"))
            .and_then(|p| numeric_col(cx, &p.link).map(|tc| (p, tc)));
        let mut cmp = match (before(2), before(1)) {
            _ if or_more.is_some() => or_more,
            ("between", _) | (_, "between") => None,
            ("older", "than") | ("heavier", "than") => Some(Cmp::Gt),
            ("younger", "than") | ("lighter", "than") => Some(Cmp::Lt),
            (a, b) => word_cmp(a, b),
        };
        // "no less than 3000", "no more than 4000", "not higher than 4".
        if matches!(before(3), "no" | "not") && before(1) == "than" {
            cmp = match cmp {
                Some(Cmp::Gt) => Some(Cmp::Le),
                Some(Cmp::Lt) => Some(Cmp::Ge),
                c => c,
            };
        }
        let mut target = self.implied_column(cx, m);
        if let Some((p, tc)) = prev_col
            && target.is_none()
        {
            let w1 = p.start.checked_sub(1).map_or("", |k| cx.word(k));
            let w2 = p.start.checked_sub(2).map_or("", |k| cx.word(k));
            let c = if before(1) == "than" {
                word_cmp(w1, "than")
            } else {
                word_cmp(w2, w1).or(cmp)
            };
            if let Some(c) = c {
                cmp = Some(c);
                target = Some(tc);
            } else if cmp.is_none() && p.end == m.start {
                cmp = Some(Cmp::Eq);
                target = Some(tc);
            }
        }
        if self.between(cx, mi, x) {
            return Ok(());
        }
        // "8 cylinders", "3 years old".
        if cmp.is_none()
            && let Some(n) = cx.mentions.get(mi + 1)
            && n.start == m.end
            && let Some(tc) = numeric_col(cx, &n.link)
        {
            cmp = Some(Cmp::Eq);
            target = Some(tc);
            self.skip[mi + 1] = true;
        }
        if cmp.is_none() && after(cx, m, 1) == "years" && after(cx, m, 2) == "old" {
            target = self
                .tables
                .iter()
                .map(|x| x.table)
                .rev()
                .find_map(|t| age_column(cx, t));
            cmp = target.map(|_| Cmp::Eq);
        }
        if let (Some(c), Some(tc)) = (cmp, target) {
            self.consume(tc);
            self.plan.cmps.push(NumberComparison {
                col: tc,
                cmp: c,
                value: x,
            });
            return Ok(());
        }
        match cmp {
            Some(cmp) => self.unplaced_comparison(cx, mi, cmp, or_more.is_some(), x, choices),
            None => self.limit_or_reject(cx, mi, x),
        }
    }

    /// The column "older/younger than" and "heavier/lighter than" compare.
    fn implied_column(&self, cx: &Ctx, m: &Mention) -> Option<ColRef> {
        let (b2, b1) = (before(cx, m, 2), before(cx, m, 1));
        if matches!(b2, "older" | "younger") && b1 == "than" {
            self.tables
                .iter()
                .map(|x| x.table)
                .chain(self.plan.subject)
                .find_map(|t| age_column(cx, t))
        } else if matches!(b2, "heavier" | "lighter") && b1 == "than" {
            self.tables.iter().map(|x| x.table).find_map(|t| {
                cx.schema.tables[t]
                    .columns
                    .iter()
                    .position(|c| c.name.to_ascii_lowercase().contains("weight"))
                    .map(|c| (t, c))
            })
        } else {
            None
        }
    }

    /// "between 5000 and 10000": two comparisons on the numeric column
    /// named last (else the first table's default number). Reads the second
    /// number too; `false` when this is not such a range.
    fn between(&mut self, cx: &Ctx, mi: usize, x: f64) -> bool {
        let m = &cx.mentions[mi];
        let schema = cx.schema;
        if before(cx, m, 1) == "between"
            && after(cx, m, 1) == "and"
            && let Some(n) = cx.mentions.get(mi + 1)
            && n.start == m.end + 1
            && let Link::Number(y) = n.link
        {
            let tc = self
                .columns
                .iter()
                .rev()
                .map(|x| x.col)
                .find(|&(t, c)| is_numeric(&schema.tables[t].columns[c]))
                .or_else(|| {
                    self.tables
                        .first()
                        .and_then(|x| default_numeric(cx, x.table))
                });
            if let Some(tc) = tc {
                self.consume(tc);
                for (cmp, value) in [(Cmp::Ge, x), (Cmp::Le, y)] {
                    self.plan.cmps.push(NumberComparison {
                        col: tc,
                        cmp,
                        value,
                    });
                }
                self.skip[mi + 1] = true;
                return true;
            }
        }
        false
    }

    /// A comparison with no column beside it: a count of the table named
    /// next ("more than 10 orders"), the column named next, the numeric
    /// column named last, or the first table's default number.
    fn unplaced_comparison(
        &mut self,
        cx: &Ctx,
        mi: usize,
        cmp: Cmp,
        or_more: bool,
        x: f64,
        choices: &mut Choices,
    ) -> Result<(), Reason> {
        let m = &cx.mentions[mi];
        let schema = cx.schema;
        let gap = if or_more { 2 } else { 0 };
        let next = cx.mentions.get(mi + 1).filter(|n| n.start == m.end + gap);
        if let Some(Link::Table(t)) = next.map(|n| &n.link) {
            self.plan.having_count = Some(HavingCount {
                table: *t,
                cmp,
                value: x,
            });
            self.skip[mi + 1] = true;
        } else if let Some(Link::Column(cs)) = next.map(|n| &n.link) {
            let col = self.resolve_col(cs, choices);
            self.plan.cmps.push(NumberComparison { col, cmp, value: x });
            self.skip[mi + 1] = true;
        } else {
            let target = self
                .columns
                .iter()
                .rev()
                .map(|x| x.col)
                .find(|&(t, c)| is_numeric(&schema.tables[t].columns[c]));
            let col = match target {
                Some(tc) => {
                    self.consume(tc);
                    tc
                }
                None => {
                    let anchor = self.tables.first().map(|x| x.table).ok_or_else(|| {
                        format!(
                            "I did not understand what should be compared with {}.",
                            num(x)
                        )
                    })?;
                    default_numeric(cx, anchor).ok_or_else(|| {
                        format!(
                            "I did not understand which column of {} should be compared with {}.",
                            schema.tables[anchor].name,
                            num(x)
                        )
                    })?
                }
            };
            self.plan.cmps.push(NumberComparison { col, cmp, value: x });
        }
        Ok(())
    }

    /// A number with no comparison: the row limit after "top", "first"…,
    /// before a table or a superlative; otherwise not understood.
    fn limit_or_reject(&mut self, cx: &Ctx, mi: usize, x: f64) -> Result<(), Reason> {
        let m = &cx.mentions[mi];
        let limit_ctx = matches!(
            before(cx, m, 1),
            "top" | "first" | "last" | "bottom" | "latest" | "newest" | "oldest" | "earliest"
        ) || cx
            .mentions
            .get(mi + 1)
            .is_some_and(|n| n.start == m.end && matches!(n.link, Link::Table(_)))
            || cx
                .tokens
                .get(m.end)
                .is_some_and(|t| superlative(&t.lower).is_some());
        if limit_ctx && x >= 1.0 && x.fract() == 0.0 && self.limit.is_none() {
            self.limit = Some(x as u64);
            Ok(())
        } else {
            Err(format!(
                "I did not understand what the number {} refers to.",
                num(x)
            ))
        }
    }
}
