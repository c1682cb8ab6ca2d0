"""A text table of a network's layers, shapes, parameters and receptive fields."""

from __future__ import annotations

from .model import Sequential


def _pair(p):
    return f"{p[0]}x{p[1]}" if p[0] != p[1] else str(p[0])


def format_summary(model: Sequential) -> str:
    """Return the summary of ``model`` as an aligned plain-text table."""
    header = ("#", "layer", "output shape", "params", "RF size", "RF stride", "RF start")
    rows = [("", "Input", " x ".join(map(str, model.input_shape)), "0", "1", "1", "0")]
    for row in model.summary():
        field = row["receptive_field"]
        if field.global_:
            rf = ("whole input", "-", "-")
        else:
            rf = (_pair(field.size), _pair(field.jump), _pair(field.start))
        rows.append((str(row["index"]), row["kind"], " x ".join(map(str, row["output_shape"])),
                     f"{row['params']:,}", *rf))
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]

    def line(cells):
        return "  ".join(c.rjust(w) if i in (0, 3) else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    rule = "-" * len(line(header))
    out = [f"{model.name}: input {' x '.join(map(str, model.input_shape))}", line(header), rule]
    out += [line(r) for r in rows]
    out += [rule, f"total parameters: {model.param_count():,}"]
    return "\n".join(out)
