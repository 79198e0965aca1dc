//! The loop-local `Semaphore`, `Mutex` and `RwLock` (`event_loop::sync`): bounds,
//! FIFO order, no starvation of `acquire_many`, close as a typed error,
//! cancellation of waiting and granted acquires, many tasks without a
//! lost wake-up, and a permit count that saturates instead of overflowing.
#![cfg(feature = "event-loop")]

mod support;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use triad::event_loop::future::select;
use triad::event_loop::sync::{Mutex, RwLock, Semaphore};
use triad::event_loop::{sleep, spawn, yield_now, EventLoop};

use support::{settle, within};

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn a_semaphore_bounds_how_many_run_at_once() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        let (most, done) = ev.block_on(async {
            let limit = Rc::new(Semaphore::new(4));
            let running = Rc::new(Cell::new(0));
            let most = Rc::new(Cell::new(0));
            let tasks: Vec<_> = (0..50)
                .map(|_| {
                    let (limit, running, most) = (limit.clone(), running.clone(), most.clone());
                    spawn(async move {
                        let _permit = limit.acquire().await.unwrap();
                        running.set(running.get() + 1);
                        most.set(most.get().max(running.get()));
                        yield_now().await;
                        running.set(running.get() - 1);
                    })
                })
                .collect();
            let mut done = 0;
            for task in tasks {
                task.await.unwrap();
                done += 1;
            }
            assert_eq!(limit.available_permits(), 4);
            (most.get(), done)
        });
        assert_eq!((most, done), (4, 50));
    });
}

#[test]
fn waiters_acquire_in_the_order_they_asked() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        let order = ev.block_on(async {
            let semaphore = Rc::new(Semaphore::new(1));
            let order = Rc::new(RefCell::new(Vec::new()));
            let held = semaphore.try_acquire().unwrap();
            let tasks: Vec<_> = (0..6)
                .map(|id| {
                    let (semaphore, order) = (semaphore.clone(), order.clone());
                    spawn(async move {
                        let _permit = semaphore.acquire().await.unwrap();
                        order.borrow_mut().push(id);
                        yield_now().await;
                    })
                })
                .collect();
            settle().await;
            drop(held);
            for task in tasks {
                task.await.unwrap();
            }
            let order = order.borrow().clone();
            order
        });
        assert_eq!(order, [0, 1, 2, 3, 4, 5]);
    });
}

#[test]
fn a_big_acquire_many_is_not_starved_by_small_ones() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let semaphore = Rc::new(Semaphore::new(2));
            let order = Rc::new(RefCell::new(Vec::new()));
            let mut held = semaphore.try_acquire_many(2).unwrap();
            let big = spawn({
                let (semaphore, order) = (semaphore.clone(), order.clone());
                async move {
                    let permit = semaphore.acquire_many(2).await.unwrap();
                    order.borrow_mut().push("big");
                    yield_now().await;
                    drop(permit);
                }
            });
            let smalls: Vec<_> = (0..3)
                .map(|_| {
                    let (semaphore, order) = (semaphore.clone(), order.clone());
                    spawn(async move {
                        let _permit = semaphore.acquire().await.unwrap();
                        order.borrow_mut().push("small");
                    })
                })
                .collect();
            settle().await;
            // One permit back: free, but reserved for the big waiter in
            // front; neither the small waiters nor a try_acquire take it.
            let one = held.split(1).unwrap();
            drop(one);
            settle().await;
            assert_eq!(semaphore.available_permits(), 1);
            assert!(order.borrow().is_empty());
            assert!(semaphore.try_acquire().unwrap_err().is_no_permits());
            drop(held);
            big.await.unwrap();
            for small in smalls {
                small.await.unwrap();
            }
            assert_eq!(*order.borrow(), ["big", "small", "small", "small"]);
            assert_eq!(semaphore.available_permits(), 2);
        });
    });
}

#[test]
fn close_fails_waiters_and_later_acquires_but_not_held_permits() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let semaphore = Rc::new(Semaphore::new(1));
            let held = semaphore.clone().try_acquire_owned().unwrap();
            let waiters: Vec<_> = (0..3)
                .map(|_| {
                    let semaphore = semaphore.clone();
                    spawn(async move { semaphore.acquire().await.map(|_| ()) })
                })
                .collect();
            settle().await;
            semaphore.close();
            for waiter in waiters {
                assert!(waiter.await.unwrap().unwrap_err().is_closed());
            }
            assert!(semaphore.acquire().await.unwrap_err().is_closed());
            assert!(semaphore.try_acquire().unwrap_err().is_closed());
            assert_eq!(held.num_permits(), 1);
            drop(held);
            assert_eq!(semaphore.available_permits(), 1);
        });
    });
}

