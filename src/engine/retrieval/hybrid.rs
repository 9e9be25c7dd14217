//! Hybrid ranking: the embedder's (dense) ranking fused with a lexical one,
//! by score (`score`, the default: `w_d · dense + w_l · lexical`, both
//! cosines) or by weighted reciprocal rank fusion (`rrf`:
//! `w_d / (k + rank_d) + w_l / (k + rank_l)`).
//!
//! Why both: a sentence model sees that "Who are our VIP clients?" and "top
//! customers by total spend" ask the same thing, but its cosine between true
//! paraphrases is low (0.3–0.5 for all-MiniLM-L6-v2) and close to that of
//! merely related questions, while word overlap is sharp when the words are
//! shared ("singers" vs "stadiums"). Score fusion keeps the size of each
//! side's lead: when no candidate shares many words with the question (a
//! business rephrasing) the lexical cosines are all small and close, and the
//! dense order stands; rank fusion turns the smallest lexical lead into a
//! whole rank. docs/EVALUATION.md has both measured.
//!
//! The lexical score is the cosine of the built-in [`HashingEmbedder`]
//! (words, bigrams, character trigrams), computed on the fly over the dense
//! top candidates, so it works the same over every index backend and needs
//! no second index. It is also the score handed on with each fused result:
//! the built-in generator's reuse threshold was calibrated on it, and a dense
//! score alone is no licence to reuse SQL.
//!
//! The lexical lead gate (`lexical_lead`, `lexical_lead_min`): when one
//! candidate shares most of the question's words and n-grams and clearly
//! more than any other, it ranks first whatever the fused scores. Shared
//! words are decisive when they single one candidate out; a sentence model
//! sees two questions that differ in one content word ("dogs" / "cats",
//! "older" / "younger") as near-identical, and its cosines between such
//! near-duplicates spread more than their lexical cosines, so a plain sum
//! lets it overrule the word that decides the SQL. When no candidate stands
//! out lexically (business rephrasings share few words with anything) the
//! gate stays shut and the fused order stands.
//!
//! The literal penalty (`literal_penalty`, score fusion only): each of two
//! literal facts ([`Literals`]: the set of numbers named, negation) that a
//! candidate does not share with the question costs it `literal_penalty` of
//! fused score. The model rates "in grade 9 or 10" and "in each grade", or
//! "a dog but not a cat" and "a cat or dog", as near-identical, and the
//! lexical cosine sees only a word or two of difference; the SQL differs in
//! exactly those words. The gate still looks at lexical cosines alone.
//!
//! Question→SQL examples (`lexical_examples`): the fused top k, then the
//! lexical top k that are not among them, best lexical first. The built-in
//! generator adapts an example whose words it can map onto the question's,
//! which the candidate sharing most of its words is likeliest to be; the
//! model may rank it low (an unknown token such as a quoted code means
//! nothing to it) and the fused order drop it. The extras come after the
//! fused ones, so a prompt built from a budgeted prefix keeps the fused
//! examples first.

use super::literals::Literals;
use super::{Embedder as _, HashingEmbedder, ScoredId};
use crate::config::{FusionKind, HybridConfig};
use crate::domain::TrainingKind;
use crate::store::TrainingItem;

/// Fusion settings (`[retrieval.hybrid]`).
#[derive(Debug, Clone, PartialEq)]
pub struct HybridRanker {
    pub fusion: FusionKind,
    pub dense_weight: f32,
    pub lexical_weight: f32,
    pub rrf_k: f32,
    /// Dense candidates fetched per kind before fusion.
    pub candidates: usize,
    /// The lexical top ranks first when its lexical cosine leads every
    /// other candidate's by at least this (0: no gate)…
    pub lexical_lead: f32,
    /// …and is at least this.
    pub lexical_lead_min: f32,
    /// Question→SQL examples: the lexical top k follow the fused top k
    /// ([`HybridRanker::rank_examples`]).
    pub lexical_examples: bool,
    /// Score fusion: fused score a candidate loses per literal fact (numbers,
    /// negation) it does not share with the question (0: none).
    pub literal_penalty: f32,
}

impl From<&HybridConfig> for HybridRanker {
    fn from(c: &HybridConfig) -> Self {
        Self {
            fusion: c.fusion,
            dense_weight: c.dense_weight,
            lexical_weight: c.lexical_weight,
            rrf_k: c.rrf_k,
            candidates: c.candidates,
            lexical_lead: c.lexical_lead,
            lexical_lead_min: c.lexical_lead_min,
            lexical_examples: c.lexical_examples,
            literal_penalty: c.literal_penalty,
        }
    }
}

