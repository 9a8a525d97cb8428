"""Notifications against local stand-ins: an HTTP receiver for Slack and Teams webhooks, aiosmtpd for SMTP."""

from __future__ import annotations

import email
import email.policy
import html
import json
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from reliable_etl.notify import CHANNELS, RunReport, RunReportNotifier, item_line, notify
from reliable_etl.ops.logs import redact

SLACK_TOKEN = "T0001/B0002/slackSECRETtoken42"
TEAMS_PATH = (
    "/workflows/0a1b2c3d/triggers/manual/paths/invoke?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0"
    "&sig=teamsSIG42secret"
)
SECRETS = ("slackSECRETtoken42", "teamsSIG42secret", "0a1b2c3d")

REPORT = RunReport(
    pipeline="files_nightly",
    run_id="scheduled__2026-11-23T02:00:00+00:00",
    status="warning",
    summary="2 files loaded, 13 of 70,000 records rejected (0.02%)",
    items=[
        {
            "file": "CDNOW_master.txt",
            "table": "cdnow_purchases",
            "records": 69659,
            "loaded": 69650,
            "rejected": 9,
            "error_rate": 0.0001,
            "snapshot": "cdnow_purchases__20261123T020000",
            "status": "warning",
            "error": None,
        },
        {
            "file": "CDNOW_sample.txt",
            "table": "cdnow_sample",
            "records": 341,
            "loaded": 337,
            "rejected": 4,
            "error_rate": 4 / 341,
            "snapshot": "cdnow_sample__20261123T020000",
            "status": "warning",
            "error": None,
        },
    ],
    duration_s=252.4,
    url="http://airflow.local/dags/files_nightly/runs/scheduled__2026-11-23T02:00:00+00:00",
)
LINES = [
    "CDNOW_master.txt -> cdnow_purchases: 69,650 loaded, 9 rejected (0.01%), snapshot cdnow_purchases__20261123T020000",
    "CDNOW_sample.txt -> cdnow_sample: 337 loaded, 4 rejected (1.17%), snapshot cdnow_sample__20261123T020000",
]


# --- stand-ins ----------------------------------------------------------------------------


@dataclass
class Receiver:
    """Records every POST; answers ``status`` (Slack: 200 "ok", Teams Workflows: 202)."""

    url: str = ""
    posts: list[tuple[str, dict]] = field(default_factory=list)
    status: dict[str, int] = field(default_factory=dict)  # path prefix -> status

    def bodies(self, prefix: str) -> list[dict]:
        return [body for path, body in self.posts if path.startswith(prefix)]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.posts.append((self.path, body))
            status = next((s for prefix, s in state.status.items() if self.path.startswith(prefix)), None)
            status = status or (200 if self.path.startswith("/services/") else 202)
            answer = b"ok" if status == 200 else b"" if status == 202 else b"internal error"
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args) -> None:  # keep the test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


class Mailbox:
    """aiosmtpd handler: keeps accepted messages; ``refuse`` makes it reject every recipient."""

    def __init__(self) -> None:
        self.messages: list = []
        self.refuse = False

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse:
            return "550 5.7.1 relaying denied"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield box, controller.port
    controller.stop()


def set_connections(env: pytest.MonkeyPatch, http_url: str, smtp_port: int, **overrides: dict) -> None:
    conns = {
        "notify_slack": {"conn_type": "slackwebhook", "host": f"{http_url}/services", "password": SLACK_TOKEN},
        "notify_teams": {"conn_type": "http", "host": http_url, "password": TEAMS_PATH},
        "notify_email": {
            "conn_type": "smtp",
            "host": "127.0.0.1",
            "port": smtp_port,
            "extra": {
                "from_email": "etl@example.com",
                "to": "ops@example.com, data@example.com",
                "disable_ssl": True,
                "disable_tls": True,
                "retry_limit": 1,
                "timeout": 5,
            },
        },
    }
    for conn_id, conn in {**conns, **overrides}.items():
        env.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


@pytest.fixture
def channels(etl_env, receiver, mailbox) -> tuple[Receiver, Mailbox, pytest.MonkeyPatch, int]:
    box, port = mailbox
    set_connections(etl_env, receiver.url, port)
    return receiver, box, etl_env, port


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


# --- content ------------------------------------------------------------------------------


