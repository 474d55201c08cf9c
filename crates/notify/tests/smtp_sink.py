"""A local SMTP server for the e-mail tests (aiosmtpd).

Usage: smtp_sink.py PORT MODE [CERT KEY]
MODE: "plain" (no auth), "auth" (AUTH required: user alert, password
s3cret), "tempfail" (the first message gets 451, later ones 250),
"starttls" (STARTTLS with CERT/KEY required before anything, then AUTH as
in "auth").
Prints READY once listening, then one JSON line per message received,
with the message parsed by Python's email package. Stops when stdin closes.
"""

import json
import logging
import ssl
import sys
import warnings
from email import message_from_bytes
from email.policy import default as default_policy

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

# aiosmtpd warns about AUTH without TLS, which the "auth" mode does on
# purpose; keep the test output to the messages.
warnings.simplefilter("ignore")
logging.getLogger("mail.log").setLevel(logging.CRITICAL)

port = int(sys.argv[1])
mode = sys.argv[2]
state = {"messages": 0}


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == b"alert"
        and auth_data.password == b"s3cret"
    )
    return AuthResult(success=ok, handled=False, auth_data=mechanism + ":" + auth_data.login.decode() if ok else None)


class Handler:
    async def handle_DATA(self, server, session, envelope):
        state["messages"] += 1
        if mode == "tempfail" and state["messages"] == 1:
            print(json.dumps({"refused": True}), flush=True)
            return "451 4.3.0 try again later"
        message = message_from_bytes(envelope.content, policy=default_policy)
        text = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        print(
            json.dumps(
                {
                    "mail_from": envelope.mail_from,
                    "rcpt_tos": envelope.rcpt_tos,
                    "ehlo": session.host_name,
                    "auth": session.auth_data if mode in ("auth", "starttls") else None,
                    "tls": session.ssl is not None,
                    "subject": message["Subject"],
                    "from": message["From"],
                    "to": message["To"],
                    "x_team": message["X-Team"],
                    "message_id": message["Message-ID"],
                    "date": message["Date"],
                    "content_type": message.get_content_type(),
                    "text": text.get_content() if text else None,
                    "html": html.get_content() if html else None,
                }
            ),
            flush=True,
        )
        return "250 OK"


kwargs = {}
if mode == "auth":
    kwargs = {"authenticator": authenticator, "auth_required": True, "auth_require_tls": False}
elif mode == "starttls":
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(sys.argv[3], sys.argv[4])
    kwargs = {
        "authenticator": authenticator,
        "auth_required": True,
        "tls_context": context,
        "require_starttls": True,
    }
controller = Controller(Handler(), hostname="127.0.0.1", port=port, **kwargs)
controller.start()
print("READY", flush=True)
sys.stdin.read()
controller.stop()
