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
//! 4. `Slot::finish` reporting `timed_out: false` whatever the DOOMED flag
//!    (the worker no longer learns that a kill is on its way, so it would
//!    claim the next task, which the kill then hits): "the kill is sent iff
//!    the worker knows it must leave" in `timeout_mark_racing_completion`,
//!    and `a_doomed_task_is_abandoned_as_timed_out` fails its match.
//! 5. `Slot::wait_task` without its ticket check (rule 9): "deadlock" in
//!    `a_waiter_never_sleeps_on_the_next_task` (the waiter finds the slot
//!    holding the next task, which no worker runs, and sleeps on it).
//! 6. `Doorbell::sleep` giving the spinner's place back *after* its fence
//!    instead of before (doorbell rule 7): "deadlock" in
//!    `work_doorbell_wakes_an_idle_worker` (the ring saw the spinner still
//!    registered and woke nobody; the spinner's futex read the old `seq`).
//! 7. `Doorbell::forget_spinner` freeing the place without ringing:
//!    "deadlock" in `a_dead_spinner_is_forgotten` (the ring absorbed by the
//!    dead spinner is never repeated; the live worker sleeps on).
//! 8. `Doorbell::sleep` not counting a place the worker already holds
//!    as its own (`Err(_) => false`), so that a holder sleeps still
//!    registered: "deadlock" in `a_holder_takes_the_next_task_without_a_wake`.

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
        assert!(p.slot.wait_task(None, None));
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
        assert!(p.slot.wait_task(None, None));
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
        assert!(p.slot.wait_task(None, None));
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
        assert!(p.slot.wait_task(None, None));
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
        assert!(p.slot.wait_task(None, None));
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
/// submit that rings it is never lost (doorbell rules 1, 2). The worker
/// is the registered spinner (rule 7), so the ring for one task makes no
/// wake while it is registered: it must see `seq` move itself, or have
/// given its place back before its fence.
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
                bell.sleep(seen, None, Some(1));
            }
        });
        submit(&p, 4);
        bell.ring(true);
        assert!(matches!(worker.join().unwrap(), Finish::Done { .. }));
        assert_eq!(p.slot.try_collect(), Some(Collected::Complete));
    });
}

/// Doorbell rule 7 and worker rule W6: a worker that got the spinner's
/// place and found work keeps the place through its (short) tasks; the
/// ring for the next task then wakes nobody, and the holder must take it
/// on its own next look, or give the place back before it sleeps.
#[test]
fn a_holder_takes_the_next_task_without_a_wake() {
    super::model(|| {
        let p = pair();
        let bell = Arc::new(Doorbell::new());
        let worker = thread::spawn({
            let (p, bell) = (p.clone(), bell.clone());
            move || {
                let mut ran = 0;
                loop {
                    let seen = bell.seen();
                    if work(&p, 1).is_some() {
                        ran += 1;
                        if ran == 2 {
                            return ran;
                        }
                        continue;
                    }
                    bell.sleep(seen, None, Some(1));
                }
            }
        });
        for arg in [1, 2] {
            submit(&p, arg);
            bell.ring(true);
            assert!(p.slot.wait_task(None, None));
            assert_eq!(p.slot.try_collect(), Some(Collected::Complete));
            // SAFETY: COLLECTED: the parent owns the data area (rule 1).
            assert_eq!(p.data.with(|d| unsafe { *d }), arg * 10);
            p.slot.release();
        }
        assert_eq!(worker.join().unwrap(), 2);
    });
}

