"""ZeroMQ server exposing any Robot, and a client that is a Robot (bridge issue)."""
