"""What a grid's periods say about the network that made it, in words, with the fix.

An upsampling layer of stride ``s`` gives each of the ``s`` output phases its own gain
when its kernel overlaps unevenly (kernel size not divisible by the stride) or when its
weights give the phases unequal sums (:mod:`core.maths.metrics`, ``polyphase_gains``).
Layers in sequence multiply their strides: the period of the grid in the output is the
product of the strides from the first offending layer to the output. So a period factors
into strides: 2 is one stride-2 layer, 4 two stride-2 layers (the earlier of the two
offends, or both), 8 three, 3 a stride-3 layer (a pixel shuffle x3), 6 a stride-2 and a
stride-3 layer. Different periods along the rows and the columns mean strides that
differ between height and width.
"""

from __future__ import annotations

#: Where the lab audits a network (the page's URL path) and what it says on the command line.
AUDIT_PAGE = "audit"
AUDIT_COMMAND = "python -m core.audit model.onnx"

_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}


def _factors(n: int) -> list[int]:
    """Prime factors of ``n``, smallest first (``12 -> [2, 2, 3]``)."""
    out, k = [], 2
    while k * k <= n:
        while n % k == 0:
            out.append(k)
            n //= k
        k += 1
    if n > 1:
        out.append(n)
    return out


def layers_for(period: int) -> str:
    """The upsampling layers a period points to: ``4 -> "the last two upsamplers, stride 2
    each"``, ``6 -> "the last two upsamplers, strides 2 and 3 (in some order)"``."""
    factors = _factors(period)
    if not factors:
        return "no upsampler"
    if len(factors) == 1:
        return f"the last upsampler, stride {factors[0]}"
    n = _WORDS.get(len(factors), str(len(factors)))
    if len(set(factors)) == 1:
        return (f"the last {n} upsamplers, stride {factors[0]} each (or fewer with larger "
                f"strides: one of stride {period})")
    strides = ", ".join(str(f) for f in factors[:-1]) + f" and {factors[-1]}"
    return f"the last {n} upsamplers, strides {strides} (in some order)"


def _which(period: int) -> str:
    cause = ("overlaps unevenly (a kernel size not divisible by its stride) or gives its "
             "output phases unequal gains")
    if len(_factors(period)) <= 1:
        return f"it {cause}"
    return (f"the earliest of them {cause}, and the later ones carry its pattern up to "
            f"period {period}")


def meaning(periods: tuple[int, int]) -> str:
    """One paragraph: what ``(rows, cols)`` periods mean for the network."""
    rows, cols = periods
    if rows == cols:
        return f"Period {rows} in both directions: {layers_for(rows)}; {_which(rows)}."
    if 1 in (rows, cols):
        along = ("down the rows only (horizontal stripes)" if cols == 1
                 else "across the columns only (vertical stripes)")
        p = max(rows, cols)
        return (f"Period {p} {along}: {layers_for(p)}, upsampling or uneven in one "
                f"direction; {_which(p)}.")
    return (f"Period {rows} down the rows and {cols} across the columns: strides that "
            f"differ between height ({layers_for(rows)}) and width ({layers_for(cols)}), or "
            f"a grid whose phase pattern repeats sooner one way; {_which(max(rows, cols))}.")


def fix() -> str:
    """The fix, whatever the period (the post's remedies, as the audit writes them)."""
    return ("Replace each offending transposed convolution by a resize-convolution "
            "(nn.Upsample(scale_factor=s, mode='nearest') then a 3x3 nn.Conv2d), or give it a "
            "kernel size divisible by its stride and equal phase gains (a pixel shuffle "
            "initialised with ICNR, followed by a small blur). Export the network and run "
            f"the audit (the 'Audit your network' page, or `{AUDIT_COMMAND}`): it names "
            "the layers and measures each fix.")
