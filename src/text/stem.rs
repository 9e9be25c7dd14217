//! The two light English stemmers: [`stem`] for linking questions to schema
//! names (prompt and generator), [`stem_conservative`] for the retrieval
//! embedder. They differ on purpose: `stem` lower-cases and cuts more
//! ("hire" → `hir`, "employee" → `employe`), which suits matching short
//! identifiers; `stem_conservative` expects lower-case input, keeps short
//! words and "-ee" whole and leaves the rest to character trigrams, and its
//! output is baked into persisted vectors.

/// Light suffix stripping, the same for question words and schema words,
/// so "categories"/"category", "hired"/"hire_date", "prices"/"price" meet.
pub fn stem(word: &str) -> String {
    let w = word.to_lowercase();
    if w.chars().count() <= 3 || w.chars().any(|c| c.is_ascii_digit()) {
        return w;
    }
    let mut s = if let Some(b) = w.strip_suffix("ies") {
        format!("{b}y")
    } else if w.ends_with("sses")
        || w.ends_with("xes")
        || w.ends_with("ches")
        || w.ends_with("shes")
    {
        w[..w.len() - 2].to_string()
    } else if w.ends_with('s') && !w.ends_with("ss") && !w.ends_with("us") && !w.ends_with("is") {
        w[..w.len() - 1].to_string()
    } else {
        w
    };
    for suffix in ["ing", "ed"] {
        if s.len() > suffix.len() + 2 && s.ends_with(suffix) {
            s.truncate(s.len() - suffix.len());
            let b = s.as_bytes();
            let n = b.len();
            if n >= 2 && b[n - 1] == b[n - 2] && !matches!(b[n - 1], b'l' | b's' | b'z') {
                s.pop();
            }
            break;
        }
    }
    if s.len() > 3 && s.ends_with('e') {
        s.pop();
    }
    s
}

/// Conservative English stemming for retrieval: plural and -ing/-ed
/// endings, then a final "e", so price, prices, priced and pricing meet.
/// Expects a lower-case word; anything but ASCII letters is left alone. A
/// wrong merge costs more than a missed one, and trigrams catch the rest.
pub fn stem_conservative(word: &str) -> String {
    if word.len() <= 3 || !word.bytes().all(|b| b.is_ascii_lowercase()) {
        return word.to_owned();
    }
    let mut w = if let Some(s) = word.strip_suffix("ies").filter(|s| s.len() >= 2) {
        format!("{s}y")
    } else if let Some(s) = word.strip_suffix("sses") {
        format!("{s}ss")
    } else if let Some(s) = word
        .strip_suffix("es")
        .filter(|s| s.len() >= 3 && ["s", "x", "z", "ch", "sh"].iter().any(|e| s.ends_with(e)))
    {
        s.to_owned()
    } else if let Some(s) = word
        .strip_suffix('s')
        .filter(|s| s.len() >= 3 && !["s", "u", "i"].iter().any(|e| s.ends_with(e)))
    {
        s.to_owned()
    } else if let Some(s) = word.strip_suffix("ied").filter(|s| s.len() >= 2) {
        format!("{s}y")
    } else if let Some(s) = word.strip_suffix("ing").filter(|s| s.len() >= 3) {
        undouble(s)
    } else if let Some(s) = word.strip_suffix("ed").filter(|s| s.len() >= 3) {
        undouble(s)
    } else {
        word.to_owned()
    };
    if w.len() >= 5 && w.ends_with('e') && !w.ends_with("ee") {
        w.pop();
    }
    w
}

/// "shipp" → "ship", but "bill" and "pass" keep their double letters.
fn undouble(s: &str) -> String {
    let b = s.as_bytes();
    let n = b.len();
    if n >= 3 && b[n - 1] == b[n - 2] && !matches!(b[n - 1], b'l' | b's' | b'z') {
        s[..n - 1].to_owned()
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linking_stems_meet() {
        assert_eq!(stem("categories"), stem("category"));
        assert_eq!(stem("hired"), stem("hire"));
        assert_eq!(stem("shipped"), stem("ship"));
        assert_eq!(stem("orders"), "order");
        assert_eq!(stem("status"), "status");
        assert_eq!(stem("prices"), stem("price"));
    }

    #[test]
    fn conservative_stemming_merges_inflections() {
        for (a, b) in [
            ("categories", "category"),
            ("orders", "order"),
            ("ordered", "ordering"),
            ("prices", "pricing"),
            ("boxes", "box"),
            ("addresses", "address"),
            ("shipped", "ship"),
            ("created", "create"),
        ] {
            assert_eq!(stem_conservative(a), stem_conservative(b), "{a} / {b}");
        }
        assert_eq!(stem_conservative("status"), "status");
        assert_eq!(stem_conservative("analysis"), "analysis");
        assert_eq!(stem_conservative("billing"), "bill");
        assert_eq!(stem_conservative("sales"), "sale");
    }

    #[test]
    fn the_two_stemmers_differ_where_documented() {
        assert_eq!(
            (stem("hire"), stem_conservative("hire")),
            ("hir".into(), "hire".into())
        );
        assert_eq!(
            (stem("employee"), stem_conservative("employee")),
            ("employe".into(), "employee".into())
        );
        assert_eq!(
            (stem("Orders"), stem_conservative("Orders")),
            ("order".into(), "Orders".into())
        );
    }
}
