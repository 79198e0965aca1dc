//! [`join_all`]: every future of a collection, outputs in input order
//! (rule 3 of the `future` module docs).
//!
//! The futures live in one pinned boxed slice; each is polled until it
//! finishes, then dropped in place, and its output kept in a `Vec` at its
//! index. A wake-up polls every future not yet finished: O(n) per wake-up,
//! fine for the tens of futures `join_all` is for; for thousands, spawn
//! them as tasks (each then wakes alone) and await the handles.
//!
//! Rules:
//!
//! 1. **Pinned in place.** The slice is allocated once and never moved or
//!    resized; a future is only polled through a `Pin` to its own element
//!    and is dropped in place (set to `None`) when it finishes.
//! 2. **One output each.** A future is polled until `Ready` once, then
//!    never again: its slot is `None` from then on.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::Poll;

/// Await every future; their outputs in the order given (asyncio's
/// `gather`). The futures run concurrently inside the calling task.
///
/// ```
/// use std::time::Duration;
/// use triad::event_loop::future::join_all;
/// use triad::event_loop::{sleep, EventLoop};
///
/// let ev = EventLoop::new()?;
/// let outputs = ev.block_on(join_all((1..=3u64).rev().map(|i| async move {
///     sleep(Duration::from_millis(i)).await; // the last finishes first
///     i * 10
/// })));
/// assert_eq!(outputs, [30, 20, 10]); // input order, not finishing order
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn join_all<I>(futures: I) -> Vec<<I::Item as Future>::Output>
where
    I: IntoIterator,
    I::Item: Future,
{
    let mut pending: Pin<Box<[Option<I::Item>]>> =
        Box::into_pin(futures.into_iter().map(Some).collect());
    let mut outputs: Vec<Option<<I::Item as Future>::Output>> =
        pending.iter().map(|_| None).collect();
    let mut left = outputs.len();
    poll_fn(|cx| {
        for (index, output) in outputs.iter_mut().enumerate() {
            if output.is_some() {
                continue;
            }
            // SAFETY: rule 1: the boxed slice is pinned and never moved, so
            // its elements are pinned too; this `&mut` is used only to make
            // a `Pin` of the element (below) or to drop the element in
            // place by assigning `None`, both allowed for pinned data.
            let slot = unsafe { &mut pending.as_mut().get_unchecked_mut()[index] };
            let Some(future) = slot.as_mut() else {
                continue;
            };
            // SAFETY: rule 1: the element is pinned in the slice.
            let future = unsafe { Pin::new_unchecked(future) };
            if let Poll::Ready(value) = future.poll(cx) {
                *slot = None; // rule 2: dropped in place
                *output = Some(value);
                left -= 1;
            }
        }
        if left == 0 {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}
