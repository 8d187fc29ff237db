"""Password hashes (bcrypt) and the facade's own JWTs (HS256, pyjwt)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

import bcrypt
import jwt

ALGORITHM = "HS256"
KEY_ID = "kubetune"  # marks tokens this facade issued; anything else goes to TokenReview
BCRYPT_MAX_BYTES = 72


class InvalidTokenError(Exception):
    """The token is not one of ours, is malformed, expired or badly signed."""


def hash_password(password: str, rounds: int = 12) -> str:
    # bcrypt only looks at 72 bytes; pre-hash longer passwords so none is silently truncated.
    raw = password.encode()
    if len(raw) > BCRYPT_MAX_BYTES:
        raw = hashlib.sha256(raw).hexdigest().encode()
    return bcrypt.hashpw(raw, bcrypt.gensalt(rounds)).decode()


def verify_password(password: str, hashed: str) -> bool:
    raw = password.encode()
    if len(raw) > BCRYPT_MAX_BYTES:
        raw = hashlib.sha256(raw).hexdigest().encode()
    try:
        return bcrypt.checkpw(raw, hashed.encode())
    except ValueError:
        return False


def hash_api_key(key: str) -> str:
    # API keys are long random strings: a fast hash is enough and keeps lookups cheap.
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class TokenClaims:
    subject: str
    issued_at: int
    expires_at: int


def issue_token(subject: str, secret: str, lifetime_seconds: int, now: float | None = None) -> str:
    issued = int(time.time() if now is None else now)
    payload = {"sub": subject, "iat": issued, "exp": issued + lifetime_seconds, "iss": KEY_ID}
    return jwt.encode(payload, secret, algorithm=ALGORITHM, headers={"kid": KEY_ID})


def is_own_token(token: str) -> bool:
    """True when the token claims to be one of ours (so it is never sent to TokenReview)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        return False
    return header.get("kid") == KEY_ID


def verify_token(token: str, secret: str) -> TokenClaims:
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], issuer=KEY_ID, options={"require": ["exp", "iat", "sub"]}
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidTokenError("token expired") from exc
    except jwt.PyJWTError as exc:
        raise InvalidTokenError("invalid token") from exc
    return TokenClaims(subject=str(claims["sub"]), issued_at=int(claims["iat"]), expires_at=int(claims["exp"]))
