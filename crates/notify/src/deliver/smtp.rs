//! One e-mail delivery over SMTP with `lettre`: a fresh connection per
//! attempt; TLS from the first byte on port 465, else STARTTLS when
//! `require_tls` (Alertmanager's default) and plain SMTP otherwise; AUTH
//! PLAIN or LOGIN when a user name is set. A permanent SMTP reply (5xx) or
//! a client-side refusal (no STARTTLS offered, no common AUTH mechanism)
//! fails the delivery; transient replies (4xx), timeouts and connection
//! errors are retried.

use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::send::Outcome;
use crate::receivers::email::split_smarthost;
use crate::receivers::EmailRequest;

/// The SMTP port where TLS starts at once (RFC 8314).
const IMPLICIT_TLS_PORT: u16 = 465;

pub(crate) async fn send_email(request: &EmailRequest, timeout: Duration) -> Outcome {
    let failed = |error: String| Outcome::Failed { code: None, error };
    let (host, port) = match split_smarthost(&request.smarthost) {
        Ok(pair) => pair,
        Err(error) => return failed(error),
    };
    let tls = if port == IMPLICIT_TLS_PORT || request.require_tls {
        let parameters = match TlsParameters::builder(host.to_owned())
            .dangerous_accept_invalid_certs(request.insecure_skip_verify)
            .dangerous_accept_invalid_hostnames(request.insecure_skip_verify)
            .build()
        {
            Ok(parameters) => parameters,
            Err(e) => return failed(format!("cannot set up TLS: {e}")),
        };
        if port == IMPLICIT_TLS_PORT {
            Tls::Wrapper(parameters)
        } else {
            Tls::Required(parameters)
        }
    } else {
        Tls::None
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(port)
        .tls(tls)
        .hello_name(ClientId::Domain(request.hello.clone()))
        .timeout(Some(timeout));
    if let Some(username) = &request.auth_username {
        builder = builder
            .credentials(Credentials::new(
                username.clone(),
                request.auth_password.clone().unwrap_or_default(),
            ))
            .authentication(vec![Mechanism::Plain, Mechanism::Login]);
    }
    let transport = builder.build();
    let from: Address = match request.from.parse() {
        Ok(address) => address,
        Err(e) => return failed(format!("from {:?}: {e}", request.from)),
    };
    let mut to = Vec::with_capacity(request.to.len());
    for address in &request.to {
        match address.parse::<Address>() {
            Ok(address) => to.push(address),
            Err(e) => return failed(format!("to {address:?}: {e}")),
        }
    }
    let envelope = match Envelope::new(Some(from), to) {
        Ok(envelope) => envelope,
        Err(e) => return failed(format!("envelope: {e}")),
    };
    match transport
        .send_raw(&envelope, request.message.as_bytes())
        .await
    {
        Ok(response) => Outcome::Sent {
            code: Some(u16::from(response.code())),
        },
        Err(error) => {
            let code = error.status().map(u16::from);
            let text = format!("SMTP {}: {error}", request.smarthost);
            if error.is_permanent() || error.is_client() {
                Outcome::Failed { code, error: text }
            } else {
                Outcome::Retry {
                    code,
                    error: text,
                    retry_after: None,
                }
            }
        }
    }
}
