//! Vocabulary: which words of a question the generator may read past
//! (relationship verbs, words inside schema names, generic nouns), the
//! place and language adjectives it reads as stored values ("French
//! singers", "countries that speak Dutch"), and the messages for questions
//! it cannot place at all.

use crate::domain::SchemaInfo;
use crate::text::Token;

use super::context::Ctx;
use super::linking::{INTENT_WORDS, Link, Mention, is_numeric};
use super::{NEGATIONS, Reason};

/// Adjectives of places and the place a stored value names ("French" →
/// "France", "Asian" → "Asia").
const PLACE_ADJECTIVES: &[(&str, &str)] = &[
    ("american", "United States"),
    ("australian", "Australia"),
    ("austrian", "Austria"),
    ("belgian", "Belgium"),
    ("brazilian", "Brazil"),
    ("british", "United Kingdom"),
    ("canadian", "Canada"),
    ("chinese", "China"),
    ("danish", "Denmark"),
    ("dutch", "Netherlands"),
    ("english", "England"),
    ("finnish", "Finland"),
    ("french", "France"),
    ("german", "Germany"),
    ("greek", "Greece"),
    ("hungarian", "Hungary"),
    ("indian", "India"),
    ("irish", "Ireland"),
    ("italian", "Italy"),
    ("japanese", "Japan"),
    ("korean", "Korea"),
    ("mexican", "Mexico"),
    ("norwegian", "Norway"),
    ("polish", "Poland"),
    ("portuguese", "Portugal"),
    ("russian", "Russia"),
    ("scottish", "Scotland"),
    ("spanish", "Spain"),
    ("swedish", "Sweden"),
    ("swiss", "Switzerland"),
    ("turkish", "Turkey"),
    ("african", "Africa"),
    ("asian", "Asia"),
    ("european", "Europe"),
    ("north american", "North America"),
    ("south american", "South America"),
];

/// Adjectives that also name a language ("English", "Dutch").
const LANGUAGES: &[&str] = &[
    "arabic",
    "chinese",
    "danish",
    "dutch",
    "english",
    "finnish",
    "french",
    "german",
    "greek",
    "hindi",
    "hungarian",
    "italian",
    "japanese",
    "korean",
    "norwegian",
    "polish",
    "portuguese",
    "russian",
    "spanish",
    "swedish",
    "turkish",
];

/// The mentions with place and language adjectives read as stored values:
/// a language adjective ("speak Dutch") is a value of a column named for
/// languages when the schema has one, else a place adjective ("French
/// singers", "Asian countries") is the place's stored value ("France",
/// "Asia") wherever a column holds it. A capitalised adjective the linker
/// took for a literal, or a lower-case one it left unread, is replaced;
/// quoted text stays literal, and an adjective no column holds stays as
/// it was.
pub(super) fn adjective_values(
    schema: &SchemaInfo,
    tokens: &[Token],
    mentions: &[Mention],
) -> Vec<Mention> {
    let mut out: Vec<Mention> = Vec::with_capacity(mentions.len());
    let mut next = 0;
    let mut i = 0;
    while i < tokens.len() {
        if let Some(m) = mentions.get(next).filter(|m| m.start == i) {
            let link = match &m.link {
                Link::Literal(_) if !tokens[i].quoted => {
                    adjective_value(schema, tokens, m.start, m.end)
                }
                _ => None,
            };
            out.push(Mention {
                start: m.start,
                end: m.end,
                link: link.unwrap_or_else(|| m.link.clone()),
            });
            i = m.end.max(i + 1);
            next += 1;
            continue;
        }
        if !tokens[i].quoted
            && let Some(link) = adjective_value(schema, tokens, i, i + 1)
        {
            out.push(Mention {
                start: i,
                end: i + 1,
                link,
            });
        }
        i += 1;
    }
    out
}

/// The stored value the adjective of tokens `start..end` stands for, as a
/// value mention: the place where a column holds it, else the language;
/// the language first when speech is near ("speak Dutch", "where Chinese
/// is spoken", "the English language").
fn adjective_value(
    schema: &SchemaInfo,
    tokens: &[Token],
    start: usize,
    end: usize,
) -> Option<Link> {
    let word = tokens[start..end]
        .iter()
        .map(|t| t.lower.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let speech = tokens[start.saturating_sub(2)..(end + 4).min(tokens.len())]
        .iter()
        .any(|t| {
            matches!(
                t.lower.as_str(),
                "speak" | "speaks" | "spoken" | "speaking" | "language" | "languages"
            )
        });
    if speech {
        language_value(schema, &word).or_else(|| place_value(schema, &word))
    } else {
        place_value(schema, &word).or_else(|| language_value(schema, &word))
    }
}

/// "French" → the stored "France" of the columns that hold it.
fn place_value(schema: &SchemaInfo, word: &str) -> Option<Link> {
    let (_, place) = PLACE_ADJECTIVES.iter().find(|(a, _)| *a == word)?;
    let hits: Vec<(usize, usize, String)> = schema
        .tables
        .iter()
        .enumerate()
        .flat_map(|(t, table)| {
            table
                .columns
                .iter()
                .enumerate()
                .filter_map(move |(c, col)| {
                    col.sample_values
                        .iter()
                        .find(|v| v.eq_ignore_ascii_case(place))
                        .map(|v| (t, c, v.clone()))
                })
        })
        .collect();
    (!hits.is_empty()).then_some(Link::Value(hits))
}

/// "Dutch" → a value of the columns named for languages: the stored
/// spelling when their values are known, else the capitalised word.
fn language_value(schema: &SchemaInfo, word: &str) -> Option<Link> {
    if !LANGUAGES.contains(&word) {
        return None;
    }
    let spelled = {
        let mut c = word.chars();
        c.next()
            .map(|f| f.to_uppercase().chain(c).collect::<String>())
            .unwrap_or_default()
    };
    let mut hits = Vec::new();
    for (t, table) in schema.tables.iter().enumerate() {
        for (c, col) in table.columns.iter().enumerate() {
            // A column named for languages, not a code or an id of one.
            let name = col.name.to_ascii_lowercase();
            if !(name.ends_with("language") || name.ends_with("languages")) || is_numeric(col) {
                continue;
            }
            match col
                .sample_values
                .iter()
                .find(|v| v.eq_ignore_ascii_case(word))
            {
                Some(v) => hits.push((t, c, v.clone())),
                None if col.sample_values.is_empty() => hits.push((t, c, spelled.clone())),
                None => {}
            }
        }
    }
    (!hits.is_empty()).then_some(Link::Value(hits))
}

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
            let comparison =
                matches!(t.lower.as_str(), "no" | "not") && negated_comparison(cx.word(i + 1));
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

/// Comparatives that "no" or "not" before them turn into the opposite
/// comparison ("no more than 3", "not higher than 4"), not a negation.
pub(super) fn negated_comparison(w: &str) -> bool {
    matches!(
        w,
        "less"
            | "more"
            | "fewer"
            | "greater"
            | "longer"
            | "later"
            | "higher"
            | "lower"
            | "larger"
            | "smaller"
            | "bigger"
            | "older"
            | "younger"
            | "shorter"
            | "heavier"
            | "lighter"
    )
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
