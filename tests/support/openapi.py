"""The OpenAPI examples' answers with the values that vary from run to run masked."""

from __future__ import annotations

import re

VOLATILE = {"ReqID", "MacAddr", "PortID", "CreatedAt", "UpdatedAt", "ReservedAt", "BoundAt", "At", "ID"}


def masked(value):
    """The answer with run-dependent values replaced."""
    if isinstance(value, dict):
        return {key: "<varies>" if key in VOLATILE else masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [masked(item) for item in value]
    if isinstance(value, str):
        return re.sub(r"token ipr_\S+", "token ipr_…", value)
    return value
