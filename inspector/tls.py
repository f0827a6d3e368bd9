"""TLS for the tap (`inspector tap --tls`): a local certificate authority and the server context.

Node's `openai` SDK turns any `baseURL` into a `wss://` URL, and a browser on an https page opens
only `wss://`: such clients reach the tap only over TLS. A certificate for `localhost`,
`127.0.0.1` and `::1` is signed by a CA of the inspector's own, made on first use in the data
directory (`data_dir()`), so the user trusts one file once (`NODE_EXTRA_CA_CERTS`,
`SSL_CERT_FILE`, a browser's authorities) and every later certificate with it.

    ca.pem              the CA certificate: what clients trust (`inspector ca` prints its path)
    ca-key.pem          its private key (0600; the directory is 0700)
    localhost.pem       the tap's certificate, signed by the CA, remade when missing, not signed
    localhost-key.pem   by this CA, or within `RENEW_BEFORE` of expiring

Or the user brings a pair (`--tls-cert`, `--tls-key`) and `server_context` loads it.
"""

from __future__ import annotations

import datetime
import fcntl
import ipaddress
import os
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "DATA_DIR_ENV",
    "LEAF_NAMES",
    "TLSError",
    "data_dir",
    "ensure_ca",
    "local_server_context",
    "server_context",
]

# Overrides the data directory (tests point it at a temporary one).
DATA_DIR_ENV = "INSPECTOR_DATA_DIR"
LEAF_NAMES = ("localhost", "127.0.0.1", "::1")
CA_DAYS = 3650
# Under the 398 days browsers accept for a server certificate.
LEAF_DAYS = 365
RENEW_BEFORE = datetime.timedelta(days=30)


class TLSError(Exception):
    """A certificate or key that cannot be used; the message is one line for the user."""


@dataclass(frozen=True)
class _Pair:
    cert: Path
    key: Path


def data_dir() -> Path:
    """`$INSPECTOR_DATA_DIR`, else `$XDG_DATA_HOME/realtime-inspector`, else
    `~/.local/share/realtime-inspector`."""
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV])
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return Path(base) / "realtime-inspector"


def ensure_ca(directory: Path | None = None) -> Path:
    """The CA certificate's path, the CA made first if there is none."""
    with _locked(directory or data_dir()) as where:
        return _ca(where).cert


def local_server_context(directory: Path | None = None) -> tuple[ssl.SSLContext, Path]:
    """A server context with the local CA's certificate for `LEAF_NAMES`, and the CA
    certificate's path (what clients must trust)."""
    with _locked(directory or data_dir()) as where:
        ca = _ca(where)
        try:
            leaf = _leaf(where, ca)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:  # a damaged ca.pem or ca-key.pem
            raise TLSError(
                f"the local CA in {where} cannot be read ({exc}); remove that directory to make a new one "
                "(clients must then trust the new ca.pem)"
            ) from exc
    return server_context(leaf.cert, leaf.key), ca.cert


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A TLS server context for a PEM certificate (chain) and its unencrypted private key."""
    for what, path in (("--tls-cert", cert), ("--tls-key", key)):
        if not path.is_file():
            raise TLSError(f"{what} {path}: no such file")
        if not os.access(path, os.R_OK):
            raise TLSError(f"{what} {path}: not readable")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # WebSocket handshakes are HTTP/1.1: a browser must not be offered h2.
    context.set_alpn_protocols(["http/1.1"])
    try:
        context.load_cert_chain(cert, key, password=_no_password(key))
    except ssl.SSLError as exc:
        raise TLSError(_load_error(cert, key, exc)) from None
    return context


def _no_password(key: Path) -> Callable[[], bytes]:
    def refuse() -> bytes:
        # Without a callback OpenSSL would prompt on the terminal and the tap would hang there.
        raise TLSError(f"--tls-key {key} is encrypted: give an unencrypted key (e.g. `openssl pkey -in KEY -out NEW`)")

    return refuse


def _load_error(cert: Path, key: Path, exc: ssl.SSLError) -> str:
    """Which of the two files is wrong, in words (OpenSSL says "PEM lib" for most things)."""
    if "MISMATCH" in (exc.reason or "").upper():
        return f"--tls-key {key} is not the private key of --tls-cert {cert}"
    try:
        x509.load_pem_x509_certificates(cert.read_bytes())
    except ValueError:
        return f"--tls-cert {cert} is not a PEM certificate (-----BEGIN CERTIFICATE-----)"
    try:
        serialization.load_pem_private_key(key.read_bytes(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return f"--tls-key {key} is not an unencrypted PEM private key (-----BEGIN PRIVATE KEY-----)"
    return f"cannot use --tls-cert {cert} with --tls-key {key}: {exc.reason or exc}"


# -- the local CA --------------------------------------------------------------------------------


@contextmanager
def _locked(directory: Path) -> Iterator[Path]:
    """The data directory (made 0700), locked against another inspector making the same files."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(directory, 0o700)  # it holds a CA key: nobody else lists or reads it
        lock = os.open(directory / ".tls.lock", os.O_CREAT | os.O_RDWR, 0o600)
    except OSError as exc:
        raise TLSError(f"cannot use {directory} for the inspector's CA: {exc.strerror or exc}") from None
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield directory
    except OSError as exc:  # a full disk, a read-only file
        raise TLSError(f"cannot write the inspector's CA in {directory}: {exc.strerror or exc}") from None
    finally:
        os.close(lock)


