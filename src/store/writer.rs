//! Group commit for the app-store writes on the request path: history rows
//! (and their late token counts), audit events, feedback and conversation
//! turns.
//!
//! Why: on SQLite every write takes the one database write lock. With many
//! requests each writing its own row on its own connection, the losers wait
//! in SQLite's busy handler, which sleeps in steps of up to 100 ms; under 16
//! concurrent asks that was a p99 of half a second for a 20 µs insert. Here
//! one writer task per store takes every queued write and commits them in one
//! transaction: while one batch commits, the next requests queue, and the
//! next round takes them all. There is no timer: a lone write goes out at
//! once, in its own statement.
//!
//! What it promises a caller: its `submit` returns only after its row is
//! committed (so an id returned to a client is readable at once), with its
//! own result. A batch that fails is rolled back and its writes are retried
//! one by one, so one bad row (a duplicate id, a missing parent) fails only
//! its own caller. A caller that goes away does not cancel its write. The
//! queue is bounded ([`QUEUE`]): when it is full, callers wait to enqueue.
//! [`Writer::close`] stops taking writes and returns once everything queued
//! before it is committed.
//!
//! What it must not do: hold a pool connection between batches (the
//! in-memory store has one connection), or take writes that read first and
//! decide on what they read across more than their own rows (those keep
//! their own transaction in their module). A conversation turn reads only
//! its conversation's last number: the writes of a batch run in queue order
//! in one transaction, so a later turn of the same conversation sees the
//! earlier one, and a write of several statements never runs outside a
//! transaction.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::AnyConnection;
use sqlx::AnyPool;
use tokio::sync::{mpsc, oneshot, watch};

use super::audit::AuditRow;
use super::conversations::TurnRow;
use super::feedback::FeedbackRow;
use super::queries::QueryRow;
use super::{Backend, StoreError, begin_write};

/// Writes waiting for the writer; beyond this, callers wait to enqueue.
pub(crate) const QUEUE: usize = 1024;
/// Rows committed in one transaction at most.
const MAX_BATCH: usize = 256;

/// One row-level write the writer knows how to run.
#[derive(Debug)]
pub(crate) enum Write {
    Query(Box<QueryRow>),
    QueryTokens {
        id: String,
        prompt_tokens: u64,
        completion_tokens: u64,
    },
    Audit(Box<AuditRow>),
    Feedback(Box<FeedbackRow>),
    /// A conversation turn (creating the conversation); touches the turn's
    /// number, which is never 0.
    Turn(Box<TurnRow>),
}

impl Write {
    /// Run it on `conn`; the rows it touched.
    async fn run(&self, conn: &mut AnyConnection) -> Result<u64, sqlx::Error> {
        match self {
            Write::Query(row) => row.insert(conn).await,
            Write::QueryTokens {
                id,
                prompt_tokens,
                completion_tokens,
            } => super::queries::add_tokens(conn, id, *prompt_tokens, *completion_tokens).await,
            Write::Audit(row) => row.insert(conn).await,
            Write::Feedback(row) => row.insert(conn).await,
            Write::Turn(row) => row.insert(conn).await,
        }
    }

    /// One statement: safe to run alone outside a transaction.
    fn single_statement(&self) -> bool {
        !matches!(self, Write::Turn(_))
    }
}

/// Every write names one row; touching none (an update of a missing
/// history row) is that caller's `NotFound`.
fn touched(rows: u64) -> Result<u64, StoreError> {
    if rows == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(rows)
    }
}

/// What the writer has done since the store opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupCommitStats {
    /// Transactions (or lone statements) that committed writes.
    pub batches: u64,
    /// Writes committed.
    pub rows: u64,
    /// Batches that failed and were retried one write at a time.
    pub retried_batches: u64,
    /// Callers waiting now: their write is queued or being committed.
    pub waiting: u64,
}

#[derive(Debug, Default)]
struct Counters {
    batches: AtomicU64,
    rows: AtomicU64,
    retried_batches: AtomicU64,
    waiting: AtomicU64,
}

/// Counts a caller as waiting until it has its answer (or gave up).
struct Waiting<'a>(&'a AtomicU64);

