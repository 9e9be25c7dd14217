//! Roles of the mentions: the linked mentions read left to right, each
//! given what it is for — the table asked about, a shown column, a group,
//! an ordering, the measure, a filter (value, literal, LIKE text, year), or
//! part of a negated clause. Numbers have their own room
//! ([`numbers`](super::numbers)). The result, [`Roles`], is what the shape
//! rooms build SQL from.

use super::columns::{bound_column, default_numeric, like_target};
use super::context::Ctx;
use super::intent::{Intent, like_context};
use super::linking::{Link, Mention, is_date, is_key, is_numeric};
use super::negation::{Neg, not_in_subquery, not_in_values, pre_negation_subject, values_asked};
use super::plan::{
    Agg, AvgComparison, Cmp, ColRef, ColumnText, Group, HavingAggregate, LiteralFilter,
    PeriodFilter, Plan, ValueFilter, YearFilter,
};
use super::{Choices, Reason};

/// A table named in the question, and the mention that names it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct TableMention {
    pub(super) mention: usize,
    pub(super) table: usize,
}

/// A column named in the question (to show or to compare), and its mention.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct ColumnMention {
    pub(super) mention: usize,
    pub(super) col: ColRef,
}

/// What each mention of the question is for.
pub(super) struct Roles {
    /// The filters, and later the subject.
    pub(super) plan: Plan,
    pub(super) group: Option<Group>,
    /// The group came from "each"/"every" (a list of each row unless counting).
    pub(super) group_by_each: bool,
    pub(super) each_mention: Option<usize>,
    pub(super) order_by: Option<ColRef>,
    /// The mention of `order_by` (`usize::MAX` when none).
    pub(super) order_mention: usize,
    pub(super) measure_col: Option<ColRef>,
    /// The question asks about revenue.
    pub(super) revenue: bool,
    /// Tables named, in order (not those named as groups).
    pub(super) tables: Vec<TableMention>,
    /// Columns named, in order (not groups, orderings or filters).
    pub(super) columns: Vec<ColumnMention>,
    /// A number that limits the rows ("top 5").
    pub(super) limit: Option<u64>,
    /// Token positions of mentions of a column called `total`.
    pub(super) total_cols: Vec<usize>,
    /// Token positions of aggregate words compared per group (`HAVING`),
    /// not shown as aggregates.
    pub(super) having_words: Vec<usize>,
    /// Mentions already read with the one before them.
    pub(super) skip: Vec<bool>,
    /// Tables of table and value mentions, in order: ambiguous columns and
    /// values prefer these.
    in_play: Vec<usize>,
}

/// Words before a one-word "number" column that make "number of" a column
/// name rather than the count word.
const NUMBER_COLUMN_WORDS: &[&str] = &[
    "phone",
    "telephone",
    "cell",
    "mobile",
    "fax",
    "serial",
    "version",
];

/// The word `k` places before mention `m` ("" before the question).
pub(super) fn before<'a>(cx: &'a Ctx, m: &Mention, k: usize) -> &'a str {
    if m.start >= k {
        cx.word(m.start - k)
    } else {
        ""
    }
}

impl Roles {
    /// Read every mention of the question, given its intent and negation.
    pub(super) fn read(
        cx: &Ctx,
        intent: &Intent,
        neg: Neg,
        choices: &mut Choices,
    ) -> Result<Self, Reason> {
        let mut roles = Roles::new(cx);
        // "stadiums that did not have a concert in 2014": the negated part
        // becomes a NOT IN subquery.
        let mut sub = Plan::default();
        for (mi, m) in cx.mentions.iter().enumerate() {
            if roles.skip[mi] {
                continue;
            }
            if let Neg::Exists { first, .. } = neg
                && mi >= first
            {
                negated_mention(cx, m, &mut sub);
                continue;
            }
            // The column named right before the negated value or literal.
            let named = mi
                .checked_sub(1)
                .and_then(|k| match &cx.mentions[k].link {
                    Link::Column(c) => c
                        .iter()
                        .find(|x| Some(x.0) == pre_negation_subject(cx))
                        .copied(),
                    _ => None,
                })
                .filter(|_| matches!(neg, Neg::Value(first) if first == mi));
            if let (Some(col), Link::Literal(text)) = (named, &m.link) {
                roles.plan.not_values.push(ColumnText {
                    col,
                    text: text.clone(),
                });
                continue;
            }
            if let Neg::Value(first) = neg
                && mi == first
                && let Link::Value(v) = &m.link
            {
                let pick = v
                    .iter()
                    .find(|x| named == Some((x.0, x.1)))
                    .or_else(|| v.iter().find(|x| Some(x.0) == pre_negation_subject(cx)))
                    .unwrap_or(&v[0]);
                roles.plan.not_values.push(ColumnText {
                    col: (pick.0, pick.1),
                    text: pick.2.clone(),
                });
                continue;
            }
            roles.mention(cx, intent, mi, choices)?;
        }
        roles.finish(cx, intent, neg, &sub)?;
        Ok(roles)
    }

