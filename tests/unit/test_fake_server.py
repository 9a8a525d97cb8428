"""The fake Jira + GitHub server, through real HTTP: API shapes, JQL, keyset cursors, validation, faults."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from graphql import (
    GraphQLEnumType,
    GraphQLNamedType,
    execute_sync,
    is_specified_scalar_type,
    parse,
    validate,
)

from reliable_etl.sync.hooks.github import QUERY_DIR, load_query
from reliable_etl_dev.fakes import FakeServer, Fault
from reliable_etl_dev.fakes.fastpath import Unsupported, compile_plan
from reliable_etl_dev.fakes.github import Context, FakeGitHub, _Order, load_schema, node_id, subset_schema
from reliable_etl_dev.fakes.jira import FakeJira
from reliable_etl_dev.fakes.jql import parse as parse_jql
from reliable_etl_dev.testing.sync import GITHUB_SCHEMA as REAL_SCHEMA  # ../shared, when present

needs_real_schema = pytest.mark.skipif(not REAL_SCHEMA.exists(), reason=f"{REAL_SCHEMA} is not on this machine")
FRAGMENT = (QUERY_DIR / "pull_request_fields.fragment.graphql").read_text()
FRAGMENT_FIELDS = re.findall(r"^  (\w+)", FRAGMENT, flags=re.MULTILINE)
GITHUB_AUTH = {"Authorization": "bearer fake-token"}
JIRA_AUTH = ("me@example.com", "fake-token")


def query_text(name: str) -> str:
    return load_query(name)  # exactly what the hook sends


PAGE_QUERY = query_text("pull_requests_page")
IDS_QUERY = query_text("pull_request_ids")
BY_ID_QUERY = query_text("pull_requests_by_id")


@pytest.fixture
def srv() -> FakeServer:
    with FakeServer() as server:
        server.github.add_repo("acme/api", count=250, seed=1)
        server.jira.add_project("ENG", count=500, seed=1)
        yield server


def graphql(srv: FakeServer, query: str, headers: dict | None = None, **variables: object) -> requests.Response:
    body = {"query": query, "variables": variables}
    return requests.post(
        f"{srv.url}/graphql", json=body, headers=GITHUB_AUTH if headers is None else headers, timeout=5
    )


def pr_page(srv: FakeServer, first: int = 50, after: str | None = None, repo: str = "acme/api") -> requests.Response:
    owner, name = repo.split("/")
    return graphql(srv, PAGE_QUERY, owner=owner, name=name, first=first, after=after)


def connection(response: requests.Response) -> dict:
    return response.json()["data"]["repository"]["pullRequests"]


def walk_prs(srv: FakeServer, query: str = PAGE_QUERY, first: int = 100) -> list[dict]:
    nodes, after = [], None
    while True:
        page = connection(graphql(srv, query, owner="acme", name="api", first=first, after=after))
        nodes += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


def search(srv: FakeServer, jql: str, fields: list[str] | None = None, **body: object) -> requests.Response:
    payload = {"jql": jql, **body} | ({"fields": fields} if fields is not None else {})
    return requests.post(f"{srv.url}/rest/api/3/search/jql", json=payload, auth=JIRA_AUTH, timeout=5)


def search_all(srv: FakeServer, jql: str, fields: list[str] | None = None, max_results: int = 100) -> list[dict]:
    issues, token = [], None
    while True:
        asked = [*(fields or ["updated"]), "key"]  # Cloud gives keys only when asked for
        page = search(srv, jql, asked, maxResults=max_results, nextPageToken=token).json()
        issues += page["issues"]
        if page["isLast"]:
            assert "nextPageToken" not in page
            return issues
        token = page["nextPageToken"]


def jira_ms(text: str) -> int:
    return round(dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() * 1000)


def pr_key(pr: dict) -> tuple[str, int]:
    return pr["updatedAt"], int(pr["fullDatabaseId"])


# --- GitHub ---------------------------------------------------------------------------------


def test_github_page_has_the_fragment_shape_cost_and_rate_headers(srv: FakeServer) -> None:
    first = graphql(srv, PAGE_QUERY, owner="acme", name="api", first=2, after=None)
    second = pr_page(srv, first=2)

    assert first.status_code == 200
    data = first.json()["data"]
    assert set(data["rateLimit"]) == {"cost", "remaining", "resetAt"}
    assert data["rateLimit"]["cost"] == 1
    assert second.json()["data"]["rateLimit"]["remaining"] == data["rateLimit"]["remaining"] - 1
    page = data["repository"]["pullRequests"]
    assert page["totalCount"] == 250
    assert set(page["pageInfo"]) == {"endCursor", "hasNextPage"}
    assert [list(node) for node in page["nodes"]] == [FRAGMENT_FIELDS] * 2
    node = page["nodes"][0]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", node["updatedAt"])
    assert node["fullDatabaseId"].isdigit()
    assert node["url"] == f"https://github.com/acme/api/pull/{node['number']}"
    assert base64.urlsafe_b64decode(node["id"][3:]).decode() == f"acme/api#{node['number']}"
    headers = second.headers
    assert headers["x-ratelimit-limit"] == "5000"
    assert headers["x-ratelimit-resource"] == "graphql"
    assert int(headers["x-ratelimit-used"]) == 2
    assert int(headers["x-ratelimit-remaining"]) == 4998
    assert int(headers["x-ratelimit-reset"]) == pytest.approx(time.time() + 3600, abs=30)


def test_github_walk_returns_every_pr_newest_update_first(srv: FakeServer) -> None:
    nodes = walk_prs(srv)

    keys = [pr_key(node) for node in nodes]
    assert keys == sorted(keys, reverse=True)
    truth = sorted(srv.github.pull_requests("acme/api"), key=pr_key, reverse=True)
    assert nodes == truth
    assert len({node["number"] for node in nodes}) == 250
    assert srv.page_requests("github", "acme/api")[0].key is None


def test_generated_prs_are_deterministic_and_varied(srv: FakeServer) -> None:
    prs = srv.github.pull_requests("acme/api")
    with FakeServer() as other:
        other.github.add_repo("acme/api", count=250, seed=1)
        other.github.add_repo("acme/web", count=10, seed=1)
        assert other.github.pull_requests("acme/api") == prs
        web_ids = {pr["fullDatabaseId"] for pr in other.github.pull_requests("acme/web")}
        assert not web_ids & {pr["fullDatabaseId"] for pr in prs}

    assert [pr["number"] for pr in prs] == list(range(1, 251))
    assert {pr["state"] for pr in prs} == {"OPEN", "CLOSED", "MERGED"}
    assert any(pr["author"] is None for pr in prs)
    assert any(pr["labels"]["nodes"] for pr in prs)
    assert len({pr["updatedAt"] for pr in prs}) < 250  # some share a timestamp: boundary cases
    assert all(pr["createdAt"] <= pr["updatedAt"] for pr in prs)
    assert all((pr["mergedAt"] is not None) == (pr["state"] == "MERGED") for pr in prs)


def test_keyset_cursor_survives_touches_and_deletes(srv: FakeServer) -> None:
    page1 = connection(pr_page(srv, first=50))
    cursor_key = pr_key(page1["nodes"][-1])
    later = connection(pr_page(srv, first=50, after=page1["pageInfo"]["endCursor"]))["nodes"]
    srv.github.touch("acme/api", [later[0]["number"], page1["nodes"][0]["number"]])
    srv.github.delete("acme/api", [page1["nodes"][-1]["number"]])

    page2 = connection(pr_page(srv, first=50, after=page1["pageInfo"]["endCursor"]))["nodes"]

    assert page2 == later[1:] + page2[-1:]  # the touched one jumped to the front; the rest moved up by one
    assert all(pr_key(node) < cursor_key for node in page2)


def test_touch_changes_updated_at_and_title(srv: FakeServer) -> None:
    before = {pr["number"]: pr for pr in srv.github.pull_requests("acme/api")}
    at = dt.datetime(2025, 2, 3, 4, 5, 6, tzinfo=dt.UTC)

    srv.github.touch("acme/api", numbers=[3], at=at)
    srv.github.touch("acme/api", numbers=[7])
    srv.github.touch("acme/api", numbers=[7])
    srv.github.delete("acme/api", [5])

    after = {pr["number"]: pr for pr in srv.github.pull_requests("acme/api")}
    assert after[3]["updatedAt"] == "2025-02-03T04:05:06Z"
    assert after[3]["title"] == before[3]["title"] + " (edit 1)"
    assert after[7]["title"] == before[7]["title"] + " (edit 2)"
    assert after[7]["updatedAt"] > before[7]["updatedAt"]
    assert 5 not in after
    assert connection(pr_page(srv, first=1))["nodes"][0]["number"] == 7


def test_id_sweep_orders_by_number(srv: FakeServer) -> None:
    nodes = walk_prs(srv, IDS_QUERY, first=100)

    assert nodes == [{"id": pr["id"]} for pr in srv.github.pull_requests("acme/api")]
    assert [r.kind for r in srv.requests] == ["ids"] * 3


def test_nodes_by_id_with_unknown_and_deleted(srv: FakeServer) -> None:
    prs = srv.github.pull_requests("acme/api")
    srv.github.delete("acme/api", [2])
    ids = [prs[0]["id"], prs[1]["id"], "PR_bm9wZSMx", prs[2]["id"]]

    body = graphql(srv, BY_ID_QUERY, ids=ids).json()

    assert body["data"]["nodes"] == [prs[0], None, None, prs[2]]
    assert [(e["type"], e["path"]) for e in body["errors"]] == [
        ("NOT_FOUND", ["nodes", 1]),
        ("NOT_FOUND", ["nodes", 2]),
    ]
    assert body["errors"][0]["message"] == f"Could not resolve to a node with the global id of '{prs[1]['id']}'"
    assert (srv.requests[0].kind, srv.requests[0].entity) == ("nodes", "acme/api")


def test_unknown_repository_is_not_found(srv: FakeServer) -> None:
    body = pr_page(srv, repo="acme/nope").json()

    assert body["data"]["repository"] is None
    assert body["data"]["rateLimit"]["cost"] == 1
    (error,) = body["errors"]
    assert error["type"] == "NOT_FOUND"
    assert error["path"] == ["repository"]
    assert error["message"] == "Could not resolve to a Repository with the name 'acme/nope'."


def test_first_above_100_is_refused(srv: FakeServer) -> None:
    (error,) = pr_page(srv, first=101).json()["errors"]

    assert error["type"] == "EXCESSIVE_PAGINATION"
    assert error["message"] == (
        "Requesting 101 records on the `pullRequests` connection exceeds the `first` limit of 100 records."
    )


def test_undecodable_cursor_is_invalid(srv: FakeServer) -> None:
    body = pr_page(srv, after="bm90LWEtY3Vyc29y").json()

    assert body["data"]["repository"] is None  # pullRequests is non-null: the null propagates
    (error,) = body["errors"]
    assert error["type"] == "INVALID_CURSOR_ARGUMENTS"
    assert error["path"] == ["repository", "pullRequests"]
    assert error["locations"]
    assert error["message"] == "`bm90LWEtY3Vyc29y` does not appear to be a valid cursor."


def test_validation_rejects_an_unknown_field(srv: FakeServer) -> None:
    query = 'query { repository(owner: "acme", name: "api") { pullRequests(first: 1) { nodes { bogus } } } }'

    response = graphql(srv, query)

    assert response.status_code == 200
    body = response.json()
    assert "data" not in body
    assert "bogus" in body["errors"][0]["message"]
    assert body["errors"][0]["locations"] == [{"line": 1, "column": query.index("bogus") + 1}]
    assert srv.github.pull_requests("acme/api")  # nothing executed, nothing charged
    assert graphql(srv, "{ rateLimit { used } }").json()["data"]["rateLimit"]["used"] == 1


def test_github_needs_a_token(srv: FakeServer) -> None:
    for headers in ({}, {"Authorization": "bearer "}, {"Authorization": "Basic eDp5"}):
        response = graphql(srv, PAGE_QUERY, headers=headers, owner="acme", name="api", first=1)
        assert response.status_code == 401
        assert response.json() == {"message": "Bad credentials", "documentation_url": "https://docs.github.com/graphql"}
    assert graphql(srv, IDS_QUERY, headers={"Authorization": "token abc"}, owner="acme", name="api", first=1).ok


def test_rate_limit_object_counts_down_in_an_hourly_window(srv: FakeServer) -> None:
    query = "{ rateLimit { cost limit remaining resetAt used nodeCount } }"
    first, second = (graphql(srv, query).json()["data"]["rateLimit"] for _ in range(2))

    assert (first["limit"], first["used"], first["remaining"]) == (5000, 1, 4999)
    assert (second["used"], second["remaining"]) == (2, 4998)
    reset = dt.datetime.fromisoformat(first["resetAt"].replace("Z", "+00:00"))
    assert reset.timestamp() == pytest.approx(time.time() + 3600, abs=30)


@needs_real_schema
def test_server_validates_against_githubs_schema() -> None:
    with FakeServer(github_schema_path=REAL_SCHEMA) as srv:
        srv.github.add_repo("acme/api", count=5)
        assert connection(pr_page(srv))["totalCount"] == 5
        unknown = graphql(srv, "{ viewer { bogusField } }").json()
        assert "bogusField" in unknown["errors"][0]["message"]
        # valid on github.com, outside what the fake executes
        beyond = graphql(srv, "{ viewer { login } }").json()
        assert "implements only part of GitHub's schema" in beyond["errors"][0]["message"]


def _members(named: GraphQLNamedType) -> dict[str, str]:
    """Each field, argument, input field and enum value of a type: {"Type.field(arg:)": "type = default"}."""
    if isinstance(named, GraphQLEnumType):
        return {f"{named.name}.{value}": "" for value in named.values}
    members = {}
    for name, field in getattr(named, "fields", {}).items():
        members[f"{named.name}.{name}"] = f"{field.type} = {getattr(field, 'default_value', None)}"
        for arg_name, arg in getattr(field, "args", {}).items():
            members[f"{named.name}.{name}({arg_name}:)"] = f"{arg.type} = {arg.default_value}"
    return members


@needs_real_schema
def test_schema_subset_is_a_true_subset_of_githubs_schema() -> None:
    real, subset = load_schema(REAL_SCHEMA), subset_schema()

    for name, named in subset.type_map.items():
        if name.startswith("__"):
            continue
        theirs = real.type_map[name]
        assert type(named) is type(theirs), name
        assert named.description is None or is_specified_scalar_type(named), name
        ours, full = _members(named), _members(theirs)
        assert {member: full.get(member) for member in ours} == ours
        interfaces = {i.name for i in getattr(named, "interfaces", ())}
        assert interfaces <= {i.name for i in getattr(theirs, "interfaces", ())}, name


ADHOC_QUERY = """
query Adhoc($owner: String!, $name: String!, $first: Int = 3) {
  __typename
  limits: rateLimit(dryRun: true) { used remaining }
  repo: repository(owner: $owner, name: $name) {
    __typename
    full: nameWithOwner
    id
    newest: pullRequests(first: $first, orderBy: {field: CREATED_AT, direction: DESC}) {
      __typename
      totalCount
      pageInfo { startCursor endCursor hasNextPage hasPreviousPage }
      nodes {
        __typename
        n: number
        ...Some
        author { __typename who: login }
        labels(first: 1) { __typename nodes { __typename name } }
        ... on Node { id }
      }
    }
    open: pullRequests(first: 4, orderBy: {field: UPDATED_AT, direction: ASC}, states: [OPEN, MERGED]) {
      nodes { number state }
    }
    pullRequests(first: 2) { nodes { id } }
    again: pullRequests(first: 2) { nodes { title } }
  }
}
fragment Some on PullRequest { number title ...Some2 }
fragment Some2 on PullRequest { isDraft title author { login } }
"""
NODES_QUERY = """
query Nodes($ids: [ID!]!) {
  found: nodes(ids: $ids) {
    __typename
    id
    ... on PullRequest { number labels(first: 5) { nodes { name } } author { ... on User { login } } }
  }
}
"""
TWICE_QUERY = """
query Twice($ids: [ID!]!) { ...Found found: nodes(ids: $ids) { __typename } ...Found }
fragment Found on Query { found: nodes(ids: $ids) { id } }
"""
TWO_OPERATIONS = "query A { rateLimit { cost } }\nquery B { rateLimit { limit nodeCount } __typename }"
# Queries graphql-core answers with errors beyond a missing node, or that need what the fast path leaves out.
DECLINED = {
    "directive": ('query($x: Boolean!) { rateLimit { cost @include(if: $x) } }', {"x": True}),
    "introspection": ("{ __schema { queryType { name } } }", {}),
    "unknown repository": (PAGE_QUERY, {"owner": "acme", "name": "nope", "first": 5}),
    "bad cursor": (PAGE_QUERY, {"owner": "acme", "name": "api", "first": 5, "after": "bm90LWEtY3Vyc29y"}),
    "page too big": (PAGE_QUERY, {"owner": "acme", "name": "api", "first": 101}),
    "variable of the wrong type": (PAGE_QUERY, {"owner": "acme", "name": "api", "first": "ten"}),
    "null in a non-null field": ('{ repository(owner: "acme", name: "api") { pullRequests(first: 5) '
                                 "{ nodes { author { ... on User { id } } } } } }", {}),
}  # fmt: skip


def _github_context(github: FakeGitHub) -> Context:
    rate = {"cost": 1, "limit": 5000, "nodeCount": 0, "remaining": 4999, "resetAt": "x", "used": 1, "reset": 0}
    return Context(github, rate, None)


def _fast_and_core(github: FakeGitHub, query: str, variables: dict, operation: str | None = None) -> tuple:
    document = parse(query)
    assert validate(subset_schema(), document) == []
    core = execute_sync(
        subset_schema(), document, context_value=_github_context(github), variable_values=variables,
        operation_name=operation,
    )  # fmt: skip
    plan = compile_plan(subset_schema(), document, operation)
    if plan is None:
        return None, core
    try:
        return plan.execute(variables, _github_context(github)), core
    except Unsupported:
        return None, core


@pytest.fixture
def github() -> FakeGitHub:
    fake = FakeGitHub()
    fake.add_repo("acme/api", count=40, seed=3)
    fake.add_repo("acme/web", count=5, seed=3)
    fake.touch("acme/api", [3, 9])
    fake.delete("acme/api", [4])
    return fake


def test_fast_path_answers_exactly_as_graphql_core(github: FakeGitHub) -> None:
    prs = github.pull_requests("acme/api")
    web = github.pull_requests("acme/web")
    page = {"owner": "acme", "name": "api", "first": 100}

    def end_cursor(query: str, first: int) -> str:
        data = _fast_and_core(github, query, {**page, "first": first})[1].data
        return data["repository"]["pullRequests"]["pageInfo"]["endCursor"]

    ids = [prs[0]["id"], node_id("acme/api", 4), "PR_bm9wZSMx", "garbage", web[1]["id"], "R_YWNtZS9hcGk=", prs[5]["id"]]
    cases = {
        "page": (PAGE_QUERY, page),
        "page after a cursor": (PAGE_QUERY, {**page, "first": 7, "after": end_cursor(PAGE_QUERY, 7)}),
        "last page": (PAGE_QUERY, {**page, "first": 7, "after": end_cursor(PAGE_QUERY, 38)}),
        "id sweep": (IDS_QUERY, page),
        "id sweep after a cursor": (IDS_QUERY, {**page, "first": 10, "after": end_cursor(IDS_QUERY, 10)}),
        "by id": (BY_ID_QUERY, {"ids": [pr["id"] for pr in prs[:20]]}),
        "by id, unknown and deleted": (BY_ID_QUERY, {"ids": ids}),
        "by id, none": (BY_ID_QUERY, {"ids": []}),
        "aliases, fragments, merges": (ADHOC_QUERY, {"owner": "acme", "name": "api"}),
        "default variable overridden": (ADHOC_QUERY, {"owner": "acme", "name": "web", "first": 10}),
        "nodes on the interface": (NODES_QUERY, {"ids": ids}),
        "a single id for a list": (NODES_QUERY, {"ids": prs[1]["id"]}),
        "a fragment spread twice": (TWICE_QUERY, {"ids": ids}),
        "rate limit only": ("{ rateLimit { cost limit nodeCount remaining resetAt used } }", {}),
    }  # fmt: skip

    for name, (query, variables) in cases.items():
        fast, core = _fast_and_core(github, query, variables)
        assert fast is not None, f"{name}: the fast path declined"
        data, errors = fast
        assert json.dumps(data) == json.dumps(core.data), name  # same content, same key order
        assert [e.formatted for e in errors] == [e.formatted for e in core.errors or []], name
    fast, core = _fast_and_core(github, TWO_OPERATIONS, {}, operation="B")
    assert fast == (core.data, [])


@pytest.mark.parametrize("case", DECLINED)
def test_fast_path_declines_what_it_does_not_reproduce(github: FakeGitHub, case: str) -> None:
    query, variables = DECLINED[case]

    fast, core = _fast_and_core(github, query, variables)

    assert fast is None
    assert core.data or core.errors


def test_connection_pages_as_a_plain_sort_and_filter(github: FakeGitHub) -> None:
    prs = github.pull_requests("acme/api")
    rng = random.Random(5)
    for field, direction in [(None, None), ("UPDATED_AT", "DESC"), ("UPDATED_AT", "ASC"), ("CREATED_AT", "DESC")]:
        order = _Order.of({"field": field, "direction": direction} if field else None)
        for states in (None, ["OPEN"], ["MERGED", "CLOSED"]):
            kept = [pr for pr in prs if not states or pr["state"] in states]
            kept.sort(key=order.key, reverse=order.descending)
            for after in [None, *(order.key(pr) for pr in rng.sample(prs, 5))]:
                beyond = [pr for pr in kept if after is None or (order.key(pr) < after) == order.descending]
                rest = [pr for pr in beyond if order.key(pr) != after]  # strictly after the cursor's key
                first = rng.randint(1, 12)

                page = github.connection("acme/api", order, first, after, states)

                assert page["nodes"] == rest[:first]
                assert (page["totalCount"], page["pageInfo"]["hasNextPage"]) == (len(kept), len(rest) > first)


def test_declined_queries_are_answered_by_graphql_core(srv: FakeServer) -> None:
    query = "query($x: Boolean!) { rateLimit { cost @include(if: $x) limit } }"

    assert graphql(srv, query, x=False).json() == {"data": {"rateLimit": {"limit": 5000}}}
    assert graphql(srv, query, x=True).json() == {"data": {"rateLimit": {"cost": 1, "limit": 5000}}}


# --- Jira -----------------------------------------------------------------------------------


def test_cloud_pages_with_next_page_token_until_is_last(srv: FakeServer) -> None:
    jql = 'project = "ENG" AND updated >= 0 ORDER BY updated ASC, key ASC'
    pages = []
    token = None
    while True:
        params = {"jql": jql, "fields": "key,summary,updated", "maxResults": 100, "nextPageToken": token}
        page = requests.get(f"{srv.url}/rest/api/3/search/jql", params=params, auth=JIRA_AUTH, timeout=5).json()
        pages.append(page)
        if page["isLast"]:
            break
        token = page["nextPageToken"]

    assert len(pages) == 5
    assert all(set(p) == {"issues", "nextPageToken", "isLast"} for p in pages[:-1])
    assert set(pages[-1]) == {"issues", "isLast"}
    issues = [issue for page in pages for issue in page["issues"]]
    assert len({issue["key"] for issue in issues}) == 500
    order = [(jira_ms(i["fields"]["updated"]), int(i["key"].split("-")[1])) for i in issues]
    assert order == sorted(order)
    issue = issues[0]
    assert list(issue) == ["expand", "id", "self", "key", "fields"]
    assert issue["self"] == f"{srv.url}/rest/api/3/issue/{issue['id']}"
    assert set(issue["fields"]) == {"summary", "updated"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", issue["fields"]["updated"])


def test_cloud_fields_and_page_sizes(srv: FakeServer) -> None:
    default = search(srv, "project = ENG").json()
    everything = search(srv, "project = ENG", ["*all"], maxResults=500).json()
    ids = search(srv, "project = ENG", ["id"], maxResults=5000).json()
    keys = search(srv, "project = ENG", ["id", "key"], maxResults=5000).json()
    summaries = search(srv, "project = ENG", ["summary"]).json()

    assert len(default["issues"]) == 50
    assert default["issues"][0] == {"id": "10001"}  # Cloud returns ids only unless asked for more
    assert len(everything["issues"]) == 100
    assert everything["issues"][0] == {
        "expand": "operations,versionedRepresentations,editmeta,changelog,renderedFields",
        "id": "10001",
        "self": f"{srv.url}/rest/api/3/issue/10001",
        "key": "ENG-1",
        "fields": srv.jira.issues("ENG")[0]["fields"],
    }
    assert len(ids["issues"]) == 500
    assert ids["isLast"] is True
    assert ids["issues"][0] == {"id": "10001"}
    assert len(keys["issues"]) == 500
    assert keys["issues"][0] == {"id": "10001", "key": "ENG-1"}
    assert list(summaries["issues"][0]) == ["expand", "id", "self", "fields"]  # no key unless asked for
    assert [r.kind for r in srv.requests] == ["ids", "page", "ids", "ids", "page"]


@pytest.mark.parametrize("mode", ["cloud", "server"])
@pytest.mark.parametrize(
    ("clause", "missing"),
    [
        ("id = 10009", [("10009", "id")]),
        ("id != 10009", [("10009", "id")]),
        ("id IN (10001, 10009, 99999, 10009)", [("10009", "id"), ("99999", "id")]),
        ("id NOT IN (10008, 10009)", [("10009", "id")]),
        ("id > 10009", [("10009", "id")]),
        ("id >= 10009", [("10009", "id")]),
        ("id < 10009", [("10009", "id")]),
        ("id <= 10009", [("10009", "id")]),
        ('key > "ENG-9"', [("ENG-9", "key")]),
        ("key >= ENG-9 AND key <= ENG-20", [("ENG-9", "key")]),
        ("(key < ENG-9 OR key = ENG-10)", [("ENG-9", "key")]),
        ("issuekey in (ENG-1, eng-9, OPS-1)", [("eng-9", "issuekey"), ("OPS-1", "issuekey")]),
        ("key NOT IN (ENG-9) AND id != 10008", [("ENG-9", "key")]),
    ],
)
def test_jql_naming_an_issue_that_does_not_exist_is_refused(srv: FakeServer, mode, clause, missing) -> None:
    srv.jira.delete("ENG", ["ENG-9"])  # id 10009
    srv.jira.mode = mode
    path = "/rest/api/3/search/jql" if mode == "cloud" else "/rest/api/2/search"
    body = {"jql": f'project = "ENG" AND {clause} ORDER BY key', "fields": ["id"]}

    response = requests.post(f"{srv.url}{path}", json=body, auth=JIRA_AUTH, timeout=5)

    assert response.status_code == 400
    assert response.json() == {
        "errorMessages": [f"An issue with key '{value}' does not exist for field '{name}'." for value, name in missing],
        "errors": {},
    }


def test_jql_naming_existing_issues_is_answered(srv: FakeServer) -> None:
    jql = 'project = ENG AND id IN (10008, 10010) AND key > "ENG-1" AND issuekey != ENG-500 ORDER BY key'
    srv.jira.delete("ENG", ["ENG-9"])

    assert [i["key"] for i in search_all(srv, jql)] == ["ENG-8", "ENG-10"]
    count = requests.post(
        f"{srv.url}/rest/api/3/search/approximate-count", json={"jql": "project = ENG AND id = 10009"}, auth=JIRA_AUTH
    )
    assert count.status_code == 400  # the count checks the issues it names too
    assert count.json()["errorMessages"] == ["An issue with key '10009' does not exist for field 'id'."]


def test_generated_issues_are_deterministic_and_varied(srv: FakeServer) -> None:
    issues = srv.jira.issues("ENG")
    srv.jira.add_project("OPS", count=3, seed=1)

    assert [i["id"] for i in issues] == [str(10000 + n) for n in range(1, 501)]
    assert [i["key"] for i in issues] == [f"ENG-{n}" for n in range(1, 501)]
    assert [i["id"] for i in srv.jira.issues("OPS")] == ["10501", "10502", "10503"]
    fields = [i["fields"] for i in issues]
    assert list(fields[0]) == [
        "summary", "status", "issuetype", "priority", "assignee", "reporter",
        "created", "updated", "resolutiondate", "labels", "project",
    ]  # fmt: skip
    assert {f["status"]["name"] for f in fields} == {"To Do", "In Progress", "Done"}
    assert any(f["assignee"] is None for f in fields)
    assert all((f["resolutiondate"] is None) == (f["status"]["name"] != "Done") for f in fields)
    assert len({f["updated"] for f in fields}) < 500
    assert fields[0]["project"] == {"id": "10000", "key": "ENG", "name": "Project ENG"}
    with FakeServer() as other:
        other.jira.add_project("ENG", count=500, seed=1)
        assert other.jira.issues("ENG") == issues


def test_typical_sync_queries(srv: FakeServer) -> None:
    truth = srv.jira.issues("ENG")
    updated = sorted({jira_ms(i["fields"]["updated"]) for i in truth})
    low, high = updated[100], updated[200]
    window = [i for i in truth if low <= jira_ms(i["fields"]["updated"]) <= high]
    skip = [int(window[0]["id"]), int(window[1]["id"])]
    jql = (
        f'project = "ENG" AND updated >= {low} AND updated <= {high} AND id NOT IN ({skip[0]}, {skip[1]})'
        " ORDER BY updated ASC, key ASC"
    )

    found = search_all(srv, jql, max_results=30)

    expected = sorted(
        (i for i in window if int(i["id"]) not in skip), key=lambda i: (jira_ms(i["fields"]["updated"]), int(i["id"]))
    )
    assert [i["key"] for i in found] == [i["key"] for i in expected]

    sweep = search_all(srv, 'project = "ENG" AND key > "ENG-100" ORDER BY key ASC', ["id"], max_results=5000)
    assert [i["key"] for i in sweep] == [f"ENG-{n}" for n in range(101, 501)]

    created_max = jira_ms(truth[299]["fields"]["created"])
    count = requests.post(
        f"{srv.url}/rest/api/3/search/approximate-count",
        json={"jql": f'project = "ENG" AND created <= {created_max}'},
        auth=JIRA_AUTH,
        timeout=5,
    )
    assert count.json() == {"count": sum(jira_ms(i["fields"]["created"]) <= created_max for i in truth)}
    assert srv.requests[-1].kind == "count"


def test_jql_groups_lists_and_ordering(srv: FakeServer) -> None:
    truth = {i["key"]: i["fields"] for i in srv.jira.issues("ENG")}
    jql = 'project = eng AND (status IN ("Done", "To Do") OR labels = security) ORDER BY updated DESC, created'

    found = search_all(srv, jql, ["updated", "created"])

    expected = [k for k, f in truth.items() if f["status"]["name"] in ("Done", "To Do") or "security" in f["labels"]]
    assert sorted(i["key"] for i in found) == sorted(expected)
    keys = [(-jira_ms(i["fields"]["updated"]), jira_ms(i["fields"]["created"]), int(i["key"][4:])) for i in found]
    assert keys == sorted(keys)  # key ascending breaks the remaining ties
    by_id = search_all(srv, "project = ENG AND id in (10003, 10001) ORDER BY id DESC")
    assert [i["key"] for i in by_id] == ["ENG-3", "ENG-1"]


@pytest.mark.parametrize(
    ("jql", "message"),
    [
        ("ORDER BY key", "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."),
        ("", "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."),
        ("project = ENG AND bogus = 1", "Error in the JQL Query: Field 'bogus' does not exist"),
        ("project = ENG AND summary ~ fix", "Error in the JQL Query: Field 'summary' does not exist"),
        ("project = ENG AND updated >= '2024-01-01'", "Error in the JQL Query: '2024-01-01' is not an integer"),
        ("project = ENG AND created < 2024-01-01", "Error in the JQL Query: '2024-01-01' is not an integer"),
        ("project = ENG AND id ~ 3", "Error in the JQL Query: Expecting operator but got '~'."),
        ('project = ENG AND key = "ENG"', "Error in the JQL Query: The issue key 'ENG' for field 'key' is invalid."),
        ("project = ENG status = Done", "Error in the JQL Query: Expecting either 'OR' or 'AND' but got 'status'."),
        ("project = ENG AND (status = Done", "Error in the JQL Query: Expecting ')'"),
        ("project = ENG ORDER BY summary", "Error in the JQL Query: Not able to sort using field 'summary'."),
        ("project = ENG AND status > Done", "Error in the JQL Query: The operator '>' is not supported"),
    ],
)
def test_jql_errors(srv: FakeServer, jql: str, message: str) -> None:
    response = search(srv, jql, ["id"])

    assert response.status_code == 400
    assert response.json()["errors"] == {}
    assert response.json()["errorMessages"][0].startswith(message)


def test_next_page_token_is_tied_to_its_query(srv: FakeServer) -> None:
    token = search(srv, "project = ENG", ["id"], maxResults=10).json()["nextPageToken"]

    assert search(srv, "project = ENG", ["id"], maxResults=10, nextPageToken=token).status_code == 200
    for jql, bad in [("project = ENG ORDER BY key", token), ("project = ENG", "garbage!"), ("project = ENG", "e30=")]:
        response = search(srv, jql, ["id"], nextPageToken=bad)
        assert response.status_code == 400
        assert response.json() == {
            "errorMessages": ["The provided next page token is invalid or expired."],
            "errors": {},
        }


def test_jira_touch_and_delete(srv: FakeServer) -> None:
    before = {i["key"]: i for i in srv.jira.issues("ENG")}

    srv.jira.touch("ENG", keys=["ENG-3"], at_ms=1_750_000_000_123)
    srv.jira.touch("ENG", keys=["ENG-4"])
    srv.jira.delete("ENG", ["ENG-9"])

    after = {i["key"]: i for i in srv.jira.issues("ENG")}
    assert after["ENG-3"]["fields"]["updated"] == "2025-06-15T15:06:40.123+0000"
    assert after["ENG-3"]["fields"]["summary"] == before["ENG-3"]["fields"]["summary"] + " (edit 1)"
    assert jira_ms(after["ENG-4"]["fields"]["updated"]) == pytest.approx(time.time() * 1000, abs=5000)
    assert "ENG-9" not in after
    found = search_all(srv, "project = ENG AND updated >= 1750000000000 ORDER BY updated")
    assert [i["key"] for i in found] == ["ENG-3", "ENG-4"]


def test_server_mode_pages_with_start_at_and_total(srv: FakeServer) -> None:
    srv.jira.mode = "server"
    url = f"{srv.url}/rest/api/2/search"

    first = requests.get(
        url, params={"jql": "project = ENG ORDER BY key", "maxResults": 200}, auth=JIRA_AUTH, timeout=5
    )
    last = requests.post(url, json={"jql": "project = ENG", "startAt": 450, "fields": ["summary"]}, auth=JIRA_AUTH)
    cloud = search(srv, "project = ENG", ["id"])

    body = first.json()
    assert (body["expand"], body["startAt"], body["maxResults"], body["total"]) == ("schema,names", 0, 200, 500)
    assert len(body["issues"]) == 200
    assert set(body["issues"][0]["fields"]) == set(srv.jira.issues("ENG")[0]["fields"])  # Server: all fields
    assert body["issues"][0]["self"] == f"{srv.url}/rest/api/2/issue/10001"
    page = last.json()
    assert (page["startAt"], page["maxResults"], page["total"], len(page["issues"])) == (450, 50, 500, 50)
    assert set(page["issues"][0]["fields"]) == {"summary"}
    assert cloud.status_code == 404
    assert srv.requests[0].key == ("project = ENG ORDER BY key", 0)


def _random_jql(rng: random.Random, issues: list) -> str:
    """A query over the fake's JQL: ANDs of random clauses, an OR group now and then, a random order."""
    updated, created = [i.updated_ms for i in issues], [i.created_ms for i in issues]
    keys, ids = [i.key for i in issues], [i.id for i in issues]
    ops = ("=", "!=", ">", ">=", "<", "<=")

    def near(values: list[int]) -> int:
        return rng.choice(values) + rng.choice((-1, 0, 0, 1))

    def clause() -> str:
        return rng.choice([
            lambda: rng.choice(("project = ENG", "project in (ENG, OPS)", "project != OPS", "project = NOPE")),
            lambda: f"updated {rng.choice(ops)} {near(updated)}",
            lambda: f"created {rng.choice(ops)} {near(created)}",
            lambda: f"id {rng.choice(ops)} {near(ids)}",
            lambda: f"id {rng.choice(('in', 'not in'))} ({', '.join(str(near(ids)) for _ in range(3))})",
            lambda: f'key {rng.choice(ops)} "{rng.choice(keys)}"',
            lambda: f"status {rng.choice(('in', 'not in'))} (Done, 'To Do')",
            lambda: f"issuetype {rng.choice(('=', '!='))} bug",
            lambda: rng.choice(("labels = security", "labels != ci", "labels in (security, ci)", "labels not in (ci)")),
        ])()  # fmt: skip

    parts = [clause() for _ in range(rng.randint(0, 4))]
    if parts and rng.random() < 0.3:
        parts[-1] = f"({parts[-1]} OR {clause()})"
    if len(parts) > 2 and rng.random() < 0.3:
        parts[:2] = [f"({parts[0]} AND {parts[1]})"]
    fields = rng.sample(["updated", "created", "key", "id"], rng.randint(0, 3))
    order = ", ".join(f"{f} {rng.choice(('ASC', 'DESC', ''))}".strip() for f in fields)
    return " AND ".join(parts) + (f" ORDER BY {order}" if order else "")


