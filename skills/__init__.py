"""The Robot protocol, skill primitives and the safety envelope."""
