//! [`Either`]: which of two futures finished first, with its value.

/// One of two values: what [`select`](super::select) returns.
///
/// ```
/// use triad::event_loop::future::Either;
///
/// let won: Either<u32, &str> = Either::Left(7);
/// assert!(won.is_left());
/// assert_eq!(won.left(), Some(7));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Either<L, R> {
    /// The first future finished first.
    Left(L),
    /// The second future finished first.
    Right(R),
}

impl<L, R> Either<L, R> {
    /// Whether this is [`Left`](Either::Left).
    ///
    /// ```
    /// use triad::event_loop::future::Either;
    ///
    /// assert!(Either::<u8, u8>::Left(1).is_left());
    /// ```
    pub fn is_left(&self) -> bool {
        matches!(self, Either::Left(_))
    }

    /// Whether this is [`Right`](Either::Right).
    ///
    /// ```
    /// use triad::event_loop::future::Either;
    ///
    /// assert!(Either::<u8, u8>::Right(1).is_right());
    /// ```
    pub fn is_right(&self) -> bool {
        matches!(self, Either::Right(_))
    }

    /// The left value, if this is one.
    ///
    /// ```
    /// use triad::event_loop::future::Either;
    ///
    /// assert_eq!(Either::<u8, char>::Right('r').left(), None);
    /// ```
    pub fn left(self) -> Option<L> {
        match self {
            Either::Left(l) => Some(l),
            Either::Right(_) => None,
        }
    }

    /// The right value, if this is one.
    ///
    /// ```
    /// use triad::event_loop::future::Either;
    ///
    /// assert_eq!(Either::<u8, char>::Right('r').right(), Some('r'));
    /// ```
    pub fn right(self) -> Option<R> {
        match self {
            Either::Right(r) => Some(r),
            Either::Left(_) => None,
        }
    }
}

impl<T> Either<T, T> {
    /// The value, whichever side it is on.
    ///
    /// ```
    /// use triad::event_loop::future::Either;
    ///
    /// assert_eq!(Either::<u8, u8>::Right(3).into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            Either::Left(v) | Either::Right(v) => v,
        }
    }
}
