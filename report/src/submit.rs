//! Handing one report message to the configured [`MailTransport`], with
//! lettre's blocking SMTP client (rustls, `ring`) or its sendmail
//! transport, and telling why it failed in terms an operator can act on.
//!
//! The SMTP host name is resolved by the project's own DNS client (the
//! configured `STS_DNS_SERVER`, never the system resolver); lettre is only
//! given the address to connect to, and checks the certificate against
//! the host name of the setting.

use std::fmt;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::SmtpTransport;
use lettre::{Address, SendmailTransport, Transport};

use crate::transport::{MailTransport, Password, Security};
use crate::ReportOptions;

/// Why a report message was not accepted.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubmitError {
    /// An address cannot be used in the SMTP envelope.
    BadAddress,
    /// The SMTP host name has no address (or the DNS lookup failed).
    Resolve,
    /// No TCP connection (refused, unreachable).
    Connect,
    /// The server did not answer in time.
    Timeout,
    /// `smtp+starttls` and the server does not offer STARTTLS: nothing
    /// was sent after EHLO.
    StartTlsMissing,
    /// The server's certificate does not chain to a trusted root.
    CertificateNotTrusted,
    /// The server's certificate is not valid for the host name.
    CertificateNameMismatch,
    /// The server's certificate has expired or is not valid yet.
    CertificateExpired,
    /// Another TLS failure (handshake, protocol).
    Tls,
    /// A user is set but there is no password.
    NoPassword,
    /// The server offers neither AUTH PLAIN nor AUTH LOGIN.
    NoAuthMechanism,
    /// The server refused the user name or password.
    AuthRefused,
    /// The server refused the message for now (4xx): retried later.
    TemporaryRejection,
    /// The server refused the message (5xx).
    Rejected,
    /// The sendmail program could not be run or exited with an error.
    Sendmail,
    /// The CA file cannot be read.
    CaFile,
    /// Another SMTP failure.
    Smtp,
}

impl SubmitError {
    /// A short description.
    pub fn as_str(self) -> &'static str {
        match self {
            SubmitError::BadAddress => "address unusable in the SMTP envelope",
            SubmitError::Resolve => "SMTP host not resolved",
            SubmitError::Connect => "cannot connect to the SMTP server",
            SubmitError::Timeout => "timeout",
            SubmitError::StartTlsMissing => {
                "STARTTLS missing: the server does not offer it, nothing sent"
            }
            SubmitError::CertificateNotTrusted => "certificate not trusted",
            SubmitError::CertificateNameMismatch => "certificate not valid for the host name",
            SubmitError::CertificateExpired => "certificate expired or not yet valid",
            SubmitError::Tls => "TLS failure",
            SubmitError::NoPassword => "no SMTP password (STS_SMTP_PASSWORD or the password file)",
            SubmitError::NoAuthMechanism => "the server offers no AUTH PLAIN or LOGIN",
            SubmitError::AuthRefused => "authentication refused",
            SubmitError::TemporaryRejection => "temporarily refused by the server",
            SubmitError::Rejected => "refused by the server",
            SubmitError::Sendmail => "sendmail failed",
            SubmitError::CaFile => "the CA file cannot be read",
            SubmitError::Smtp => "SMTP failure",
        }
    }
}

impl fmt::Display for SubmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for SubmitError {}

/// A failed submission: the reason and the detail (server reply or
/// library error text; never the password).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubmitFailure {
    /// The reason.
    pub error: SubmitError,
    /// Details for the log.
    pub detail: String,
}

impl fmt::Display for SubmitFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.detail.is_empty() {
            f.write_str(self.error.as_str())
        } else {
            write!(f, "{}: {}", self.error, self.detail)
        }
    }
}

fn fail(error: SubmitError, detail: impl Into<String>) -> SubmitFailure {
    SubmitFailure {
        error,
        detail: detail.into(),
    }
}

