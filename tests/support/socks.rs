//! A real SOCKS5 proxy on 127.0.0.1 (fast-socks5's server protocol), standing
//! in for Tor: it records the address each client asked for — a domain name
//! or an IP, as the client sent it — and then connects every request to one
//! loopback upstream, so a `.onion` URL reaches a test HTTP server without
//! any name ever being resolved.
//!
//! [`SocksProxy::start_with_auth`] asks for a username and password instead,
//! as Tor does for circuit isolation, records each connection's pair, and can
//! refuse the first connections (a failed circuit).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use fast_socks5::server::Socks5ServerProtocol;
use fast_socks5::util::target_addr::TargetAddr;
use fast_socks5::{ReplyError, Socks5Command};

pub struct SocksProxy {
    pub port: u16,
    targets: Arc<Mutex<Vec<TargetAddr>>>,
    credentials: Arc<Mutex<Vec<(String, String)>>>,
}

/// How the proxy greets clients.
#[derive(Clone)]
struct Auth {
    password: bool,
    /// CONNECTs still to refuse with "general failure".
    refuse: Arc<AtomicUsize>,
}

impl SocksProxy {
    /// A proxy that sends every CONNECT to `upstream`.
    pub fn start(upstream: SocketAddr) -> SocksProxy {
        Self::launch(upstream, false, 0)
    }

    /// A proxy that wants a username and password (any), records them, and
    /// refuses the first `refuse` CONNECTs.
    pub fn start_with_auth(upstream: SocketAddr, refuse: usize) -> SocksProxy {
        Self::launch(upstream, true, refuse)
    }

    fn launch(upstream: SocketAddr, password: bool, refuse: usize) -> SocksProxy {
        let auth = Auth {
            password,
            refuse: Arc::new(AtomicUsize::new(refuse)),
        };
        let credentials: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
        let pairs = credentials.clone();
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
                    let (seen, pairs, auth) = (seen.clone(), pairs.clone(), auth.clone());
                    tokio::spawn(async move {
                        if let Err(e) = serve(socket, upstream, &seen, &pairs, &auth).await {
                            eprintln!("socks proxy: {e}");
                        }
                    });
                }
            });
        });
        SocksProxy {
            port,
            targets,
            credentials,
        }
    }

    /// The username and password of every connection so far, in order.
    pub fn credentials(&self) -> Vec<(String, String)> {
        self.credentials.lock().unwrap().clone()
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
    pairs: &Mutex<Vec<(String, String)>>,
    auth: &Auth,
) -> Result<(), Box<dyn std::error::Error>> {
    let proto = if auth.password {
        let (proto, _) = Socks5ServerProtocol::accept_password_auth(socket, |user, pass| {
            pairs.lock().unwrap().push((user, pass));
            true
        })
        .await?;
        proto
    } else {
        Socks5ServerProtocol::accept_no_auth(socket).await?
    };
    let (proto, cmd, target) = proto.read_command().await?;
    seen.lock().unwrap().push(target);
    let refused = auth
        .refuse
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if refused {
        proto.reply_error(&ReplyError::GeneralFailure).await?;
        return Ok(());
    }
    if cmd != Socks5Command::TCPConnect {
        proto.reply_error(&ReplyError::CommandNotSupported).await?;
        return Ok(());
    }
    let mut outbound = tokio::net::TcpStream::connect(upstream).await?;
    let mut inbound = proto.reply_success(outbound.local_addr()?).await?;
    tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await?;
    Ok(())
}
