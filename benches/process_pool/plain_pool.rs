//! The plain fork pool: the process pool a Rust programmer writes in an
//! afternoon when no crate is at hand, the second peer of P1, P3 and P4.
//! N workers forked straight from this process with `fork()`, one function
//! they all run, tasks and results through pipes, blocking I/O, no shared
//! memory.
//!
//! ```text
//!   bench process (parent)                              worker k (forked)
//!     requests[k] ─── argument: u64, 8 bytes LE ──────►  read, run `task`,
//!     results[k]  ◄── length: u64 LE, then the bytes ──  write
//! ```
//!
//! Task `t` of a [`PlainPool::map`] goes to worker `t % N`. A worker answers
//! its requests in the order they came, so result `t` is the next frame on
//! pipe `t % N`: the parent collects the results in task order by reading
//! the pipes round-robin. It keeps the workers busy by keeping up to
//! [`IN_FLIGHT`] requests outstanding per worker, topped up in batches (one
//! `write` per worker) whenever half of them have been answered. A worker
//! reads whatever requests its pipe holds (up to [`INPUT_BYTES`]), runs them
//! one after the other, and writes their frames back with one `write` before
//! it reads again; a result too big for its output buffer is written
//! straight from the buffer the task filled.
//!
//! The depth of that pipeline is what decides P1 (tasks of nanoseconds):
//! with one request in flight per worker every task is a round trip with
//! two cross-process wake-ups; with many, a worker wakes once per batch of
//! requests and the parent once per batch of results. 64 is a modest
//! depth for 8-byte requests, well inside a pipe (rule 5).
//!
//! # A worker's life
//!
//! | state | on | next |
//! |---|---|---|
//! | reading | some whole requests | running them, then writing |
//! | reading | end of file (the parent closed `requests[k]`) | exits with status 0 |
//! | reading | end of file in the middle of a request | exits with [`EXIT_TORN_REQUEST`] |
//! | reading / writing | a failed `read`/`write` (the parent is gone: `EPIPE`) | exits with [`EXIT_IO`] |
//! | running | the task panics | exits with [`EXIT_UNWOUND`] |
//!
//! # Rules
//!
//! 1. **Forked only from a single-threaded process.** A child of a threaded
//!    process inherits every lock another thread held at the fork, held
//!    forever (design trap 2, the reason our pool forks from a zygote).
//!    [`PlainPool::start`] counts the entries of `/proc/self/task` before
//!    it forks and panics if there is more than one. The bench starts
//!    the plain pool of P1 and P3 before it builds ours (whose supervisor
//!    thread lives as long as our pool), and P4's while no pool of ours is
//!    alive (each P4 repetition of ours joins its thread at shutdown).
//! 2. **The child touches no lock and allocates nothing.** After the fork
//!    it makes only raw syscalls (`prctl`, `getppid`, `close_range`,
//!    `read`, `write`, `_exit`) on buffers made before the fork (its result
//!    buffer) or on its stack; the task function must keep to the same (it
//!    writes into the buffer it is given). Rule 1 would make locks and the
//!    allocator safe in the child anyway; keeping off them is what a pool
//!    that meant to fork from threaded programs would need, and costs
//!    nothing here. A child never returns into the bench's code: it leaves
//!    by `_exit`, and a panic of the task (caught on its way out by
//!    [`ExitOnUnwind`]) by `_exit(EXIT_UNWOUND)`, after the panic hook has
//!    printed its message (which locks and allocates: safe by rule 1).
//! 3. **A child keeps only its own two pipe ends** (and descriptors 0 to
//!    2). It closes every other descriptor, among them the request ends of
//!    its elder siblings that the parent held when it forked: a sibling
//!    whose request end stays open in another process never sees end of
//!    file, and shutdown would wait for it forever.
//! 4. **Nobody else holds the parent's ends.** They are close-on-exec
//!    (`pipe2(O_CLOEXEC)`), so no program this process executes (the
//!    Python peer, our zygote in `Exec` mode) inherits them. A process
//!    *forked* from the bench after the plain pool started does inherit
//!    them, and would keep its workers from seeing end of file as in rule
//!    3: our zygote in `Fork` mode closes every descriptor it does not use
//!    before our `build` returns (its rule Z4), and our workers are forked
//!    from it after that, so none of ours does.
//! 5. **No blocking write can deadlock.** The parent keeps at most
//!    [`IN_FLIGHT`] requests of 8 bytes outstanding per worker, 512 bytes
//!    or less in a pipe of at least a page, so its writes of requests never
//!    block (and, at most `PIPE_BUF` bytes each, never split). The only
//!    other thing it blocks on is the frame of the oldest outstanding task,
//!    which that worker has been sent and writes next, whatever the other
//!    workers do; a worker blocked writing a later frame waits for the
//!    parent, never the other way round.
//! 6. **Every child is reaped.** Shutting down closes the request ends
//!    (each worker reads end of file and exits 0), then the result ends (a
//!    worker still writing gets `EPIPE` and exits), then `waitpid`s every
//!    worker; [`PlainPool::shutdown`] checks that each exited with 0,
//!    `Drop` does the same without checking (a bench that panics leaves no
//!    zombie). Each child also sets `PR_SET_PDEATHSIG(SIGKILL)`, so it dies
//!    with the bench even if another process holds its request end open.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// What a worker runs: given a task's argument and the worker's result
/// buffer, it writes the result at the start of the buffer and returns its
/// length. It must neither allocate nor lock (rule 2).
pub type Task = fn(u64, &mut [u8]) -> usize;

