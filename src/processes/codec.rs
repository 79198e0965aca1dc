//! Arguments and results as bytes: the [`Encode`] / [`Decode`] traits.
//!
//! A task's argument is encoded by the parent straight into its result
//! slot's data area in shared memory, decoded by the worker, and the
//! worker encodes the result over the same bytes for the parent to decode.
//! Nothing crosses as a pointer (a pointer into the parent's heap means
//! nothing in a worker, design trap 3).
//!
//! # Why an own trait, not serde
//!
//! * **No dependency.** The `processes` feature pulls memmap2 and libc only.
//! * **One pass, exact sizes.** [`Writer`] writes into the fixed-capacity
//!   slot and keeps counting past its end, so a result that does not fit
//!   is reported with both sizes (`TaskError::sizes`) without a second
//!   encoding or a temporary buffer.
//! * **In-place results.** [`SharedBytes`] decodes to a view of the slot
//!   itself; the slot stays reserved until the view is dropped. serde's
//!   borrowed data cannot express "keep this region alive".
//! * **Small and fixed format.** Little-endian fixed-width integers and
//!   floats, `u64` lengths before sequences, a tag byte before `Option` and
//!   `Result`. Both ends are the same binary, so there is no schema
//!   evolution to support.
//! * **Corrupt input is an error, never a hang or a huge allocation.** A
//!   sequence reserves memory only for the items the bytes left could hold,
//!   and the items that take no bytes (`()`, `[T; 0]`), which the bytes
//!   left cannot bound, are at most [`MAX_EMPTY_ITEMS`] per decode.
//!
//! Implemented for the integers and floats, `bool`, `char`, `()`, `String`
//! (and `str`, `&T`, `[T]` to encode), `Vec`, `VecDeque`, arrays, tuples of
//! up to eight, `Option`, `Result`, `Box`, `HashMap`, `BTreeMap`,
//! `HashSet`, `BTreeSet`, `Duration` and [`SharedBytes`]: the traits are
//! this crate's, so a program could not implement them for std's types
//! itself.
//!
//! ```
//! use std::collections::{BTreeSet, HashMap};
//! use triad::processes::{decode_from_slice, encode_to_vec};
//!
//! let ages = HashMap::from([("ada".to_string(), 36u8), ("alan".to_string(), 41)]);
//! assert_eq!(decode_from_slice::<HashMap<String, u8>>(&encode_to_vec(&ages)), Ok(ages));
//! let ids = BTreeSet::from([3u32, 1, 2]);
//! assert_eq!(decode_from_slice::<BTreeSet<u32>>(&encode_to_vec(&ids)), Ok(ids));
//! ```
//!
//! Your own types implement the traits by encoding their fields in order;
//! [`wire_struct!`](crate::wire_struct) writes both impls for a struct with
//! named fields. No `unsafe` is involved:
//!
//! ```
//! use triad::processes::{Decode, DecodeError, Encode, Reader, Writer};
//!
//! #[derive(Debug, PartialEq)]
//! enum Shape { Circle(f64), Square(f64) }
//!
//! impl Encode for Shape {
//!     fn encode(&self, w: &mut Writer<'_>) {
//!         match self {
//!             Shape::Circle(r) => { 0u8.encode(w); r.encode(w) }
//!             Shape::Square(s) => { 1u8.encode(w); s.encode(w) }
//!         }
//!     }
//! }
//! impl Decode for Shape {
//!     fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
//!         match u8::decode(r)? {
//!             0 => Ok(Shape::Circle(r.read()?)),
//!             1 => Ok(Shape::Square(r.read()?)),
//!             tag => Err(DecodeError::bad_tag(tag)),
//!         }
//!     }
//! }
//! let bytes = triad::processes::encode_to_vec(&Shape::Square(2.0));
//! assert_eq!(triad::processes::decode_from_slice::<Shape>(&bytes).unwrap(), Shape::Square(2.0));
//! ```

use crate::sync::Arc as StdArc;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::ops::Range;
use std::time::Duration;

use super::in_place::{Area, Encoded};
use super::pool::Lease;
use super::worker::in_the_worker_only;
use super::zygote::code_ptr;
#[cfg(doc)]
use super::SharedBytes;

/// What keeps a result's bytes where they are while a [`SharedBytes`] view
/// of them lives.
#[derive(Clone)]
pub(crate) enum KeepAlive {
    /// The pool's reservation of a collected slot (pool.rs rule P4).
    Lease(StdArc<Lease>),
    /// A whole region on heap pages (`Region::on_heap`), for the unit tests
    /// Miri runs: the views read it in place as they read a slot.
    #[cfg(test)]
    Region(StdArc<super::shm::Region>),
}

impl KeepAlive {
    /// How many holders there are (the decoder's, plus one per live view).
    pub(crate) fn holders(&self) -> usize {
        match self {
            KeepAlive::Lease(lease) => StdArc::strong_count(lease),
            #[cfg(test)]
            KeepAlive::Region(region) => StdArc::strong_count(region),
        }
    }
}

