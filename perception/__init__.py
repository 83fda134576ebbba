"""Camera frames to scene graphs; spatial relations shared with the success predicates."""