/// Requests outstanding per worker at most (rule 5: `IN_FLIGHT * 8` bytes
/// must fit in a pipe without blocking).
pub const IN_FLIGHT: usize = 64;
/// Bytes a worker reads of its request pipe at once.
pub const INPUT_BYTES: usize = 4096;
/// Bytes of result frames a worker gathers before one `write`.
const OUTPUT_BYTES: usize = 16 << 10;
/// Bytes of a frame's length prefix, and of a request.
const WORD: usize = 8;
/// The parent's read buffer on each result pipe.
const READ_BUFFER: usize = 64 << 10;

/// A worker's exit status when a `read` or `write` failed.
pub const EXIT_IO: i32 = 102;
/// A worker's exit status when its pipe ended in the middle of a request.
pub const EXIT_TORN_REQUEST: i32 = 103;
/// A worker's exit status when the task panicked.
pub const EXIT_UNWOUND: i32 = 104;

/// The parent's side of one worker.
struct Worker {
    pid: libc::pid_t,
    /// `None` once closed by shutdown.
    requests: Option<File>,
    results: Option<BufReader<File>>,
}

/// N workers forked from this process, each running one [`Task`] on the
/// arguments it is sent (see the module doc).
pub struct PlainPool {
    workers: Vec<Worker>,
    /// The result being received (as long as the largest result).
    received: Vec<u8>,
    /// Requests staged per worker, written with one `write` each.
    staged: Vec<Vec<u8>>,
}

impl PlainPool {
    /// Forks `workers` workers running `task`, whose results are at most
    /// `max_result` bytes. Panics if this process has more than one thread
    /// (rule 1) or a pipe or fork fails.
    pub fn start(workers: usize, task: Task, max_result: usize) -> PlainPool {
        assert!(workers > 0, "a plain pool needs a worker");
        let mut pool = PlainPool {
            workers: Vec::with_capacity(workers),
            received: vec![0; max_result],
            staged: (0..workers)
                .map(|_| Vec::with_capacity(IN_FLIGHT * WORD))
                .collect(),
        };
        // Checked once, as our pool's build does: nothing below starts a
        // thread.
        let threads = thread_count();
        assert_eq!(
            threads, 1,
            "plain pool: forking from a process with {threads} threads (rule 1)"
        );
        for _ in 0..workers {
            // SAFETY: this process has one thread (checked above, rule 1).
            let worker = unsafe { fork_worker(task, max_result) };
            pool.workers.push(worker);
        }
        pool
    }

    /// Runs the task on every argument, `in_flight` (1 to [`IN_FLIGHT`])
    /// per worker kept outstanding, and hands each result to `each` with
    /// its index, in the order of the arguments. Panics if a worker dies or
    /// sends a frame longer than `max_result`. With `in_flight` 1 it is the
    /// simplest pool: every task a round trip to a worker and back.
    pub fn map(
        &mut self,
        in_flight: usize,
        args: impl IntoIterator<Item = u64>,
        mut each: impl FnMut(usize, &[u8]),
    ) {
        assert!(
            (1..=IN_FLIGHT).contains(&in_flight),
            "in_flight {in_flight}"
        );
        let n = self.workers.len();
        let window = in_flight * n;
        let mut args = args.into_iter();
        let mut exhausted = false;
        let (mut sent, mut done) = (0usize, 0usize);
        loop {
            // Top up once half the window is answered (and at the start):
            // the outstanding tasks are consecutive, so no worker gets more
            // than `in_flight` of them (rule 5).
            if !exhausted && sent - done <= window / 2 {
                while sent - done < window {
                    let Some(arg) = args.next() else {
                        exhausted = true;
                        break;
                    };
                    self.staged[sent % n].extend_from_slice(&arg.to_le_bytes());
                    sent += 1;
                }
                for (worker, staged) in self.workers.iter_mut().zip(&mut self.staged) {
                    if !staged.is_empty() {
                        let requests = worker.requests.as_mut().expect("open until shutdown");
                        requests
                            .write_all(staged)
                            .unwrap_or_else(|e| panic!("plain pool: sending to worker: {e}"));
                        staged.clear();
                    }
                }
            }
            if done == sent {
                break;
            }
            let len = self.receive(done % n);
            each(done, &self.received[..len]);
            done += 1;
        }
    }

