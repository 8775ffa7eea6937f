"""Sending one e-mail over SMTP (the standard library's smtplib, in a worker thread).

``security``: ``starttls`` (port 587, the default: the connection is upgraded
before anything else is said, and refused if the server cannot), ``tls``
(implicit TLS, port 465) or ``none`` (a relay on the same host or a test
sink). The server's certificate is verified against the system's CAs or
``ca_file``. A refusal the server calls permanent (5xx for the recipient, the
sender or the message) is not retried; anything else is (server down,
timeout, 4xx, failed login: a configuration fixed later delivers what waited).
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Final

from bocage.alerting.messages import Message
from bocage.settings import Settings
from bocage.subscriptions.senders import Failure

SECURITY: Final = ("starttls", "tls", "none")


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str = ""
    port: int = 587
    security: str = "starttls"
    username: str = ""
    password: str = ""
    sender: str = "bocage@localhost"
    ca_file: str = ""

    def check(self) -> None:
        if self.security not in SECURITY:
            raise ValueError(f"smtp_security must be one of {', '.join(SECURITY)}, "
                             f"got {self.security!r}")
        if not 0 < self.port < 65536:
            raise ValueError(f"smtp_port must be a TCP port, got {self.port}")
        if "@" not in self.sender:
            raise ValueError(f"smtp_sender must be an e-mail address, got {self.sender!r}")

    def tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file or None)


def smtp_config(settings: Settings) -> SmtpConfig:
    config = SmtpConfig(settings.smtp_host, settings.smtp_port, settings.smtp_security,
                        settings.smtp_username, settings.smtp_password, settings.smtp_sender,
                        settings.smtp_ca_file)
    config.check()
    return config


def build(config: SmtpConfig, to: str, message: Message) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = config.sender
    mail["To"] = to
    mail["Subject"] = message.subject
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = make_msgid(domain=config.sender.rpartition("@")[2] or None)
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no automatic replies
    mail.set_content(message.text, charset="utf-8")
    return mail


def send_mail(config: SmtpConfig, to: str, message: Message, timeout: float) -> Failure | None:
    """Blocking: call it from a worker thread."""
    if not config.host:
        return Failure("e-mail is not configured (smtp_host is empty)")
    mail = build(config, to, message)
    try:
        if config.security == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(config.host, config.port, timeout=timeout,
                                                  context=config.tls_context())
        else:
            smtp = smtplib.SMTP(config.host, config.port, timeout=timeout)
        with smtp:
            if config.security == "starttls":
                smtp.starttls(context=config.tls_context())
            if config.username:
                smtp.login(config.username, config.password)
            smtp.send_message(mail)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        return Failure(f"SMTP: recipient refused {codes}",
                       permanent=bool(codes) and all(c >= 500 for c in codes))
    except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
        return Failure(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}",
                       permanent=exc.smtp_code >= 500)
    except smtplib.SMTPNotSupportedError as exc:
        return Failure(f"SMTP: {exc}")  # e.g. no STARTTLS offered: never send in clear
    except (smtplib.SMTPException, OSError) as exc:
        return Failure(f"SMTP: {type(exc).__name__}: {exc}".strip(": "))
    return None