#[test]
fn a_dropped_waiting_acquire_leaves_the_queue() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let semaphore = Rc::new(Semaphore::new(1));
            let held = semaphore.try_acquire().unwrap();
            // Queued, then abandoned: the other branch finishes first.
            assert!(select(semaphore.acquire(), settle()).await.is_right());
            let next = spawn({
                let semaphore = semaphore.clone();
                async move { semaphore.acquire().await.unwrap().num_permits() }
            });
            settle().await;
            drop(held);
            assert_eq!(next.await.unwrap(), 1);
            assert_eq!(semaphore.available_permits(), 1);
        });
    });
}

#[test]
fn permits_handed_to_a_cancelled_acquire_are_passed_on() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let semaphore = Rc::new(Semaphore::new(2));
            let held = semaphore.try_acquire_many(2).unwrap();
            let first = spawn({
                let semaphore = semaphore.clone();
                async move { semaphore.acquire_many(2).await.unwrap().num_permits() }
            });
            let second = spawn({
                let semaphore = semaphore.clone();
                async move { semaphore.acquire_many(2).await.unwrap().num_permits() }
            });
            settle().await;
            drop(held); // both permits are handed to `first`...
            assert_eq!(semaphore.available_permits(), 0);
            first.abort(); // ...which is cancelled before it runs
            assert!(first.await.unwrap_err().is_cancelled());
            assert_eq!(second.await.unwrap(), 2, "the permits went on");
            assert_eq!(semaphore.available_permits(), 2, "none lost, none doubled");
        });
    });
}

#[test]
fn many_tasks_contending_lose_no_wake_up() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        let total = ev.block_on(async {
            let semaphore = Rc::new(Semaphore::new(3));
            let counter = Rc::new(Cell::new(0u64));
            let tasks: Vec<_> = (0..500u64)
                .map(|i| {
                    let (semaphore, counter) = (semaphore.clone(), counter.clone());
                    spawn(async move {
                        for _ in 0..10 {
                            let _permit = semaphore.acquire_many((i % 3 + 1) as u32).await.unwrap();
                            counter.set(counter.get() + 1);
                            if i % 7 == 0 {
                                yield_now().await;
                            }
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
            assert_eq!(semaphore.available_permits(), 3);
            counter.get()
        });
        assert_eq!(total, 5000);
    });
}

#[test]
fn add_and_forget_permits() {
    let semaphore = Semaphore::new(1);
    semaphore.add_permits(2);
    assert_eq!(semaphore.available_permits(), 3);
    semaphore.try_acquire().unwrap().forget();
    assert_eq!(semaphore.available_permits(), 2);
    assert_eq!(semaphore.forget_permits(5), 2);
    assert!(semaphore.try_acquire().unwrap_err().is_no_permits());
}

#[test]
fn the_permit_count_saturates_at_the_cap_instead_of_panicking() {
    within(LIMIT, || {
        const MAX: usize = Semaphore::MAX_PERMITS;
        let huge = Semaphore::new(usize::MAX);
        assert_eq!(huge.available_permits(), MAX, "new takes more as the cap");

        let semaphore = Semaphore::new(MAX);
        let held = semaphore.try_acquire_many(3).unwrap();
        assert_eq!(semaphore.available_permits(), MAX - 3);
        semaphore.add_permits(usize::MAX);
        assert_eq!(semaphore.available_permits(), MAX, "add_permits saturates");
        drop(held); // given back at the cap: no overflow in the permit's drop
        assert_eq!(semaphore.available_permits(), MAX);
        assert_eq!(
            semaphore.try_acquire_many(u32::MAX).unwrap().num_permits(),
            u32::MAX as usize
        );
        assert_eq!(semaphore.available_permits(), MAX);
    });
}

#[test]
fn a_mutex_held_across_an_await_excludes_the_others() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        let log = ev.block_on(async {
            let state = Rc::new(Mutex::new(Vec::new()));
            let tasks: Vec<_> = (0..4)
                .map(|id| {
                    let state = state.clone();
                    spawn(async move {
                        let mut log = state.lock().await;
                        log.push((id, "in"));
                        sleep(Duration::from_millis(1)).await;
                        log.push((id, "out"));
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
            Rc::try_unwrap(state).unwrap().into_inner()
        });
        let expected: Vec<_> = (0..4).flat_map(|id| [(id, "in"), (id, "out")]).collect();
        assert_eq!(log, expected, "FIFO, and never interleaved");
    });
}

#[test]
fn a_cancelled_lock_passes_the_mutex_on() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let mutex = Rc::new(Mutex::new(0));
            let guard = mutex.try_lock().unwrap();
            let first = spawn({
                let mutex = mutex.clone();
                async move { *mutex.lock().await += 1 }
            });
            let second = spawn({
                let mutex = mutex.clone();
                async move { *mutex.lock().await += 10 }
            });
            settle().await;
            assert!(mutex.try_lock().unwrap_err().is_locked());
            drop(guard); // handed to `first`...
            first.abort(); // ...cancelled before it runs
            assert!(first.await.unwrap_err().is_cancelled());
            second.await.unwrap();
            assert_eq!(*mutex.try_lock().unwrap(), 10);
            // And a lock abandoned while queued.
            let held = mutex.try_lock().unwrap();
            assert!(select(mutex.lock(), settle()).await.is_right());
            drop(held);
            assert!(!mutex.is_locked());
        });
    });
}