    /// Reads the next frame of worker `k` into `received`; its length.
    fn receive(&mut self, k: usize) -> usize {
        let results = self.workers[k]
            .results
            .as_mut()
            .expect("open until shutdown");
        let died = |e: io::Error| {
            panic!("plain pool: worker {k} died or failed (reading its result pipe: {e})")
        };
        let mut prefix = [0u8; WORD];
        results.read_exact(&mut prefix).unwrap_or_else(died);
        let len = u64::from_le_bytes(prefix) as usize;
        assert!(
            len <= self.received.len(),
            "plain pool: worker {k} sent a frame of {len} bytes (at most {})",
            self.received.len()
        );
        results
            .read_exact(&mut self.received[..len])
            .unwrap_or_else(died);
        len
    }

    /// Shuts the workers down (rule 6) and checks that every one exited
    /// with status 0.
    pub fn shutdown(mut self) {
        for (k, status) in self.stop().into_iter().enumerate() {
            assert!(
                libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
                "plain pool: worker {k} ended with wait status {status:#x}"
            );
        }
    }

    /// Closes every pipe and reaps every worker (rule 6); their wait
    /// statuses. Idempotent: a second call finds nothing left.
    fn stop(&mut self) -> Vec<libc::c_int> {
        for w in &mut self.workers {
            w.requests = None;
        }
        for w in &mut self.workers {
            w.results = None;
        }
        self.workers.drain(..).map(|w| reap(w.pid)).collect()
    }
}

impl Drop for PlainPool {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `waitpid` for `pid`, retried on `EINTR`; its wait status.
fn reap(pid: libc::pid_t) -> libc::c_int {
    let mut status = 0;
    loop {
        // SAFETY: `waitpid` writes only the status, a live local; `pid` is
        // a child of ours not reaped yet (rule 6 reaps each once).
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        if rc == pid {
            return status;
        }
        let e = io::Error::last_os_error();
        assert!(
            e.kind() == io::ErrorKind::Interrupted,
            "plain pool: waitpid({pid}): {e}"
        );
    }
}

/// A pipe, both ends close-on-exec (rule 4): `(read end, write end)`.
fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: `pipe2` writes two descriptors into the array we pass, a live
    // local of the right size.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "plain pool: pipe2: {}", io::Error::last_os_error());
    // SAFETY: both descriptors were just opened by `pipe2` and are owned by
    // nothing else.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// The threads of this process (entries of `/proc/self/task`).
fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("reading /proc/self/task")
        .count()
}

/// Forks one worker running `task`, with its pipes and its result buffer
/// made before the fork (rule 2); the parent's side of it.
///
/// # Safety
///
/// This process must have exactly one thread (rule 1).
unsafe fn fork_worker(task: Task, max_result: usize) -> Worker {
    let (request_out, request_in) = pipe();
    let (result_out, result_in) = pipe();
    // The frame: 8 bytes of length, then the result, written in place.
    let mut frame = vec![0u8; WORD + max_result];
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: this process has one thread (the caller's guarantee, rule 1),
    // so the child inherits no lock held by another thread; the child runs
    // `worker_main` only, which never returns (rule 2).
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => panic!("plain pool: fork: {}", io::Error::last_os_error()),
        0 => {
            let _exit_on_unwind = ExitOnUnwind;
            worker_main(
                task,
                parent,
                request_out.as_raw_fd(),
                result_in.as_raw_fd(),
                &mut frame,
            )
        }
        pid => {
            drop((request_out, result_in, frame));
            Worker {
                pid,
                requests: Some(File::from(request_in)),
                results: Some(BufReader::with_capacity(
                    READ_BUFFER,
                    File::from(result_out),
                )),
            }
        }
    }
}

