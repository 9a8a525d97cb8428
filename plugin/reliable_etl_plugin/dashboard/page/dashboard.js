// The reliability dashboard: reads the /etl API (same origin: the _token cookie carries the user)
// and draws every section with DOM nodes and inline SVG. Data is only ever set as text, never as HTML.
"use strict";

const STATE = { ready: false, loadMs: null, failed: [], sections: {} };
window.etlDashboard = STATE;
const SVG_NS = "http://www.w3.org/2000/svg";
const PALETTE = ["#2563eb", "#db2777", "#059669", "#d97706", "#7c3aed", "#0891b2", "#dc2626", "#4b5563"];

// --- small helpers ------------------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value !== null && value !== undefined) node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

const pct = (v, digits = 0) => (v === null || v === undefined ? "-" : `${(v * 100).toFixed(digits)}%`);
const num = (v) => (v === null || v === undefined ? "-" : Number(v).toLocaleString("en-US"));
const compact = (v) =>
  v === null || v === undefined
    ? "-"
    : Math.abs(v) >= 1e6
      ? `${(v / 1e6).toFixed(1)}M`
      : Math.abs(v) >= 1e4
        ? `${(v / 1e3).toFixed(1)}k`
        : num(v);
const seconds = (v) => (v === null || v === undefined ? "-" : v < 60 ? `${v.toFixed(1)} s` : `${(v / 60).toFixed(1)} min`);
const when = (v) => (v ? new Date(v).toISOString().replace("T", " ").slice(0, 19) : "-");
const cut = (text, n = 240) => (text && text.length > n ? `${text.slice(0, n)}…` : text || "");
const badge = (status) => el("span", { class: `badge status-${String(status).toLowerCase()}`, text: status });

function replace(id, ...nodes) {
  const target = document.getElementById(id);
  target.replaceChildren(...nodes.flat());
  return target;
}

function message(id, text, cls = "muted") {
  replace(id, el("li", { class: cls, text }));
}

async function api(path, options = {}) {
  const response = await fetch(path, {
    credentials: "same-origin",
    headers: { Accept: "application/json", ...(options.headers || {}) },
    ...options,
  });
  if (!response.ok) {
    let detail = response.statusText;
    try {
      detail = (await response.json()).detail || detail;
    } catch (_) {
      /* not JSON */
    }
    throw new Error(`${path}: HTTP ${response.status}: ${typeof detail === "string" ? detail : JSON.stringify(detail)}`);
  }
  return response.json();
}

// A link to the Airflow UI. The page runs in the UI's sandboxed iframe (no top navigation): ask the
// UI's router to go there (same origin), and fall back to an ordinary link outside an iframe.
function uiLink(href, text) {
  return el("a", {
    href,
    class: "log-link",
    text,
    onclick: (event) => {
      try {
        if (window.parent !== window && window.parent.history) {
          event.preventDefault();
          window.parent.history.pushState({}, "", href);
          window.parent.dispatchEvent(new PopStateEvent("popstate", { state: {} }));
        }
      } catch (_) {
        /* not allowed: let the link load in place */
      }
    },
  });
}

// --- sections -----------------------------------------------------------------------------------

function renderHealth(health) {
  const overall = replace("overall", health.status);
  overall.className = `badge big status-${health.status}`;
  replace("overall-message", health.message);
  const rows = health.pipelines.map((p) =>
    el(
      "tr",
      { "data-pipeline": p.pipeline },
      el("td", { text: p.pipeline }),
      el("td", {}, badge(p.status)),
      el("td", { class: "n", text: num(p.metrics.runs) }),
      el("td", { class: "n", text: pct(p.metrics.failed_share) }),
      el("td", { class: "n", text: pct(p.metrics.avg_error_rate, 2) }),
      el("td", { class: "n", text: seconds(p.metrics.avg_duration_s) }),
      el("td", { class: "n", text: num(Math.round(p.metrics.avg_records_in)) }),
      el("td", {}, p.last_run_status ? badge(p.last_run_status) : "-", " ", el("span", { class: "muted small", text: when(p.last_run_at) })),
    ),
  );
  replace("pipelines-body", rows.length ? rows : el("tr", {}, el("td", { colspan: 8, class: "muted", text: "no pipeline has run yet" })));
  renderMaintenance(health);
}