def test_jira_search_selects_as_a_plain_evaluation_of_every_issue() -> None:
    jira = FakeJira()
    jira.add_project("ENG", count=300, seed=2)
    jira.add_project("OPS", count=150, seed=2)
    rng = random.Random(7)
    tie = jira_ms(jira.issues("OPS")[5]["fields"]["updated"])
    jira.touch("ENG", [f"ENG-{n}" for n in rng.sample(range(1, 301), 20)], at_ms=tie)
    jira.delete("OPS", ["OPS-3", "OPS-77"])
    issues = [issue for project in jira._issues.values() for issue in project.values()]
    assert len(issues) == 448

    for _ in range(600):
        query = parse_jql(_random_jql(rng, issues))
        expected = query.sort([issue for issue in issues if query.matches(issue)])
        assert [i.key for i in jira._select(query)] == [i.key for i in expected], query


def test_jira_pages_match_a_plain_evaluation(srv: FakeServer) -> None:
    srv.jira.touch("ENG", ["ENG-7", "ENG-8", "ENG-400"], at_ms=1_733_000_000_000)
    truth = {i["key"]: i for i in srv.jira.issues("ENG")}
    rng = random.Random(11)
    queries = [
        "project = ENG ORDER BY updated DESC, key DESC",
        "project = ENG AND updated >= 1733000000000 ORDER BY updated ASC, key ASC",
        "project = ENG AND updated > 1730000000000 AND updated <= 1734000000000 AND id NOT IN (10007) ORDER BY updated",
        'project = ENG AND key > "ENG-250" ORDER BY key ASC',
        "project = ENG AND created < 1730000000000 ORDER BY created DESC",
        "project in (ENG, NOPE) AND status = Done ORDER BY id DESC",
    ]
    for text in queries:
        query = parse_jql(text)
        expected = [i.key for i in query.sort(list(srv.jira._issues["ENG"].values())) if query.matches(i)]
        size = rng.randint(1, 40)
        assert [i["key"] for i in search_all(srv, text, ["summary"], max_results=size)] == expected, text
        srv.jira.mode = "server"
        start = rng.randint(0, len(expected))
        body = {"jql": text, "startAt": start, "maxResults": size, "fields": ["updated"]}
        page = requests.post(f"{srv.url}/rest/api/2/search", json=body, auth=JIRA_AUTH, timeout=5).json()
        srv.jira.mode = "cloud"
        assert (page["startAt"], page["total"]) == (start, len(expected)), text
        assert [i["key"] for i in page["issues"]] == expected[start : start + size], text
        assert [i["fields"]["updated"] for i in page["issues"]] == [
            truth[key]["fields"]["updated"] for key in expected[start : start + size]
        ]


