"""docs/ONNX.md's supported-op lists are the export and import tables' own (generated)."""

from pathlib import Path

from dualgraph.onnx.docs import BEGIN, END, supported_ops_markdown

DOC = Path(__file__).resolve().parent.parent / "docs" / "ONNX.md"


def test_the_docs_list_the_tables_ops():
    text = DOC.read_text()
    start, end = text.index(BEGIN), text.index(END) + len(END)
    assert text[start:end] == supported_ops_markdown(), \
        "regenerate with: python -m dualgraph.onnx.docs"


def test_dualgraph_imports_without_loading_onnx():
    import subprocess
    import sys
    code = "import sys, dualgraph, dualgraph.onnx; print('onnx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_without_the_onnx_package_export_says_which_extra_to_install():
    import subprocess
    import sys
    code = ("import sys; sys.modules['onnx'] = None\n"
            "import dualgraph as dg\n"
            "try:\n"
            "    dg.onnx.export(lambda x: x + 1, dg.ones(2), None)\n"
            "except ImportError as exc:\n"
            "    print(exc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'dualgraph[onnx]'" in out.stdout
