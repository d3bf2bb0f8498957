"""dualgraph.passes: Graph -> Graph transformations and the pass manager.

The static-graph issue brings the graph IR these passes transform and the passes themselves (see
docs/ARCHITECTURE.md); the package exists from the first commit so the layout is installed whole.
"""
