//! The one generate → validate → correct loop. Ask, stream, `/sql/generate`
//! and `/sql/fix` all run [`Engine::correct`]; a cached generation goes
//! through the same [`Engine::check`] step as a fresh candidate.
//!
//! Each attempt asks the generator for SQL and [`Engine::check`]s it: the
//! gate (under the caller's grant), then, when the plan says so, the
//! database. A candidate the gate refuses or the database rejects is fed
//! back to the generator with the error (the database's full text goes to
//! the generator only, never to the caller) for the next attempt. Failures
//! no correction can mend (the LLM, a timeout, an outage) stop the loop at
//! once. What the loop learns on the way (attempts, tokens, strategy,
//! confidence, the last candidate, timings) is kept in a [`Trail`], which
//! the history records whether or not the loop found an answer.

use std::time::Instant;

use super::types::{emit, ms, rows_event, validation_event};
use super::{AskEvent, Engine, PipelineError, Scope, Sink, Source, Timings};
use crate::connectors::{ConnectorError, ResultSet};
use crate::domain::Trust;
use crate::engine::gate::GatedSql;
use crate::engine::llm::{FailedAttempt, GenerationOutcome, GenerationRequest, TokenUsage};
use crate::sql::ValidationError;

/// How far a candidate goes before it is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Until {
    /// Through the gate: `/sql/generate` shows SQL without running it.
    Gated,
    /// Through the gate and the database: ask, stream, fix.
    Ran,
}

/// Which form of a candidate the database rejected is fed back to the
/// generator. The builtin generator never repeats SQL it was told failed,
/// compared as written, so the choice changes what it tries next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Echo {
    /// As the gate rendered it (with the enforced `LIMIT`): ask and stream.
    Validated,
    /// As the generator wrote it: `/sql/fix`.
    Written,
}

/// How one run of the loop goes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    /// Generation attempts at most (the first one and its corrections).
    pub attempts: u32,
    pub until: Until,
    pub echo: Echo,
}

/// What an ask learned on its way, answered or not: the history records it.
#[derive(Debug, Default)]
pub(crate) struct Trail {
    /// Generation attempts started (a cached generation counts as one).
    pub attempts: u32,
    /// Tokens of every generation call.
    pub usage: TokenUsage,
    /// The last strategy a generation named.
    pub strategy: Option<String>,
    /// Confidence and assumptions of the last generation that wrote SQL.
    pub trust: Option<Trust>,
    /// The last candidate: as written, or as validated once it passed.
    pub sql: Option<String>,
    /// Tables of the last candidate that passed the gate.
    pub tables: Vec<String>,
    /// Training context the generation was given.
    pub sources: Vec<Source>,
    pub timings: Timings,
    /// The last candidate the gate refused, as `/sql/generate` reports it.
    pub rejected: Option<Rejection>,
}

/// A candidate the gate refused, with the generation that wrote it.
#[derive(Debug)]
pub(crate) struct Rejection {
    pub sql: String,
    pub error: ValidationError,
    pub attempt: u32,
    pub strategy: Option<String>,
    pub trust: Trust,
}

/// A candidate the loop accepted.
#[derive(Debug)]
pub(crate) struct Accepted {
    pub gated: GatedSql,
    /// Its rows, when the plan ran it ([`Until::Ran`]).
    pub rows: Option<ResultSet>,
    pub attempt: u32,
    /// The strategy of the generation that wrote it.
    pub strategy: Option<String>,
    pub trust: Trust,
}

/// Why the loop ended without an accepted candidate.
#[derive(Debug)]
pub(crate) enum Stop {
    /// The generator declined; `after`: the failure of the attempt before,
    /// if there was one.
    GaveUp {
        reason: String,
        after: Option<PipelineError>,
    },
    /// Every attempt failed the gate or the database: the last failure.
    Exhausted(PipelineError),
    /// A failure no correction mends (the LLM, a timeout, an outage).
    Broken(PipelineError),
}

impl Stop {
    /// The error an ask reports: after failed attempts, "unanswerable"
    /// means the generator gave up, so the real failure is reported.
    pub(crate) fn into_error(self) -> PipelineError {
        match self {
            Stop::GaveUp { after: Some(e), .. } | Stop::Exhausted(e) | Stop::Broken(e) => e,
            Stop::GaveUp {
                reason,
                after: None,
            } => PipelineError::Unanswerable(reason),
        }
    }
}

/// What [`Engine::check`] made of one candidate.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Passed the gate (and ran, with [`Until::Ran`]).
    Accepted(GatedSql, Option<ResultSet>),
    /// The gate refused it.
    Rejected(ValidationError),
    /// The database rejected it: the candidate in both forms and the
    /// database's full text (for the generator and the log only).
    Failed {
        written: String,
        validated: String,
        error: String,
    },
    /// Not the SQL's fault: a timeout, an outage, a budget.
    Broken(PipelineError),
}