def test_item_lines_say_what_was_loaded_or_what_failed():
    assert [item_line(item) for item in REPORT.items] == LINES
    failed = {"file": "x.txt", "table": "t", "status": "error", "error": "bad DSN postgresql://u:hunter2@db/x"}
    assert item_line(failed) == "x.txt -> t: error: bad DSN postgresql://u:***@db/x"
    assert item_line({"file": "y.txt", "records": 10, "rejected": 1}) == "y.txt: 1 rejected (10.00%)"


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.slack.com/services/T0001/B0002/XXXXSECRET",
        "https://acme.webhook.office.com/webhookb2/0a1b@2c3d/IncomingWebhook/XXXXSECRET/4e5f",
        "https://prod-23.westeurope.logic.azure.com:443/workflows/0a1b/triggers/manual/paths/invoke?sv=1.0&sig=XXXXSECRET",
        "https://default0a1b.73.environment.api.powerplatform.com:443/powerautomate/automations/direct/workflows/0a1b"
        "/triggers/manual/paths/invoke?api-version=1&sv=1.0&sig=XXXXSECRET",
    ],
)
def test_every_webhook_url_shape_is_redacted(url):
    assert "XXXXSECRET" not in redact(f"POST {url} failed")


# --- every channel ------------------------------------------------------------------------


