//! Rows shown with the names of the rows they reference: "employees with
//! their managers", "Who is the manager of each sales rep?", "orders with
//! customer names".
//!
//! A foreign key of the subject table (an id column) is followed when the
//! question asks for it as a reference — "with (their) X", "and their X",
//! "who is the X of …" — naming it by its role, the key column's words
//! without `id` (`manager_id` → "manager"), or by the table it references
//! (`customer_id` → "customer", "customer names").
//! The referenced row's name columns are shown beside the subject's own,
//! through a `LEFT JOIN` (a row without a reference, such as the employee at
//! the top, stays in the list); a key that references its own table is a
//! self-join under the role's name as alias. Without this shape the role word
//! was read as the bare key column, and the user got ids instead of names.
//!
//! A link table whose two keys reference one table (`Friend(student_id,
//! friend_id)`) joins that table twice: "the names of Kyle's friends" are
//! the rows at the far key of the links whose near key is Kyle's row.

use crate::text::{identifier_words, stem};

use super::context::Ctx;
use super::intent::Intent;
use super::linking::Link;
use super::roles::Roles;
use super::select::from_where;
use super::{Built, Reason};

/// A foreign key of the subject the question names by its role.
struct Reference {
    /// The key column of the subject.
    fk: usize,
    /// The referenced table and its key column.
    table: usize,
    key: usize,
    /// The role's words joined with `_` ("manager"), the alias of a self-join.
    role: String,
}

/// The list with references, when the question asks for one.
pub(super) fn with_references(
    cx: &Ctx,
    intent: &Intent,
    roles: &Roles,
    subject: usize,
) -> Option<Result<Built, Reason>> {
    if intent.count
        || intent.rank_pos.is_some()
        || roles.group.is_some()
        || roles.revenue
        || roles.measure_col.is_some()
        || !intent.agg_words(cx, &roles.total_cols).is_empty()
    {
        return None;
    }
    if let Some(built) = through_link(cx, roles) {
        return Some(Ok(built));
    }
    let r = reference(cx, subject)?;
    let (joins, conds) = match from_where(cx, &roles.plan, subject, &[]) {
        Ok(x) => x,
        Err(e) => return Some(Err(e)),
    };
    // Filters that need other tables are read by the other shapes.
    if !joins.clauses.is_empty() {
        return None;
    }
    let own: Vec<String> = {
        let named: Vec<usize> = roles
            .columns
            .iter()
            .filter(|x| x.col.0 == subject && x.col.1 != r.fk)
            .map(|x| x.col.1)
            .collect();
        let labels = cx.labels(subject);
        let named_rows = labels.iter().all(|&c| {
            let n = cx.schema.tables[subject].columns[c]
                .name
                .to_ascii_lowercase();
            n.ends_with("name") || n == "title"
        });
        if !named.is_empty() {
            named.iter().map(|&c| cx.col(true, subject, c)).collect()
        } else if named_rows && !labels.is_empty() {
            labels.iter().map(|&c| cx.col(true, subject, c)).collect()
        } else {
            vec![format!("{}.*", cx.tname(subject))]
        }
    };
    let alias = if r.table == subject {
        cx.ident(&r.role)
    } else {
        cx.tname(r.table)
    };
    let table = &cx.schema.tables[r.table];
    let mut cols = own;
    for c in cx.labels(r.table) {
        let name = &table.columns[c].name;
        let shown = format!("{}_{}", r.role, name.to_ascii_lowercase());
        cols.push(format!(
            "{alias}.{} AS {}",
            cx.ident(name),
            cx.ident(&shown)
        ));
    }
    let from = if r.table == subject {
        format!(
            "{} LEFT JOIN {} AS {alias}",
            cx.tname(subject),
            cx.tname(subject)
        )
    } else {
        format!("{} LEFT JOIN {alias}", cx.tname(subject))
    };
    let mut sql = format!(
        "SELECT {} FROM {from} ON {} = {alias}.{}",
        cols.join(", "),
        cx.col(true, subject, r.fk),
        cx.ident(&table.columns[r.key].name)
    );
    let wheres = super::conditions::render_conds(cx, true, &conds);
    if !wheres.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&wheres.join(" AND "));
    }
    Some(Ok(Built {
        sql,
        strategy: "list",
    }))
}

