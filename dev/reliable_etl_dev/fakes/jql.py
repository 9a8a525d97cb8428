"""The small part of JQL the syncs send, parsed and evaluated.

``clause (AND|OR clause)* [ORDER BY field [ASC|DESC], ...]``, with parenthesised groups. A clause
is ``field op value`` or ``field [NOT] IN (value, ...)``; values are bare words, quoted
strings or integers; ``updated`` and ``created`` compare epoch milliseconds, ``key`` compares
(project, number). Anything else raises JqlError, which the fake answers with a 400.
``Jql.named_issues()`` lists the ids and keys a query names, which Jira checks exist.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


class JqlError(ValueError):
    """A query outside the grammar above; the message is Jira's, without its prefix."""


class Issue(Protocol):
    def value(self, field: str) -> Any: ...


def _project(text: str) -> str:
    return text.upper()


def _key(text: str) -> tuple[str, int]:
    match = re.fullmatch(r"([A-Za-z][A-Za-z0-9_]*)-(\d+)", text)
    if match is None:
        raise JqlError(f"The issue key '{text}' for field 'key' is invalid.")
    return match.group(1).upper(), int(match.group(2))


def _integer(text: str) -> int:
    if not re.fullmatch(r"-?\d+", text):
        raise JqlError(f"'{text}' is not an integer; the fake server takes epoch milliseconds and ids only.")
    return int(text)


def _name(text: str) -> str:
    return text.casefold()


def _label(text: str) -> str:
    return text


