"""A fake GitHub GraphQL API: repositories' pull requests, keyset cursors, rate-limit accounting.

Every query is validated (against GitHub's real schema when given one) and executed against
``github_schema_subset.graphql`` (beside this module), the part of GitHub's schema our queries
use: by ``fastpath`` when it covers the query, else by graphql-core, with the same result.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import copy
import datetime as dt
import functools
import json
import random
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    Undefined,
    build_schema,
    execute_sync,
    get_operation_ast,
    parse,
    validate,
)
from graphql.utilities import value_from_ast_untyped

from reliable_etl_dev.fakes.fastpath import Plan, Unsupported, compile_plan
from reliable_etl_dev.fakes.faults import Fault
from reliable_etl_dev.fakes.protocol import IDS, NODES, OTHER, PAGE, Call, Reply, Request, edited, spread_times, title

SUBSET_SCHEMA = Path(__file__).with_name("github_schema_subset.graphql")
RATE_LIMIT = 5000  # points per hour
MAX_PAGE = 100
FIRST_DATABASE_ID = 2_000_000_001  # above 2**31, as on github.com: why fullDatabaseId is a BigInt

_LOGINS = ("octocat", "hubot", "monalisa", "dependabot", "mona-dev", "codercat", "defunkt", "mojombo")
_LABELS = ("bug", "enhancement", "documentation", "dependencies", "security", "ci")
_CURSOR_PREFIX = "cursor:v2:"
_ORDER_FIELDS = {"UPDATED_AT": "updatedAt", "CREATED_AT": "createdAt"}
_DOCS = "https://docs.github.com/graphql"
SERVER_ERROR = (
    "Something went wrong while executing your query. This may be the result of a timeout, "
    "or it could be a GitHub bug. Please try again later."
)
SECONDARY_LIMIT = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID {}."
)

_schemas: dict[str, GraphQLSchema] = {}
_schemas_lock = threading.Lock()
_validated: dict[tuple[str, str], list[dict]] = {}  # (schema path, query) -> errors


def load_schema(path: str | Path) -> GraphQLSchema:
    """GitHub's full schema from its SDL, built once per path (it takes about 1.5 s)."""
    key = str(Path(path).resolve())
    with _schemas_lock:
        if key not in _schemas:
            schema = build_schema(Path(key).read_text(), assume_valid_sdl=True)
            schema._validation_errors = []  # GitHub's SDL fails graphql-core 3.3's own schema checks
            _schemas[key] = schema
        return _schemas[key]


@functools.cache
def subset_schema() -> GraphQLSchema:
    """The schema the fake executes, with its resolvers bound."""
    schema = build_schema(SUBSET_SCHEMA.read_text())
    schema.get_type("Node").resolve_type = lambda *_: "PullRequest"
    schema.get_type("Actor").resolve_type = lambda *_: "User"
    schema.query_type.fields["repository"].resolve = _resolve_repository
    schema.query_type.fields["nodes"].resolve = _resolve_nodes
    schema.query_type.fields["rateLimit"].resolve = _resolve_rate_limit
    schema.get_type("Repository").fields["pullRequests"].resolve = _resolve_pull_requests
    return schema


@functools.lru_cache(maxsize=256)
def _parse(query: str) -> DocumentNode:
    return parse(query)


@functools.lru_cache(maxsize=256)
def _plan(query: str, operation_name: str | None) -> Plan | None:
    """The fast path's plan of a validated query, compiled once per text; None: graphql-core executes it."""
    return compile_plan(subset_schema(), _parse(query), operation_name)


def node_id(repo: str, number: int) -> str:
    """A pull request's global id: "PR_" + base64 of "owner/name#number"."""
    return "PR_" + base64.urlsafe_b64encode(f"{repo}#{number}".encode()).decode()


def _read_node_id(value: Any) -> tuple[str, int] | None:
    if not isinstance(value, str) or not value.startswith("PR_"):
        return None
    try:
        repo, _, number = base64.urlsafe_b64decode(value[3:].encode()).decode().rpartition("#")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return (repo, int(number)) if repo and number.isdigit() else None


def iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


