//! A throwaway certificate authority and a leaf certificate for 127.0.0.1,
//! made at test time, for the STARTTLS tests. rustls refuses a bare
//! self-signed certificate as an end entity, so the leaf is a separate
//! `CA:FALSE` certificate signed by the CA.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// PEM files written into a folder.
pub struct TestPki {
    /// The CA certificate clients must trust.
    pub ca_file: PathBuf,
    /// The server's certificate and key.
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    cert_der: CertificateDer<'static>,
    key_der: Vec<u8>,
}

impl TestPki {
    /// Makes a CA and a leaf for 127.0.0.1, written under `dir`.
    pub fn new(dir: &Path) -> TestPki {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "leakwatch test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();

        let mut leaf_params = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
        leaf_params.distinguished_name.push(DnType::CommonName, "smtp.test");
        leaf_params.is_ca = IsCa::ExplicitNoCa;
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = leaf_params.signed_by(&leaf_key, &ca).unwrap();

        let pki = TestPki {
            ca_file: dir.join("ca.pem"),
            cert_file: dir.join("smtp-cert.pem"),
            key_file: dir.join("smtp-key.pem"),
            cert_der: leaf.der().clone(),
            key_der: leaf_key.serialize_der(),
        };
        std::fs::write(&pki.ca_file, ca.pem()).unwrap();
        std::fs::write(&pki.cert_file, leaf.pem()).unwrap();
        std::fs::write(&pki.key_file, leaf_key.serialize_pem()).unwrap();
        pki
    }
}

/// A TLS front on its own 127.0.0.1 port that relays each connection's
/// plaintext to `backend`: a plain server becomes an implicit-TLS one (as
/// SMTP on port 465), with the test PKI's leaf certificate.
pub fn tls_front(pki: &TestPki, backend: u16) -> u16 {
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.key_der.clone()));
    let config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![pki.cert_der.clone()], key)
        .expect("tls front certificate");
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind tls front");
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            while let Ok((client, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(client).await else {
                        return;
                    };
                    let Ok(mut plain) = tokio::net::TcpStream::connect(("127.0.0.1", backend)).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
            }
        });
    });
    port
}
