//! A finished recording, and how it is written as Chrome Trace Event JSON.
//!
//! # Tracks
//!
//! The JSON is an object whose `traceEvents` Perfetto
//! (<https://ui.perfetto.dev>) and `chrome://tracing` draw as one track per
//! (`pid`, `tid`) pair, grouped by `pid`:
//!
//! | what | `pid` | `tid` | track name |
//! |---|---|---|---|
//! | a thread of this process that recorded | this process's id | the ring's track number | `threads worker 3`, `event loop`, `thread main` |
//! | a worker process of a process pool | the worker's pid | the worker's pid | `process worker pid 1234` |
//!
//! Each track is named by `"M"` (metadata) events, `process_name` and
//! `thread_name`, and ordered by `thread_sort_index` (the event loop, then
//! the pool workers by index, then the other threads). Spans are `"X"`
//! (complete) events with `ts` and `dur`; instants are `"i"` events with
//! thread scope. Times are microseconds from the earliest event, with
//! nanosecond decimals.
//!
//! The worker-process tracks are written by the parent: the supervisor
//! records forks, crashes and exits as it hears of them, and the thread that
//! collects a result records the task's span from the start and end times
//! the worker wrote into the task's slot (CLOCK_MONOTONIC is one clock for
//! every process, so they line up). Nothing is recorded inside a worker
//! process itself.
//!
//! The JSON is written by hand (the library has no serde): strings are
//! escaped per RFC 8259, numbers are integers or fixed-point decimals.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use super::event::Event;

/// What a thread's track is called.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum TrackName {
    PoolWorker(usize),
    EventLoop,
    /// Any other thread, by its name (or id).
    Thread(String),
}

impl TrackName {
    fn sort_index(&self, track: u64) -> u64 {
        match self {
            TrackName::EventLoop => 0,
            TrackName::PoolWorker(index) => 1 + *index as u64,
            TrackName::Thread(_) => 1_000_000 + track,
        }
    }
}

impl fmt::Display for TrackName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrackName::PoolWorker(index) => write!(f, "threads worker {index}"),
            TrackName::EventLoop => f.write_str("event loop"),
            TrackName::Thread(name) => write!(f, "thread {name}"),
        }
    }
}

/// One thread's ring, copied out.
pub(crate) struct TrackRecord {
    pub(crate) track: u64,
    pub(crate) name: TrackName,
    pub(crate) events: Vec<Event>,
    pub(crate) dropped: u64,
}

/// A finished recording: what every thread recorded between
/// [`start`](super::start) and [`stop`](super::stop).
///
/// It owns a copy of the events; threads still running do not change it.
///
/// ```
/// triad::trace::start();
/// let trace = triad::trace::stop();
/// let mut json = Vec::new();
/// trace.write_chrome_json(&mut json).unwrap();
/// assert!(json.starts_with(b"{\"traceEvents\":["));
/// ```
pub struct Trace {
    pid: u32,
    tracks: Vec<TrackRecord>,
}

impl Trace {
    pub(crate) fn new(pid: u32, tracks: Vec<TrackRecord>) -> Trace {
        Trace { pid, tracks }
    }

    /// Events kept, over all tracks.
    ///
    /// ```
    /// triad::trace::start();
    /// let trace = triad::trace::stop();
    /// assert!(trace.len() <= 1_000_000);
    /// ```
    pub fn len(&self) -> usize {
        self.tracks.iter().map(|t| t.events.len()).sum()
    }

    /// Whether no event was kept.
    ///
    /// ```
    /// // No session was started: nothing is recorded.
    /// assert!(triad::trace::stop().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Events that found their thread's ring full and were not kept, over
    /// all tracks (each track's own count is in its name on the timeline).
    ///
    /// ```
    /// triad::trace::start_with_capacity(0); // keep nothing, count everything
    /// let trace = triad::trace::stop();
    /// assert_eq!(trace.len(), 0);
    /// let _ = trace.dropped();
    /// ```
    pub fn dropped(&self) -> u64 {
        self.tracks.iter().map(|t| t.dropped).sum()
    }