@dataclass(frozen=True)
class _Order:
    """A pullRequests order: by a timestamp then fullDatabaseId, or by number (no orderBy)."""

    field: str | None = None  # updatedAt | createdAt | None
    descending: bool = False

    @classmethod
    def of(cls, order_by: Any) -> _Order | None:
        """The order an orderBy argument asks for; None for one the fake cannot sort by (COMMENTS)."""
        if not isinstance(order_by, dict):
            return cls()
        field = _ORDER_FIELDS.get(order_by.get("field"))
        return cls(field, order_by.get("direction") == "DESC") if field else None

    def key(self, pr: dict) -> list:
        return [pr[self.field], int(pr["fullDatabaseId"])] if self.field else [pr["number"]]

    def cursor(self, pr: dict) -> str:
        return base64.b64encode((_CURSOR_PREFIX + json.dumps(self.key(pr))).encode()).decode()

    def read_cursor(self, cursor: str) -> list | None:
        """The sort key a cursor carries, or None when it does not decode to one of this order."""
        try:
            text = base64.b64decode(cursor.encode(), validate=True).decode()
            key = json.loads(text.removeprefix(_CURSOR_PREFIX)) if text.startswith(_CURSOR_PREFIX) else None
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        shape = [str, int] if self.field else [int]
        return key if isinstance(key, list) and [type(v) for v in key] == shape else None


@dataclass
class _Query:
    """A GraphQL request as read: the text, its parsed document and what it asks for."""

    text: str
    document: DocumentNode
    variables: dict
    operation_name: str | None
    order: _Order | None = None


@dataclass
class Context:
    """What the resolvers read: the data, this request's rateLimit object, the fault it suffers."""

    fake: FakeGitHub
    rate: dict
    fault: str | None


def _error(kind: str, message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"type": kind})


def _format_error(error: GraphQLError) -> dict:
    """GitHub's error shape: the type at the top level, not under extensions."""
    formatted = error.formatted
    extensions = formatted.pop("extensions", None) or {}
    if "type" in extensions:
        formatted = {"type": extensions["type"], **formatted}
    return formatted


def _resolve_repository(_root: Any, info: Any, owner: str, name: str, **_: Any) -> dict:
    full = f"{owner}/{name}"
    if not info.context.fake.has_repo(full):
        raise _error("NOT_FOUND", f"Could not resolve to a Repository with the name '{full}'.")
    return {"id": "R_" + base64.urlsafe_b64encode(full.encode()).decode(), "name": name, "nameWithOwner": full}


def _resolve_pull_requests(
    repo: dict,
    info: Any,
    *,
    first: int | None = None,
    after: str | None = None,
    orderBy: dict | None = None,
    states: list[str] | None = None,
) -> dict:
    if first is None:
        raise _error(
            "MISSING_PAGINATION_BOUNDARIES",
            "You must provide a `first` or `last` value to properly paginate the `pullRequests` connection.",
        )
    if first < 1:
        raise _error("INVALID_ARGUMENTS", "`first` on the `pullRequests` connection cannot be less than one.")
    if first > MAX_PAGE:
        raise _error(
            "EXCESSIVE_PAGINATION",
            f"Requesting {first} records on the `pullRequests` connection exceeds the `first` limit of 100 records.",
        )
    order = _Order.of(orderBy)
    if order is None:
        raise _error("INVALID_ARGUMENTS", "The fake GitHub server orders pull requests by UPDATED_AT or CREATED_AT.")
    key = None
    if after is not None:
        key = None if info.context.fault == "invalid_cursor" else order.read_cursor(after)
        if key is None:
            raise _error("INVALID_CURSOR_ARGUMENTS", f"`{after}` does not appear to be a valid cursor.")
    return info.context.fake.connection(repo["nameWithOwner"], order, first, key, states)


def _resolve_nodes(_root: Any, info: Any, ids: list[str]) -> list:
    found = []
    for value in ids:
        pr = info.context.fake.snapshot(value)
        found.append(pr or _error("NOT_FOUND", f"Could not resolve to a node with the global id of '{value}'"))
    return found


def _resolve_rate_limit(_root: Any, info: Any, **_: Any) -> dict:
    return info.context.rate


