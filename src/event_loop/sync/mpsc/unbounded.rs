//! The unbounded channel's sending side: [`UnboundedSender`] (`send` never
//! waits; rules 1, 4, 5, 6 of the `mpsc` module docs).

use std::fmt;
use std::rc::Rc;

use super::chan::{Chan, Closed};
use crate::event_loop::sync::error::SendError;

/// The sending side of an [`unbounded_channel`](super::unbounded_channel);
/// clone it for more producers. Dropping the last one ends the stream.
///
/// ```
/// use triad::event_loop::sync::mpsc;
///
/// let (tx, mut rx) = mpsc::unbounded_channel();
/// for i in 0..1000 {
///     tx.send(i).unwrap(); // never waits
/// }
/// assert_eq!(rx.len(), 1000);
/// ```
pub struct UnboundedSender<T> {
    chan: Rc<Chan<T>>,
}

impl<T> UnboundedSender<T> {
    pub(super) fn new(chan: Rc<Chan<T>>) -> Self {
        UnboundedSender { chan }
    }

    /// Queue `value` without waiting. Fails, handing it back, once the
    /// receiver is closed or dropped.
    ///
    /// ```
    /// use triad::event_loop::sync::mpsc;
    ///
    /// let (tx, rx) = mpsc::unbounded_channel();
    /// drop(rx);
    /// assert_eq!(tx.send(3).unwrap_err().into_inner(), 3);
    /// ```
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        if self.chan.is_closed() {
            return Err(SendError::closed(value));
        }
        self.chan.push(value);
        Ok(())
    }

    /// Whether the receiver is closed or dropped (sends fail).
    ///
    /// ```
    /// use triad::event_loop::sync::mpsc;
    ///
    /// let (tx, mut rx) = mpsc::unbounded_channel::<u8>();
    /// rx.close();
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.chan.is_closed()
    }

    /// Wait until the receiver is closed or dropped.
    ///
    /// ```
    /// use triad::event_loop::{spawn, sync::mpsc, EventLoop};
    ///
    /// let ev = EventLoop::new()?;
    /// ev.block_on(async {
    ///     let (tx, rx) = mpsc::unbounded_channel::<u8>();
    ///     let _ = spawn(async move { drop(rx) });
    ///     tx.closed().await;
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn closed(&self) {
        Closed::new(&self.chan).await
    }

    /// Whether both senders feed the same channel.
    ///
    /// ```
    /// use triad::event_loop::sync::mpsc;
    ///
    /// let (tx, _rx) = mpsc::unbounded_channel::<u8>();
    /// assert!(tx.same_channel(&tx.clone()));
    /// ```
    pub fn same_channel(&self, other: &UnboundedSender<T>) -> bool {
        Rc::ptr_eq(&self.chan, &other.chan)
    }
}

impl<T> Clone for UnboundedSender<T> {
    fn clone(&self) -> Self {
        self.chan.add_sender();
        UnboundedSender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for UnboundedSender<T> {
    fn drop(&mut self) {
        self.chan.drop_sender();
    }
}

impl<T> fmt::Debug for UnboundedSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("mpsc::UnboundedSender")
            .field("closed", &self.is_closed())
            .finish()
    }
}
