"""Where and how a connector reaches its broker, read from the settings. Pure.

Each MQTT connector has the same group of settings under its own prefix
(``chirpstack_mqtt_url``, ``tts_mqtt_url``...); the connector is off while its
URL is empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from bocage.settings import Settings

_DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


@dataclass(frozen=True, slots=True)
class BrokerConfig:
    #: the connector's name (``chirpstack``, ``tts``): logs, metrics, record source
    connector: str
    host: str
    port: int
    tls: bool
    username: str
    password: str
    topics: tuple[str, ...]
    client_id: str
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    #: MQTT 5 (clean start off + session expiry) or 3.1.1 (clean session off)
    mqtt5: bool = True
    session_expiry: int = 7 * 24 * 3600

    @property
    def url(self) -> str:
        """For logs: the broker without credentials."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def parse_broker_url(url: str, setting: str) -> tuple[str, int, bool]:
    """``mqtt://host[:port]`` or ``mqtts://host[:port]`` -> (host, port, tls)."""
    parts = urlsplit(url)
    if parts.scheme not in _DEFAULT_PORTS:
        raise ValueError(f"{setting}: expected mqtt://host[:port] or mqtts://host[:port], "
                         f"got {url!r}")
    if parts.username or parts.password:
        raise ValueError(f"{setting}: put credentials in the _username / _password "
                         "settings, not in the URL")
    if not parts.hostname:
        raise ValueError(f"{setting}: no host in {url!r}")
    try:
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise ValueError(f"{setting}: bad port in {url!r}") from None
    return parts.hostname, port, parts.scheme == "mqtts"


def broker_config(settings: Settings, connector: str, *, mqtt5: bool) -> BrokerConfig | None:
    """The connector's broker, or None when its URL setting is empty (connector off)."""

    def get(name: str) -> str:
        return str(getattr(settings, f"{connector}_mqtt_{name}"))

    url = get("url")
    if not url:
        return None
    host, port, tls = parse_broker_url(url, f"{connector}_mqtt_url")
    topics = tuple(t.strip() for t in get("topics").split(",") if t.strip())
    if not topics:
        raise ValueError(f"{connector}_mqtt_topics: no topic filter to subscribe to")
    client_id = get("client_id")
    if not client_id:
        raise ValueError(f"{connector}_mqtt_client_id must be set: a persistent session "
                         "is found again by its client id")
    return BrokerConfig(
        connector=connector, host=host, port=port, tls=tls,
        username=get("username"), password=get("password"), topics=topics,
        client_id=client_id, ca_file=get("ca_file"), cert_file=get("cert_file"),
        key_file=get("key_file"), mqtt5=mqtt5, session_expiry=settings.mqtt_session_expiry,
    )