    /// Write the trace to `path` as Chrome Trace Event JSON (see
    /// [`write_chrome_json`](Trace::write_chrome_json)).
    ///
    /// ```no_run
    /// triad::trace::start();
    /// // ... run work ...
    /// triad::trace::stop().save_chrome_json("trace.json")?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn save_chrome_json(&self, path: impl AsRef<Path>) -> io::Result<()> {
        let mut out = BufWriter::new(File::create(path)?);
        self.write_chrome_json(&mut out)?;
        out.flush()
    }

    /// Write the trace as Chrome Trace Event JSON, which
    /// <https://ui.perfetto.dev> and `chrome://tracing` open: one track per
    /// pool worker, event loop and other recording thread, and one per
    /// worker process.
    ///
    /// ```
    /// use triad::threads::ThreadPool;
    ///
    /// let pool = ThreadPool::builder().num_threads(2).build().unwrap();
    /// triad::trace::start();
    /// pool.spawn(|| 1 + 1).join().unwrap();
    /// drop(pool); // joins the worker, whose job span follows the result
    /// let trace = triad::trace::stop();
    ///
    /// let mut json = Vec::new();
    /// trace.write_chrome_json(&mut json).unwrap();
    /// let json = String::from_utf8(json).unwrap();
    /// assert!(json.contains(r#""name":"job""#));
    /// ```
    pub fn write_chrome_json(&self, out: impl Write) -> io::Result<()> {
        let mut out = JsonEvents::new(out)?;
        let origin = self
            .tracks
            .iter()
            .flat_map(|t| &t.events)
            .map(|e| e.start_ns)
            .min()
            .unwrap_or(0);
        out.metadata(
            self.pid,
            0,
            "process_name",
            &format!("triad (pid {})", self.pid),
        )?;
        out.sort_index(self.pid, 0, "process_sort_index", 0)?;
        // Worker processes, by pid: whether any event names them.
        let mut processes = BTreeMap::new();
        for track in &self.tracks {
            let mut name = track.name.to_string();
            if track.dropped > 0 {
                name = format!("{name} ({} events dropped: ring full)", track.dropped);
            }
            out.metadata(self.pid, track.track, "thread_name", &name)?;
            out.sort_index(
                self.pid,
                track.track,
                "thread_sort_index",
                track.name.sort_index(track.track),
            )?;
            for event in &track.events {
                let (pid, tid) = match event.process {
                    0 => (self.pid, track.track),
                    worker => {
                        processes.insert(worker, ());
                        (worker, worker as u64)
                    }
                };
                out.event(pid, tid, event, origin)?;
            }
        }
        for &worker in processes.keys() {
            let name = format!("process worker pid {worker}");
            out.metadata(worker, 0, "process_name", &name)?;
            out.sort_index(worker, 0, "process_sort_index", 1)?;
            out.metadata(worker, worker as u64, "thread_name", &name)?;
        }
        out.finish(self.dropped())
    }
}

impl fmt::Debug for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trace")
            .field("tracks", &self.tracks.len())
            .field("events", &self.len())
            .field("dropped", &self.dropped())
            .finish()
    }
}

/// The `traceEvents` array, written one object at a time.
struct JsonEvents<W: Write> {
    out: W,
    first: bool,
}

impl<W: Write> JsonEvents<W> {
    fn new(mut out: W) -> io::Result<Self> {
        out.write_all(b"{\"traceEvents\":[")?;
        Ok(JsonEvents { out, first: true })
    }

    fn separator(&mut self) -> io::Result<()> {
        if !std::mem::take(&mut self.first) {
            self.out.write_all(b",")?;
        }
        self.out.write_all(b"\n")
    }

    fn metadata(&mut self, pid: u32, tid: u64, what: &str, name: &str) -> io::Result<()> {
        self.separator()?;
        write!(
            self.out,
            r#"{{"ph":"M","name":"{what}","pid":{pid},"tid":{tid},"args":{{"name":"#
        )?;
        write_string(&mut self.out, name)?;
        self.out.write_all(b"}}")
    }

