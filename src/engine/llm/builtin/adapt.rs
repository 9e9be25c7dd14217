//! Adapting a close trained example: same SQL skeleton, the question's own
//! values and columns swapped in.
//!
//! Reuse as is ([`super::BuiltinGenerator`]) needs a near-paraphrase. Many
//! questions are close to an example but not that close ("singers from
//! France" vs "French singers", or the same question about another country).
//! An example qualifies here only when every table, column and value the
//! question names is either already in the example's SQL or replaces, one for
//! one and of the same kind, a value or column the example's question named
//! and its SQL uses. Anything the example names that the question does not
//! must be replaced too, so "How many orders are there?" never takes the SQL
//! of "How many customers are there?", and "… in Germany" never answers with
//! "… in France"'s rows. Negations must agree, and so must the aggregate
//! words (count, average, total, maximum, minimum) and the words of the
//! query's form: "both" / "or", "each", "distinct", "in order of" (a
//! superlative's top row is not every row in order). Beyond its slots an
//! example must share the question's filters, grouping and comparisons
//! ([`guards`]); a key that only joins two tables answers no word of the
//! question.
//!
//! The caller decides how close is close enough ([`Adapted::similarity`]):
//! very close examples win over the shape builder, looser ones only stand in
//! when the shapes found no reading at all.

mod guards;

use std::collections::BTreeSet;

use crate::domain::SchemaInfo;
use crate::engine::llm::ContextItem;

use super::linking::{self, Link};
use super::sql_pieces::{Piece, idents, idents_outside_joins, pieces, slot_column, str_body};
use crate::text::{self, Token};

/// One adapted example.
#[derive(Debug, Clone, PartialEq)]
pub struct Adapted {
    pub sql: String,
    /// Content-word Jaccard similarity of the questions, values left out.
    pub similarity: f64,
    /// Retrieval score of the example.
    pub score: f32,
    /// The example's question (named in the answer's assumptions).
    pub question: String,
}

/// What a question names, from schema and value linking.
struct Facts {
    tables: Vec<usize>,
    /// Candidate `(table, column)` pairs per column mention.
    columns: Vec<Vec<(usize, usize)>>,
    values: Vec<Lit>,
    /// Content words outside value mentions (canonical, stemmed).
    words: BTreeSet<String>,
    /// Every word of the question, lower-cased as written.
    raw_words: Vec<String>,
    negated: bool,
    aggs: BTreeSet<&'static str>,
    /// Ranking directions asked for: `true` = largest first.
    directions: BTreeSet<bool>,
    /// Time grains and periods ("monthly", "last year"): they are no
    /// literal to swap, so an example answers only with the same ones.
    time: BTreeSet<String>,
    /// How the question combines, groups and ranks ([`Form`]).
    form: Form,
}

impl Facts {
    /// Tables the question names: by name, or by a column only that table
    /// has. A word fitting columns of several tables ("date") names none of
    /// them, so it never vouches for a table the example joins.
    fn named_tables(&self) -> BTreeSet<usize> {
        let of_column = self.columns.iter().filter_map(|c| {
            let t = c.first()?.0;
            c.iter().all(|&(o, _)| o == t).then_some(t)
        });
        self.tables.iter().copied().chain(of_column).collect()
    }
}

/// The words that decide a query's form rather than its slots: two
/// questions that differ in them ask for different SQL whatever they name.
#[derive(Debug, Clone, Copy, Default)]
struct Form {
    /// "both": rows meeting two conditions (`INTERSECT`).
    both: bool,
    /// "or" / "either" between two things, not "3 or more".
    either: bool,
    /// "each" / "per": one row per group.
    grouped: bool,
    /// "distinct" / "different" / "unique": distinct values.
    distinct: bool,
    /// "order" / "sorted" / "descending": every row in an order, not the
    /// top one of a superlative.
    ordered: bool,
}

impl Form {
    /// Forms that ask for different SQL: "both" against "or", one row per
    /// group against distinct values, every row in order against a
    /// superlative's top row. A word one question has and the other lacks is
    /// no conflict ("How many different …" and "How many …" are paraphrases).
    fn conflicts(&self, other: &Form) -> bool {
        let one_way = |a: &Form, b: &Form| {
            (a.both && b.either && !b.both)
                || (a.grouped && !a.distinct && b.distinct && !b.grouped)
        };
        one_way(self, other) || one_way(other, self) || self.ordered != other.ordered
    }
}