function renderMaintenance(health) {
  const dog = health.watchdog;
  const summary = document.getElementById("watchdog-summary");
  if (!dog) {
    summary.replaceChildren(el("span", { class: "muted", text: "the watchdog (etl_health) has not run yet" }));
  } else {
    const parts = Object.entries(dog.pipelines).map(([name, p]) =>
      el("span", { class: "watchdog-item", "data-pipeline": name }, `${name} `, badge(p.status),
        p.days_behind ? ` ${p.days_behind} day(s) behind` : "", p.action && p.action !== "none" ? ` (${p.action})` : "",
        p.details && p.details.restated_count ? el("span", { class: "restated", text: ` ${p.details.restated_count} restated: ${p.details.restated_days.join(", ")}` }) : ""),
    );
    summary.replaceChildren(el("strong", { text: "watchdog " }), badge(dog.status), ` at ${when(dog.finished_at)}: `, ...parts);
  }
  const rows = health.maintenance.map((m) => {
    const errors = (m.result && m.result.errors) || [];
    return el(
      "tr",
      { "data-job": m.job },
      el("td", { text: m.job }),
      el("td", {}, badge(m.status)),
      el("td", { text: when(m.finished_at) }),
      el("td", { class: "n", text: m.duration_ms === null ? "-" : `${m.duration_ms} ms` }),
      el("td", { class: "small", text: cut(errors.join("; "), 200) }),
    );
  });
  replace("maintenance-body", rows.length ? rows : el("tr", {}, el("td", { colspan: 5, class: "muted", text: "no maintenance job has run yet" })));
  const alerts = health.alerts.map((a) =>
    el("li", { class: "alert" }, badge("firing"), ` ${a.alert_key} since ${when(a.fired_at || a.first_failed_at)}: `, cut(a.last_message, 200)),
  );
  replace("alerts-list", alerts);
}

function renderHistory(history) {
  const box = document.getElementById("history-chart");
  const series = history.pipelines.filter((p) => p.points.length);
  if (!series.length) {
    box.replaceChildren(el("p", { class: "muted", text: "no finished run yet" }));
    replace("history-legend");
    return;
  }
  const times = series.flatMap((p) => p.points.map((pt) => Date.parse(pt.started_at)));
  let [t0, t1] = [Math.min(...times), Math.max(...times)];
  if (t1 === t0) t1 = t0 + 1;
  const W = 960, H = 300, left = 52, right = 12, panel = 110, gap = 40, top = 16;
  const x = (t) => left + ((t - t0) / (t1 - t0)) * (W - left - right);
  const panels = [
    { key: "failed_share", title: "failed runs", bounds: history.thresholds.failed_share, y0: top },
    { key: "avg_error_rate", title: "error rate", bounds: history.thresholds.error_rate, y0: top + panel + gap },
  ];
  const chart = svg("svg", { id: "history-svg", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "health history" });
  for (const p of panels) {
    const peak = Math.max(p.bounds[1] * 1.25, ...series.flatMap((s) => s.points.map((pt) => pt[p.key])));
    const y = (v) => p.y0 + panel - (v / peak) * panel;
    chart.append(
      svg("text", { x: left, y: p.y0 - 4, class: "axis-title" }, `${p.title} (rolling ${history.window})`),
      svg("line", { x1: left, x2: W - right, y1: y(0), y2: y(0), class: "axis" }),
      svg("text", { x: left - 6, y: y(0) + 4, class: "axis-label", "text-anchor": "end" }, "0%"),
      svg("text", { x: left - 6, y: y(peak) + 4, class: "axis-label", "text-anchor": "end" }, pct(peak)),
    );
    p.bounds.forEach((bound, i) =>
      chart.append(
        svg("line", { x1: left, x2: W - right, y1: y(bound), y2: y(bound), class: `threshold ${i ? "unhealthy" : "degraded"}`, "data-bound": bound }),
        svg("text", { x: W - right, y: y(bound) - 3, class: "axis-label", "text-anchor": "end" }, `${i ? "unhealthy" : "degraded"} ${pct(bound)}`),
      ),
    );
    series.forEach((s, i) => {
      const color = PALETTE[i % PALETTE.length];
      const d = s.points.map((pt, n) => `${n ? "L" : "M"}${x(Date.parse(pt.started_at)).toFixed(1)},${y(pt[p.key]).toFixed(1)}`).join(" ");
      chart.append(svg("path", { d, class: "series", stroke: color, "data-pipeline": s.pipeline, "data-metric": p.key }));
      for (const pt of s.points) {
        chart.append(
          svg("circle", { cx: x(Date.parse(pt.started_at)).toFixed(1), cy: y(pt[p.key]).toFixed(1), r: pt.status === "failed" ? 3.5 : 2, fill: pt.status === "failed" ? "#dc2626" : color, class: `point level-${pt.level}` },
            svg("title", {}, `${s.pipeline} ${pt.run_id}: ${pt.status}, ${p.title} ${pct(pt[p.key], 1)} (${pt.level})`)),
        );
      }
    });
  }
  chart.append(
    svg("text", { x: left, y: H - 4, class: "axis-label" }, when(new Date(t0).toISOString())),
    svg("text", { x: W - right, y: H - 4, class: "axis-label", "text-anchor": "end" }, when(new Date(t1).toISOString())),
  );
  box.replaceChildren(chart);
  replace("history-legend", series.map((s, i) => el("span", { class: "key" }, el("i", { style: `background:${PALETTE[i % PALETTE.length]}` }), s.pipeline)));
}

