"""Correction records, distilled knowledge and their FAISS/SQLite store (corrections issue)."""