fn form(tokens: &[Token]) -> Form {
    let mut f = Form::default();
    for (i, t) in tokens.iter().enumerate().filter(|(_, t)| !t.quoted) {
        let next = tokens.get(i + 1).map_or("", |t| t.lower.as_str());
        match t.lower.as_str() {
            "both" => f.both = true,
            "either" => f.either = true,
            // "3 or more", "or later": a bound, not an alternative.
            "or" if direction(next).is_none()
                && !matches!(
                    next,
                    "more"
                        | "less"
                        | "fewer"
                        | "greater"
                        | "higher"
                        | "lower"
                        | "above"
                        | "below"
                        | "before"
                        | "after"
                        | "later"
                        | "earlier"
                        | "equal"
                ) =>
            {
                f.either = true
            }
            "each" | "per" => f.grouped = true,
            "distinct" | "different" | "unique" => f.distinct = true,
            "order" | "ordered" | "sort" | "sorted" | "descending" | "ascending" => {
                f.ordered = true
            }
            _ => {}
        }
    }
    f
}

/// A literal value of a question: the spellings it may take in SQL.
#[derive(Debug, Clone)]
struct Lit {
    spellings: Vec<String>,
    number: Option<f64>,
    /// A stored value of some column (not a bare capitalised or quoted word).
    stored: bool,
    /// Lower-case names of the columns a stored value was found in.
    columns: Vec<String>,
    /// For numbers: the comparison the words before it ask for; for other
    /// literals: the content word before it ("named", "episode").
    context: String,
}

impl Lit {
    /// Text to write into SQL in place of another literal.
    fn text(&self) -> String {
        match self.number {
            Some(x) => fmt_num(x),
            None => self.spellings[0].clone(),
        }
    }
}

fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

const NEGATIONS: &[&str] = &[
    "not",
    "no",
    "never",
    "without",
    "except",
    "neither",
    "nor",
    "none",
    "excluding",
    "nobody",
    "don't",
    "doesn't",
    "didn't",
    "haven't",
    "hasn't",
    "aren't",
    "isn't",
    "weren't",
    "wasn't",
];

fn direction(word: &str) -> Option<bool> {
    match word {
        "most" | "largest" | "greatest" | "highest" | "biggest" | "maximum" | "max" | "top"
        | "descending" | "desc" | "oldest" | "latest" | "newest" | "longest" | "best"
        | "heaviest" | "richest" => Some(true),
        "least" | "fewest" | "smallest" | "lowest" | "minimum" | "min" | "ascending" | "asc"
        | "youngest" | "earliest" | "shortest" | "worst" | "lightest" | "cheapest" => Some(false),
        _ => None,
    }
}

/// Aggregate intents: counting, averaging, summing. Maxima and minima are
/// left out: "maximum horsepower" and "most horsepower" are the same question.
fn aggs(tokens: &[Token]) -> BTreeSet<&'static str> {
    const SUPERLATIVE: &[&str] = &[
        "most", "fewest", "least", "largest", "greatest", "highest", "smallest", "lowest",
        "maximum", "minimum", "max", "min", "biggest",
    ];
    let word = |i: usize| tokens.get(i).map_or("", |t| t.lower.as_str());
    let mut out = BTreeSet::new();
    for (i, t) in tokens.iter().enumerate() {
        let prev = if i > 0 { word(i - 1) } else { "" };
        let a = match t.lower.as_str() {
            // "the most number of flights" ranks; it does not count.
            "many" | "number" | "count" if !SUPERLATIVE.contains(&prev) => "count",
            "avg" | "average" | "mean" => "avg",
            "total" if word(i + 1) == "number" => continue,
            "sum" | "total" => "total",
            _ => continue,
        };
        out.insert(a);
    }
    out
}

