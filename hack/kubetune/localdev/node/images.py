"""Image pulls on a node that runs host commands instead of images.

Nothing is pulled, so every image "pulls". The one exception makes pull failures reproducible: a
registry under the reserved `.invalid` domain (RFC 6761: it never resolves anywhere) fails exactly
as a kubelet's pull from it would: ErrImagePull, then ImagePullBackOff.
"""

from __future__ import annotations


def registry_host(image: str) -> str | None:
    """The registry part of an image reference, as the container runtimes split it."""
    first, sep, _ = image.partition("/")
    if not sep:
        return None
    if "." in first or ":" in first or first == "localhost":
        return first.split(":", 1)[0]
    return None


def pull_error(image: str) -> str | None:
    """The error a pull of `image` gives, or None when it pulls."""
    host = registry_host(image)
    if host is not None and (host == "invalid" or host.endswith(".invalid")):
        return (f'failed to pull and unpack image "{image}": failed to resolve reference: '
                f"dial tcp: lookup {host}: no such host")
    return None
