//! The tokenisers: a question into [`Token`]s for the offline generator
//! (quoted literals, numbers, capitalisation), identifiers into words for
//! the generator, text into stemmed content words for schema linking, and
//! text into lower-case pieces for the retrieval embedder. The splitting
//! rules differ where their readers differ (see the table in [`super`]).

use super::{is_linking_stopword, stem};

/// One token of a question.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// Lower-case text.
    pub lower: String,
    /// Text as written (for literals).
    pub raw: String,
    /// [`stem`](super::stem) of `lower`.
    pub stem: String,
    /// Written inside quotes: always a literal value.
    pub quoted: bool,
    /// Starts with a capital letter and is not the first word.
    pub capitalised: bool,
}

impl Token {
    pub fn number(&self) -> Option<f64> {
        if self.quoted {
            return None;
        }
        self.lower.replace(',', "").parse::<f64>().ok()
    }
}

/// Split into words, numbers and quoted literals; punctuation is dropped.
pub fn question_tokens(question: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let chars: Vec<char> = question.chars().collect();
    let mut i = 0;
    let mut first = true;
    while i < chars.len() {
        let c = chars[i];
        let quote_open =
            matches!(c, '\'' | '"' | '“' | '‘') && (i == 0 || !chars[i - 1].is_alphanumeric());
        if quote_open {
            let close = match c {
                '“' => '”',
                '‘' => '’',
                other => other,
            };
            // The closing quote is one not followed by a letter ("O'Neil" stays whole).
            let closing = chars[i + 1..].iter().enumerate().position(|(k, &x)| {
                x == close && !chars.get(i + 2 + k).is_some_and(|n| n.is_alphanumeric())
            });
            if let Some(len) = closing {
                let raw: String = chars[i + 1..i + 1 + len].iter().collect();
                let raw = raw.trim().to_string();
                if !raw.is_empty() {
                    out.push(make(raw, true, false));
                }
                i += len + 2;
                first = false;
                continue;
            }
        }
        if c.is_alphanumeric() {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric()
                    || (matches!(chars[i], '.' | ',')
                        && chars[i - 1].is_ascii_digit()
                        && chars.get(i + 1).is_some_and(|n| n.is_ascii_digit()))
                    || (matches!(chars[i], '\'' | '’' | '-')
                        && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric())))
            {
                i += 1;
            }
            let raw: String = chars[start..i].iter().collect();
            // "customer's" → "customer"
            let raw = raw
                .strip_suffix("'s")
                .or_else(|| raw.strip_suffix("’s"))
                .map(str::to_string)
                .unwrap_or(raw);
            let capitalised = !first && raw.chars().next().is_some_and(char::is_uppercase);
            out.push(make(raw, false, capitalised));
            first = false;
            continue;
        }
        i += 1;
    }
    out
}

fn make(raw: String, quoted: bool, capitalised: bool) -> Token {
    let lower = raw.to_lowercase();
    Token {
        stem: super::stem(&lower),
        lower,
        raw,
        quoted,
        capitalised,
    }
}

