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

use std::collections::{BTreeSet, VecDeque};

use crate::connectors::SchemaInfo;
use crate::domain::Dialect;

use super::linking::{Bucket, Link, Mention, is_date, is_key, is_numeric};
use super::text::Token;

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

pub struct Built {
    pub sql: String,
    pub strategy: &'static str,
}

/// A measure: a column, or quantity × price on one table.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Measure {
    Col(usize, usize),
    Product(usize, usize, usize),
}

impl Measure {
    fn table(self) -> usize {
        match self {
            Measure::Col(t, _) | Measure::Product(t, _, _) => t,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Agg {
    Sum,
    Avg,
    Min,
    Max,
}

impl Agg {
    fn sql(self) -> &'static str {
        match self {
            Agg::Sum => "SUM",
            Agg::Avg => "AVG",
            Agg::Min => "MIN",
            Agg::Max => "MAX",
        }
    }
    fn alias(self) -> &'static str {
        match self {
            Agg::Sum => "total",
            Agg::Avg => "average",
            Agg::Min => "minimum",
            Agg::Max => "maximum",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Group {
    Col(usize, usize),
    Entity(usize),
    Bucket(Bucket),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Cmp {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Cmp {
    fn sql(self) -> &'static str {
        match self {
            Cmp::Eq => "=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
        }
    }
}

/// Unanswerable, with the reason shown to the user.
pub type Reason = String;

/// Words that negate what follows them.
pub const NEGATIONS: &[&str] = &["not", "no", "never", "without", "none", "nobody"];

struct Ctx<'a> {
    schema: &'a SchemaInfo,
    dialect: Dialect,
    tokens: &'a [Token],
    mentions: &'a [Mention],
}

impl Ctx<'_> {
    fn word(&self, i: usize) -> &str {
        self.tokens.get(i).map_or("", |t| t.lower.as_str())
    }
    fn has(&self, w: &str) -> bool {
        self.tokens.iter().any(|t| !t.quoted && t.lower == w)
    }
    fn has_seq(&self, a: &str, b: &str) -> bool {
        (0..self.tokens.len().saturating_sub(1)).any(|i| self.word(i) == a && self.word(i + 1) == b)
    }
    fn ident(&self, name: &str) -> String {
        quote_ident(self.dialect, name)
    }
    fn tname(&self, t: usize) -> String {
        self.ident(&self.schema.tables[t].name)
    }
    fn col(&self, q: bool, t: usize, c: usize) -> String {
        let c = self.ident(&self.schema.tables[t].columns[c].name);
        if q {
            format!("{}.{c}", self.tname(t))
        } else {
            c
        }
    }
    fn pk(&self, t: usize) -> Option<usize> {
        let table = &self.schema.tables[t];
        let name = table.primary_key.first()?;
        table.columns.iter().position(|c| &c.name == name)
    }
    fn table_names(&self) -> String {
        self.schema
            .tables
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
    /// Columns that name a row: `name`, else `*name` columns, else `title`, else the first text column.
    fn labels(&self, t: usize) -> Vec<usize> {
        let cols = &self.schema.tables[t].columns;
        let find = |f: &dyn Fn(&str) -> bool| -> Vec<usize> {
            cols.iter()
                .enumerate()
                .filter(|(_, c)| f(&c.name.to_ascii_lowercase()))
                .map(|(i, _)| i)
                .collect()
        };
        for v in [
            find(&|n| n == "name"),
            find(&|n| n.ends_with("name")),
            find(&|n| n == "title"),
        ] {
            if !v.is_empty() {
                return v;
            }
        }
        let text = cols
            .iter()
            .position(|c| !is_numeric(c) && !is_date(c) && !c.name.eq_ignore_ascii_case("id"));
        text.or_else(|| self.pk(t)).into_iter().collect()
    }
}

/// Dialect-aware identifier quoting: plain lower-case names stay bare.
pub fn quote_ident(dialect: Dialect, name: &str) -> String {
    const RESERVED: &[&str] = &[
        "order", "group", "user", "select", "from", "where", "table", "by", "limit", "key", "desc",
        "asc", "index", "values", "check", "default", "column", "to", "in", "is", "as", "on",
    ];
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !RESERVED.contains(&name);
    if plain {
        name.to_string()
    } else if dialect == Dialect::Mysql {
        format!("`{}`", name.replace('`', "``"))
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// A string literal with quotes doubled (and backslashes for MySQL).
pub fn quote_str(dialect: Dialect, s: &str) -> String {
    let mut v = s.replace('\'', "''");
    if dialect == Dialect::Mysql {
        v = v.replace('\\', "\\\\");
    }
    format!("'{v}'")
}

fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

/// Joins from a base table to other tables along foreign keys.
struct Joins {
    clauses: Vec<String>,
    tables: Vec<usize>,
    /// Some join goes from a parent to its children (one-to-many).
    fans_out: bool,
}

fn plan_joins(cx: &Ctx, base: usize, needed: &BTreeSet<usize>) -> Result<Joins, Reason> {
    let mut joins = Joins {
        clauses: vec![],
        tables: vec![base],
        fans_out: false,
    };
    for &target in needed {
        if joins.tables.contains(&target) {
            continue;
        }
        let path = fk_path(cx.schema, &joins.tables, target).ok_or_else(|| {
            format!(
                "I could not find a foreign-key path between {} and {}.",
                cx.schema.tables[base].name, cx.schema.tables[target].name
            )
        })?;
        for (from, to, child, ccol, pcol) in path {
            if joins.tables.contains(&to) {
                continue;
            }
            if from != child {
                joins.fans_out = true;
            }
            let parent = if child == from { to } else { from };
            joins.clauses.push(format!(
                "JOIN {} ON {} = {}",
                cx.tname(to),
                cx.col(true, child, ccol),
                cx.col(true, parent, pcol)
            ));
            joins.tables.push(to);
        }
    }
    Ok(joins)
}

/// Edges `(from, to, child_table, child_col, parent_col)`.
type Edge = (usize, usize, usize, usize, usize);

fn edges(schema: &SchemaInfo) -> Vec<Edge> {
    let mut out = Vec::new();
    for (ti, t) in schema.tables.iter().enumerate() {
        for fk in &t.foreign_keys {
            let (Some(pi), [c], [p]) = (
                schema
                    .tables
                    .iter()
                    .position(|x| x.name.eq_ignore_ascii_case(&fk.ref_table)),
                fk.columns.as_slice(),
                fk.ref_columns.as_slice(),
            ) else {
                continue;
            };
            if pi == ti {
                continue;
            }
            let (Some(ci), Some(pc)) = (
                t.columns.iter().position(|x| &x.name == c),
                schema.tables[pi].columns.iter().position(|x| &x.name == p),
            ) else {
                continue;
            };
            out.push((ti, pi, ti, ci, pc));
            out.push((pi, ti, ti, ci, pc));
        }
    }
    // Undeclared keys: a column named after another table ("flights.Airline"
    // → airlines' one-column primary key), when the schema declares none.
    let stem_name = |n: &str| {
        super::text::identifier_words(n)
            .iter()
            .map(|w| super::text::stem(w))
            .collect::<Vec<_>>()
            .join(" ")
    };
    for (ti, t) in schema.tables.iter().enumerate() {
        for (ci, c) in t.columns.iter().enumerate() {
            let declared = t.foreign_keys.iter().any(|f| f.columns.contains(&c.name));
            if declared || t.primary_key == [c.name.clone()] {
                continue;
            }
            let cn = stem_name(&c.name);
            for (pi, u) in schema.tables.iter().enumerate() {
                if pi == ti || u.primary_key.len() != 1 || stem_name(&u.name) != cn {
                    continue;
                }
                let Some(pc) = u.columns.iter().position(|x| x.name == u.primary_key[0]) else {
                    continue;
                };
                if is_numeric(c) != is_numeric(&u.columns[pc]) {
                    continue;
                }
                out.push((ti, pi, ti, ci, pc));
                out.push((pi, ti, ti, ci, pc));
            }
        }
    }
    out
}

fn fk_path(schema: &SchemaInfo, from: &[usize], target: usize) -> Option<Vec<Edge>> {
    let es = edges(schema);
    let mut prev: Vec<Option<Edge>> = vec![None; schema.tables.len()];
    let mut seen: Vec<bool> = vec![false; schema.tables.len()];
    let mut depth = vec![0usize; schema.tables.len()];
    let mut q = VecDeque::new();
    for &f in from {
        seen[f] = true;
        q.push_back(f);
    }
    while let Some(n) = q.pop_front() {
        if n == target {
            let mut path = Vec::new();
            let mut cur = n;
            while let Some(e) = prev[cur] {
                path.push(e);
                cur = e.0;
            }
            path.reverse();
            return Some(path);
        }
        if depth[n] >= 3 {
            continue;
        }
        for e in es.iter().filter(|e| e.0 == n) {
            if !seen[e.1] {
                seen[e.1] = true;
                prev[e.1] = Some(*e);
                depth[e.1] = depth[n] + 1;
                q.push_back(e.1);
            }
        }
    }
    None
}

fn distance(schema: &SchemaInfo, a: usize, b: usize) -> usize {
    fk_path(schema, &[a], b).map_or(99, |p| p.len())
}

/// `(table index, column index)` in the schema.
type ColRef = (usize, usize);

/// What the question asks, before SQL.
#[derive(Default)]
struct Plan {
    subject: Option<usize>,
    /// Value filters: (table, column, values).
    values: Vec<(usize, usize, Vec<String>)>,
    literals: Vec<(Option<usize>, String)>,
    /// `col <> value`.
    not_values: Vec<(usize, usize, String)>,
    /// `col NOT IN (subquery)`.
    not_in: Vec<(usize, usize, String)>,
    /// `col cmp (SELECT AVG(col) FROM table)`.
    avg_cmps: Vec<(usize, usize, Cmp)>,
    /// `col LIKE '%text%'`: (table, column, text).
    likes: Vec<(usize, usize, String)>,
    /// Year conditions, on an explicitly named date column if any.
    years: Vec<(Cmp, i32, Option<ColRef>)>,
    /// Column comparisons.
    cmps: Vec<(usize, usize, Cmp, f64)>,
    /// HAVING COUNT(table) cmp n.
    having_count: Option<(usize, Cmp, f64)>,
}

pub fn build(
    schema: &SchemaInfo,
    dialect: Dialect,
    tokens: &[Token],
    mentions: &[Mention],
    choices: &mut Choices,
) -> Result<Built, Reason> {
    let cx = Ctx {
        schema,
        dialect,
        tokens,
        mentions,
    };
    let neg = negation(&cx);
    unknown_words(&cx, neg != Neg::None)?;

    // Column mentions resolved against tables in play.
    let tables_in_play: Vec<usize> = mentions
        .iter()
        .filter_map(|m| match &m.link {
            Link::Table(t) => Some(*t),
            Link::Value(v) => v.first().map(|x| x.0),
            _ => None,
        })
        .collect();
    let resolve_col = |cands: &[(usize, usize)], choices: &mut Choices| -> (usize, usize) {
        let mut sorted: Vec<(usize, usize)> = cands.to_vec();
        sorted.sort_by_key(|(t, _)| {
            tables_in_play
                .iter()
                .position(|x| x == t)
                .unwrap_or(usize::MAX)
        });
        sorted[choices.pick(sorted.len())]
    };

    // "number of" counts, unless "number" belongs to a column ("phone number of").
    // Inside a multi-word mention ("phone number").
    let covered = |i: usize| {
        mentions
            .iter()
            .any(|m| m.start <= i && i < m.end && m.end - m.start > 1)
    };
    let number_of = (1..tokens.len()).any(|i| {
        cx.word(i) == "number"
            && cx.word(i + 1) == "of"
            && !covered(i)
            && !matches!(
                cx.word(i - 1),
                "phone" | "telephone" | "cell" | "mobile" | "fax" | "serial" | "version" | "flight"
            )
    }) || (cx.word(0) == "number" && cx.word(1) == "of");
    // "more than the average age": a comparison with a subquery, not an aggregate.
    let avg_cmp: Option<(usize, Cmp)> = (0..tokens.len()).find_map(|i| {
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
        Some((i, cmp))
    });
    // "the average number of …" is an aggregate of a column, not a count.
    let number_of = number_of
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
        });
    let count_intent = cx.has_seq("how", "many") || number_of || cx.has("count");
    let agg_words = |total_cols: &[usize]| -> Vec<(usize, Agg)> {
        tokens
            .iter()
            .enumerate()
            .filter(|(i, _)| avg_cmp.is_none_or(|(p, _)| p != *i))
            .filter_map(|(i, t)| {
                let a = match t.lower.as_str() {
                    "average" | "avg" | "mean" => Agg::Avg,
                    "sum" => Agg::Sum,
                    "minimum" | "min" => Agg::Min,
                    "maximum" | "max" => Agg::Max,
                    // "total" is the column `total` unless used as "total revenue".
                    "total" if !total_cols.contains(&i) => Agg::Sum,
                    _ => return None,
                };
                Some((i, a))
            })
            .collect()
    };
    let agg_word_at = |total_cols: &[usize]| agg_words(total_cols).first().copied();
    let superlative = |w: &str| -> Option<bool> {
        // Some(true) = descending.
        match w {
            "most" | "top" | "highest" | "largest" | "biggest" | "best" | "expensive"
            | "priciest" | "newest" | "latest" | "greatest" | "heaviest" | "longest"
            | "tallest" => Some(true),
            "least" | "fewest" | "lowest" | "smallest" | "bottom" | "worst" | "cheapest"
            | "oldest" | "earliest" | "lightest" | "shortest" => Some(false),
            "youngest" => Some(false),
            _ => None,
        }
    };
    // A superlative inside a multi-word column or table name ("best
    // finish") is part of that name, not a ranking.
    let in_name = |p: usize| {
        mentions.iter().any(|m| {
            m.start <= p
                && p < m.end
                && m.end - m.start > 1
                && matches!(m.link, Link::Column(_) | Link::Table(_))
        })
    };
    let rank_pos = tokens
        .iter()
        .enumerate()
        .position(|(i, t)| superlative(&t.lower).is_some() && !t.quoted && !in_name(i));
    // "at least" is a comparison, not a superlative.
    let rank_pos =
        rank_pos.filter(|&p| !(tokens[p].lower == "least" && p > 0 && cx.word(p - 1) == "at"));

    let sort_words = ["sort", "sorted", "order", "ordered", "arranged"]
        .iter()
        .any(|w| cx.has(w));
    // Literal text to match inside a column ("containing the substring 'West'").
    let like_ctx = |start: usize| {
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
    };
    let mut plan = Plan {
        subject: None,
        values: vec![],
        literals: vec![],
        likes: vec![],
        avg_cmps: vec![],
        not_values: vec![],
        not_in: vec![],
        years: vec![],
        cmps: vec![],
        having_count: None,
    };

    // Role of each mention.
    let mut group: Option<Group> = None;
    let mut order_mi = usize::MAX;
    // The group came from "each"/"every" (a list of each row unless counting).
    let mut group_by_each = false;
    let mut each_mention: Option<usize> = None;
    let mut order_by: Option<(usize, usize)> = None;
    let mut measure_col: Option<(usize, usize)> = None;
    let mut revenue = false;
    let mut tables: Vec<(usize, usize)> = Vec::new(); // (mention index, table)
    let mut plain_cols: Vec<(usize, (usize, usize))> = Vec::new();
    let mut number_for_limit: Option<u64> = None;
    let mut skip = vec![false; mentions.len()];
    let mut total_cols: Vec<usize> = Vec::new();

    // "stadiums that did not have a concert in 2014": the negated part
    // becomes a NOT IN subquery.
    let mut sub = Plan::default();
    for (mi, m) in mentions.iter().enumerate() {
        if skip[mi] {
            continue;
        }
        if let Neg::Exists(first, _) = neg
            && mi >= first
        {
            match &m.link {
                Link::Value(v) => sub.values.push((v[0].0, v[0].1, vec![v[0].2.clone()])),
                Link::Year(y) => {
                    let cmp = match cx.word(m.start.saturating_sub(1)) {
                        "since" => Cmp::Ge,
                        "after" => Cmp::Gt,
                        "before" => Cmp::Lt,
                        _ => Cmp::Eq,
                    };
                    sub.years.push((cmp, *y, None));
                }
                _ => {}
            }
            continue;
        }
        if let Neg::Value(first) = neg
            && mi == first
            && let Link::Value(v) = &m.link
        {
            let pick = v
                .iter()
                .find(|x| Some(x.0) == pre_negation_subject(&cx))
                .unwrap_or(&v[0]);
            plan.not_values.push((pick.0, pick.1, pick.2.clone()));
            continue;
        }
        let before = |k: usize| {
            if m.start >= k {
                cx.word(m.start - k)
            } else {
                ""
            }
        };
        let groupish = matches!(before(1), "per" | "each" | "every" | "by" | "across")
            || (before(1) == "by" && before(2) == "grouped");
        // "sorted by (their) X", "in descending order of X".
        let skip_det = usize::from(matches!(before(1), "the" | "their" | "its" | "his" | "her"));
        let sortish = (before(1 + skip_det) == "by"
            && matches!(
                before(2 + skip_det),
                "sorted" | "ordered" | "order" | "sort" | "ranked" | "arranged"
            ))
            || (before(1 + skip_det) == "of" && before(2 + skip_det) == "order")
            || (before(1 + skip_det) == "by" && sort_words);
        match &m.link {
            Link::Table(t) => {
                if groupish && !(before(1) == "by" && rank_pos.is_some()) {
                    group = Some(Group::Entity(*t));
                    group_by_each = matches!(before(1), "each" | "every");
                    if group_by_each {
                        each_mention = Some(mi);
                    }
                } else {
                    tables.push((mi, *t));
                }
            }
            Link::Column(_)
                if m.end == m.start + 1
                    && cx.word(m.start) == "number"
                    && cx.word(m.end) == "of"
                    && !(m.start > 0
                        && matches!(
                            cx.word(m.start - 1),
                            "phone"
                                | "telephone"
                                | "cell"
                                | "mobile"
                                | "fax"
                                | "serial"
                                | "version"
                        )) =>
            {
                // "the number of …" is the count word, not a `*_number` column.
            }
            Link::Column(c) => {
                let (t, c) = resolve_col(c, choices);
                let col = &schema.tables[t].columns[c];
                let next_is_measure = mentions.get(mi + 1).is_some_and(|n| {
                    n.start == m.end
                        && (matches!(n.link, Link::Revenue)
                            || matches!(&n.link, Link::Column(cs) if cs.iter().any(|&(a, b)| is_numeric(&schema.tables[a].columns[b]))))
                });
                if col.name.eq_ignore_ascii_case("total")
                    && (next_is_measure || matches!(cx.word(m.end), "number" | "count"))
                {
                    continue; // "total revenue", "total number of": an aggregate word here
                }
                if col.name.eq_ignore_ascii_case("total") {
                    total_cols.push(m.start);
                }
                if sortish {
                    order_by = Some((t, c));
                    order_mi = mi;
                } else if groupish && !(before(1) == "by" && rank_pos.is_some() && is_numeric(col))
                {
                    group = Some(Group::Col(t, c));
                } else if is_numeric(col) && !is_key(schema, t, c) {
                    if measure_col.is_none() {
                        measure_col = Some((t, c));
                    }
                    plain_cols.push((mi, (t, c)));
                } else {
                    plain_cols.push((mi, (t, c)));
                }
            }
            Link::Value(_) | Link::Literal(_)
                if like_ctx(m.start) && like_target(&cx, mi, &plain_cols, choices).is_some() =>
            {
                let text = match &m.link {
                    Link::Value(v) => v[0].2.clone(),
                    Link::Literal(s) => s.clone(),
                    _ => unreachable!("guarded"),
                };
                let tc = like_target(&cx, mi, &plain_cols, choices).expect("guarded");
                plain_cols.retain(|(_, x)| *x != tc);
                if let Some(n) = mentions.get(mi + 1)
                    && n.start <= m.end + 3
                    && matches!(&n.link, Link::Column(cs) if cs.contains(&tc))
                {
                    skip[mi + 1] = true;
                }
                plan.likes.push((tc.0, tc.1, text));
            }
            Link::Literal(s) if bound_column(&cx, mi).is_some() => {
                // "Gelderland district", "the first name Timmothy".
                let (tc, next) = bound_column(&cx, mi).expect("guarded");
                let tc = resolve_col(&tc, choices);
                plain_cols.retain(|(_, x)| *x != tc);
                if next {
                    skip[mi + 1] = true;
                }
                plan.values.push((tc.0, tc.1, vec![s.clone()]));
            }
            Link::Value(v) => {
                let pick = {
                    let mut sorted = v.clone();
                    sorted.sort_by_key(|(t, _, _)| {
                        tables_in_play
                            .iter()
                            .position(|x| x == t)
                            .unwrap_or(usize::MAX)
                    });
                    let i = choices.pick(sorted.len());
                    sorted[i].clone()
                };
                if let Some(f) = plan
                    .values
                    .iter_mut()
                    .find(|f| f.0 == pick.0 && f.1 == pick.1)
                {
                    f.2.push(pick.2);
                } else {
                    plan.values.push((pick.0, pick.1, vec![pick.2]));
                }
            }
            Link::Literal(s) => {
                let near = mentions[..mi].iter().rev().find_map(|p| match p.link {
                    Link::Table(t) if p.end == m.start => Some(t),
                    _ => None,
                });
                plan.literals.push((near, s.clone()));
            }
            Link::Year(y) => {
                let cmp = match before(1) {
                    "since" => Cmp::Ge,
                    "after" => Cmp::Gt,
                    "before" => Cmp::Lt,
                    _ => Cmp::Eq,
                };
                let explicit = plain_cols.iter().rev().find_map(|(_, (t, c))| {
                    is_date(&schema.tables[*t].columns[*c]).then_some((*t, *c))
                });
                plan.years.push((cmp, *y, explicit));
            }
            Link::Number(x) => {
                let after = |k: usize| cx.word(m.end - 1 + k);
                let or_more = match (after(1), after(2)) {
                    ("or", "more" | "greater" | "higher" | "above") => Some(Cmp::Ge),
                    ("or", "less" | "fewer" | "lower" | "below") => Some(Cmp::Le),
                    _ => None,
                };
                let word_cmp = |a: &str, b: &str| -> Option<Cmp> {
                    match (a, b) {
                        (
                            "more" | "greater" | "higher" | "larger" | "bigger" | "longer",
                            "than",
                        )
                        | (_, "over" | "above" | "exceeding" | "exceed" | "exceeds") => {
                            Some(Cmp::Gt)
                        }
                        ("less" | "fewer" | "lower" | "smaller" | "shorter", "than")
                        | (_, "under" | "below") => Some(Cmp::Lt),
                        ("cheaper", "than") => Some(Cmp::Lt),
                        ("expensive" | "pricier", "than") => Some(Cmp::Gt),
                        ("at", "least") | ("no", "less") => Some(Cmp::Ge),
                        ("at", "most") | ("no", "more") => Some(Cmp::Le),
                        _ => None,
                    }
                };
                let numeric_col = |l: &Link| -> Option<ColRef> {
                    match l {
                        Link::Column(cs) => {
                            let nums: Vec<ColRef> = cs
                                .iter()
                                .copied()
                                .filter(|&(t, c)| is_numeric(&schema.tables[t].columns[c]))
                                .collect();
                            (!nums.is_empty()).then(|| nums[0])
                        }
                        _ => None,
                    }
                };
                // A numeric column written just before the number ("above age 20",
                // "a greater weight than 10", "age 3").
                let prev_col = mi
                    .checked_sub(1)
                    .map(|p| &mentions[p])
                    .filter(|p| p.end == m.start || (p.end + 1 == m.start && before(1) == "than"))
                    .and_then(|p| numeric_col(&p.link).map(|tc| (p, tc)));
                let mut target: Option<ColRef> = None;
                let mut cmp = match (before(2), before(1)) {
                    _ if or_more.is_some() => or_more,
                    ("between", _) | (_, "between") => None,
                    ("older", "than") | ("heavier", "than") => Some(Cmp::Gt),
                    ("younger", "than") | ("lighter", "than") => Some(Cmp::Lt),
                    (a, b) => word_cmp(a, b),
                };
                // "no less than 3000", "no more than 4000".
                if before(3) == "no" && before(1) == "than" {
                    cmp = match cmp {
                        Some(Cmp::Gt) => Some(Cmp::Le),
                        Some(Cmp::Lt) => Some(Cmp::Ge),
                        c => c,
                    };
                }
                if matches!(before(2), "older" | "younger") && before(1) == "than" {
                    target = tables
                        .iter()
                        .map(|x| x.1)
                        .chain(plan.subject)
                        .find_map(|t| age_column(&cx, t));
                } else if matches!(before(2), "heavier" | "lighter") && before(1) == "than" {
                    target = tables.iter().map(|x| x.1).find_map(|t| {
                        schema.tables[t]
                            .columns
                            .iter()
                            .position(|c| c.name.to_ascii_lowercase().contains("weight"))
                            .map(|c| (t, c))
                    });
                }
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
                // "between 5000 and 10000".
                if before(1) == "between"
                    && after(1) == "and"
                    && let Some(n) = mentions.get(mi + 1)
                    && n.start == m.end + 1
                    && let Link::Number(y) = n.link
                {
                    let tc = plain_cols
                        .iter()
                        .rev()
                        .map(|(_, tc)| *tc)
                        .find(|&(t, c)| is_numeric(&schema.tables[t].columns[c]))
                        .or_else(|| tables.first().and_then(|x| default_numeric(&cx, x.1)));
                    if let Some((t, c)) = tc {
                        plain_cols.retain(|(_, x)| *x != (t, c));
                        if measure_col == Some((t, c)) {
                            measure_col = None;
                        }
                        plan.cmps.push((t, c, Cmp::Ge, *x));
                        plan.cmps.push((t, c, Cmp::Le, y));
                        skip[mi + 1] = true;
                        continue;
                    }
                }
                // "8 cylinders", "3 years old".
                if cmp.is_none()
                    && let Some(n) = mentions.get(mi + 1)
                    && n.start == m.end
                    && let Some(tc) = numeric_col(&n.link)
                {
                    cmp = Some(Cmp::Eq);
                    target = Some(tc);
                    skip[mi + 1] = true;
                }
                if cmp.is_none() && after(1) == "years" && after(2) == "old" {
                    target = tables
                        .iter()
                        .map(|x| x.1)
                        .rev()
                        .find_map(|t| age_column(&cx, t));
                    cmp = target.map(|_| Cmp::Eq);
                }
                if let (Some(c), Some((t, col))) = (cmp, target) {
                    plain_cols.retain(|(_, x)| *x != (t, col));
                    if measure_col == Some((t, col)) {
                        measure_col = None;
                    }
                    plan.cmps.push((t, col, c, *x));
                    continue;
                }
                match cmp {
                    Some(cmp) => {
                        let gap = if or_more.is_some() { 2 } else { 0 };
                        let next = mentions.get(mi + 1).filter(|n| n.start == m.end + gap);
                        if let Some(Link::Table(t)) = next.map(|n| &n.link) {
                            plan.having_count = Some((*t, cmp, *x));
                            skip[mi + 1] = true;
                        } else if let Some(Link::Column(cs)) = next.map(|n| &n.link) {
                            let (t, c) = resolve_col(cs, choices);
                            plan.cmps.push((t, c, cmp, *x));
                            skip[mi + 1] = true;
                        } else {
                            let target = plain_cols
                                .iter()
                                .rev()
                                .map(|(_, tc)| *tc)
                                .find(|&(t, c)| is_numeric(&schema.tables[t].columns[c]));
                            match target {
                                Some((t, c)) => {
                                    plain_cols.retain(|(_, tc)| *tc != (t, c));
                                    if measure_col == Some((t, c)) {
                                        measure_col = None;
                                    }
                                    plan.cmps.push((t, c, cmp, *x));
                                }
                                None => {
                                    let anchor = tables.first().map(|x| x.1).ok_or_else(|| {
                                        format!(
                                            "I did not understand what should be compared with {}.",
                                            num(*x)
                                        )
                                    })?;
                                    let (t, c) = default_numeric(&cx, anchor).ok_or_else(|| {
                                        format!(
                                            "I did not understand which column of {} should be compared with {}.",
                                            schema.tables[anchor].name,
                                            num(*x)
                                        )
                                    })?;
                                    plan.cmps.push((t, c, cmp, *x));
                                }
                            }
                        }
                    }
                    None => {
                        let limit_ctx = matches!(
                            before(1),
                            "top"
                                | "first"
                                | "last"
                                | "bottom"
                                | "latest"
                                | "newest"
                                | "oldest"
                                | "earliest"
                        ) || mentions
                            .get(mi + 1)
                            .is_some_and(|n| n.start == m.end && matches!(n.link, Link::Table(_)))
                            || tokens
                                .get(m.end)
                                .is_some_and(|t| superlative(&t.lower).is_some());
                        if limit_ctx && *x >= 1.0 && x.fract() == 0.0 && number_for_limit.is_none()
                        {
                            number_for_limit = Some(*x as u64);
                        } else {
                            return Err(format!(
                                "I did not understand what the number {} refers to.",
                                num(*x)
                            ));
                        }
                    }
                }
            }
            Link::Revenue => {
                if before(1) == "by" && rank_pos.is_none() {
                    return Err("I can group by a column or a table, but not by revenue.".into());
                }
                revenue = true;
            }
            Link::Bucket(b) => {
                if groupish || matches!(before(1), "a" | "the") {
                    group = Some(Group::Bucket(*b));
                }
            }
        }
    }
    if let Some((p, cmp)) = avg_cmp {
        let numeric = |(t, c): ColRef| is_numeric(&schema.tables[t].columns[c]);
        let after = plain_cols
            .iter()
            .find(|(mi, tc)| {
                mentions[*mi].start > p && mentions[*mi].start <= p + 4 && numeric(*tc)
            })
            .copied();
        let target = match after {
            Some((mi, tc)) => {
                plain_cols.retain(|x| x.0 != mi);
                // The same column named before the comparison is the compared one.
                if let Some(pos) = plain_cols
                    .iter()
                    .rposition(|(m2, x)| *x == tc && mentions[*m2].start < p)
                {
                    plain_cols.remove(pos);
                }
                Some(tc)
            }
            None => match plain_cols
                .iter()
                .rposition(|(mi, tc)| mentions[*mi].start < p && numeric(*tc))
            {
                Some(pos) => Some(plain_cols.remove(pos).1),
                None => tables.first().and_then(|x| default_numeric(&cx, x.1)),
            },
        };
        let (t, c) =
            target.ok_or("I did not understand which value to compare with the average.")?;
        if measure_col == Some((t, c)) {
            measure_col = None;
        }
        plan.avg_cmps.push((t, c, cmp));
    }
    if let Neg::Exists(_, negated) = neg {
        let outer = tables
            .first()
            .map(|x| x.1)
            .or_else(|| plain_cols.first().map(|x| x.1.0))
            .ok_or("I did not understand what should not have that.")?;
        let (key, inner) = not_in_subquery(&cx, outer, negated, &sub)?;
        plan.not_in.push((key.0, key.1, inner));
    }
    // The ordering column is not shown unless named apart from the ordering.
    if let Some(ob) = order_by {
        plain_cols.retain(|(mi, tc)| *tc != ob || *mi < order_mi);
    }
    // A bare numeric column named only to be compared is no measure.
    if let Some(mc) = measure_col
        && plan.cmps.iter().any(|(t, c, _, _)| (*t, *c) == mc)
        && !plain_cols.iter().any(|(_, tc)| *tc == mc)
    {
        measure_col = None;
    }

    let agg_word = agg_word_at(&total_cols);
    let all_aggs = agg_words(&total_cols);

    // Subject: first table named, else the table of the first column or value.
    plan.subject = tables.first().map(|x| x.1).or_else(|| {
        plain_cols
            .first()
            .map(|x| x.1.0)
            .or_else(|| plan.values.first().map(|v| v.0))
            .or(match group {
                Some(Group::Col(t, _)) if count_intent => Some(t),
                _ => None,
            })
    });
    let fallback = match group.and_then(group_table) {
        Some(t) => Some(t),
        None if revenue => Some(revenue_measure(&cx, &[], &mut Choices::new(0))?.table()),
        None => None,
    };
    let Some(subject) = plan
        .subject
        .or_else(|| measure_col.map(|m| m.0))
        .or_else(|| plan.cmps.first().map(|c| c.0))
        .or(fallback)
    else {
        return Err(no_table_reason(&cx));
    };

    // --- count ---------------------------------------------------------
    if count_intent && rank_pos.is_none() {
        let count_at = (0..tokens.len())
            .find(|&i| cx.word(i) == "number" && cx.word(i + 1) == "of")
            .or_else(|| {
                (1..tokens.len()).find(|&i| cx.word(i) == "many" && cx.word(i - 1) == "how")
            })
            .or_else(|| (0..tokens.len()).find(|&i| cx.word(i) == "count"));
        let right_after = |mi: usize| {
            count_at.is_some_and(|p| mentions[mi].start > p && mentions[mi].start <= p + 5)
        };
        let named = named_columns(schema, &plain_cols, usize::MAX, &plan);
        // "how many different countries": COUNT(DISTINCT country).
        let distinct_word = count_at.is_some_and(|p| {
            (p + 1..p + 4).any(|i| matches!(cx.word(i), "different" | "distinct" | "unique"))
        });
        if distinct_word
            && plan.having_count.is_none()
            && let Some(&(_, tc)) = plain_cols
                .iter()
                .find(|(mi, tc)| right_after(*mi) && named.contains(tc))
        {
            return count_distinct_shape(&cx, &plan, tc);
        }
        // "names of teachers and the number of courses", "each continent's
        // id, name and number of countries": a count per shown row.
        let counted_col = plain_cols
            .iter()
            .find(|(mi, _)| right_after(*mi))
            .filter(|(mi, _)| !tables.iter().any(|(ti, _)| ti < mi && right_after(*ti)));
        let counted = tables
            .iter()
            .find(|(mi, _)| right_after(*mi))
            .map(|x| x.1)
            .or(counted_col.map(|x| x.1.0));
        let shown: Vec<ColRef> = named
            .iter()
            .copied()
            .filter(|tc| counted_col.is_none_or(|x| x.1 != *tc))
            .filter(|tc| match group {
                Some(Group::Entity(g)) => tc.0 == g,
                Some(_) => false,
                None => true,
            })
            .filter(|tc| Some(tc.0) != counted || group.is_none())
            .collect();
        if plan.having_count.is_none()
            && !shown.is_empty()
            && matches!(group, None | Some(Group::Entity(_)))
        {
            let counted = counted.unwrap_or(subject);
            let shown_tables: BTreeSet<usize> = shown.iter().map(|x| x.0).collect();
            if !(shown_tables.len() == 1 && shown_tables.contains(&counted) && group.is_some()) {
                return count_per_shape(&cx, &plan, counted, &shown);
            }
        }
        let subject = match (group, counted) {
            (Some(Group::Entity(g)), Some(c)) if c != g => c,
            _ => subject,
        };
        return count_shape(&cx, &plan, subject, group, choices);
    }
    // "the age and hometown of every teacher": each row, not a group.
    if group_by_each && let Some(Group::Entity(t)) = group {
        group = None;
        if tables.is_empty() {
            tables.push((each_mention.unwrap_or(0), t));
        }
    }
    let subject = tables.first().map(|x| x.1).unwrap_or(subject);

    // --- top-N / superlatives -------------------------------------------
    if let Some(rp) = rank_pos {
        let desc = superlative(&tokens[rp].lower).unwrap_or(true);
        let entity = tables.first().map(|x| x.1).unwrap_or(subject);
        let entity_mention = tables.first().map(|x| x.0);
        let plural = entity_mention.is_some_and(|m| {
            let t = &tokens[mentions[m].end - 1];
            t.lower != t.stem && t.lower.ends_with('s')
        });
        let limit = number_for_limit.or(if plural { None } else { Some(1) });
        let word = tokens[rp].lower.as_str();
        // "name and age of the oldest singer": the columns named before the
        // superlative are what to show.
        let rank_mention = mentions
            .iter()
            .position(|m| m.start > rp)
            .unwrap_or(mentions.len());
        let rank_proj = named_columns(schema, &plain_cols, rank_mention, &plan);
        let date_word = matches!(word, "newest" | "latest" | "oldest" | "earliest")
            || (matches!(word, "most") && cx.word(rp + 1) == "recent");
        let price_word = matches!(word, "expensive" | "priciest" | "cheapest")
            || (matches!(word, "most" | "least")
                && matches!(cx.word(rp + 1), "expensive" | "pricey" | "costly"));
        let desc = if matches!(word, "most" | "least") && price_word {
            word == "most"
        } else {
            desc
        };
        // "youngest"/"oldest": by an age column when there is one.
        if matches!(word, "youngest" | "oldest")
            && let Some(age) = age_column(&cx, entity)
        {
            return own_column_rank(
                &cx,
                &plan,
                entity,
                age,
                word == "oldest",
                limit.or(Some(if plural { 10 } else { 1 })),
                &rank_proj,
                choices,
            );
        }
        let date_word = date_word || word == "youngest";
        let desc = if word == "youngest" { true } else { desc };
        if date_word || price_word {
            let col = if date_word {
                date_column(&cx, entity, &plain_cols)
            } else {
                price_column(&cx, entity)
            }
            .ok_or_else(|| {
                format!(
                    "I did not find a {} column in {}.",
                    if date_word { "date" } else { "price" },
                    schema.tables[entity].name
                )
            })?;
            return own_column_rank(
                &cx,
                &plan,
                entity,
                col,
                desc,
                limit.or(Some(if plural { 10 } else { 1 })),
                &rank_proj,
                choices,
            );
        }
        // "Which year has the most concerts?": a column ranked by how many rows it has.
        let col_before = plain_cols
            .iter()
            .find(|(mi, _)| mentions[*mi].end <= rp)
            .map(|x| x.1);
        let table_before = tables.iter().any(|(mi, _)| mentions[*mi].end <= rp);
        let counted_after = tables
            .iter()
            .find(|(mi, _)| mentions[*mi].start > rp)
            .map(|x| x.1);
        let numeric_after = plain_cols.iter().any(|(mi, (t, c))| {
            mentions[*mi].start > rp && is_numeric(&schema.tables[*t].columns[*c])
        });
        if matches!(word, "most" | "fewest" | "least")
            && !table_before
            && !numeric_after
            && !revenue
            && let Some(col) = col_before
        {
            let counted = counted_after.unwrap_or(col.0);
            return ranked_column_count(
                &cx,
                &plan,
                col,
                counted,
                desc,
                limit.or(Some(1)),
                asks_for_count(&cx),
            );
        }
        // Measure for the ranking.
        let other_table = tables.iter().map(|x| x.1).find(|t| *t != entity);
        // The number named right after the superlative is what ranks
        // ("the country with the lowest population").
        let measure_col = plain_cols
            .iter()
            .find(|(mi, (t, c))| {
                mentions[*mi].start > rp && is_numeric(&schema.tables[*t].columns[*c])
            })
            .map(|x| x.1)
            .or(measure_col);
        if let Some((t, c)) = measure_col {
            let single = t == entity
                || plan_joins(&cx, entity, &BTreeSet::from([t])).is_ok_and(|j| !j.fans_out);
            if single && group.is_none() {
                // "the singer who is worth the most": the measure right
                // before the superlative ranks; it is not asked for.
                let ranks_only = plain_cols.iter().any(|(mi, tc)| {
                    *tc == (t, c) && mentions[*mi].end <= rp && mentions[*mi].end + 2 >= rp
                });
                let shown: Vec<ColRef> = if ranks_only && rank_proj.len() > 1 {
                    rank_proj.iter().copied().filter(|x| *x != (t, c)).collect()
                } else {
                    rank_proj.clone()
                };
                return own_column_rank(
                    &cx,
                    &plan,
                    entity,
                    (t, c),
                    desc,
                    limit.or(Some(10)),
                    &shown,
                    choices,
                );
            }
            return ranked_group(
                &cx,
                &plan,
                entity,
                Some(Measure::Col(t, c)),
                Agg::Sum,
                desc,
                limit.or(Some(10)),
                choices,
            );
        }
        if revenue || other_table.is_none() {
            let m = revenue_measure(&cx, &[entity], choices)?;
            return ranked_group(
                &cx,
                &plan,
                entity,
                Some(m),
                Agg::Sum,
                desc,
                limit.or(Some(10)),
                choices,
            );
        }
        let counted = other_table.expect("checked");
        // "the id and name of the museum visited most": the named columns
        // of the ranked rows, when every one is theirs.
        let shown: Vec<ColRef> = if rank_proj.iter().all(|p| p.0 == entity) {
            rank_proj.clone()
        } else {
            Vec::new()
        };
        return ranked_group_count(
            &cx,
            &plan,
            entity,
            counted,
            desc,
            limit.or(Some(10)),
            &shown,
            asks_for_count(&cx),
        );
    }

    // --- aggregates ------------------------------------------------------
    // "the average, minimum and maximum age", "total population and maximum GNP".
    if all_aggs.len() >= 2 && group.is_none() {
        let numeric = |(t, c): ColRef| is_numeric(&schema.tables[t].columns[c]);
        let mut exprs: Vec<(Agg, ColRef)> = Vec::new();
        for (k, &(p, agg)) in all_aggs.iter().enumerate() {
            let col = plain_cols
                .iter()
                .find(|(mi, tc)| mentions[*mi].start > p && numeric(*tc))
                .map(|x| x.1);
            // Agg words listed together share the next column.
            let listed = all_aggs.get(k + 1).is_some_and(|&(q, _)| {
                (p + 1..q).all(|i| matches!(cx.word(i), "and" | "or" | "the"))
            });
            match col {
                Some(tc) => exprs.push((agg, tc)),
                None if listed => {}
                None => {
                    exprs.clear();
                    break;
                }
            }
        }
        if exprs.len() >= 2 {
            return multi_aggregate_shape(&cx, &plan, &exprs);
        }
    }
    let agg = agg_word.map(|x| x.1);
    if agg.is_some() || revenue || (group.is_some() && measure_col.is_some()) {
        let group_tables: Vec<usize> = match group {
            Some(Group::Col(t, _)) | Some(Group::Entity(t)) => vec![t],
            _ => vec![],
        };
        let measure = match measure_col {
            Some((t, c)) => Measure::Col(t, c),
            None if revenue || agg == Some(Agg::Sum) => {
                let mut near = group_tables;
                near.extend(plan.values.iter().map(|v| v.0));
                if near.is_empty() {
                    near.extend(tables.iter().map(|x| x.1));
                }
                revenue_measure(&cx, &near, choices)?
            }
            None => {
                // "average customers"? Use the subject's single obvious numeric column.
                let (t, c) = default_numeric(&cx, subject).ok_or_else(|| {
                    format!(
                        "I did not understand which number to aggregate in {}.",
                        schema.tables[subject].name
                    )
                })?;
                Measure::Col(t, c)
            }
        };
        let agg = agg.unwrap_or(Agg::Sum);
        return aggregate_shape(&cx, &plan, measure, agg, group, choices);
    }

    if let Some(g) = group {
        // "orders by status" without a count word: count per group.
        return count_shape(&cx, &plan, subject, Some(g), choices);
    }

    // --- distinct --------------------------------------------------------
    let first_is_col = mentions
        .iter()
        .position(|m| matches!(m.link, Link::Column(_) | Link::Table(_)));
    if let Some(fi) = first_is_col
        && let Some((_, (t, c))) = plain_cols.iter().find(|(mi, _)| *mi == fi)
    {
        let col = &schema.tables[*t].columns[*c];
        let tok = &tokens[mentions[fi].end - 1];
        let plural =
            tok.lower != tok.stem || cx.has("distinct") || cx.has("unique") || cx.has("different");
        let several = named_columns(schema, &plain_cols, usize::MAX, &plan).len() > 1;
        // "names of conductors with more than one orchestra" is a list of
        // rows with a count condition, not a set of values.
        if plural && !is_numeric(col) && !several && plan.having_count.is_none() {
            // "names of poker players": the named table keeps only its rows
            // (when a key path joins it), and so does the ordering's table.
            let mut with: Vec<usize> = order_by.map(|o| o.0).into_iter().collect();
            let end = mentions[fi].end;
            let of_it = |mi: usize| {
                let start = mentions[mi].start;
                start > end
                    && start <= end + 3
                    && (end..start).any(|i| matches!(cx.word(i), "of" | "for"))
            };
            if let Some(&(_, named)) = tables.iter().find(|(mi, _)| of_it(*mi))
                && named != *t
                && plan_joins(&cx, *t, &BTreeSet::from([named])).is_ok()
            {
                with.push(named);
            }
            return distinct_shape(&cx, &plan, (*t, *c), order_by, &with, choices);
        }
    }

    // --- list --------------------------------------------------------------
    // Named columns are the projection ("name and age of singers"), unless
    // they are the value filters' own columns.
    let proj = named_columns(schema, &plain_cols, usize::MAX, &plan);
    // "in alphabetical order": by the first column shown, else the row's label.
    let alphabetical = [
        "alphabetical",
        "alphabetically",
        "lexicographical",
        "lexicographically",
    ]
    .iter()
    .any(|w| cx.has(w));
    // "in descending order" with no column: by the first column shown.
    let direction_only = [
        "descending",
        "ascending",
        "decreasing",
        "increasing",
        "reversed",
        "reverse",
    ]
    .iter()
    .any(|w| cx.has(w));
    let order_by = match order_by {
        None if alphabetical || (direction_only && !proj.is_empty()) => proj
            .first()
            .copied()
            .or_else(|| cx.labels(subject).first().map(|&c| (subject, c))),
        o => o,
    };
    list_shape(&cx, &plan, subject, order_by, number_for_limit, &proj)
}

/// Columns named before mention position `before` (deduplicated, in order),
/// leaving out the columns the plan filters on.
fn named_columns(
    schema: &SchemaInfo,
    plain: &[(usize, ColRef)],
    before: usize,
    plan: &Plan,
) -> Vec<ColRef> {
    let name = |t: usize, c: usize| schema.tables[t].columns[c].name.as_str();
    let mut out: Vec<ColRef> = Vec::new();
    for &(mi, tc) in plain {
        let same_name = |t: usize, c: usize| {
            t == tc.0 && c == tc.1 || name(t, c).eq_ignore_ascii_case(name(tc.0, tc.1))
        };
        let filtered = plan.values.iter().any(|v| same_name(v.0, v.1))
            || plan.not_values.iter().any(|v| same_name(v.0, v.1))
            || plan.likes.iter().any(|v| (v.0, v.1) == tc)
            || plan.cmps.iter().any(|c| (c.0, c.1) == tc)
            || plan.years.iter().any(|y| y.2 == Some(tc));
        if mi < before && !filtered && !out.contains(&tc) {
            out.push(tc);
        }
    }
    out
}

fn no_table_reason(cx: &Ctx) -> Reason {
    let words: Vec<&str> = cx
        .tokens
        .iter()
        .filter(|t| {
            !super::text::is_stopword(&t.lower)
                && !super::linking::INTENT_WORDS.contains(&t.lower.as_str())
        })
        .map(|t| t.raw.as_str())
        .collect();
    if words.is_empty() {
        format!(
            "The question names no table or column I know. Known tables: {}.",
            cx.table_names()
        )
    } else {
        format!(
            "I could not match any table to '{}'. Known tables: {}.",
            words.join(" "),
            cx.table_names()
        )
    }
}

/// Words that are neither linked nor part of the question vocabulary.
/// Relationship verbs that foreign-key joins already express. Other unknown
/// words (adjectives such as "happy" or "loyal") would be filters we cannot
/// read, so they keep the question unanswerable.
fn looks_like_verb(w: &str) -> bool {
    const VERBS: &[&str] = &[
        "use",
        "uses",
        "speak",
        "speaks",
        "spoken",
        "teach",
        "teaches",
        "taught",
        "play",
        "plays",
        "own",
        "owns",
        "produce",
        "produces",
        "belong",
        "belongs",
        "offer",
        "offers",
        "contain",
        "contains",
        "go",
        "goes",
        "went",
        "gone",
        "live",
        "lives",
        "come",
        "comes",
        "came",
        "run",
        "runs",
        "ran",
        "win",
        "wins",
        "won",
        "serve",
        "serves",
        "attend",
        "attends",
        "visit",
        "visits",
        "hold",
        "holds",
        "held",
        "host",
        "hosts",
        "take",
        "takes",
        "took",
        "taken",
        "write",
        "writes",
        "wrote",
        "written",
        "direct",
        "directs",
        "create",
        "creates",
        "buy",
        "buys",
        "sell",
        "sells",
        "operate",
        "operates",
        "perform",
        "performs",
        "enroll",
        "enrolls",
        "register",
        "arrive",
        "arrives",
        "depart",
        "departs",
        "land",
        "lands",
        "leave",
        "leaves",
        "left",
        "do",
        "done",
        "get",
        "gets",
        "give",
        "gives",
        "given",
        "stand",
        "stands",
        "build",
        "built",
        "release",
        "releases",
        "happen",
        "occur",
        "correspond",
        "participate",
        "appear",
        "appears",
        "feature",
        "features",
        "stay",
        "stays",
        "study",
        "studies",
        "major",
        "treat",
        "treats",
        "receive",
        "receives",
        "lose",
        "lost",
        "weigh",
        "weighs",
        "cost",
        "costs",
        "earn",
        "earns",
        "pay",
        "paid",
        "star",
        "stars",
        "act",
        "acts",
        "sing",
        "sings",
        "sang",
        "sung",
        "fly",
        "flies",
        "flew",
        "flown",
        "have",
        "having",
        "among",
        "ever",
        "yet",
        "manage",
        "manages",
        "graduate",
        "graduates",
        "end",
        "ends",
        "up",
        "corresponds",
        "reverse",
        "also",
        "only",
        "all",
        "both",
        "through",
        "within",
        "via",
        "per",
        "times",
        "time",
    ];
    VERBS.contains(&w) || (w.len() >= 4 && (w.ends_with("ed") || w.ends_with("ing")))
}

/// A word inside a table or column name ("schooler" in `Highschooler`, "car"
/// in `cars_data`), a comparative or superlative, or a generic noun: the
/// linked names carry its meaning.
fn part_of_schema_name(schema: &SchemaInfo, w: &str) -> bool {
    const GENERIC: &[&str] = &[
        "information",
        "info",
        "details",
        "detail",
        "world",
        "number",
        "numbers",
        "people",
        "person",
        "persons",
        "members",
        "member",
        "pairs",
        "pair",
        "kind",
        "kinds",
        "type",
        "types",
        "category",
        "amount",
        "total",
        "everyone",
        "someone",
        "those",
        "ones",
        "together",
        "respective",
        "listed",
        "possible",
        "available",
        "around",
        "whole",
        "school",
        "schools",
        "date",
        "dates",
        "letter",
        "letters",
        "word",
        "words",
        "title",
        "titles",
        "origin",
    ];
    if GENERIC.contains(&w)
        || (w.len() > 5 && (w.ends_with("est") || w.ends_with("ier")))
        || matches!(
            w,
            "higher"
                | "lower"
                | "older"
                | "younger"
                | "longer"
                | "shorter"
                | "larger"
                | "smaller"
                | "bigger"
        )
    {
        return true;
    }
    let stem = super::text::stem(w);
    if stem.len() < 3 {
        return false;
    }
    let flat = |n: &str| n.to_ascii_lowercase().replace(['_', ' '], "");
    schema.tables.iter().any(|t| {
        flat(&t.name).contains(&stem) || t.columns.iter().any(|c| flat(&c.name).contains(&stem))
    })
}

/// How a negation in the question is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Neg {
    None,
    /// The mention at this index is a value the subject must not have (`<>`).
    Value(usize),
    /// From the mention at this index on, the question describes rows of the
    /// table that the subject must have none of (`NOT IN`).
    Exists(usize, usize),
}

fn negation_at(cx: &Ctx) -> Option<usize> {
    cx.tokens
        .iter()
        .position(|t| !t.quoted && NEGATIONS.contains(&t.lower.as_str()))
}

/// The table the question is about before its negation.
fn pre_negation_subject(cx: &Ctx) -> Option<usize> {
    let p = negation_at(cx)?;
    cx.mentions
        .iter()
        .filter(|m| m.end <= p)
        .find_map(|m| match &m.link {
            Link::Table(t) => Some(*t),
            _ => None,
        })
        .or_else(|| {
            cx.mentions
                .iter()
                .filter(|m| m.end <= p)
                .find_map(|m| match &m.link {
                    Link::Column(c) => c.first().map(|x| x.0),
                    _ => None,
                })
        })
}

fn negation(cx: &Ctx) -> Neg {
    let Some(p) = negation_at(cx) else {
        return Neg::None;
    };
    // "no less than", "no more than" are comparisons.
    if matches!(
        cx.word(p + 1),
        "less" | "more" | "fewer" | "greater" | "longer" | "later"
    ) {
        return Neg::None;
    }
    let Some(subject) = pre_negation_subject(cx) else {
        return Neg::None;
    };
    let Some(first) = cx.mentions.iter().position(|m| {
        m.start > p
            && m.start <= p + 6
            && matches!(m.link, Link::Table(_) | Link::Column(_) | Link::Value(_))
    }) else {
        return Neg::None;
    };
    match &cx.mentions[first].link {
        Link::Table(t) if *t != subject => Neg::Exists(first, *t),
        Link::Value(v) if v.iter().any(|x| x.0 == subject) => Neg::Value(first),
        Link::Value(v) => Neg::Exists(first, v[0].0),
        _ => Neg::None,
    }
}

/// `NOT IN` for "subjects without any `negated` row (matching `sub`)": the
/// subject's key and the subquery over the first table of the path.
fn not_in_subquery(
    cx: &Ctx,
    subject: usize,
    negated: usize,
    sub: &Plan,
) -> Result<(ColRef, String), Reason> {
    let path = fk_path(cx.schema, &[subject], negated)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            format!(
                "I could not find a foreign-key path between {} and {}.",
                cx.schema.tables[subject].name, cx.schema.tables[negated].name
            )
        })?;
    let (_, to, child, ccol, pcol) = path[0];
    let (key, inner_col) = if child == to {
        ((subject, pcol), ccol)
    } else {
        ((subject, ccol), pcol)
    };
    let (joins, conds) = from_where(cx, sub, to, &[negated])?;
    let q = !joins.clauses.is_empty();
    let mut s = select(cx, to, &joins, &conds);
    s.cols = vec![cx.col(q, to, inner_col)];
    Ok((key, s.sql()))
}

fn unknown_words(cx: &Ctx, negation_read: bool) -> Result<(), Reason> {
    let mut covered = vec![false; cx.tokens.len()];
    for m in cx.mentions {
        for c in covered.iter_mut().take(m.end).skip(m.start) {
            *c = true;
        }
    }
    let unknown: Vec<&str> = cx
        .tokens
        .iter()
        .enumerate()
        .filter(|(i, t)| {
            let comparison = matches!(t.lower.as_str(), "no" | "not")
                && matches!(cx.word(i + 1), "less" | "more" | "fewer" | "greater");
            !covered[*i]
                && !comparison
                && !super::text::is_stopword(&t.lower)
                && !super::linking::INTENT_WORDS.contains(&t.lower.as_str())
        })
        .map(|(_, t)| t.raw.as_str())
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let linked = cx
        .mentions
        .iter()
        .any(|m| matches!(m.link, Link::Table(_) | Link::Column(_) | Link::Value(_)));
    if !linked {
        return Err(no_table_reason(cx));
    }
    // Lower-case words that link to nothing are mostly relationship verbs
    // ("produced", "enrolled", "spoken") that the foreign-key joins already
    // express: read the question without them (the answer says which words
    // were not used). Negations and set words change the meaning, and a
    // capitalised word is a literal we could not place: those still stop it.
    let ignorable = |w: &&str| {
        let l = w.to_lowercase();
        if !(looks_like_verb(&l) || part_of_schema_name(cx.schema, &l) || negation_read) {
            return false;
        }
        (negation_read || !NEGATIONS.contains(&l.as_str()))
            && !matches!(l.as_str(), "both" | "either" | "except")
            && (l != "but" || negation_read)
            && !w.chars().next().is_some_and(char::is_uppercase)
    };
    if unknown.iter().all(ignorable) {
        return Ok(());
    }
    Err(format!(
        "I did not understand '{}' (it matches no table, column or stored value). Known tables: {}.",
        unknown.join("', '"),
        cx.table_names()
    ))
}

fn default_numeric(cx: &Ctx, t: usize) -> Option<(usize, usize)> {
    let cols = &cx.schema.tables[t].columns;
    let nums: Vec<usize> = (0..cols.len())
        .filter(|&c| is_numeric(&cols[c]) && !is_key(cx.schema, t, c))
        .collect();
    if nums.len() == 1 {
        return Some((t, nums[0]));
    }
    let money = ["price", "total", "amount", "revenue"];
    money
        .iter()
        .find_map(|m| nums.iter().find(|&&c| cols[c].name.eq_ignore_ascii_case(m)))
        .map(|&c| (t, c))
}

/// The column a LIKE text is matched in: the text column named just before
/// it ("a city containing …"), else just after ("'Hey' in its title").
fn like_target(
    cx: &Ctx,
    mi: usize,
    plain: &[(usize, ColRef)],
    choices: &mut Choices,
) -> Option<ColRef> {
    let text = |&(t, c): &ColRef| !is_numeric(&cx.schema.tables[t].columns[c]);
    let start = cx.mentions[mi].start;
    if let Some(&(_, tc)) = plain
        .iter()
        .rev()
        .find(|(pm, tc)| cx.mentions[*pm].end + 5 >= start && text(tc))
    {
        return Some(tc);
    }
    let next = cx.mentions.get(mi + 1)?;
    if next.start > cx.mentions[mi].end + 3 {
        return None;
    }
    match &next.link {
        Link::Column(cs) => {
            let texts: Vec<ColRef> = cs.iter().copied().filter(text).collect();
            (!texts.is_empty()).then(|| texts[choices.pick(texts.len()).min(texts.len() - 1)])
        }
        _ => None,
    }
}

/// A literal written right after or right before a text column names that
/// column's value; `true` when the column comes after it.
fn bound_column(cx: &Ctx, mi: usize) -> Option<(Vec<ColRef>, bool)> {
    let m = &cx.mentions[mi];
    let texts = |cs: &[ColRef]| -> Vec<ColRef> {
        cs.iter()
            .copied()
            .filter(|&(t, c)| !is_numeric(&cx.schema.tables[t].columns[c]))
            .collect()
    };
    if mi > 0 {
        let p = &cx.mentions[mi - 1];
        let gap = m.start - p.end;
        let glue = (p.end..m.start).all(|i| matches!(cx.word(i), "named" | "called" | "of"));
        if gap <= 1
            && glue
            && let Link::Column(cs) = &p.link
        {
            let t = texts(cs);
            if !t.is_empty() {
                return Some((t, false));
            }
        }
    }
    let n = cx.mentions.get(mi + 1)?;
    if n.start == m.end
        && let Link::Column(cs) = &n.link
    {
        let t = texts(cs);
        if !t.is_empty() {
            return Some((t, true));
        }
    }
    None
}

fn age_column(cx: &Ctx, t: usize) -> Option<(usize, usize)> {
    let cols = &cx.schema.tables[t].columns;
    cols.iter()
        .position(|c| {
            let n = c.name.to_ascii_lowercase();
            is_numeric(c)
                && (n == "age" || n.ends_with("_age") || n.ends_with("age") && n.len() <= 7)
        })
        .map(|c| (t, c))
}

fn price_column(cx: &Ctx, t: usize) -> Option<(usize, usize)> {
    let cols = &cx.schema.tables[t].columns;
    cols.iter()
        .position(|c| c.name.to_ascii_lowercase().contains("price") && is_numeric(c))
        .map(|c| (t, c))
        .or_else(|| default_numeric(cx, t))
}

fn date_column(cx: &Ctx, t: usize, plain: &[(usize, (usize, usize))]) -> Option<(usize, usize)> {
    if let Some((_, tc)) = plain
        .iter()
        .find(|(_, (pt, pc))| *pt == t && is_date(&cx.schema.tables[*pt].columns[*pc]))
    {
        return Some(*tc);
    }
    cx.schema.tables[t]
        .columns
        .iter()
        .position(is_date)
        .map(|c| (t, c))
}

/// Money measure for questions about revenue/sales: a column called
/// revenue/sales/amount/total, or quantity × price on a line-item table;
/// the candidate nearest (by FK hops) to the tables in play wins.
fn revenue_measure(cx: &Ctx, near: &[usize], choices: &mut Choices) -> Result<Measure, Reason> {
    let mut cands: Vec<Measure> = Vec::new();
    for (ti, t) in cx.schema.tables.iter().enumerate() {
        for (ci, c) in t.columns.iter().enumerate() {
            let n = c.name.to_ascii_lowercase();
            if is_numeric(c)
                && ["revenue", "sales", "amount", "total", "total_amount"].contains(&n.as_str())
            {
                cands.push(Measure::Col(ti, ci));
            }
        }
        let q = t.columns.iter().position(|c| {
            let n = c.name.to_ascii_lowercase();
            is_numeric(c) && (n == "quantity" || n == "qty" || n == "units")
        });
        let p = t
            .columns
            .iter()
            .position(|c| c.name.to_ascii_lowercase().contains("price") && is_numeric(c));
        if let (Some(q), Some(p)) = (q, p) {
            cands.push(Measure::Product(ti, q, p));
        }
    }
    if cands.is_empty() {
        return Err("I did not find a revenue, sales or amount column, nor quantity and price columns to compute it.".into());
    }
    let cost = |m: &Measure| {
        near.iter()
            .map(|&t| distance(cx.schema, m.table(), t))
            .sum::<usize>()
    };
    cands.sort_by_key(|m| (cost(m), matches!(m, Measure::Product(..))));
    let i = choices.pick(cands.len());
    Ok(cands[i])
}

/// WHERE conditions of the plan; adds the tables they need to `needed`.
fn conditions(
    cx: &Ctx,
    plan: &Plan,
    base: usize,
    needed: &mut BTreeSet<usize>,
) -> Result<Vec<Cond>, Reason> {
    let mut out = Vec::new();
    for (t, c, vals) in &plan.values {
        needed.insert(*t);
        out.push(Cond::In(*t, *c, vals.clone()));
    }
    for (t, c, cmp, x) in &plan.cmps {
        needed.insert(*t);
        out.push(Cond::Cmp(*t, *c, *cmp, *x));
    }
    for (t, c, v) in &plan.not_values {
        needed.insert(*t);
        out.push(Cond::NotEq(*t, *c, v.clone()));
    }
    for (t, c, inner) in &plan.not_in {
        needed.insert(*t);
        out.push(Cond::NotIn(*t, *c, inner.clone()));
    }
    for (t, c, cmp) in &plan.avg_cmps {
        needed.insert(*t);
        out.push(Cond::CmpAvg(*t, *c, *cmp));
    }
    for (t, c, text) in &plan.likes {
        needed.insert(*t);
        out.push(Cond::Like(*t, *c, text.clone()));
    }
    for (near, lit) in &plan.literals {
        let t = near.unwrap_or(base);
        let labels = cx.labels(t);
        let named = labels.iter().all(|&c| {
            let n = cx.schema.tables[t].columns[c].name.to_ascii_lowercase();
            n.ends_with("name") || n == "title"
        });
        if labels.is_empty() || !named {
            return Err(format!("I did not understand '{lit}'."));
        }
        needed.insert(t);
        out.push(Cond::Literal(t, labels, lit.clone()));
    }
    for (cmp, y, explicit) in &plan.years {
        // A column holding years ("Open_Year", "year") is compared as is.
        if explicit.is_none()
            && let Some((t, c)) = nearest_column(cx, base, &is_year_column)
            && nearest_date(cx, base)
                .is_none_or(|d| distance_from(cx, base, t) <= distance_from(cx, base, d.0))
        {
            needed.insert(t);
            out.push(Cond::YearColumn(t, c, *cmp, *y));
            continue;
        }
        let (t, c) = match explicit {
            Some(tc) => *tc,
            None => nearest_date(cx, base)
                .ok_or_else(|| format!("I found no date column to filter on the year {y}."))?,
        };
        needed.insert(t);
        out.push(Cond::Year(t, c, *cmp, *y));
    }
    Ok(out)
}

fn is_year_column(c: &crate::connectors::ColumnInfo) -> bool {
    let n = c.name.to_ascii_lowercase();
    !is_date(c) && (n == "year" || n.ends_with("_year") || n.starts_with("year_"))
}

fn distance_from(cx: &Ctx, base: usize, t: usize) -> usize {
    if t == base {
        0
    } else {
        distance(cx.schema, base, t)
    }
}

/// The column matching `pred` in the table nearest to `base`.
fn nearest_column(
    cx: &Ctx,
    base: usize,
    pred: &dyn Fn(&crate::connectors::ColumnInfo) -> bool,
) -> Option<ColRef> {
    let mut best: Option<(usize, ColRef)> = None;
    for (ti, t) in cx.schema.tables.iter().enumerate() {
        if let Some(ci) = t.columns.iter().position(pred) {
            let d = distance_from(cx, base, ti);
            if d < 99 && best.is_none_or(|b| d < b.0) {
                best = Some((d, (ti, ci)));
            }
        }
    }
    best.map(|b| b.1)
}

fn nearest_date(cx: &Ctx, base: usize) -> Option<(usize, usize)> {
    let mut best: Option<(usize, (usize, usize))> = None;
    for (ti, t) in cx.schema.tables.iter().enumerate() {
        if let Some(ci) = t.columns.iter().position(is_date) {
            let d = if ti == base {
                0
            } else {
                distance(cx.schema, base, ti)
            };
            if d < 99 && best.is_none_or(|b| d < b.0) {
                best = Some((d, (ti, ci)));
            }
        }
    }
    best.map(|b| b.1)
}

enum Cond {
    In(usize, usize, Vec<String>),
    Cmp(usize, usize, Cmp, f64),
    Literal(usize, Vec<usize>, String),
    Year(usize, usize, Cmp, i32),
    YearColumn(usize, usize, Cmp, i32),
    Like(usize, usize, String),
    CmpAvg(usize, usize, Cmp),
    NotEq(usize, usize, String),
    NotIn(usize, usize, String),
}

fn year_expr(cx: &Ctx, col: &str) -> String {
    match cx.dialect {
        Dialect::Sqlite => format!("strftime('%Y', {col})"),
        Dialect::Postgres => format!("EXTRACT(YEAR FROM {col})"),
        Dialect::Mysql => format!("YEAR({col})"),
    }
}

fn month_expr(cx: &Ctx, col: &str) -> String {
    match cx.dialect {
        Dialect::Sqlite => format!("strftime('%Y-%m', {col})"),
        Dialect::Postgres => format!("to_char({col}, 'YYYY-MM')"),
        Dialect::Mysql => format!("DATE_FORMAT({col}, '%Y-%m')"),
    }
}

fn render_conds(cx: &Ctx, q: bool, conds: &[Cond]) -> Vec<String> {
    conds
        .iter()
        .map(|c| match c {
            Cond::In(t, col, vals) => {
                let lhs = cx.col(q, *t, *col);
                if vals.len() == 1 {
                    format!("{lhs} = {}", quote_str(cx.dialect, &vals[0]))
                } else {
                    let list: Vec<String> = vals.iter().map(|v| quote_str(cx.dialect, v)).collect();
                    format!("{lhs} IN ({})", list.join(", "))
                }
            }
            Cond::Cmp(t, col, cmp, x) => {
                format!("{} {} {}", cx.col(q, *t, *col), cmp.sql(), num(*x))
            }
            Cond::Literal(t, labels, lit) => {
                let parts: Vec<&str> = lit.split_whitespace().collect();
                if labels.len() == 2 && parts.len() == 2 {
                    format!(
                        "{} = {} AND {} = {}",
                        cx.col(q, *t, labels[0]),
                        quote_str(cx.dialect, parts[0]),
                        cx.col(q, *t, labels[1]),
                        quote_str(cx.dialect, parts[1])
                    )
                } else if labels.len() > 1 {
                    let ors: Vec<String> = labels
                        .iter()
                        .map(|l| format!("{} = {}", cx.col(q, *t, *l), quote_str(cx.dialect, lit)))
                        .collect();
                    format!("({})", ors.join(" OR "))
                } else {
                    format!(
                        "{} = {}",
                        cx.col(q, *t, labels[0]),
                        quote_str(cx.dialect, lit)
                    )
                }
            }
            Cond::NotEq(t, col, v) => {
                format!("{} <> {}", cx.col(q, *t, *col), quote_str(cx.dialect, v))
            }
            Cond::NotIn(t, col, inner) => format!("{} NOT IN ({inner})", cx.col(q, *t, *col)),
            Cond::CmpAvg(t, col, cmp) => format!(
                "{} {} (SELECT AVG({}) FROM {})",
                cx.col(q, *t, *col),
                cmp.sql(),
                cx.col(false, *t, *col),
                cx.tname(*t)
            ),
            Cond::YearColumn(t, col, cmp, y) => {
                let v = if is_numeric(&cx.schema.tables[*t].columns[*col]) {
                    y.to_string()
                } else {
                    format!("'{y}'")
                };
                format!("{} {} {v}", cx.col(q, *t, *col), cmp.sql())
            }
            Cond::Like(t, col, text) => {
                // The text is matched literally: its own % and _ are escaped.
                let special = text.contains(['%', '_', '\\']);
                let escaped = text
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_");
                let like = format!(
                    "{} LIKE {}",
                    cx.col(q, *t, *col),
                    quote_str(cx.dialect, &format!("%{escaped}%"))
                );
                if special {
                    format!("{like} ESCAPE {}", quote_str(cx.dialect, "\\"))
                } else {
                    like
                }
            }
            Cond::Year(t, col, cmp, y) => {
                let e = year_expr(cx, &cx.col(q, *t, *col));
                let v = if cx.dialect == Dialect::Sqlite {
                    format!("'{y}'")
                } else {
                    y.to_string()
                };
                format!("{e} {} {v}", cmp.sql())
            }
        })
        .collect()
}

struct Select {
    distinct: bool,
    cols: Vec<String>,
    from: String,
    joins: Vec<String>,
    wheres: Vec<String>,
    group: Vec<String>,
    having: Option<String>,
    order: Vec<String>,
    limit: Option<u64>,
}

impl Select {
    fn sql(&self) -> String {
        let mut s = format!(
            "SELECT {}{} FROM {}",
            if self.distinct { "DISTINCT " } else { "" },
            self.cols.join(", "),
            self.from
        );
        for j in &self.joins {
            s.push(' ');
            s.push_str(j);
        }
        if !self.wheres.is_empty() {
            s.push_str(" WHERE ");
            s.push_str(&self.wheres.join(" AND "));
        }
        if !self.group.is_empty() {
            s.push_str(" GROUP BY ");
            s.push_str(&self.group.join(", "));
        }
        if let Some(h) = &self.having {
            s.push_str(" HAVING ");
            s.push_str(h);
        }
        if !self.order.is_empty() {
            s.push_str(" ORDER BY ");
            s.push_str(&self.order.join(", "));
        }
        if let Some(l) = self.limit {
            s.push_str(&format!(" LIMIT {l}"));
        }
        s
    }
}

/// FROM + joins + WHERE for `base` and the plan's filters plus `extra` tables.
fn from_where(
    cx: &Ctx,
    plan: &Plan,
    base: usize,
    extra: &[usize],
) -> Result<(Joins, Vec<Cond>), Reason> {
    let mut needed = BTreeSet::new();
    needed.extend(extra.iter().copied());
    let conds = conditions(cx, plan, base, &mut needed)?;
    if let Some((t, _, _)) = plan.having_count {
        needed.insert(t);
    }
    needed.remove(&base);
    let joins = plan_joins(cx, base, &needed)?;
    Ok((joins, conds))
}

fn select(cx: &Ctx, base: usize, joins: &Joins, conds: &[Cond]) -> Select {
    let q = !joins.clauses.is_empty();
    Select {
        distinct: false,
        cols: vec![],
        from: cx.tname(base),
        joins: joins.clauses.clone(),
        wheres: render_conds(cx, q, conds),
        group: vec![],
        having: None,
        order: vec![],
        limit: None,
    }
}

fn count_expr(cx: &Ctx, q: bool, t: usize, fans_out: bool) -> String {
    match cx.pk(t) {
        Some(pk) if fans_out => format!("COUNT(DISTINCT {})", cx.col(q, t, pk)),
        _ => "COUNT(*)".into(),
    }
}

fn group_exprs(
    cx: &Ctx,
    q: bool,
    g: Group,
    date: Option<(usize, usize)>,
) -> Result<(Vec<String>, Vec<String>), Reason> {
    // (select columns, group by expressions)
    Ok(match g {
        Group::Col(t, c) => (vec![cx.col(q, t, c)], vec![cx.col(q, t, c)]),
        Group::Entity(t) => {
            let labels: Vec<String> = cx.labels(t).into_iter().map(|c| cx.col(q, t, c)).collect();
            let mut by: Vec<String> = cx.pk(t).map(|pk| cx.col(q, t, pk)).into_iter().collect();
            by.extend(
                labels
                    .iter()
                    .filter(|l| !by.contains(l))
                    .cloned()
                    .collect::<Vec<_>>(),
            );
            (labels, by)
        }
        Group::Bucket(b) => {
            let (t, c) = date.ok_or("I found no date column to group by.")?;
            let col = cx.col(q, t, c);
            let (e, alias) = match b {
                Bucket::Year => (year_expr(cx, &col), "year"),
                Bucket::Month => (month_expr(cx, &col), "month"),
            };
            (vec![format!("{e} AS {alias}")], vec![e])
        }
    })
}

fn group_table(g: Group) -> Option<usize> {
    match g {
        Group::Col(t, _) | Group::Entity(t) => Some(t),
        Group::Bucket(_) => None,
    }
}

fn count_shape(
    cx: &Ctx,
    plan: &Plan,
    subject: usize,
    group: Option<Group>,
    _choices: &mut Choices,
) -> Result<Built, Reason> {
    let extra: Vec<usize> = group.and_then(group_table).into_iter().collect();
    let (joins, conds) = from_where(cx, plan, subject, &extra)?;
    let q = !joins.clauses.is_empty();
    let mut s = select(cx, subject, &joins, &conds);
    if let Some((t, cmp, x)) = plan.having_count {
        // "customers with more than 10 orders": count the qualifying subjects.
        let pk = cx
            .pk(subject)
            .ok_or("I need a primary key to count per row.")?;
        let inner_count = count_expr(cx, q, t, true);
        s.cols = vec![cx.col(q, subject, pk)];
        s.group = vec![cx.col(q, subject, pk)];
        s.having = Some(format!("{inner_count} {} {}", cmp.sql(), num(x)));
        return Ok(Built {
            sql: format!("SELECT COUNT(*) FROM ({}) AS sub", s.sql()),
            strategy: "count",
        });
    }
    let count = count_expr(cx, q, subject, joins.fans_out);
    match group {
        None => {
            s.cols = vec![count];
            Ok(Built {
                sql: s.sql(),
                strategy: "count",
            })
        }
        Some(g) => {
            let date = nearest_date(cx, subject);
            let (cols, by) = group_exprs(cx, q, g, date)?;
            s.cols = cols;
            s.cols.push(format!("{count} AS count"));
            s.group = by;
            s.order = vec!["count DESC".into()];
            Ok(Built {
                sql: s.sql(),
                strategy: "group_count",
            })
        }
    }
}

/// Several aggregates in one row: `SELECT AVG(a), MAX(b) FROM …`.
fn multi_aggregate_shape(cx: &Ctx, plan: &Plan, exprs: &[(Agg, ColRef)]) -> Result<Built, Reason> {
    let base = exprs[0].1.0;
    let extra: Vec<usize> = exprs.iter().map(|e| e.1.0).collect();
    let (joins, conds) = from_where(cx, plan, base, &extra)?;
    if joins.fans_out {
        return Err(format!(
            "Aggregating {} across those tables would count rows more than once; please rephrase.",
            cx.schema.tables[base].name
        ));
    }
    let q = !joins.clauses.is_empty();
    let mut s = select(cx, base, &joins, &conds);
    s.cols = exprs
        .iter()
        .map(|&(agg, (t, c))| {
            let m = Measure::Col(t, c);
            format!(
                "{}({}) AS {}",
                agg.sql(),
                measure_expr(cx, q, m),
                quote_ident(cx.dialect, &measure_alias(cx, agg, m))
            )
        })
        .collect();
    Ok(Built {
        sql: s.sql(),
        strategy: "aggregate",
    })
}

/// `COUNT(DISTINCT col)`.
fn count_distinct_shape(cx: &Ctx, plan: &Plan, (t, c): ColRef) -> Result<Built, Reason> {
    let (joins, conds) = from_where(cx, plan, t, &[])?;
    let q = !joins.clauses.is_empty();
    let mut s = select(cx, t, &joins, &conds);
    s.cols = vec![format!("COUNT(DISTINCT {})", cx.col(q, t, c))];
    Ok(Built {
        sql: s.sql(),
        strategy: "count",
    })
}

/// The shown columns and how many `counted` rows each has.
fn count_per_shape(
    cx: &Ctx,
    plan: &Plan,
    counted: usize,
    shown: &[ColRef],
) -> Result<Built, Reason> {
    let extra: Vec<usize> = shown.iter().map(|x| x.0).collect();
    let (joins, conds) = from_where(cx, plan, counted, &extra)?;
    let q = !joins.clauses.is_empty();
    let mut s = select(cx, counted, &joins, &conds);
    s.cols = shown.iter().map(|&(t, c)| cx.col(q, t, c)).collect();
    let mut by: Vec<String> = Vec::new();
    for &(t, _) in shown {
        if t != counted
            && let Some(pk) = cx.pk(t)
        {
            let k = cx.col(q, t, pk);
            if !by.contains(&k) {
                by.push(k);
            }
        }
    }
    for col in &s.cols {
        if !by.contains(col) {
            by.push(col.clone());
        }
    }
    s.group = by;
    s.cols.push(format!(
        "{} AS count",
        count_expr(cx, q, counted, joins.fans_out)
    ));
    Ok(Built {
        sql: s.sql(),
        strategy: "group_count",
    })
}

fn measure_expr(cx: &Ctx, q: bool, m: Measure) -> String {
    match m {
        Measure::Col(t, c) => cx.col(q, t, c),
        Measure::Product(t, a, b) => format!("{} * {}", cx.col(q, t, a), cx.col(q, t, b)),
    }
}

fn measure_alias(cx: &Ctx, agg: Agg, m: Measure) -> String {
    match m {
        Measure::Col(t, c)
            if agg != Agg::Sum
                || !cx.schema.tables[t].columns[c]
                    .name
                    .eq_ignore_ascii_case("total") =>
        {
            format!(
                "{}_{}",
                agg.alias(),
                cx.schema.tables[t].columns[c].name.to_ascii_lowercase()
            )
        }
        Measure::Col(..) => "total".into(),
        Measure::Product(..) => format!("{}_revenue", agg.alias()),
    }
}

fn aggregate_shape(
    cx: &Ctx,
    plan: &Plan,
    m: Measure,
    agg: Agg,
    group: Option<Group>,
    _choices: &mut Choices,
) -> Result<Built, Reason> {
    let base = m.table();
    let extra: Vec<usize> = group.and_then(group_table).into_iter().collect();
    let (joins, conds) = from_where(cx, plan, base, &extra)?;
    if joins.fans_out {
        return Err(format!(
            "Aggregating {} across those tables would count rows more than once; please rephrase.",
            cx.schema.tables[base].name
        ));
    }
    let q = !joins.clauses.is_empty();
    let mut s = select(cx, base, &joins, &conds);
    let alias = measure_alias(cx, agg, m);
    let e = format!(
        "{}({}) AS {}",
        agg.sql(),
        measure_expr(cx, q, m),
        quote_ident(cx.dialect, &alias)
    );
    match group {
        None => {
            s.cols = vec![e];
            Ok(Built {
                sql: s.sql(),
                strategy: "aggregate",
            })
        }
        Some(g) => {
            let (cols, by) = group_exprs(cx, q, g, nearest_date(cx, base))?;
            s.cols = cols;
            s.cols.push(e);
            if aggregate_first(cx, g) {
                s.cols.rotate_right(1);
            }
            s.group = by.clone();
            s.order = by;
            Ok(Built {
                sql: s.sql(),
                strategy: "group_aggregate",
            })
        }
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "one call per ranking flavour; a struct would only rename them"
)]
fn own_column_rank(
    cx: &Ctx,
    plan: &Plan,
    entity: usize,
    (t, c): (usize, usize),
    desc: bool,
    limit: Option<u64>,
    proj: &[ColRef],
    _choices: &mut Choices,
) -> Result<Built, Reason> {
    let mut extra = vec![t];
    extra.extend(proj.iter().map(|p| p.0));
    let (joins, conds) = from_where(cx, plan, entity, &extra)?;
    let q = !joins.clauses.is_empty();
    let mut s = select(cx, entity, &joins, &conds);
    s.distinct = joins.fans_out;
    s.cols = projection(cx, q, entity, proj);
    let dir = if desc { "DESC" } else { "ASC" };
    s.order = vec![format!("{} {dir}", cx.col(q, t, c))];
    if let Some(pk) = cx.pk(entity) {
        s.order.push(format!("{} {dir}", cx.col(q, entity, pk)));
    }
    s.limit = limit;
    Ok(Built {
        sql: s.sql(),
        strategy: "top_n",
    })
}

#[expect(
    clippy::too_many_arguments,
    reason = "one call per ranking flavour; a struct would only rename them"
)]
fn ranked_group(
    cx: &Ctx,
    plan: &Plan,
    entity: usize,
    m: Option<Measure>,
    agg: Agg,
    desc: bool,
    limit: Option<u64>,
    _choices: &mut Choices,
) -> Result<Built, Reason> {
    let m = m.ok_or("I did not understand what to rank by.")?;
    let base = m.table();
    let (joins, conds) = from_where(cx, plan, base, &[entity])?;
    if joins.fans_out {
        return Err(format!(
            "Ranking {} by a value of {} would count rows more than once; please rephrase.",
            cx.schema.tables[entity].name, cx.schema.tables[base].name
        ));
    }
    let q = !joins.clauses.is_empty();
    let mut s = select(cx, base, &joins, &conds);
    let (cols, by) = group_exprs(cx, q, Group::Entity(entity), None)?;
    let alias = quote_ident(cx.dialect, &measure_alias(cx, agg, m));
    s.cols = cols;
    s.cols.push(format!(
        "{}({}) AS {alias}",
        agg.sql(),
        measure_expr(cx, q, m)
    ));
    s.group = by;
    let dir = if desc { "DESC" } else { "ASC" };
    s.order = vec![format!("{alias} {dir}")];
    if let Some(pk) = cx.pk(entity) {
        s.order.push(cx.col(q, entity, pk));
    }
    s.limit = limit;
    Ok(Built {
        sql: s.sql(),
        strategy: "top_n",
    })
}