def test_removed_search_endpoints_answer_410(srv: FakeServer) -> None:
    for path in ("/rest/api/3/search", "/rest/api/2/search"):
        for method in ("GET", "POST"):
            response = requests.request(method, f"{srv.url}{path}", params={"jql": "project = ENG"}, auth=JIRA_AUTH)
            assert response.status_code == 410
            assert response.json()["errorMessages"][0].startswith("The requested API has been removed.")
            assert "CHANGE-2046" in response.json()["errorMessages"][0]


def test_jira_needs_credentials(srv: FakeServer) -> None:
    response = requests.post(f"{srv.url}/rest/api/3/search/jql", json={"jql": "project = ENG"}, timeout=5)
    bearer = requests.post(
        f"{srv.url}/rest/api/3/search/jql", json={"jql": "project = ENG"}, headers={"Authorization": "Bearer pat"}
    )

    assert response.status_code == 401
    assert response.json() == {
        "errorMessages": ["You are not authenticated. Authentication required to perform this operation."],
        "errors": {},
    }
    assert bearer.status_code == 200


# --- faults ---------------------------------------------------------------------------------


def test_faults_fire_on_their_requests_only(srv: FakeServer) -> None:
    srv.github.add_repo("acme/web", count=10)
    srv.faults.add(Fault(service="github", kind="http_502", entity="acme/api", at_request=2, times=2))

    statuses = [pr_page(srv, first=10).status_code for _ in range(4)]
    other_repo = pr_page(srv, first=10, repo="acme/web")
    id_sweep = graphql(srv, IDS_QUERY, owner="acme", name="api", first=10)

    assert statuses == [200, 502, 502, 200]
    assert (other_repo.status_code, id_sweep.status_code) == (200, 200)
    assert [r.fault for r in srv.page_requests("github", "acme/api")] == [None, "http_502", "http_502", None]
    assert [r.status for r in srv.page_requests("github", "acme/api")] == [200, 502, 502, 200]


