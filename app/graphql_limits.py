"""What a GraphQL query may cost before the service refuses it (docs/api.md,
"GraphQL limits").

Each endpoint has its own :class:`Limits`, read from the ``GRAPHQL_PUBLIC_*``
and ``GRAPHQL_ADMIN_*`` settings. They are enforced cheapest first, so that a
hostile query is turned away before it costs more than a few milliseconds:

1. the body size, before the body is read (413);
2. the number of tokens, while the query is parsed (graphql-core's
   ``max_tokens``);
3. depth and number of fields, by :func:`query_limits_rule`, before any other
   validation rule runs;
4. the cost, by ariadne's cost validator, once the query is otherwise valid.
"""

from __future__ import annotations

from dataclasses import dataclass

from ariadne.validation import cost_validator
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    OperationDefinitionNode,
    SelectionSetNode,
)
from graphql.language import SKIP
from graphql.validation import ASTValidationRule


@dataclass(frozen=True)
class Limits:
    """The limits of one endpoint; every one is at least 1."""

    body_bytes: int
    tokens: int
    depth: int
    fields: int
    cost: int

    @classmethod
    def from_config(cls, config, audience: str) -> Limits:
        """``audience`` is ``public`` or ``admin``; the body limit never exceeds
        ``MAX_CONTENT_LENGTH``."""
        prefix = f"GRAPHQL_{audience.upper()}_"
        body = config[prefix + "MAX_BODY_BYTES"]
        if config.get("MAX_CONTENT_LENGTH") is not None:
            body = min(body, config["MAX_CONTENT_LENGTH"])
        return cls(
            body_bytes=body,
            tokens=config[prefix + "MAX_TOKENS"],
            depth=config[prefix + "MAX_DEPTH"],
            fields=config[prefix + "MAX_FIELDS"],
            cost=config[prefix + "MAX_COST"],
        )

    def cost_rule(self, variables: dict | None) -> type[ASTValidationRule]:
        """ariadne's cost validator for one request: every field of the schema
        costs 1 unless its definition says otherwise with ``@cost``, whose
        multipliers read the field's arguments (hence the variables). Marked
        ``per_request``: its verdict must not be cached with the query."""
        rule = cost_validator(self.cost, default_cost=1, variables=variables)
        rule.per_request = True
        return rule


@dataclass(frozen=True)
class _Measure:
    depth: int  # fields nested within fields, the outermost being 1
    fields: int  # field selections, counted again for every spread of a fragment


def _measure(selection_set: SelectionSetNode, fragments: dict[str, _Measure]) -> _Measure:
    """Measure one selection set without recursion; a spread of a fragment
    not in ``fragments`` (unknown, or closing a cycle) counts nothing, as
    other rules report it."""
    depth = fields = 0
    stack = [(selection_set, 1)]
    while stack:
        selections, level = stack.pop()
        for selection in selections.selections:
            if isinstance(selection, FragmentSpreadNode):
                spread = fragments.get(selection.name.value)
                if spread is not None:
                    depth = max(depth, level - 1 + spread.depth)
                    fields += spread.fields
                continue
            if isinstance(selection, FieldNode):
                fields += 1
                depth = max(depth, level)
            if selection.selection_set is not None:
                nested = level + 1 if isinstance(selection, FieldNode) else level
                stack.append((selection.selection_set, nested))
    return _Measure(depth, fields)


def _spread_names(selection_set: SelectionSetNode) -> list[str]:
    names, stack = [], [selection_set]
    while stack:
        for selection in stack.pop().selections:
            if isinstance(selection, FragmentSpreadNode):
                names.append(selection.name.value)
            elif selection.selection_set is not None:
                stack.append(selection.selection_set)
    return names


def _measure_fragments(definitions: dict[str, FragmentDefinitionNode]) -> dict[str, _Measure]:
    """Every fragment measured once, the fragments it spreads first (a
    depth-first walk kept on a list, so that no chain of fragments recurses)."""
    measured: dict[str, _Measure] = {}
    spreads = {name: _spread_names(d.selection_set) for name, d in definitions.items()}
    for root in definitions:
        if root in measured:
            continue
        path, on_path = [(root, iter(spreads[root]))], {root}
        while path:
            name, pending = path[-1]
            for spread in pending:
                if spread in definitions and spread not in measured and spread not in on_path:
                    path.append((spread, iter(spreads[spread])))
                    on_path.add(spread)
                    break
            else:
                path.pop()
                on_path.discard(name)
                measured[name] = _measure(definitions[name].selection_set, measured)
    return measured


def query_limits_rule(limits: Limits) -> type[ASTValidationRule]:
    """A validation rule refusing operations nested deeper than
    ``limits.depth`` or selecting more than ``limits.fields`` fields.

    Fields are counted as they would run: aliases and ``__typename`` are
    fields, and a fragment counts once for every place it is spread.
    """

    class QueryLimitsRule(ASTValidationRule):
        def enter_document(self, node, *_args):
            definitions = {
                d.name.value: d for d in node.definitions if isinstance(d, FragmentDefinitionNode)
            }
            fragments = _measure_fragments(definitions)
            for operation in node.definitions:
                if not isinstance(operation, OperationDefinitionNode):
                    continue
                measure = _measure(operation.selection_set, fragments)
                if measure.depth > limits.depth:
                    self.report_error(
                        GraphQLError(
                            f"The query nests fields {measure.depth} deep;"
                            f" at most {limits.depth} are allowed.",
                            operation,
                        )
                    )
                if measure.fields > limits.fields:
                    self.report_error(
                        GraphQLError(
                            f"The query selects {measure.fields} fields;"
                            f" at most {limits.fields} are allowed.",
                            operation,
                        )
                    )
            return SKIP

    return QueryLimitsRule
