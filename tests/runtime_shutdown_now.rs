//! `Runtime::shutdown_now`: a runtime whose process tasks never end can
//! still be shut down. Process tasks are cancelled (their workers killed),
//! so the CPU and blocking jobs waiting for them end too, and nothing of
//! the runtime is left afterwards.
#![cfg(feature = "runtime")]

mod runtime_support;

use std::time::Duration;

use runtime_support::within;

fn forever(_: ()) -> u32 {
    loop {
        std::thread::park();
    }
}

#[test]
fn shutdown_now_cancels_process_tasks_and_what_waits_for_them_ends() {
    within(Duration::from_secs(60), || {
        let rt = runtime_support::one_of_each();
        let handle = rt.handle();
        let direct = handle.spawn_process(forever, ());
        // Jobs of the other kinds that wait for process tasks of their own,
        // once they are submitted.
        let (submitted, all_submitted) = std::sync::mpsc::channel();
        let cpu = handle.spawn_cpu({
            let submitted = submitted.clone();
            move || {
                let task = triad::runtime::spawn_process(forever, ());
                submitted.send(()).unwrap();
                task.wait()
            }
        });
        let blocking = handle.spawn_blocking(move || {
            let task = triad::runtime::spawn_process(forever, ());
            submitted.send(()).unwrap();
            task.wait()
        });
        all_submitted.recv().unwrap();
        all_submitted.recv().unwrap();
        rt.shutdown_now();
        assert!(direct.wait().unwrap_err().is_cancelled());
        assert!(cpu.join().unwrap().unwrap_err().is_cancelled());
        assert!(blocking.join().unwrap().unwrap_err().is_cancelled());
        // Refused from now on, as after a drop.
        assert!(handle.spawn_cpu(|| 1).join().unwrap_err().is_shutdown());
    });
}

/// A process task whose submit still waited for a slot (the pool was full)
/// never reaches the pool: it is refused as work given to a runtime shut
/// down, and the blocking thread that waited for the slot goes on.
#[test]
fn shutdown_now_refuses_a_submit_still_waiting_for_a_slot() {
    within(Duration::from_secs(60), || {
        let rt = runtime_support::one_of_each_with_one_slot();
        let handle = rt.handle();
        let running = handle.spawn_process(forever, ());
        let waiting = handle.spawn_process(forever, ()); // the only slot is busy
        assert!(!waiting.is_finished());
        rt.shutdown_now();
        assert!(running.wait().unwrap_err().is_cancelled());
        let refused = waiting.wait().unwrap_err();
        assert!(refused.is_shutdown(), "{refused}");
        assert_eq!(refused.origin(), triad::runtime::Origin::Process);
    });
}

/// After `shutdown_now`, a handle of every kind is finished and gives its
/// outcome at once: a loop task never polled, a CPU job, a blocking job, a
/// process task in the pool and one whose submit waited for a slot.
#[test]
fn after_shutdown_now_every_handle_is_finished_with_its_outcome() {
    within(Duration::from_secs(60), || {
        let rt = runtime_support::one_of_each_with_one_slot();
        let handle = rt.handle();
        let local = handle.spawn(std::future::pending::<()>());
        let cpu = handle.spawn_cpu(|| 6);
        let blocking = handle.spawn_blocking(|| 7);
        let running = handle.spawn_process(forever, ());
        let mut waiting = handle.spawn_process(forever, ()); // the only slot is busy
        rt.shutdown_now();
        assert!(local.is_finished(), "loop task");
        assert!(cpu.is_finished(), "cpu job");
        assert!(blocking.is_finished(), "blocking job");
        assert!(running.is_finished(), "process task");
        assert!(waiting.is_finished(), "queued process task");
        assert!(!running.is_running());
        assert!(!waiting.cancel(), "nothing left to cancel");
        assert!(runtime_support::block_on(local).unwrap_err().is_cancelled());
        assert_eq!(cpu.join().unwrap(), 6);
        assert_eq!(blocking.join().unwrap(), 7);
        assert!(running.wait().unwrap_err().is_cancelled());
        let refused = waiting
            .wait_timeout(Duration::ZERO)
            .expect("the outcome is there")
            .unwrap_err();
        assert!(refused.is_shutdown(), "{refused}");
    });
}
