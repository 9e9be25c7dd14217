//! Language families (issue 14): place and language adjectives read as
//! stored values, and the other wordings of filters, groups and set
//! operations the shapes read without training.

use super::*;

/// An atlas: countries with a continent and a form of government, the
/// languages each speaks (too many to sample), cities (a population too),
/// and singers with their country of citizenship.
fn atlas() -> Arc<SchemaInfo> {
    Arc::new(SchemaInfo {
        tables: vec![
            TableInfo {
                name: "country".into(),
                columns: vec![
                    col("code", "TEXT", &[]),
                    col("name", "TEXT", &[]),
                    col("continent", "TEXT", &["Africa", "Asia", "Europe"]),
                    col("region", "TEXT", &[]),
                    col("government_form", "TEXT", &["Monarchy", "Republic"]),
                    col("population", "INTEGER", &[]),
                    col("life_expectancy", "REAL", &[]),
                ],
                primary_key: vec!["code".into()],
                ..Default::default()
            },
            TableInfo {
                name: "country_language".into(),
                columns: vec![
                    col("country_code", "TEXT", &[]),
                    col("language", "TEXT", &[]),
                    col("is_official", "TEXT", &["F", "T"]),
                    col("percentage", "REAL", &[]),
                ],
                primary_key: vec!["country_code".into(), "language".into()],
                foreign_keys: vec![ForeignKey {
                    columns: vec!["country_code".into()],
                    ref_table: "country".into(),
                    ref_columns: vec!["code".into()],
                }],
                ..Default::default()
            },
            TableInfo {
                name: "city".into(),
                columns: vec![
                    col("id", "INTEGER", &[]),
                    col("name", "TEXT", &[]),
                    col("country_code", "TEXT", &[]),
                    col("population", "INTEGER", &[]),
                ],
                primary_key: vec!["id".into()],
                foreign_keys: vec![ForeignKey {
                    columns: vec!["country_code".into()],
                    ref_table: "country".into(),
                    ref_columns: vec!["code".into()],
                }],
                ..Default::default()
            },
            table(
                "singer",
                vec![
                    col("id", "INTEGER", &[]),
                    col("name", "TEXT", &[]),
                    col("citizenship", "TEXT", &["France", "Netherlands"]),
                    col("age", "INTEGER", &[]),
                ],
                vec![],
            ),
        ],
    })
}

#[track_caller]
fn atlas_sql(q: &str) -> String {
    let req = GenerationRequest {
        schema: atlas(),
        ..request(q)
    };
    match gen_req(&req).0 {
        Ok(s) => s,
        Err(r) => panic!("{q:?} was unanswerable: {r}"),
    }
}

#[test]
fn place_adjectives_are_the_stored_place() {
    assert_eq!(
        atlas_sql("What is the average age of all French singers?"),
        "SELECT AVG(age) AS average_age FROM singer WHERE citizenship = 'France'"
    );
    assert_eq!(
        atlas_sql("What are the names of the singers who are not French citizens?"),
        "SELECT DISTINCT name FROM singer WHERE citizenship <> 'France' ORDER BY name"
    );
    assert_eq!(
        atlas_sql("How many Asian countries are there?"),
        "SELECT COUNT(*) FROM country WHERE continent = 'Asia'"
    );
}

#[test]
fn language_adjectives_are_values_of_a_language_column() {
    // Languages are not sampled: the adjective is the stored spelling.
    assert_eq!(
        atlas_sql("Which regions speak Dutch or English?"),
        "SELECT DISTINCT country.region FROM country JOIN country_language \
         ON country_language.country_code = country.code \
         WHERE country_language.language IN ('Dutch', 'English') ORDER BY country.region"
    );
    // Quoted text stays a literal.
    assert!(atlas_sql("Which singers are named 'French'?").contains("name = 'French'"));
}

#[test]
fn not_before_a_comparative_is_the_opposite_comparison() {
    assert_eq!(
        atlas_sql("What is the average age of the singers whose age is not higher than 40?"),
        "SELECT AVG(age) AS average_age FROM singer WHERE age <= 40"
    );
    assert_eq!(
        atlas_sql("Which countries have a population not smaller than 1000?"),
        "SELECT name FROM country WHERE population >= 1000"
    );
}

#[test]
fn an_aggregate_compared_per_group_is_a_having() {
    // "population" is also a city column: the group's table wins.
    assert_eq!(
        atlas_sql(
            "What is the total population for each continent whose average life expectancy is below 72?"
        ),
        "SELECT SUM(population) AS total_population, continent FROM country \
         GROUP BY continent HAVING AVG(life_expectancy) < 72 ORDER BY continent"
    );
    // Without groups there is nothing to compare the aggregate of.
    assert_eq!(
        atlas_sql("What is the total population of countries whose life expectancy is over 72?"),
        "SELECT SUM(population) AS total_population FROM country WHERE life_expectancy > 72"
    );
}

#[test]
fn a_yes_no_column_named_as_an_adjective_is_its_yes() {
    assert_eq!(
        atlas_sql("Which regions have countries where Dutch is the official language?"),
        "SELECT DISTINCT country.region FROM country JOIN country_language \
         ON country_language.country_code = country.code \
         WHERE country_language.language = 'Dutch' AND country_language.is_official = 'T' \
         ORDER BY country.region"
    );
}