/// Rows of `entity` ranked by how many `counted` rows each has: their
/// `shown` columns (else their names), and the count itself only when the
/// question asks for it ("… and how many …", "list the name and number of …").
#[expect(
    clippy::too_many_arguments,
    reason = "one call per ranking flavour; a struct would only rename them"
)]
fn ranked_group_count(
    cx: &Ctx,
    plan: &Plan,
    entity: usize,
    counted: usize,
    desc: bool,
    limit: Option<u64>,
    shown: &[ColRef],
    show_count: bool,
) -> Result<Built, Reason> {
    let (joins, conds) = from_where(cx, plan, counted, &[entity])?;
    let q = !joins.clauses.is_empty();
    let mut s = select(cx, counted, &joins, &conds);
    let (mut cols, mut by) = group_exprs(cx, q, Group::Entity(entity), None)?;
    if !shown.is_empty() {
        cols = shown.iter().map(|&(t, c)| cx.col(q, t, c)).collect();
        by = cx
            .pk(entity)
            .map(|pk| cx.col(q, entity, pk))
            .into_iter()
            .collect();
        for c in &cols {
            if !by.contains(c) {
                by.push(c.clone());
            }
        }
    }
    let count = count_expr(cx, q, counted, joins.fans_out);
    s.cols = cols;
    let order = if show_count {
        let alias = format!(
            "{}_count",
            super::text::stem(&cx.schema.tables[counted].name.to_ascii_lowercase())
        );
        let alias = quote_ident(cx.dialect, &alias);
        s.cols.push(format!("{count} AS {alias}"));
        alias
    } else {
        count
    };
    s.group = by;
    let dir = if desc { "DESC" } else { "ASC" };
    s.order = vec![format!("{order} {dir}")];
    if let Some(pk) = cx.pk(entity) {
        s.order.push(cx.col(q, entity, pk));
    }
    s.limit = limit;
    Ok(Built {
        sql: s.sql(),
        strategy: "top_n",
    })
}

