"""URL state: typed query parameters (checked, with a warning for a bad value) and preset buttons."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st


@dataclass(frozen=True)
class IntParam:
    """An integer URL parameter in ``[lo, hi]``."""

    lo: int
    hi: int

    def accepts(self, raw: str) -> bool:
        try:
            value = int(raw)
        except ValueError:
            return False
        return self.lo <= value <= self.hi

    def describe(self) -> str:
        return f"an integer from {self.lo} to {self.hi}"


@dataclass(frozen=True)
class ChoiceParam:
    """A URL parameter taking one of ``options`` (several if ``multi``)."""

    options: tuple[str, ...]
    multi: bool = False

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
            warnings.append(f"URL parameter `{name}` was given {len(values)} times; using the default.")
            continue
        bad = [v for v in values if not rule.accepts(v)]
        if bad:
            warnings.append(
                f"Ignored URL parameter `{name}={bad[0]}`: expected {rule.describe()}; "
                "using the default."
            )
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
