//! Vocabulary: which words of a question the generator may read past
//! (relationship verbs, words inside schema names, generic nouns) and the
//! messages for questions it cannot place at all.

use crate::domain::SchemaInfo;

use super::context::Ctx;
use super::linking::{INTENT_WORDS, Link};
use super::{NEGATIONS, Reason};

/// Why no table could be chosen, naming the words tried and the tables known.
pub(super) fn no_table_reason(cx: &Ctx) -> Reason {
    let words: Vec<&str> = cx
        .tokens
        .iter()
        .filter(|t| {
            !crate::text::is_question_filler(&t.lower) && !INTENT_WORDS.contains(&t.lower.as_str())
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
pub(super) fn looks_like_verb(w: &str) -> bool {
    RELATIONSHIP_VERBS.contains(&w) || (w.len() >= 4 && (w.ends_with("ed") || w.ends_with("ing")))
}

/// A word inside a table or column name ("schooler" in `Highschooler`, "car"
/// in `cars_data`), a comparative or superlative, or a generic noun: the
/// linked names carry its meaning.
pub(super) fn part_of_schema_name(schema: &SchemaInfo, w: &str) -> bool {
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
    let stem = crate::text::stem(w);
    if stem.len() < 3 {
        return false;
    }
    let flat = |n: &str| n.to_ascii_lowercase().replace(['_', ' '], "");
    schema.tables.iter().any(|t| {
        flat(&t.name).contains(&stem) || t.columns.iter().any(|c| flat(&c.name).contains(&stem))
    })
}

/// Stops a question with words that link to nothing and that reading
/// past would change its meaning; relationship verbs and parts of schema
/// names are read past.
pub(super) fn unknown_words(cx: &Ctx, negation_read: bool) -> Result<(), Reason> {
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
                && !crate::text::is_question_filler(&t.lower)
                && !INTENT_WORDS.contains(&t.lower.as_str())
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

/// Relationship verbs and linking words that foreign-key joins express.
const RELATIONSHIP_VERBS: &[&str] = &[
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