/// Doorbell rule 7: a worker that died as the registered spinner absorbs
/// every ring for one task, until the supervisor forgets it (and rings):
/// the task then reaches the other worker, which slept at once (it found
/// the spinner's place taken).
#[test]
fn a_dead_spinner_is_forgotten() {
    super::model(|| {
        let p = pair();
        let bell = Arc::new(Doorbell::new());
        // Worker 1 took the spinner's place and died there.
        assert!(bell.register_spinner(1));
        let worker = thread::spawn({
            let (p, bell) = (p.clone(), bell.clone());
            move || loop {
                let seen = bell.seen();
                if let Some(finish) = work(&p, 2) {
                    return finish;
                }
                bell.sleep(seen, None, Some(2));
            }
        });
        submit(&p, 4);
        // Absorbed by the dead spinner: wakes nobody.
        bell.ring(true);
        // The supervisor, told of worker 1's death.
        bell.forget_spinner(1);
        assert!(p.slot.wait_task(None, None));
        assert_eq!(p.slot.try_collect(), Some(Collected::Complete));
        assert!(matches!(worker.join().unwrap(), Finish::Done { .. }));
    });
}

/// A timeout mark racing the worker's completion (rule 8): either the mark
/// fails (the worker completed first, nobody is killed, the result stands)
/// or the worker's `complete` says `timed_out` (it leaves at once, so the
/// kill cannot hit another task). Never both, never neither.
#[test]
fn timeout_mark_racing_completion() {
    super::model(|| {
        let p = pair();
        submit(&p, 3);
        assert!(p.slot.try_claim(5));
        let worker = thread::spawn({
            let p = p.clone();
            move || {
                // SAFETY: CLAIMED by serial 5, handed to this thread by
                // `spawn` (happens-before).
                p.data.with_mut(|d| unsafe { *d = 30 });
                p.slot.outcome.store(outcome::OK, Relaxed);
                p.slot.complete(5)
            }
        });
        let marked = p.slot.doom(5);
        let Finish::Done { timed_out, .. } = worker.join().unwrap() else {
            panic!("nobody abandons here: the completion must win");
        };
        assert_eq!(
            marked, timed_out,
            "the kill is sent iff the worker knows it must leave"
        );
        // Completed: nothing left to mark.
        assert!(!p.slot.doom(5));
        assert_eq!(p.slot.try_collect(), Some(Collected::Complete));
        // SAFETY: COLLECTED (slot rule 1).
        assert_eq!(p.data.with(|d| unsafe { *d }), 30);
    });
}

/// A DOOMED task whose worker is then reported dead is abandoned as
/// TIMED_OUT, whatever the death (rule 8); it is marked only once.
#[test]
fn a_doomed_task_is_abandoned_as_timed_out() {
    super::model(|| {
        let p = pair();
        submit(&p, 1);
        assert!(p.slot.try_claim(6));
        assert!(p.slot.doom(6));
        assert!(!p.slot.doom(6), "a second mark would send a second kill");
        assert!(matches!(
            p.slot.abandon(6, outcome::SIGNALED, 9),
            Finish::Done {
                timed_out: true,
                ..
            }
        ));
        assert_eq!(
            p.slot.try_collect(),
            Some(Collected::Abandoned {
                cause: outcome::TIMED_OUT,
                detail: 0
            })
        );
    });
}

/// Rule 9: a parent thread waits for task 1 while another parent thread
/// collects it (an eviction), frees the slot and submits task 2, which no
/// worker runs. The waiter must return, not sleep on task 2.
#[test]
fn a_waiter_never_sleeps_on_the_next_task() {
    super::model(|| {
        let p = pair();
        p.slot.ticket.store(1, Relaxed);
        submit(&p, 1);
        assert!(p.slot.try_claim(2));
        let worker = thread::spawn({
            let p = p.clone();
            move || {
                p.slot.outcome.store(outcome::OK, Relaxed);
                let _ = p.slot.complete(2);
            }
        });
        let evictor = thread::spawn({
            let p = p.clone();
            move || {
                assert!(p.slot.wait_task(None, None));
                assert_eq!(p.slot.try_collect(), Some(Collected::Complete));
                p.slot.release();
                // The slot is FREE and ours (slot rule 1): the next task.
                p.slot.ticket.store(2, Relaxed);
                submit(&p, 2);
            }
        });
        assert!(p.slot.wait_task(Some(1), None));
        worker.join().unwrap();
        evictor.join().unwrap();
    });
}
