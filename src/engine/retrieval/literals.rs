//! The literal facts of a question that a sentence model blurs: the numbers
//! it names and whether it is negated. "How many high schoolers are in grade
//! 9 or 10?" and "How many high schoolers are in each grade?" are near-
//! identical to all-MiniLM-L6-v2, and so are "students who have a dog but
//! not a cat" and "students who have a cat or dog"; the SQL differs in
//! exactly these words. Hybrid ranking ([`super::hybrid`]) charges a
//! candidate for each fact it does not share with the question.
//!
//! Language only, no schema: numbers as digits or the words two to twelve
//! ("one" is too often a pronoun), quoted literals excluded (codes such as
//! '123' are values, not counts); negation as `not`, `no`, `never`,
//! `without`, `none`, `nor`, `neither` or a `n't` contraction.

use std::collections::BTreeSet;

use crate::text::question_tokens;

/// Numbers and negation of one text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Literals {
    /// Numbers named, normalised (`2`, `2.5`).
    pub numbers: BTreeSet<String>,
    pub negated: bool,
}

impl Literals {
    pub fn of(text: &str) -> Self {
        let mut out = Self::default();
        for t in question_tokens(text) {
            if t.quoted {
                continue;
            }
            if let Some(n) = t.number().or_else(|| word_number(&t.lower)) {
                out.numbers.insert(format!("{n}"));
            }
            out.negated |= is_negation(&t.lower);
        }
        out
    }

    /// How many of the two facts (the set of numbers, negation) differ.
    pub fn mismatches(&self, other: &Self) -> u8 {
        u8::from(self.numbers != other.numbers) + u8::from(self.negated != other.negated)
    }
}

fn word_number(word: &str) -> Option<f64> {
    let n = match word {
        "two" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        "ten" => 10,
        "eleven" => 11,
        "twelve" => 12,
        _ => return None,
    };
    Some(f64::from(n))
}

fn is_negation(word: &str) -> bool {
    matches!(
        word,
        "not" | "no" | "never" | "without" | "none" | "nor" | "neither" | "cannot"
    ) || word.ends_with("n't")
        || word.ends_with("n’t")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_digits_and_words_and_negation() {
        let a = Literals::of("How many high schoolers are there in grade 9 or 10?");
        assert_eq!(a.numbers, BTreeSet::from(["9".into(), "10".into()]));
        assert!(!a.negated);
        let b = Literals::of("Return the nationalities for which there are two or more people.");
        let c = Literals::of("What are the nationalities shared by at least 2 people?");
        assert_eq!((b.mismatches(&c), b.numbers.len()), (0, 1));
        assert!(Literals::of("students who don't have a cat").negated);
        assert!(Literals::of("Which shops run with no employees?").negated);
        assert!(!Literals::of("Which one is the oldest?").negated);
        assert!(Literals::of("Which one is the oldest?").numbers.is_empty());
        // A quoted code is a value, not a count.
        assert!(Literals::of("flights from '123'").numbers.is_empty());
    }

    #[test]
    fn each_differing_fact_counts_once() {
        let q = Literals::of("students who have a dog but do not have a cat");
        assert_eq!(
            q.mismatches(&Literals::of("students who have a cat or dog")),
            1
        );
        let r = Literals::of("How many are in grade 9 but not in grade 10?");
        assert_eq!(
            r.mismatches(&Literals::of("How many are in each grade?")),
            2
        );
        assert_eq!(r.mismatches(&r), 0);
    }
}