class FakeGitHub:
    """The GitHub half of the fake server: repositories, pull requests, the GraphQL endpoint."""

    service = "github"

    def __init__(self, schema_path: str | Path | None = None) -> None:
        self.schema_path = str(schema_path) if schema_path else None
        self._lock = threading.RLock()
        self._repos: dict[str, dict[int, dict]] = {}
        self._edits: dict[str, int] = {}  # node id -> times touched
        self._sorted: dict[str, dict[str | None, tuple[list[dict], list[list]]]] = {}  # see _ordered()
        self._next_database_id = FIRST_DATABASE_ID
        self._window_start = time.time()
        self._used = 0

    def load_schemas(self) -> None:
        """Build the schemas now rather than on the first request."""
        subset_schema()
        if self.schema_path:
            load_schema(self.schema_path)

    # --- data -----------------------------------------------------------------------------

    def add_repo(self, repo: str, count: int, seed: int = 1) -> None:
        """Pull requests 1..count of "owner/name", deterministic from the seed."""
        rng = random.Random(f"{repo}:{seed}")  # noqa: S311 - reproducible data, not security
        with self._lock:
            if repo in self._repos:
                raise ValueError(f"repository {repo} exists already")
            self._repos[repo] = {}
            for number, (created, updated) in enumerate(spread_times(rng, count, step_ms=1000), start=1):
                self._repos[repo][number] = self._generate(rng, repo, number, created // 1000, updated // 1000)
                self._next_database_id += 1

    def _generate(self, rng: random.Random, repo: str, number: int, created: int, updated: int) -> dict:
        state = rng.choices(("MERGED", "CLOSED", "OPEN"), weights=(60, 20, 20))[0]
        closed = None if state == "OPEN" else rng.randint(created, updated)
        login = None if rng.random() < 0.03 else rng.choice(_LOGINS)  # None: a deleted account, "ghost"
        labels = rng.sample(_LABELS, rng.choice((0, 0, 1, 1, 2, 3)))
        return {
            "id": node_id(repo, number),
            "fullDatabaseId": str(self._next_database_id),
            "number": number,
            "title": title(rng),
            "state": state,
            "isDraft": state == "OPEN" and rng.random() < 0.15,
            "author": {"login": login} if login else None,
            "createdAt": iso(created),
            "updatedAt": iso(updated),
            "closedAt": iso(closed) if closed else None,
            "mergedAt": iso(closed) if state == "MERGED" else None,
            "additions": rng.randint(0, 800),
            "deletions": rng.randint(0, 400),
            "changedFiles": rng.randint(1, 40),
            "baseRefName": "main",
            "headRefName": f"{login or 'ghost'}/change-{number}",
            "url": f"https://github.com/{repo}/pull/{number}",
            "labels": {"nodes": [{"name": label} for label in labels]},
        }

    def has_repo(self, repo: str) -> bool:
        with self._lock:
            return repo in self._repos

    def pull_requests(self, repo: str) -> list[dict]:
        """The repository's pull requests now, by number, in the shape of PullRequestFields."""
        with self._lock:
            return [copy.deepcopy(pr) for _, pr in sorted(self._repos[repo].items())]

    def touch(self, repo: str, numbers: list[int], at: dt.datetime | None = None) -> None:
        """Update pull requests: updatedAt becomes `at` (default now), the title changes."""
        updated = iso(at.timestamp() if at else time.time())
        with self._lock:
            self._sorted.pop(repo, None)
            for number in numbers:
                pr = self._repos[repo][number]
                self._edits[pr["id"]] = self._edits.get(pr["id"], 0) + 1
                pr["updatedAt"] = updated
                pr["title"] = edited(pr["title"], self._edits[pr["id"]])

    def delete(self, repo: str, numbers: list[int]) -> None:
        with self._lock:
            self._sorted.pop(repo, None)
            for number in numbers:
                del self._repos[repo][number]

    def pull_request(self, value: str) -> dict | None:
        """A pull request by global id (a copy), or None."""
        return copy.deepcopy(self.snapshot(value))

    def snapshot(self, value: str) -> dict | None:
        """A pull request by global id, or None: a shallow copy, so its nested values must not be changed."""
        found = _read_node_id(value)
        with self._lock:
            pr = self._repos.get(found[0], {}).get(found[1]) if found else None
            # touch() only replaces top-level values: a shallow copy is a consistent snapshot
            return dict(pr) if pr else None

    def connection(self, repo: str, order: _Order, first: int, after: list | None, states: list | None) -> dict:
        """One page of a PullRequestConnection, after a keyset cursor's sort key."""
        with self._lock:
            prs, keys = self._ordered(repo, order)
            if states:
                kept = [i for i, pr in enumerate(prs) if pr["state"] in states]
                prs, keys = [prs[i] for i in kept], [keys[i] for i in kept]
            # prs is ascending and keys are unique: the rest of a walk is one slice, found by bisection
            if order.descending:
                end = bisect.bisect_left(keys, after) if after is not None else len(prs)
                rest, page = end, prs[max(end - first, 0) : end][::-1]
            else:
                start = bisect.bisect_right(keys, after) if after is not None else 0
                rest, page = len(prs) - start, prs[start : start + first]
            page = [dict(pr) for pr in page]  # as in snapshot()
        return {
            "totalCount": len(prs),
            "pageInfo": {
                "startCursor": order.cursor(page[0]) if page else None,
                "endCursor": order.cursor(page[-1]) if page else None,
                "hasNextPage": rest > first,
                "hasPreviousPage": after is not None,
            },
            "nodes": page,
        }

    def _ordered(self, repo: str, order: _Order) -> tuple[list[dict], list[list]]:
        """The repository's pull requests ascending by the order's key, and their keys; sorted once per change."""
        with self._lock:
            by_field = self._sorted.setdefault(repo, {})
            if order.field not in by_field:
                prs = sorted(self._repos[repo].values(), key=order.key)
                by_field[order.field] = (prs, [order.key(pr) for pr in prs])
            return by_field[order.field]

    def _spend(self, cost: int) -> dict | None:
        """Charge a query to the hourly window; None when the window has no points left."""
        with self._lock:
            now = time.time()
            if now >= self._window_start + 3600:
                self._window_start, self._used = now, 0
            if self._used + cost > RATE_LIMIT:
                return None
            self._used += cost
            return self._rate(cost)

    def _rate(self, cost: int = 0) -> dict:
        with self._lock:
            return {
                "cost": cost,
                "limit": RATE_LIMIT,
                "nodeCount": 0,
                "remaining": RATE_LIMIT - self._used,
                "resetAt": iso(self._window_start + 3600),
                "used": self._used,
                "reset": int(self._window_start + 3600),
            }

    # --- HTTP -----------------------------------------------------------------------------

    def describe(self, request: Request) -> Call:
        """Read a request: what it queries and for which repository; errors found here become the reply."""
        if request.path.rstrip("/") != "/graphql" or request.method != "POST":
            return Call(
                reply=Reply.json(404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})
            )
        if not _authorized(request.headers.get("authorization", "")):
            return Call(reply=Reply.json(401, {"message": "Bad credentials", "documentation_url": _DOCS}))
        try:
            body = request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return Call(reply=Reply.json(400, {"message": "Problems parsing JSON", "documentation_url": _DOCS}))
        text, variables = body.get("query"), body.get("variables") or {}
        if not isinstance(text, str) or not isinstance(variables, dict):
            message = "A query attribute must be specified and must be a string."
            return Call(reply=Reply.json(200, {"errors": [{"message": message}]}))
        try:
            document = _parse(text)
        except GraphQLError as exc:
            return Call(reply=Reply.json(200, {"errors": [_format_error(exc)]}))
        query = _Query(text, document, variables, body.get("operationName"))
        call = Call(detail=query)
        operation = get_operation_ast(document, query.operation_name)
        for field in operation.selection_set.selections if operation else ():
            if isinstance(field, FieldNode) and field.name.value == "nodes":
                ids = _argument(field, "ids", variables)
                ids = ids if isinstance(ids, list) else [ids]
                first = _read_node_id(ids[0]) if ids else None
                call.kind, call.entity, call.page_size = NODES, first[0] if first else None, len(ids)
            elif isinstance(field, FieldNode) and field.name.value == "repository":
                self._describe_repository(call, field, variables)
            if call.kind != OTHER:
                break
        return call

    def _describe_repository(self, call: Call, field: FieldNode, variables: dict) -> None:
        call.entity = f"{_argument(field, 'owner', variables)}/{_argument(field, 'name', variables)}"
        prs = _subfield(field, "pullRequests")
        if prs is None:
            return
        order_by = _argument(prs, "orderBy", variables)
        first = _argument(prs, "first", variables)
        call.kind = PAGE if order_by is not None else IDS
        call.key = _argument(prs, "after", variables)
        call.has_cursor = call.key is not None
        call.page_size = first if isinstance(first, int) else None
        call.detail.order = _Order.of(order_by)

    def answer(self, call: Call, fault: Fault | None) -> Reply:
        kind = fault.kind if fault else None
        if kind in ("rate_limit", "secondary_rate_limit", "http_502", "http_504", "corrupt_page"):
            return self._fault_reply(fault)
        if call.reply is not None:
            return call.reply
        query: _Query = call.detail
        errors = self._validate(query)
        if errors:
            return Reply.json(200, {"errors": errors}, _rate_headers(self._rate()))
        rate = self._spend(cost=1)
        if rate is None:
            return self._rate_limited(self._rate()["reset"])
        rate["nodeCount"] = call.page_size or 0
        if kind == "reorder":
            self._reorder(call, fault.params)
        data, errors = _execute(query, Context(self, rate, kind))
        payload: dict[str, Any] = {"data": data}
        if errors:
            payload["errors"] = [_format_error(error) for error in errors]
        if kind == "corrupt_record":
            _corrupt_second_node(payload["data"])
        return Reply.json(200, payload, _rate_headers(rate))

    def _validate(self, query: _Query) -> list[dict]:
        """Errors against GitHub's schema (when given), then against the subset the fake executes."""
        checks = [(self.schema_path, None)] if self.schema_path else []
        checks.append((str(SUBSET_SCHEMA), " (the fake GitHub server implements only part of GitHub's schema)"))
        for path, note in checks:
            key = (path, query.text)
            if key not in _validated:
                schema = subset_schema() if path == str(SUBSET_SCHEMA) else load_schema(path)
                _validated[key] = [_format_error(error) for error in validate(schema, query.document)]
            errors = _validated[key]
            if errors and note and self.schema_path:
                errors = [{**error, "message": error["message"] + note} for error in errors]
            if errors:
                return errors
        return []

    def _reorder(self, call: Call, params: dict) -> None:
        """Update pull requests mid-walk so they move: params["numbers"], else `count` from the order's end."""
        numbers = params.get("numbers")
        if numbers is None:
            order = call.detail.order or _Order()
            with self._lock:
                prs = sorted(self._repos.get(call.entity, {}).values(), key=order.key, reverse=order.descending)
            count = params.get("count", 3)
            chosen = prs[:count] if params.get("from") == "start" else prs[-count:]
            numbers = [pr["number"] for pr in chosen]
        if call.entity in self._repos:
            self.touch(call.entity, numbers)

    def _fault_reply(self, fault: Fault) -> Reply:
        wait = int(fault.params.get("reset_after", 60))
        match fault.kind:
            case "rate_limit":
                return self._rate_limited(int(time.time()) + wait)
            case "secondary_rate_limit":
                digits = uuid.uuid4().hex.upper()
                request_id = f"{digits[:4]}:{digits[4:8]}:{digits[8:14]}:{digits[14:20]}:{digits[20:28]}"
                body = {
                    "message": SECONDARY_LIMIT.format(request_id),
                    "documentation_url": f"{_DOCS}/overall/rate-limits-and-query-limits-for-the-graphql-api"
                    "#secondary-rate-limits",
                }
                return Reply.json(403, body, {**_rate_headers(self._rate()), "retry-after": str(wait)})
            case "http_502" | "http_504":
                status = int(fault.kind.removeprefix("http_"))
                return Reply.json(status, {"data": None, "errors": [{"message": SERVER_ERROR}]})
            case _:  # corrupt_page: valid JSON, wrong shape
                return Reply.json(200, {"data": {"repository": {"pullRequests": {"nodes": "oops"}}}})

    def _rate_limited(self, reset: int) -> Reply:
        headers = {**_rate_headers(self._rate()), "x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}
        body = {"errors": [{"type": "RATE_LIMITED", "message": "API rate limit exceeded for user ID 1."}]}
        return Reply.json(200, body, headers)


def _execute(query: _Query, context: Context) -> tuple[Any, list[GraphQLError]]:
    """Run a validated query: on the fast path when it covers the query, else with graphql-core; same result."""
    plan = _plan(query.text, query.operation_name) if isinstance(query.operation_name, str | None) else None
    if plan is not None:
        try:
            return plan.execute(query.variables, context)
        except Unsupported:
            pass
    result = execute_sync(
        subset_schema(),
        query.document,
        context_value=context,
        variable_values=query.variables,
        operation_name=query.operation_name,
    )
    return result.data, result.errors or []


def _authorized(header: str) -> bool:
    scheme, _, token = header.partition(" ")
    return scheme.lower() in ("bearer", "token") and bool(token.strip())


def _rate_headers(rate: dict) -> dict[str, str]:
    return {
        "x-ratelimit-limit": str(rate["limit"]),
        "x-ratelimit-remaining": str(rate["remaining"]),
        "x-ratelimit-reset": str(rate["reset"]),
        "x-ratelimit-used": str(rate["used"]),
        "x-ratelimit-resource": "graphql",
    }


def _argument(field: FieldNode, name: str, variables: dict) -> Any:
    """An argument's value, literal or from a variable; None when absent."""
    for argument in field.arguments:
        if argument.name.value == name:
            value = value_from_ast_untyped(argument.value, variables)
            return None if value is Undefined else value
    return None


def _subfield(field: FieldNode, name: str) -> FieldNode | None:
    for selection in field.selection_set.selections if field.selection_set else ():
        if isinstance(selection, FieldNode) and selection.name.value == name:
            return selection
    return None


def _corrupt_second_node(data: dict | None) -> None:
    data = data or {}
    nodes = data.get("nodes") or ((data.get("repository") or {}).get("pullRequests") or {}).get("nodes") or []
    if len(nodes) > 1 and isinstance(nodes[1], dict):
        nodes[1]["updatedAt"] = "not-a-date"
