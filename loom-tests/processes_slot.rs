//! Model of `src/processes/slot.rs` (and `doorbell.rs`): the result-slot
//! state machine run over loom atomics in ordinary memory, the futex
//! emulated by a mutex and condition variable with the kernel's semantics.
//! The payload (argument in, result out) is a loom `UnsafeCell`, so loom
//! reports any access the protocol does not order.
//!
//! Seen to fail (each break made alone in a scratch copy of the crate,
//! never here; `LOOM_MAX_PREEMPTIONS=2`, release):
//!
//! 1. `Slot::finish` with `Relaxed` instead of `Release` on its CAS (the
//!    completion no longer publishes the result): "Causality violation:
//!    Concurrent read and write accesses" on the payload cell in
//!    `submit_claim_complete_collect` and `completion_wakes_a_sleeping_waiter`.
//! 2. `Slot::try_claim` as one CAS from exactly `SUBMITTED` (as first
//!    written: it ignored the WAITER flag a waiting parent sets; in the real
//!    pool the first smoke test livelocked on it): "deadlock" in
//!    `submit_claim_complete_collect` (the parent sleeps, both workers gave
//!    up), and `worker_dying_after_claim_is_abandoned` fails its claim.
//! 3. `Slot::finish` waking when the old word had NOTIFY_FD instead of
//!    WAITER (a dropped wake-up): "deadlock" (the collector sleeps forever
//!    on the futex) in `completion_wakes_a_sleeping_waiter`,
//!    `submit_claim_complete_collect` and
//!    `worker_dying_after_claim_is_abandoned`.

use crate::processes::doorbell::Doorbell;
use crate::processes::slot::{outcome, Collected, Finish, Slot};
use crate::sync::atomic::{AtomicUsize, Ordering::*};
use crate::sync::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;

struct Pair {
    slot: Slot,
    /// The slot's data area: the argument, then the result.
    data: UnsafeCell<u64>,
}

fn pair() -> Arc<Pair> {
    Arc::new(Pair {
        slot: Slot::new(),
        data: UnsafeCell::new(0),
    })
}

/// Parent side: write the argument into a FREE slot and publish it.
fn submit(p: &Pair, arg: u64) {
    // SAFETY: the slot is FREE, owned by the parent (slot rule 1).
    p.data.with_mut(|d| unsafe { *d = arg });
    p.slot.submit();
}

/// Worker side: claim, read the argument, write the result, complete.
fn work(p: &Pair, serial: u32) -> Option<Finish> {
    if !p.slot.try_claim(serial) {
        return None;
    }
    // SAFETY: CLAIMED by us (slot rule 1).
    let arg = p.data.with(|d| unsafe { *d });
    // SAFETY: as above.
    p.data.with_mut(|d| unsafe { *d = arg * 10 });
    p.slot.outcome.store(outcome::OK, Relaxed);
    Some(p.slot.complete(serial))
}

/// A submit raced by two workers' claims and a parent that waits and
/// collects: exactly one worker runs the task, and the parent reads its
/// result (rules 1–3, 5).
#[test]
fn submit_claim_complete_collect() {
    super::model(|| {
        let p = pair();
        let claims = Arc::new(AtomicUsize::new(0));
        submit(&p, 7);
        let workers: Vec<_> = (1..=2u32)
            .map(|serial| {
                let (p, claims) = (p.clone(), claims.clone());
                thread::spawn(move || {
                    // A worker looks once; the other may find it taken.
                    if let Some(finish) = work(&p, serial) {
                        assert!(matches!(finish, Finish::Done { .. }));
                        claims.fetch_add(1, Relaxed);
                    }
                })
            })
            .collect();
        // The slot is SUBMITTED before either worker starts, so one of them
        // claims it. The parent waits (sets WAITER, sleeps on the futex)
        // unless that worker already finished.
        assert!(p.slot.wait_finished(None));
        assert_eq!(p.slot.try_collect(), Some(Collected::Complete));
        // SAFETY: COLLECTED: the parent owns the data area (slot rule 1).
        assert_eq!(p.data.with(|d| unsafe { *d }), 70);
        p.slot.release();
        for w in workers {
            w.join().unwrap();
        }
        assert_eq!(claims.load(Relaxed), 1);
    });
}

/// The finisher's wake reaches a parent that set WAITER and sleeps (rule 5).
#[test]
fn completion_wakes_a_sleeping_waiter() {
    super::model(|| {
        let p = pair();
        submit(&p, 1);
        assert!(p.slot.try_claim(1));
        let worker = thread::spawn({
            let p = p.clone();
            move || {
                // SAFETY: CLAIMED by serial 1, handed to this thread by
                // `spawn` (happens-before).
                p.data.with_mut(|d| unsafe { *d = 5 });
                p.slot.outcome.store(outcome::OK, Relaxed);
                let _ = p.slot.complete(1);
            }
        });
        assert!(p.slot.wait_finished(None));
        assert_eq!(p.slot.try_collect(), Some(Collected::Complete));
        // SAFETY: COLLECTED (slot rule 1).
        assert_eq!(p.data.with(|d| unsafe { *d }), 5);
        worker.join().unwrap();
    });
}

