"""`dg.jit`: capture into static graphs (`trace`, `script`, `save`, `load`), as PyTorch keeps it.

The static-graph issue fills this package; until then it holds nothing, so that
`import dualgraph.jit` and `dg.jit` already resolve where tutorials expect them.
"""