fn facts(question: &str, schema: &SchemaInfo) -> Facts {
    let tokens = text::question_tokens(question);
    let mentions = linking::link(&tokens, schema);
    let mut in_value = vec![false; tokens.len()];
    let mut f = Facts {
        tables: vec![],
        columns: vec![],
        values: vec![],
        words: BTreeSet::new(),
        raw_words: tokens.iter().map(|t| t.lower.clone()).collect(),
        negated: tokens.iter().any(|t| NEGATIONS.contains(&t.lower.as_str())),
        aggs: aggs(&tokens),
        form: form(&tokens),
        directions: tokens.iter().filter_map(|t| direction(&t.lower)).collect(),
        time: mentions
            .iter()
            .filter_map(|m| match &m.link {
                // A grain that groups ("monthly", "per year"), not the
                // unit of a number ("3 years old").
                Link::Bucket(b)
                    if super::time::Bucket::is_adjective(&tokens[m.start].lower)
                        || m.start.checked_sub(1).is_some_and(|p| {
                            matches!(
                                tokens[p].lower.as_str(),
                                "per" | "by" | "each" | "every" | "a" | "the"
                            )
                        }) =>
                {
                    Some(format!("{b:?}"))
                }
                Link::Period(p) => Some(format!("{p:?}")),
                _ => None,
            })
            .collect(),
    };
    for m in &mentions {
        let raw = || span_raw(&tokens[m.start..m.end]);
        let lit = match &m.link {
            Link::Table(t) => {
                f.tables.push(*t);
                None
            }
            Link::Column(c) => {
                f.columns.push(c.clone());
                None
            }
            Link::Value(v) => {
                let mut spellings: Vec<String> = Vec::new();
                for (_, _, s) in v {
                    if !spellings.contains(s) {
                        spellings.push(s.clone());
                    }
                }
                spellings.push(raw());
                Some(Lit {
                    spellings,
                    number: None,
                    stored: true,
                    columns: v
                        .iter()
                        .map(|&(t, c, _)| col_name(schema, (t, c)))
                        .collect(),
                    context: literal_context(&tokens, m.start),
                })
            }
            Link::Literal(s) => Some(Lit {
                spellings: vec![s.clone()],
                number: None,
                stored: false,
                columns: vec![],
                context: literal_context(&tokens, m.start),
            }),
            Link::Number(x) => Some(Lit {
                spellings: vec![fmt_num(*x)],
                number: Some(*x),
                stored: false,
                columns: vec![],
                context: comparison_context(&tokens, m.start, m.end),
            }),
            Link::Year(y) => Some(Lit {
                spellings: vec![y.to_string()],
                number: Some(f64::from(*y)),
                stored: false,
                columns: vec![],
                context: comparison_context(&tokens, m.start, m.end),
            }),
            Link::Revenue | Link::Bucket(_) | Link::Period(_) => None,
        };
        if let Some(l) = lit {
            for v in in_value.iter_mut().take(m.end).skip(m.start) {
                *v = true;
            }
            f.values.push(l);
        }
    }
    let kept: Vec<&str> = tokens
        .iter()
        .zip(&in_value)
        .filter(|(_, v)| !**v)
        .map(|(t, _)| t.raw.as_str())
        .collect();
    f.words = text::content_words(&kept.join(" "));
    f
}

/// The content word before a literal, stemmed.
fn literal_context(tokens: &[Token], start: usize) -> String {
    tokens[..start]
        .iter()
        .rev()
        .find(|t| !text::is_question_filler(&t.lower))
        .map(|t| t.stem.clone())
        .unwrap_or_default()
}

/// The comparison asked of a number: `>`, `>=`, `<`, `<=` or `=`.
fn comparison_context(tokens: &[Token], start: usize, end: usize) -> String {
    let w = |i: usize| tokens.get(i).map_or("", |t| t.lower.as_str());
    let before = |k: usize| if start >= k { w(start - k) } else { "" };
    let after = (w(end), w(end + 1));
    let gt = [
        "more",
        "greater",
        "higher",
        "larger",
        "bigger",
        "over",
        "above",
        "exceeding",
        "older",
        "after",
        "longer",
        "heavier",
        "later",
    ];
    let lt = [
        "less", "fewer", "lower", "smaller", "under", "below", "younger", "before", "shorter",
        "lighter", "earlier",
    ];
    let c = if matches!(
        after,
        ("or", "more")
            | ("or", "greater")
            | ("or", "higher")
            | ("or", "above")
            | ("or", "later")
            | ("or", "after")
    ) || (before(2) == "at" && before(1) == "least")
    {
        ">="
    } else if matches!(
        after,
        ("or", "less")
            | ("or", "fewer")
            | ("or", "lower")
            | ("or", "below")
            | ("or", "before")
            | ("or", "earlier")
    ) || (before(2) == "at" && before(1) == "most")
    {
        "<="
    } else if gt.contains(&before(1)) || gt.contains(&before(2)) {
        ">"
    } else if lt.contains(&before(1)) || lt.contains(&before(2)) {
        "<"
    } else {
        "="
    };
    c.to_string()
}