/// `col` ranked by how many `counted` rows each of its values has.
fn ranked_column_count(
    cx: &Ctx,
    plan: &Plan,
    (t, c): ColRef,
    counted: usize,
    desc: bool,
    limit: Option<u64>,
    show_count: bool,
) -> Result<Built, Reason> {
    let (joins, conds) = from_where(cx, plan, counted, &[t])?;
    let q = !joins.clauses.is_empty();
    let mut s = select(cx, counted, &joins, &conds);
    let col = cx.col(q, t, c);
    let count = count_expr(cx, q, counted, joins.fans_out);
    s.cols = vec![col.clone()];
    if show_count {
        s.cols.push(count.clone());
    }
    s.group = vec![col];
    let dir = if desc { "DESC" } else { "ASC" };
    s.order = vec![format!("{count} {dir}")];
    s.limit = limit;
    Ok(Built {
        sql: s.sql(),
        strategy: "top_n",
    })
}

fn distinct_shape(
    cx: &Ctx,
    plan: &Plan,
    (t, c): (usize, usize),
    order_by: Option<(usize, usize)>,
    with: &[usize],
    _choices: &mut Choices,
) -> Result<Built, Reason> {
    let (joins, conds) = from_where(cx, plan, t, with)?;
    let q = !joins.clauses.is_empty();
    let mut s = select(cx, t, &joins, &conds);
    s.cols = vec![cx.col(q, t, c)];
    let (ot, oc) = order_by.unwrap_or((t, c));
    // DISTINCT cannot order by a column it does not show (PostgreSQL refuses it).
    s.distinct = (ot, oc) == (t, c);
    s.order = vec![format!("{}{}", cx.col(q, ot, oc), direction(cx))];
    Ok(Built {
        sql: s.sql(),
        strategy: "distinct",
    })
}

