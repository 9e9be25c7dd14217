//! An ask inside a conversation, with extras: what `POST /ask` and the
//! stream run ([`Engine::ask_with`]). A follow-up is rewritten into a
//! standalone question (see [`crate::engine::conversation`]), which
//! [`Engine::answer`] answers and the history records; the turn is stored,
//! then the requested extras (summary, follow-ups, see
//! [`crate::engine::extras`]) are added. Extras never fail an answer: a
//! missing one leaves a warning.

use super::models::{llm_error_kind, usage_of};
use super::{Answer, AskFailure, AskOptions, Engine, PipelineError, RequestContext, Scope, Sink};
use crate::domain::Question;
use crate::engine::conversation;
use crate::engine::extras::{self, AnswerWarning, ResultView};
use crate::engine::llm::{LlmError, TokenUsage};

impl Engine {
    /// When the offline generator read the question past words it could not
    /// link (its shapes, not a trained example), say which ones.
    fn unread_words_warning(
        &self,
        scope: &Scope,
        answer: &Answer,
        question: &Question,
    ) -> Option<AnswerWarning> {
        let shaped = answer.provider == "builtin"
            && !matches!(
                answer.strategy.as_deref(),
                None | Some("trained_example" | "adapted_example")
            );
        if !shaped {
            return None;
        }
        let words =
            crate::engine::llm::builtin::unread_words(question.as_str(), &scope.conn.schema());
        (!words.is_empty()).then(|| {
            AnswerWarning::new(
                "words_not_used",
                format!(
                    "the SQL was built without the words '{}'; check that it means what you asked",
                    words.join("', '")
                ),
            )
        })
    }

    /// An ask inside a conversation, with the requested extras: the main
    /// job of `POST /api/v1/ask`. A follow-up is rewritten into a standalone
    /// question (that is what the pipeline answers and the history records),
    /// the turn is stored, then summary and follow-ups are added; a failing
    /// extra leaves a warning instead. No span of its own: `ask` stays the
    /// request span's child, as traces expect.
    pub async fn ask_with(
        &self,
        scope: &Scope,
        question: &Question,
        opts: &AskOptions,
        sink: Sink<'_>,
    ) -> Result<Answer, AskFailure> {
        let rc = &scope.rc;
        let mut warnings = Vec::new();
        let (conversation_id, previous) = self.conversation(rc, opts).await?;
        let (standalone, rewrite_usage) = self
            .standalone(question, &previous, rc, &mut warnings)
            .await;
        let mut answer = self
            .answer(
                scope,
                standalone.as_ref().unwrap_or(question),
                sink,
                rewrite_usage,
            )
            .await?;
        let turn = crate::store::conversations::NewTurn {
            query_id: Some(&answer.query_id),
            question: question.as_str(),
            standalone_question: standalone.as_ref().unwrap_or(question).as_str(),
        };
        match self
            .store
            .add_turn(&conversation_id, rc.user_id.as_deref(), &turn)
            .await
        {
            Ok(_) => answer.conversation_id = Some(conversation_id),
            Err(e) => {
                tracing::warn!(error.detail = %e, "conversation turn not stored");
                warnings.push(AnswerWarning::new(
                    "conversation_not_saved",
                    "this answer could not be added to the conversation; ask again to continue it",
                ));
            }
        }
        answer.question = question.to_string();
        if let Some(w) =
            self.unread_words_warning(scope, &answer, standalone.as_ref().unwrap_or(question))
        {
            warnings.push(w);
        }
        answer.standalone_question = standalone.map(|q| q.to_string());
        let extras_usage = self
            .add_extras(&mut answer, scope, opts, &mut warnings)
            .await;
        if extras_usage != TokenUsage::default() {
            // The record was written before the extras ran: add their
            // tokens to it, so the history counts every call of this ask.
            if let Err(e) = self
                .store
                .add_query_tokens(
                    &answer.query_id,
                    extras_usage.prompt_tokens,
                    extras_usage.completion_tokens,
                )
                .await
            {
                tracing::warn!(error.detail = %e, "token usage of the extras not recorded");
            }
        }
        answer.warnings = warnings;
        Ok(answer)
    }

    /// The conversation to continue (checked to be the caller's) with its
    /// recent standalone questions, or a new id.
    async fn conversation(
        &self,
        rc: &RequestContext,
        opts: &AskOptions,
    ) -> Result<(String, Vec<String>), PipelineError> {
        let Some(id) = &opts.conversation_id else {
            return Ok((crate::store::new_id(), Vec::new()));
        };
        if !conversation::valid_id(id) {
            return Err(PipelineError::BadInput(
                "conversation_id must be 1 to 64 letters, digits, `-` or `_`".into(),
            ));
        }
        match self.store.find_conversation(id).await? {
            Some(c) if c.user_id == rc.user_id => {}
            _ => return Err(PipelineError::UnknownConversation(id.clone())),
        }
        let turns = self
            .store
            .recent_turns(id, conversation::CONTEXT_TURNS)
            .await?;
        Ok((
            id.clone(),
            turns.into_iter().map(|t| t.standalone_question).collect(),
        ))
    }