    fn new(cx: &Ctx) -> Self {
        let mut in_play: Vec<usize> = cx
            .mentions
            .iter()
            .filter_map(|m| match &m.link {
                Link::Table(t) => Some(*t),
                Link::Value(v) => v.first().map(|x| x.0),
                _ => None,
            })
            .collect();
        // Then the tables of columns only one table has ("the total
        // population for each government form": the form's table).
        in_play.extend(cx.mentions.iter().filter_map(|m| match &m.link {
            Link::Column(c) if c.len() == 1 => Some(c[0].0),
            _ => None,
        }));
        Roles {
            plan: Plan::default(),
            group: None,
            group_by_each: false,
            each_mention: None,
            order_by: None,
            order_mention: usize::MAX,
            measure_col: None,
            revenue: false,
            tables: Vec::new(),
            columns: Vec::new(),
            limit: None,
            total_cols: Vec::new(),
            having_words: Vec::new(),
            skip: vec![false; cx.mentions.len()],
            in_play,
        }
    }

    /// Rank of a table for ambiguous choices: tables in play first.
    fn play_rank(&self, t: usize) -> usize {
        self.in_play
            .iter()
            .position(|x| *x == t)
            .unwrap_or(usize::MAX)
    }

    /// One of several candidate columns: those of tables in play first.
    pub(super) fn resolve_col(&self, cands: &[ColRef], choices: &mut Choices) -> ColRef {
        let mut sorted: Vec<ColRef> = cands.to_vec();
        sorted.sort_by_key(|(t, _)| self.play_rank(*t));
        sorted[choices.pick(sorted.len())]
    }

    /// A column compared with something is no longer shown nor the measure.
    pub(super) fn consume(&mut self, tc: ColRef) {
        self.columns.retain(|x| x.col != tc);
        if self.measure_col == Some(tc) {
            self.measure_col = None;
        }
    }