/// Ends a child whose code unwinds (a panicking task) before the unwinding
/// can return into the bench's code (rule 2).
struct ExitOnUnwind;

impl Drop for ExitOnUnwind {
    fn drop(&mut self) {
        // SAFETY: `_exit` ends this (child) process at once, running no
        // handler; nothing of the parent's is touched.
        unsafe { libc::_exit(EXIT_UNWOUND) }
    }
}

/// `_exit(code)`.
fn exit_now(code: i32) -> ! {
    // SAFETY: as in `ExitOnUnwind::drop`.
    unsafe { libc::_exit(code) }
}

/// A worker, from the fork to its `_exit`: raw syscalls only (rule 2).
fn worker_main(
    task: Task,
    parent: libc::pid_t,
    requests: RawFd,
    results: RawFd,
    frame: &mut [u8],
) -> ! {
    // SAFETY: `prctl` and `getppid` touch no memory of ours. The death
    // signal follows the thread that forked us, the bench's main thread,
    // which lives as long as the bench (rule 6); the parent may have died
    // before the prctl, hence the check after it.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        if libc::getppid() != parent {
            libc::_exit(EXIT_IO);
        }
    }
    close_all_but(requests, results);
    let mut input = [0u8; INPUT_BYTES];
    let mut output = [0u8; OUTPUT_BYTES];
    let mut have = 0;
    loop {
        let n = read(requests, &mut input[have..]);
        if n == 0 {
            exit_now(if have == 0 { 0 } else { EXIT_TORN_REQUEST });
        }
        have += n;
        let whole = have - have % WORD;
        let mut gathered = 0;
        for request in input[..whole].chunks_exact(WORD) {
            let mut arg = [0u8; WORD];
            arg.copy_from_slice(request);
            let len = task(u64::from_le_bytes(arg), &mut frame[WORD..]);
            frame[..WORD].copy_from_slice(&(len as u64).to_le_bytes());
            let frame = &frame[..WORD + len];
            if gathered + frame.len() > OUTPUT_BYTES {
                write_all(results, &output[..gathered]);
                gathered = 0;
            }
            if frame.len() > OUTPUT_BYTES {
                write_all(results, frame);
            } else {
                output[gathered..gathered + frame.len()].copy_from_slice(frame);
                gathered += frame.len();
            }
        }
        write_all(results, &output[..gathered]);
        input.copy_within(whole..have, 0);
        have -= whole;
    }
}

/// Closes every descriptor above 2 but `a` and `b` (rule 3).
fn close_all_but(a: RawFd, b: RawFd) {
    let mut first: libc::c_uint = 3;
    for keep in [a.min(b), a.max(b)] {
        let keep = keep as libc::c_uint;
        if keep > first {
            close_range(first, keep - 1);
        }
        first = first.max(keep + 1);
    }
    close_range(first, libc::c_uint::MAX);
}

/// `close_range(first, last)`: closes the descriptors from `first` to
/// `last`, both included. Exits on an error.
fn close_range(first: libc::c_uint, last: libc::c_uint) {
    // SAFETY: `close_range` closes descriptors only; none in the range is
    // used again in this process, which uses its two pipe ends and
    // descriptors 0 to 2 only (rule 3), and leaves by `_exit` without
    // dropping the owners of the rest.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0) };
    if rc != 0 {
        exit_now(EXIT_IO);
    }
}

/// `read`, retried on `EINTR`; 0 at end of file. Exits on an error.
fn read(fd: RawFd, buf: &mut [u8]) -> usize {
    loop {
        // SAFETY: `read` writes at most `buf.len()` bytes into `buf`, a live
        // exclusive slice.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return n as usize;
        }
        if errno() != libc::EINTR {
            exit_now(EXIT_IO);
        }
    }
}

/// `write` of all of `buf`, retried on `EINTR` and short writes. Exits on
/// an error (`EPIPE`: the parent closed its end).
fn write_all(fd: RawFd, mut buf: &[u8]) {
    while !buf.is_empty() {
        // SAFETY: `write` reads at most `buf.len()` bytes of `buf`, a live
        // slice.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if n >= 0 {
            buf = &buf[n as usize..];
        } else if errno() != libc::EINTR {
            exit_now(EXIT_IO);
        }
    }
}

/// This thread's `errno` (no allocation, unlike `io::Error`'s Display).
fn errno() -> i32 {
    // SAFETY: `__errno_location` returns this thread's errno, always valid
    // to read.
    unsafe { *libc::__errno_location() }
}
