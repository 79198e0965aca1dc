//! [`TaskGroup`]: spawn children, await them all; the first failure
//! cancels the rest.
//!
//! Structured: when [`TaskGroup::join_all`] returns, every child has
//! finished or been cancelled *and dropped* (it waits for the aborted ones
//! to go), and dropping a group aborts the children it still holds.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::Poll;

use super::error::GroupError;
use super::executor::spawn;
use super::task::JoinHandle;

/// A set of child tasks that succeed together or fail together.
///
/// ```
/// use triad::event_loop::{EventLoop, TaskGroup};
///
/// let ev = EventLoop::new().unwrap();
/// let all = ev.block_on(async {
///     let mut group = TaskGroup::new();
///     for i in 0..3u32 {
///         group.spawn(async move { Ok::<_, String>(i * 10) });
///     }
///     group.join_all().await
/// });
/// assert_eq!(all.unwrap(), [0, 10, 20]);
///
/// let failed = ev.block_on(async {
///     let mut group = TaskGroup::new();
///     group.spawn(async { Err::<u32, _>("bad input") });
///     group.spawn(std::future::pending()); // cancelled by the failure
///     group.join_all().await
/// });
/// assert_eq!(failed.unwrap_err().into_failure(), Some("bad input"));
/// ```
#[must_use = "a group's children are aborted when it is dropped"]
pub struct TaskGroup<T, E> {
    children: Vec<Option<JoinHandle<Result<T, E>>>>,
}

impl<T: 'static, E: 'static> TaskGroup<T, E> {
    /// An empty group.
    ///
    /// ```
    /// use triad::event_loop::TaskGroup;
    /// let group = TaskGroup::<u32, std::io::Error>::new();
    /// assert!(group.is_empty());
    /// ```
    pub fn new() -> Self {
        TaskGroup {
            children: Vec::new(),
        }
    }

    /// Spawn a child on the event loop running on this thread. Where no
    /// loop runs, the child never starts (as with [`spawn`]):
    /// [`join_all`](Self::join_all) then fails with its [`JoinError`](super::JoinError),
    /// for which `is_outside_loop` is true.
    ///
    /// ```
    /// # use triad::event_loop::{EventLoop, TaskGroup};
    /// let ev = EventLoop::new().unwrap();
    /// let lengths = ev.block_on(async {
    ///     let mut group = TaskGroup::new();
    ///     for word in ["a", "bb", "ccc"] {
    ///         group.spawn(async move { Ok::<_, ()>(word.len()) });
    ///     }
    ///     group.join_all().await
    /// });
    /// assert_eq!(lengths.unwrap(), [1, 2, 3]);
    /// ```
    pub fn spawn<F>(&mut self, future: F)
    where
        F: Future<Output = Result<T, E>> + 'static,
    {
        self.children.push(Some(spawn(future)));
    }

    /// Children spawned so far.
    ///
    /// ```
    /// # use triad::event_loop::{EventLoop, TaskGroup};
    /// let ev = EventLoop::new().unwrap();
    /// ev.block_on(async {
    ///     let mut group = TaskGroup::<(), ()>::new();
    ///     group.spawn(async { Ok(()) });
    ///     group.spawn(async { Ok(()) });
    ///     assert_eq!(group.len(), 2);
    /// });
    /// ```
    pub fn len(&self) -> usize {
        self.children.len()
    }

    /// Whether no child was spawned.
    ///
    /// ```
    /// # use triad::event_loop::{EventLoop, TaskGroup};
    /// let ev = EventLoop::new().unwrap();
    /// ev.block_on(async {
    ///     let mut group = TaskGroup::<(), ()>::new();
    ///     assert!(group.is_empty());
    ///     group.spawn(async { Ok(()) });
    ///     assert!(!group.is_empty());
    /// });
    /// ```
    pub fn is_empty(&self) -> bool {
        self.children.is_empty()
    }

    /// Await every child: their values in spawn order, or the first
    /// failure (an `Err` returned by a child, or a child that panicked or
    /// was cancelled), after which the other children are cancelled and
    /// waited for.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use triad::event_loop::{sleep, EventLoop, TaskGroup};
    /// let ev = EventLoop::new().unwrap();
    /// let all = ev.block_on(async {
    ///     let mut group = TaskGroup::new();
    ///     group.spawn(async {
    ///         sleep(Duration::from_millis(2)).await;
    ///         Ok::<_, String>("slow")
    ///     });
    ///     group.spawn(async { Ok("fast") });
    ///     group.join_all().await
    /// });
    /// assert_eq!(all.unwrap(), ["slow", "fast"]); // spawn order, not finish order
    /// ```
    pub async fn join_all(mut self) -> Result<Vec<T>, GroupError<E>> {
        let mut values: Vec<Option<T>> = self.children.iter().map(|_| None).collect();
        let outcome = poll_fn(|cx| {
            let mut pending = false;
            for (index, slot) in self.children.iter_mut().enumerate() {
                let Some(handle) = slot else { continue };
                match Pin::new(handle).poll(cx) {
                    Poll::Pending => pending = true,
                    Poll::Ready(result) => {
                        *slot = None;
                        match result {
                            Ok(Ok(value)) => values[index] = Some(value),
                            Ok(Err(e)) => return Poll::Ready(Err(GroupError::failed(e))),
                            Err(e) => return Poll::Ready(Err(GroupError::join(e))),
                        }
                    }
                }
            }
            if pending {
                Poll::Pending
            } else {
                Poll::Ready(Ok(()))
            }
        })
        .await;
        match outcome {
            Ok(()) => Ok(values.into_iter().flatten().collect()),
            Err(error) => {
                let rest: Vec<_> = self.children.drain(..).flatten().collect();
                for handle in &rest {
                    handle.abort();
                }
                for handle in rest {
                    let _ = handle.await;
                }
                Err(error)
            }
        }
    }
}

impl<T: 'static, E: 'static> Default for TaskGroup<T, E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, E> Drop for TaskGroup<T, E> {
    fn drop(&mut self) {
        for handle in self.children.iter().flatten() {
            handle.abort();
        }
    }
}

impl<T, E> std::fmt::Debug for TaskGroup<T, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let running = self.children.iter().flatten().count();
        f.debug_struct("TaskGroup")
            .field("children", &self.children.len())
            .field("unjoined", &running)
            .finish()
    }
}
