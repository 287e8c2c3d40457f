"""A private certificate authority and a broker certificate for the local secure Kafka.

``wardwatch services up --secure`` needs TLS on loopback without any outside CA: this module
makes a CA (``ca.pem``, the file clients trust) and a broker certificate signed by it for
``127.0.0.1`` / ``localhost`` (``broker.pem``: PKCS#8 key + chain, the PEM keystore Kafka reads,
KIP-651). Keys are EC P-256; files are written 0600. A real deployment uses the hospital's CA
instead and points ``WARDWATCH_KAFKA_SSL_CAFILE`` at it.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from wardwatch.services.private_files import write_private

VALID_DAYS = 825  # the longest server-certificate lifetime browsers and CAs accept


def make_ca_and_broker_cert(folder: Path, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")) -> Path:
    """Write ``ca.pem`` and ``broker.pem`` into ``folder`` (kept if both exist); return the CA path."""
    ca_path, broker_path = folder / "ca.pem", folder / "broker.pem"
    if ca_path.exists() and broker_path.exists():
        return ca_path
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "WardWatch local CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = []
    for h in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            sans.append(x509.DNSName(h))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    write_private(broker_path, key_pem + cert.public_bytes(pem) + ca.public_bytes(pem))
    write_private(ca_path, ca.public_bytes(pem))
    return ca_path
