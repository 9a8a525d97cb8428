"""A fake Jira: Cloud's /rest/api/3/search/jql (nextPageToken, isLast) or Server's /rest/api/2/search.

Issues live in memory and can change while a sync walks them (``touch``, ``delete``). Shapes
follow Jira's REST API; ``mode`` ("cloud" or "server") picks the endpoints and can be switched
at any time. Two behaviours are modelled as strictly as the real Jira, because clients trip on
them:

- **An issue named in JQL must exist** (both modes). A query naming by id or key (fields
  ``id``, ``key``, ``issuekey``, with = != IN, NOT IN, < <= > >=) an issue that does not exist
  (deleted; on a real site also one moved to a project the user cannot see) is refused with
  400 and one message per such value, the field as written::

      {"errorMessages": ["An issue with key '10009' does not exist for field 'id'.",
                         "An issue with key 'ENG-57' does not exist for field 'key'."], "errors": {}}

  Sources: Jira's ``IssueIdValidator`` (it checks every literal of an id/key clause under the
  equality and relational operators and adds one error per missing issue); the key message
  from the old ``/rest/api/2/search`` in atlassian-python-api PR #752; the id message as Cloud's
  ``/rest/api/3/search/jql`` gives it, from client code and tests that handle it. Server's
  ``validateQuery=warn`` would turn these errors into warnings, but Cloud's new search has no
  such parameter (its request bean has none); the fake ignores it in both modes. The fake
  has no moves between projects: ``delete`` stands for every way an issue leaves our sight.
- **Cloud returns only what is asked for.** ``/search/jql`` defaults to ``fields=id`` ("By
  default, this resource returns IDs only", Jira Cloud REST v3 reference): an issue is
  ``{"id": ...}``, with ``key`` only when ``key`` (or ``*all``, ``*navigable``) is asked for
  and ``expand``, ``self``, ``fields`` only when a field is; asking for nothing but ``id`` and
  ``key`` allows pages of 5000. Server returns every navigable field by default, and always
  ``expand``, ``id``, ``self``, ``key``.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import copy
import datetime as dt
import hashlib
import itertools
import json
import operator
import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from reliable_etl_dev.fakes import jql as jqlparse
from reliable_etl_dev.fakes.faults import Fault
from reliable_etl_dev.fakes.protocol import COUNT, IDS, PAGE, Call, Reply, Request, edited, now_ms, spread_times, title

MODES = ("cloud", "server")
DEFAULT_PAGE = 50
MAX_PAGE = {"cloud": 100, "server": 1000}
MAX_ID_PAGE = 5000  # Cloud, when only ids are asked for
FIRST_ISSUE_ID = 10001

_STATUSES = (("To Do", "new"), ("In Progress", "indeterminate"), ("Done", "done"))
_TYPES = ("Bug", "Task", "Story")
_PRIORITIES = ("Highest", "High", "Medium", "Low")
_LABELS = ("backend", "frontend", "customer", "tech-debt", "security", "regression")
_PEOPLE = ("Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra", "Barbara Liskov", "Ken Thompson")
_ALL_FIELDS = (
    "summary",
    "status",
    "issuetype",
    "priority",
    "assignee",
    "reporter",
    "created",
    "updated",
    "resolutiondate",
    "labels",
    "project",
)
_EXPAND = "operations,versionedRepresentations,editmeta,changelog,renderedFields"


def _error(status: int, *messages: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply.json(status, {"errorMessages": list(messages), "errors": {}}, headers)


UNAUTHORIZED = "You are not authenticated. Authentication required to perform this operation."
REMOVED = (
    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
    "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"
)
UNBOUNDED = "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
BAD_TOKEN = "The provided next page token is invalid or expired."  # noqa: S105 - an error message
BAD_PAYLOAD = "Invalid request payload. Refer to the REST API documentation and try again."


def jira_time(ms: int) -> str:
    """Jira's timestamp format: 2024-01-15T10:30:45.123+0000."""
    moment = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}+0000"


def _person(name: str) -> dict:
    return {"accountId": hashlib.sha256(name.encode()).hexdigest()[:24], "displayName": name}