fn span_raw(tokens: &[Token]) -> String {
    tokens
        .iter()
        .map(|t| t.raw.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// SQL pieces (indices into `ps`) that spell `lit`.
fn lit_pieces(sql: &str, ps: &[Piece], lit: &Lit) -> Vec<usize> {
    ps.iter()
        .enumerate()
        .filter(|(_, p)| match (p, lit.number) {
            (Piece::Num { value, .. }, Some(x)) => (*value - x).abs() < 1e-9,
            // A stored value spelled like a number ("2014" in a text column).
            (Piece::Num { value, .. }, None) => lit
                .spellings
                .iter()
                .any(|s| s.parse::<f64>().is_ok_and(|x| (x - value).abs() < 1e-9)),
            (Piece::Str { start, end, .. }, _) => {
                let body = str_body(sql, *start, *end);
                lit.spellings.iter().any(|s| body.eq_ignore_ascii_case(s))
            }
            _ => false,
        })
        .map(|(i, _)| i)
        .collect()
}

/// Checks for a near-paraphrase (whose entities the caller compared): the
/// same negation, aggregates, ranking direction and numbers.
pub fn fits(question: &str, schema: &SchemaInfo, example: &str) -> bool {
    let q = facts(question, schema);
    let e = facts(example, schema);
    let numbers = |f: &Facts| -> BTreeSet<String> {
        f.values
            .iter()
            .filter_map(|l| l.number.map(fmt_num))
            .collect()
    };
    q.negated == e.negated
        && !q.form.conflicts(&e.form)
        && q.aggs == e.aggs
        && q.directions == e.directions
        && q.time == e.time
        && numbers(&q) == numbers(&e)
}

/// The best example adapted to `question`, if any qualifies.
pub fn adapt(
    question: &str,
    schema: &SchemaInfo,
    examples: &[ContextItem],
    failed: &BTreeSet<String>,
) -> Option<Adapted> {
    let q = facts(question, schema);
    let mut best: Option<Adapted> = None;
    for ex in examples {
        let Some(sql) = ex.sql.as_deref() else {
            continue;
        };
        if sql.trim().is_empty() {
            continue;
        }
        let e = facts(&ex.content, schema);
        let Ok(adapted) = adapt_one(&q, &e, sql, schema) else {
            continue;
        };
        if failed.contains(&super::normalise_sql(&adapted)) {
            continue;
        }
        let similarity = text::jaccard(&q.words, &e.words);
        let rank = |sim: f64, score: f32| sim + f64::from(score);
        let better = best
            .as_ref()
            .is_none_or(|b| rank(similarity, ex.score) > rank(b.similarity, b.score));
        if better {
            best = Some(Adapted {
                sql: adapted,
                similarity,
                score: ex.score,
                question: ex.content.clone(),
            });
        }
    }
    best
}

fn table_name(schema: &SchemaInfo, t: usize) -> String {
    schema.tables[t].name.to_lowercase()
}

fn col_name(schema: &SchemaInfo, (t, c): (usize, usize)) -> String {
    schema.tables[t].columns[c].name.to_lowercase()
}

/// `sql` rewritten for question `q` (the example's question is `e`), or
/// `None` when the example does not fit.
fn adapt_one(q: &Facts, e: &Facts, sql: &str, schema: &SchemaInfo) -> Result<String, &'static str> {
    if q.negated != e.negated {
        return Err("negation");
    }
    if q.aggs != e.aggs {
        return Err("aggs");
    }
    if q.form.conflicts(&e.form) {
        return Err("form");
    }
    // A ranking asked by one and not the other is another question.
    if q.directions != e.directions {
        return Err("direction");
    }
    if q.time != e.time {
        return Err("time");
    }
    let ps = pieces(sql);
    let ids = idents(sql, &ps);

    // Tables: every table the question names is in the SQL or named by the
    // example's question too.
    if q.tables
        .iter()
        .any(|&t| !ids.contains(&table_name(schema, t)) && !e.tables.contains(&t))
    {
        return Err("table");
    }
    guards::unnamed_literals(q, e, sql, &ps)?;
    guards::unnamed_key_tables(q, e, &ids, schema)?;
    guards::same_grouping(q, sql)?;
    guards::same_comparisons(q, sql, &ps)?;
    let mut replacements = column_swap(q, e, sql, &ps, &ids, schema)?;
    // The column swapped out and the one swapped in, if any.
    let swapped: Vec<String> = replacements
        .first()
        .map(|r| [sql[r.start..r.end].to_lowercase(), r.text.to_lowercase()])
        .into_iter()
        .flatten()
        .collect();
    every_slot_maps(q, e, &ids, &swapped, schema)?;
    replacements.extend(value_swaps(q, e, sql, &ps)?);
    replacements.sort_by_key(|r| std::cmp::Reverse(r.start));
    let mut out = sql.to_string();
    for Replacement { start, end, text } in replacements {
        out.replace_range(start..end, &text);
    }
    Ok(out)
}

/// Every slot of the example maps to the question: each table and column
/// its question names is named by the question too (or is the column
/// swapped out), counting only what its SQL uses. With the same negation,
/// aggregates and ranking direction (checked by the caller) the example then
/// means the question.
/// Otherwise it is only context: "customers per country" never answers "how
/// many customers", and "the conductors and their orchestras" never answers
/// "the conductor with the most orchestras".
fn every_slot_maps(
    q: &Facts,
    e: &Facts,
    ids: &BTreeSet<String>,
    swapped: &[String],
    schema: &SchemaInfo,
) -> Result<(), &'static str> {
    let q_cols: BTreeSet<String> = q
        .columns
        .iter()
        .flat_map(|c| c.iter().map(|&x| col_name(schema, x)))
        .collect();
    let q_tables = q.named_tables();
    // Slots are what the example's SQL uses of what its question names.
    let in_sql = |x: &(usize, usize)| ids.contains(&col_name(schema, *x));
    for ec in e.columns.iter().filter(|c| c.iter().any(in_sql)) {
        let named = ec.iter().any(|&x| {
            let n = col_name(schema, x);
            q_cols.contains(&n) || swapped.contains(&n)
        });
        if !named {
            return Err("example column unmatched");
        }
    }
    if e.tables
        .iter()
        .any(|t| ids.contains(&table_name(schema, *t)) && !q_tables.contains(t))
    {
        return Err("example table unmatched");
    }
    Ok(())
}