/// How many sequence items that take no bytes (`()`, `[T; 0]`) one decode
/// accepts, all sequences together: the bytes left bound every other
/// item's count, but not theirs, so a corrupt length would otherwise be a
/// loop of up to 2^64 decodes.
///
/// ```
/// use triad::processes::{decode_from_slice, encode_to_vec, MAX_EMPTY_ITEMS};
///
/// let units = vec![(); MAX_EMPTY_ITEMS];
/// assert_eq!(decode_from_slice::<Vec<()>>(&encode_to_vec(&units)).unwrap().len(), MAX_EMPTY_ITEMS);
/// let lying = encode_to_vec(&u64::MAX); // "2^64 - 1 units follow"
/// assert!(decode_from_slice::<Vec<()>>(&lying).is_err());
/// ```
pub const MAX_EMPTY_ITEMS: usize = 1 << 20;

/// Writes encoded bytes into a fixed buffer and counts every byte asked
/// for, even past the end (so the needed size is known after one pass).
///
/// ```
/// use triad::processes::{encode_to_vec, Encode, Writer};
///
/// /// Raw bytes with a one-byte length (not the crate's u64 one).
/// struct Short(Vec<u8>);
/// impl Encode for Short {
///     fn encode(&self, w: &mut Writer<'_>) {
///         (self.0.len() as u8).encode(w);
///         w.write_bytes(&self.0);
///     }
/// }
/// assert_eq!(encode_to_vec(&Short(vec![7, 8])), [2, 7, 8]);
/// ```
pub struct Writer<'a> {
    buf: &'a mut [u8],
    len: usize,
    /// Addresses of the buffers carved in the area this writer encodes a
    /// result into (`in_place.rs`, rule 3); empty elsewhere.
    carved: Range<usize>,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        Writer {
            buf,
            len: 0,
            carved: 0..0,
        }
    }

    /// A writer for a task's result whose carved buffers lie at `carved`.
    pub(crate) fn with_carved(buf: &'a mut [u8], carved: Range<usize>) -> Self {
        Writer {
            buf,
            len: 0,
            carved,
        }
    }

    /// The offset of `len` bytes at `ptr` among the carved buffers, if they
    /// lie there (the address is compared, never dereferenced).
    pub(crate) fn carved_offset(&self, ptr: *const u8, len: usize) -> Option<usize> {
        let start = ptr as usize;
        let end = start.checked_add(len)?;
        (self.carved.start <= start && end <= self.carved.end).then(|| start - self.carved.start)
    }

    /// Append `bytes`.
    ///
    /// ```
    /// use triad::processes::{encode_to_vec, Encode, Writer};
    ///
    /// struct Magic;
    /// impl Encode for Magic {
    ///     fn encode(&self, w: &mut Writer<'_>) {
    ///         w.write_bytes(b"TRI");
    ///     }
    /// }
    /// assert_eq!(encode_to_vec(&Magic), b"TRI");
    /// ```
    pub fn write_bytes(&mut self, bytes: &[u8]) {
        let end = self.len.saturating_add(bytes.len());
        if end <= self.buf.len() {
            self.buf[self.len..end].copy_from_slice(bytes);
        }
        self.len = end;
    }

    /// Bytes written (or asked for) so far.
    ///
    /// ```
    /// use triad::processes::{encode_to_vec, Encode, Writer};
    ///
    /// struct Pair(u32, u16);
    /// impl Encode for Pair {
    ///     fn encode(&self, w: &mut Writer<'_>) {
    ///         let start = w.len();
    ///         self.0.encode(w);
    ///         self.1.encode(w);
    ///         assert_eq!(w.len() - start, 6); // fixed-width integers
    ///     }
    /// }
    /// assert_eq!(encode_to_vec(&Pair(1, 2)).len(), 6);
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was written yet.
    ///
    /// ```
    /// use triad::processes::{encode_to_vec, Encode, Writer};
    ///
    /// struct Header;
    /// impl Encode for Header {
    ///     fn encode(&self, w: &mut Writer<'_>) {
    ///         assert!(w.is_empty()); // encoded first, at the start
    ///         w.write_bytes(&[0xfe]);
    ///     }
    /// }
    /// assert_eq!(encode_to_vec(&Header), [0xfe]);
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether more was asked for than fits.
    pub(crate) fn overflowed(&self) -> bool {
        self.len > self.buf.len()
    }
}