impl Default for HybridRanker {
    fn default() -> Self {
        (&HybridConfig::default()).into()
    }
}

/// A candidate before fusion: its dense score and its text.
#[derive(Debug, Clone)]
pub struct Candidate<'a> {
    pub id: &'a str,
    pub dense: f32,
    pub text: &'a str,
}

/// A fused result.
#[derive(Debug, Clone, PartialEq)]
pub struct Fused {
    pub id: String,
    pub dense: f32,
    /// Hashing-embedder cosine of the question and the candidate's text.
    pub lexical: f32,
    pub fused: f32,
}

impl HybridRanker {
    /// How many dense candidates to fetch when `k` results are wanted.
    pub fn pool(&self, k: usize) -> usize {
        self.candidates.max(k)
    }

    /// Fuse `candidates` for `question` and keep the best `k`.
    pub fn rank(&self, question: &str, candidates: &[Candidate<'_>], k: usize) -> Vec<Fused> {
        let scored = lexical_scores(question, candidates);
        self.fuse_for(question, candidates, &scored, k)
    }

    /// [`rank`](Self::rank) for question→SQL examples: the fused top `k`,
    /// then (with `lexical_examples`) the candidates among the lexical top
    /// `k` that the fused top `k` misses, best lexical first; at most `2k`.
    pub fn rank_examples(
        &self,
        question: &str,
        candidates: &[Candidate<'_>],
        k: usize,
    ) -> Vec<Fused> {
        let scored = lexical_scores(question, candidates);
        self.fuse_examples(question, candidates, &scored, k)
    }

    /// [`fuse`](Self::fuse) for question→SQL examples, as
    /// [`rank_examples`](Self::rank_examples) says.
    pub fn fuse_examples(
        &self,
        question: &str,
        candidates: &[Candidate<'_>],
        scored: &[(usize, f32, f32)],
        k: usize,
    ) -> Vec<Fused> {
        let mut all = self.fuse_for(question, candidates, scored, scored.len());
        if !self.lexical_examples || all.len() <= k {
            all.truncate(k);
            return all;
        }
        // Stable sort: lexical ties keep the fused order.
        let mut by_lexical: Vec<usize> = (0..all.len()).collect();
        by_lexical.sort_by(|&a, &b| all[b].lexical.total_cmp(&all[a].lexical));
        let extras: Vec<Fused> = by_lexical
            .into_iter()
            .take(k)
            .filter(|&i| i >= k)
            .map(|i| all[i].clone())
            .collect();
        all.truncate(k);
        all.extend(extras);
        all
    }

    /// [`fuse`](Self::fuse) for `question`, charging the literal penalty
    /// (score fusion) from the candidates' texts.
    pub fn fuse_for(
        &self,
        question: &str,
        candidates: &[Candidate<'_>],
        scored: &[(usize, f32, f32)],
        k: usize,
    ) -> Vec<Fused> {
        if self.literal_penalty <= 0.0 || self.fusion != FusionKind::Score {
            return self.fuse(candidates, scored, k);
        }
        let q = Literals::of(question);
        let penalties: Vec<f32> = candidates
            .iter()
            .map(|c| self.literal_penalty * f32::from(q.mismatches(&Literals::of(c.text))))
            .collect();
        self.fuse_penalised(candidates, scored, &penalties, k)
    }

    /// Fuse with lexical scores already known: `scored[i]` is (candidate
    /// index, dense, lexical). No literal penalty (no question to compare).
    pub fn fuse(
        &self,
        candidates: &[Candidate<'_>],
        scored: &[(usize, f32, f32)],
        k: usize,
    ) -> Vec<Fused> {
        self.fuse_penalised(candidates, scored, &vec![0.0; candidates.len()], k)
    }

    /// Fuse, then subtract `penalties[i]` from candidate `i`'s fused score.
    fn fuse_penalised(
        &self,
        candidates: &[Candidate<'_>],
        scored: &[(usize, f32, f32)],
        penalties: &[f32],
        k: usize,
    ) -> Vec<Fused> {
        let id = |i: usize| candidates[i].id;
        let order = |key: fn(&(usize, f32, f32)) -> f32| {
            let mut v: Vec<&(usize, f32, f32)> = scored.iter().collect();
            v.sort_by(|a, b| key(b).total_cmp(&key(a)).then_with(|| id(a.0).cmp(id(b.0))));
            let mut rank = vec![0usize; candidates.len()];
            for (r, s) in v.into_iter().enumerate() {
                rank[s.0] = r + 1;
            }
            rank
        };
        let dense_rank = order(|s| s.1);
        let lexical_rank = order(|s| s.2);
        let mut out: Vec<Fused> = scored
            .iter()
            .map(|&(i, dense, lexical)| Fused {
                id: id(i).to_string(),
                dense,
                lexical,
                fused: match self.fusion {
                    FusionKind::Score => self.dense_weight * dense + self.lexical_weight * lexical,
                    FusionKind::Rrf => {
                        self.dense_weight / (self.rrf_k + dense_rank[i] as f32)
                            + self.lexical_weight / (self.rrf_k + lexical_rank[i] as f32)
                    }
                } - penalties[i],
            })
            .collect();
        out.sort_by(|a, b| {
            b.fused
                .total_cmp(&a.fused)
                .then_with(|| b.dense.total_cmp(&a.dense))
                .then_with(|| a.id.cmp(&b.id))
        });
        if let Some(leader) = self.lexical_leader(scored) {
            let leader = id(leader);
            if let Some(at) = out.iter().position(|f| f.id == leader) {
                out[..=at].rotate_right(1);
            }
        }
        out.truncate(k);
        out
    }

    /// The candidate the lexical lead gate puts first, if any: the one with
    /// the highest lexical cosine, when that is at least `lexical_lead_min`
    /// and at least `lexical_lead` above every other candidate's.
    fn lexical_leader(&self, scored: &[(usize, f32, f32)]) -> Option<usize> {
        if self.lexical_lead <= 0.0 {
            return None;
        }
        let (mut best, mut second): (Option<(usize, f32)>, f32) = (None, f32::NEG_INFINITY);
        for &(i, _, lexical) in scored {
            match best {
                Some((_, b)) if lexical <= b => second = second.max(lexical),
                _ => {
                    second = best.map_or(second, |(_, b)| second.max(b));
                    best = Some((i, lexical));
                }
            }
        }
        let (leader, top) = best?;
        (top >= self.lexical_lead_min && top - second >= self.lexical_lead).then_some(leader)
    }
}

/// (candidate index, dense, lexical) of every candidate.
fn lexical_scores(question: &str, candidates: &[Candidate<'_>]) -> Vec<(usize, f32, f32)> {
    let lexical = Lexical::default();
    let q = lexical.embed(question);
    candidates
        .iter()
        .enumerate()
        .map(|(i, c)| (i, c.dense, lexical.score(&q, c.text)))
        .collect()
}

/// Fuse the index's dense hits `found` of one `kind` using the text of
/// their store `items` (a hit whose item is gone is dropped, as retrieval
/// does); question→SQL examples as [`HybridRanker::rank_examples`] says.
pub fn rank_items<I: std::borrow::Borrow<TrainingItem>>(
    ranker: &HybridRanker,
    question: &str,
    kind: TrainingKind,
    found: &[ScoredId],
    items: &[I],
    k: usize,
) -> Vec<Fused> {
    let candidates: Vec<Candidate<'_>> = found
        .iter()
        .filter_map(|hit| {
            let item = items.iter().map(|i| i.borrow()).find(|i| i.id == hit.id)?;
            Some(Candidate {
                id: &hit.id,
                dense: hit.score,
                text: &item.content,
            })
        })
        .collect();
    match kind {
        TrainingKind::QuestionSql => ranker.rank_examples(question, &candidates, k),
        TrainingKind::Ddl | TrainingKind::Documentation => ranker.rank(question, &candidates, k),
    }
}

/// The lexical side: the hashing embedder's cosine.
#[derive(Debug, Default)]
pub struct Lexical(HashingEmbedder);

impl Lexical {
    pub fn embed(&self, text: &str) -> Vec<f32> {
        self.0.embed(text)
    }

    /// Cosine of an embedded question and `text`.
    pub fn score(&self, question: &[f32], text: &str) -> f32 {
        cosine(question, &self.0.embed(text))
    }
}

/// Dot product of two unit vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cands<'a>(rows: &'a [(&'a str, f32, &'a str)]) -> Vec<Candidate<'a>> {
        rows.iter()
            .map(|&(id, dense, text)| Candidate { id, dense, text })
            .collect()
    }

    #[test]
    fn rrf_adds_weighted_reciprocal_ranks() {
        let r = HybridRanker {
            fusion: FusionKind::Rrf,
            dense_weight: 1.0,
            lexical_weight: 2.0,
            rrf_k: 10.0,
            candidates: 5,
            lexical_lead: 0.0,
            lexical_lead_min: 0.0,
            lexical_examples: false,
            literal_penalty: 0.0,
        };
        let c = cands(&[("a", 0.9, ""), ("b", 0.5, ""), ("c", 0.1, "")]);
        // Lexical order is the reverse of the dense one.
        let scored = [(0, 0.9, 0.1), (1, 0.5, 0.5), (2, 0.1, 0.9)];
        let fused = r.fuse(&c, &scored, 3);
        let ids: Vec<&str> = fused.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, ["c", "b", "a"]);
        let c_score = 1.0 / 13.0 + 2.0 / 11.0;
        assert!((fused[0].fused - c_score).abs() < 1e-6, "{fused:?}");
        assert_eq!((fused[0].dense, fused[0].lexical), (0.1, 0.9));
        assert_eq!(r.fuse(&c, &scored, 1).len(), 1);
    }

    #[test]
    fn lexical_weight_zero_keeps_the_dense_order() {
        let r = HybridRanker {
            lexical_weight: 0.0,
            lexical_lead: 0.0,
            ..HybridRanker::default()
        };
        let c = cands(&[
            ("x", 0.8, "List the names of all stadiums."),
            ("y", 0.7, "How many singers are there?"),
        ]);
        let fused = r.rank("How many singers do we have?", &c, 2);
        assert_eq!(fused[0].id, "x");
        assert!(fused[1].lexical > fused[0].lexical, "{fused:?}");
    }

    #[test]
    fn shared_words_lift_a_candidate_the_dense_ranking_put_second() {
        // Equal weights tie a swapped pair (the dense order wins the tie);
        // a lexical weight above the dense one breaks it.
        let r = HybridRanker {
            fusion: FusionKind::Rrf,
            lexical_weight: 1.5,
            ..HybridRanker::default()
        };
        let c = cands(&[
            ("stadiums", 0.60, "List the names of all stadiums."),
            ("singers", 0.59, "What is the total number of singers?"),
            ("concerts", 0.10, "Show all concerts in 2014."),
        ]);
        let fused = r.rank("How many singers do we have?", &c, 3);
        assert_eq!(fused[0].id, "singers", "{fused:?}");
        assert_eq!(fused[2].id, "concerts");
    }

    #[test]
    fn score_fusion_adds_weighted_cosines_and_keeps_the_size_of_a_lead() {
        let r = HybridRanker {
            fusion: FusionKind::Score,
            dense_weight: 1.0,
            lexical_weight: 1.5,
            ..HybridRanker::default()
        };
        let c = cands(&[("a", 0.50, ""), ("b", 0.45, ""), ("c", 0.10, "")]);
        // A tiny lexical lead (b: 0.12 vs a: 0.10) does not undo a larger
        // dense one; a large lexical lead (c) does.
        let scored = [(0, 0.50, 0.10), (1, 0.45, 0.12), (2, 0.10, 0.90)];
        let fused = r.fuse(&c, &scored, 3);
        let ids: Vec<&str> = fused.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, ["c", "a", "b"], "{fused:?}");
        assert!((fused[0].fused - (0.10 + 1.5 * 0.90)).abs() < 1e-6);
        assert!((fused[1].fused - (0.50 + 1.5 * 0.10)).abs() < 1e-6);
        // Rank fusion with the same weights turns b's tiny lead into a
        // whole rank and puts b above a.
        let rrf = HybridRanker {
            fusion: FusionKind::Rrf,
            ..r
        };
        let ids: Vec<String> = rrf.fuse(&c, &scored, 3).into_iter().map(|f| f.id).collect();
        assert_eq!(ids, ["c", "b", "a"]);
    }

    #[test]
    fn a_clear_lexical_leader_ranks_first_against_a_dense_lead() {
        let r = HybridRanker::default();
        assert_eq!((r.lexical_lead, r.lexical_lead_min), (0.1, 0.5));
        let c = cands(&[("a", 0.95, ""), ("b", 0.60, ""), ("c", 0.90, "")]);
        // Fused: a 1.55, b 1.40, c 1.35; b leads a on the lexical side by 0.2.
        let scored = [(0, 0.95, 0.60), (1, 0.60, 0.80), (2, 0.90, 0.45)];
        let ids = |r: &HybridRanker| -> Vec<String> {
            r.fuse(&c, &scored, 3).into_iter().map(|f| f.id).collect()
        };
        assert_eq!(ids(&r), ["b", "a", "c"]);
        let off = HybridRanker {
            lexical_lead: 0.0,
            ..r
        };
        assert_eq!(ids(&off), ["a", "b", "c"]);
        // A lead below the margin leaves the fused order.
        let wide = HybridRanker {
            lexical_lead: 0.25,
            ..r
        };
        assert_eq!(ids(&wide), ["a", "b", "c"]);
        // So does a leader sharing too little with the question.
        let strict = HybridRanker {
            lexical_lead_min: 0.85,
            ..r
        };
        assert_eq!(ids(&strict), ["a", "b", "c"]);
        // The gate moves the leader only; k still applies.
        assert_eq!(r.fuse(&c, &scored, 1)[0].id, "b");
    }

    #[test]
    fn tied_lexical_leaders_open_no_gate() {
        let r = HybridRanker::default();
        let c = cands(&[("a", 0.9, ""), ("b", 0.2, ""), ("c", 0.1, "")]);
        let scored = [(0, 0.9, 0.1), (1, 0.2, 0.8), (2, 0.1, 0.8)];
        assert_eq!(r.lexical_leader(&scored), None);
        assert_eq!(r.fuse(&c, &scored, 3)[0].id, "a");
        // One candidate: it leads nothing, and is first anyway.
        assert_eq!(r.lexical_leader(&scored[1..2]), Some(1));
        assert_eq!(r.lexical_leader(&[]), None);
    }

    #[test]
    fn the_gate_sees_real_wording() {
        // The twin shares the deciding word ("dogs"); the model may rank the
        // other animal as close, the words do not.
        let r = HybridRanker::default();
        let c = cands(&[
            (
                "cats",
                0.97,
                "How many cats are owned by students older than 20?",
            ),
            (
                "dogs",
                0.90,
                "How many dogs are owned by students older than 20?",
            ),
        ]);
        let fused = r.rank("How many dogs do students older than 20 own?", &c, 2);
        assert_eq!(fused[0].id, "dogs", "{fused:?}");
        // Business rephrasings share few words with any candidate: no gate.
        let c = cands(&[
            ("vip", 0.45, "Who are our VIP clients?"),
            ("staff", 0.30, "How many employees work in each office?"),
        ]);
        let fused = r.rank(
            "Which ten customers have spent the most money with us?",
            &c,
            2,
        );
        assert_eq!(fused[0].id, "vip", "{fused:?}");
    }

    #[test]
    fn examples_are_the_fused_top_k_then_the_lexical_top_k_they_miss() {
        let r = HybridRanker {
            lexical_lead: 0.0,
            ..HybridRanker::default()
        };
        assert!(r.lexical_examples, "on by default");
        let c = cands(&[
            ("a", 0.90, ""),
            ("b", 0.85, ""),
            ("c", 0.80, ""),
            ("d", 0.20, ""),
            ("e", 0.10, ""),
        ]);
        // Fused: a 1.2, b 1.15, c 1.1, d 0.8, e 0.5. Lexical: d 0.6 first,
        // e 0.4 second; the fused top 2 (a, b) has lexical 0.3 each.
        let scored = [
            (0, 0.90, 0.30),
            (1, 0.85, 0.30),
            (2, 0.80, 0.30),
            (3, 0.20, 0.60),
            (4, 0.10, 0.40),
        ];
        let ids = |r: &HybridRanker, k: usize| -> Vec<String> {
            r.fuse_examples("", &c, &scored, k)
                .into_iter()
                .map(|f| f.id)
                .collect()
        };
        assert_eq!(ids(&r, 2), ["a", "b", "d", "e"]);
        // A lexical top-k member already among the fused top k is not
        // repeated; ties at the bound keep the fused order (a before c).
        assert_eq!(ids(&r, 3), ["a", "b", "c", "d", "e"]);
        assert_eq!(ids(&r, 1), ["a", "d"]);
        assert_eq!(ids(&r, 9), ["a", "b", "c", "d", "e"]);
        assert!(ids(&r, 0).is_empty());
        let off = HybridRanker {
            lexical_examples: false,
            ..r
        };
        assert_eq!(ids(&off, 2), ["a", "b"]);
    }

    #[test]
    fn retrieval_adds_lexical_examples_but_not_lexical_ddl() {
        // The model rates the question near other flight questions; the one
        // sharing its words (and its quoted code) is fifth of five. (The
        // gate would put it first; here it is off to show the union alone.)
        let r = HybridRanker {
            lexical_lead: 0.0,
            ..HybridRanker::default()
        };
        let question = "How many flights depart from 'APG'?";
        let texts = [
            ("x1", 0.80, "Which airlines have the most flights?"),
            ("x2", 0.79, "List all flight numbers and their airline."),
            ("x3", 0.78, "What are the destinations of all flights?"),
            ("x4", 0.77, "Show the airports of each city."),
            ("apg", 0.10, "How many flights arrive at 'APG'?"),
        ];
        let item = |&(id, _, content): &(&str, f32, &str), kind| TrainingItem {
            id: id.into(),
            connection: "c".into(),
            kind,
            content: content.into(),
            sql: None,
            source: crate::store::TrainingSource::User,
            status: crate::store::TrainingStatus::Active,
            created_by: None,
            approved_by: None,
            query_id: None,
            created_at: String::new(),
            embedding: Vec::new(),
            embedder: None,
        };
        let found: Vec<ScoredId> = texts
            .iter()
            .map(|&(id, score, _)| ScoredId {
                id: id.into(),
                score,
            })
            .collect();
        let ids = |kind| -> Vec<String> {
            let items: Vec<TrainingItem> = texts.iter().map(|t| item(t, kind)).collect();
            rank_items(&r, question, kind, &found, &items, 2)
                .into_iter()
                .map(|f| f.id)
                .collect()
        };
        let candidates: Vec<Candidate<'_>> = texts
            .iter()
            .map(|&(id, dense, text)| Candidate { id, dense, text })
            .collect();
        let fused: Vec<String> = r
            .rank(question, &candidates, 2)
            .into_iter()
            .map(|f| f.id)
            .collect();
        assert!(!fused.contains(&"apg".to_string()), "{fused:?}");
        let examples = ids(TrainingKind::QuestionSql);
        assert_eq!(examples[..2], fused, "{examples:?}");
        assert!(examples[2..].contains(&"apg".to_string()), "{examples:?}");
        assert!(examples.len() <= 4, "{examples:?}");
        assert_eq!(ids(TrainingKind::Ddl), fused);
    }

    #[test]
    fn a_candidate_without_the_questions_numbers_or_negation_pays_for_each() {
        let r = HybridRanker {
            lexical_lead: 0.0,
            ..HybridRanker::default()
        };
        assert_eq!(r.literal_penalty, 0.2);
        let ids = |r: &HybridRanker, question: &str, c: &[Candidate<'_>]| -> Vec<String> {
            r.rank(question, c, 2).into_iter().map(|f| f.id).collect()
        };
        // The model's scores (all-MiniLM-L6-v2): the distractor leads by 0.14.
        let c = cands(&[
            ("each", 0.90, "How many high schoolers are in each grade?"),
            (
                "twin",
                0.76,
                "Count the number of high schoolers in grades 9 or 10.",
            ),
        ]);
        let q = "How many high schoolers are there in grade 9 or 10?";
        assert_eq!(ids(&r, q, &c), ["twin", "each"]);
        let off = HybridRanker {
            literal_penalty: 0.0,
            ..r
        };
        assert_eq!(ids(&off, q, &c), ["each", "twin"]);
        let c = cands(&[
            (
                "either",
                0.94,
                "What are the first names of every student who has a cat or dog as a pet?",
            ),
            (
                "twin",
                0.81,
                "Find the first name and age of students who have a dog but do not have a cat as a pet.",
            ),
        ]);
        let q = "What is the first name of every student who has a dog but does not have a cat?";
        assert_eq!(ids(&r, q, &c), ["twin", "either"]);
        assert_eq!(ids(&off, q, &c), ["either", "twin"]);
        // The penalty is on the fused score, and rank fusion has none.
        let fused = r.rank(q, &c, 2);
        let paid = fused.iter().find(|f| f.id == "either").unwrap();
        assert!((paid.fused - (paid.dense + paid.lexical - 0.2)).abs() < 1e-6);
        let rrf = HybridRanker {
            fusion: FusionKind::Rrf,
            ..r
        };
        assert_eq!(ids(&rrf, q, &c), ["either", "twin"]);
    }

    #[test]
    fn pool_is_at_least_k() {
        let r = HybridRanker::default();
        assert_eq!(r.pool(5), 50);
        assert_eq!(r.pool(80), 80);
    }
}