/// Whether the question names the aggregate before the groups it is per
/// ("the average weight for each pet type"): then the aggregate is the
/// first column, as asked. (Counts keep the groups first: "how many … in
/// each …" is read both ways, and the groups-first table reads better.)
fn aggregate_first(cx: &Ctx, g: Group) -> bool {
    const AGG: &[&str] = &[
        "average", "avg", "mean", "total", "sum", "maximum", "max", "minimum", "min",
    ];
    let Some(agg) = (0..cx.tokens.len()).find(|&i| AGG.contains(&cx.word(i))) else {
        return false;
    };
    let names_group = |m: &Mention| match (&m.link, g) {
        (Link::Column(cands), Group::Col(t, c)) => cands.first() == Some(&(t, c)),
        (Link::Table(t), Group::Entity(e)) => *t == e,
        (Link::Column(cands), Group::Entity(e)) => cands.first().is_some_and(|x| x.0 == e),
        _ => false,
    };
    let Some(group) = cx.mentions.iter().find(|m| names_group(m)).map(|m| m.start) else {
        return false;
    };
    agg < group && (agg..group).any(|i| matches!(cx.word(i), "each" | "every"))
}

/// Whether a ranking question also asks for the count it ranks by: "how
/// many", or "number"/"count" that is not the ranking phrase itself ("the
/// most number of", "the largest number of").
fn asks_for_count(cx: &Ctx) -> bool {
    const RANKING: &[&str] = &[
        "most", "least", "fewest", "largest", "greatest", "highest", "lowest", "smallest",
        "biggest", "maximum", "minimum", "max", "min",
    ];
    (0..cx.tokens.len()).any(|i| match cx.word(i) {
        "many" => i > 0 && cx.word(i - 1) == "how",
        "number" | "count" | "counts" => {
            let before = |k: usize| i >= k && RANKING.contains(&cx.word(i - k));
            !(before(1) || (before(2) && cx.word(i - 1) == "the"))
        }
        _ => false,
    })
}