impl Engine {
    /// Check one candidate for the scope's caller: the gate, then (with
    /// [`Until::Ran`]) the database. Progress goes to `sink` and `trail`;
    /// a refusal is left to the caller to report.
    pub(crate) async fn check(
        &self,
        scope: &Scope,
        sql_text: &str,
        until: Until,
        trail: &mut Trail,
        sink: Sink<'_>,
    ) -> Verdict {
        let t = Instant::now();
        let gated = self.gate(&scope.rc, &scope.conn, sql_text);
        trail.timings.validation += ms(t.elapsed());
        let gated = match gated {
            Ok(gated) => gated,
            Err(e) => return Verdict::Rejected(e),
        };
        trail.sql = Some(gated.sql().to_string());
        trail.tables = gated.tables().to_vec();
        emit(sink, validation_event(gated.validated())).await;
        if until == Until::Gated {
            return Verdict::Accepted(gated, None);
        }
        let t = Instant::now();
        let result = self.run(&scope.conn, &gated, &scope.rc).await;
        trail.timings.execution += ms(t.elapsed());
        match result {
            Ok(rs) => {
                emit(sink, rows_event(&rs)).await;
                Verdict::Accepted(gated, Some(rs))
            }
            Err(ConnectorError::Execution(error)) => Verdict::Failed {
                written: sql_text.to_string(),
                validated: gated.sql().to_string(),
                error,
            },
            Err(other) => Verdict::Broken(other.into()),
        }
    }

    /// THE loop: generate from `req`, check, feed failures back, at most
    /// `plan.attempts` times. `req` may already carry failed attempts
    /// (`/sql/fix` starts from the caller's failing SQL).
    pub(crate) async fn correct(
        &self,
        scope: &Scope,
        mut req: GenerationRequest,
        plan: Plan,
        trail: &mut Trail,
        sink: Sink<'_>,
    ) -> Result<Accepted, Stop> {
        let mut last: Option<PipelineError> = None;
        for attempt in 1..=plan.attempts {
            trail.attempts = attempt;
            let t = Instant::now();
            let generation = self
                .call_llm(&req)
                .await
                .map_err(|e| Stop::Broken(e.into()))?;
            trail.timings.generation += ms(t.elapsed());
            trail.usage.prompt_tokens += generation.usage.prompt_tokens;
            trail.usage.completion_tokens += generation.usage.completion_tokens;
            if generation.strategy.is_some() {
                trail.strategy = generation.strategy.clone();
            }
            let trust = self.trust_of(&generation, attempt);
            let sql_text = match generation.outcome {
                GenerationOutcome::Unanswerable { reason } => {
                    return Err(Stop::GaveUp {
                        reason,
                        after: last,
                    });
                }
                GenerationOutcome::Sql { sql } => sql,
            };
            trail.trust = Some(trust.clone());
            trail.sql = Some(sql_text.clone());
            emit(
                sink,
                AskEvent::Sql {
                    sql: sql_text.clone(),
                    attempt,
                },
            )
            .await;
            match self.check(scope, &sql_text, plan.until, trail, sink).await {
                Verdict::Accepted(gated, rows) => {
                    return Ok(Accepted {
                        gated,
                        rows,
                        attempt,
                        strategy: generation.strategy,
                        trust,
                    });
                }
                Verdict::Rejected(e) => {
                    emit(
                        sink,
                        AskEvent::Validation {
                            valid: false,
                            sql: sql_text.clone(),
                            tables: vec![],
                            errors: vec![e.clone()],
                        },
                    )
                    .await;
                    req.previous_attempts.push(FailedAttempt {
                        sql: sql_text.clone(),
                        error: e.message.clone(),
                    });
                    trail.rejected = Some(Rejection {
                        sql: sql_text,
                        error: e.clone(),
                        attempt,
                        strategy: generation.strategy,
                        trust,
                    });
                    last = Some(PipelineError::Rejected(e));
                }
                Verdict::Failed {
                    written,
                    validated,
                    error,
                } => {
                    let sql = match plan.echo {
                        Echo::Validated => validated,
                        Echo::Written => written,
                    };
                    req.previous_attempts.push(FailedAttempt {
                        sql,
                        error: error.clone(),
                    });
                    last = Some(PipelineError::Connector(ConnectorError::Execution(error)));
                }
                Verdict::Broken(e) => return Err(Stop::Broken(e)),
            }
        }
        Err(match last {
            Some(e) => Stop::Exhausted(e),
            None => Stop::GaveUp {
                reason: "no SQL was generated".into(),
                after: None,
            },
        })
    }
}