const DAY_LABELS = { processed: "processed", failed: "failed", running: "running", gap: "gap (missing, later days done)", behind: "behind (not yet processed)" };

function renderTimeline(tl) {
  replace("timeline-range", `${tl.pipeline}: ${tl.first_day} .. ${tl.last_day}, ${num(tl.days)} days; last processed ${tl.last_processed_day || "-"}`);
  const W = 960, H = 64, left = 4, right = 4, barTop = 8, barH = 28;
  const dayMs = 86400000;
  const start = Date.parse(tl.first_day);
  const span = tl.days;
  const x = (day) => left + ((Date.parse(day) - start) / dayMs / span) * (W - left - right);
  const chart = svg("svg", { id: "timeline-svg", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "daily catch-up" });
  for (const seg of tl.segments) {
    const x0 = x(seg.first_day);
    const width = Math.max(((seg.days) / span) * (W - left - right), 1.5);
    chart.append(
      svg("rect", { x: x0.toFixed(2), y: barTop, width: width.toFixed(2), height: barH, class: `seg status-${seg.status}`, "data-status": seg.status, "data-first": seg.first_day, "data-last": seg.last_day },
        svg("title", {}, `${seg.first_day} .. ${seg.last_day}: ${seg.days} day(s) ${seg.status}, ${num(seg.row_count)} rows${seg.error ? `: ${cut(seg.error, 200)}` : ""}`)),
    );
  }
  // ticks: months for up to ~3 years, else years
  const first = new Date(start), months = span <= 1100;
  for (let d = new Date(Date.UTC(first.getUTCFullYear(), months ? first.getUTCMonth() : 0, 1)); d.getTime() <= start + span * dayMs; ) {
    if (d.getTime() >= start) {
      const tx = x(d.toISOString().slice(0, 10));
      chart.append(svg("line", { x1: tx, x2: tx, y1: barTop + barH, y2: barTop + barH + 5, class: "axis" }),
        svg("text", { x: tx + 2, y: H - 4, class: "axis-label" }, months ? d.toISOString().slice(0, 7) : String(d.getUTCFullYear())));
    }
    if (months) d.setUTCMonth(d.getUTCMonth() + (span > 400 ? 3 : 1));
    else d.setUTCFullYear(d.getUTCFullYear() + 1);
  }
  replace("timeline-chart", chart);
  replace("timeline-counts", Object.entries(tl.counts).filter(([, n]) => n).map(([status, n]) =>
    el("span", { class: "key", "data-status": status }, el("i", { class: `status-${status}` }), `${DAY_LABELS[status]}: ${num(n)}`)));
  const notable = tl.segments.filter((s) => s.status !== "processed");
  const items = notable.slice(-30).map((s) =>
    el("li", { class: `day-${s.status}`, "data-status": s.status, "data-first": s.first_day },
      badge(s.status), ` ${s.first_day}${s.days > 1 ? ` .. ${s.last_day} (${s.days} days)` : ""}`,
      s.run_id ? el("span", { class: "muted small", text: ` run ${s.run_id}` }) : "",
      s.lost ? el("span", { class: "muted small", text: " (process lost)" }) : "",
      s.error ? el("div", { class: "small error-text", text: cut(s.error) }) : ""),
  );
  replace("timeline-list", items.length ? items : el("li", { class: "muted", text: "no gap and no failure" }));
}