/// Reads encoded bytes; decoding never reads past the end.
///
/// ```
/// use triad::processes::{decode_from_slice, Decode, DecodeError, Reader};
///
/// #[derive(Debug, PartialEq)]
/// struct Rgb(u8, u8, u8);
/// impl Decode for Rgb {
///     fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
///         let b = r.read_bytes(3)?;
///         Ok(Rgb(b[0], b[1], b[2]))
///     }
/// }
/// assert_eq!(decode_from_slice::<Rgb>(&[1, 2, 3]), Ok(Rgb(1, 2, 3)));
/// assert!(decode_from_slice::<Rgb>(&[1, 2]).unwrap_err().is_eof());
/// ```
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// How many more sequence items that take no bytes may be decoded
    /// (starts at [`MAX_EMPTY_ITEMS`]).
    empty_items_left: usize,
    lease: Option<&'a KeepAlive>,
    /// The carved buffers before the encoding (`in_place.rs`); empty
    /// outside a result slot.
    carved: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8], lease: Option<&'a KeepAlive>) -> Self {
        Reader {
            buf,
            pos: 0,
            empty_items_left: MAX_EMPTY_ITEMS,
            lease,
            carved: &[],
        }
    }

    /// A reader for a result: `area` is the slot's data area up to the end
    /// of the encoding, which starts at `head` (after the carved buffers).
    pub(crate) fn for_result(
        area: &'a [u8],
        head: usize,
        lease: Option<&'a KeepAlive>,
    ) -> Result<Self, DecodeError> {
        if head > area.len() {
            return Err(DecodeError::eof());
        }
        let (carved, buf) = area.split_at(head);
        Ok(Reader {
            buf,
            pos: 0,
            empty_items_left: MAX_EMPTY_ITEMS,
            lease,
            carved,
        })
    }

    /// `len` carved bytes at `offset` (`in_place.rs`, rule 6).
    pub(crate) fn carved(&self, offset: usize, len: usize) -> Result<&'a [u8], DecodeError> {
        let end = offset.checked_add(len).ok_or(DecodeError::eof())?;
        self.carved.get(offset..end).ok_or_else(|| {
            DecodeError::custom(format!(
                "an in-place buffer at {offset}..{end} lies outside the {} carved bytes",
                self.carved.len()
            ))
        })
    }

    /// The lease of the slot being decoded in place, if any.
    pub(crate) fn lease(&self) -> Option<&'a KeepAlive> {
        self.lease
    }

    /// Take the next `n` bytes.
    ///
    /// ```
    /// use triad::processes::{decode_from_slice, Decode, DecodeError, Reader};
    ///
    /// struct Tag([u8; 4]);
    /// impl Decode for Tag {
    ///     fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
    ///         let bytes = r.read_bytes(4)?;
    ///         Ok(Tag(bytes.try_into().unwrap()))
    ///     }
    /// }
    /// assert_eq!(decode_from_slice::<Tag>(b"RIFF").unwrap().0, *b"RIFF");
    /// assert!(decode_from_slice::<Tag>(b"RI").is_err_and(|e| e.is_eof()));
    /// ```
    pub fn read_bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.buf.len())
            .ok_or(DecodeError::eof())?;
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    /// One more sequence item that took no bytes; an error past
    /// [`MAX_EMPTY_ITEMS`] in this decode.
    fn count_empty_item(&mut self) -> Result<(), DecodeError> {
        self.empty_items_left = self.empty_items_left.checked_sub(1).ok_or_else(|| {
            DecodeError::custom(format!(
                "more than {MAX_EMPTY_ITEMS} sequence items of no bytes each"
            ))
        })?;
        Ok(())
    }

    /// Decode the next value (`T::decode(self)`, shorter to write).
    ///
    /// ```
    /// use triad::processes::{decode_from_slice, encode_to_vec, Decode, DecodeError, Reader};
    ///
    /// struct Span { start: u64, len: u32 }
    /// impl Decode for Span {
    ///     fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
    ///         Ok(Span { start: r.read()?, len: r.read()? })
    ///     }
    /// }
    /// let span: Span = decode_from_slice(&encode_to_vec(&(10u64, 5u32))).unwrap();
    /// assert_eq!((span.start, span.len), (10, 5));
    /// ```
    pub fn read<T: Decode>(&mut self) -> Result<T, DecodeError> {
        T::decode(self)
    }

    /// Bytes not yet read.
    ///
    /// ```
    /// use triad::processes::{decode_from_slice, Decode, DecodeError, Reader};
    ///
    /// /// All the bytes that are left.
    /// struct Rest(Vec<u8>);
    /// impl Decode for Rest {
    ///     fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
    ///         let n = r.remaining();
    ///         Ok(Rest(r.read_bytes(n)?.to_vec()))
    ///     }
    /// }
    /// assert_eq!(decode_from_slice::<Rest>(&[1, 2, 3]).unwrap().0, [1, 2, 3]);
    /// ```
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Read a length prefix and check it against what is left (`min_size`
    /// bytes per element), so corrupt input cannot ask for a huge allocation.
    ///
    /// ```
    /// use triad::processes::{decode_from_slice, encode_to_vec, Decode, DecodeError, Reader};
    ///
    /// /// A list of `u32`s, each at least 4 bytes when encoded.
    /// struct Ids(Vec<u32>);
    /// impl Decode for Ids {
    ///     fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
    ///         let n = r.read_len(4)?; // refuses a count the bytes cannot hold
    ///         (0..n).map(|_| r.read()).collect::<Result<_, _>>().map(Ids)
    ///     }
    /// }
    /// assert_eq!(decode_from_slice::<Ids>(&encode_to_vec(&vec![1u32, 2])).unwrap().0, [1, 2]);
    /// let lying = encode_to_vec(&u64::MAX); // "2^64 - 1 elements follow", and none do
    /// assert!(decode_from_slice::<Ids>(&lying).is_err_and(|e| e.is_eof()));
    /// ```
    pub fn read_len(&mut self, min_size: usize) -> Result<usize, DecodeError> {
        let len = u64::decode(self)?;
        let len = usize::try_from(len).map_err(|_| DecodeError::eof())?;
        if len.saturating_mul(min_size.max(1)) > self.remaining() && min_size > 0 {
            return Err(DecodeError::eof());
        }
        Ok(len)
    }
}

