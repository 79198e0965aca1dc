//! Combinators over futures on the loop: [`select`] and [`race`] (the
//! first of two to finish), [`join_all`] (all of them, order kept), and
//! the [`Either`] that `select` returns.
//!
//! | asyncio | tokio / futures | here |
//! |---|---|---|
//! | `asyncio.wait({a, b}, return_when=FIRST_COMPLETED)` | `tokio::select!` with two branches, `futures::future::select` | [`select`] → [`Either`] |
//! | `asyncio.wait(…, FIRST_COMPLETED)` on like futures | `futures_lite::future::race` | [`race`] |
//! | `asyncio.gather(*aws)` | `futures::future::join_all` | [`join_all`] |
//! | `asyncio.wait_for(aw, t)` | `tokio::time::timeout` | [`timeout`](super::timeout) |
//!
//! Rules:
//!
//! 1. **Biased.** `select` and `race` poll the first future first, on every
//!    poll: when both are ready, the first wins. Put the branch that must
//!    not be starved (a shutdown signal, a deadline) first.
//! 2. **The loser is dropped.** When one future finishes, the other is
//!    dropped before `select`/`race` returns: all the primitives of
//!    [`sync`](super::sync) are cancellation-safe (a dropped wait passes
//!    on what it was handed), and so are `recv`, `sleep` and the socket
//!    operations that complete in one step (`read`, `write`, `accept`,
//!    `recv_from`, `send_to`), so nothing is lost but the loser's own
//!    work. Not so the ones that loop over a buffer, `read_exact` and
//!    `write_all`: dropped midway, they have taken part of the stream
//!    (or sent part of the buffer) without saying how much, so a stream
//!    read under a timeout that fires is out of step for good. Race those
//!    only when losing means closing the stream.
//! 3. **Order kept.** `join_all` returns the outputs in the order of its
//!    input, whatever order the futures finish in.
//!
//! These run *inside* one task: the futures share its poll (and its
//! budget). To run them concurrently as separate tasks, `spawn` each and
//! await the handles, or use a [`TaskGroup`](super::TaskGroup).

mod either;
mod join_all;
mod select;

pub use either::Either;
pub use join_all::join_all;
pub use select::{race, select};
