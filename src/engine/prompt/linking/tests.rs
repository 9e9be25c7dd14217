use super::*;
use crate::domain::ForeignKey;
use crate::engine::prompt::tests::{big_schema, col, fk, shop, table};

fn best(question: &str, schema: &SchemaInfo) -> String {
    let scores = table_scores(question, schema);
    scores
        .iter()
        .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(a.0)))
        .map(|(t, _)| t.clone())
        .unwrap()
}

#[test]
fn tables_are_linked_by_names_columns_and_synonyms() {
    let s = shop();
    assert_eq!(best("List all products", &s), "products");
    assert_eq!(best("Which order had the largest total?", &s), "orders");
    // No table is named: a column ("signup date") and a synonym ("nation"
    // for country) still point at customers.
    assert_eq!(best("Show the signup dates", &s), "customers");
    assert_eq!(best("Count people per nation", &s), "customers");
    let scores = table_scores("What is the weather?", &s);
    assert!(scores.values().all(|v| *v == 0.0), "{scores:?}");
}

#[test]
fn a_word_every_table_has_counts_little() {
    // `id` and `name` are everywhere; `price` is only in products.
    let s = shop();
    let scores = table_scores("name and price", &s);
    assert!(scores["products"] > 1.5 * scores["customers"], "{scores:?}");
}

#[test]
fn the_central_entity_wins_even_when_many_tables_reference_it() {
    let s = big_schema();
    let scores = table_scores("customers from Japan", &s);
    let top = best("customers from Japan", &s);
    assert_eq!(top, "customers", "{:?}", scores.get("customers"));
}

#[test]
fn paths_join_picked_tables_through_unnamed_ones() {
    // a → b → c → d, and e alone; a and d are named.
    let t = |name: &str, fks: Vec<ForeignKey>| {
        table(
            name,
            vec![col("id", "INTEGER"), col("ref_id", "INTEGER")],
            fks,
        )
    };
    let s = SchemaInfo {
        tables: vec![
            t("alpha", vec![fk("ref_id", "beta")]),
            t("beta", vec![fk("ref_id", "gamma")]),
            t("gamma", vec![fk("ref_id", "delta")]),
            t("delta", vec![]),
            t("epsilon", vec![fk("ref_id", "delta")]),
        ],
    };
    let prepared = Prepared::new(&s);
    let linker = Linker::new("alpha and delta", &s, &prepared, &[None; 5], &[]);
    let (chosen, referenced) = linker.closure();
    let names = |v: &[usize]| {
        v.iter()
            .map(|&i| s.tables[i].name.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&chosen), ["alpha", "delta", "gamma", "beta"]);
    assert!(referenced.is_empty());

    // Too far apart: no path is added.
    let mut far = s.clone();
    far.tables[1].foreign_keys.clear();
    far.tables[1].foreign_keys.push(fk("ref_id", "beta2"));
    far.tables
        .insert(2, t("beta2", vec![fk("ref_id", "beta3")]));
    far.tables
        .insert(3, t("beta3", vec![fk("ref_id", "gamma")]));
    let prepared = Prepared::new(&far);
    let linker = Linker::new("alpha and delta", &far, &prepared, &[None; 7], &[]);
    let (chosen, referenced) = linker.closure();
    assert_eq!(names_in(&far, &chosen), ["alpha", "delta"]);
    assert_eq!(
        names_in(&far, &referenced),
        ["beta"],
        "what alpha references"
    );
}

fn names_in<'a>(s: &'a SchemaInfo, v: &[usize]) -> Vec<&'a str> {
    v.iter().map(|&i| s.tables[i].name.as_str()).collect()
}

#[test]
fn retrieval_rank_counts_when_words_do_not_match() {
    let s = shop();
    let rank = [None, None, Some(0)];
    let prepared = Prepared::new(&s);
    let linker = Linker::new("What do we sell the most?", &s, &prepared, &rank, &[]);
    assert_eq!(linker.seeds(), vec![2]);
}

#[test]
fn value_hints_match_whole_words_of_stored_values() {
    let s = shop();
    let hints = value_hints("How many orders were shipped to Germany?", &s);
    let found: Vec<(&str, &str, Vec<&str>)> = hints
        .iter()
        .map(|h| {
            (
                h.table.as_str(),
                h.column.as_str(),
                h.matched.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        found,
        vec![
            ("customers", "country", vec!["Germany"]),
            ("orders", "status", vec!["shipped"]),
        ]
    );
    assert_eq!(hints[0].samples, ["France", "Japan", "Brazil"]);
    // "Toy" is not "Toys", "garden" inside "gardening" is not a value,
    // and a named column gets samples without a match.
    let hints = value_hints("Gardening toy per category", &s);
    assert_eq!(hints.len(), 1);
    assert_eq!(
        (hints[0].column.as_str(), hints[0].matched.len()),
        ("category", 0)
    );
    assert_eq!(hints[0].samples, ["Books", "Garden", "Toys"]);
    assert!(value_hints("What is the weather?", &s).is_empty());
}

#[test]
fn sections_are_deterministic_and_within_budget() {
    let s = Arc::new(big_schema());
    let retrieved: Vec<ContextItem> = ["orders", "hr_logs"]
        .iter()
        .map(|t| ContextItem {
            id: (*t).into(),
            kind: crate::domain::TrainingKind::Ddl,
            score: 0.5,
            content: s.table(t).unwrap().to_ddl(),
            sql: None,
        })
        .collect();
    for budget in [0, 100, 400, 1000, 3000, 10_000] {
        let q = "total amount of orders per sales channel";
        let a = schema_section(q, &s, &retrieved, &[], budget);
        let b = schema_section(q, &s, &retrieved, &[], budget);
        assert_eq!(a.blocks, b.blocks);
        // The second call used the cached preparation of the same schema.
        assert!(Arc::ptr_eq(&prepared(&s), &prepared(&s)));
        assert!(a.cost <= budget && a.linked);
        let real: usize = a.blocks.iter().map(|b| block_cost(b)).sum();
        assert_eq!(real, a.cost, "budget {budget}: {:#?}", a.blocks);
    }
}

#[test]
fn preparations_follow_schema_identity() {
    let a = Arc::new(shop());
    let b = Arc::new(shop());
    let pa = prepared(&a);
    assert!(Arc::ptr_eq(&pa, &prepared(&a)));
    assert!(
        !Arc::ptr_eq(&pa, &prepared(&b)),
        "another Arc is another schema"
    );
    let mut changed = shop();
    changed.tables.pop();
    let c = Arc::new(changed);
    assert_eq!(prepared(&c).full.len(), 2);
}
