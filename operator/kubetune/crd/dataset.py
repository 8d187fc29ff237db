"""Dataset: metadata about a data file in the artifact store (namespaced)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from kubetune.crd.base import CamelModel, Condition, Uri, operator_bookkeeping
from kubetune.crd.bounds import MAX_CONDITIONS
from kubetune.crd.vocab import DatasetFormat, DatasetPhase


class SplitSpec(CamelModel):
    """How the rows are divided into named splits."""

    name: str = Field(
        pattern=r"^(train_test|train_val|train_test_val|train_test_val_80|all)$",
        description="Split definition (seed 001's names).",
    )
    seed: int = Field(default=42, ge=0, description="Shuffle seed.")


class DatasetSpec(CamelModel):
    """The data file and what it claims to be."""

    uri: Uri = Field(description="Location of the data file.")
    format: DatasetFormat = Field(description="Declared format; validated against the content.")
    description: str = Field(default="", max_length=4096, description="What the data is.")
    display_name: str | None = Field(default=None, max_length=256, description="Human-readable name.")
    splits: list[SplitSpec] = Field(default_factory=list, max_length=8, description="Split definitions.")


class SplitCount(CamelModel):
    """Rows in one split."""

    name: str = Field(max_length=64, description="Split name, e.g. train.")
    rows: int = Field(ge=0, description="Row count.")


class ValidationError(CamelModel):
    """One problem found in the data."""

    line: int | None = Field(default=None, ge=1, description="1-based line number.")
    message: str = Field(max_length=1024, description="What is wrong.")


class DatasetStatus(CamelModel):
    """Written by the operator after validating the data."""

    phase: DatasetPhase | None = Field(default=None, description="Lifecycle phase.")
    conditions: list[Condition] = Field(default_factory=list, max_length=MAX_CONDITIONS,
                                        description="Standard conditions.")
    message: str | None = Field(default=None, max_length=4096, description="Summary.")
    row_count: int | None = Field(default=None, ge=0, description="Rows in the file.")
    size_bytes: int | None = Field(default=None, ge=0, description="File size.")
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$", description="Content hash.")
    detected_format: DatasetFormat | None = Field(default=None, description="Format found in the content.")
    splits: list[SplitCount] = Field(default_factory=list, max_length=64, description="Rows per split.")
    errors: list[ValidationError] = Field(default_factory=list, max_length=20, description="First errors.")
    validated_at: datetime | None = Field(default=None, description="When validation last ran.")
    observed_generation: int | None = Field(default=None, description="Generation last validated.")
    kopf: dict[str, Any] | None = operator_bookkeeping()
