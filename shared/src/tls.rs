//! The root certificates every HTTPS client trusts (the AWS SDK's and delivery's), gathered once
//! per process.
//!
//! Mozilla's roots are compiled in (`webpki-root-certs`): reading and parsing the system trust
//! store (`/etc/ssl/certs`, a bundle and some 150 files) was most of a cold start, and each HTTP
//! library did it again. A PEM bundle named by `SSL_CERT_FILE` (a corporate CA, a TLS-inspecting
//! proxy) is trusted as well; `SSL_CERT_DIR` and the system store are not read.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use std::path::Path;
use std::sync::LazyLock;

/// `SSL_CERT_FILE` could not be used: the file, and what is wrong with it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("SSL_CERT_FILE {path}: {why}")]
pub struct RootsError {
    path: String,
    why: String,
}

static ROOTS: LazyLock<Result<Vec<CertificateDer<'static>>, RootsError>> =
    LazyLock::new(|| with_extra(std::env::var_os("SSL_CERT_FILE").as_deref().map(Path::new)));

/// Mozilla's roots and those of `SSL_CERT_FILE`, read at the first call.
pub fn roots() -> Result<&'static [CertificateDer<'static>], RootsError> {
    ROOTS.as_deref().map_err(Clone::clone)
}

/// Mozilla's roots alone, for when `SSL_CERT_FILE` is unusable and an error cannot be returned.
pub fn compiled_in() -> &'static [CertificateDer<'static>] {
    webpki_root_certs::TLS_SERVER_ROOT_CERTS
}

fn with_extra(extra: Option<&Path>) -> Result<Vec<CertificateDer<'static>>, RootsError> {
    let mut certs = compiled_in().to_vec();
    let Some(path) = extra else { return Ok(certs) };
    let fail = |why: String| RootsError { path: path.display().to_string(), why };
    let pem = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    let before = certs.len();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| fail(format!("not a PEM bundle ({e})")))?;
        // The SDK panics on a root it cannot parse (at its first request); refuse it here instead.
        rustls::RootCertStore::empty()
            .add(cert.clone())
            .map_err(|e| fail(format!("certificate {} is unusable as a root: {e}", certs.len() - before + 1)))?;
        certs.push(cert);
    }
    if certs.len() == before {
        return Err(fail("no certificate in it".into()));
    }
    Ok(certs)
}

/// The certificates as one PEM bundle: the only form the AWS SDK's trust store takes.
pub fn pem_bundle(certs: &[CertificateDer<'_>]) -> Vec<u8> {
    use base64::Engine;
    let mut out = String::new();
    for cert in certs {
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        out.push_str(&base64::engine::general_purpose::STANDARD.encode(cert.as_ref()));
        out.push_str("\n-----END CERTIFICATE-----\n");
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str, text: &[u8]) -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!("sagealarm-tls-{}-{name}", std::process::id()));
        std::fs::write(&p, text).expect("temp file");
        p
    }

    #[test]
    fn the_pem_bundle_reads_back_as_the_same_certificates() {
        let bundle = pem_bundle(compiled_in());
        let back: Vec<_> = CertificateDer::pem_slice_iter(&bundle).collect::<Result<_, _>>().expect("PEM");
        assert!(compiled_in().len() > 100, "Mozilla's set has well over 100 roots");
        assert_eq!(back, compiled_in());
        // Every one is usable as a root, as the SDK requires.
        let (valid, invalid) = rustls::RootCertStore::empty().add_parsable_certificates(back);
        assert_eq!((valid, invalid), (compiled_in().len(), 0));
    }

    #[test]
    fn ssl_cert_file_adds_its_roots_to_mozillas() {
        let one = &compiled_in()[..1];
        let path = temp("one.pem", &pem_bundle(one));
        let certs = with_extra(Some(&path)).expect("a valid bundle");
        assert_eq!(certs.len(), compiled_in().len() + 1);
        assert_eq!(certs.last(), one.first());
        assert_eq!(with_extra(None).expect("no file").len(), compiled_in().len());
    }

    #[test]
    fn an_unusable_ssl_cert_file_is_an_error_naming_it() {
        let missing = with_extra(Some(Path::new("/nonexistent/corp-ca.pem"))).expect_err("missing");
        assert!(missing.to_string().starts_with("SSL_CERT_FILE /nonexistent/corp-ca.pem: "), "{missing}");
        let empty = with_extra(Some(&temp("empty.pem", b"no certificates here\n"))).expect_err("empty");
        assert!(empty.to_string().ends_with("no certificate in it"), "{empty}");
        let junk = temp("junk.pem", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
        let junk = with_extra(Some(&junk)).expect_err("junk");
        assert!(junk.to_string().contains("certificate 1 is unusable as a root"), "{junk}");
    }
}
