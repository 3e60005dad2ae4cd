"""Plain data as jsonnet source: JSON, except that a ``Template`` becomes ``std.format(s, cfg)``."""

from __future__ import annotations

import json
from typing import Any

from mixin.templating import Template

CONFIG = "cfg"


def source(value: Any, indent: int = 0) -> str:
    pad, inner = "  " * indent, "  " * (indent + 1)
    if isinstance(value, Template):
        return f"std.format({json.dumps(str(value), ensure_ascii=False)}, {CONFIG})"
    if isinstance(value, dict):
        if not value:
            return "{}"
        fields = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {source(v, indent + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(fields) + f",\n{pad}}}"
    if isinstance(value, list):
        if not value:
            return "[]"
        items = [f"{inner}{source(v, indent + 1)}" for v in value]
        return "[\n" + ",\n".join(items) + f",\n{pad}]"
    return json.dumps(value, ensure_ascii=False)