#[test]
fn a_task_panicking_with_the_guard_unlocks() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let mutex = Rc::new(Mutex::new(1));
            let panicking = spawn({
                let mutex = mutex.clone();
                async move {
                    let mut guard = mutex.lock().await;
                    *guard = 2;
                    yield_now().await;
                    panic!("with the guard held");
                }
            });
            let waiter = spawn({
                let mutex = mutex.clone();
                async move { *mutex.lock().await }
            });
            assert!(panicking.await.unwrap_err().is_panic());
            assert_eq!(waiter.await.unwrap(), 2, "no poisoning: the value as left");
        });
    });
}

#[test]
fn many_tasks_increment_through_the_mutex() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        let total = ev.block_on(async {
            let mutex = Rc::new(Mutex::new(0u64));
            let tasks: Vec<_> = (0..200)
                .map(|_| {
                    let mutex = mutex.clone();
                    spawn(async move {
                        for _ in 0..50 {
                            let mut guard = mutex.lock().await;
                            let seen = *guard;
                            yield_now().await; // held across the await
                            *guard = seen + 1;
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
            let total = *mutex.lock().await;
            total
        });
        assert_eq!(total, 10_000);
    });
}

#[test]
fn rwlock_readers_share_and_a_writer_is_served_in_arrival_order() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        let log = ev.block_on(async {
            let lock = Rc::new(RwLock::new(0));
            let log = Rc::new(RefCell::new(Vec::new()));
            let first_reader = lock.try_read().unwrap();
            // A writer queues behind the reader; readers after it queue too.
            let writer = spawn({
                let (lock, log) = (lock.clone(), log.clone());
                async move {
                    let mut value = lock.write().await;
                    *value += 1;
                    log.borrow_mut().push("write");
                    yield_now().await;
                }
            });
            settle().await;
            assert!(
                lock.try_read().unwrap_err().is_locked(),
                "no barging past a writer"
            );
            let readers: Vec<_> = (0..3)
                .map(|_| {
                    let (lock, log) = (lock.clone(), log.clone());
                    spawn(async move {
                        let value = lock.read().await;
                        log.borrow_mut().push("read");
                        yield_now().await; // readers overlap
                        *value
                    })
                })
                .collect();
            settle().await;
            assert!(log.borrow().is_empty());
            drop(first_reader);
            writer.await.unwrap();
            for reader in readers {
                assert_eq!(reader.await.unwrap(), 1, "readers came after the write");
            }
            let log = log.borrow().clone();
            log
        });
        assert_eq!(log, ["write", "read", "read", "read"]);
    });
}

#[test]
fn rwlock_downgrade_lets_queued_readers_in_and_a_cancelled_write_passes_on() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let lock = Rc::new(RwLock::new(1));
            let mut writer = lock.try_write().unwrap();
            let reader = spawn({
                let lock = lock.clone();
                async move { *lock.read().await }
            });
            settle().await;
            *writer = 2;
            let shared = writer.downgrade();
            assert_eq!(reader.await.unwrap(), 2, "the queued reader came in");
            // A write queued behind the shared guard, then abandoned.
            assert!(select(lock.write(), settle()).await.is_right());
            drop(shared);
            let mut again = lock.try_write().unwrap();
            *again = 3;
            drop(again);
            assert_eq!(*lock.read().await, 3);
        });
    });
}

#[test]
fn a_cancelled_big_acquire_at_the_front_lets_the_waiters_behind_it_in() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let semaphore = Rc::new(Semaphore::new(2));
            let held = semaphore.try_acquire().unwrap();
            // A request for both permits queues at the front (one is held)...
            let mut big = Box::pin(semaphore.acquire_many(2));
            assert!(select(big.as_mut(), settle()).await.is_right());
            // ...and a small one queues behind it, though a permit is free.
            let small = spawn({
                let semaphore = semaphore.clone();
                async move { semaphore.acquire().await.unwrap().num_permits() }
            });
            settle().await;
            assert_eq!(semaphore.available_permits(), 1);
            drop(big); // the front gives up: the free permit now fits `small`
            assert_eq!(small.await.unwrap(), 1);
            drop(held);
            assert_eq!(semaphore.available_permits(), 2);
        });
    });
}

#[test]
fn rwlock_readers_queued_behind_a_cancelled_write_get_in() {
    within(LIMIT, || {
        let ev = EventLoop::new().unwrap();
        ev.block_on(async {
            let lock = Rc::new(RwLock::new(7));
            let shared = lock.try_read().unwrap();
            let mut write = Box::pin(lock.write());
            assert!(select(write.as_mut(), settle()).await.is_right());
            let reader = spawn({
                let lock = lock.clone();
                async move { *lock.read().await }
            });
            settle().await;
            drop(write); // a timed-out writer: the reader behind it may share
            assert_eq!(reader.await.unwrap(), 7);
            drop(shared);
        });
    });
}