function renderMonths(checkpoints) {
  const months = [...new Set(checkpoints.processed_months.map((m) => m.month_key))].sort();
  const pipelines = [...new Set(checkpoints.processed_months.map((m) => m.pipeline_name))].sort();
  const grid = document.getElementById("months-grid");
  if (!months.length) {
    grid.replaceChildren(el("tr", {}, el("td", { class: "muted", text: "no month published yet" })));
    return;
  }
  const cells = new Map(checkpoints.processed_months.map((m) => [`${m.pipeline_name}|${m.month_key}`, m]));
  grid.replaceChildren(
    el("thead", {}, el("tr", {}, el("th", { text: "pipeline" }), months.map((m) => el("th", { class: "month", text: m })))),
    el("tbody", {}, pipelines.map((p) =>
      el("tr", { "data-pipeline": p }, el("td", { text: p }), months.map((key) => {
        const m = cells.get(`${p}|${key}`);
        if (!m) return el("td", { class: "cell empty", "data-month": key, text: "" });
        return el("td", { class: `cell status-${m.status}`, "data-month": key, "data-status": m.status, "data-rows": m.rows_written ?? "",
          title: `${p} ${key}: ${m.status}, ${num(m.rows_written)} rows written from ${num(m.input_rows)} input rows at ${when(m.updated_at)}${m.error ? `: ${m.error}` : ""}` },
          compact(m.rows_written));
      })))),
  );
  const statuses = [...new Set(checkpoints.processed_months.map((m) => m.status))];
  replace("months-legend", statuses.map((s) => el("span", { class: "key" }, el("i", { class: `status-${s}` }), s)));
}

function verdict(v) {
  if (v.passed) return "passed";
  return v.published ? "warning" : "failed";
}

function renderChecks(data) {
  const rows = data.checks.map((c) => {
    const numbers = Object.entries(c.latest.details).map(([k, v]) => `${k}=${v}`).join(", ");
    return el("tr", { "data-check": `${c.pipeline}|${c.target}|${c.check_name}`, "data-verdict": verdict(c.latest) },
      el("td", { text: c.pipeline }), el("td", { text: c.target }), el("td", { text: c.check_name }),
      el("td", { text: c.severity }),
      el("td", {}, badge(verdict(c.latest)), el("div", { class: "muted small", text: when(c.latest.checked_at) })),
      el("td", { text: c.latest.unit_key }), el("td", { class: "small", text: numbers || "-" }),
      el("td", { class: "history" }, c.history.map((v) =>
        el("span", { class: `tick status-${verdict(v)}`, title: `${v.unit_key} ${verdict(v)} at ${when(v.checked_at)}`, text: v.passed ? "✓" : "✗" }))));
  });
  replace("checks-body", rows.length ? rows : el("tr", {}, el("td", { colspan: 8, class: "muted", text: "no check has run yet" })));
}

function renderSync(checkpoints) {
  const rows = checkpoints.sync_jobs.map((j) =>
    el("tr", { "data-entity": `${j.service}:${j.entity}` },
      el("td", { text: j.service }),
      el("td", { text: j.entity }),
      el("td", {}, badge(j.status), j.needs_attention ? el("span", { class: "badge status-failed", text: "needs attention" }) : ""),
      el("td", { text: [j.mode, j.phase].filter(Boolean).join(" / ") || "-" }),
      el("td", { class: "n", text: num(j.pages) }),
      el("td", { class: "n", text: num(j.items) }),
      el("td", { class: "n", text: num(j.api_cost) }),
      el("td", { text: j.next_retry_at ? when(j.next_retry_at) : "-" }),
      el("td", { class: "small error-text", text: cut(j.last_error, 160) })),
  );
  replace("sync-body", rows.length ? rows : el("tr", {}, el("td", { colspan: 9, class: "muted", text: "no sync job yet" })));
  document.getElementById("sync-recovery").textContent = checkpoints.sync_recovery
    .map((r) => `${r.service}: ${r.successful_recoveries} of ${r.total_recoveries} recoveries succeeded` +
      (r.avg_recovery_seconds !== null ? ` (avg ${seconds(r.avg_recovery_seconds)})` : "") +
      `, data consistency ${pct(r.data_consistency)}`)
    .join(" · ");
}

