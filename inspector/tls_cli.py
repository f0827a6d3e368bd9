"""The command line of `inspector.tls`: `inspector ca`, and the TLS options of `inspector tap`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import click

from inspector.cli_common import fail

if TYPE_CHECKING:
    import ssl

__all__ = ["ca_command", "tap_tls"]


def tap_tls(tls: bool, cert: Path | None, key: Path | None, host: str, port: int) -> ssl.SSLContext | None:
    """The tap's TLS context (None for plain ws://), and start-up lines on how to trust it."""
    # Imported here: every other command starts without loading cryptography.
    from inspector.tls import TLSError, local_server_context, server_context

    if (cert is None) != (key is None):
        raise click.UsageError("--tls-cert and --tls-key go together")
    if not tls and cert is None:
        return None
    log = logging.getLogger("inspector.tap")
    try:
        if cert is not None and key is not None:
            context = server_context(cert, key)
            log.info("TLS with %s: clients must trust its issuer", cert)
            return context
        context, ca = local_server_context()
    except TLSError as exc:
        fail(str(exc))
    address = f"[{host}]" if ":" in host else host
    where = f"{address}:{port}" if port else f"{address}:PORT"  # --listen HOST:0 picks it later
    log.info(
        "TLS with a certificate for localhost, 127.0.0.1 and ::1 from the inspector's CA %s; trust it:\n"
        "  Node:    NODE_EXTRA_CA_CERTS=%s node app.js   (new OpenAI({baseURL: 'https://%s/v1'}))\n"
        "  Python:  SSL_CERT_FILE=%s python app.py\n"
        "  browser: add %s to its trusted authorities (see `inspector ca --help`)",
        ca,
        ca,
        where,
        ca,
        ca,
    )
    return context


@click.command("ca")
def ca_command() -> None:
    """Print the path of the inspector's local CA certificate (made now if there is none).

    `inspector tap --tls` serves a certificate for localhost, 127.0.0.1 and ::1 signed by this CA,
    so clients that trust the CA's certificate accept the tap's wss:// URL. The CA lives in
    $INSPECTOR_DATA_DIR, else $XDG_DATA_HOME/realtime-inspector, else
    ~/.local/share/realtime-inspector (directory 0700, key 0600). It is this user's alone, the
    inspector signs nothing with it but the tap's certificate, and it is valid for loopback names
    only (a name constraint); still, trust it per program rather than system-wide:

    \b
        Node:     NODE_EXTRA_CA_CERTS="$(inspector ca)" node app.js
        Python:   SSL_CERT_FILE="$(inspector ca)" python app.py
                  (replaces the default bundle for that process), or
                  ssl.create_default_context(cafile=PATH) passed to the client
        curl:     curl --cacert "$(inspector ca)" ...
        Chrome:   Settings → Privacy and security → Security → Manage certificates →
                  Authorities → Import the file, trusted for identifying websites
        Firefox:  Settings → Privacy & Security → Certificates → View Certificates →
                  Authorities → Import, trusted to identify websites

    Remove the directory to start over with a new CA (and trust the new one).
    """
    from inspector.tls import TLSError, ensure_ca

    try:
        click.echo(str(ensure_ca()))
    except TLSError as exc:
        fail(str(exc))