/// A value that can be written as bytes for another process.
///
/// ```
/// use triad::processes::{encode_to_vec, Encode, Writer};
///
/// struct Celsius(f32);
/// impl Encode for Celsius {
///     fn encode(&self, w: &mut Writer<'_>) {
///         self.0.encode(w); // fields in order, with their own impls
///     }
/// }
/// assert_eq!(encode_to_vec(&Celsius(1.5)), 1.5f32.to_le_bytes());
/// ```
pub trait Encode {
    /// Append this value's bytes to `w`.
    ///
    /// ```
    /// use triad::processes::encode_to_vec;
    /// assert_eq!(encode_to_vec(&7u32), [7, 0, 0, 0]); // little-endian
    /// assert_eq!(encode_to_vec(&Some(true)), [1, 1]); // a tag byte, then the value
    /// ```
    fn encode(&self, w: &mut Writer<'_>);
}

/// A value that can be rebuilt from the bytes [`Encode`] wrote.
///
/// ```
/// use triad::processes::{decode_from_slice, encode_to_vec, Decode, DecodeError, Reader};
///
/// #[derive(Debug, PartialEq)]
/// struct Celsius(f32);
/// impl Decode for Celsius {
///     fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
///         Ok(Celsius(r.read()?))
///     }
/// }
/// assert_eq!(decode_from_slice::<Celsius>(&encode_to_vec(&1.5f32)), Ok(Celsius(1.5)));
/// ```
pub trait Decode: Sized {
    /// Read one value from `r`.
    ///
    /// ```
    /// use triad::processes::{decode_from_slice, encode_to_vec};
    /// let bytes = encode_to_vec(&("id".to_string(), 7u16));
    /// assert_eq!(decode_from_slice::<(String, u16)>(&bytes), Ok(("id".to_string(), 7)));
    /// ```
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError>;
}

/// Bytes that do not decode as the expected type.
///
/// ```
/// use triad::processes::decode_from_slice;
///
/// let error = decode_from_slice::<Option<u8>>(&[7, 0]).unwrap_err();
/// assert_eq!(error.to_string(), "unknown variant tag 7");
/// assert!(decode_from_slice::<u64>(&[1, 2]).unwrap_err().is_eof());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    kind: DecodeErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum DecodeErrorKind {
    Eof,
    BadTag(u8),
    BadUtf8,
    BadChar(u32),
    Custom(String),
}