def test_fault_on_id_sweeps_forever_and_clear(srv: FakeServer) -> None:
    srv.faults.add(Fault(service="jira", kind="http_504", times=0, params={"on": "ids"}))

    assert [search(srv, "project = ENG", ["id"]).status_code for _ in range(3)] == [504, 504, 504]
    assert search(srv, "project = ENG", ["summary"]).status_code == 200
    srv.faults.clear()
    assert search(srv, "project = ENG", ["id"]).status_code == 200


def test_http_5xx_bodies_and_the_above_size_limit(srv: FakeServer) -> None:
    srv.faults.add(Fault(service="github", kind="http_502", times=0, params={"above": 50}))
    srv.faults.add(Fault(service="jira", kind="http_502", times=0, params={"above": 50}))

    big, small = pr_page(srv, first=100), pr_page(srv, first=50)
    jira_big = search(srv, "project = ENG", ["summary"], maxResults=100)
    jira_small = search(srv, "project = ENG", ["summary"], maxResults=50)

    assert (big.status_code, small.status_code) == (502, 200)
    assert big.json() == {
        "data": None,
        "errors": [
            {
                "message": "Something went wrong while executing your query. This may be the result of a timeout, "
                "or it could be a GitHub bug. Please try again later."
            }
        ],
    }
    assert (jira_big.status_code, jira_small.status_code) == (502, 200)
    assert jira_big.headers["Content-Type"].startswith("text/html")


