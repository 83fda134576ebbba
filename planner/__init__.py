"""LLM backends, prompts, the ReAct loop and the sandboxed executor (planner issue)."""
