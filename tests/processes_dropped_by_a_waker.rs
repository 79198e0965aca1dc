//! A pool dropped by a waker: the waker of an awaited task may hold the
//! last reference to the pool (an executor's task that owns it), and the
//! pool's supervisor thread is the one that wakes it. The drop then cannot
//! wait for tasks, nor join the thread it runs on: it must neither panic
//! there nor hang, and every task still gets its outcome.
#![cfg(feature = "processes")]

mod processes_support;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Wake, Waker};
use std::time::Duration;

use processes_support::{children, eventually, open_fds, serial, within};
use triad::processes::ProcessPool;

fn nap_then_double(x: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(30));
    2 * x
}

/// Owns the pool, and drops it when woken.
struct DropsThePool(Mutex<Option<ProcessPool>>);

impl Wake for DropsThePool {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        let pool = self.0.lock().unwrap().take();
        drop(pool);
    }
}

#[test]
fn a_pool_dropped_by_its_tasks_waker_neither_panics_nor_hangs() {
    let panics = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = panics.clone();
    std::panic::set_hook(Box::new(move |_| {
        let name = std::thread::current().name().unwrap_or("?").to_string();
        seen.lock().unwrap().push(name);
    }));
    within(Duration::from_secs(60), move || {
        let _guard = serial();
        let (fds, kids) = (open_fds(), children());
        let pool = ProcessPool::builder().workers(1).build().unwrap();
        let mut first = pool.submit(nap_then_double, 1);
        let second = pool.submit(nap_then_double, 2);
        let owner = Arc::new(DropsThePool(Mutex::new(Some(pool))));
        let waker = Waker::from(owner.clone());
        assert!(Pin::new(&mut first)
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
        eventually("the waker dropped the pool", || {
            owner.0.lock().unwrap().is_none()
        });
        assert_eq!(first.wait(), Ok(2));
        let second = second.wait();
        assert!(
            second == Ok(4) || second.as_ref().is_err_and(|e| e.is_cancelled()),
            "{second:?}"
        );
        drop((waker, owner));
        eventually("the zygote and workers are reaped", || children() == kids);
        eventually("the descriptors are closed", || open_fds() == fds);
    });
    let _ = std::panic::take_hook();
    assert_eq!(*panics.lock().unwrap(), Vec::<String>::new());
}
