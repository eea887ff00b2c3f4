"""Literal types: the type system of Flyte interfaces (flyteidl.core.types)."""

from __future__ import annotations

import enum
from typing import Any

from flytecore.spec._base import model, oneof

__all__ = [
    "SimpleType",
    "BlobDimensionality",
    "BlobType",
    "EnumType",
    "TypeStructure",
    "UnionType",
    "LiteralType",
    "OutputReference",
    "Error",
]



class SimpleType(enum.IntEnum):
    """The scalar types."""

    NONE = 0
    INTEGER = 1
    FLOAT = 2
    STRING = 3
    BOOLEAN = 4
    DATETIME = 5
    DURATION = 6
    BINARY = 7
    ERROR = 8
    STRUCT = 9


class BlobDimensionality(enum.IntEnum):
    """A blob is one file (SINGLE) or a folder of files (MULTIPART)."""

    SINGLE = 0
    MULTIPART = 1


@model
class BlobType:
    """Type of a file or directory; ``format`` is free text such as ``"csv"`` ("" is any)."""

    format: str = ""
    dimensionality: BlobDimensionality = BlobDimensionality.SINGLE


@model
class EnumType:
    """A string restricted to ``values``."""

    values: tuple[str, ...] = ()


@model
class TypeStructure:
    """Extra identity of a type: ``tag`` distinguishes union variants of the same literal type."""

    tag: str = ""


@model
class UnionType:
    """One of ``variants``; each variant should carry a distinct ``structure.tag``."""

    variants: tuple[LiteralType, ...] = ()


@model
class LiteralType:
    """A type. Exactly one of simple, collection_type, map_value_type, blob, enum_type or
    union_type is set; ``metadata`` (e.g. a JSON schema of a dataclass) and ``structure`` ride
    along."""

    simple: SimpleType | None = None
    collection_type: LiteralType | None = None
    map_value_type: LiteralType | None = None
    blob: BlobType | None = None
    enum_type: EnumType | None = None
    union_type: UnionType | None = None
    metadata: dict[str, Any] | None = None
    structure: TypeStructure | None = None

    def __attrs_post_init__(self) -> None:
        _check_type(self)

    def short(self) -> str:
        """A compact human form, used in error messages: ``list[int]``, ``dict[str, float]``."""
        if self.simple is not None:
            if self.simple == SimpleType.STRUCT and self.metadata and "title" in self.metadata:
                return str(self.metadata["title"])
            return {
                SimpleType.NONE: "None",
                SimpleType.INTEGER: "int",
                SimpleType.FLOAT: "float",
                SimpleType.STRING: "str",
                SimpleType.BOOLEAN: "bool",
                SimpleType.DATETIME: "datetime",
                SimpleType.DURATION: "timedelta",
                SimpleType.BINARY: "bytes",
                SimpleType.ERROR: "error",
                SimpleType.STRUCT: "struct",
            }[self.simple]
        if self.collection_type is not None:
            return f"list[{self.collection_type.short()}]"
        if self.map_value_type is not None:
            return f"dict[str, {self.map_value_type.short()}]"
        if self.blob is not None:
            kind = "FlyteDirectory" if self.blob.dimensionality == BlobDimensionality.MULTIPART else "FlyteFile"
            return f"{kind}[{self.blob.format}]" if self.blob.format else kind
        if self.enum_type is not None:
            return "enum{" + ", ".join(self.enum_type.values) + "}"
        if self.union_type is not None:
            return " | ".join(v.short() for v in self.union_type.variants)
        return "?"


_check_type = oneof(
    "simple", "collection_type", "map_value_type", "blob", "enum_type", "union_type", required=True
)


@model
class OutputReference:
    """Refers to output ``var`` of node ``node_id``; ``attr_path`` digs into it."""

    node_id: str = ""
    var: str = ""
    attr_path: tuple[str | int, ...] = ()


@model
class Error:
    """An error value as a literal: the failed node and its message."""

    failed_node_id: str = ""
    message: str = ""