    fn mention(
        &mut self,
        cx: &Ctx,
        intent: &Intent,
        mi: usize,
        choices: &mut Choices,
    ) -> Result<(), Reason> {
        let m = &cx.mentions[mi];
        let before = |k: usize| before(cx, m, k);
        let groupish = matches!(before(1), "per" | "each" | "every" | "by" | "across")
            || (before(1) == "by" && before(2) == "grouped");
        // "sorted by (their) X", "in descending order of X".
        // "by (their) X", "by ascending X": the words between "by" and X.
        let filler = |w: &str| {
            matches!(
                w,
                "the"
                    | "their"
                    | "its"
                    | "his"
                    | "her"
                    | "ascending"
                    | "descending"
                    | "increasing"
                    | "decreasing"
            )
        };
        let skip_det = if filler(before(1)) {
            1 + usize::from(filler(before(2)))
        } else {
            0
        };
        let sortish = (before(1 + skip_det) == "by"
            && matches!(
                before(2 + skip_det),
                "sorted" | "ordered" | "order" | "sort" | "ranked" | "arranged"
            ))
            || (before(1 + skip_det) == "of" && before(2 + skip_det) == "order")
            || (before(1 + skip_det) == "by" && intent.sort_words);
        match &m.link {
            Link::Table(t) => {
                if groupish && !(before(1) == "by" && intent.rank_pos.is_some()) {
                    self.group = Some(Group::Entity(*t));
                    self.group_by_each = matches!(before(1), "each" | "every");
                    if self.group_by_each {
                        self.each_mention = Some(mi);
                    }
                } else {
                    self.tables.push(TableMention {
                        mention: mi,
                        table: *t,
                    });
                }
            }
            Link::Column(_)
                if m.end == m.start + 1
                    && cx.word(m.start) == "number"
                    && cx.word(m.end) == "of"
                    && !(m.start > 0 && NUMBER_COLUMN_WORDS.contains(&cx.word(m.start - 1))) =>
            {
                // "the number of …" is the count word, not a `*_number` column.
            }
            Link::Column(c) => {
                let col = self.resolve_col(c, choices);
                self.column(cx, intent, mi, col, groupish, sortish);
            }
            Link::Value(_) | Link::Literal(_)
                if like_context(cx, m.start)
                    && like_target(cx, mi, &self.columns, choices).is_some() =>
            {
                self.like(cx, mi, choices);
            }
            Link::Literal(s) if bound_column(cx, mi).is_some() => {
                // "Gelderland district", "the first name Timmothy".
                let bound = bound_column(cx, mi).expect("guarded");
                let tc = self.resolve_col(&bound.cols, choices);
                self.columns.retain(|x| x.col != tc);
                if bound.after {
                    self.skip[mi + 1] = true;
                }
                self.plan.values.push(ValueFilter {
                    col: tc,
                    values: vec![s.clone()],
                });
            }
            Link::Value(v) => self.value(v, choices),
            Link::Literal(s) => {
                let near = cx.mentions[..mi].iter().rev().find_map(|p| match p.link {
                    Link::Table(t) if p.end == m.start => Some(t),
                    _ => None,
                });
                self.plan.literals.push(LiteralFilter {
                    near,
                    text: s.clone(),
                });
            }
            Link::Year(y) => {
                let explicit = self.columns.iter().rev().find_map(|p| {
                    let (t, c) = p.col;
                    is_date(&cx.schema.tables[t].columns[c]).then_some((t, c))
                });
                self.plan.years.push(YearFilter {
                    cmp: year_cmp(before(1)),
                    year: *y,
                    column: explicit,
                });
            }
            Link::Number(x) => self.number(cx, mi, *x, choices)?,
            Link::Revenue => {
                if before(1) == "by" && intent.rank_pos.is_none() {
                    return Err("I can group by a column or a table, but not by revenue.".into());
                }
                self.revenue = true;
            }
            Link::Bucket(b) => {
                // "per month", "by quarter", "the year"; "monthly" anywhere.
                if groupish
                    || matches!(before(1), "a" | "the")
                    || super::super::time::Bucket::is_adjective(cx.word(m.start))
                {
                    self.group = Some(Group::Bucket(*b));
                }
            }
            Link::Period(p) => {
                let explicit = self.columns.iter().rev().find_map(|x| {
                    let (t, c) = x.col;
                    is_date(&cx.schema.tables[t].columns[c]).then_some((t, c))
                });
                self.plan.periods.push(PeriodFilter {
                    period: *p,
                    column: explicit,
                });
            }
        }
        Ok(())
    }

    /// A column mention: an ordering, a group, the measure or a shown column.
    fn column(
        &mut self,
        cx: &Ctx,
        intent: &Intent,
        mi: usize,
        (t, c): ColRef,
        groupish: bool,
        sortish: bool,
    ) {
        let m = &cx.mentions[mi];
        let schema = cx.schema;
        let col = &schema.tables[t].columns[c];
        let next_is_measure = cx.mentions.get(mi + 1).is_some_and(|n| {
            n.start == m.end
                && (matches!(n.link, Link::Revenue)
                    || matches!(&n.link, Link::Column(cs) if cs.iter().any(|&(a, b)| is_numeric(&schema.tables[a].columns[b]))))
        });
        if col.name.eq_ignore_ascii_case("total")
            && (next_is_measure || matches!(cx.word(m.end), "number" | "count"))
        {
            return; // "total revenue", "total number of": an aggregate word here
        }
        if col.name.eq_ignore_ascii_case("total") {
            self.total_cols.push(m.start);
        }
        let named = ColumnMention {
            mention: mi,
            col: (t, c),
        };
        // "the official language": a yes/no column (`IsOfficial`) named as
        // an adjective before another name is a filter on its yes value.
        let adjective = cx.mentions.get(mi + 1).is_some_and(|n| {
            n.start == m.end && matches!(n.link, Link::Column(_) | Link::Table(_))
        });
        if adjective
            && !sortish
            && !groupish
            && let Some(yes) = flag_yes(col)
        {
            self.plan.values.push(ValueFilter {
                col: (t, c),
                values: vec![yes],
            });
            return;
        }
        if sortish {
            self.order_by = Some((t, c));
            self.order_mention = mi;
        } else if groupish
            && !(before(cx, m, 1) == "by" && intent.rank_pos.is_some() && is_numeric(col))
        {
            self.group = Some(Group::Col(t, c));
        } else if is_numeric(col) && !is_key(schema, t, c) {
            if self.measure_col.is_none() {
                self.measure_col = Some((t, c));
            }
            self.columns.push(named);
        } else {
            self.columns.push(named);
        }
    }

