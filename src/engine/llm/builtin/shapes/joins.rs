//! Joins: the foreign-key graph of a schema (declared keys, and columns
//! named after another table's one-column key when nothing is declared),
//! shortest paths over it, and the JOIN clauses that bring the tables a
//! query needs to its base table. Keys are walked in the order their
//! columns are declared, never the order the database lists them in; of two
//! keys from one table to the same parent, the one the question asks about
//! (the end of a trip, or the key's own words) is walked first.

use std::collections::{BTreeSet, VecDeque};

use crate::domain::{ColumnInfo, SchemaInfo};

use super::Reason;
use super::context::Ctx;
use super::linking::{is_date, is_numeric};
use super::plan::ColRef;

/// Joins from a base table to other tables along foreign keys.
pub(super) struct Joins {
    pub(super) clauses: Vec<String>,
    pub(super) tables: Vec<usize>,
    /// Some join goes from a parent to its children (one-to-many).
    pub(super) fans_out: bool,
}

/// The JOIN clauses that bring every `needed` table to `base`.
pub(super) fn plan_joins(cx: &Ctx, base: usize, needed: &BTreeSet<usize>) -> Result<Joins, Reason> {
    let mut joins = Joins {
        clauses: vec![],
        tables: vec![base],
        fans_out: false,
    };
    let es = asked_edges(cx);
    for &target in needed {
        if joins.tables.contains(&target) {
            continue;
        }
        let path =
            path_over(&es, cx.schema.tables.len(), &joins.tables, target).ok_or_else(|| {
                format!(
                    "I could not find a foreign-key path between {} and {}.",
                    cx.schema.tables[base].name, cx.schema.tables[target].name
                )
            })?;
        for Edge {
            from,
            to,
            child,
            child_col: ccol,
            parent_col: pcol,
        } in path
        {
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

/// One step along a foreign key, walked in either direction: from table
/// `from` to table `to`, where `child.child_col` references the parent's
/// `parent_col` (the parent is whichever of `from`/`to` is not the child).
#[derive(Debug, Clone, Copy)]
pub(super) struct Edge {
    pub(super) from: usize,
    pub(super) to: usize,
    pub(super) child: usize,
    pub(super) child_col: usize,
    pub(super) parent_col: usize,
}

impl Edge {
    /// The key `child.child_col → parent.parent_col`, both ways.
    fn both_ways(child: usize, parent: usize, child_col: usize, parent_col: usize) -> [Edge; 2] {
        [
            Edge {
                from: child,
                to: parent,
                child,
                child_col,
                parent_col,
            },
            Edge {
                from: parent,
                to: child,
                child,
                child_col,
                parent_col,
            },
        ]
    }
}

/// Every foreign key of the schema as two [`Edge`]s, declared keys first.
pub(super) fn edges(schema: &SchemaInfo) -> Vec<Edge> {
    let mut out = Vec::new();
    for (ti, t) in schema.tables.iter().enumerate() {
        // In the order the columns are declared, not the order the database
        // lists its keys in (SQLite: last declared first): of two keys to
        // one table, the first declared (`current_address_id` before
        // `permanent_address_id`) is walked when the question names neither.
        let mut fks: Vec<_> = t.foreign_keys.iter().collect();
        fks.sort_by_key(|fk| {
            fk.columns
                .first()
                .and_then(|c| t.columns.iter().position(|x| &x.name == c))
        });
        for fk in fks {
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
            out.extend(Edge::both_ways(ti, pi, ci, pc));
        }
    }
    // Undeclared keys: a column named after another table ("flights.Airline"
    // → airlines' one-column primary key), when the schema declares none.
    let stem_name = |n: &str| {
        crate::text::identifier_words(n)
            .iter()
            .map(|w| crate::text::stem(w))
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
                out.extend(Edge::both_ways(ti, pi, ci, pc));
            }
        }
    }
    // The first edge found is the one walked: see [`other_end`].
    let ends: Vec<bool> = out.iter().map(|e| other_end(schema, &out, e)).collect();
    let (near, far): (Vec<_>, Vec<_>) = out.into_iter().zip(ends).partition(|(_, end)| !end);
    near.into_iter().chain(far).map(|(e, _)| e).collect()
}

/// Two keys of one table to the same parent (`Friend.student_id` and
/// `Friend.friend_id` → `Highschooler`): the key named after its own table
/// (`friend_id` in `Friend`, `liked_id` in `Likes`) is the *other* end of
/// the relationship, so a student's friends are the rows whose `student_id`
/// is that student. That key is walked only when the other is not there.
/// Whatever order the database lists its keys in, the choice is the same.
fn other_end(schema: &SchemaInfo, all: &[Edge], e: &Edge) -> bool {
    let parent = if e.child == e.from { e.to } else { e.from };
    let sibling = all.iter().any(|o| {
        o.child == e.child
            && o.child_col != e.child_col
            && (if o.child == o.from { o.to } else { o.from }) == parent
    });
    if !sibling {
        return false;
    }
    let table = &schema.tables[e.child];
    let own: Vec<String> = crate::text::identifier_words(&table.name)
        .iter()
        .map(|w| crate::text::stem(w))
        .collect();
    crate::text::identifier_words(&table.columns[e.child_col].name)
        .iter()
        .any(|w| own.contains(&crate::text::stem(w)))
}

/// Where a key says a trip or a move starts, or ends.
#[derive(Debug, Clone, Copy, PartialEq)]
enum End {
    Start,
    Finish,
}

/// The end a key column names: `SourceAirport`, `origin_id`, `from_city`
/// start; `DestAirport`, `destination_id`, `to_city` finish.
fn key_end(name: &str) -> Option<End> {
    let words = crate::text::identifier_words(name);
    let has = |ws: &[&str]| words.iter().any(|w| ws.contains(&w.as_str()));
    match (
        has(&["source", "src", "origin", "from", "departure", "start"]),
        has(&["dest", "destination", "to", "arrival", "target", "end"]),
    ) {
        (true, false) => Some(End::Start),
        (false, true) => Some(End::Finish),
        _ => None,
    }
}

/// The end the question asks about: "departing from", "leaving", "source"
/// against "arriving in", "landing", "destination"; "from" and "to" only
/// when no stronger word is there. Both ends, or none: no preference.
fn asked_end(cx: &Ctx) -> Option<End> {
    const START: &[&str] = &[
        "depart",
        "departs",
        "departed",
        "departing",
        "departure",
        "departures",
        "leave",
        "leaves",
        "leaving",
        "origin",
        "originating",
        "source",
    ];
    const FINISH: &[&str] = &[
        "arrive",
        "arrives",
        "arrived",
        "arriving",
        "arrival",
        "arrivals",
        "land",
        "lands",
        "landing",
        "destination",
        "destinations",
    ];
    let one = |start: bool, finish: bool| match (start, finish) {
        (true, false) => Some(End::Start),
        (false, true) => Some(End::Finish),
        _ => None,
    };
    let strong = one(
        START.iter().any(|w| cx.has(w)),
        FINISH.iter().any(|w| cx.has(w)),
    );
    let weak = one(cx.has("from"), cx.has("to") || cx.has("into"));
    if START.iter().chain(FINISH).any(|w| cx.has(w)) {
        strong
    } else {
        weak
    }
}

/// The schema's [`edges`], where a table has two keys to one parent, the
/// one the question asks about first: the end of a trip
/// (`flights.SourceAirport`, `DestAirport`), so "flights departing from
/// Aberdeen" joins the airports on the source airport; else the key whose
/// own words the question says ("currently" → `current_address_id`).
fn asked_edges(cx: &Ctx) -> Vec<Edge> {
    let es = edges(cx.schema);
    let end = asked_end(cx);
    let parent = |e: &Edge| if e.child == e.from { e.to } else { e.from };
    let name = |e: &Edge| cx.schema.tables[e.child].columns[e.child_col].name.as_str();
    // The words of a key that tell it from its sibling ("current",
    // "permanent"), when the question says them. The names of the two
    // tables are not such words: "friends" names `Friend` itself.
    let said = |e: &Edge, o: &Edge| {
        let theirs: Vec<String> = [
            name(o),
            cx.schema.tables[e.child].name.as_str(),
            cx.schema.tables[parent(e)].name.as_str(),
        ]
        .iter()
        .flat_map(|n| crate::text::identifier_words(n))
        .map(|w| crate::text::stem(&w))
        .collect();
        crate::text::identifier_words(name(e))
            .iter()
            .map(|w| crate::text::stem(w))
            .filter(|w| w != "id" && !theirs.contains(w))
            .any(|w| {
                cx.tokens
                    .iter()
                    .any(|t| t.stem == w || (w.len() >= 4 && t.lower.starts_with(w.as_str())))
            })
    };
    let wanted = |e: &Edge| {
        es.iter().any(|o| {
            let sibling =
                o.child == e.child && o.child_col != e.child_col && parent(o) == parent(e);
            let by_end = end.is_some_and(|end| {
                key_end(name(e)) == Some(end) && key_end(name(o)).is_some_and(|x| x != end)
            });
            let by_word = end.is_none() && said(e, o) && !said(o, e);
            sibling && (by_end || by_word)
        })
    };
    let (first, rest): (Vec<Edge>, Vec<Edge>) = es.iter().partition(|e| wanted(e));
    first.into_iter().chain(rest).collect()
}

/// The shortest path (at most three hops) from any of `from` to `target`.
pub(super) fn fk_path(schema: &SchemaInfo, from: &[usize], target: usize) -> Option<Vec<Edge>> {
    path_over(&edges(schema), schema.tables.len(), from, target)
}

/// The shortest path over `es` (first edges first) in a schema of `n` tables.
fn path_over(es: &[Edge], n: usize, from: &[usize], target: usize) -> Option<Vec<Edge>> {
    let mut prev: Vec<Option<Edge>> = vec![None; n];
    let mut seen: Vec<bool> = vec![false; n];
    let mut depth = vec![0usize; n];
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
                cur = e.from;
            }
            path.reverse();
            return Some(path);
        }
        if depth[n] >= 3 {
            continue;
        }
        for e in es.iter().filter(|e| e.from == n) {
            if !seen[e.to] {
                seen[e.to] = true;
                prev[e.to] = Some(*e);
                depth[e.to] = depth[n] + 1;
                q.push_back(e.to);
            }
        }
    }
    None
}

/// The shortest key path from `from` to `to` goes from a parent to its
/// children somewhere: one `from` row stands for many `to` rows.
pub fn fans_out(schema: &SchemaInfo, from: usize, to: usize) -> bool {
    fk_path(schema, &[from], to).is_some_and(|p| p.iter().any(|e| e.from != e.child))
}

/// Hops between two tables; 99 when no path joins them.
pub(super) fn distance(schema: &SchemaInfo, a: usize, b: usize) -> usize {
    fk_path(schema, &[a], b).map_or(99, |p| p.len())
}

/// Hops from `base` to `t`, 0 for the table itself.
pub(super) fn distance_from(cx: &Ctx, base: usize, t: usize) -> usize {
    if t == base {
        0
    } else {
        distance(cx.schema, base, t)
    }
}

/// The column matching `pred` in the table nearest to `base`.
pub(super) fn nearest_column(
    cx: &Ctx,
    base: usize,
    pred: &dyn Fn(&ColumnInfo) -> bool,
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

/// The first date column of the table nearest to `base`.
pub(super) fn nearest_date(cx: &Ctx, base: usize) -> Option<(usize, usize)> {
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
