"""The offline embedded planner: a semantic parser that writes code-as-policy."""