    /// The standalone form of a follow-up; `None` when the question stands
    /// on its own (or there is nothing before it). With the tokens the
    /// rewrite used.
    async fn standalone(
        &self,
        question: &Question,
        previous: &[String],
        rc: &RequestContext,
        warnings: &mut Vec<AnswerWarning>,
    ) -> (Option<Question>, TokenUsage) {
        let Some(last) = previous.last() else {
            return (None, TokenUsage::default());
        };
        let builtin = || {
            conversation::builtin_rewrite(last, question.as_str())
                .and_then(|q| Question::parse(&q).ok())
        };
        let req =
            conversation::rewrite_request(previous, question.as_str(), rc.correlation_id.clone());
        let reply = self.call_text_llm("rewrite", &req).await;
        let usage = usage_of(&reply);
        let rewritten = match reply {
            Ok(None) => builtin(),
            Ok(Some(reply)) => match conversation::parse_rewrite(&reply.text) {
                Ok(q) => Some(q),
                Err(e) => {
                    warnings.push(rewrite_warning(&e));
                    builtin()
                }
            },
            Err(e) => {
                warnings.push(rewrite_warning(&e));
                builtin()
            }
        };
        (rewritten.filter(|q| q.as_str() != question.as_str()), usage)
    }

    /// Summary and follow-ups, as requested and allowed; the two LLM calls
    /// run side by side. Returns the tokens they used (a reply that could
    /// not be used was paid for all the same).
    async fn add_extras(
        &self,
        answer: &mut Answer,
        scope: &Scope,
        opts: &AskOptions,
        warnings: &mut Vec<AnswerWarning>,
    ) -> TokenUsage {
        let rc = &scope.rc;
        let settings = self.settings();
        let question = answer
            .standalone_question
            .clone()
            .unwrap_or_else(|| answer.question.clone());
        let view = ResultView {
            question: &question,
            sql: &answer.sql,
            columns: &answer.columns,
            rows: &answer.rows,
            row_count: answer.row_count,
            truncated: answer.truncated,
            tables: &answer.tables,
        };
        let none = TokenUsage::default();
        let summary = async {
            if !opts.summary {
                return (Ok(None), none);
            }
            if !settings.summaries {
                let warning = AnswerWarning::new(
                    "summary_disabled",
                    "summaries are turned off on this server (query.summaries)",
                );
                return (Err(warning), none);
            }
            let max = settings.summary_max_rows;
            let req = extras::summary_request(&view, max, rc.correlation_id.clone());
            let reply = self.call_text_llm("summary", &req).await;
            let usage = usage_of(&reply);
            let summary = match reply {
                Ok(None) => Ok(Some((extras::builtin_summary(&view, max), "builtin"))),
                Ok(Some(reply)) => extras::clean_summary(&reply.text)
                    .map(|text| Some((text, "llm")))
                    .map_err(|e| extra_warning("summary", &e)),
                Err(e) => Err(extra_warning("summary", &e)),
            };
            (summary, usage)
        };
        let followups = async {
            if !opts.followups {
                return (Ok(None), none);
            }
            let req = extras::followups_request(&view, rc.correlation_id.clone());
            let reply = self.call_text_llm("followups", &req).await;
            let usage = usage_of(&reply);
            let followups = match reply {
                Ok(None) => Ok(Some(extras::builtin_followups(
                    &view,
                    &rc.schema(&scope.conn),
                ))),
                Ok(Some(reply)) => extras::parse_followups(&reply.text, &question)
                    .map(Some)
                    .map_err(|e| extra_warning("followups", &e)),
                Err(e) => Err(extra_warning("followups", &e)),
            };
            (followups, usage)
        };
        let ((summary, summary_usage), (followups, followups_usage)) =
            tokio::join!(summary, followups);
        match summary {
            Ok(Some((text, source))) => {
                answer.summary = Some(text);
                answer.summary_source = Some(source.to_string());
            }
            Ok(None) => {}
            Err(w) => warnings.push(w),
        }
        match followups {
            Ok(list) => answer.followups = list,
            Err(w) => warnings.push(w),
        }
        TokenUsage {
            prompt_tokens: summary_usage.prompt_tokens + followups_usage.prompt_tokens,
            completion_tokens: summary_usage.completion_tokens + followups_usage.completion_tokens,
        }
    }
}

/// A missing extra: says which provider failure, never the provider's text
/// (it may quote the prompt, which carries rows).
fn extra_warning(extra: &str, e: &LlmError) -> AnswerWarning {
    AnswerWarning::new(
        &format!("{extra}_failed"),
        format!(
            "the {extra} is missing: the LLM provider call failed ({})",
            llm_error_kind(e)
        ),
    )
}

fn rewrite_warning(e: &LlmError) -> AnswerWarning {
    AnswerWarning::new(
        "rewrite_failed",
        format!(
            "the follow-up could not be rewritten by the LLM provider ({}); the builtin rewrite was used",
            llm_error_kind(e)
        ),
    )
}
