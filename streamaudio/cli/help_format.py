"""Help text in plain words: typer 0.2x shows a value's Python type in angle brackets (``<bool>``,
``<list[Path]>``) and a required argument in braces (``{targets}...``); streamaudio's help shows the
metavars users type instead (``OUT…``, ``TAR``, ``PATH``), no type for a flag, and choices as ``a|b``."""

from __future__ import annotations

from typing import Any

from typer import core


def _label(param: Any) -> str:
    if param.metavar:
        return param.metavar
    return param.name.upper().replace("_", "-")


def _argument_usage(self: Any) -> str:
    name = _label(self) + ("…" if self.nargs != 1 else "")
    return name if self.required else f"[{name}]"


def _argument_name(self: Any) -> str:
    return _label(self) + ("…" if self.nargs != 1 else "")


def _value_type(self: Any, ctx: Any) -> str | None:
    """What the value of an option looks like: its metavar, its choices, or nothing for a flag."""
    if self.metavar is not None:
        return self.metavar or None
    if getattr(self, "is_flag", False) or getattr(self, "is_bool_flag", False):
        return None
    desc = self.type_descriptor
    if desc.is_choice:
        return "|".join(str(getattr(c, "value", c)) for c in desc.choices or ())
    if desc.is_path:
        return "PATH"
    return self.bare_type().upper()


def _range(self: Any) -> str | None:
    """A numeric option's range in words (``at least 1``, ``0 to 1``), not as ``x>=1``."""
    low, high = self.min, self.max
    if getattr(self, "count", False) and low == 0 and high is None:
        return None
    if low is not None and high is not None:
        return f"{low:g} to {high:g}"
    if low is not None:
        return f"at least {low:g}"
    return f"at most {high:g}" if high is not None else None


def plain_help() -> None:
    """Make every command's help plain (patched once, on typer's own parameter classes)."""
    core.TyperArgument._usage_display_name = _argument_usage
    core.TyperArgument._rich_display_name = _argument_name
    core.TyperArgument.display_type_rich = lambda self, ctx: None  # the name says it
    core.TyperArgument.display_name_raw = property(_label)  # the panel's name column and errors
    core.TyperOption.display_type_rich = _value_type
    core.TyperOption._get_number_range_help_str = _range
    core.TyperArgument._get_number_range_help_str = _range
