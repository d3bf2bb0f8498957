"""The supported-op lists of docs/ONNX.md, generated from the two tables (a test checks that the
page holds exactly this text between its markers): `python -m dualgraph.onnx.docs`."""

from __future__ import annotations


from .export_table import EXPORT, REFUSED
from .import_table import IMPORT

BEGIN, END = "<!-- generated: supported ops -->", "<!-- end generated -->"




def supported_ops_markdown() -> str:
    lines = [BEGIN, "", f"**Export** ({len(EXPORT)} registry ops have an entry in "
             "`dualgraph/onnx/export_table.py`):", ""]
    lines.append(", ".join(f"`{name}`" for name in sorted(EXPORT)))
    lines += ["", f"**Not exported** ({len(REFUSED)}), and why:", ""]
    lines += [f"- `{name}`: {why}" for name, why in sorted(REFUSED.items())]
    lines += ["", f"**Import** ({len(IMPORT)} ONNX ops have an entry in "
              "`dualgraph/onnx/import_table.py`):", ""]
    lines.append(", ".join(f"`{name}`" for name in sorted(IMPORT)))
    lines += ["", "and every other ONNX op that ONNX defines as a function of these (`Attention`, "
              "`MeanVarianceNormalization` ...), imported through its function body.", "", END]
    return "\n".join(lines)


if __name__ == "__main__":
    print(supported_ops_markdown())