/// The subject's foreign key that a mention names by role or by the
/// referenced table (not the subject's own mention). Of several, the one
/// named by its role wins over one named by its table, then the key whose
/// role is the table's own name (`customer_id` over `billing_customer_id`),
/// then the first column: never the order the database lists its keys in
/// (SQLite lists them last declared first).
fn reference(cx: &Ctx, subject: usize) -> Option<Reference> {
    let mut found: Vec<(u8, Reference)> = Vec::new();
    let table = &cx.schema.tables[subject];
    for fk in &table.foreign_keys {
        let [col] = fk.columns.as_slice() else {
            continue;
        };
        let Some(fk_col) = table.columns.iter().position(|c| &c.name == col) else {
            continue;
        };
        let Some(target) = cx
            .schema
            .tables
            .iter()
            .position(|t| t.name.eq_ignore_ascii_case(&fk.ref_table))
        else {
            continue;
        };
        let target_table = &cx.schema.tables[target];
        let Some(key) = fk
            .ref_columns
            .first()
            .and_then(|k| target_table.columns.iter().position(|c| &c.name == k))
        else {
            continue;
        };
        // Only keys that are ids: a code or a name already reads for itself.
        let words = identifier_words(col);
        if words.last().is_none_or(|w| w != "id") {
            continue;
        }
        let role: Vec<String> = words.into_iter().filter(|w| w != "id").collect();
        if role.is_empty() {
            continue;
        }
        let role_stems: Vec<String> = role.iter().map(|w| stem(w)).collect();
        let target_head = identifier_words(&target_table.name).last().map(|w| stem(w));
        let mut how: Option<u8> = None;
        for m in cx.mentions {
            // Asked for as a reference: "with (their) managers", "and their
            // manager", "who is the manager of …".
            let asked = matches!(cx.word(m.start.wrapping_sub(1)), "with" | "their" | "its")
                || (cx.word(0) == "who"
                    && cx.word(m.start.wrapping_sub(1)) == "the"
                    && cx.word(m.end) == "of");
            // "with code PP" filters; it does not ask for a reference.
            let filters = cx.mentions.iter().any(|n| {
                n.start == m.end
                    && matches!(
                        n.link,
                        Link::Value(_) | Link::Literal(_) | Link::Number(_) | Link::Year(_)
                    )
            });
            if !asked || filters {
                continue;
            }
            // "manager" is a word of `manager_id`.
            let role_column = matches!(&m.link, Link::Column(c) if c.contains(&(subject, fk_col)))
                && cx.tokens[m.start..m.end]
                    .iter()
                    .all(|t| role_stems.contains(&t.stem));
            // "customer" ("customer names") names the table `customer_id`
            // references, or a column of it.
            // A column of the referenced table only when it is its name.
            let of_target = match &m.link {
                Link::Table(t) => *t == target,
                Link::Column(cands) => cands
                    .iter()
                    .any(|&(t, c)| t == target && cx.labels(target).contains(&c)),
                _ => false,
            };
            let target_named = of_target
                && target != subject
                && target_head.as_ref() == role_stems.last()
                && role_stems.last() == Some(&cx.tokens[m.start].stem);
            let rank = if role_column {
                0
            } else if target_named && role_stems.len() == 1 {
                1
            } else if target_named {
                2
            } else {
                continue;
            };
            how = Some(how.map_or(rank, |h| h.min(rank)));
        }
        if let Some(rank) = how {
            found.push((
                rank,
                Reference {
                    fk: fk_col,
                    table: target,
                    key,
                    role: role.join("_"),
                },
            ));
        }
    }
    found
        .into_iter()
        .min_by_key(|(rank, r)| (*rank, r.fk))
        .map(|(_, r)| r)
}

/// A link table whose two keys reference one table (`Friend(student_id,
/// friend_id)` → `Highschooler`), and which of them is the far end: the key
/// named after the link table (`friend_id` in `Friend`, `liked_id` in
/// `Likes`), as in [`joins`](super::joins).
struct Link2 {
    link: usize,
    parent: usize,
    parent_key: usize,
    near: usize,
    far: usize,
}

fn link_table(cx: &Ctx, link: usize) -> Option<Link2> {
    let table = &cx.schema.tables[link];
    let [a, b] = table.foreign_keys.as_slice() else {
        return None;
    };
    let (([ca], [ka]), ([cb], [kb])) = (
        (a.columns.as_slice(), a.ref_columns.as_slice()),
        (b.columns.as_slice(), b.ref_columns.as_slice()),
    ) else {
        return None;
    };
    if !a.ref_table.eq_ignore_ascii_case(&b.ref_table) || ka != kb || ca == cb {
        return None;
    }
    let parent = cx
        .schema
        .tables
        .iter()
        .position(|t| t.name.eq_ignore_ascii_case(&a.ref_table))
        .filter(|&p| p != link)?;
    let parent_key = cx.schema.tables[parent]
        .columns
        .iter()
        .position(|c| &c.name == ka)?;
    let own: Vec<String> = identifier_words(&table.name)
        .iter()
        .map(|w| stem(w))
        .collect();
    let named_after_link = |c: &str| identifier_words(c).iter().any(|w| own.contains(&stem(w)));
    let pos = |c: &str| table.columns.iter().position(|x| x.name == *c);
    let (near, far) = match (named_after_link(ca), named_after_link(cb)) {
        (false, true) => (pos(ca)?, pos(cb)?),
        (true, false) => (pos(cb)?, pos(ca)?),
        _ => return None,
    };
    Some(Link2 {
        link,
        parent,
        parent_key,
        near,
        far,
    })
}