def _ca(directory: Path) -> _Pair:
    pair = _Pair(directory / "ca.pem", directory / "ca-key.pem")
    if pair.cert.exists() and pair.key.exists():
        return pair
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "Realtime Inspector local CA"),
            # Told apart from another user's or machine's CA of the same name in a trust store.
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"{os.getuid()}@{os.uname().nodename}"),
        ]
    )
    cert = (
        _builder(name, name, key.public_key(), CA_DAYS)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        # Valid for loopback names only, in clients that check (OpenSSL, so Node and Python;
        # browsers): a stolen CA key cannot pass for any other site. Not critical, as many CAs do,
        # so that a client that does not know the extension still accepts the CA.
        .add_extension(
            x509.NameConstraints(
                permitted_subtrees=[
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_network("127.0.0.0/8")),
                    x509.IPAddress(ipaddress.ip_network("::1/128")),
                ],
                excluded_subtrees=None,
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write(pair, cert, key)
    return pair


def _leaf(directory: Path, ca: _Pair) -> _Pair:
    pair = _Pair(directory / "localhost.pem", directory / "localhost-key.pem")
    ca_cert = x509.load_pem_x509_certificate(ca.cert.read_bytes())
    if _still_good(pair, ca_cert):
        return pair
    ca_key = serialization.load_pem_private_key(ca.key.read_bytes(), password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):  # `_ca` makes only these
        raise ValueError("ca-key.pem is not the CA's elliptic-curve key")
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in LEAF_NAMES[1:]]
    cert = (
        _builder(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]),
            ca_cert.subject,
            key.public_key(),
            LEAF_DAYS,
        )
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write(pair, cert, key)
    return pair


def _still_good(leaf: _Pair, ca_cert: x509.Certificate) -> bool:
    """The leaf exists, this CA signed it, and it is not about to expire."""
    if not (leaf.cert.exists() and leaf.key.exists()):
        return False
    try:
        cert = x509.load_pem_x509_certificate(leaf.cert.read_bytes())
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    now = datetime.datetime.now(datetime.UTC)
    return cert.not_valid_after_utc - RENEW_BEFORE > now


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey, days: int
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        # A little in the past: a client whose clock is slightly behind still accepts it.
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=days))
    )


def _write(pair: _Pair, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
    """The key (0600) then the certificate, each whole or not at all."""
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write_file(pair.key, pem_key, 0o600)
    _write_file(pair.cert, cert.public_bytes(serialization.Encoding.PEM), 0o644)


def _write_file(path: Path, data: bytes, mode: int) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    # Created with its mode, never readable by others for a moment (as the umask might allow).
    fd = os.open(partial, os.O_CREAT | os.O_EXCL | os.O_WRONLY, mode)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
