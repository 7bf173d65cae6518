/* Lumbung web UI: loads the graph from the JSON API into the lineage page (page.js), and
   adds the asset page, the runs pages, the selection box, the materialize action and live
   updates (server-sent events). Every value is shown through textContent, never as HTML.
   Exposes window.ui for tests. */
(function () {
  "use strict";
  var meta = null, token = null, current = null;  // current: the route shown
  var keepScroll = 0;
  var view = document.getElementById("view"), main = document.getElementById("main");
  var runStream = null;

  function $(id) { return document.getElementById(id); }
  function el(tag, text, cls) {
    var x = document.createElement(tag);
    if (text !== undefined && text !== null) x.textContent = String(text);
    if (cls) x.className = cls;
    return x;
  }
  function link(text, hash) { var a = el("a", text); a.href = hash; return a; }
  function pairs(list) {
    var dl = el("dl");
    list.forEach(function (p) {
      if (p[1] === null || p[1] === undefined || p[1] === "") return;
      dl.appendChild(el("dt", p[0]));
      var dd = el("dd");
      if (p[1] instanceof Node) dd.appendChild(p[1]); else dd.textContent = String(p[1]);
      dl.appendChild(dd);
    });
    return dl;
  }
  function table(heads, rows) {  // rows: arrays of text or nodes; a class per column with "."
    var t = el("table"), tr = el("tr");
    heads.forEach(function (h) { tr.appendChild(el("th", h.split(".")[0])); });
    t.appendChild(tr);
    rows.forEach(function (r) {
      var row = el("tr");
      r.forEach(function (v, i) {
        var td = el("td", null, heads[i].split(".")[1] || "");
        if (v instanceof Node) td.appendChild(v); else td.textContent = v === null || v === undefined ? "-" : String(v);
        row.appendChild(td);
      });
      t.appendChild(row);
    });
    return t;
  }
  function secs(v) { return v === null || v === undefined ? "-" : (v < 60 ? v.toFixed(2) + "s" : Math.floor(v / 60) + "m " + String(Math.round(v % 60)).padStart(2, "0") + "s"); }
  function when(iso) { return iso ? iso.replace("T", " ").replace(/\.\d+\+00:00$/, " UTC") : "-"; }
  function outcome(text) { return el("span", text, "outcome-" + text); }
  function badge(status, colors) {
    var b = el("span", status || "source", "badge");
    b.style.setProperty("--c", (colors || {})[status || "source"] || "#7d8590");
    return b;
  }

  function api(path) {
    return fetch(path, { headers: { Accept: "application/json" } }).then(function (r) {
      return r.json().then(function (d) { if (!r.ok) throw new Error(d.error || ("HTTP " + r.status)); return d; });
    });
  }
  function post(path, body) {
    var headers = { "Content-Type": "application/json" };
    if (token) headers[meta.token_header] = token;
    return fetch(path, { method: "POST", headers: headers, body: JSON.stringify(body) }).then(function (r) {
      return r.json().then(function (d) { if (!r.ok) throw new Error(d.error || ("HTTP " + r.status)); return d; });
    });
  }
  var colors = {};

  // ---- routing -------------------------------------------------------------------------

  function route() {
    var h = decodeURIComponent(location.hash.replace(/^#/, "")) || "/";
    keepScroll = h === current ? view.scrollTop : 0;  // a live redraw keeps the reader's place
    if (runStream) { runStream.close(); runStream = null; }
    $("tab-graph").className = h === "/" || h.indexOf("/asset/") === 0 ? "on" : "";
    $("tab-runs").className = h.indexOf("/run") === 0 ? "on" : "";
    $("tab-schedules").className = h === "/schedules" ? "on" : "";
    current = h;
    var graphBits = ["find", "selection", "selinfo", "fit", "legend"];
    graphBits.forEach(function (id) { $(id).hidden = h !== "/"; });
    if (h === "/") {
      view.hidden = true; main.hidden = false;
      if (window.lineage) { window.lineage.resize(); if (!statusesShown) refresh(); }
      return;
    }
    main.hidden = true; view.hidden = false; view.textContent = "";
    ["data-ready", "data-ended", "data-asset"].forEach(function (a) { view.removeAttribute(a); });
    if (h.indexOf("/asset/") === 0) assetPage(h.slice(7));
    else if (h === "/runs") runsPage();
    else if (h.indexOf("/run/") === 0) runPage(h.slice(5));
    else if (h === "/schedules") schedulesPage();
    else view.appendChild(el("p", "No page " + h + "."));
  }
  window.addEventListener("hashchange", route);

  function failed(where, err) {
    where.appendChild(el("p", err.message || String(err), "error"));
  }

  // ---- the asset page ------------------------------------------------------------------

  function assetPage(key) {
    view.appendChild(el("p", "Loading " + key + "…", "muted"));
    api("/api/asset?key=" + encodeURIComponent(key)).then(function (a) {
      if (current !== "/asset/" + key) return;
      view.textContent = "";
      view.setAttribute("data-asset", a.key);
      var head = el("h2", a.key);
      view.appendChild(head);
      var line = el("p");
      line.appendChild(badge(a.status, colors));
      line.appendChild(document.createTextNode("  " + a.kind + (a.io_manager ? " · " + a.io_manager : "") + " · " + a.group));
      if (meta.actions && a.kind !== "source") {
        var go = el("button", "Materialize", "action");
        go.type = "button"; go.id = "asset-materialize";
        go.addEventListener("click", function () { openMaterialize(a.key); });
        line.appendChild(document.createTextNode("  "));
        line.appendChild(go);
      }
      view.appendChild(line);
      if (a.description) view.appendChild(el("p", a.description, "description"));

      view.appendChild(el("h3", "Status"));
      var st = el("div", null, "status");
      st.appendChild(pairs([["status", (a.status || "source") + (a.upstream_stale ? " (upstream " + a.upstream_stale + " is stale)" : "")],
        ["hint", a.hint], ["last outcome", a.last_outcome]]));
      if (a.reasons.length) {
        var ul = el("ul", null, "reasons");
        a.reasons.forEach(function (r) { var li = el("li", r.message); li.title = r.code; ul.appendChild(li); });
        st.appendChild(ul);
      }
      if (a.with_upstream && a.with_upstream.explain) {
        st.appendChild(pairs([["root cause", a.with_upstream.explain]]));
      }
      if (a.last_error) { st.appendChild(el("h3", "Last error")); st.appendChild(el("pre", a.last_error, "error")); }
      view.appendChild(st);

      if (a.checks && a.checks.length) checksSection(a.checks);

      view.appendChild(el("h3", "Definition"));
      var ups = el("span"), downs = el("span");
      a.upstream.forEach(function (k, i) { if (i) ups.appendChild(document.createTextNode(", ")); ups.appendChild(link(k, "#/asset/" + encodeURIComponent(k))); });
      a.downstream.forEach(function (k, i) { if (i) downs.appendChild(document.createTextNode(", ")); downs.appendChild(link(k, "#/asset/" + encodeURIComponent(k))); });
      view.appendChild(pairs([["kind", a.kind], ["defined in", a.file], ["group", a.group], ["io manager", a.io_manager],
        ["tags", a.tags.join(", ")], ["owners", a.owners.join(", ")], ["location", a.location],
        ["upstream", a.upstream.length ? ups : "none"], ["downstream", a.downstream.length ? downs : "none"]]));
      if (a.code) { var pre = el("pre", a.code.text, "code"); pre.setAttribute("data-language", a.code.language); view.appendChild(pre); }

      if (a.partitions) partitionsSection(a.partitions);

      var m = a.last_materialization;
      if (m) {
        view.appendChild(el("h3", "Last materialization" + (a.partition ? " (" + a.partition + ")" : "")));
        view.appendChild(pairs([["ended", when(m.ended_at)], ["duration", secs(m.duration)], ["rows", m.rows],
          ["bytes", m.bytes], ["run", link(m.run_id, "#/run/" + encodeURIComponent(m.run_id))],
          ["data version", (m.data_version || "").slice(0, 12)], ["code version", (m.code_version || "").slice(0, 12)]]));
        if (m.schema.length) {
          view.appendChild(el("h3", "Schema (" + m.schema.length + " columns)"));
          view.appendChild(table(["column", "type"], m.schema.map(function (c) { return [c.name, c.type]; })));
        }
      }

      if (a.columns || a.columns_note) columnsSection(a.columns || [], a.columns_note);

      view.appendChild(el("h3", "History (" + a.history.length + ")"));
      if (!a.history.length) view.appendChild(el("p", "never materialized", "muted"));
      else view.appendChild(table(["ended", "run", "partition", "outcome", "duration.num", "rows.num", "error"], a.history.map(function (r) {
        return [when(r.ended_at), link(r.run_id, "#/run/" + encodeURIComponent(r.run_id)), r.partition, outcome(r.outcome),
          secs(r.duration), r.rows, r.error ? r.error.split("\n")[0] : ""];
      })));

      if (a.kind !== "source" && m) {
        view.appendChild(el("h3", "Preview"));
        var box = el("div", null, "preview");
        var btn = el("button", "Show the first 100 rows"); btn.type = "button"; btn.id = "preview";
        btn.addEventListener("click", function () {
          box.textContent = "";
          api("/api/asset/preview?key=" + encodeURIComponent(a.key)).then(function (p) {
            box.appendChild(el("p", p.rows.length + " rows of " + p.location, "muted"));
            var wrap = el("div", null, "scroll");
            wrap.appendChild(table(p.columns.map(function (c) { return c.name; }), p.rows));
            box.appendChild(wrap);
          }, function (e) { failed(box, e); });
        });
        box.appendChild(btn);
        view.appendChild(box);
      }
      view.scrollTop = keepScroll;
      view.setAttribute("data-ready", "1");
    }, function (e) { view.textContent = ""; failed(view, e); });
  }

  // ---- checks: each with its last result; a failing one with its sample of failing rows

  // a SQL asset's column lineage: each output column with the input columns it derives from
  function columnsSection(columns, note) {
    view.appendChild(el("h3", "Column lineage (" + columns.length + " columns)"));
    if (note) view.appendChild(el("p", note, "muted"));
    if (columns.length) view.appendChild(table(["column", "from"], columns.map(function (c) {
      var from = el("span");
      c.from.forEach(function (f, i) {
        if (i) from.appendChild(document.createTextNode(", "));
        from.appendChild(link(f.asset + "." + f.column, "#/asset/" + encodeURIComponent(f.asset)));
      });
      if (!c.from.length) from.appendChild(el("span", "no input column", "muted"));
      return [c.name, from];
    })));
  }

  function checksSection(checks) {
    view.appendChild(el("h3", "Checks (" + checks.length + ")"));
    var box = el("div", null, "checks");
    box.appendChild(table(["check", "severity", "result", "failing rows.num", "partition", "message"], checks.map(function (c) {
      return [c.check, c.severity, outcome(c.result || "never run"), c.failing_rows, c.partition, c.message];
    })));
    checks.forEach(function (c) {
      if (!c.sample || !c.sample.length) return;
      box.appendChild(el("p", "Failing rows of " + c.check + " (a sample of " + c.sample.length + "):", "muted"));
      var cols = Object.keys(c.sample[0]);
      var wrap = el("div", null, "scroll sample");
      wrap.appendChild(table(cols, c.sample.map(function (row) { return cols.map(function (k) { return row[k]; }); })));
      box.appendChild(wrap);
    });
    view.appendChild(box);
  }

  // ---- the partition matrix ------------------------------------------------------------

  var CODES = { f: "fresh", s: "stale", m: "missing", w: "waiting", x: "failed" };
  var CELL_COLORS = { f: "#2f9e57", s: "#d99a00", m: "#3b82c4", w: "#b4bcc6", x: "#d64545" };

  function partitionsSection(p) {
    view.appendChild(el("h3", "Partitions"));
    var box = el("div", null, "partitions");
    view.appendChild(box);
    (function () {
      var summary = Object.keys(p.counts).filter(function (s) { return p.counts[s]; })
        .map(function (s) { return p.counts[s] + " " + s; }).join(", ");
      box.appendChild(el("p", p.partitions + " partitions: " + (summary || "none"), "summary"));
      var rows = [];
      Object.keys(p.ranges).forEach(function (s) {
        p.ranges[s].slice(0, 20).forEach(function (r) { rows.push([outcomeStatus(s), r.first + (r.last !== r.first ? " .. " + r.last : ""), r.count]); });
      });
      box.appendChild(table(["status", "range", "partitions.num"], rows));
      drawMatrix(box, p);
    })();
  }
  function outcomeStatus(s) { var x = el("span", s, "badge"); x.style.setProperty("--c", CELL_COLORS[s === "failed" ? "x" : s[0]]); return x; }

  // a grid of cells on one canvas: a multi-dimensional asset's two chosen dimensions as rows
  // and columns; any other asset's keys in order, wrapped (24 a row for hours)
  function drawMatrix(box, p) {
    var keys = p.keys, codes = p.status, n = keys.length;
    if (!n) return;
    var controls = el("p", null, "dims"), canvas = el("canvas"), info = el("p", " ", "muted");
    canvas.id = "matrix"; info.id = "matrix-info";
    box.appendChild(controls); box.appendChild(canvas); box.appendChild(info);
    var dims = p.dimensions, rowDim = 0, colDim = 1, parsed = null;
    if (dims.length >= 2) {
      parsed = keys.map(function (k) {
        var o = {}; k.split(",").forEach(function (kv) { var i = kv.indexOf("="); o[kv.slice(0, i)] = kv.slice(i + 1); }); return o;
      });
      [["rows", 0], ["columns", 1]].forEach(function (pair) {
        controls.appendChild(document.createTextNode(pair[0]));
        var sel = el("select"); sel.id = "matrix-" + pair[0];
        dims.forEach(function (d, i) { var o = el("option", d); o.value = String(i); if (i === pair[1]) o.selected = true; sel.appendChild(o); });
        sel.addEventListener("change", function () { if (pair[1] === 0) rowDim = +sel.value; else colDim = +sel.value; draw(); });
        controls.appendChild(sel);
      });
    }
    var cell = 8, grid = null;
    function draw() {
      var rowsOf = [], colsOf = [], rowIndex = new Map(), colIndex = new Map(), at = new Int32Array(n);
      if (parsed && rowDim !== colDim) {
        var rd = dims[rowDim], cd = dims[colDim];
        for (var i = 0; i < n; i++) {
          var r = parsed[i][rd], c = parsed[i][cd];
          if (!rowIndex.has(r)) { rowIndex.set(r, rowsOf.length); rowsOf.push(r); }
          if (!colIndex.has(c)) { colIndex.set(c, colsOf.length); colsOf.push(c); }
        }
        grid = { rows: rowsOf.length, cols: colsOf.length, cellOf: {} };
        var cells = new Map();
        for (var j = 0; j < n; j++) {  // a cell shows the worst of the keys it holds
          var id = rowIndex.get(parsed[j][rd]) * colsOf.length + colIndex.get(parsed[j][cd]);
          var prev = cells.get(id);
          if (prev === undefined || worse(codes[j], codes[prev])) cells.set(id, j);
        }
        grid.cells = cells; grid.rowNames = rowsOf; grid.colNames = colsOf;
      } else {
        var cols = /T\d\d:\d\d$/.test(keys[0]) ? 24 : Math.min(n, 60);
        grid = { rows: Math.ceil(n / cols), cols: cols, cells: null };
      }
      cell = Math.max(3, Math.min(14, Math.floor(Math.min(900 / grid.cols, 2400 / grid.rows))));
      canvas.width = grid.cols * cell; canvas.height = grid.rows * cell;
      var ctx = canvas.getContext("2d");
      if (grid.cells) {
        grid.cells.forEach(function (k, id) {
          ctx.fillStyle = CELL_COLORS[codes[k]];
          ctx.fillRect((id % grid.cols) * cell, Math.floor(id / grid.cols) * cell, cell - 1, cell - 1);
        });
      } else {
        for (var q = 0; q < n; q++) {
          ctx.fillStyle = CELL_COLORS[codes[q]];
          ctx.fillRect((q % grid.cols) * cell, Math.floor(q / grid.cols) * cell, cell - 1, cell - 1);
        }
      }
      canvas.setAttribute("data-cells", String(grid.cells ? grid.cells.size : n));
    }
    function worse(a, b) { return "xmswf".indexOf(a) < "xmswf".indexOf(b); }
    canvas.addEventListener("mousemove", function (ev) {
      var r = canvas.getBoundingClientRect();
      var c = Math.floor((ev.clientX - r.left) / cell), row = Math.floor((ev.clientY - r.top) / cell);
      var k = -1;
      if (grid.cells) { var got = grid.cells.get(row * grid.cols + c); if (got !== undefined) k = got; }
      else if (c < grid.cols) k = row * grid.cols + c;
      info.textContent = k >= 0 && k < n ? keys[k] + ": " + CODES[codes[k]] : " ";
    });
    draw();
    window.ui.matrix = { cells: function () { return +canvas.getAttribute("data-cells"); }, grid: function () { return { rows: grid.rows, cols: grid.cols }; } };
  }

  // ---- runs ----------------------------------------------------------------------------

  function runsPage() {
    view.appendChild(el("h2", "Runs"));
    api("/api/runs").then(function (d) {
      if (current !== "/runs") return;
      if (!d.runs.length) { view.appendChild(el("p", "No runs yet.", "muted")); return; }
      view.appendChild(table(["run", "status", "started", "duration.num", "selection"], d.runs.map(function (r) {
        return [link(r.run_id, "#/run/" + encodeURIComponent(r.run_id)), outcome(r.status), when(r.started_at), secs(r.duration), r.selection || "everything"];
      })));
      view.scrollTop = keepScroll;
      view.setAttribute("data-ready", "1");
    }, function (e) { failed(view, e); });
  }

  // ---- schedules and sensors -----------------------------------------------------------

  function runLink(id) { return id ? link(id, "#/run/" + encodeURIComponent(id)) : "-"; }

  function schedulesPage() {
    view.appendChild(el("h2", "Schedules and sensors"));
    api("/api/schedules").then(function (d) {
      if (current !== "/schedules") return;
      if (!d.schedules.length) view.appendChild(el("p", "No schedules or sensors; declare them with schedule() or sensor().", "muted"));
      else view.appendChild(table(["name", "kind", "when", "selection", "next tick", "last tick", "last outcome", "run"], d.schedules.map(function (s) {
        var every = s.kind === "schedule" ? s.cron + " (" + s.timezone + ")" : "every " + s.every_seconds + "s";
        return [s.name, s.kind, every, s.select || "everything", s.next_tick || "-", s.last_tick || "-", s.last_outcome ? outcome(s.last_outcome) : "-", runLink(s.last_run_id)];
      })));
      view.appendChild(el("h3", "Past ticks"));
      if (!d.ticks.length) view.appendChild(el("p", "No ticks yet; `lumbung serve` records them.", "muted"));
      else view.appendChild(table(["tick", "name", "kind", "outcome", "run", "ended", "detail"], d.ticks.map(function (t) {
        return [t.tick, t.name, t.kind, outcome(t.outcome), runLink(t.run_id), when(t.ended_at), t.detail || ""];
      })));
      view.scrollTop = keepScroll;
      view.setAttribute("data-ready", "1");
    }, function (e) { failed(view, e); });
  }

  // a run, live: the stream sends its steps and new lines until it ends
  function runPage(id) {
    view.appendChild(el("h2", "Run " + id));
    var head = el("div"), steps = el("div"), logs = el("pre", "", "logs");
    logs.id = "run-logs";
    view.appendChild(head);
    view.appendChild(el("h3", "Steps"));
    view.appendChild(steps);
    view.appendChild(el("h3", "Logs"));
    view.appendChild(logs);
    var lines = [];
    var es = new EventSource("/api/run/events?id=" + encodeURIComponent(id));
    runStream = es;
    es.addEventListener("update", function (ev) {
      var d = JSON.parse(ev.data), r = d.run;
      head.textContent = "";
      head.appendChild(pairs([["status", outcome(r.status)], ["started", when(r.started_at)], ["ended", when(r.ended_at)],
        ["duration", secs(r.duration)], ["selection", r.selection || "everything"]]));
      head.firstChild.id = "run-head";
      head.setAttribute("data-status", r.status);
      // the counts by outcome, and the newest steps (the server sends at most 500: a
      // backfill has thousands)
      steps.textContent = "";
      var byOutcome = d.outcomes;
      steps.appendChild(el("p", Object.keys(byOutcome).map(function (o) { return byOutcome[o] + " " + o; }).join(", ") || "no steps recorded yet", "muted"));
      var shown = d.steps;
      if (d.steps_total > shown.length) steps.appendChild(el("p", "the newest " + shown.length + " of " + d.steps_total + " steps:", "muted"));
      if (shown.length) steps.appendChild(table(["asset", "partition", "outcome", "duration.num", "rows.num", "error"], shown.map(function (s) {
        return [link(s.key, "#/asset/" + encodeURIComponent(s.key)), s.partition, outcome(s.outcome), secs(s.duration), s.rows, s.error ? s.error.split("\n")[0] : ""];
      })));
      d.logs.forEach(function (x) {
        lines.push("[" + x.key + (x.partition ? " " + x.partition : "") + "] " + (x.level ? x.level + " " : "") + x.message);
      });
      if (d.logs.length) logs.textContent = lines.slice(-5000).join("\n");
      if (!lines.length) logs.textContent = "(nothing logged yet)";
    });
    es.addEventListener("end", function () { es.close(); view.setAttribute("data-ended", "1"); });
    es.addEventListener("error", function (ev) {
      if (ev.data) { failed(view, new Error(JSON.parse(ev.data).error)); es.close(); }
    });
  }

  // ---- the materialize action ----------------------------------------------------------

  function openMaterialize(select) {
    $("mat-select").value = select || $("selection").value || "";
    $("mat-msg").textContent = "";
    $("mat").hidden = false;
    $("mat-select").focus();
  }
  $("open-materialize").addEventListener("click", function () { openMaterialize(); });
  $("mat-cancel").addEventListener("click", function () { $("mat").hidden = true; });
  $("mat-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var msg = $("mat-msg");
    msg.textContent = "Planning…";
    post("/api/materialize", {
      select: $("mat-select").value, exclude: $("mat-exclude").value,
      partitions: $("mat-partitions").value, force: $("mat-force").checked
    }).then(function (launch) {
      msg.textContent = "Started (" + launch.planned + " to run)…";
      follow(launch.id, msg);
    }, function (e) { msg.textContent = e.message; });
  });
  function follow(id, msg) {
    api("/api/launch?id=" + encodeURIComponent(id)).then(function (l) {
      if (l.run_id) { $("mat").hidden = true; location.hash = "#/run/" + encodeURIComponent(l.run_id); return; }
      if (l.status === "finished") { msg.textContent = l.error || ("the run ended with exit code " + l.exit_code); return; }
      setTimeout(function () { follow(id, msg); }, 250);
    }, function (e) { msg.textContent = e.message; });
  }

  // ---- the selection box and live status ----------------------------------------------

  $("selection").addEventListener("keydown", function (ev) {
    if (ev.key !== "Enter") return;
    var text = $("selection").value.trim(), info = $("selinfo");
    info.className = "muted";
    if (!text) { info.textContent = ""; window.lineage.mark([]); return; }
    api("/api/select?select=" + encodeURIComponent(text)).then(function (d) {
      window.lineage.mark(d.keys);
      info.textContent = d.keys.length + " selected" + (d.warnings.length ? " · " + d.warnings.join("; ") : "");
      info.title = info.textContent;
    }, function (e) { info.className = "bad"; info.textContent = e.message; info.title = e.message; window.lineage.mark([]); });
  });

  // statuses are asked for when the graph is in view (the graph itself comes without them,
  // so it draws at once); on another page, a change redraws that page instead
  var refreshing = false, again = false, statusesShown = false;
  function refresh() {
    if (current !== "/") {
      statusesShown = false;
      if (current && current.indexOf("/asset/") === 0 && $("mat").hidden) route();
      else if (current === "/runs") route();
      return;
    }
    if (refreshing) { again = true; return; }
    refreshing = true;
    $("live").classList.add("busy");
    api("/api/status").then(function (d) {
      window.lineage.update(d.nodes);
      statusesShown = true;
      document.body.setAttribute("data-statuses", "1");
    }).finally(function () {
      refreshing = false;
      $("live").classList.remove("busy");
      if (again) { again = false; refresh(); }
    });
  }
  function live() {
    var es = new EventSource("/api/events");
    es.addEventListener("hello", function () { $("live").className = "on"; });
    es.addEventListener("changed", refresh);
    es.addEventListener("error", function () { $("live").className = "muted"; });
  }

  // ---- start ---------------------------------------------------------------------------

  window.lineageHooks = {
    panel: function (n, details) {  // the side panel links to the asset's own page
      var p = el("p");
      p.appendChild(link("Open the asset page →", "#/asset/" + encodeURIComponent(n.key)));
      p.className = "open";
      details.insertBefore(p, details.children[2] || null);
    }
  };
  var m = /^#token=([A-Za-z0-9_-]+)$/.exec(location.hash);
  if (m) { sessionStorage.setItem("lumbung-token", m[1]); history.replaceState(null, "", "#/"); }

  window.ui = { ready: false };
  api("/api/meta").then(function (d) {
    meta = d;
    token = d.token || sessionStorage.getItem("lumbung-token");
    meta.actions = !d.read_only && !!token;
    $("open-materialize").hidden = !meta.actions;
    $("title").textContent = "Lumbung · " + d.project + (d.read_only ? " (read-only)" : "");
    document.title = "Lumbung · " + d.project;
    // the graph's JSON goes to the lineage page as it came (parsed there, not encoded again)
    return fetch("/api/graph?statuses=0", { headers: { Accept: "application/json" } }).then(function (r) {
      return r.text().then(function (text) {
        var g = JSON.parse(text);
        if (!r.ok) throw new Error(g.error || ("HTTP " + r.status));
        return [g, text];
      });
    });
  }).then(function (found) {
    colors = found[0].colors;
    $("lineage-data").textContent = found[1];
    var s = document.createElement("script");
    s.src = "/static/page.js";
    s.onload = function () {
      route();
      live();
      window.ui.ready = true;
      document.body.setAttribute("data-ui", "1");
    };
    document.body.appendChild(s);
  }, function (e) {
    main.hidden = true; view.hidden = false; failed(view, e);
  });
})();
