"""Reference documents generated from the sources of truth: the CRD models (docs/reference/crds.md)
and the committed OpenAPI document (docs/reference/rest.md)."""