def test_rate_limits(srv: FakeServer) -> None:
    srv.faults.add(Fault(service="github", kind="rate_limit", params={"reset_after": 30}))
    srv.faults.add(Fault(service="github", kind="secondary_rate_limit", at_request=2, params={"reset_after": 7}))
    srv.faults.add(Fault(service="jira", kind="rate_limit", params={"reset_after": 12}))

    primary, secondary, normal = pr_page(srv), pr_page(srv), pr_page(srv)
    jira = search(srv, "project = ENG", ["summary"])

    assert primary.status_code == 200
    assert primary.json() == {"errors": [{"type": "RATE_LIMITED", "message": "API rate limit exceeded for user ID 1."}]}
    assert primary.headers["x-ratelimit-remaining"] == "0"
    assert int(primary.headers["x-ratelimit-reset"]) == pytest.approx(time.time() + 30, abs=3)
    assert secondary.status_code == 403
    assert secondary.headers["retry-after"] == "7"
    assert secondary.json()["message"].startswith("You have exceeded a secondary rate limit.")
    assert secondary.json()["documentation_url"].endswith("#secondary-rate-limits")
    assert normal.status_code == 200
    assert jira.status_code == 429
    assert jira.headers["Retry-After"] == "12"
    assert jira.headers["RateLimit-Reason"] == "jira-quota-tenant-based"
    assert dt.datetime.fromisoformat(jira.headers["X-RateLimit-Reset"].replace("Z", "+00:00")) > dt.datetime.now(dt.UTC)
    assert jira.json() == {"errorMessages": ["Rate limit exceeded."], "errors": {}}


