//! TLS with rustls: certificates from files, or a development CA made on first run.
//!
//! The development CA (`ca.pem`) is what `partner` trusts by default, so the demo
//! runs over real, verified HTTPS without a public certificate authority.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::TlsConfig;

/// The development CA certificate inside the TLS directory.
pub const DEV_CA_FILE: &str = "ca.pem";
const DEV_CERT_FILE: &str = "gateway.pem";
const DEV_KEY_FILE: &str = "gateway.key";

/// The rustls server configuration for `tls`, or `None` for plain HTTP.
pub fn server_config(tls: &TlsConfig) -> anyhow::Result<Option<ServerConfig>> {
    let (certificate, private_key) = match tls {
        TlsConfig::Off => return Ok(None),
        TlsConfig::Files {
            certificate,
            private_key,
        } => (certificate.clone(), private_key.clone()),
        TlsConfig::Development { dir } => {
            ensure_development_certificate(dir)?;
            (dir.join(DEV_CERT_FILE), dir.join(DEV_KEY_FILE))
        }
    };
    let chain = CertificateDer::pem_file_iter(&certificate)
        .with_context(|| format!("cannot read {}", certificate.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("bad certificate in {}", certificate.display()))?;
    let key = PrivateKeyDer::from_pem_file(&private_key)
        .with_context(|| format!("cannot read the private key {}", private_key.display()))?;
    let config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
    Ok(Some(config))
}

/// Writes a development CA and a `localhost` / `127.0.0.1` certificate into `dir` unless present.
pub fn ensure_development_certificate(dir: &Path) -> anyhow::Result<()> {
    if dir.join(DEV_CERT_FILE).exists()
        && dir.join(DEV_KEY_FILE).exists()
        && dir.join(DEV_CA_FILE).exists()
    {
        return Ok(());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.distinguished_name.push(
        DnType::CommonName,
        "clubgate development CA (not for production)",
    );
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca_params.self_signed(&ca_key)?;

    let mut leaf_params = CertificateParams::new(vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ])?;
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "clubgate development gateway");
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_key = KeyPair::generate()?;
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_cert = leaf_params.signed_by(&leaf_key, &issuer)?;

    std::fs::write(dir.join(DEV_CA_FILE), ca_cert.pem())?;
    std::fs::write(dir.join(DEV_CERT_FILE), leaf_cert.pem())?;
    write_private(&dir.join(DEV_KEY_FILE), &leaf_key.serialize_pem())?;
    tracing::info!(tls.dir = %dir.display(), "generated a development CA and certificate in {}", dir.display());
    Ok(())
}

fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    Ok(())
}
