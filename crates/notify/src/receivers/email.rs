//! `email_configs`: a MIME message (multipart/alternative with a text and
//! an HTML part) built with `lettre`, for an SMTP smarthost. Sending (in
//! `deliver::smtp`) uses STARTTLS when `require_tls` (the default) and TLS
//! from the first byte on port 465, and authenticates with PLAIN or LOGIN
//! when `auth_username` is set. Resolved notifications are off by default.
//! <https://prometheus.io/docs/alerting/latest/configuration/#email_config>

use std::collections::BTreeMap;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::Message;

use super::render::{
    configured, default_html, default_text, default_title, render_or_default, Renderer,
};
use super::{alerts_to_send, Built, DeliveryRequest, EmailRequest, TemplateData};
use crate::config::{inline_or_file, template, EmailConfig};
use crate::notification::Notification;

/// Splits `host:port`, refusing anything else.
pub fn split_smarthost(smarthost: &str) -> Result<(&str, u16), String> {
    let (host, port) = smarthost
        .rsplit_once(':')
        .ok_or_else(|| format!("smarthost {smarthost:?} must be host:port"))?;
    let port = port
        .parse()
        .map_err(|_| format!("smarthost {smarthost:?}: port {port:?} is not a number"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(format!("smarthost {smarthost:?} has no host"));
    }
    Ok((host, port))
}

fn header_lookup<'a>(headers: &'a BTreeMap<String, String>, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

impl EmailConfig {
    pub(crate) fn build(
        &self,
        notification: &Notification,
        renderer: &dyn Renderer,
    ) -> Result<Option<Built>, String> {
        let smarthost = self
            .smarthost
            .as_ref()
            .ok_or("smarthost is missing (and no global.smtp_smarthost)")?
            .to_string();
        let smarthost = smarthost.as_str();
        split_smarthost(smarthost)?;
        let Some(alerts) = alerts_to_send(notification, self.send_resolved) else {
            return Ok(None);
        };
        let data = TemplateData::new(notification, &alerts);
        let render = |template: &str| {
            renderer.render(template, &data).unwrap_or_else(|error| {
                tracing::warn!(%error, "email: using the header as written");
                template.to_owned()
            })
        };
        let from_text = match header_lookup(&self.headers, "From") {
            Some(from) => render(from),
            None if self.from.is_empty() => {
                return Err("from is missing (and no global.smtp_from)".into())
            }
            None => self.from.clone(),
        };
        let to_text = header_lookup(&self.headers, "To").map_or_else(|| render(&self.to), render);
        let subject = match header_lookup(&self.headers, "Subject") {
            Some(subject) => render_or_default(
                renderer,
                configured(renderer, subject, &template("email.default.subject")),
                &data,
                default_title,
            ),
            None => default_title(&data),
        };
        let from: Mailbox = from_text
            .parse()
            .map_err(|e| format!("from {from_text:?} is not an address: {e}"))?;
        let hello = if self.hello.is_empty() {
            "localhost".to_owned()
        } else {
            self.hello.clone()
        };
        let message_id = format!(
            "<{}.{:016x}@{hello}>",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis()),
            fastrand::u64(..)
        );
        let mut builder = Message::builder()
            .from(from.clone())
            .subject(subject)
            .message_id(Some(message_id));
        let mut recipients = Vec::new();
        for address in to_text.split(',').map(str::trim).filter(|a| !a.is_empty()) {
            let mailbox: Mailbox = address
                .parse()
                .map_err(|e| format!("to {address:?} is not an address: {e}"))?;
            recipients.push(mailbox.email.to_string());
            builder = builder.to(mailbox);
        }
        if recipients.is_empty() {
            return Err("to names no recipient".into());
        }
        let text = render_or_default(
            renderer,
            configured(renderer, &self.text, ""),
            &data,
            default_text,
        );
        let html = render_or_default(
            renderer,
            configured(renderer, &self.html, &template("email.default.html")),
            &data,
            default_html,
        );
        let password = inline_or_file(
            Some(&self.auth_password),
            Some(&self.auth_password_file),
            "auth_password",
        )?;
        let mut message = builder
            .multipart(
                MultiPart::alternative()
                    .singlepart(SinglePart::plain(text))
                    .singlepart(SinglePart::html(html)),
            )
            .map_err(|e| format!("cannot build the message: {e}"))?;
        for (name, value) in &self.headers {
            if ["from", "to", "subject"].contains(&name.to_ascii_lowercase().as_str()) {
                continue;
            }
            let header = HeaderName::new_from_ascii(name.clone())
                .map_err(|_| format!("header name {name:?} is not valid"))?;
            message
                .headers_mut()
                .insert_raw(HeaderValue::new(header, render(value)));
        }
        let formatted = String::from_utf8(message.formatted())
            .map_err(|_| "the built message is not UTF-8".to_owned())?;
        let request = DeliveryRequest::Email(EmailRequest {
            smarthost: smarthost.to_owned(),
            hello,
            require_tls: self.require_tls.unwrap_or(true),
            insecure_skip_verify: self.tls_config.insecure_skip_verify,
            auth_username: Some(self.auth_username.clone()).filter(|u| !u.is_empty()),
            auth_password: password.map(|p| p.expose().to_owned()),
            auth_identity: Some(self.auth_identity.clone()).filter(|i| !i.is_empty()),
            from: from.email.to_string(),
            to: recipients,
            message: formatted,
        });
        Ok(Some(Built::new(
            &data,
            format!("smtp://{smarthost}"),
            request,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smarthost_forms() {
        assert_eq!(
            split_smarthost("mail.example.com:587").unwrap(),
            ("mail.example.com", 587)
        );
        assert_eq!(split_smarthost("[::1]:25").unwrap(), ("::1", 25));
        assert!(split_smarthost("mail.example.com").is_err());
        assert!(split_smarthost(":25").is_err());
        assert!(split_smarthost("h:x").is_err());
    }
}