def test_timeout_answers_late(srv: FakeServer) -> None:
    srv.faults.add(Fault(service="github", kind="timeout", params={"delay": 0.5}))

    with pytest.raises(requests.ReadTimeout):
        requests.post(
            f"{srv.url}/graphql",
            json={"query": PAGE_QUERY, "variables": {"owner": "acme", "name": "api", "first": 5}},
            headers=GITHUB_AUTH,
            timeout=0.2,
        )
    assert pr_page(srv).status_code == 200


@pytest.mark.parametrize("service", ["github", "jira"])
def test_reset_drops_the_connection(srv: FakeServer, service: str) -> None:
    srv.faults.add(Fault(service=service, kind="reset"))

    with pytest.raises(requests.ConnectionError):
        pr_page(srv) if service == "github" else search(srv, "project = ENG", ["summary"])
    assert srv.requests[0].status is None
    assert srv.requests[0].fault == "reset"


@pytest.mark.parametrize("service", ["github", "jira"])
def test_truncated_and_invalid_json(srv: FakeServer, service: str) -> None:
    def fetch() -> requests.Response:
        return pr_page(srv) if service == "github" else search(srv, "project = ENG", ["summary"])

    whole = fetch().text
    srv.faults.add(Fault(service=service, kind="truncated_json"))
    srv.faults.add(Fault(service=service, kind="invalid_json", at_request=2))

    truncated, invalid = fetch(), fetch()

    assert truncated.status_code == 200
    assert len(truncated.text) == len(whole) // 2
    with pytest.raises(requests.JSONDecodeError):
        truncated.json()
    assert invalid.status_code == 200
    assert invalid.headers["Content-Type"] == "application/json"
    assert invalid.text == "<html><body>upstream error</body></html>"


