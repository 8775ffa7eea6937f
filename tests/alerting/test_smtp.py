"""The SMTP sender against a real SMTP server (aiosmtpd): STARTTLS with a certificate it
verifies and a login, implicit TLS, refusing to send in clear to a server without
STARTTLS, permanent and temporary refusals."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from mqtt_broker import make_certificates
from smtp_sink import body, smtp_sink

from bocage.alerting.messages import Message
from bocage.alerting.smtp import SmtpConfig, send_mail

MESSAGE = Message("[bocage] Nouvelle alarme (majeure) : Panne de lampe – Lampadaire n°7",
                  "Bonjour,\n\nÉquipement : Lampadaire n°7 – Ambérieu-en-Bugey\n")


def login(server: Any, session: Any, envelope: Any, mechanism: str,
          auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (
        auth_data.login, auth_data.password) == (b"bocage", b"s3cret")
    return AuthResult(success=ok)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_certificates(tmp_path_factory.mktemp("smtp-certs"))


def server_tls(certs: dict[str, Path]) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(certs["server.crt"], certs["server.key"])
    return ctx


def test_starttls_with_a_verified_certificate_and_a_login(certs: dict[str, Path]) -> None:
    with smtp_sink(tls_context=server_tls(certs), require_starttls=True,
                   authenticator=login, auth_required=True) as sink:
        config = SmtpConfig("127.0.0.1", sink.port, "starttls", "bocage", "s3cret",
                            "alarmes@bocage.example.fr", str(certs["ca.crt"]))
        assert send_mail(config, "mairie@ambe.example.fr", MESSAGE, 5) is None
        [mail] = sink.wait_for(1)
        assert str(mail["Subject"]) == MESSAGE.subject  # UTF-8 subject, encoded and back
        assert "Équipement : Lampadaire n°7" in body(mail)
        assert mail["Auto-Submitted"] == "auto-generated"
        assert sink.envelopes == [("alarmes@bocage.example.fr", ["mairie@ambe.example.fr"])]
        wrong = SmtpConfig("127.0.0.1", sink.port, "starttls", "bocage", "nope",
                           "alarmes@bocage.example.fr", str(certs["ca.crt"]))
        failure = send_mail(wrong, "mairie@ambe.example.fr", MESSAGE, 5)
        assert failure is not None and not failure.permanent  # fixed later, then delivered
        untrusted = SmtpConfig("127.0.0.1", sink.port, "starttls", "bocage", "s3cret",
                               "alarmes@bocage.example.fr", "")  # system CAs: not ours
        failure = send_mail(untrusted, "mairie@ambe.example.fr", MESSAGE, 5)
        assert failure is not None and "CERTIFICATE" in failure.error.upper()
        assert len(sink.messages) == 1


def test_implicit_tls(certs: dict[str, Path]) -> None:
    with smtp_sink(ssl_context=server_tls(certs)) as sink:
        config = SmtpConfig("127.0.0.1", sink.port, "tls", sender="alarmes@bocage.example.fr",
                            ca_file=str(certs["ca.crt"]))
        assert send_mail(config, "mairie@ambe.example.fr", MESSAGE, 5) is None
        assert len(sink.wait_for(1)) == 1


def test_never_in_clear_to_a_server_without_starttls() -> None:
    with smtp_sink() as sink:
        config = SmtpConfig("127.0.0.1", sink.port, "starttls",
                            sender="alarmes@bocage.example.fr")
        failure = send_mail(config, "mairie@ambe.example.fr", MESSAGE, 5)
        assert failure is not None and "STARTTLS" in failure.error.upper()
        assert sink.messages == []


def test_refusals_permanent_or_not() -> None:
    with smtp_sink() as sink:
        config = SmtpConfig("127.0.0.1", sink.port, "none", sender="alarmes@bocage.example.fr")
        failure = send_mail(config, "nobody@refused.example", MESSAGE, 5)
        assert failure is not None and failure.permanent and "550" in failure.error
    failure = send_mail(config, "mairie@ambe.example.fr", MESSAGE, 2)  # server gone
    assert failure is not None and not failure.permanent
    assert send_mail(SmtpConfig(), "x@example.fr", MESSAGE, 2) is not None  # no smtp_host


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="smtp_security"):
        SmtpConfig(security="ssl").check()
    with pytest.raises(ValueError, match="smtp_sender"):
        SmtpConfig(sender="bocage").check()
