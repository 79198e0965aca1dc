//! cargo run --release --example loop_pipeline --no-default-features --features event-loop
//!
//! Watch for: "in flight: at most 4" (the semaphore's bound), the stage-2
//! queue never above 8 (the bounded channel's back-pressure: the producer
//! waits), every result back in request order, then "stopped: 6 workers"
//! once the `watch` shutdown flag flips, all on one thread.
//!
//! The idea: the `event_loop::sync` primitives composed as asyncio or tokio
//! users would, for tasks on one loop. A producer feeds a bounded `mpsc`
//! channel; six workers take jobs, each holding a `Semaphore` permit
//! while it "calls a service" (a sleep), and answer through a `oneshot`;
//! a `watch` channel tells the workers to stop; `join_all` gathers the
//! answers in order.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use triad::event_loop::future::{join_all, select, Either};
use triad::event_loop::sync::{mpsc, oneshot, watch, Mutex, Semaphore};
use triad::event_loop::{sleep, spawn, EventLoop};

type Job = (u64, oneshot::Sender<u64>);

fn main() -> std::io::Result<()> {
    let ev = EventLoop::new()?;
    ev.block_on(async {
        let (jobs_tx, jobs_rx) = mpsc::channel::<Job>(8);
        let jobs_rx = Rc::new(Mutex::new(jobs_rx)); // the workers share one receiver
        let limit = Rc::new(Semaphore::new(4));
        let (stop_tx, stop_rx) = watch::channel(false);
        let (in_flight, most) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
        let most_queued = Rc::new(Cell::new(0));

        let workers: Vec<_> = (0..6)
            .map(|_| {
                let (jobs_rx, limit) = (jobs_rx.clone(), limit.clone());
                let (in_flight, most, most_queued) =
                    (in_flight.clone(), most.clone(), most_queued.clone());
                let mut stop = stop_rx.clone();
                spawn(async move {
                    loop {
                        // Stop first (select is biased to its first branch).
                        let job = {
                            let mut jobs = jobs_rx.lock().await;
                            most_queued.set(most_queued.get().max(jobs.len()));
                            match select(stop.wait_for(|&s| s), jobs.recv()).await {
                                Either::Left(_) | Either::Right(None) => return,
                                Either::Right(Some(job)) => job,
                            }
                        };
                        let (n, reply) = job;
                        let _permit = limit.acquire().await.expect("never closed");
                        in_flight.set(in_flight.get() + 1);
                        most.set(most.get().max(in_flight.get()));
                        sleep(Duration::from_millis(2)).await; // the "service call"
                        in_flight.set(in_flight.get() - 1);
                        let _ = reply.send(n * n); // the caller may have gone
                    }
                })
            })
            .collect();

        let answers = join_all((0..40u64).map(|n| {
            let jobs_tx = jobs_tx.clone();
            async move {
                let (reply, answer) = oneshot::channel();
                jobs_tx.send((n, reply)).await.expect("workers are running");
                answer.await.expect("a worker answers")
            }
        }))
        .await;
        assert_eq!(answers, (0..40u64).map(|n| n * n).collect::<Vec<_>>());
        println!("40 answers, in request order: {:?} ...", &answers[..6]);
        println!("in flight: at most {}", most.get());
        println!("stage-2 queue: at most {} of 8", most_queued.get());

        stop_tx.send(true).expect("workers are watching");
        let mut stopped = 0;
        for worker in workers {
            worker.await.expect("a worker");
            stopped += 1;
        }
        println!("stopped: {stopped} workers");
    });
    Ok(())
}