def test_invalid_cursor_and_token_only_on_continuations(srv: FakeServer) -> None:
    srv.faults.add(Fault(service="github", kind="invalid_cursor", times=0))
    srv.faults.add(Fault(service="jira", kind="invalid_token", times=0))

    first = pr_page(srv)
    second = pr_page(srv, after=connection(first)["pageInfo"]["endCursor"])
    jira_first = search(srv, "project = ENG", ["summary"])
    jira_second = search(srv, "project = ENG", ["summary"], nextPageToken=jira_first.json()["nextPageToken"])

    assert first.status_code == 200
    assert connection(first)["nodes"]
    assert second.json()["data"]["repository"] is None
    assert second.json()["errors"][0]["type"] == "INVALID_CURSOR_ARGUMENTS"
    assert jira_first.status_code == 200
    assert jira_second.status_code == 400
    assert jira_second.json()["errorMessages"] == ["The provided next page token is invalid or expired."]
    assert [r.fault for r in srv.requests] == [None, "invalid_cursor", None, "invalid_token"]


def test_reorder_moves_records_mid_walk(srv: FakeServer) -> None:
    oldest = sorted(srv.github.pull_requests("acme/api"), key=pr_key)[:3]
    srv.faults.add(Fault(service="github", kind="reorder", at_request=2))
    srv.faults.add(Fault(service="jira", kind="reorder", params={"keys": ["ENG-1", "ENG-2"]}))

    seen = walk_prs(srv)
    jql = "project = ENG AND updated >= 0 ORDER BY updated ASC"
    issues = search_all(srv, jql)

    # the three oldest jumped to the front, already walked: the walk misses them
    assert len(seen) == 247
    assert {pr["number"] for pr in oldest}.isdisjoint(pr["number"] for pr in seen)
    assert [i["key"] for i in issues][-2:] == ["ENG-1", "ENG-2"]
    assert jira_ms(issues[-1]["fields"]["updated"]) == pytest.approx(time.time() * 1000, abs=5000)


