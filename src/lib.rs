//! # triad
//!
//! The three ways of doing many things at once, each hand-built and small
//! enough to read.
#![warn(missing_docs)]

pub(crate) mod sync;
pub(crate) mod sys;

#[cfg(feature = "threads")]
pub mod threads;

// The loom models live in the top-level `loom-tests/` folder but are compiled
// inside the crate, so they reach the crate-private protocol types without
// widening the public API. Run them with `bash .ci/loom` (see the README).
#[cfg(all(test, loom))]
#[path = "../loom-tests/mod.rs"]
mod loom_tests;