    /// A value or literal matched inside a column ("containing 'West'").
    fn like(&mut self, cx: &Ctx, mi: usize, choices: &mut Choices) {
        let m = &cx.mentions[mi];
        let text = match &m.link {
            Link::Value(v) => v[0].2.clone(),
            Link::Literal(s) => s.clone(),
            _ => unreachable!("guarded"),
        };
        let tc = like_target(cx, mi, &self.columns, choices).expect("guarded");
        self.columns.retain(|x| x.col != tc);
        if let Some(n) = cx.mentions.get(mi + 1)
            && n.start <= m.end + 3
            && matches!(&n.link, Link::Column(cs) if cs.contains(&tc))
        {
            self.skip[mi + 1] = true;
        }
        self.plan.likes.push(ColumnText { col: tc, text });
    }

    /// A stored value: a filter on its column, merged with the column's
    /// other values (`IN`).
    fn value(&mut self, v: &[(usize, usize, String)], choices: &mut Choices) {
        let pick = {
            let mut sorted = v.to_vec();
            sorted.sort_by_key(|(t, _, _)| self.play_rank(*t));
            let i = choices.pick(sorted.len());
            sorted[i].clone()
        };
        let col = (pick.0, pick.1);
        if let Some(f) = self.plan.values.iter_mut().find(|f| f.col == col) {
            f.values.push(pick.2);
        } else {
            self.plan.values.push(ValueFilter {
                col,
                values: vec![pick.2],
            });
        }
    }

    /// After the last mention: the column compared with the average, the
    /// negated subquery, and columns that only order or compare.
    fn finish(&mut self, cx: &Ctx, intent: &Intent, neg: Neg, sub: &Plan) -> Result<(), Reason> {
        if let Some(avg) = intent.avg_cmp {
            let (t, c) = self.average_target(cx, avg.pos)?;
            if self.measure_col == Some((t, c)) {
                self.measure_col = None;
            }
            self.plan.avg_cmps.push(AvgComparison {
                col: (t, c),
                cmp: avg.cmp,
            });
        }
        if let Neg::Exists { table: negated, .. } = neg {
            let outer = self
                .tables
                .first()
                .map(|x| x.table)
                .or_else(|| self.columns.first().map(|x| x.col.0))
                .ok_or("I did not understand what should not have that.")?;
            let not_in = match values_asked(cx, &self.columns, outer) {
                Some(col) => not_in_values(cx, col, negated, sub)?,
                None => not_in_subquery(cx, outer, negated, sub)?,
            };
            self.plan.not_in.push(not_in);
        }
        // The ordering column is not shown unless named apart from the ordering.
        if let Some(ob) = self.order_by {
            let order_mention = self.order_mention;
            self.columns
                .retain(|x| x.col != ob || x.mention < order_mention);
        }
        if self.group.is_some() && !intent.count && intent.rank_pos.is_none() {
            self.having_aggregates(cx);
        }
        // A bare numeric column named only to be compared is no measure.
        if let Some(mc) = self.measure_col
            && self.plan.cmps.iter().any(|x| x.col == mc)
            && !self.columns.iter().any(|x| x.col == mc)
        {
            self.measure_col = None;
        }
        Ok(())
    }