impl DecodeError {
    /// The input ended too early.
    ///
    /// ```
    /// use triad::processes::{decode_from_slice, Decode, DecodeError, Reader};
    ///
    /// struct NonEmpty(Vec<u8>);
    /// impl Decode for NonEmpty {
    ///     fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
    ///         match r.remaining() {
    ///             0 => Err(DecodeError::eof()),
    ///             n => Ok(NonEmpty(r.read_bytes(n)?.to_vec())),
    ///         }
    ///     }
    /// }
    /// assert!(decode_from_slice::<NonEmpty>(&[]).is_err_and(|e| e.is_eof()));
    /// ```
    pub fn eof() -> Self {
        DecodeError {
            kind: DecodeErrorKind::Eof,
        }
    }
    /// An enum tag that names no variant.
    ///
    /// ```
    /// use triad::processes::{decode_from_slice, Decode, DecodeError, Reader};
    ///
    /// #[derive(Debug)]
    /// enum Op { Add, Sub }
    /// impl Decode for Op {
    ///     fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
    ///         match u8::decode(r)? {
    ///             0 => Ok(Op::Add),
    ///             1 => Ok(Op::Sub),
    ///             tag => Err(DecodeError::bad_tag(tag)),
    ///         }
    ///     }
    /// }
    /// assert!(matches!(decode_from_slice::<Op>(&[1]), Ok(Op::Sub)));
    /// assert_eq!(decode_from_slice::<Op>(&[9]).unwrap_err(), DecodeError::bad_tag(9));
    /// ```
    pub fn bad_tag(tag: u8) -> Self {
        DecodeError {
            kind: DecodeErrorKind::BadTag(tag),
        }
    }
    /// Any other reason, in words.
    ///
    /// ```
    /// use triad::processes::{decode_from_slice, Decode, DecodeError, Reader};
    ///
    /// struct Even(u32);
    /// impl Decode for Even {
    ///     fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
    ///         match u32::decode(r)? {
    ///             n if n % 2 == 0 => Ok(Even(n)),
    ///             n => Err(DecodeError::custom(format!("{n} is odd"))),
    ///         }
    ///     }
    /// }
    /// let error = decode_from_slice::<Even>(&3u32.to_le_bytes()).err().unwrap();
    /// assert_eq!(error.to_string(), "3 is odd");
    /// ```
    pub fn custom(message: impl Into<String>) -> Self {
        DecodeError {
            kind: DecodeErrorKind::Custom(message.into()),
        }
    }
    /// Whether the input ended too early.
    ///
    /// ```
    /// use triad::processes::decode_from_slice;
    /// assert!(decode_from_slice::<u32>(&[1, 2]).unwrap_err().is_eof()); // 2 of 4 bytes
    /// assert!(!decode_from_slice::<bool>(&[5]).unwrap_err().is_eof()); // no such bool
    /// ```
    pub fn is_eof(&self) -> bool {
        matches!(self.kind, DecodeErrorKind::Eof)
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            DecodeErrorKind::Eof => write!(f, "encoded value ends too early"),
            DecodeErrorKind::BadTag(tag) => write!(f, "unknown variant tag {tag}"),
            DecodeErrorKind::BadUtf8 => write!(f, "string is not UTF-8"),
            DecodeErrorKind::BadChar(c) => write!(f, "{c:#x} is not a char"),
            DecodeErrorKind::Custom(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Encode `value` into a new `Vec` (for tests and for your own framing).
///
/// ```
/// use triad::processes::encode_to_vec;
/// let bytes = encode_to_vec("hi");
/// assert_eq!(bytes, [2, 0, 0, 0, 0, 0, 0, 0, b'h', b'i']); // a u64 length, then UTF-8
/// ```
pub fn encode_to_vec<T: Encode + ?Sized>(value: &T) -> Vec<u8> {
    let mut counter = Writer::new(&mut []);
    value.encode(&mut counter);
    let mut buf = vec![0; counter.len()];
    value.encode(&mut Writer::new(&mut buf));
    buf
}

/// Decode a `T` from `bytes` (all of them must be used).
///
/// ```
/// use triad::processes::{decode_from_slice, encode_to_vec};
///
/// let bytes = encode_to_vec(&vec![1u16, 2, 3]);
/// assert_eq!(decode_from_slice::<Vec<u16>>(&bytes), Ok(vec![1, 2, 3]));
/// assert!(decode_from_slice::<u8>(&[1, 2]).is_err()); // a byte left over
/// ```
pub fn decode_from_slice<T: Decode>(bytes: &[u8]) -> Result<T, DecodeError> {
    let mut r = Reader::new(bytes, None);
    let value = T::decode(&mut r)?;
    if r.remaining() != 0 {
        return Err(DecodeError::custom(format!(
            "{} bytes left over after decoding",
            r.remaining()
        )));
    }
    Ok(value)
}

/// Decode a task's result from its slot's `area` (the carved buffers, then
/// the encoding from `head` to the end; all of it must be used), as views
/// of the slot when `lease` is given, as copies otherwise.
pub(crate) fn decode_result<T: Decode>(
    area: &[u8],
    head: usize,
    lease: Option<&KeepAlive>,
) -> Result<T, DecodeError> {
    let mut r = Reader::for_result(area, head, lease)?;
    let value = T::decode(&mut r)?;
    if r.remaining() != 0 {
        return Err(DecodeError::custom(format!(
            "{} bytes left over after decoding",
            r.remaining()
        )));
    }
    Ok(value)
}

macro_rules! number {
    ($($t:ty),*) => {$(
        impl Encode for $t {
            #[inline]
            fn encode(&self, w: &mut Writer<'_>) {
                w.write_bytes(&self.to_le_bytes());
            }
        }
        impl Decode for $t {
            #[inline]
            fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                let bytes = r.read_bytes(std::mem::size_of::<$t>())?;
                Ok(<$t>::from_le_bytes(bytes.try_into().expect("length checked")))
            }
        }
    )*};
}
number!(u8, u16, u32, u64, u128, i8, i16, i32, i64, i128, f32, f64);

impl Encode for usize {
    fn encode(&self, w: &mut Writer<'_>) {
        (*self as u64).encode(w);
    }
}
impl Decode for usize {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        usize::try_from(u64::decode(r)?).map_err(|_| DecodeError::custom("usize overflow"))
    }
}
impl Encode for isize {
    fn encode(&self, w: &mut Writer<'_>) {
        (*self as i64).encode(w);
    }
}
impl Decode for isize {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        isize::try_from(i64::decode(r)?).map_err(|_| DecodeError::custom("isize overflow"))
    }
}

impl Encode for bool {
    fn encode(&self, w: &mut Writer<'_>) {
        (*self as u8).encode(w);
    }
}
impl Decode for bool {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match u8::decode(r)? {
            0 => Ok(false),
            1 => Ok(true),
            tag => Err(DecodeError::bad_tag(tag)),
        }
    }
}

impl Encode for char {
    fn encode(&self, w: &mut Writer<'_>) {
        (*self as u32).encode(w);
    }
}
impl Decode for char {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let c = u32::decode(r)?;
        char::from_u32(c).ok_or(DecodeError {
            kind: DecodeErrorKind::BadChar(c),
        })
    }
}

