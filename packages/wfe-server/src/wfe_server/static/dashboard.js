// The wfe dashboard: plain browser JavaScript, no build step. Every piece of data comes from /api/v1 with the
// bearer token the user gave once (kept in sessionStorage); /api/v1/stream keeps the page live.
"use strict";
(function () {
  const TOKEN_KEY = "wfe-token";
  const API = "/api/v1";
  const body = document.body;
  const main = document.getElementById("main");
  const STATUSES = ["", "Runnable", "Suspended", "Complete", "Terminated"];

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined) continue;
      if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "class") node.className = value;
      else node.setAttribute(key, value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function headers(extra) {
    const result = Object.assign({}, extra || {});
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) result["Authorization"] = "Bearer " + token;
    return result;
  }

  let asking = null;
  function askToken() {
    if (asking) return asking;
    const dialog = document.getElementById("token-dialog");
    const form = document.getElementById("token-form");
    const input = document.getElementById("token-input");
    asking = new Promise((resolve) => {
      form.addEventListener("submit", function done(event) {
        event.preventDefault();
        sessionStorage.setItem(TOKEN_KEY, input.value.trim());
        form.removeEventListener("submit", done);
        dialog.close();
        asking = null;
        resolve();
      });
    });
    dialog.showModal();
    input.focus();
    return asking;
  }

  async function api(path, options) {
    for (;;) {
      const opts = Object.assign({}, options || {});
      opts.headers = headers(opts.headers);
      const response = await fetch(API + path, opts);
      if (response.status === 401) {
        sessionStorage.removeItem(TOKEN_KEY);
        await askToken();
        continue;
      }
      return response;
    }
  }

  async function json(path, options) {
    const response = await api(path, options);
    const data = await response.json();
    if (!response.ok) throw new Error((data.error && data.error.message) || response.statusText);
    return data;
  }

  // -- the stream: fetch() (EventSource cannot send the token) and a small SSE parser --------------------------
  function follow(workflowId, onMessage) {
    const live = document.getElementById("live");
    let stopped = false;
    async function run() {
      while (!stopped) {
        try {
          const query = workflowId ? "?workflow_id=" + encodeURIComponent(workflowId) : "";
          const response = await api("/stream" + query);
          if (!response.ok) throw new Error("stream " + response.status);
          live.classList.add("on");
          const reader = response.body.getReader();
          const decoder = new TextDecoder();
          let buffer = "";
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buffer += decoder.decode(value, { stream: true });
            let cut;
            while ((cut = buffer.indexOf("\n\n")) >= 0) {
              const block = buffer.slice(0, cut);
              buffer = buffer.slice(cut + 2);
              let event = "message";
              const data = [];
              for (const line of block.split("\n")) {
                if (line.startsWith("event: ")) event = line.slice(7);
                else if (line.startsWith("data: ")) data.push(line.slice(6));
              }
              if (data.length) onMessage(event, JSON.parse(data.join("\n")));
            }
          }
        } catch (error) {
          console.warn("stream:", error);
        }
        live.classList.remove("on");
        await new Promise((resolve) => setTimeout(resolve, 2000));
      }
    }
    run();
    return () => { stopped = true; };
  }

  function debounce(fn, ms) {
    let timer = null;
    return () => { clearTimeout(timer); timer = setTimeout(fn, ms); };
  }

  function when(iso) {
    return iso ? new Date(iso).toLocaleString() : "";
  }

  function duration(ms) {
    if (ms === null || ms === undefined) return "";
    if (ms < 1000) return ms + " ms";
    if (ms < 60000) return (ms / 1000).toFixed(1) + " s";
    return Math.floor(ms / 60000) + " min " + Math.floor((ms % 60000) / 1000) + " s";
  }

  function badge(status) {
    return el("span", { class: "status status-" + status.toLowerCase(), "data-status": status }, status);
  }

  function showError(error) {
    main.replaceChildren(el("p", { class: "error" }, String(error.message || error)));
  }

  // -- the runs page -------------------------------------------------------------------------------------------
  function runsPage() {
    const params = new URLSearchParams(location.search);
    const state = { status: params.get("status") || "", q: params.get("q") || "", skip: Number(params.get("skip") || 0), take: 25 };
    const select = el("select", { id: "status-filter", "aria-label": "status" },
      STATUSES.map((s) => el("option", { value: s }, s || "all statuses")));
    select.value = state.status;
    const search = el("input", { id: "search", type: "search", placeholder: "Search runs", value: state.q });
    const form = el("form", { class: "filters", id: "filters" }, select, search, el("button", { type: "submit" }, "Search"));
    const table = el("table", { id: "runs", class: "runs" });
    const pager = el("div", { class: "pager" });
    const count = el("span", { id: "count", class: "muted" });
    main.replaceChildren(el("h1", {}, "Runs"), form, table, el("div", { class: "footer" }, count, pager));

    function apply() {
      const query = new URLSearchParams();
      if (state.status) query.set("status", state.status);
      if (state.q) query.set("q", state.q);
      if (state.skip) query.set("skip", String(state.skip));
      history.replaceState(null, "", "/" + (query.toString() ? "?" + query : ""));
      load();
    }
    form.addEventListener("submit", (event) => { event.preventDefault(); state.q = search.value.trim(); state.skip = 0; apply(); });
    select.addEventListener("change", () => { state.status = select.value; state.skip = 0; apply(); });

    async function load() {
      const query = new URLSearchParams({ skip: String(state.skip), take: String(state.take) });
      if (state.status) query.set("status", state.status);
      if (state.q) query.set("q", state.q);
      let page;
      try { page = await json("/workflows?" + query); } catch (error) { return showError(error); }
      const head = el("tr", {}, ["Name", "Definition", "Status", "Reference", "Created", "Completed"].map((h) => el("th", {}, h)));
      const rows = page.items.map((item) => el("tr", { "data-id": item.id },
        el("td", { "data-label": "Name" }, el("a", { href: "/runs/" + encodeURIComponent(item.id), class: "run-link" }, item.name || item.id)),
        el("td", { "data-label": "Definition" }, item.definition_id + " v" + item.version),
        el("td", { "data-label": "Status" }, badge(item.status)),
        el("td", { "data-label": "Reference", class: "wide" }, item.reference || ""),
        el("td", { "data-label": "Created" }, when(item.create_time)),
        el("td", { "data-label": "Completed", class: "wide" }, when(item.complete_time))));
      table.replaceChildren(el("thead", {}, head), el("tbody", {}, rows.length ? rows : [el("tr", {}, el("td", { colspan: "6", class: "muted" }, "No runs"))]));
      count.textContent = page.items.length ? `${state.skip + 1}–${state.skip + page.items.length}` + (page.more ? " of more" : ` of ${page.total}`) : "";
      pager.replaceChildren(
        el("button", { id: "prev", disabled: state.skip === 0 ? "" : null, onclick: () => { state.skip = Math.max(0, state.skip - state.take); apply(); } }, "‹ Newer"),
        el("button", { id: "next", disabled: page.more ? null : "", onclick: () => { state.skip += state.take; apply(); } }, "Older ›"));
    }
    load();
    const reload = debounce(load, 300);
    follow(null, (event) => { if (event === "lifecycle") reload(); });
  }

  // -- one run -------------------------------------------------------------------------------------------------
  function clock(iso) {
    return iso ? new Date(iso).toLocaleTimeString() : "";
  }

  function attempts(n) {
    return n ? (n === 1 ? "1 attempt" : n + " attempts") : "";
  }

  // How long a step has been running, from its start to now; the run page ticks these every second.
  function runningFor(since) {
    const seconds = Math.max(0, Math.floor((Date.now() - Date.parse(since)) / 1000));
    return "running for " + (seconds < 60 ? seconds + " s" : Math.floor(seconds / 60) + " min " + (seconds % 60) + " s");
  }

  function tickRunning(root) {
    for (const span of root.querySelectorAll("[data-since]")) span.textContent = runningFor(span.dataset.since);
  }

  // One row a pointer: status, step, start → end, duration (or how long it has been running), attempts
  // (retries + 1) and outcome; the pointers a container opened are nested under it.
  function pointerList(pointers) {
    return el("ul", { class: "tree" }, pointers.map((p) => {
      const times = p.start_time ? el("span", { class: "pointer-times", title: when(p.start_time) + (p.end_time ? " → " + when(p.end_time) : "") },
        clock(p.start_time) + (p.end_time ? " → " + clock(p.end_time) : "")) : null;
      let took = null;
      if (p.start_time && p.end_time) took = el("span", { class: "pointer-duration" }, duration(p.duration_ms));
      else if (p.start_time) took = el("span", { class: "pointer-duration running", "data-since": p.start_time }, runningFor(p.start_time));
      const tries = p.attempts ? el("span", { class: "pointer-attempts", "data-attempts": String(p.attempts) }, attempts(p.attempts)) : null;
      const outcome = p.outcome !== null && p.outcome !== undefined ? el("span", { class: "pointer-outcome" }, "→ " + JSON.stringify(p.outcome)) : null;
      return el("li", { "data-step": p.step, "data-status": p.status },
        el("div", { class: "pointer" },
          el("span", { class: "pointer-head" }, badge(p.status), " ", el("strong", {}, p.step)),
          el("span", { class: "pointer-meta muted" }, times, took, tries, outcome)),
        p.children.length ? pointerList(p.children) : null);
    }));
  }

  function runPage() {
    const id = body.dataset.workflowId;
    const title = el("h1", { id: "run-title" }, id);
    const status = el("span", { id: "run-status" });
    const meta = el("p", { class: "muted", id: "run-meta" });
    const message = el("p", { id: "action-message", class: "muted", role: "status" });
    const button = (name, label) => el("button", { id: "btn-" + name, onclick: () => control(name) }, label);
    const publish = el("form", { id: "publish-form", class: "publish" },
      el("input", { id: "event-name", placeholder: "event name", required: "" }),
      el("input", { id: "event-key", placeholder: "key" }),
      el("input", { id: "event-data", placeholder: "data (JSON)" }),
      el("button", { type: "submit", id: "btn-publish" }, "Publish event"));
    const graph = el("div", { id: "graph", class: "graph" });
    const tree = el("div", { id: "pointers" });
    const errors = el("div", { id: "errors" });
    const logs = el("pre", { id: "logs", class: "logs" });
    const data = el("pre", { id: "data", class: "data" });
    main.replaceChildren(
      el("div", { class: "run-head" }, title, status),
      meta,
      el("div", { class: "actions" }, button("suspend", "Suspend"), button("resume", "Resume"), button("terminate", "Terminate")),
      publish, message,
      el("div", { class: "columns" },
        el("section", {}, el("h2", {}, "Graph"), graph),
        el("section", {}, el("h2", {}, "Steps"), tree)),
      el("section", {}, el("h2", {}, "Errors"), errors),
      el("section", {}, el("h2", {}, "Logs"), logs),
      el("section", {}, el("h2", {}, "Data"), data));

    let workflowId = id;
    async function control(action) {
      try {
        const result = await json(`/workflows/${encodeURIComponent(workflowId)}/${action}`, { method: "POST" });
        message.textContent = action + (result.accepted ? ": accepted" : ": not accepted");
      } catch (error) { message.textContent = action + ": " + error.message; }
      refresh();
    }
    publish.addEventListener("submit", async (event) => {
      event.preventDefault();
      let payload = null;
      const raw = document.getElementById("event-data").value.trim();
      try { payload = raw ? JSON.parse(raw) : null; } catch (error) { message.textContent = "data is not JSON"; return; }
      try {
        await json("/events", { method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ name: document.getElementById("event-name").value, key: document.getElementById("event-key").value, data: payload }) });
        message.textContent = "event published";
      } catch (error) { message.textContent = "publish: " + error.message; }
    });

    function logLine(line) {
      const text = `[${line.step}] ${line.text}\n`;
      logs.append(el("span", { class: "log-" + line.stream }, text));
      logs.scrollTop = logs.scrollHeight;
    }

    async function refresh() {
      let run;
      try { run = await json("/workflows/" + encodeURIComponent(id)); } catch (error) { return showError(error); }
      workflowId = run.id;
      document.title = (run.name || run.id) + " · wfe";
      title.textContent = run.name || run.id;
      status.replaceChildren(badge(run.status));
      meta.textContent = `${run.definition_id} v${run.version} · created ${when(run.create_time)}` + (run.complete_time ? ` · ended ${when(run.complete_time)}` : "") + (run.reference ? ` · ${run.reference}` : "");
      tree.replaceChildren(pointerList(run.pointers));
      errors.replaceChildren(...(run.errors.length ? run.errors.map((e) => el("details", { class: "error-item" },
        el("summary", {}, `${e.step || "?"}: ${e.type}: ${e.message}`), e.traceback ? el("pre", {}, e.traceback) : null)) : [el("p", { class: "muted" }, "None")]));
      data.textContent = JSON.stringify(run.data, null, 2);
      const ended = run.status === "Complete" || run.status === "Terminated";
      document.getElementById("btn-terminate").disabled = ended;
      document.getElementById("btn-suspend").disabled = ended || run.status === "Suspended";
      document.getElementById("btn-resume").disabled = run.status !== "Suspended";
      const response = await api(`/workflows/${encodeURIComponent(run.id)}/graph?format=svg`);
      if (response.ok) graph.innerHTML = await response.text();
      return run;
    }

    async function start() {
      const run = await refresh();
      if (!run) return;
      const recorded = await json(`/workflows/${encodeURIComponent(run.id)}/logs`);
      for (const entry of recorded.recorded) for (const text of entry.text.replace(/\n$/, "").split("\n")) logLine({ step: entry.step, stream: entry.stream, text });
      for (const line of recorded.live) logLine(line);
      const later = debounce(refresh, 250);
      setInterval(() => tickRunning(tree), 1000);
      follow(run.id, (event, message) => {
        if (event === "log") logLine(message);
        else later();
      });
    }
    start();
  }

  // -- definitions ---------------------------------------------------------------------------------------------
  async function definitionsPage() {
    let definitions;
    try { definitions = await json("/definitions"); } catch (error) { return showError(error); }
    const list = el("div", { id: "definitions" });
    main.replaceChildren(el("h1", {}, "Definitions"), list);
    if (!definitions.length) list.append(el("p", { class: "muted" }, "No definitions registered"));
    for (const d of definitions) {
      const graph = el("div", { class: "graph" });
      list.append(el("section", { class: "definition", "data-id": d.id },
        el("h2", {}, `${d.name} `, el("span", { class: "muted" }, `${d.id} v${d.version} · ${d.step_count} step${d.step_count === 1 ? "" : "s"}`)),
        d.description ? el("p", {}, d.description) : null, graph));
      api(`/definitions/${encodeURIComponent(d.id)}/${d.version}/graph?format=svg`).then(async (r) => { if (r.ok) graph.innerHTML = await r.text(); });
    }
  }

  const pages = { runs: runsPage, run: runPage, definitions: definitionsPage };
  (pages[body.dataset.page] || runsPage)();
})();