@dataclass
class _Issue:
    id: int
    project: str
    number: int
    created_ms: int
    updated_ms: int
    resolved_ms: int | None
    fields: dict  # every field except the three timestamps
    edits: int = 0
    _view: dict | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def key(self) -> str:
        return f"{self.project}-{self.number}"

    def value(self, name: str) -> Any:
        """The value JQL compares and sorts by."""
        return _VALUES[name](self)

    def view(self) -> dict:
        """Every field as the API shows it, cached until touched; it shares nested values: read only."""
        if self._view is None:
            values = {
                **self.fields,
                "created": jira_time(self.created_ms),
                "updated": jira_time(self.updated_ms),
                "resolutiondate": jira_time(self.resolved_ms) if self.resolved_ms is not None else None,
            }
            self._view = {name: values[name] for name in _ALL_FIELDS}
        return self._view

    def all_fields(self) -> dict:
        return copy.deepcopy(self.view())

    def touch(self, at_ms: int) -> None:
        """`updated` becomes at_ms, the summary changes."""
        self.updated_ms = at_ms
        self.edits += 1
        self.fields["summary"] = edited(self.fields["summary"], self.edits)
        self._view = None


_VALUES: dict[str, Callable[[_Issue], Any]] = {
    "project": operator.attrgetter("project"),
    "key": lambda issue: (issue.project, issue.number),
    "id": operator.attrgetter("id"),
    "updated": operator.attrgetter("updated_ms"),
    "created": operator.attrgetter("created_ms"),
    "labels": lambda issue: issue.fields["labels"],
    "issuetype": lambda issue: issue.fields["issuetype"]["name"].casefold(),
    "status": lambda issue: issue.fields["status"]["name"].casefold(),
}


@dataclass
class _Search:
    """One search request as read: Cloud (token) or Server (startAt), or an approximate count."""

    route: str  # cloud | server | count
    base_url: str
    jql: str
    fields: list[str]
    limit: int
    start_at: int = 0
    token: str | None = None
    query: jqlparse.Jql | None = None
    offset: int = 0

    @property
    def ids_only(self) -> bool:
        """Only ids (and keys) asked for: Cloud's cheapest search, pages of up to 5000."""
        return bool(self.fields) and set(self.fields) <= {"id", "key"}