/// Sends `message` (a whole RFC 5322 message, CRLF line ends) from `from`
/// to `to` the way the options say.
pub fn submit(
    opts: &ReportOptions,
    password: Option<&Password>,
    from: &str,
    to: &str,
    message: &[u8],
) -> Result<(), SubmitFailure> {
    let from_addr: Address = from
        .parse()
        .map_err(|_| fail(SubmitError::BadAddress, format!("sender {from:?}")))?;
    let to_addr: Address = to
        .parse()
        .map_err(|_| fail(SubmitError::BadAddress, format!("recipient {to:?}")))?;
    let envelope = Envelope::new(Some(from_addr), vec![to_addr])
        .map_err(|e| fail(SubmitError::BadAddress, e.to_string()))?;
    match &opts.smtp {
        // No timeout here: lettre waits for the program, and a local
        // sendmail only queues the message and returns.
        MailTransport::Sendmail { path } => SendmailTransport::new_with_command(path)
            .send_raw(&envelope, message)
            .map_err(|e| fail(SubmitError::Sendmail, format!("{}: {e}", path.display()))),
        MailTransport::Smtp {
            security,
            host,
            port,
            user,
        } => {
            let credentials = match user {
                None => None,
                Some(u) => {
                    let p = password.ok_or_else(|| fail(SubmitError::NoPassword, ""))?;
                    Some(Credentials::new(u.clone(), p.expose().to_owned()))
                }
            };
            let tls = match security {
                Security::Plain => Tls::None,
                Security::StartTls => Tls::Required(tls_parameters(opts, host)?),
                Security::Tls => Tls::Wrapper(tls_parameters(opts, host)?),
            };
            let mut last = fail(SubmitError::Resolve, host.clone());
            let ips = crate::address::addresses(&crate::resolver(opts), host)
                .map_err(|(e, why)| fail(SubmitError::Resolve, format!("{host}: {e} {why}")))?;
            for ip in ips {
                let mut builder = SmtpTransport::builder_dangerous(ip.to_string())
                    .port(*port)
                    .tls(tls.clone())
                    .timeout(Some(opts.timeout))
                    .hello_name(ClientId::Domain(
                        opts.helo_name.clone().unwrap_or(opts.submitter.clone()),
                    ));
                if let Some(c) = &credentials {
                    builder = builder
                        .credentials(c.clone())
                        .authentication(vec![Mechanism::Plain, Mechanism::Login]);
                }
                match builder.build().send_raw(&envelope, message) {
                    Ok(_) => return Ok(()),
                    Err(e) => {
                        last = classify(&e);
                        last.detail = format!("{host} ({ip}:{port}): {}", last.detail);
                        // Another address of the host is worth a try only
                        // when this one could not be reached.
                        if !matches!(last.error, SubmitError::Connect | SubmitError::Timeout) {
                            break;
                        }
                    }
                }
            }
            Err(last)
        }
    }
}

/// Certificate checks for `host`: the CA file of the options if set
/// (alone, as for policy hosts), the webpki roots otherwise.
fn tls_parameters(opts: &ReportOptions, host: &str) -> Result<TlsParameters, SubmitFailure> {
    let mut b = TlsParameters::builder(host.to_owned());
    match &opts.ca_file {
        Some(path) => {
            let pem = std::fs::read(path)
                .map_err(|e| fail(SubmitError::CaFile, format!("{}: {e}", path.display())))?;
            let cert = Certificate::from_pem(&pem)
                .map_err(|e| fail(SubmitError::CaFile, format!("{}: {e}", path.display())))?;
            b = b
                .certificate_store(CertificateStore::None)
                .add_root_certificate(cert);
        }
        None => b = b.certificate_store(CertificateStore::WebpkiRoots),
    }
    b.build_rustls()
        .map_err(|e| fail(SubmitError::Tls, e.to_string()))
}

/// Maps a lettre error to a reason. TLS reasons come from the rustls
/// error in the source chain; STARTTLS missing is a lettre client error
/// recognised by its text, as lettre has no kind for it.
fn classify(e: &lettre::transport::smtp::Error) -> SubmitFailure {
    let text = e.to_string();
    if let Some(code) = e.status() {
        let code = code.to_string();
        let error = match code.as_str() {
            // 530 authentication required, 534 mechanism too weak,
            // 535 credentials invalid, 538 encryption required (RFC 4954).
            "530" | "534" | "535" | "538" | "454" => SubmitError::AuthRefused,
            _ if e.is_transient() => SubmitError::TemporaryRejection,
            _ => SubmitError::Rejected,
        };
        return fail(error, text);
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        let tls = s.downcast_ref::<rustls::Error>().or_else(|| {
            s.downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        });
        if let Some(rustls::Error::InvalidCertificate(c)) = tls {
            use rustls::CertificateError as C;
            let error = match c {
                C::NotValidForName | C::NotValidForNameContext { .. } => {
                    SubmitError::CertificateNameMismatch
                }
                C::Expired | C::ExpiredContext { .. } | C::NotValidYet => {
                    SubmitError::CertificateExpired
                }
                _ => SubmitError::CertificateNotTrusted,
            };
            return fail(error, text);
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as K;
            match io.kind() {
                K::TimedOut | K::WouldBlock => return fail(SubmitError::Timeout, text),
                K::ConnectionRefused | K::HostUnreachable | K::NetworkUnreachable
                    if !e.is_tls() =>
                {
                    return fail(SubmitError::Connect, text)
                }
                _ => {}
            }
        }
        source = s.source();
    }
    if e.is_client() && text.contains("STARTTLS") {
        return fail(SubmitError::StartTlsMissing, text);
    }
    if e.is_client() && text.contains("authentication mechanism") {
        return fail(SubmitError::NoAuthMechanism, text);
    }
    if e.is_tls() {
        return fail(SubmitError::Tls, text);
    }
    if e.is_timeout() {
        return fail(SubmitError::Timeout, text);
    }
    fail(SubmitError::Smtp, text)
}