# field name in JQL -> (the field it means, how to read a value, whether it takes < <= > >=)
_FIELDS: dict[str, tuple[str, Callable[[str], Any], bool]] = {
    "project": ("project", _project, False),
    "key": ("key", _key, True),
    "issuekey": ("key", _key, True),
    "id": ("id", _integer, True),
    "updated": ("updated", _integer, True),
    "created": ("created", _integer, True),
    "issuetype": ("issuetype", _name, False),
    "status": ("status", _name, False),
    "labels": ("labels", _label, False),
}
_ORDER_FIELDS = ("updated", "created", "key", "id")
_LIST_FIELDS = frozenset({"labels"})  # an issue carries several values; a clause asks for any of them
_COMPARE = {
    "=": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
_TOKEN = re.compile(
    r"""\s*(?:(?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(?P<op>!=|>=|<=|=|>|<)|(?P<punct>[(),])"""
    r"""|(?P<word>[^\s"'(),=!<>]+))"""
)


@dataclass(frozen=True)
class Clause:
    field: str
    op: str  # = != > >= < <= in "not in"
    values: tuple
    name: str = dataclasses.field(default="", compare=False)  # the field as written ("issuekey", "id")
    texts: tuple = dataclasses.field(default=(), compare=False)  # the values as written, for error messages


@dataclass(frozen=True)
class Group:
    op: str  # and | or
    items: tuple[Clause | Group, ...]


@dataclass(frozen=True)
class Jql:
    """A parsed query: a restriction (None when unbounded) and its order."""

    where: Clause | Group | None
    order: tuple[tuple[str, bool], ...]  # (field, descending)

    def project(self) -> str | None:
        """The first project the query names, for the request log and the faults."""
        pending = [self.where] if self.where else []
        while pending:
            node = pending.pop(0)
            if isinstance(node, Group):
                pending[:0] = node.items
            elif node.field == "project" and node.op in ("=", "in"):
                return node.values[0]
        return None

    def named_issues(self) -> list[tuple[str, str, str, Any]]:
        """Every issue named by id or key: (field as written, value as written, "id" | "key", value as read)."""
        named, pending = [], [self.where] if self.where else []
        while pending:
            node = pending.pop(0)
            if isinstance(node, Group):
                pending[:0] = node.items
            elif node.field in ("id", "key"):
                named += [
                    (node.name, text, node.field, value) for text, value in zip(node.texts, node.values, strict=True)
                ]
        return named

    def conjuncts(self) -> tuple[Clause | Group, ...]:
        """The restrictions AND-ed at the top level, nested ANDs flattened; () when unbounded."""
        return _conjuncts(self.where) if self.where else ()

    def matches(self, issue: Issue) -> bool:
        return self.where is None or _matches(self.where, issue)

    def sort(self, issues: list) -> list:
        """Issues in the query's order, key ascending as the final tie-breaker."""
        ordered = sorted(issues, key=lambda issue: issue.value("key"))
        for field, descending in reversed(self.order):
            ordered.sort(key=lambda issue, field=field: issue.value(field), reverse=descending)
        return ordered


@functools.lru_cache(maxsize=1024)
def parse(text: str) -> Jql:
    return _Parser(text).query()  # cached: parsing is pure and a Jql is immutable


def _conjuncts(node: Clause | Group) -> tuple[Clause | Group, ...]:
    if isinstance(node, Group) and node.op == "and":
        return tuple(part for item in node.items for part in _conjuncts(item))
    return (node,)


def predicate(node: Clause | Group) -> Callable[[Issue], bool]:
    """``node`` as one function of an issue, answering as ``_matches`` with operators looked up once."""
    if isinstance(node, Group):
        parts, combine = tuple(predicate(item) for item in node.items), all if node.op == "and" else any
        return lambda issue: combine(part(issue) for part in parts)
    field, values, op = node.field, frozenset(node.values), node.op
    if field in _LIST_FIELDS and op in ("=", "in"):
        return lambda issue: not values.isdisjoint(issue.value(field))
    if field in _LIST_FIELDS:
        return lambda issue: values.isdisjoint(issue.value(field))
    if op == "in":
        return lambda issue: issue.value(field) in values
    if op == "not in":
        return lambda issue: issue.value(field) not in values
    compare, value = _COMPARE[op], node.values[0]
    return lambda issue: compare(issue.value(field), value)


def _matches(node: Clause | Group, issue: Issue) -> bool:
    if isinstance(node, Group):
        results = (_matches(item, issue) for item in node.items)
        return all(results) if node.op == "and" else any(results)
    actual = issue.value(node.field)
    if isinstance(actual, list):  # labels: does the issue carry any of the values
        hit = any(value in actual for value in node.values)
        return hit if node.op in ("=", "in") else not hit
    if node.op == "in":
        return actual in node.values
    if node.op == "not in":
        return actual not in node.values
    return _COMPARE[node.op](actual, node.values[0])


@dataclass(frozen=True)
class _Token:
    kind: str  # string | op | punct | word
    text: str

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.casefold() in words


def _tokenize(text: str) -> list[_Token]:
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise JqlError(f"The character '{text[pos:].strip()[:1]}' is a reserved JQL character.")
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "string":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        tokens.append(_Token(kind, value))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expecting: str) -> _Token:
        token = self.peek()
        if token is None:
            raise JqlError(f"Expecting {expecting} but reached the end of the query.")
        self.pos += 1
        return token

    def keyword(self, *words: str) -> bool:
        token = self.peek()
        if token is not None and token.is_word(*words):
            self.pos += 1
            return True
        return False

    def punct(self, char: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == "punct" and token.text == char:
            self.pos += 1
            return True
        return False

    def query(self) -> Jql:
        token = self.peek()
        where = None if token is None or token.is_word("order") else self.either()
        order = self.order_by()
        if (token := self.peek()) is not None:
            raise JqlError(f"Expecting either 'OR' or 'AND' but got '{token.text}'.")
        return Jql(where, order)

    def either(self) -> Clause | Group:
        items = [self.both()]
        while self.keyword("or"):
            items.append(self.both())
        return items[0] if len(items) == 1 else Group("or", tuple(items))

    def both(self) -> Clause | Group:
        items = [self.term()]
        while self.keyword("and"):
            items.append(self.term())
        return items[0] if len(items) == 1 else Group("and", tuple(items))

    def term(self) -> Clause | Group:
        if not self.punct("("):
            return self.clause()
        node = self.either()
        if not self.punct(")"):
            raise JqlError("Expecting ')' to close the group.")
        return node

    def clause(self) -> Clause:
        token = self.take("a field name")
        if token.kind not in ("word", "string") or token.text.casefold() not in _FIELDS:
            raise JqlError(f"Field '{token.text}' does not exist or you do not have permission to view it.")
        field, read, ranged = _FIELDS[token.text.casefold()]
        op = self.operator()
        values = self.value_list() if op in ("in", "not in") else [self.value()]
        if op not in ("=", "!=", "in", "not in") and not ranged:
            raise JqlError(f"The operator '{op}' is not supported by the '{token.text}' field.")
        return Clause(field, op, tuple(read(value) for value in values), name=token.text, texts=tuple(values))

    def operator(self) -> str:
        if self.keyword("in"):
            return "in"
        if self.keyword("not"):
            if not self.keyword("in"):
                raise JqlError("Expecting 'IN' after 'NOT'.")
            return "not in"
        token = self.take("an operator")
        if token.kind != "op":
            raise JqlError(f"Expecting operator but got '{token.text}'.")
        return token.text

    def value(self) -> str:
        token = self.take("a value")
        if token.kind not in ("word", "string"):
            raise JqlError(f"Expecting a value but got '{token.text}'.")
        return token.text

    def value_list(self) -> list[str]:
        if not self.punct("("):
            raise JqlError("Expecting '(' after 'IN'.")
        values = [self.value()]
        while self.punct(","):
            values.append(self.value())
        if not self.punct(")"):
            raise JqlError("Expecting ')' to close the list of values.")
        return values

    def order_by(self) -> tuple[tuple[str, bool], ...]:
        if not self.keyword("order"):
            return ()
        if not self.keyword("by"):
            raise JqlError("Expecting 'BY' after 'ORDER'.")
        order = []
        while True:
            token = self.take("a field to order by")
            field = "key" if token.text.casefold() == "issuekey" else token.text.casefold()
            if field not in _ORDER_FIELDS:
                raise JqlError(f"Not able to sort using field '{token.text}'.")
            descending = self.keyword("desc")
            if not descending:
                self.keyword("asc")
            order.append((field, descending))
            if not self.punct(","):
                return tuple(order)
