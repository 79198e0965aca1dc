//! Many parent threads on one small pool at once: submits racing for two
//! slots (evictions all the time), and every way of taking an outcome
//! (wait, wait with a timeout, drop, `.await`, the completion fd, a result
//! view held a while). Every task gets its one right outcome; nobody hangs.
#![cfg(feature = "processes")]

mod processes_support;

use std::future::Future;
use std::os::fd::AsRawFd;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use processes_support::{no_leaks, within};
use triad::processes::{ProcessPool, SharedBytes};

fn double(x: u64) -> u64 {
    if x % 7 == 0 {
        std::thread::sleep(Duration::from_micros(300));
    }
    x * 2
}

fn pattern(n: usize) -> SharedBytes {
    SharedBytes::from((0..n).map(|i| (i % 251) as u8).collect::<Vec<u8>>())
}

struct Unparker(std::thread::Thread);

impl Wake for Unparker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Poll `f` to its end on this thread; a lost wake-up fails the test
/// (after 10 s without one) instead of sleeping for ever.
fn block_on<F: Future>(f: F) -> F::Output {
    let waker = Waker::from(Arc::new(Unparker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        let t0 = std::time::Instant::now();
        std::thread::park_timeout(Duration::from_secs(10));
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "a pending task's waker was never woken"
        );
    }
}

fn readable_within(fd: i32, ms: i32) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `pfd` is a live pollfd; poll reads and writes one entry.
    unsafe { libc::poll(&mut pfd, 1, ms) == 1 }
}

#[test]
fn threads_racing_for_two_slots_each_get_every_outcome_right() {
    within(Duration::from_secs(120), || {
        no_leaks(
            || {
                ProcessPool::builder()
                    .workers(2)
                    .slots_per_worker(1)
                    .build()
                    .unwrap()
            },
            |pool| {
                std::thread::scope(|s| {
                    for t in 0..4u64 {
                        s.spawn(move || {
                            for i in 0..2000u64 {
                                let x = t * 1_000_000 + i;
                                match i % 6 {
                                    0 => assert_eq!(pool.submit(double, x).wait(), Ok(2 * x)),
                                    1 => drop(pool.submit(double, x)),
                                    2 => assert_eq!(block_on(pool.submit(double, x)), Ok(2 * x)),
                                    3 => {
                                        let mut h = pool.submit(double, x);
                                        let fd = h.completion_fd().expect("an eventfd").as_raw_fd();
                                        assert!(readable_within(fd, 10_000), "fd never readable");
                                        assert_eq!(h.try_wait(), Some(Ok(2 * x)));
                                        // Readable it stays.
                                        assert!(readable_within(fd, 0));
                                    }
                                    4 => {
                                        let mut h = pool.submit(double, x);
                                        let outcome = loop {
                                            if let Some(o) =
                                                h.wait_timeout(Duration::from_micros(50))
                                            {
                                                break o;
                                            }
                                        };
                                        assert_eq!(outcome, Ok(2 * x));
                                    }
                                    // One thread only holds views, one at a
                                    // time, so that never every slot is held.
                                    _ if t == 0 => {
                                        let v = pool.submit(pattern, 5000 + i as usize).wait();
                                        let v = v.unwrap();
                                        assert_eq!(v.len(), 5000 + i as usize);
                                        assert!(v
                                            .iter()
                                            .enumerate()
                                            .all(|(k, &b)| b == (k % 251) as u8));
                                        std::thread::sleep(Duration::from_micros(100));
                                    }
                                    _ => {
                                        let handles: Vec<_> =
                                            (0..3).map(|k| pool.submit(double, x + k)).collect();
                                        for (k, h) in handles.into_iter().enumerate().rev() {
                                            assert_eq!(h.wait(), Ok(2 * (x + k as u64)));
                                        }
                                    }
                                }
                            }
                        });
                    }
                });
                assert!(pool.stats().evictions > 0);
            },
        )
    });
}
