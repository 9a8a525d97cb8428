"""A small GraphQL executor for the fake GitHub's validated queries: ~20x cheaper than graphql-core's.

It runs the same resolvers and the default resolver (``dict.get``) over a field plan compiled
once per query text, and yields exactly what ``graphql.execute_sync`` yields, or raises
Unsupported for anything it does not reproduce exactly (directives, introspection, resolver
errors, nulls in non-null positions, variable or argument coercion errors): the caller then
executes with graphql-core. tests/unit/test_fake_server.py compares the two.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLEnumType,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    NamedTypeNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    get_nullable_type,
    get_operation_ast,
    is_abstract_type,
    is_leaf_type,
    is_non_null_type,
    located_error,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from graphql.utilities import type_from_ast

_Path = tuple | None  # (parent path, key): a response path built only when an error needs it


class Unsupported(Exception):
    """The fast path cannot answer this request exactly: execute it with graphql-core."""


@dataclass(eq=False)
class _Field:
    """One response key of a selection set on a known object type."""

    key: str  # the alias, or the field's name
    name: str
    nodes: tuple[FieldNode, ...]  # every node merged under the key, for error locations
    definition: GraphQLField | None  # None for __typename
    selections: dict[str, tuple[_Field, ...]] = field(default_factory=dict)  # runtime type name -> fields
    typename: str | None = None  # the answer of __typename
    plain: bool = False  # a scalar the default resolver reads, without arguments: copied as is
    required: bool = False  # non-null


@dataclass(eq=False)
class Plan:
    """A query operation compiled against a schema; run it with execute()."""

    schema: GraphQLSchema
    operation: OperationDefinitionNode
    fields: tuple[_Field, ...]

    def execute(self, variables: dict, context: Any) -> tuple[dict, list[GraphQLError]]:
        """(data, errors) as graphql-core's execute_sync would give them; raises Unsupported."""
        coerced = get_variable_values(self.schema, self.operation.variable_definitions or (), variables)
        if isinstance(coerced, list):
            raise Unsupported
        run = _Run(coerced, context)
        return run.object(self.fields, {}, None), run.errors  # {}: like graphql-core's root value None, no keys


def compile_plan(schema: GraphQLSchema, document: DocumentNode, operation_name: str | None) -> Plan | None:
    """The plan of a validated document's operation, or None when the fast path does not cover it."""
    operation = get_operation_ast(document, operation_name)
    if operation is None or operation.operation != OperationType.QUERY or operation.directives:
        return None
    try:
        fields = _Compiler(schema, document).fields(schema.query_type, [operation.selection_set])
    except Unsupported:
        return None
    return Plan(schema, operation, fields)


class _Compiler:
    def __init__(self, schema: GraphQLSchema, document: DocumentNode) -> None:
        self.schema = schema
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}

    def fields(self, parent: GraphQLObjectType, selection_sets: list[SelectionSetNode]) -> tuple[_Field, ...]:
        compiled = []
        for key, nodes in self.collect(parent, selection_sets, {}, set()).items():
            name = nodes[0].name.value
            if name == "__typename":
                compiled.append(_Field(key, name, tuple(nodes), None, typename=parent.name))
                continue
            definition = parent.fields.get(name)
            if definition is None:  # __schema, __type, or a field validation would have refused
                raise Unsupported
            named = get_named_type(definition.type)
            subsets = [node.selection_set for node in nodes if node.selection_set]
            runtime = self.schema.get_possible_types(named) if is_abstract_type(named) else [named]
            selections = {} if is_leaf_type(named) else {t.name: self.fields(t, subsets) for t in runtime}
            plain = (
                is_leaf_type(named)
                and get_nullable_type(definition.type) is named
                and definition.resolve is None
                and not definition.args
                and not nodes[0].arguments
            )
            required = is_non_null_type(definition.type)
            compiled.append(_Field(key, name, tuple(nodes), definition, selections, plain=plain, required=required))
        return tuple(compiled)

    def collect(
        self,
        parent: GraphQLObjectType,
        selection_sets: list[SelectionSetNode],
        found: dict[str, list[FieldNode]],
        visited: set[str],
    ) -> dict[str, list[FieldNode]]:
        """Fields by response key in document order, through fragments, as graphql-core's collect_fields."""
        for selection_set in selection_sets:
            for selection in selection_set.selections:
                if selection.directives:  # @skip/@include depend on variables, @defer/@stream on more
                    raise Unsupported
                if isinstance(selection, FieldNode):
                    found.setdefault((selection.alias or selection.name).value, []).append(selection)
                elif isinstance(selection, InlineFragmentNode):
                    if self.applies(selection.type_condition, parent):
                        self.collect(parent, [selection.selection_set], found, visited)
                elif selection.name.value not in visited:
                    visited.add(selection.name.value)
                    fragment = self.fragments.get(selection.name.value)
                    if fragment is not None and fragment.directives:
                        raise Unsupported
                    if fragment is not None and self.applies(fragment.type_condition, parent):
                        self.collect(parent, [fragment.selection_set], found, visited)
        return found

    def applies(self, condition: NamedTypeNode | None, parent: GraphQLObjectType) -> bool:
        if condition is None:
            return True
        conditional = type_from_ast(self.schema, condition)
        return conditional is parent or (is_abstract_type(conditional) and self.schema.is_sub_type(conditional, parent))