class FakeJira:
    """The Jira half of the fake server: projects, issues, the JQL search endpoints."""

    service = "jira"

    def __init__(self, mode: str = "cloud") -> None:
        self._lock = threading.RLock()
        self._projects: dict[str, dict] = {}
        self._issues: dict[str, dict[int, _Issue]] = {}
        self._sorted: dict[tuple, tuple[list[_Issue], list]] = {}  # see _ordered(); emptied on every change
        self._ids: set[int] = set()  # every issue's id, for the check that JQL names existing issues
        self._next_id = FIRST_ISSUE_ID
        self.mode = mode

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        if value not in MODES:
            raise ValueError(f"jira mode is one of {MODES}, not {value!r}")
        self._mode = value

    # --- data -----------------------------------------------------------------------------

    def add_project(self, key: str, count: int, seed: int = 1) -> None:
        """Issues KEY-1..KEY-count, ids unique on this server, deterministic from the seed."""
        rng = random.Random(f"{key}:{seed}")  # noqa: S311 - reproducible data, not security
        with self._lock:
            if key in self._projects:
                raise ValueError(f"project {key} exists already")
            project = {"id": str(10000 + len(self._projects)), "key": key, "name": f"Project {key}"}
            self._projects[key] = project
            self._issues[key] = {}
            self._sorted.clear()
            for number, (created, updated) in enumerate(spread_times(rng, count, step_ms=1), start=1):
                self._issues[key][number] = self._generate(rng, project, number, created, updated)
                self._ids.add(self._next_id)
                self._next_id += 1

    def _generate(self, rng: random.Random, project: dict, number: int, created: int, updated: int) -> _Issue:
        status, category = rng.choices(_STATUSES, weights=(30, 20, 50))[0]
        fields = {
            "summary": title(rng),
            "status": {"name": status, "statusCategory": {"key": category}},
            "issuetype": {"name": rng.choice(_TYPES)},
            "priority": {"name": rng.choice(_PRIORITIES)},
            "assignee": None if rng.random() < 0.15 else _person(rng.choice(_PEOPLE)),
            "reporter": None if rng.random() < 0.02 else _person(rng.choice(_PEOPLE)),
            "labels": rng.sample(_LABELS, rng.choice((0, 0, 1, 1, 2, 3))),
            "project": dict(project),
        }
        resolved = rng.randint(created, updated) if category == "done" else None
        return _Issue(self._next_id, project["key"], number, created, updated, resolved, fields)

    def issues(self, project: str) -> list[dict]:
        """The project's issues now, by number: {"id", "key", "fields": every field}."""
        with self._lock:
            return [
                {"id": str(issue.id), "key": issue.key, "fields": issue.all_fields()}
                for _, issue in sorted(self._issues[project].items())
            ]

    def touch(self, project: str, keys: list[str], at_ms: int | None = None) -> None:
        """Update issues: `updated` becomes at_ms (default now), the summary changes."""
        at_ms = now_ms() if at_ms is None else at_ms
        with self._lock:
            self._sorted.clear()
            for key in keys:
                self._issues[project][self._number(project, key)].touch(at_ms)

    def delete(self, project: str, keys: list[str]) -> None:
        """Delete issues: searches no longer return them, and JQL naming them is refused."""
        with self._lock:
            self._sorted.clear()
            for key in keys:
                self._ids.discard(self._issues[project].pop(self._number(project, key)).id)

    def _missing(self, query: jqlparse.Jql) -> list[str]:
        """Jira's refusal of the issues the query names that do not exist, one message per value."""
        with self._lock:
            missing = [
                (name, text)
                for name, text, field, value in query.named_issues()
                if not (value in self._ids if field == "id" else value[1] in self._issues.get(value[0], {}))
            ]
        return [
            f"An issue with key '{text}' does not exist for field '{name}'." for name, text in dict.fromkeys(missing)
        ]

    def _number(self, project: str, key: str) -> int:
        prefix, _, number = key.partition("-")
        if prefix != project or not number.isdigit() or int(number) not in self._issues[project]:
            raise KeyError(f"no issue {key} in project {project}")
        return int(number)

    def _select(self, query: jqlparse.Jql) -> list[_Issue]:
        """The matching issues in the query's order (live objects: hold the lock while reading them)."""
        with self._lock:
            return list(self._matching(query))

    def _matching(self, query: jqlparse.Jql) -> Iterator[_Issue]:
        """The matching issues in the query's order, lazily: call it and read them under the lock.

        Rather than test every issue: only the issues of the projects the query is limited to, already
        sorted, cut by bisection to the range its bounds on the first sort field allow.
        """
        rest = list(query.conjuncts())
        projects = sorted(self._issues)
        scope = next((c for c in rest if _clause(c, "project") and c.op in ("=", "in")), None)
        if scope is not None:
            rest.remove(scope)
            projects = [project for project in projects if project in scope.values]
        issues, values = self._ordered(tuple(projects), query)
        field, descending = (query.order or (("key", False),))[0]  # key ascending: Jql.sort's last resort
        low, high = 0, len(issues)
        for clause in [c for c in rest if _clause(c, field) and c.op in _BISECT]:
            rest.remove(clause)
            after, before = _BISECT[clause.op]
            low = max(low, after(values, clause.values[0])) if after else low
            high = min(high, before(values, clause.values[0])) if before else high
        if descending:  # values ascend: the range counts from the end
            low, high = len(issues) - high, len(issues) - low
        window = issues[low:high]
        return filter(jqlparse.predicate(jqlparse.Group("and", tuple(rest))), window) if rest else iter(window)

    def _ordered(self, projects: tuple[str, ...], query: jqlparse.Jql) -> tuple[list[_Issue], list]:
        """The projects' issues in the query's order, and the values of its first sort field, ascending.

        Sorted once per change of the data (and per order), not per request.
        """
        key = (projects, query.order)
        if key not in self._sorted:
            issues = query.sort([issue for project in projects for issue in self._issues[project].values()])
            field, descending = (query.order or (("key", False),))[0]
            values = [issue.value(field) for issue in issues]
            self._sorted[key] = (issues, values[::-1] if descending else values)
        return self._sorted[key]

    # --- HTTP -----------------------------------------------------------------------------

    def describe(self, request: Request) -> Call:
        """Read a request: its route, kind, project and page key; errors found here become the reply."""
        route = self._route(request)
        if not _authorized(request.headers.get("authorization", "")):
            return Call(reply=_error(401, UNAUTHORIZED))
        if route not in ("cloud", "server", "count"):
            return Call(reply=self._not_a_search(request, route))
        try:
            search = self._read_search(request, route)
        except ValueError as exc:
            return Call(reply=_error(400, str(exc)))
        call = Call(
            kind=COUNT if search.route == "count" else IDS if search.ids_only else PAGE,
            key=(search.jql, search.token if search.route == "cloud" else search.start_at),
            page_size=search.limit,
            has_cursor=search.token is not None,
            detail=search,
        )
        try:
            search.query = jqlparse.parse(search.jql)
        except jqlparse.JqlError as exc:
            call.reply = _error(400, f"Error in the JQL Query: {exc}")
            return call
        call.entity = search.query.project()
        if search.route != "server" and search.query.where is None:
            call.reply = _error(400, UNBOUNDED)
        elif missing := self._missing(search.query):
            call.reply = _error(400, *missing)
        elif search.token is not None:
            offset = _read_token(search.token, search.jql)
            if offset is None:
                call.reply = _error(400, BAD_TOKEN)
            else:
                search.offset = offset
        return call

    def answer(self, call: Call, fault: Fault | None) -> Reply:
        kind = fault.kind if fault else None
        if kind in ("rate_limit", "http_502", "http_504", "corrupt_page", "invalid_token"):
            return self._fault_reply(fault, call)
        if call.reply is not None:
            return call.reply
        search: _Search = call.detail
        if kind == "reorder":
            self._reorder(search.query, fault.params)
        if search.route == "count":
            return Reply.json(200, {"count": len(self._select(search.query))})
        payload = self._search(search)
        if kind == "corrupt_record" and len(payload["issues"]) > 1:
            payload["issues"][1]["fields"]["updated"] = "yesterday"
        return Reply.json(200, payload)

    def _route(self, request: Request) -> str | None:
        """cloud | server | count (searches), removed, server_info, or None: not found."""
        path, method = request.path.rstrip("/"), request.method
        if path in ("/rest/api/2/serverInfo", "/rest/api/3/serverInfo") and method == "GET":
            return "server_info"
        if self.mode == "server":
            return "server" if path == "/rest/api/2/search" else None
        if path == "/rest/api/3/search/jql":
            return "cloud"
        if path == "/rest/api/3/search/approximate-count" and method == "POST":
            return "count"
        if path in ("/rest/api/3/search", "/rest/api/2/search"):
            return "removed"
        return None

    def _not_a_search(self, request: Request, route: str | None) -> Reply:
        if route == "removed":
            return _error(410, REMOVED)
        if route == "server_info":
            return Reply.json(200, self._server_info(request.base_url))
        uri = f"{request.base_url}{request.path}"
        return Reply.json(404, {"message": f"null for uri: {uri}", "status-code": 404})

    def _read_search(self, request: Request, route: str) -> _Search:
        """The search parameters, from the query string (GET) or the JSON body (POST)."""
        if request.method == "POST":
            try:
                body = request.json()
            except ValueError:
                body = None
            if not isinstance(body, dict):
                raise ValueError(BAD_PAYLOAD)
            params = body
            fields = body.get("fields")
        else:
            params = {name: values[0] for name, values in request.query.items()}
            fields = ",".join(request.query["fields"]).split(",") if "fields" in request.query else None
        if fields is None:  # Cloud answers ids only unless asked for fields; Server answers them all
            fields = ["id"] if route == "cloud" else ["*navigable"]
        fields = [name.strip() for name in fields if name.strip()]
        limit = _integer(params.get("maxResults"), "maxResults", DEFAULT_PAGE)
        if route == "server":
            limit = min(max(limit, 0), MAX_PAGE["server"])
        else:
            limit = min(max(limit, 1), MAX_ID_PAGE if set(fields) <= {"id", "key"} else MAX_PAGE["cloud"])
        return _Search(
            route=route,
            base_url=request.base_url,
            jql=str(params.get("jql") or ""),
            fields=fields,
            limit=limit,
            start_at=max(_integer(params.get("startAt"), "startAt", 0), 0),
            token=str(params["nextPageToken"]) if route == "cloud" and params.get("nextPageToken") else None,
        )

    def _search(self, search: _Search) -> dict:
        start = search.offset if search.route == "cloud" else search.start_at
        api_url = f"{search.base_url}/rest/api/{'3' if search.route == 'cloud' else '2'}"
        names = _field_names(search.fields)
        with_key = search.route == "server" or bool({"key", "*all", "*navigable"} & set(search.fields))
        with self._lock:
            matching = self._matching(search.query)
            # Server reports the total; for Cloud, one issue past the page tells whether it is the last
            found = list(matching if search.route == "server" else itertools.islice(matching, start + search.limit + 1))
            page = found[start : start + search.limit]
            issues = [_render(issue, names, api_url, full=search.route == "server", key=with_key) for issue in page]
        if search.route == "server":
            return {
                "expand": "schema,names",
                "startAt": start,
                "maxResults": search.limit,
                "total": len(found),
                "issues": issues,
            }
        payload: dict[str, Any] = {"issues": issues}
        end = start + len(page)
        if end < len(found):
            payload["nextPageToken"] = _token(end, search.jql)
        payload["isLast"] = end >= len(found)
        return payload

    def _reorder(self, query: jqlparse.Jql, params: dict) -> None:
        """Update issues mid-walk so they move: params["keys"], else `count` from the end of the order."""
        keys = params.get("keys")
        if keys is None:
            found = self._select(query)
            count = params.get("count", 3)
            chosen = found[:count] if params.get("from") == "start" else found[-count:]
            keys = [issue.key for issue in chosen]
        at_ms = now_ms()
        for key in keys:
            self.touch(key.partition("-")[0], [key], at_ms)

    def _fault_reply(self, fault: Fault, call: Call) -> Reply:
        match fault.kind:
            case "rate_limit":
                wait = int(fault.params.get("reset_after", 60))
                reset = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=wait)
                headers = {
                    "Retry-After": str(wait),
                    "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "RateLimit-Reason": "jira-quota-tenant-based",
                }
                return _error(429, "Rate limit exceeded.", headers=headers)
            case "http_502" | "http_504":
                status = int(fault.kind.removeprefix("http_"))
                text = {502: "502 Bad Gateway", 504: "504 Gateway Time-out"}[status]
                return Reply.html(
                    status, f"<html><head><title>{text}</title></head><body><h1>{text}</h1></body></html>"
                )
            case "invalid_token":
                return _error(400, BAD_TOKEN)
            case _:  # corrupt_page: valid JSON, wrong shape
                if call.kind == COUNT:
                    return Reply.json(200, {"count": "oops"})
                if self.mode == "server":
                    return Reply.json(200, {"issues": "oops", "startAt": 0, "total": 1})
                return Reply.json(200, {"issues": "oops", "isLast": True})

    def _server_info(self, base_url: str) -> dict:
        if self.mode == "cloud":
            version, deployment = "1001.0.0-SNAPSHOT", "Cloud"
        else:
            version, deployment = "9.12.2", "Server"
        return {"baseUrl": base_url, "version": version, "deploymentType": deployment, "serverTitle": "Jira"}