    fn sort_index(&mut self, pid: u32, tid: u64, what: &str, index: u64) -> io::Result<()> {
        self.separator()?;
        write!(
            self.out,
            r#"{{"ph":"M","name":"{what}","pid":{pid},"tid":{tid},"args":{{"sort_index":{index}}}}}"#
        )
    }

    fn event(&mut self, pid: u32, tid: u64, event: &Event, origin: u64) -> io::Result<()> {
        let kind = event.kind;
        self.separator()?;
        write!(
            self.out,
            r#"{{"name":"{}","cat":"{}","pid":{pid},"tid":{tid},"ts":{}"#,
            kind.name(),
            kind.category(),
            Micros(event.start_ns.saturating_sub(origin)),
        )?;
        if kind.is_span() {
            write!(
                self.out,
                r#","ph":"X","dur":{}"#,
                Micros(event.end_ns.saturating_sub(event.start_ns))
            )?;
        } else {
            self.out.write_all(br#","ph":"i","s":"t""#)?;
        }
        match kind.arg_name() {
            Some(arg) => write!(self.out, r#","args":{{"{arg}":{}}}}}"#, event.arg),
            None => self.out.write_all(b"}"),
        }
    }

    fn finish(mut self, dropped: u64) -> io::Result<()> {
        write!(
            self.out,
            "\n],\"displayTimeUnit\":\"ns\",\"otherData\":{{\"dropped_events\":\"{dropped}\"}}}}\n"
        )
    }
}

/// Nanoseconds shown as microseconds with three decimals.
struct Micros(u64);

impl fmt::Display for Micros {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}", self.0 / 1000, self.0 % 1000)
    }
}

/// A JSON string literal (RFC 8259 escapes).
fn write_string(out: &mut impl Write, s: &str) -> io::Result<()> {
    out.write_all(b"\"")?;
    for c in s.chars() {
        match c {
            '"' => out.write_all(b"\\\"")?,
            '\\' => out.write_all(b"\\\\")?,
            '\n' => out.write_all(b"\\n")?,
            c if (c as u32) < 0x20 => write!(out, "\\u{:04x}", c as u32)?,
            c => write!(out, "{c}")?,
        }
    }
    out.write_all(b"\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::event::Kind;

    #[test]
    fn strings_are_escaped() {
        let mut out = Vec::new();
        write_string(&mut out, "a\"b\\c\nd\u{1}é").unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), r#""a\"b\\c\nd\u0001é""#);
    }

    #[test]
    fn spans_instants_and_process_tracks() {
        let span = Event {
            start_ns: 10_000,
            end_ns: 12_500,
            arg: 0,
            process: 0,
            kind: Kind::JobRun,
        };
        let crash = Event {
            start_ns: 11_000,
            end_ns: 11_000,
            arg: 9,
            process: 4242,
            kind: Kind::ProcessCrashed,
        };
        let trace = Trace::new(
            7,
            vec![TrackRecord {
                track: 3,
                name: TrackName::PoolWorker(0),
                events: vec![span, crash],
                dropped: 2,
            }],
        );
        let mut out = Vec::new();
        trace.write_chrome_json(&mut out).unwrap();
        let json = String::from_utf8(out).unwrap();
        assert!(json.contains(
            r#"{"name":"job","cat":"threads","pid":7,"tid":3,"ts":0.000,"ph":"X","dur":2.500}"#
        ));
        assert!(json.contains(
            r#"{"name":"crash","cat":"processes","pid":4242,"tid":4242,"ts":1.000,"ph":"i","s":"t","args":{"signal":9}}"#
        ));
        assert!(
            json.contains(r#""args":{"name":"threads worker 0 (2 events dropped: ring full)"}"#)
        );
        assert!(json.contains(r#""args":{"name":"process worker pid 4242"}"#));
        assert!(json.contains(r#""dropped_events":"2""#));
    }
}
