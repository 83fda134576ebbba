"""Saved llama.cpp KV states of prompt prefixes, so repeating prompt heads are evaluated once.

In memory, a bounded LRU of prefixes (the system prompt, worked examples) that later prompts
start with. On disk, the heads a caller marks (the system prompt; the system prompt with a
task's examples): every process of a model reads the same ones, so a new `heed run` starts
its first step where the last process left off instead of evaluating some 2,000-3,000
tokens (25-40 s on two CPU cores). A disk state is named by a hash of the model file, the
llama.cpp version, the context size and the tokens, and the folder keeps only the newest
few.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import tempfile
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SUFFIX = ".kv"


class StateFiles:
    """KV states on disk, at most `keep` files in `folder`, oldest removed first."""

    def __init__(self, folder: Path, model_id: str, keep: int = 4) -> None:
        self.folder = folder
        self.model_id = model_id
        self.keep = keep

    def path(self, key: tuple[int, ...]) -> Path:
        digest = hashlib.sha256(self.model_id.encode("utf-8"))
        digest.update(b"".join(t.to_bytes(4, "little", signed=True) for t in key))
        return self.folder / f"{digest.hexdigest()[:32]}{SUFFIX}"

    def load(self, key: tuple[int, ...]) -> bytes | None:
        """The state saved for `key`, or None (never saved, or unreadable)."""
        try:
            return self.path(key).read_bytes()
        except OSError:
            return None

    def save(self, key: tuple[int, ...], data: bytes) -> None:
        """Writes the state whole or not at all (a rename), then drops the oldest files;
        a folder that can not be written only costs the next process the evaluation."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, self.path(key))
            files = sorted(self.folder.glob(f"*{SUFFIX}"), key=lambda f: f.stat().st_mtime)
            for old in files[: max(0, len(files) - self.keep)]:
                old.unlink(missing_ok=True)
        except OSError:
            return


class PrefixStates:
    """KV states of prompt prefixes (token tuples), least recently used dropped first; those
    saved `to_disk` also go to `files` when given.

    A state is llama.cpp's sequence data for the prefix's tokens, restored into the
    context with the token history llama-cpp-python keeps beside it."""

    def __init__(self, capacity: int, files: StateFiles | None = None) -> None:
        self.capacity = capacity
        self.files = files
        self._states: OrderedDict[tuple[int, ...], bytes] = OrderedDict()

    def __len__(self) -> int:
        return len(self._states)

    def longest(self, tokens: Sequence[int]) -> tuple[int, ...]:
        """The longest stored prefix of `tokens` (empty when none is stored)."""
        best: tuple[int, ...] = ()
        for key in self._states:
            if len(best) < len(key) <= len(tokens) and tuple(tokens[: len(key)]) == key:
                best = key
        return best

    def from_disk(self, key: tuple[int, ...]) -> bool:
        """Brings the state of `key` from disk into memory; False when there is none."""
        if key in self._states:
            return True
        data = self.files.load(key) if self.files and self.capacity else None
        if data is not None:
            self._keep(key, data)
        return data is not None

    def save(self, llama: Any, key: tuple[int, ...], to_disk: bool = False) -> None:
        """Stores the context's state, which must hold exactly `key` (and writes it to
        disk when `to_disk`)."""
        if self.capacity == 0 or key in self._states:
            return
        import llama_cpp

        size = llama_cpp.llama_state_seq_get_size(llama._ctx.ctx, 0)
        buffer = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(llama._ctx.ctx, buffer, size, 0)
        data = bytes(memoryview(buffer)[:written])  # one copy, no int list
        self._keep(key, data)
        if to_disk and self.files is not None:
            self.files.save(key, data)

    def restore(self, llama: Any, key: tuple[int, ...]) -> bool:
        """Loads a stored state into the context; False when llama.cpp refuses it (then it
        is forgotten, on disk too: a damaged file must not be tried again)."""
        import llama_cpp

        data = self._states[key]
        self._states.move_to_end(key)
        llama._ctx.kv_cache_seq_rm(-1, 0, -1)
        buffer = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
        if not llama_cpp.llama_state_seq_set_data(llama._ctx.ctx, buffer, len(data), 0):
            del self._states[key]
            if self.files is not None:
                self.files.path(key).unlink(missing_ok=True)
            llama.reset()
            return False
        llama.input_ids[: len(key)] = key
        llama.n_tokens = len(key)
        llama._requires_eval = True  # logits are not restored: the next decode refreshes them
        return True

    def _keep(self, key: tuple[int, ...], data: bytes) -> None:
        self._states[key] = data
        while len(self._states) > self.capacity:
            self._states.popitem(last=False)