/// `" DESC"` when the question asks for a descending order.
fn direction(cx: &Ctx) -> &'static str {
    if ["descending", "desc", "decreasing", "reversed", "reverse"]
        .iter()
        .any(|w| cx.has(w))
    {
        " DESC"
    } else {
        ""
    }
}

/// The columns the question asks for, else the row's name columns, else every column of `entity`.
fn projection(cx: &Ctx, q: bool, entity: usize, proj: &[ColRef]) -> Vec<String> {
    let everything = [
        "information",
        "info",
        "details",
        "everything",
        "columns",
        "attributes",
    ]
    .iter()
    .any(|w| cx.has(w));
    // A question ("which/what …") wants the rows' names; an instruction
    // ("show customers …") every column.
    let asks = matches!(cx.word(0), "what" | "which" | "who" | "whose")
        || (cx.word(0) == "and" && matches!(cx.word(1), "what" | "which"));
    if proj.is_empty() && !everything && asks {
        // "Which orchestras …?": the rows' names.
        let labels = cx.labels(entity);
        let named = labels.iter().all(|&c| {
            let n = cx.schema.tables[entity].columns[c]
                .name
                .to_ascii_lowercase();
            n.ends_with("name") || n == "title"
        });
        if !labels.is_empty() && named {
            return labels.into_iter().map(|c| cx.col(q, entity, c)).collect();
        }
    }
    if proj.is_empty() {
        return vec![if q {
            format!("{}.*", cx.tname(entity))
        } else {
            "*".into()
        }];
    }
    proj.iter().map(|&(t, c)| cx.col(q, t, c)).collect()
}

