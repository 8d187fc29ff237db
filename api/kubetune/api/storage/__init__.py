"""The artifact store (fsspec) and the checks on client-supplied paths."""
