"""Plain-language reading every backend shares: the lexicon, noun phrases and their
grounding in the scene, placement rules, and nearest-exemplar matching."""