fn list_shape(
    cx: &Ctx,
    plan: &Plan,
    subject: usize,
    order_by: Option<(usize, usize)>,
    limit: Option<u64>,
    proj: &[ColRef],
) -> Result<Built, Reason> {
    let mut extra: Vec<usize> = order_by.map(|o| o.0).into_iter().collect();
    extra.extend(proj.iter().map(|p| p.0));
    let (joins, conds) = from_where(cx, plan, subject, &extra)?;
    let q = !joins.clauses.is_empty();
    let mut s = select(cx, subject, &joins, &conds);
    s.distinct = joins.fans_out;
    s.cols = projection(cx, q, subject, proj);
    if let Some((t, c)) = order_by {
        s.order = vec![format!("{}{}", cx.col(q, t, c), direction(cx))];
    }
    if let Some((t, cmp, x)) = plan.having_count {
        s.distinct = false;
        if t == subject && !proj.is_empty() && proj.iter().all(|p| p.0 == subject) {
            // "nationalities shared by at least two people": groups of the
            // shown values, counted in the same table.
            s.group = proj.iter().map(|&(pt, pc)| cx.col(q, pt, pc)).collect();
            s.having = Some(format!("COUNT(*) {} {}", cmp.sql(), num(x)));
            s.limit = limit;
            return Ok(Built {
                sql: s.sql(),
                strategy: "list",
            });
        }
        // "customers with more than 10 orders": one row per subject.
        let pk = cx
            .pk(subject)
            .ok_or("I need a primary key to count per row.")?;
        s.group = vec![cx.col(q, subject, pk)];
        s.having = Some(format!(
            "{} {} {}",
            count_expr(cx, q, t, true),
            cmp.sql(),
            num(x)
        ));
    }
    s.limit = limit;
    Ok(Built {
        sql: s.sql(),
        strategy: "list",
    })
}
