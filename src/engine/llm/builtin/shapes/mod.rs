//! Question shapes: turn linked mentions into one SQL query.
//!
//! Supported shapes (the strategy name is in brackets): counts and
//! `COUNT(DISTINCT …)` [`count`], counts per group or per shown row
//! [`group_count`], lists with filters [`list`], distinct values
//! [`distinct`], one or several aggregates [`aggregate`], aggregates per group
//! [`group_aggregate`], top-N, superlatives and columns ranked by row counts
//! [`top_n`]. Filters: stored values, literals bound to the column beside them,
//! numbers compared with a column (`>`, `BETWEEN`, "no more than", "or more"),
//! comparisons with the average (a subquery), `LIKE` for "contains", years,
//! `HAVING COUNT`, and negations as `<>` or `NOT IN (subquery)`. Tables are joined along foreign keys (shortest
//! path, up to three hops); when a join fans out from the base table, counts
//! become `COUNT(DISTINCT pk)` and lists `SELECT DISTINCT`, so rows are never
//! double-counted. Lists and top-N rows show the columns the question names
//! ("name and age of …"; a superlative's own columns only when named before
//! it), else every column. Ambiguous choices go through [`Choices`], so a
//! retry can take the next-best interpretation.
//!
//! The rooms, in reading order:
//!
//! | room | what it owns |
//! |------|--------------|
//! | [`intent`] | the question's own words: count, average comparison, aggregates, superlative, ordering |
//! | [`vocabulary`] | words that may be read past, and messages for questions we cannot place |
//! | [`negation`] | `<>` and `NOT IN` readings of "not", "without", "never" |
//! | [`roles`] | what each linked mention is for (table, column, group, ordering, filter) |
//! | [`numbers`] | numbers: comparisons, count conditions, limits |
//! | [`plan`] | the [`Plan`](plan::Plan) and its vocabulary (measures, aggregates, groups, filters) |
//! | [`columns`] | columns by role: age, price, date, default number, LIKE target, revenue |
//! | [`joins`] | the foreign-key graph and JOIN clauses |
//! | [`conditions`] | filters as WHERE clauses |
//! | [`dates`] | dates per dialect: grains as labels, periods as conditions |
//! | [`select`] | the SELECT statement and shared expressions |
//! | [`counting`], [`ranking`], [`aggregation`], [`listing`] | the shapes |
//! | [`references`] | rows with the names of the rows they reference (self-joins included) |
//! | [`context`] | the reading context and SQL quoting |

mod aggregation;
mod columns;
mod conditions;
mod context;
mod counting;
mod dates;
mod intent;
mod joins;
mod listing;
mod negation;
mod numbers;
mod plan;
mod ranking;
mod references;
mod roles;
mod select;
mod vocabulary;

use crate::domain::Dialect;
use crate::domain::SchemaInfo;
use crate::text::Token;

#[cfg(test)]
pub(super) use context::quote_ident;
pub(super) use context::quote_str;
pub(super) use joins::fans_out;

// The rooms reach the linker through this import (`super::linking`).
use super::linking::{self, Mention};
use context::Ctx;
use counting::group_table;
use intent::Intent;
use negation::{Neg, negation};
use roles::{Roles, TableMention};
use vocabulary::{no_table_reason, unknown_words};

/// Picks option 0 at every ambiguous point, except the `flip`-th one (1-based)
/// which takes option 1: variant 0 is the best reading, 1.. the next ones.
pub struct Choices {
    flip: usize,
    seen: usize,
}

impl Choices {
    pub fn new(flip: usize) -> Self {
        Self { flip, seen: 0 }
    }

    fn pick(&mut self, options: usize) -> usize {
        if options < 2 {
            return 0;
        }
        self.seen += 1;
        usize::from(self.seen == self.flip)
    }

    /// Ambiguous points met so far.
    pub fn seen(&self) -> usize {
        self.seen
    }
}

/// A query for the question, and the name of the shape that built it.
pub struct Built {
    pub sql: String,
    pub strategy: &'static str,
}

/// Unanswerable, with the reason shown to the user.
pub type Reason = String;

/// Words that negate what follows them.
pub const NEGATIONS: &[&str] = &["not", "no", "never", "without", "none", "nobody"];

/// One SQL query for the question: read its intent and negation, give each
/// mention its role, choose the subject, then the first shape that fits —
/// count, ranking, aggregate, distinct values, else a list.
pub fn build(
    schema: &SchemaInfo,
    dialect: Dialect,
    tokens: &[Token],
    mentions: &[Mention],
    choices: &mut Choices,
) -> Result<Built, Reason> {
    let mentions = &vocabulary::adjective_values(schema, tokens, mentions);
    let cx = Ctx {
        schema,
        dialect,
        tokens,
        mentions,
    };
    let neg = negation(&cx);
    unknown_words(&cx, neg != Neg::None)?;
    let intent = Intent::read(&cx);
    let mut roles = Roles::read(&cx, &intent, neg, choices)?;
    let subject = choose_subject(&cx, &intent, &mut roles)?;
    if intent.count && intent.rank_pos.is_none() {
        return counting::count(&cx, &roles, subject, choices);
    }
    // "the age and hometown of every teacher": each row, not a group.
    if roles.group_by_each
        && let Some(plan::Group::Entity(t)) = roles.group
    {
        roles.group = None;
        if roles.tables.is_empty() {
            roles.tables.push(TableMention {
                mention: roles.each_mention.unwrap_or(0),
                table: t,
            });
        }
    }
    let subject = roles.tables.first().map(|x| x.table).unwrap_or(subject);
    // An aggregate compared per group needs the groups.
    if !roles.plan.having_aggs.is_empty() && roles.group.is_none() {
        return Err("I did not understand which groups to compare the aggregate of.".into());
    }
    if let Some(built) = references::with_references(&cx, &intent, &roles, subject) {
        return built;
    }
    if let Some(rp) = intent.rank_pos {
        return ranking::rank(&cx, &roles, subject, rp, choices);
    }
    if let Some(built) = aggregation::aggregate(&cx, &intent, &roles, subject, choices) {
        return built;
    }
    if let Some(built) = listing::distinct(&cx, &roles, choices) {
        return built;
    }
    listing::list(&cx, &roles, subject)
}

/// The subject: the first table named, else the table of the first column
/// or value (or of a counted group); else that of the measure, of a
/// comparison, of the group or of the revenue measure. Records it in the plan.
fn choose_subject(cx: &Ctx, intent: &Intent, roles: &mut Roles) -> Result<usize, Reason> {
    let group = roles.group;
    roles.plan.subject = roles.tables.first().map(|x| x.table).or_else(|| {
        roles
            .columns
            .first()
            .map(|x| x.col.0)
            .or_else(|| roles.plan.values.first().map(|v| v.col.0))
            .or(match group {
                Some(plan::Group::Col(t, _)) if intent.count => Some(t),
                _ => None,
            })
    });
    // Computed even when not needed: a revenue question over a schema with
    // no money column is refused either way.
    let fallback = match group.and_then(group_table) {
        Some(t) => Some(t),
        None if roles.revenue => {
            Some(columns::revenue_measure(cx, &[], &mut Choices::new(0))?.table())
        }
        None => None,
    };
    roles
        .plan
        .subject
        .or_else(|| roles.measure_col.map(|m| m.0))
        .or_else(|| roles.plan.cmps.first().map(|c| c.col.0))
        .or(fallback)
        .ok_or_else(|| no_table_reason(cx))
}