def _authorized(header: str) -> bool:
    scheme, _, credentials = header.partition(" ")
    return scheme.lower() in ("basic", "bearer") and bool(credentials.strip())


def _integer(value: Any, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"The value '{value}' is invalid for {name}.") from None


def _token(offset: int, jql: str) -> str:
    state = {"offset": offset, "jql": hashlib.sha256(jql.encode()).hexdigest()[:16]}
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode()


def _read_token(token: str, jql: str) -> int | None:
    """The offset a token carries, or None when it is not ours or belongs to another query."""
    try:
        state = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(state, dict) or state.get("jql") != hashlib.sha256(jql.encode()).hexdigest()[:16]:
        return None
    offset = state.get("offset")
    return offset if isinstance(offset, int) and offset >= 0 else None


def _clause(node: jqlparse.Clause | jqlparse.Group, field: str) -> bool:
    return isinstance(node, jqlparse.Clause) and node.field == field


# a bound on the first sort field -> where the range of the ascending values starts, where it ends
_BISECT = {
    ">": (bisect.bisect_right, None),
    ">=": (bisect.bisect_left, None),
    "<": (None, bisect.bisect_left),
    "<=": (None, bisect.bisect_right),
    "=": (bisect.bisect_left, bisect.bisect_right),
}


def _field_names(fields: list[str]) -> list[str]:
    """The requested fields, in the order the API shows them."""
    wanted = set(_ALL_FIELDS) if "*all" in fields or "*navigable" in fields else set(fields)
    wanted -= {name[1:] for name in fields if name.startswith("-")}
    return [name for name in _ALL_FIELDS if name in wanted]


def _render(issue: _Issue, names: list[str], api_url: str, *, full: bool, key: bool) -> dict:
    """The issue as the search endpoints return it: Server in ``full``, Cloud only what was asked for."""
    if not (full or names):  # Cloud, ids (and keys) only
        return {"id": str(issue.id), "key": issue.key} if key else {"id": str(issue.id)}
    view = issue.view()
    rendered = {"expand": _EXPAND, "id": str(issue.id), "self": f"{api_url}/issue/{issue.id}"}
    if key:
        rendered["key"] = issue.key
    rendered["fields"] = {name: view[name] for name in names}
    return rendered