impl Encode for () {
    fn encode(&self, _: &mut Writer<'_>) {}
}
impl Decode for () {
    fn decode(_: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(())
    }
}

impl Encode for str {
    fn encode(&self, w: &mut Writer<'_>) {
        self.len().encode(w);
        w.write_bytes(self.as_bytes());
    }
}
impl Encode for String {
    fn encode(&self, w: &mut Writer<'_>) {
        self.as_str().encode(w);
    }
}
impl Decode for String {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let len = r.read_len(1)?;
        let bytes = r.read_bytes(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError {
            kind: DecodeErrorKind::BadUtf8,
        })
    }
}

impl<T: Encode> Encode for [T] {
    fn encode(&self, w: &mut Writer<'_>) {
        encode_items(w, self.len(), self);
    }
}
impl<T: Encode> Encode for Vec<T> {
    fn encode(&self, w: &mut Writer<'_>) {
        self.as_slice().encode(w);
    }
}
impl<T: Decode> Decode for Vec<T> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        decode_items(r, Vec::with_capacity, Vec::push)
    }
}

/// Decode a length-prefixed sequence of `T` into a collection made by
/// `with_capacity` and filled by `add`: what every sequence and map does,
/// so that corrupt input is bounded alike (the module's last point).
fn decode_items<T: Decode, C>(
    r: &mut Reader<'_>,
    with_capacity: impl FnOnce(usize) -> C,
    mut add: impl FnMut(&mut C, T),
) -> Result<C, DecodeError> {
    // Zero-sized encodings (`()`) take no bytes: check against 0 then.
    let len = r.read_len(0)?;
    // Reserve no more than the bytes left could hold, were every item one
    // byte of input per byte of memory: a lying count costs at most the
    // input's size, whatever `T`'s size.
    let fit = r.remaining() / std::mem::size_of::<T>().max(1);
    let mut out = with_capacity(len.min(fit));
    for _ in 0..len {
        let before = r.remaining();
        add(&mut out, T::decode(r)?);
        if r.remaining() == before {
            r.count_empty_item()?;
        }
    }
    Ok(out)
}

/// Encode `len` items as a sequence: the length, then each item.
fn encode_items<T: Encode>(w: &mut Writer<'_>, len: usize, items: impl IntoIterator<Item = T>) {
    len.encode(w);
    for item in items {
        item.encode(w);
    }
}

impl<T: Encode> Encode for VecDeque<T> {
    fn encode(&self, w: &mut Writer<'_>) {
        encode_items(w, self.len(), self);
    }
}
impl<T: Decode> Decode for VecDeque<T> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        decode_items(r, VecDeque::with_capacity, VecDeque::push_back)
    }
}

/// A map encodes as a sequence of `(key, value)` pairs, in its iteration
/// order; a key given twice keeps its last value.
impl<K: Encode, V: Encode, S> Encode for HashMap<K, V, S> {
    fn encode(&self, w: &mut Writer<'_>) {
        encode_items(w, self.len(), self);
    }
}
impl<K: Decode + Eq + Hash, V: Decode, S: BuildHasher + Default> Decode for HashMap<K, V, S> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let with_capacity = |n| HashMap::with_capacity_and_hasher(n, S::default());
        decode_items(r, with_capacity, |map, (k, v)| {
            map.insert(k, v);
        })
    }
}

impl<K: Encode, V: Encode> Encode for BTreeMap<K, V> {
    fn encode(&self, w: &mut Writer<'_>) {
        encode_items(w, self.len(), self);
    }
}
impl<K: Decode + Ord, V: Decode> Decode for BTreeMap<K, V> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        decode_items(
            r,
            |_| BTreeMap::new(),
            |map, (k, v)| {
                map.insert(k, v);
            },
        )
    }
}

impl<T: Encode, S> Encode for HashSet<T, S> {
    fn encode(&self, w: &mut Writer<'_>) {
        encode_items(w, self.len(), self);
    }
}
impl<T: Decode + Eq + Hash, S: BuildHasher + Default> Decode for HashSet<T, S> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let with_capacity = |n| HashSet::with_capacity_and_hasher(n, S::default());
        decode_items(r, with_capacity, |set, item| {
            set.insert(item);
        })
    }
}

impl<T: Encode> Encode for BTreeSet<T> {
    fn encode(&self, w: &mut Writer<'_>) {
        encode_items(w, self.len(), self);
    }
}
impl<T: Decode + Ord> Decode for BTreeSet<T> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        decode_items(
            r,
            |_| BTreeSet::new(),
            |set, item| {
                set.insert(item);
            },
        )
    }
}

/// Whole seconds (`u64`), then the nanoseconds past them (`u32`, below one
/// second, else a decode error).
impl Encode for Duration {
    fn encode(&self, w: &mut Writer<'_>) {
        self.as_secs().encode(w);
        self.subsec_nanos().encode(w);
    }
}
impl Decode for Duration {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let (secs, nanos): (u64, u32) = r.read()?;
        if nanos >= 1_000_000_000 {
            return Err(DecodeError::custom(format!(
                "{nanos} nanoseconds past a whole second"
            )));
        }
        // Below one second: `new` cannot carry into (and overflow) `secs`.
        Ok(Duration::new(secs, nanos))
    }
}

