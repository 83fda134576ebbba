"""The heedbot application: CLI, configuration, wiring, evaluation."""
