//! The job queue on both backends: dedupe, claims, leases, retries, fencing.

use super::*;

store_suite!(
    jobs_dedupe_claim_renew_and_finish,
    jobs_retry_die_and_fence_lost_leases,
    expired_leases_are_taken_over,
    concurrent_workers_never_share_a_job,
);

pub fn job(kind: &str, key: Option<&str>) -> NewJob {
    NewJob {
        kind: kind.into(),
        payload: json!({"kind": kind}),
        dedupe_key: key.map(Into::into),
        run_at: chrono::Utc::now() - chrono::Duration::seconds(1),
        max_attempts: 2,
    }
}

async fn jobs_dedupe_claim_renew_and_finish(s: &Store) {
    let (a, created) = s
        .enqueue_job(&job("backup", Some("backup@1")))
        .await
        .unwrap();
    assert!(created);
    let (again, created) = s
        .enqueue_job(&job("backup", Some("backup@1")))
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(again.id, a.id);
    let later = NewJob {
        run_at: chrono::Utc::now() + chrono::Duration::hours(1),
        ..job("reembed", None)
    };
    s.enqueue_job(&later).await.unwrap();
    let claimed = s.claim_job("w1", LEASE).await.unwrap().expect("a due job");
    assert_eq!(claimed.id, a.id);
    assert_eq!((claimed.status, claimed.attempts), (JobStatus::Running, 1));
    assert_eq!(claimed.locked_by.as_deref(), Some("w1"));
    assert!(
        s.claim_job("w2", LEASE).await.unwrap().is_none(),
        "the other is not due"
    );
    assert!(s.renew_job_lease(&a.id, "w1", LEASE).await.unwrap());
    assert!(!s.renew_job_lease(&a.id, "w2", LEASE).await.unwrap());
    assert!(
        s.complete_job(&a.id, "w1", &json!({"ok": true}))
            .await
            .unwrap()
    );
    let done = s.get_job(&a.id).await.unwrap();
    assert_eq!(done.status, JobStatus::Succeeded);
    assert_eq!(done.result, Some(json!({"ok": true})));
    assert!(done.finished_at.is_some());
    let (_, created) = s
        .enqueue_job(&job("backup", Some("backup@1")))
        .await
        .unwrap();
    assert!(!created, "a key is used once, also after the job finished");
    let counts = s.job_counts().await.unwrap();
    assert!(counts.contains(&(JobStatus::Queued, 1)));
    assert!(counts.contains(&(JobStatus::Succeeded, 1)));
    assert!(counts.contains(&(JobStatus::Dead, 0)));
    let (queued, total) = s
        .list_jobs(Some(JobStatus::Queued), Page::default())
        .await
        .unwrap();
    assert_eq!((queued.len(), total), (1, 1));
    assert_eq!(s.list_jobs(None, Page::default()).await.unwrap().1, 2);
}

async fn jobs_retry_die_and_fence_lost_leases(s: &Store) {
    let (j, _) = s.enqueue_job(&job("backup", None)).await.unwrap();
    s.claim_job("w1", LEASE).await.unwrap().expect("claimed");
    let retry_at = chrono::Utc::now() - chrono::Duration::milliseconds(1);
    assert!(
        s.fail_job(&j.id, "w1", "disk full", Some(retry_at))
            .await
            .unwrap()
    );
    let queued = s.get_job(&j.id).await.unwrap();
    assert_eq!(queued.status, JobStatus::Queued);
    assert_eq!(queued.last_error.as_deref(), Some("disk full"));
    let second = s.claim_job("w2", LEASE).await.unwrap().expect("retried");
    assert_eq!(second.attempts, 2);
    assert!(
        !s.complete_job(&j.id, "w1", &json!({})).await.unwrap(),
        "w1 lost it"
    );
    assert!(!s.fail_job(&j.id, "w1", "late", None).await.unwrap());
    assert!(s.fail_job(&j.id, "w2", "still full", None).await.unwrap());
    let dead = s.get_job(&j.id).await.unwrap();
    assert_eq!(dead.status, JobStatus::Dead);
    assert!(
        s.claim_job("w3", LEASE).await.unwrap().is_none(),
        "dead jobs stay dead"
    );
}

async fn expired_leases_are_taken_over(s: &Store) {
    let (j, _) = s.enqueue_job(&job("reembed", None)).await.unwrap();
    // A worker takes the job and is killed: it never renews or finishes.
    s.claim_job("killed", Duration::from_millis(300))
        .await
        .unwrap()
        .expect("claimed");
    assert!(
        s.claim_job("w2", LEASE).await.unwrap().is_none(),
        "lease still held"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let taken = s
        .claim_job("w2", LEASE)
        .await
        .unwrap()
        .expect("lease ran out");
    assert_eq!((taken.id.as_str(), taken.attempts), (j.id.as_str(), 2));
    assert!(
        s.complete_job(&j.id, "w2", &json!({"items": 0}))
            .await
            .unwrap()
    );
    assert!(!s.complete_job(&j.id, "killed", &json!({})).await.unwrap());
    assert_eq!(s.get_job(&j.id).await.unwrap().status, JobStatus::Succeeded);
}

async fn concurrent_workers_never_share_a_job(s: &Store) {
    for _ in 0..12 {
        s.enqueue_job(&job("reembed", None)).await.unwrap();
    }
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let s = s.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                while let Some(j) = s.claim_job(&format!("w{w}"), LEASE).await.unwrap() {
                    assert!(
                        s.complete_job(&j.id, &format!("w{w}"), &json!({}))
                            .await
                            .unwrap()
                    );
                    mine.push(j.id);
                }
                mine
            })
        })
        .collect();
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    all.sort();
    let n = all.len();
    all.dedup();
    assert_eq!((n, all.len()), (12, 12), "each job claimed exactly once");
}