/// A worker claims, then either completes or dies; the supervisor abandons
/// at the same time (a timeout kill racing the completion, or a zygote
/// death): exactly one of them wins, and the parent sees that one (rule 4).
#[test]
fn completion_racing_abandon_gives_one_outcome() {
    super::model(|| {
        let p = pair();
        submit(&p, 3);
        let worker = thread::spawn({
            let p = p.clone();
            move || work(&p, 9)
        });
        let supervisor = thread::spawn({
            let p = p.clone();
            move || loop {
                // The supervisor abandons only a CLAIMED slot; before the
                // claim there is nothing to abandon yet.
                match p.slot.abandon(9, outcome::SIGNALED, 9) {
                    Finish::Done { .. } => return true,
                    Finish::Lost if p.slot.is_finished() => return false,
                    Finish::Lost => thread::yield_now(),
                }
            }
        });
        let worker_won = matches!(worker.join().unwrap(), Some(Finish::Done { .. }));
        let supervisor_won = supervisor.join().unwrap();
        assert!(worker_won != supervisor_won, "exactly one outcome");
        assert!(p.slot.wait_finished(None));
        match p.slot.try_collect() {
            Some(Collected::Complete) => {
                assert!(worker_won);
                // SAFETY: COLLECTED (slot rule 1).
                assert_eq!(p.data.with(|d| unsafe { *d }), 30);
            }
            Some(Collected::Abandoned { cause, detail }) => {
                assert!(supervisor_won);
                assert_eq!((cause, detail), (outcome::SIGNALED, 9));
            }
            None => panic!("finished but not collectable"),
        }
    });
}

/// A worker dies after its claim (it never completes); the supervisor
/// learns of the death (the join stands for the zygote's reap) and
/// abandons; the waiting parent wakes with the cause (rules 4, 5).
#[test]
fn worker_dying_after_claim_is_abandoned() {
    super::model(|| {
        let p = pair();
        submit(&p, 3);
        let worker = thread::spawn({
            let p = p.clone();
            move || assert!(p.slot.try_claim(4)) // ...and dies.
        });
        let supervisor = thread::spawn({
            let p = p.clone();
            move || {
                worker.join().unwrap(); // reaped
                assert!(matches!(
                    p.slot.abandon(4, outcome::EXITED, 1),
                    Finish::Done { .. }
                ));
            }
        });
        assert!(p.slot.wait_finished(None));
        assert_eq!(
            p.slot.try_collect(),
            Some(Collected::Abandoned {
                cause: outcome::EXITED,
                detail: 1
            })
        );
        supervisor.join().unwrap();
    });
}

/// An immediate shutdown's cancel racing a worker's claim: exactly one wins
/// (rule 3), and the task gets one outcome.
#[test]
fn cancel_racing_claim() {
    super::model(|| {
        let p = pair();
        submit(&p, 2);
        let worker = thread::spawn({
            let p = p.clone();
            move || work(&p, 1).is_some()
        });
        let cancelled = p.slot.cancel(outcome::CANCELLED).is_some();
        let claimed = worker.join().unwrap();
        assert!(cancelled != claimed, "exactly one of cancel and claim");
        assert!(p.slot.wait_finished(None));
        match p.slot.try_collect() {
            Some(Collected::Complete) => {
                assert!(claimed);
                // SAFETY: COLLECTED (slot rule 1).
                assert_eq!(p.data.with(|d| unsafe { *d }), 20);
            }
            Some(Collected::Abandoned { cause, .. }) => {
                assert!(cancelled);
                assert_eq!(cause, outcome::CANCELLED);
            }
            None => panic!("finished but not collectable"),
        }
    });
}

/// Dispatch: a worker that found nothing sleeps on the work doorbell; a
/// submit that rings it is never lost (doorbell rules 1, 2).
#[test]
fn work_doorbell_wakes_an_idle_worker() {
    super::model(|| {
        let p = pair();
        let bell = Arc::new(Doorbell::new());
        let worker = thread::spawn({
            let (p, bell) = (p.clone(), bell.clone());
            move || loop {
                let seen = bell.seen();
                if let Some(finish) = work(&p, 1) {
                    return finish;
                }
                bell.sleep(seen, None);
            }
        });
        submit(&p, 4);
        bell.ring(true);
        assert!(matches!(worker.join().unwrap(), Finish::Done { .. }));
        assert_eq!(p.slot.try_collect(), Some(Collected::Complete));
    });
}
