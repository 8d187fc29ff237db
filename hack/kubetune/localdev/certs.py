"""Certificates and keys for the local control plane.

One CA signs the API server's serving certificate, the client certificates
of the controller-manager and scheduler (which authenticate as the built-in
system users that RBAC's bootstrap policy already binds) and of the API server
towards kubelets, and the local node's kubelet serving certificate. A separate RSA key
pair signs service-account tokens.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

_VALIDITY = dt.timedelta(days=365)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


@dataclass(frozen=True)
class CertPaths:
    """Where each generated file lives."""

    ca_cert: Path
    ca_key: Path
    serving_cert: Path
    serving_key: Path
    sa_key: Path
    sa_pub: Path

    def client(self, name: str) -> tuple[Path, Path]:
        """Cert and key paths of a client identity created by `issue_client`."""
        return self.ca_cert.parent / f"{name}.crt", self.ca_cert.parent / f"{name}.key"


class LocalPKI:
    """A throwaway PKI in one directory."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.paths = CertPaths(
            ca_cert=directory / "ca.crt",
            ca_key=directory / "ca.key",
            serving_cert=directory / "apiserver.crt",
            serving_key=directory / "apiserver.key",
            sa_key=directory / "sa.key",
            sa_pub=directory / "sa.pub",
        )
        self._ca_key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubetune-local-ca")])
        self._ca_cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                    key_encipherment=False, data_encipherment=False, key_agreement=False,
                    encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .sign(self._ca_key, hashes.SHA256())
        )
        _write_key(self.paths.ca_key, self._ca_key)
        _write_cert(self.paths.ca_cert, self._ca_cert)
        self._issue_serving()
        self._issue_service_account_keys()

    def _sign(self, subject: x509.Name, key: ec.EllipticCurvePrivateKey,
              usage: ObjectIdentifier | list[ObjectIdentifier],
              sans: list[x509.GeneralName] | None = None) -> x509.Certificate:
        now = dt.datetime.now(dt.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self._ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage(usage if isinstance(usage, list) else [usage]), critical=False)
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return builder.sign(self._ca_key, hashes.SHA256())

    def _issue_serving(self) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        sans: list[x509.GeneralName] = [
            x509.DNSName("localhost"),
            x509.DNSName("kubernetes"),
            x509.DNSName("kubernetes.default"),
            x509.DNSName("kubernetes.default.svc"),
            x509.DNSName("kubernetes.default.svc.cluster.local"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("10.0.0.1")),
        ]
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")])
        cert = self._sign(subject, key, ExtendedKeyUsageOID.SERVER_AUTH, sans)
        _write_key(self.paths.serving_key, key)
        _write_cert(self.paths.serving_cert, cert)

    def _issue_service_account_keys(self) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        _write_key(self.paths.sa_key, key)
        self.paths.sa_pub.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    def issue_serving(self, name: str, hosts: tuple[str, ...], client: bool = False) -> tuple[Path, Path]:
        """A serving certificate for `hosts` (IP addresses or DNS names), e.g. a node's kubelet API.

        ``client``: good as a client certificate too, for both ends of a mutual TLS link (KEDA's operator
        and adapter share one)."""
        key = ec.generate_private_key(ec.SECP256R1())
        sans: list[x509.GeneralName] = []
        for host in hosts:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                sans.append(x509.DNSName(host))
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        usages = [ExtendedKeyUsageOID.SERVER_AUTH, *([ExtendedKeyUsageOID.CLIENT_AUTH] if client else [])]
        cert = self._sign(subject, key, usages, sans)
        cert_path, key_path = self.paths.client(name)
        _write_key(key_path, key)
        _write_cert(cert_path, cert)
        return cert_path, key_path

    def issue_client(self, name: str, user: str, groups: tuple[str, ...] = ()) -> tuple[Path, Path]:
        """A client certificate: CN is the user name, O entries are the groups."""
        key = ec.generate_private_key(ec.SECP256R1())
        attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, g) for g in groups]
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, user))
        cert = self._sign(x509.Name(attrs), key, ExtendedKeyUsageOID.CLIENT_AUTH)
        cert_path, key_path = self.paths.client(name)
        _write_key(key_path, key)
        _write_cert(cert_path, cert)
        return cert_path, key_path