    /// The column compared with the average at token `p`: the numeric
    /// column named right after it, else the one named before it, else the
    /// first table's default number.
    fn average_target(&mut self, cx: &Ctx, p: usize) -> Result<ColRef, Reason> {
        let schema = cx.schema;
        let mentions = cx.mentions;
        let numeric = |(t, c): ColRef| is_numeric(&schema.tables[t].columns[c]);
        let after = self
            .columns
            .iter()
            .find(|x| {
                let start = mentions[x.mention].start;
                start > p && start <= p + 4 && numeric(x.col)
            })
            .copied();
        let target = match after {
            Some(named) => {
                self.columns.retain(|x| x.mention != named.mention);
                // The same column named before the comparison is the compared one.
                if let Some(pos) = self
                    .columns
                    .iter()
                    .rposition(|x| x.col == named.col && mentions[x.mention].start < p)
                {
                    self.columns.remove(pos);
                }
                Some(named.col)
            }
            None => match self
                .columns
                .iter()
                .rposition(|x| mentions[x.mention].start < p && numeric(x.col))
            {
                Some(pos) => Some(self.columns.remove(pos).col),
                None => self
                    .tables
                    .first()
                    .and_then(|x| default_numeric(cx, x.table)),
            },
        };
        target.ok_or_else(|| "I did not understand which value to compare with the average.".into())
    }
}

impl Roles {
    /// Per group, a comparison whose column follows an aggregate word
    /// ("continents whose average life expectancy is below 72", "the total
    /// population … for each form with a total area over 3000") compares
    /// the group's aggregate: `HAVING AVG(col) < 72`, and the word is not
    /// an aggregate to show.
    fn having_aggregates(&mut self, cx: &Ctx) {
        let agg_at = |p: usize| match cx.word(p) {
            "average" | "avg" | "mean" => Some(Agg::Avg),
            "total" | "sum" => Some(Agg::Sum),
            "maximum" | "max" => Some(Agg::Max),
            "minimum" | "min" => Some(Agg::Min),
            _ => None,
        };
        let cmps = std::mem::take(&mut self.plan.cmps);
        for cmp in cmps {
            let found = cx.mentions.iter().find_map(|m| {
                let Link::Column(cands) = &m.link else {
                    return None;
                };
                let p = m.start.checked_sub(1)?;
                (cands.contains(&cmp.col) && !self.having_words.contains(&p))
                    .then(|| agg_at(p).map(|agg| (p, agg)))?
            });
            match found {
                Some((p, agg)) => {
                    self.having_words.push(p);
                    self.plan.having_aggs.push(HavingAggregate {
                        agg,
                        col: cmp.col,
                        cmp: cmp.cmp,
                        value: cmp.value,
                    });
                }
                None => self.plan.cmps.push(cmp),
            }
        }
    }
}

/// The stored "yes" of a yes/no column named `is…` (`IsOfficial` holding
/// "T" and "F"), `None` for any other column.
fn flag_yes(col: &crate::domain::ColumnInfo) -> Option<String> {
    let name = col.name.to_ascii_lowercase();
    if !name.starts_with("is") || col.sample_values.len() != 2 {
        return None;
    }
    let yes = |v: &str| matches!(v.to_ascii_lowercase().as_str(), "t" | "y" | "yes" | "true");
    let no = |v: &str| matches!(v.to_ascii_lowercase().as_str(), "f" | "n" | "no" | "false");
    let (a, b) = (&col.sample_values[0], &col.sample_values[1]);
    if yes(a) && no(b) {
        Some(a.clone())
    } else if yes(b) && no(a) {
        Some(b.clone())
    } else {
        None
    }
}

/// "since 2010", "after 2010", "before 2010", else the year itself.
fn year_cmp(before: &str) -> Cmp {
    match before {
        "since" => Cmp::Ge,
        "after" => Cmp::Gt,
        "before" => Cmp::Lt,
        _ => Cmp::Eq,
    }
}

/// A mention inside the negated clause: a filter of the subquery.
fn negated_mention(cx: &Ctx, m: &Mention, sub: &mut Plan) {
    match &m.link {
        Link::Value(v) => sub.values.push(ValueFilter {
            col: (v[0].0, v[0].1),
            values: vec![v[0].2.clone()],
        }),
        Link::Year(y) => sub.years.push(YearFilter {
            cmp: year_cmp(cx.word(m.start.saturating_sub(1))),
            year: *y,
            column: None,
        }),
        Link::Period(p) => sub.periods.push(PeriodFilter {
            period: *p,
            column: None,
        }),
        _ => {}
    }
}