impl<T: Encode, const N: usize> Encode for [T; N] {
    fn encode(&self, w: &mut Writer<'_>) {
        // The length is part of the type: not written.
        for item in self {
            item.encode(w);
        }
    }
}
impl<T: Decode, const N: usize> Decode for [T; N] {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut items = Vec::with_capacity(N);
        for _ in 0..N {
            items.push(T::decode(r)?);
        }
        Ok(items
            .try_into()
            .unwrap_or_else(|_| unreachable!("exactly N items")))
    }
}

impl<T: Encode> Encode for Option<T> {
    fn encode(&self, w: &mut Writer<'_>) {
        match self {
            None => 0u8.encode(w),
            Some(v) => {
                1u8.encode(w);
                v.encode(w);
            }
        }
    }
}
impl<T: Decode> Decode for Option<T> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match u8::decode(r)? {
            0 => Ok(None),
            1 => Ok(Some(T::decode(r)?)),
            tag => Err(DecodeError::bad_tag(tag)),
        }
    }
}

impl<T: Encode, E: Encode> Encode for Result<T, E> {
    fn encode(&self, w: &mut Writer<'_>) {
        match self {
            Ok(v) => {
                0u8.encode(w);
                v.encode(w);
            }
            Err(e) => {
                1u8.encode(w);
                e.encode(w);
            }
        }
    }
}
impl<T: Decode, E: Decode> Decode for Result<T, E> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match u8::decode(r)? {
            0 => Ok(Ok(T::decode(r)?)),
            1 => Ok(Err(E::decode(r)?)),
            tag => Err(DecodeError::bad_tag(tag)),
        }
    }
}

impl<T: Encode + ?Sized> Encode for Box<T> {
    fn encode(&self, w: &mut Writer<'_>) {
        (**self).encode(w);
    }
}
impl<T: Decode> Decode for Box<T> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Box::new(T::decode(r)?))
    }
}

impl<T: Encode + ?Sized> Encode for &T {
    fn encode(&self, w: &mut Writer<'_>) {
        (**self).encode(w);
    }
}

macro_rules! tuple {
    ($($name:ident)+) => {
        impl<$($name: Encode),+> Encode for ($($name,)+) {
            #[allow(non_snake_case)]
            fn encode(&self, w: &mut Writer<'_>) {
                let ($($name,)+) = self;
                $($name.encode(w);)+
            }
        }
        impl<$($name: Decode),+> Decode for ($($name,)+) {
            fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                Ok(($($name::decode(r)?,)+))
            }
        }
    };
}
tuple!(A);
tuple!(A B);
tuple!(A B C);
tuple!(A B C D);
tuple!(A B C D E);
tuple!(A B C D E F);
tuple!(A B C D E F G);
tuple!(A B C D E F G H);

/// Implement [`Encode`] and [`Decode`] for a struct with named fields, each
/// of which implements them (fields are encoded in the order listed).
///
/// ```
/// #[derive(Debug, PartialEq)]
/// struct Point { x: i32, y: i32, label: String }
/// triad::wire_struct!(Point { x, y, label });
///
/// let p = Point { x: 1, y: -2, label: "a".into() };
/// let bytes = triad::processes::encode_to_vec(&p);
/// assert_eq!(triad::processes::decode_from_slice::<Point>(&bytes).unwrap(), p);
/// ```
#[macro_export]
macro_rules! wire_struct {
    ($name:ident { $($field:ident),* $(,)? }) => {
        impl $crate::processes::Encode for $name {
            fn encode(&self, w: &mut $crate::processes::Writer<'_>) {
                $($crate::processes::Encode::encode(&self.$field, w);)*
            }
        }
        impl $crate::processes::Decode for $name {
            fn decode(
                r: &mut $crate::processes::Reader<'_>,
            ) -> ::core::result::Result<Self, $crate::processes::DecodeError> {
                ::core::result::Result::Ok($name {
                    $($field: $crate::processes::Decode::decode(r)?,)*
                })
            }
        }
    };
}

/// How a worker runs a task: decode the argument from the front of `buf`,
/// call the user's function (`task`, an address in this process) with
/// `buf` open for carving in-place buffers (`in_place.rs`), encode the
/// result after them. Returns where the encoding lies (it fits iff
/// `end() <= buf.len()`). Monomorphised per `(A, R)` by [`entry_for`].
pub(crate) type Entry =
    fn(task: usize, buf: &mut [u8], arg_len: usize) -> Result<Encoded, DecodeError>;

fn run_one<A: Decode, R: Encode>(
    task: usize,
    buf: &mut [u8],
    arg_len: usize,
) -> Result<Encoded, DecodeError> {
    let arg = decode_from_slice::<A>(&buf[..arg_len])?;
    // SAFETY: `task` is the address of a `fn(A) -> R` of this binary: the
    // parent took it from exactly that type (`entry_for::<A, R>` is paired
    // with it in `ProcessPool::submit`) and the offset arithmetic of
    // `zygote.rs` (rule Z3) maps it to the same function in this process.
    let f = unsafe { std::mem::transmute::<*const (), fn(A) -> R>(code_ptr(task)) };
    // In-place rule 2: the argument is decoded, the area is free.
    let area = Area::new(buf);
    let result = area.run(|| in_the_worker_only(|| f(arg))); // worker rule W7
    let encoded = area.encode(&result);
    drop(result);
    drop(area); // in-place rule 5
    Ok(encoded)
}

