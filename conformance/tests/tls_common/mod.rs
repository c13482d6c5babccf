//! Test certificates: a CA of our own and a leaf for localhost / 127.0.0.1 signed by it, as
//! DER for rustls and as PEM files for brokers that read files.
#![allow(dead_code)] // each test binary uses part of it

use std::path::PathBuf;

/// A leaf certificate, its key and the CA that signed it.
pub struct TestPki {
    /// The leaf's chain (the leaf alone), DER.
    pub chain: Vec<rustls_pki_types::CertificateDer<'static>>,
    /// The leaf's private key, DER.
    pub key: rustls_pki_types::PrivateKeyDer<'static>,
    /// PEM file of the CA certificate.
    pub ca_pem: PathBuf,
    /// PEM file of the leaf certificate.
    pub cert_pem: PathBuf,
    /// PEM file of the leaf's private key.
    pub key_pem: PathBuf,
    /// PEM files of a client certificate signed by the same CA, and of its key.
    pub client_cert_pem: PathBuf,
    /// The client certificate's key.
    pub client_key_pem: PathBuf,
    /// The CA certificate, DER (to make a server that requires client certificates).
    pub ca: rustls_pki_types::CertificateDer<'static>,
}

impl Drop for TestPki {
    fn drop(&mut self) {
        for p in [
            &self.ca_pem,
            &self.cert_pem,
            &self.key_pem,
            &self.client_cert_pem,
            &self.client_key_pem,
        ] {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Makes the certificates; the files go to the temp directory under names unique to `label`
/// and this process.
pub fn test_pki(label: &str) -> TestPki {
    let ca_key = rcgen::KeyPair::generate().expect("CA key");
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "mqtt-conform test CA");
    let ca_cert = ca.self_signed(&ca_key).expect("CA certificate");
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let leaf_key = rcgen::KeyPair::generate().expect("leaf key");
    let leaf = rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("leaf params")
        .signed_by(&leaf_key, &issuer)
        .expect("leaf certificate");
    let file = |what: &str| {
        std::env::temp_dir().join(format!(
            "mqtt-conform-{label}-{}-{what}.pem",
            std::process::id()
        ))
    };
    let client_key = rcgen::KeyPair::generate().expect("client key");
    let mut client =
        rcgen::CertificateParams::new(vec!["mqtt-conform-client".into()]).expect("client params");
    client.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let client = client
        .signed_by(&client_key, &issuer)
        .expect("client certificate");
    let (ca_pem, cert_pem, key_pem) = (file("ca"), file("cert"), file("key"));
    let (client_cert_pem, client_key_pem) = (file("client-cert"), file("client-key"));
    std::fs::write(&ca_pem, ca_cert.pem()).expect("write CA");
    std::fs::write(&cert_pem, leaf.pem()).expect("write certificate");
    std::fs::write(&key_pem, leaf_key.serialize_pem()).expect("write key");
    std::fs::write(&client_cert_pem, client.pem()).expect("write client certificate");
    std::fs::write(&client_key_pem, client_key.serialize_pem()).expect("write client key");
    TestPki {
        chain: vec![leaf.der().clone()],
        key: rustls_pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        ca_pem,
        cert_pem,
        key_pem,
        client_cert_pem,
        client_key_pem,
        ca: ca_cert.der().clone(),
    }
}
