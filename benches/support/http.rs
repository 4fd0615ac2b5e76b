//! The loopback servers of the crawl, run and Tor benchmarks read requests
//! the same way: just the head, which is all they answer from.

use tokio::io::AsyncReadExt;

/// One request head from `socket`, up to its blank line; `None` when the
/// client went away first or the head outgrew 4 KiB.
pub async fn read_head(socket: &mut tokio::net::TcpStream) -> Option<String> {
    let mut buf = vec![0u8; 4096];
    let mut read = 0;
    while !buf[..read].windows(4).any(|w| w == b"\r\n\r\n") {
        match socket.read(&mut buf[read..]).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => read += n,
        }
        if read == buf.len() {
            return None;
        }
    }
    Some(String::from_utf8_lossy(&buf[..read]).into_owned())
}