fn run_chunk<A: Decode, R: Encode>(
    task: usize,
    buf: &mut [u8],
    arg_len: usize,
) -> Result<Encoded, DecodeError> {
    let args = decode_from_slice::<Vec<A>>(&buf[..arg_len])?;
    // SAFETY: as in `run_one`: paired with `chunk_entry_for::<A, R>`.
    let f = unsafe { std::mem::transmute::<*const (), fn(A) -> R>(code_ptr(task)) };
    let area = Area::new(buf);
    // Worker rule W7.
    let results: Vec<R> = area.run(|| in_the_worker_only(|| args.into_iter().map(f).collect()));
    let encoded = area.encode(&results);
    drop(results);
    drop(area); // in-place rule 5
    Ok(encoded)
}

/// The entry for a task `fn(A) -> R`.
pub(crate) fn entry_for<A: Decode, R: Encode>() -> Entry {
    run_one::<A, R>
}

/// The entry for a chunk: `Vec<A>` in, `Vec<R>` out, `f` on each item.
pub(crate) fn chunk_entry_for<A: Decode, R: Encode>() -> Entry {
    run_chunk::<A, R>
}

/// How a worker runs its initializer: decode the argument the parent
/// stored in the region (`shm.rs` rule 5) and call the user's function
/// (`init`, an address in this process) with it. Monomorphised per `A` by
/// [`init_entry_for`]; [`plain_init_entry`] calls a `fn()`.
pub(crate) type InitEntry = fn(init: usize, arg: &[u8]) -> Result<(), DecodeError>;

fn run_init<A: Decode>(init: usize, arg: &[u8]) -> Result<(), DecodeError> {
    let arg = decode_from_slice::<A>(arg)?;
    // SAFETY: `init` is the address of a `fn(A)` of this binary: the
    // parent took it from exactly that type (`init_entry_for::<A>` is
    // paired with it in `ProcessPoolBuilder::initializer_with`), mapped
    // back by rule Z3 of `zygote.rs`.
    let f = unsafe { std::mem::transmute::<*const (), fn(A)>(code_ptr(init)) };
    f(arg);
    Ok(())
}

fn run_plain_init(init: usize, _arg: &[u8]) -> Result<(), DecodeError> {
    // SAFETY: `init` is the address of a `fn()` of this binary (paired
    // with `plain_init_entry` in `ProcessPoolBuilder::initializer`), mapped
    // back by rule Z3 of `zygote.rs`.
    let f = unsafe { std::mem::transmute::<*const (), fn()>(code_ptr(init)) };
    f();
    Ok(())
}

/// The entry for an initializer `fn(A)`.
pub(crate) fn init_entry_for<A: Decode>() -> InitEntry {
    run_init::<A>
}

/// The entry for an initializer `fn()`, which takes no argument.
pub(crate) fn plain_init_entry() -> InitEntry {
    run_plain_init
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: Encode + Decode + PartialEq + fmt::Debug>(value: T) {
        let bytes = encode_to_vec(&value);
        assert_eq!(decode_from_slice::<T>(&bytes).unwrap(), value);
    }

    #[test]
    fn every_supported_type_round_trips() {
        round_trip(0xdead_beefu32);
        round_trip(-5i64);
        round_trip(u128::MAX);
        round_trip(1.5f64);
        round_trip(f32::MIN);
        round_trip(true);
        round_trip('λ');
        round_trip(usize::MAX);
        round_trip([1u16, 2, 3]);
        round_trip((1u8, -2i32, "three".to_string(), Some(4.0f64)));
        round_trip(vec![Some(1u8), None]);
        round_trip(Ok::<_, String>(vec![1u64]));
        round_trip(Err::<u8, String>("no".into()));
        round_trip(String::from("héllo"));
        round_trip(vec![(); 3]);
        round_trip(Box::new(7u8));
        round_trip(());
    }

    #[test]
    fn writer_counts_past_the_end() {
        let mut buf = [0u8; 4];
        let mut w = Writer::new(&mut buf);
        vec![1u8, 2, 3, 4].encode(&mut w);
        assert_eq!(w.len(), 12);
        assert!(w.overflowed());
    }

    #[test]
    fn corrupt_input_is_an_error_not_a_panic() {
        assert!(decode_from_slice::<Vec<u64>>(&u64::MAX.to_le_bytes())
            .unwrap_err()
            .is_eof());
        assert!(decode_from_slice::<bool>(&[7]).is_err());
        assert!(decode_from_slice::<String>(&[1, 0, 0, 0, 0, 0, 0, 0, 0xff]).is_err());
        assert!(decode_from_slice::<u32>(&[1, 2, 3, 4, 5]).is_err());
    }
}
