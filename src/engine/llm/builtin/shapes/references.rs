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
/// referenced table (not the subject's own mention).
fn reference(cx: &Ctx, subject: usize) -> Option<Reference> {
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
        let named = cx.mentions.iter().any(|m| {
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
                return false;
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
            role_column || target_named
        });
        if named {
            return Some(Reference {
                fk: fk_col,
                table: target,
                key,
                role: role.join("_"),
            });
        }
    }
    None
}
