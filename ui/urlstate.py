"""URL state: typed query parameters (checked, with a warning for a bad value) and preset buttons."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import streamlit as st

from core.io.text import md_code, md_escape


@dataclass(frozen=True)
class IntParam:
    """An integer URL parameter in ``[lo, hi]``."""

    lo: int
    hi: int

    def accepts(self, raw: str) -> bool:
        # ASCII digits only: Python's int() also reads "١" (Arabic-Indic one) or "1_0",
        # which the widget itself does not, so such a link would silently show the default.
        if not re.fullmatch(r"-?[0-9]{1,18}", raw):
            return False
        return self.lo <= int(raw) <= self.hi

    def describe(self) -> str:
        return f"an integer from {self.lo} to {self.hi}"


@dataclass(frozen=True)
class ChoiceParam:
    """A URL parameter taking one of ``options`` (several if ``multi``)."""

    options: tuple[str, ...]
    multi: bool = False
    #: Most values a ``multi`` parameter shows (its widget's ``max_selections``).
    max_count: int | None = None

    def accepts(self, raw: str) -> bool:
        return raw in self.options

    def describe(self) -> str:
        return "one of " + ", ".join(self.options)


def check_query_params(spec: dict[str, IntParam | ChoiceParam]) -> list[str]:
    """Warn about URL parameters that make no sense; bound widgets then use defaults.

    Call before the widgets are created (they drop invalid values from the URL). Unknown
    parameter names are ignored silently (they may belong to another page).
    Returns the warnings shown (for tests and callers).
    """
    warnings = []
    for name, rule in spec.items():
        if name not in st.query_params:
            continue
        values = st.query_params.get_all(name)
        if getattr(rule, "multi", False):
            # A cleared multiselect writes an empty value: that is a choice, not an error
            # (the page says what to pick instead).
            values = [v for v in values if v != ""]
        elif len(values) > 1:
            warnings.append(f"URL parameter {md_code(name)} was given {len(values)} times; "
                            "using the default.")
            continue
        bad = [v for v in values if not rule.accepts(v)]
        if bad:
            # md_code: a backtick or Markdown in the value cannot leave the code span
            warnings.append(
                f"Ignored URL parameter {md_code(f'{name}={bad[0]}', 120)}: expected "
                f"{md_escape(rule.describe())}; using the default."
            )
        elif rule_max := getattr(rule, "max_count", None):
            if len(values) > rule_max:
                warnings.append(
                    f"URL parameter {md_code(name)} names {len(values)} values; only the "
                    f"first {rule_max} are shown.")
    for text in warnings:
        st.warning(text, icon=":material/link_off:")
    return warnings


def preset_button(label: str, values: dict[str, object], *, key: str, help: str | None = None) -> None:
    """A button that sets several bound widgets at once (runs before they are drawn).

    Give those widgets their default with ``value=`` (not through session state): a
    bound widget drops a URL value equal to its own default, which is its minimum when
    no ``value=`` is given, so ``?kernel=1`` would be lost.
    """

    def apply() -> None:
        for name, value in values.items():
            st.session_state[name] = value

    st.button(label, key=key, on_click=apply, help=help)


@dataclass(frozen=True)
class Preset:
    """One preset button: its label, the widget values it sets, its key and help text."""

    label: str
    values: dict[str, object]
    key: str
    help: str | None = None


def preset_row(presets: Sequence[Preset], columns: int | None = None) -> list:
    """The presets as buttons side by side, one per column; returns the columns (a page
    may put more widgets in the ones left over)."""
    cols = st.columns(columns or len(presets))
    for col, preset in zip(cols, presets, strict=False):
        with col:
            preset_button(preset.label, preset.values, key=preset.key, help=preset.help)
    return cols