/// A byte range of the example's SQL and what replaces it.
struct Replacement {
    start: usize,
    end: usize,
    text: String,
}

/// The column replacement the question needs, if any.
fn column_swap(
    q: &Facts,
    e: &Facts,
    sql: &str,
    ps: &[Piece],
    ids: &BTreeSet<String>,
    schema: &SchemaInfo,
) -> Result<Vec<Replacement>, &'static str> {
    // Columns: the question's are in the SQL (or named by the example's
    // question too), or one swaps for one of the example's that the question
    // does not name.
    let in_sql =
        |cands: &[(usize, usize)]| cands.iter().any(|&c| ids.contains(&col_name(schema, c)));
    // A question's column is in the SQL only where the SQL uses it, not
    // where it merely joins on it.
    let used = idents_outside_joins(sql, ps);
    let used_in_sql =
        |cands: &[(usize, usize)]| cands.iter().any(|&c| used.contains(&col_name(schema, c)));
    let in_e = |cands: &[(usize, usize)]| {
        e.columns
            .iter()
            .any(|ec| ec.iter().any(|x| cands.contains(x)))
    };
    let q_missing: Vec<&Vec<(usize, usize)>> = q
        .columns
        .iter()
        .filter(|c| !used_in_sql(c) && !in_e(c))
        .collect();
    let mut replacements: Vec<Replacement> = Vec::new();
    if !q_missing.is_empty() {
        let [qc] = q_missing.as_slice() else {
            return Err("columns missing >1");
        };
        let q_names: BTreeSet<String> = q
            .columns
            .iter()
            .flat_map(|c| c.iter().map(|&x| col_name(schema, x)))
            .collect();
        // The example's column mentions present in SQL that the question does not name.
        let e_only: Vec<&Vec<(usize, usize)>> = e
            .columns
            .iter()
            .filter(|c| in_sql(c) && !c.iter().any(|&x| q_names.contains(&col_name(schema, x))))
            .collect();
        let [ec] = e_only.as_slice() else {
            return Err("column swap source");
        };
        // Same table, so joins stay valid; and a column name no other table
        // has, so every place the SQL names it is that column.
        let owners = |name: &str| {
            schema
                .tables
                .iter()
                .filter(|t| t.columns.iter().any(|c| c.name.eq_ignore_ascii_case(name)))
                .count()
        };
        let (old, new) = ec
            .iter()
            .find_map(|&(et, ecol)| {
                let old = col_name(schema, (et, ecol));
                if !ids.contains(&old) || owners(&old) != 1 {
                    return None;
                }
                qc.iter()
                    .find(|&&(qt, _)| qt == et)
                    .map(|&x| (old.clone(), schema.tables[x.0].columns[x.1].name.clone()))
            })
            .ok_or("column swap table")?;
        if ids.contains(&new.to_lowercase()) {
            return Err("column swap dup");
        }
        for p in ps {
            if let Piece::Ident { start, end } = p
                && sql[*start..*end].eq_ignore_ascii_case(&old)
            {
                replacements.push(Replacement {
                    start: *start,
                    end: *end,
                    text: new.clone(),
                });
            }
        }
    }

    Ok(replacements)
}

