"""One module per node. A node is ``(state, runtime) -> partial update``; it never
mutates the state it is given, and only ``agents/graph.py`` knows the edges."""