def test_corrupt_record_and_page(srv: FakeServer) -> None:
    srv.faults.add(Fault(service="github", kind="corrupt_record"))
    srv.faults.add(Fault(service="github", kind="corrupt_page", at_request=2))
    srv.faults.add(Fault(service="jira", kind="corrupt_record"))
    srv.faults.add(Fault(service="jira", kind="corrupt_page", at_request=2))

    record, page = connection(pr_page(srv))["nodes"], pr_page(srv).json()
    issues = search(srv, "project = ENG", ["updated"]).json()["issues"]
    jira_page = search(srv, "project = ENG", ["updated"])

    assert record[1]["updatedAt"] == "not-a-date"
    assert record[0]["updatedAt"] != "not-a-date"
    assert page == {"data": {"repository": {"pullRequests": {"nodes": "oops"}}}}
    assert issues[1]["fields"]["updated"] == "yesterday"
    assert jira_page.json() == {"issues": "oops", "isLast": True}
    srv.jira.mode = "server"
    srv.faults.add(Fault(service="jira", kind="corrupt_page"))
    server_page = requests.get(f"{srv.url}/rest/api/2/search", params={"jql": "project = ENG"}, auth=JIRA_AUTH)
    assert server_page.json() == {"issues": "oops", "startAt": 0, "total": 1}


def test_fault_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="has no fault"):
        Fault(service="jira", kind="invalid_cursor")
    with pytest.raises(ValueError, match="unknown service"):
        Fault(service="gitlab", kind="reset")


# --- server ---------------------------------------------------------------------------------


def test_latency_is_applied_and_overlaps() -> None:
    with FakeServer(latency=0.3) as srv:
        srv.jira.add_project("ENG", count=10)
        started = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            statuses = list(pool.map(lambda _: search(srv, "project = ENG").status_code, range(4)))
        elapsed = time.monotonic() - started

    assert statuses == [200] * 4
    assert 0.3 <= elapsed < 0.9


def test_request_log(srv: FakeServer) -> None:
    cursor = connection(pr_page(srv, first=10))["pageInfo"]["endCursor"]
    pr_page(srv, first=10, after=cursor)
    graphql(srv, IDS_QUERY, owner="acme", name="api", first=10)
    graphql(srv, BY_ID_QUERY, ids=[srv.github.pull_requests("acme/api")[0]["id"]])
    graphql(srv, "{ rateLimit { remaining } }")
    token = search(srv, "project = ENG", ["summary"], maxResults=10).json()["nextPageToken"]
    search(srv, "project = ENG", ["summary"], maxResults=10, nextPageToken=token)
    requests.post(f"{srv.url}/rest/api/3/search/approximate-count", json={"jql": "project = ENG"}, auth=JIRA_AUTH)
    requests.get(f"{srv.url}/nowhere")

    log = srv.requests
    assert [(r.service, r.entity, r.kind) for r in log] == [
        ("github", "acme/api", "page"),
        ("github", "acme/api", "page"),
        ("github", "acme/api", "ids"),
        ("github", "acme/api", "nodes"),
        ("github", None, "other"),
        ("jira", "ENG", "page"),
        ("jira", "ENG", "page"),
        ("jira", "ENG", "count"),
        ("unknown", None, "other"),
    ]
    assert [r.key for r in srv.page_requests("github", "acme/api")] == [None, cursor]
    assert [r.key for r in srv.page_requests("jira", "ENG")] == [("project = ENG", None), ("project = ENG", token)]
    assert [r.status for r in log] == [200] * 8 + [404]
    assert [r.at for r in log] == sorted(r.at for r in log)
    srv.clear_requests()
    assert srv.requests == []


def test_serve_prints_connections_and_stops_on_sigterm() -> None:
    code = (
        "import logging; logging.basicConfig(level=logging.WARNING)\n"
        "from reliable_etl_dev.fakes import serve\n"
        "serve(port=0, latency=0.0, repos={'acme/api': 5}, projects={'ENG': 7}, jira_mode='server',"
        " github_schema_path=None)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        lines = [proc.stdout.readline(), proc.stdout.readline()]
        github = json.loads(lines[0].removeprefix("AIRFLOW_CONN_GITHUB_DEFAULT='").rstrip("'\n"))
        jira = json.loads(lines[1].removeprefix("AIRFLOW_CONN_JIRA_DEFAULT='").rstrip("'\n"))
        assert github == {"conn_type": "http", "host": github["host"], "password": "fake-token"}
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", github["host"])
        assert jira == {
            "conn_type": "http",
            "host": github["host"],
            "login": "me@example.com",
            "password": "fake-token",
            "extra": {"deployment": "server"},
        }
        answer = requests.get(f"{jira['host']}/rest/api/2/search", params={"jql": "project = ENG"}, auth=JIRA_AUTH)
        assert answer.json()["total"] == 7
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