impl<'a> Waiting<'a> {
    fn new(n: &'a AtomicU64) -> Self {
        n.fetch_add(1, Ordering::Relaxed);
        Self(n)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

struct Item {
    write: Write,
    reply: oneshot::Sender<Result<u64, StoreError>>,
}

enum Msg {
    Write(Item),
    Close,
}

/// The handle to a store's writer task; cheap to clone.
#[derive(Clone)]
pub(crate) struct Writer {
    tx: mpsc::Sender<Msg>,
    stopped: watch::Receiver<bool>,
    counters: Arc<Counters>,
}

impl Writer {
    /// Spawn the writer task on the current Tokio runtime. It ends when
    /// [`Writer::close`] drained the queue, or when every handle is gone.
    pub(crate) fn start(pool: AnyPool, backend: Backend) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        let (stopped_tx, stopped) = watch::channel(false);
        let counters = Arc::new(Counters::default());
        let task = Task {
            pool,
            backend,
            counters: counters.clone(),
        };
        tokio::spawn(async move {
            task.run(rx).await;
            let _ = stopped_tx.send(true);
        });
        Self {
            tx,
            stopped,
            counters,
        }
    }

    /// Queue `write` and wait until it is committed (or failed).
    pub(crate) async fn submit(&self, write: Write) -> Result<(), StoreError> {
        self.submit_counted(write).await.map(drop)
    }

    /// [`Writer::submit`], answering what the write touched (for a turn,
    /// its number).
    pub(crate) async fn submit_counted(&self, write: Write) -> Result<u64, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Msg::Write(Item { write, reply }))
            .await
            .map_err(|_| closed())?;
        let _waiting = Waiting::new(&self.counters.waiting);
        answer.await.map_err(|_| closed())?
    }

    /// Stop taking writes; returns once every write queued before is done.
    pub(crate) async fn close(&self) {
        // Fails only when the writer already stopped: then there is nothing to drain.
        let _ = self.tx.send(Msg::Close).await;
        let mut stopped = self.stopped.clone();
        // An error means the task is gone (its runtime ended): nothing to wait for.
        let _ = stopped.wait_for(|s| *s).await;
    }

    /// Messages in the queue: writes not yet taken into a batch, and a
    /// close request.
    pub(crate) fn queued(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    pub(crate) fn stats(&self) -> GroupCommitStats {
        GroupCommitStats {
            batches: self.counters.batches.load(Ordering::Relaxed),
            rows: self.counters.rows.load(Ordering::Relaxed),
            retried_batches: self.counters.retried_batches.load(Ordering::Relaxed),
            waiting: self.counters.waiting.load(Ordering::Relaxed),
        }
    }
}

fn closed() -> StoreError {
    StoreError::Unavailable("the app store is closing".into())
}

struct Task {
    pool: AnyPool,
    backend: Backend,
    counters: Arc<Counters>,
}

impl Task {
    async fn run(&self, mut rx: mpsc::Receiver<Msg>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while let Some(msg) = rx.recv().await {
            take(msg, &mut batch, &mut rx);
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(msg) => take(msg, &mut batch, &mut rx),
                    Err(_) => break,
                }
            }
            if !batch.is_empty() {
                self.commit(std::mem::take(&mut batch)).await;
            }
        }
    }

    /// Commit `batch` together; on failure, each write alone, so every
    /// caller gets its own write's result.
    async fn commit(&self, batch: Vec<Item>) {
        let writes: Vec<&Write> = batch.iter().map(|i| &i.write).collect();
        match self.write(&writes).await {
            Ok(rows) => {
                self.counted(&rows);
                for (item, n) in batch.into_iter().zip(rows) {
                    let _ = item.reply.send(touched(n));
                }
            }
            Err(e) if batch.len() == 1 => {
                if let Some(item) = batch.into_iter().next() {
                    let _ = item.reply.send(Err(e.into()));
                }
            }
            Err(e) => {
                tracing::debug!(error.detail = %e, batch.size = batch.len(),
                    "group commit failed; retrying its writes one by one");
                self.counters
                    .retried_batches
                    .fetch_add(1, Ordering::Relaxed);
                for item in batch {
                    let result = match self.write(&[&item.write]).await {
                        Ok(rows) => {
                            self.counted(&rows);
                            touched(rows[0])
                        }
                        Err(e) => Err(e.into()),
                    };
                    let _ = item.reply.send(result);
                }
            }
        }
    }

    fn counted(&self, rows: &[u64]) {
        self.counters.batches.fetch_add(1, Ordering::Relaxed);
        let done = rows.iter().filter(|n| **n > 0).count() as u64;
        self.counters.rows.fetch_add(done, Ordering::Relaxed);
    }

    /// Run `writes` in one transaction (a lone write as one statement);
    /// the rows each touched. Any error rolls all of them back.
    async fn write(&self, writes: &[&Write]) -> Result<Vec<u64>, sqlx::Error> {
        if let [one] = writes
            && one.single_statement()
        {
            let mut conn = self.pool.acquire().await?;
            return Ok(vec![one.run(&mut conn).await?]);
        }
        let mut tx = begin_write(&self.pool, self.backend).await?;
        let mut rows = Vec::with_capacity(writes.len());
        for w in writes {
            match w.run(&mut tx).await {
                Ok(n) => rows.push(n),
                Err(e) => {
                    // PostgreSQL aborts the transaction on an error; SQLite
                    // would keep the others: roll back either way, then retry.
                    let _ = tx.rollback().await;
                    return Err(e);
                }
            }
        }
        tx.commit().await?;
        Ok(rows)
    }
}

/// Add `msg` to the batch; a close stops the queue taking writes, and what
/// is already queued still drains.
fn take(msg: Msg, batch: &mut Vec<Item>, rx: &mut mpsc::Receiver<Msg>) {
    match msg {
        Msg::Write(item) => batch.push(item),
        Msg::Close => rx.close(),
    }
}