class _Run:
    """One execution: coerced variables, the context for the resolvers, the errors so far."""

    def __init__(self, variables: VariableValues, context: Any) -> None:
        self.variables = variables
        self.info = SimpleNamespace(context=context)  # our resolvers read nothing else from info
        self.errors: list[GraphQLError] = []
        self.arguments: dict[_Field, dict] = {}

    def object(self, fields: tuple[_Field, ...], source: dict, path: _Path) -> dict:
        result = {}
        for f in fields:
            if f.plain:  # the common case, inlined: a scalar straight off the record
                value = result[f.key] = source.get(f.name)
                if value is None and f.required:
                    raise Unsupported
            elif f.definition is None:
                result[f.key] = f.typename
            else:
                result[f.key] = self._complete(f, f.definition.type, self._resolve(f, source), (path, f.key))
        return result

    def _resolve(self, f: _Field, source: dict) -> Any:
        arguments = self.arguments.get(f)
        try:
            if arguments is None:  # they depend on the node and the variables only: coerce once per run
                arguments = self.arguments[f] = get_argument_values(f.definition, f.nodes[0], self.variables)
            if f.definition.resolve is None:
                return source.get(f.name)
            return f.definition.resolve(source, self.info, **arguments)
        except Exception as exc:  # graphql-core would report it at this field, and maybe null the parent
            raise Unsupported from exc

    def _complete(self, f: _Field, type_: GraphQLOutputType, value: Any, path: _Path) -> Any:
        if isinstance(value, Exception):
            raise Unsupported
        if isinstance(type_, GraphQLNonNull):
            if value is None:
                raise Unsupported
            type_ = type_.of_type
        if value is None:
            return None
        if isinstance(type_, GraphQLList):
            return self._list(f, type_.of_type, value, path)
        if isinstance(type_, GraphQLScalarType | GraphQLEnumType):
            return value  # the fake's records hold values already in their serialised form
        if not isinstance(value, dict):
            raise Unsupported
        runtime = type_.name
        if isinstance(type_, GraphQLInterfaceType | GraphQLUnionType):
            runtime = type_.resolve_type(value, self.info, type_)
            runtime = runtime if isinstance(runtime, str) else getattr(runtime, "name", None)
        fields = f.selections.get(runtime)
        if fields is None:
            raise Unsupported
        return self.object(fields, value, path)

    def _list(self, f: _Field, item_type: GraphQLOutputType, value: Any, path: _Path) -> list:
        if not isinstance(value, list):
            raise Unsupported
        nullable = not isinstance(item_type, GraphQLNonNull)
        items = []
        for index, item in enumerate(value):
            if nullable and isinstance(item, Exception):
                # a resolver's per-item error (nodes: an unknown id): null item, error at its path
                self.errors.append(located_error(item, list(f.nodes), _keys((path, index))))
                items.append(None)
            else:
                items.append(self._complete(f, item_type, item, (path, index)))
        return items


def _keys(path: _Path) -> list[str | int]:
    keys = []
    while path is not None:
        path, key = path
        keys.append(key)
    return keys[::-1]