/// "the names of Kyle's friends", "friends of the student Kyle": rows of a
/// table reached through a link table from a row named by a value of the
/// same table. The table is joined twice: once as the row the value names
/// (through the near key), once as the rows asked for (through the far
/// key). Only for a plain list whose filters are values of that table.
fn through_link(cx: &Ctx, roles: &Roles) -> Option<Built> {
    let plan = &roles.plan;
    // "friends of …", "Kyle's friends": the links of a named row; "students
    // who like Kyle" goes the other way and is left to the other shapes.
    let owned = |mi: usize| {
        let m = &cx.mentions[mi];
        cx.word(m.end) == "of"
            || cx
                .mentions
                .iter()
                .any(|n| n.end == m.start && matches!(n.link, Link::Value(_) | Link::Literal(_)))
    };
    let l = roles
        .tables
        .iter()
        .filter(|t| owned(t.mention))
        .find_map(|t| link_table(cx, t.table))?;
    // A literal names a row by its one name column ("Kyle").
    let name_col = match cx.labels(l.parent).as_slice() {
        [c] if cx.schema.tables[l.parent].columns[*c]
            .name
            .to_ascii_lowercase()
            .ends_with("name") =>
        {
            Some(*c)
        }
        _ => None,
    };
    let literals_ok = plan
        .literals
        .iter()
        .all(|x| x.near.is_none_or(|t| t == l.parent) && name_col.is_some());
    let only_values = literals_ok
        && plan.not_values.is_empty()
        && plan.not_in.is_empty()
        && plan.avg_cmps.is_empty()
        && plan.likes.is_empty()
        && plan.years.is_empty()
        && plan.periods.is_empty()
        && plan.cmps.is_empty()
        && plan.having_count.is_none();
    let values_on_parent = !(plan.values.is_empty() && plan.literals.is_empty())
        && plan.values.iter().all(|v| v.col.0 == l.parent);
    let tables_ok = roles
        .tables
        .iter()
        .all(|t| t.table == l.link || t.table == l.parent);
    if !only_values || !values_on_parent || !tables_ok || roles.limit.is_some() {
        return None;
    }
    let shown: Vec<usize> = roles
        .columns
        .iter()
        .filter(|c| c.col.0 == l.parent)
        .map(|c| c.col.1)
        .filter(|&c| plan.values.iter().all(|v| v.col.1 != c))
        .collect();
    if roles.columns.iter().any(|c| c.col.0 != l.parent) {
        return None;
    }
    let shown = if shown.is_empty() {
        cx.labels(l.parent)
    } else {
        shown
    };
    let link_t = &cx.schema.tables[l.link];
    let alias = |key: usize| {
        let words: Vec<String> = identifier_words(&link_t.columns[key].name)
            .into_iter()
            .filter(|w| w != "id")
            .collect();
        let role = words.join("_");
        let taken = role.is_empty()
            || cx
                .schema
                .tables
                .iter()
                .any(|t| t.name.eq_ignore_ascii_case(&role));
        if taken {
            format!(
                "{role}_{}",
                cx.schema.tables[l.parent].name.to_ascii_lowercase()
            )
        } else {
            role
        }
    };
    let (near, far) = (cx.ident(&alias(l.near)), cx.ident(&alias(l.far)));
    if near == far {
        return None;
    }
    let key = cx.ident(&cx.schema.tables[l.parent].columns[l.parent_key].name);
    let colname = |c: usize| cx.ident(&cx.schema.tables[l.parent].columns[c].name);
    let cols: Vec<String> = shown
        .iter()
        .map(|&c| format!("{far}.{}", colname(c)))
        .collect();
    let quote = |x: &str| super::context::quote_str(cx.dialect, x);
    let mut wheres: Vec<String> = plan
        .values
        .iter()
        .map(|v| {
            let vals: Vec<String> = v.values.iter().map(|x| quote(x)).collect();
            match vals.as_slice() {
                [one] => format!("{near}.{} = {one}", colname(v.col.1)),
                _ => format!("{near}.{} IN ({})", colname(v.col.1), vals.join(", ")),
            }
        })
        .collect();
    if let Some(c) = name_col {
        for x in &plan.literals {
            wheres.push(format!("{near}.{} = {}", colname(c), quote(&x.text)));
        }
    }
    let (lt, pt) = (cx.tname(l.link), cx.tname(l.parent));
    Some(Built {
        sql: format!(
            "SELECT {} FROM {lt} JOIN {pt} AS {near} ON {lt}.{} = {near}.{key} \
             JOIN {pt} AS {far} ON {lt}.{} = {far}.{key} WHERE {}",
            cols.join(", "),
            cx.ident(&link_t.columns[l.near].name),
            cx.ident(&link_t.columns[l.far].name),
            wheres.join(" AND ")
        ),
        strategy: "list",
    })
}