/// The value replacements the question needs.
fn value_swaps(
    q: &Facts,
    e: &Facts,
    sql: &str,
    ps: &[Piece],
) -> Result<Vec<Replacement>, &'static str> {
    let mut replacements: Vec<Replacement> = Vec::new();
    // Values: each of the question's is in the SQL, or replaces one the
    // example's question named and the SQL uses, in order and of the same kind.
    let same_lit = |a: &Lit, b: &Lit| {
        a.number
            .zip(b.number)
            .is_some_and(|(x, y)| (x - y).abs() < 1e-9)
            || (a.number.is_none()
                && b.number.is_none()
                && a.spellings
                    .iter()
                    .any(|x| b.spellings.iter().any(|y| x.eq_ignore_ascii_case(y))))
    };
    let q_missing: Vec<&Lit> = q
        .values
        .iter()
        .filter(|l| lit_pieces(sql, ps, l).is_empty() && !e.values.iter().any(|el| same_lit(l, el)))
        .collect();
    let mut e_slots: Vec<(&Lit, Vec<usize>)> = Vec::new();
    for l in &e.values {
        let at = lit_pieces(sql, ps, l);
        if at.is_empty() {
            continue;
        }
        // Named by the question too: stays.
        let shared = q.values.iter().any(|ql| same_lit(ql, l));
        if !shared && !e_slots.iter().any(|(_, a)| *a == at) {
            e_slots.push((l, at));
        }
    }
    if q_missing.len() != e_slots.len() {
        return Err("value count");
    }
    for (ql, (el, at)) in q_missing.iter().zip(&e_slots) {
        // Same kind: a number for a number, a stored value for a stored
        // value ("French" is no stored country, so it never replaces 'France').
        if ql.number.is_some() != el.number.is_some() || ql.stored != el.stored {
            return Err("value kind");
        }
        // A number keeps its comparison ("more than 3" never becomes "at least 3");
        // a bare literal its cue word ("named X" for "named Y").
        if ql.context != el.context && !ql.stored {
            return Err("value context");
        }
        // A stored value goes only where its own column is compared.
        if ql.stored
            && !at
                .iter()
                .all(|&i| slot_column(sql, ps, i).is_some_and(|c| ql.columns.contains(&c)))
        {
            return Err("value column");
        }
        let new = ql.text();
        for &i in at {
            match &ps[i] {
                Piece::Str { start, end, quote } => {
                    let body = &sql[start + 1..end.saturating_sub(1).max(start + 1)];
                    let lead = if body.starts_with('%') { "%" } else { "" };
                    let trail = if body.len() > 1 && body.ends_with('%') {
                        "%"
                    } else {
                        ""
                    };
                    let q2 = format!("{quote}{quote}");
                    let escaped = new.replace(*quote, &q2);
                    replacements.push(Replacement {
                        start: *start,
                        end: *end,
                        text: format!("{quote}{lead}{escaped}{trail}{quote}"),
                    });
                }
                Piece::Num { start, end, .. } => replacements.push(Replacement {
                    start: *start,
                    end: *end,
                    text: new.clone(),
                }),
                Piece::Ident { .. } => {}
            }
        }
    }
    Ok(replacements)
}
