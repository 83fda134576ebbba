"""YAML as success predicates are written in it (suites, worked examples): YAML 1.2
booleans, so the predicate key `on` stays a string instead of becoming True."""

from __future__ import annotations

import re

import yaml

from skills.errors import quote

MAX_ALIAS_NODES = 10_000  # YAML nodes that aliases may add to a file when expanded


class _Loader(yaml.SafeLoader):
    """YAML 1.2 booleans (only true/false), so the predicate key `on` stays a string, and
    numbers (``1e-3`` is a float, not text); duplicate keys are errors instead of silently
    keeping the last value."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {quote(key)}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_YAML_1_1_ONLY = ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:float")
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _YAML_1_1_ONLY]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+
        |[-+]?[0-9][0-9_]*\.[0-9_]*|[-+]?\.[0-9_]+
        |[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def read_predicate_yaml(text: str) -> object:
    """YAML as files of success predicates are read: only true/false are booleans (`on:`
    stays a predicate), ``1e-3`` is a number, duplicate keys are errors, and aliases may add at most
    `MAX_ALIAS_NODES` nodes (a YAML "billion laughs" is refused before it is built).

    Raises:
        yaml.YAMLError: the text is not such YAML.
    """
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        sizes: dict[int, int] = {}
        if _expanded_size(node, sizes) - len(sizes) > MAX_ALIAS_NODES:
            raise yaml.YAMLError(f"aliases expand to more than {MAX_ALIAS_NODES} nodes")
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """Nodes under `node` with every alias written out; `sizes` caches them by node."""
    if id(node) not in sizes:
        sizes[id(node)] = 0  # an alias back to a node being measured adds nothing more
        if isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        else:
            children = node.value if isinstance(node, yaml.SequenceNode) else []
        sizes[id(node)] = 1 + sum(_expanded_size(child, sizes) for child in children)
    return sizes[id(node)]