def test_a_report_reaches_slack_teams_and_email(channels):
    receiver, box, _env, _port = channels

    assert notify(REPORT) == {"slack": "sent", "teams": "sent", "email": "sent"}

    # Slack: the Incoming Webhook path carries the token; Block Kit plus the fallback text
    [(path, slack)] = [p for p in receiver.posts if p[0].startswith("/services/")]
    assert path == f"/services/{SLACK_TOKEN}"
    assert "WARNING" in slack["text"]
    assert REPORT.summary in slack["text"]
    assert REPORT.run_id in slack["text"]
    blocks = slack["blocks"]
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "⚠️ files_nightly: WARNING", "emoji": True},
    }
    assert blocks[1]["text"]["text"] == REPORT.summary
    sections = html.unescape("\n".join(b["text"]["text"] for b in blocks if b["type"] == "section"))
    for line in LINES:
        assert f"• {line}" in sections
    context = blocks[-1]["elements"][0]["text"]
    assert REPORT.run_id in context
    assert f"<{REPORT.url}|Open in Airflow>" in context
    assert "4m 12s" in context

    # Teams: the Workflows message envelope around an Adaptive Card 1.4
    [teams] = receiver.bodies("/workflows/")
    assert teams["type"] == "message"
    [attachment] = teams["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    texts = [b["text"] for b in card["body"] if b["type"] == "TextBlock"]
    assert texts == ["⚠️ files_nightly: WARNING", REPORT.summary, *LINES]
    assert card["body"][0]["color"] == "Warning"
    [facts] = [b["facts"] for b in card["body"] if b["type"] == "FactSet"]
    assert {"title": "Run", "value": REPORT.run_id} in facts
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Open in Airflow", "url": REPORT.url}]

    # email: subject, recipients from the Connection's extra, an HTML table of the items
    [envelope] = box.messages
    assert envelope.mail_from == "etl@example.com"
    assert envelope.rcpt_tos == ["ops@example.com", "data@example.com"]
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert message["Subject"] == f"[files_nightly] WARNING: {REPORT.summary}"
    body = message.get_body(("html",)).get_content()
    assert "<table" in body
    for cell in ("CDNOW_master.txt", "cdnow_purchases", "69,650", "0.01%", "CDNOW_sample.txt", "1.17%", REPORT.run_id):
        assert cell in body


def test_a_whole_webhook_url_in_the_password_works_too(channels):
    receiver, _box, env, port = channels
    set_connections(
        env,
        receiver.url,
        port,
        notify_slack={"conn_type": "slackwebhook", "password": f"{receiver.url}/services/{SLACK_TOKEN}"},
        notify_teams={"conn_type": "http", "host": f"{receiver.url}{TEAMS_PATH}"},
    )
    assert notify(REPORT) == dict.fromkeys(CHANNELS, "sent")
    assert {path for path, _ in receiver.posts} == {f"/services/{SLACK_TOKEN}", TEAMS_PATH}


def test_an_error_item_is_reported_with_its_error_and_secrets_masked(channels):
    receiver, box, _env, _port = channels
    report = RunReport(
        pipeline="files_nightly",
        run_id="manual__1",
        status="error",
        summary="0 of 1 files loaded",
        items=[{"file": "bad.txt", "table": "t", "status": "error", "error": "cannot connect: password=hunter2"}],
    )
    assert notify(report) == {"slack": "sent", "teams": "sent", "email": "sent"}
    everything = json.dumps(receiver.posts) + box.messages[0].content.decode()
    assert "hunter2" not in everything
    assert "bad.txt -> t: error: cannot connect: password=***" in json.dumps(receiver.bodies("/workflows/"))
    assert "❌ files_nightly: ERROR" in receiver.bodies("/services/")[0]["text"]


# --- failures: logged, masked, never raised -----------------------------------------------


@pytest.mark.parametrize(
    ("failing", "setup"),
    [
        ("slack", "http 500"),
        ("teams", "http 500"),
        ("slack", "refused"),
        ("teams", "refused"),
        ("email", "smtp refuses"),
        ("email", "refused"),
    ],
)
def test_a_failing_channel_is_reported_and_the_others_are_still_sent(channels, caplog, failing, setup):
    receiver, box, env, port = channels
    caplog.set_level(logging.INFO)
    closed = f"http://127.0.0.1:{free_port()}"
    if setup == "http 500":
        receiver.status["/services/" if failing == "slack" else "/workflows/"] = 500
    elif setup == "smtp refuses":
        box.refuse = True
    elif failing == "slack":
        set_connections(
            env,
            receiver.url,
            port,
            notify_slack={"conn_type": "slackwebhook", "host": f"{closed}/services", "password": SLACK_TOKEN},
        )
    elif failing == "teams":
        set_connections(
            env, receiver.url, port, notify_teams={"conn_type": "http", "host": closed, "password": TEAMS_PATH}
        )
    else:
        set_connections(env, receiver.url, free_port())  # nothing listens on the SMTP port

    results = notify(REPORT)

    assert results[failing].startswith("failed: ")
    assert all(results[c] == "sent" for c in CHANNELS if c != failing), results
    expected = {
        "http 500": "500",
        "refused": "refused",
        "smtp refuses": "relaying denied",
    }[setup]
    assert expected in results[failing].lower()
    assert f"{failing} notification failed" in caplog.text
    assert_no_secret(json.dumps(results), caplog.text)


def test_missing_connections_are_skipped(etl_env, caplog):
    for conn_id in ("NOTIFY_SLACK", "NOTIFY_TEAMS", "NOTIFY_EMAIL"):
        etl_env.delenv(f"AIRFLOW_CONN_{conn_id}", raising=False)
    caplog.set_level(logging.INFO)
    assert notify(REPORT) == dict.fromkeys(CHANNELS, "skipped: no connection")
    assert "no connection 'notify_teams', teams notification skipped" in caplog.text


def test_conn_ids_pick_other_connections(channels):
    receiver, _box, _env, _port = channels
    results = notify(REPORT, conn_ids={"slack": "slack_elsewhere", "email": "notify_email"})
    assert results == {"slack": "skipped: no connection", "teams": "sent", "email": "sent"}
    assert receiver.bodies("/services/") == []


def test_an_email_connection_without_recipients_fails_plainly(channels):
    _receiver, _box, env, port = channels
    set_connections(
        env, "http://127.0.0.1:9", port, notify_email={"conn_type": "smtp", "host": "127.0.0.1", "port": port}
    )
    assert notify(REPORT, conn_ids={"slack": "", "teams": ""})["email"] == (
        "failed: ValueError: connection 'notify_email' has no recipients: set 'to' in its extra"
    )


# --- as a callback ------------------------------------------------------------------------


def test_run_report_notifier_is_a_callback_that_never_raises(channels, caplog):
    receiver, box, _env, _port = channels
    callback = RunReportNotifier(lambda context: REPORT, conn_ids={"email": "none_here"})
    callback({"dag_run": None})
    assert len(receiver.posts) == 2
    assert box.messages == []

    def broken(context):
        raise KeyError("dag_run")

    caplog.set_level(logging.INFO)
    RunReportNotifier(broken)({})
    assert "the run report could not be built: KeyError" in caplog.text
