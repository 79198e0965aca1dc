//! futures-io `AsyncRead`/`AsyncWrite` on the loop's streams: a small
//! length-prefixed codec written only against the traits (as an ecosystem
//! codec would be) runs over TCP, split TCP halves and Unix streams.
#![cfg(feature = "event-loop")]
#![cfg(feature = "futures-io")]

use std::future::poll_fn;
use std::io;
use std::pin::Pin;

use futures_io::{AsyncRead, AsyncWrite};
use triad::event_loop::net::tcp::{TcpListener, TcpStream};
use triad::event_loop::net::unix::UnixStream;
use triad::event_loop::{spawn, EventLoop};

/// Write `payload` as one frame: a 4-byte big-endian length, then the bytes.
async fn write_frame<W: AsyncWrite + Unpin>(w: &mut W, payload: &[u8]) -> io::Result<()> {
    let len = u32::try_from(payload.len()).map_err(io::Error::other)?;
    for mut part in [&len.to_be_bytes()[..], payload] {
        while !part.is_empty() {
            let n = poll_fn(|cx| Pin::new(&mut *w).poll_write(cx, part)).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            part = &part[n..];
        }
    }
    poll_fn(|cx| Pin::new(&mut *w).poll_flush(cx)).await
}

/// Fill `buf`; `Ok(false)` on a clean end of stream before the first byte.
async fn read_full<R: AsyncRead + Unpin>(r: &mut R, buf: &mut [u8]) -> io::Result<bool> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = poll_fn(|cx| Pin::new(&mut *r).poll_read(cx, &mut buf[filled..])).await?;
        if n == 0 {
            return if filled == 0 {
                Ok(false)
            } else {
                Err(io::ErrorKind::UnexpectedEof.into())
            };
        }
        filled += n;
    }
    Ok(true)
}

/// The next frame, or `None` at a clean end of stream.
async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    if !read_full(r, &mut len).await? {
        return Ok(None);
    }
    let mut payload = vec![0u8; u32::from_be_bytes(len) as usize];
    if !read_full(r, &mut payload).await? && !payload.is_empty() {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(Some(payload))
}

async fn close<W: AsyncWrite + Unpin>(w: &mut W) -> io::Result<()> {
    poll_fn(|cx| Pin::new(&mut *w).poll_close(cx)).await
}

/// Frames of 0 bytes to 256 KiB (bigger than a socket buffer, so writes
/// are partial and wait for readiness).
fn frames() -> Vec<Vec<u8>> {
    [0usize, 1, 5, 1000, 64 * 1024, 256 * 1024]
        .iter()
        .map(|&n| (0..n).map(|i| (i % 251) as u8).collect())
        .collect()
}

#[test]
fn frames_round_trip_through_a_tcp_echo_server_on_split_halves() {
    let ev = EventLoop::new().unwrap();
    let (got, echoed) = ev.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        // The server echoes frame by frame, through the traits, on the
        // owned halves.
        let server = spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let (mut rd, mut wr) = stream.into_split();
            let mut count = 0;
            while let Some(frame) = read_frame(&mut rd).await.unwrap() {
                write_frame(&mut wr, &frame).await.unwrap();
                count += 1;
            }
            close(&mut wr).await.unwrap();
            count
        });
        // The client, on the whole stream: a frame out, its echo back.
        let mut client = TcpStream::connect(addr).await.unwrap();
        let mut got = Vec::new();
        for frame in frames() {
            write_frame(&mut client, &frame).await.unwrap();
            got.push(read_frame(&mut client).await.unwrap().expect("an echo"));
        }
        close(&mut client).await.unwrap();
        assert!(read_frame(&mut client).await.unwrap().is_none(), "end");
        (got, server.await.unwrap())
    });
    assert_eq!(echoed, frames().len());
    assert_eq!(got, frames());
}

#[test]
fn frames_stream_over_a_unix_pair_until_close() {
    let ev = EventLoop::new().unwrap();
    let got = ev.block_on(async {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        let writer = spawn(async move {
            for frame in frames() {
                write_frame(&mut a, &frame).await.unwrap();
            }
            close(&mut a).await.unwrap();
        });
        let mut got = Vec::new();
        while let Some(frame) = read_frame(&mut b).await.unwrap() {
            got.push(frame);
        }
        writer.await.unwrap();
        got
    });
    assert_eq!(got.len(), frames().len());
    assert_eq!(got, frames());
}

#[test]
fn a_truncated_frame_is_an_unexpected_eof() {
    let ev = EventLoop::new().unwrap();
    let kind = ev.block_on(async {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        // A header announcing 10 bytes, then only 3, then close.
        let mut header_and_some = 10u32.to_be_bytes().to_vec();
        header_and_some.extend_from_slice(b"abc");
        let n = poll_fn(|cx| Pin::new(&mut a).poll_write(cx, &header_and_some))
            .await
            .unwrap();
        assert_eq!(n, 7);
        close(&mut a).await.unwrap();
        read_frame(&mut b).await.unwrap_err().kind()
    });
    assert_eq!(kind, io::ErrorKind::UnexpectedEof);
}
