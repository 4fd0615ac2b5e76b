//! A real SOCKS5 proxy on 127.0.0.1 (fast-socks5's server protocol), standing
//! in for Tor: it records the address each client asked for — a domain name
//! or an IP, as the client sent it — and then connects every request to one
//! loopback upstream, so a `.onion` URL reaches a test HTTP server without
//! any name ever being resolved.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use fast_socks5::server::Socks5ServerProtocol;
use fast_socks5::util::target_addr::TargetAddr;
use fast_socks5::{ReplyError, Socks5Command};

pub struct SocksProxy {
    pub port: u16,
    targets: Arc<Mutex<Vec<TargetAddr>>>,
}

impl SocksProxy {
    /// A proxy that sends every CONNECT to `upstream`.
    pub fn start(upstream: SocketAddr) -> SocksProxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind socks");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let targets: Arc<Mutex<Vec<TargetAddr>>> = Arc::default();
        let seen = targets.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                while let Ok((socket, _)) = listener.accept().await {
                    let seen = seen.clone();
                    tokio::spawn(async move {
                        if let Err(e) = serve(socket, upstream, &seen).await {
                            eprintln!("socks proxy: {e}");
                        }
                    });
                }
            });
        });
        SocksProxy { port, targets }
    }

    pub fn url(&self) -> String {
        format!("socks5h://127.0.0.1:{}", self.port)
    }

    /// Every CONNECT target asked for so far, as the client sent it.
    pub fn targets(&self) -> Vec<TargetAddr> {
        self.targets.lock().unwrap().clone()
    }
}

async fn serve(
    socket: tokio::net::TcpStream,
    upstream: SocketAddr,
    seen: &Mutex<Vec<TargetAddr>>,
) -> Result<(), Box<dyn std::error::Error>> {
    let (proto, cmd, target) = Socks5ServerProtocol::accept_no_auth(socket)
        .await?
        .read_command()
        .await?;
    seen.lock().unwrap().push(target);
    if cmd != Socks5Command::TCPConnect {
        proto.reply_error(&ReplyError::CommandNotSupported).await?;
        return Ok(());
    }
    let mut outbound = tokio::net::TcpStream::connect(upstream).await?;
    let mut inbound = proto.reply_success(outbound.local_addr()?).await?;
    tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await?;
    Ok(())
}