/// Words of an identifier: split on `_`, `-`, spaces and camelCase.
pub fn identifier_words(ident: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in ident.chars() {
        if c == '_' || c == '-' || c == ' ' || c == '.' {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !cur.is_empty() {
            words.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

/// Content words of `text` for schema linking: `split_humps` pieces
/// without [linking stop words](super::is_linking_stopword) (before and
/// after stemming), [stemmed](super::stem), in order, duplicates kept.
pub fn linking_words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for raw in split_humps(text) {
        if is_linking_stopword(&raw) {
            continue;
        }
        let s = stem(&raw);
        if !is_linking_stopword(&s) {
            out.push(s);
        }
    }
    out
}

/// Lower-case pieces of `text`: runs of letters or digits, split at
/// camelCase humps (`unitPrice`, `HTTPServer` → `http`, `server`).
fn split_humps(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let prev = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + 1).copied();
        let hump = c.is_uppercase()
            && prev.is_some_and(|p| {
                p.is_lowercase()
                    || p.is_ascii_digit()
                    || (p.is_uppercase() && next.is_some_and(char::is_lowercase))
            });
        if hump && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Lower-case pieces of `text` for retrieval: runs of letters and digits,
/// split at camelCase humps and at changes between letters and digits, so
/// `order_items.unitPrice2` gives order, items, unit, price, 2. Neither
/// stemmed nor filtered: the embedder weighs stop words itself.
pub fn retrieval_pieces(text: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut run: Vec<char> = Vec::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_alphanumeric() {
            run.push(c);
            continue;
        }
        let mut start = 0;
        for i in 1..=run.len() {
            if i == run.len() || is_boundary(&run, i) {
                pieces.push(
                    run[start..i]
                        .iter()
                        .flat_map(|c| c.to_lowercase())
                        .collect(),
                );
                start = i;
            }
        }
        run.clear();
    }
    pieces
}

/// Whether a word boundary falls between `run[i - 1]` and `run[i]`.
fn is_boundary(run: &[char], i: usize) -> bool {
    let (prev, cur) = (run[i - 1], run[i]);
    let next_lower = run.get(i + 1).is_some_and(|c| c.is_lowercase());
    (prev.is_lowercase() && cur.is_uppercase())
        // "HTTPServer": the last capital starts the next word.
        || (prev.is_uppercase() && cur.is_uppercase() && next_lower)
        || (prev.is_alphabetic() && cur.is_numeric())
        || (prev.is_numeric() && cur.is_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn question_tokens_keep_quotes_and_numbers() {
        let t = question_tokens("Orders of 'Small Business' clients over 1,000.50 in Germany?");
        let raws: Vec<&str> = t.iter().map(|t| t.raw.as_str()).collect();
        assert_eq!(
            raws,
            [
                "Orders",
                "of",
                "Small Business",
                "clients",
                "over",
                "1,000.50",
                "in",
                "Germany"
            ]
        );
        assert!(t[2].quoted);
        assert_eq!(t[5].number(), Some(1000.5));
        assert!(t[7].capitalised && !t[0].capitalised);
        assert_eq!(t[3].stem, "client");
        assert_eq!(question_tokens("O'Brien's orders")[0].raw, "O'Brien");
    }

    #[test]
    fn identifiers_split() {
        assert_eq!(identifier_words("order_items"), ["order", "items"]);
        assert_eq!(identifier_words("hireDate"), ["hire", "date"]);
        assert_eq!(identifier_words("CustomerID"), ["customer", "id"]);
    }

    #[test]
    fn linking_words_meet_identifiers() {
        assert_eq!(
            linking_words("order_items.unitPrice"),
            ["order", "item", "unit", "pric"]
        );
        assert_eq!(
            linking_words("unit prices of the order items"),
            ["unit", "pric", "order", "item"]
        );
        assert_eq!(linking_words("HTTPServer_id"), ["http", "server", "id"]);
        assert_eq!(
            linking_words("Which categories were hired?"),
            ["category", "hir"]
        );
        assert_eq!(linking_words("hire_date"), ["hir", "dat"]);
        assert_eq!(linking_words("address_line_1"), ["address", "lin", "1"]);
        assert!(linking_words("How many are there?").is_empty());
    }

    #[test]
    fn retrieval_pieces_split_humps_and_digits() {
        assert_eq!(
            retrieval_pieces("order_items.unitPrice2"),
            ["order", "items", "unit", "price", "2"]
        );
        assert_eq!(
            retrieval_pieces("HTTPServer Q3sales"),
            ["http", "server", "q", "3", "sales"]
        );
        // The linking split keeps letters and digits together.
        assert_eq!(split_humps("Q3sales"), ["q3sales"]);
    }
}
