//! A throwaway certificate authority and a leaf certificate for 127.0.0.1,
//! made at test time, for the STARTTLS tests. rustls refuses a bare
//! self-signed certificate as an end entity, so the leaf is a separate
//! `CA:FALSE` certificate signed by the CA.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

/// PEM files written into a folder.
pub struct TestPki {
    /// The CA certificate clients must trust.
    pub ca_file: PathBuf,
    /// The server's certificate and key.
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
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
        };
        std::fs::write(&pki.ca_file, ca.pem()).unwrap();
        std::fs::write(&pki.cert_file, leaf.pem()).unwrap();
        std::fs::write(&pki.key_file, leaf_key.serialize_pem()).unwrap();
        pki
    }
}