function renderFiles(checkpoints) {
  const loads = checkpoints.file_loads.slice(0, 20).map((f) =>
    el("tr", { "data-file": f.file_name },
      el("td", { text: when(f.at) }), el("td", { text: f.file_name }), el("td", { text: f.table_name }),
      el("td", {}, badge(f.status), f.error ? el("div", { class: "small error-text", text: cut(f.error, 160) }) : ""),
      el("td", { class: "n", text: num(f.records) }), el("td", { class: "n", text: num(f.loaded) }),
      el("td", { class: "n", text: num(f.rejected) }), el("td", { class: "small", text: f.snapshot || "-" })),
  );
  replace("file-loads-body", loads.length ? loads : el("tr", {}, el("td", { colspan: 8, class: "muted", text: "no file loaded yet" })));
  const byTable = new Map();
  for (const s of checkpoints.file_snapshots) (byTable.get(s.table_name) || byTable.set(s.table_name, []).get(s.table_name)).push(s);
  const items = [...byTable.entries()].map(([table, snaps]) =>
    el("li", { "data-table": table },
      el("strong", { text: table }), ` ${snaps.length} snapshot(s), newest ${when(snaps[0].taken_at)} (${num(snaps[0].row_count)} rows, ${snaps[0].reason}). `,
      "To restore it: ", el("code", { class: "rollback", text: snaps[0].rollback })),
  );
  replace("snapshots-list", items.length ? items : el("li", { class: "muted", text: "no snapshot kept" }));
}

function renderErrors(data) {
  const items = data.errors.map((e) =>
    el("li", { class: "error", "data-id": e.id },
      el("span", { class: "muted small", text: `${when(e.timestamp)} ${e.level} ${e.pipeline_name || ""}${e.stage ? ` / ${e.stage}` : ""} ` }),
      e.log_url ? uiLink(e.log_url, `${e.dag_id}.${e.task_id}${e.map_index >= 0 ? `[${e.map_index}]` : ""} try ${e.try_number ?? "?"}`) : "",
      el("div", { class: "error-text", text: cut(e.message, 400) })),
  );
  replace("errors-list", items.length ? items : el("li", { class: "muted", text: "no error logged" }));
}

function renderDags(data) {
  document.getElementById("user").textContent = data.user;
  const blocked = data.dags.filter((d) => d.blocked);
  document.getElementById("blocked").hidden = !blocked.length;
  replace("blocked-list", blocked.map((d) =>
    el("li", { "data-dag": d.dag_id },
      el("strong", { text: d.dag_id }), ` failed run ${d.failed_run_id} holds ${d.waiting_runs.length} later run(s) back`,
      d.is_paused ? el("span", { class: "muted", text: " (paused)" }) : "",
      d.can_run ? el("button", { type: "button", class: "recover", "data-dag": d.dag_id, text: "Recover", onclick: () => recoverDag(d.dag_id) })
        : el("span", { class: "muted small", text: " (you may not run this DAG)" })),
  ));
}

async function recoverDag(dagId) {
  const out = document.getElementById("recover-result");
  out.hidden = false;
  out.textContent = `recovering ${dagId}…`;
  for (const b of document.querySelectorAll("button.recover")) b.disabled = true;
  try {
    const r = await api(`recover/${encodeURIComponent(dagId)}`, { method: "POST" });
    out.textContent = [`${r.dag_id}: ${r.changed ? "recovered" : "nothing to do"} by ${r.recovered_by}`,
      `cleared: ${r.cleared.join(", ") || "-"}`, `re-queued: ${r.requeued.join(", ") || "-"}`,
      `on bundle version: ${r.bundle_version || "unversioned (a local bundle)"}${r.latest_version ? " (the latest)" : " (each run's own)"}`,
      ...r.notes.map((n) => `note: ${n}`)].join("\n");
    out.dataset.result = r.changed ? "recovered" : "unchanged";
  } catch (err) {
    out.textContent = String(err.message || err);
    out.dataset.result = "error";
  }
  load();
}

// --- loading ------------------------------------------------------------------------------------

const SECTIONS = {
  health: ["health", renderHealth],
  history: ["health/history", renderHistory],
  timeline: ["timeline", renderTimeline],
  checkpoints: ["checkpoints", (c) => { renderMonths(c); renderSync(c); renderFiles(c); }],
  checks: ["checks", renderChecks],
  errors: ["errors", renderErrors],
  dags: ["dags", renderDags],
};

async function load() {
  STATE.ready = false;
  STATE.failed = [];
  const started = performance.now();
  await Promise.all(Object.entries(SECTIONS).map(async ([name, [path, render]]) => {
    try {
      render(await api(path));
      STATE.sections[name] = "ok";
    } catch (err) {
      STATE.sections[name] = "failed";
      STATE.failed.push(String(err.message || err));
      document.getElementById("overall-message").textContent = String(err.message || err);
    }
  }));
  STATE.loadMs = performance.now();  // since the navigation started: what a user waits
  STATE.refreshMs = performance.now() - started;
  STATE.ready = true;
  document.body.dataset.ready = "true";
}

document.getElementById("refresh").addEventListener("click", load);
setInterval(() => { if (!document.hidden) load(); }, 60000);
load();
