//! Unit tests of the syscall wrappers Miri can run.
//!
//! Miri emulates a part of Linux: futexes, eventfds, pipes, socket pairs,
//! `clock_gettime`, `getpid`, `close`. The wrappers over those are checked
//! here for what their `unsafe` blocks claim (buffers live and large
//! enough, descriptors owned once). The rest (fork, memfd, signalfd,
//! timerfd, prctl, rlimits, affinity, `dl_iterate_phdr`, signal handlers)
//! Miri cannot run; the integration tests run them, under AddressSanitizer
//! too (`.ci/asan`). ARCHITECTURE.md lists which is which.

#[cfg(feature = "processes")]
mod processes {
    use std::io::{Read, Write};
    use std::os::fd::{AsFd, AsRawFd, IntoRawFd};
    use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
    use std::sync::Arc;
    use std::thread;
    use std::time::Duration;

    use crate::sys::{eventfd, futex, process};

    #[test]
    fn futex_wakes_a_waiter_on_another_thread() {
        let word = Arc::new(AtomicU32::new(0));
        let waiter = {
            let word = word.clone();
            thread::spawn(move || {
                while word.load(SeqCst) == 0 {
                    futex::wait(&word, 0, None).unwrap();
                }
            })
        };
        word.store(1, SeqCst);
        // Wake until the waiter has left (it may not sleep yet when the
        // first wake comes; then it sees 1 and does not sleep at all).
        while !waiter.is_finished() {
            futex::wake(&word, i32::MAX).unwrap();
            thread::yield_now();
        }
        waiter.join().unwrap();
        // A stale expected value returns at once; a timeout times out.
        assert_eq!(futex::wait(&word, 0, None).unwrap(), futex::Wake::Woken);
        assert_eq!(
            futex::wait(&word, 1, Some(Duration::from_millis(1))).unwrap(),
            futex::Wake::TimedOut
        );
    }

    #[test]
    fn eventfd_notify_and_drain() {
        let fd = eventfd::eventfd().unwrap();
        eventfd::notify(fd.as_fd()).unwrap();
        eventfd::notify(fd.as_fd()).unwrap();
        eventfd::drain(fd.as_fd()).unwrap();
        // Drained: nothing to read (non-blocking), which drain tolerates.
        eventfd::drain(fd.as_fd()).unwrap();
    }

    #[test]
    fn pipes_carry_bytes() {
        let (mut read, mut write) = process::pipe().unwrap();
        write.write_all(b"through the pipe").unwrap();
        drop(write);
        let mut text = [0u8; 16];
        read.read_exact(&mut text).unwrap();
        assert_eq!(&text, b"through the pipe");
        // (Not `read_to_end`: its size hint is a `statx` Miri refuses.)
        assert_eq!(read.read(&mut text).unwrap(), 0, "end of file");
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "Miri's socketpair is not a socket to send(2): ENOTSOCK; the unsafe is as in pipe()"
    )]
    fn socket_pairs_carry_bytes_without_sigpipe() {
        let (mut a, b) = process::socketpair().unwrap();
        process::send_all(&b, b"both ways").unwrap();
        let mut buf = [0u8; 9];
        a.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"both ways");
    }

    #[test]
    fn close_raw_closes_a_descriptor_given_up_by_its_owner() {
        let (read, write) = process::pipe().unwrap();
        let fd = write.into_raw_fd();
        // SAFETY: `into_raw_fd` gave the descriptor up: nothing owns it.
        unsafe { process::close_raw(fd) };
        // The write end is gone: the reader sees end of file.
        assert_eq!((&read).read(&mut [0u8; 8]).unwrap(), 0);
        assert!(read.as_raw_fd() >= 0);
    }

    #[test]
    fn clocks_and_ids() {
        let a = process::monotonic_ns();
        let b = process::monotonic_ns();
        assert!(b >= a);
        assert_eq!(process::getpid(), std::process::id() as i32);
        assert_eq!(crate::sys::fork::getpid(), std::process::id());
    }
}
