/* Lumbung lineage page: draws the embedded graph on one canvas (only what is in view),
   with pan (drag), zoom (wheel), search, a side panel and upstream/downstream highlighting.
   Positions come precomputed from Python; this script only draws and reacts.
   Exposes window.lineage for scripting and tests; a page that embeds this script (the web
   UI) may set window.lineageHooks.panel(node, details) to add to the side panel. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("lineage-data").textContent);
  var hooks = window.lineageHooks || {};
  var nodes = data.nodes, N = nodes.length;
  var W = data.size.node_w, H = data.size.node_h;
  var colors = data.colors;
  var CHECK_COLORS = data.check_colors;
  var index = new Map();
  var parents = [], children = [];
  for (var i = 0; i < N; i++) { index.set(nodes[i].key, i); parents.push([]); children.push([]); }
  var edges = data.edges;
  for (var e = 0; e < edges.length; e++) {
    children[edges[e][0]].push(edges[e][1]);
    parents[edges[e][1]].push(edges[e][0]);
  }
  var lowerKeys = nodes.map(function (n) { return n.key.toLowerCase(); });
  var BAND_TINTS = ["rgba(9,105,218,0.05)", "rgba(130,80,223,0.05)", "rgba(26,127,55,0.05)",
                    "rgba(191,135,0,0.06)", "rgba(207,34,46,0.05)", "rgba(27,124,131,0.06)"];

  var canvas = document.getElementById("canvas");
  var ctx = canvas.getContext("2d");
  var panel = document.getElementById("panel");
  var details = document.getElementById("details");
  var search = document.getElementById("search");
  var results = document.getElementById("results");

  // view: screen = world * k + (tx, ty)
  var view = { k: 1, tx: 20, ty: 20 };
  var cssW = 0, cssH = 0, dpr = 1;
  var selected = -1;
  var lit = null;        // Uint8Array: 1 upstream, 2 downstream, 3 the selected asset
  var hover = -1;
  var queued = false;

  function status(n) { return n.status || "source"; }
  // a partitioned asset's counts, "340/366 fresh"; "" for any other node
  function partsText(n) {
    return n.partitions ? n.partitions.fresh + "/" + n.partitions.total + " fresh" : "";
  }
  function statusText(n) { return n.partitions ? partsText(n) : status(n); }

  function resize() {
    dpr = window.devicePixelRatio || 1;
    var r = canvas.getBoundingClientRect();
    cssW = r.width; cssH = r.height;
    canvas.width = Math.max(1, Math.round(cssW * dpr));
    canvas.height = Math.max(1, Math.round(cssH * dpr));
    redraw();
  }

  function redraw() {
    if (queued) return;
    queued = true;
    window.requestAnimationFrame(function () { queued = false; draw(); });
  }

  function draw() {
    var k = view.k;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, cssW, cssH);
    // the world rectangle in view
    var x0 = -view.tx / k, y0 = -view.ty / k, x1 = (cssW - view.tx) / k, y1 = (cssH - view.ty) / k;
    ctx.setTransform(dpr * k, 0, 0, dpr * k, dpr * view.tx, dpr * view.ty);

    // group bands
    var bands = data.bands;
    for (var b = 0; b < bands.length; b++) {
      var band = bands[b];
      if (band.y1 < y0 || band.y0 > y1) continue;
      ctx.fillStyle = BAND_TINTS[b % BAND_TINTS.length];
      ctx.fillRect(x0, band.y0, x1 - x0, band.y1 - band.y0);
      ctx.strokeStyle = "rgba(0,0,0,0.06)";
      ctx.lineWidth = 1 / k;
      ctx.beginPath(); ctx.moveTo(x0, band.y1); ctx.lineTo(x1, band.y1); ctx.stroke();
    }

    // edges: one path per style, skipped when their box is out of view
    var plain = new Path2D(), bright = new Path2D();
    var anyLit = lit !== null;
    for (var e = 0; e < edges.length; e++) {
      var a = nodes[edges[e][0]], c = nodes[edges[e][1]];
      var ax = a.x + W, ay = a.y + H / 2, cx = c.x, cy = c.y + H / 2;
      if (Math.max(ax, cx) < x0 || Math.min(ax, cx) > x1 ||
          Math.max(ay, cy) < y0 || Math.min(ay, cy) > y1) continue;
      var on = anyLit && lit[edges[e][0]] && lit[edges[e][1]] &&
        !(lit[edges[e][0]] === 1 && lit[edges[e][1]] === 2);
      var p = on ? bright : plain;
      var mx = (ax + cx) / 2;
      p.moveTo(ax, ay);
      p.bezierCurveTo(mx, ay, mx, cy, cx, cy);
    }
    ctx.lineWidth = Math.max(1, 1.2 / k);
    ctx.strokeStyle = anyLit ? "rgba(140,149,159,0.25)" : "rgba(110,119,129,0.6)";
    ctx.stroke(plain);
    ctx.lineWidth = Math.max(2, 2.2 / k);
    ctx.strokeStyle = "#0969da";
    ctx.stroke(bright);

    // nodes
    var labels = k * H >= 11;
    ctx.font = "12px system-ui, -apple-system, sans-serif";
    ctx.textBaseline = "middle";
    for (var i = 0; i < N; i++) {
      var n = nodes[i];
      if (n.x > x1 || n.x + W < x0 || n.y > y1 || n.y + H < y0) continue;
      var dim = anyLit && !lit[i];
      ctx.globalAlpha = dim ? 0.22 : 1;
      ctx.fillStyle = colors[status(n)];
      roundRect(n.x, n.y, W, H, 6);
      ctx.fill();
      if (i === selected || i === hover || n.selected) {
        ctx.lineWidth = i === selected ? 3 : 2;
        ctx.strokeStyle = i === selected ? "#111" : "rgba(0,0,0,0.55)";
        ctx.stroke();
      }
      if (n.badge) {  // the worst check result: a dot in the top right corner
        ctx.beginPath();
        ctx.arc(n.x + W - 7, n.y + 7, 4, 0, 2 * Math.PI);
        ctx.fillStyle = CHECK_COLORS[n.badge];
        ctx.fill();
        ctx.lineWidth = 1;
        ctx.strokeStyle = "#fff";
        ctx.stroke();
      }
      if (labels) {
        ctx.fillStyle = "#fff";
        ctx.fillText(fit(n.partitions ? n.key + " · " + partsText(n) : n.key, W - 16),
          n.x + 8, n.y + H / 2);
      }
    }
    ctx.globalAlpha = 1;

    // band labels, pinned to the left edge of the view
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.font = "600 12px system-ui, -apple-system, sans-serif";
    ctx.textBaseline = "top";
    ctx.fillStyle = "rgba(31,35,40,0.65)";
    for (var b2 = 0; b2 < bands.length; b2++) {
      var top = bands[b2].y0 * k + view.ty, bottom = bands[b2].y1 * k + view.ty;
      if (bottom < 20 || top > cssH) continue;
      ctx.fillText(bands[b2].group, 10, Math.min(Math.max(top + 6, 6), bottom - 18));
    }
  }

  var fitCache = new Map();
  function fit(text, width) {
    var got = fitCache.get(text);
    if (got !== undefined) return got;
    var out = text;
    if (ctx.measureText(out).width > width) {
      var lo = 0, hi = text.length;
      while (lo < hi) {
        var mid = (lo + hi + 1) >> 1;
        if (ctx.measureText("…" + text.slice(text.length - mid)).width <= width) lo = mid; else hi = mid - 1;
      }
      out = "…" + text.slice(text.length - lo);
    }
    fitCache.set(text, out);
    return out;
  }

  function roundRect(x, y, w, h, r) {
    ctx.beginPath();
    ctx.moveTo(x + r, y);
    ctx.arcTo(x + w, y, x + w, y + h, r);
    ctx.arcTo(x + w, y + h, x, y + h, r);
    ctx.arcTo(x, y + h, x, y, r);
    ctx.arcTo(x, y, x + w, y, r);
    ctx.closePath();
  }

  // ---- view control ---------------------------------------------------------------------

  function fitAll() {
    var w = Math.max(data.size.width, 1), h = Math.max(data.size.height, 1);
    var visibleW = panel.hidden ? cssW : cssW - panel.offsetWidth;
    var k = Math.min((visibleW - 40) / w, (cssH - 40) / h, 1.2);
    view.k = Math.max(k, 0.02);
    view.tx = (visibleW - w * view.k) / 2;
    view.ty = Math.max(20, (cssH - h * view.k) / 2);
    redraw();
  }

  function centerOn(i) {
    var n = nodes[i];
    if (view.k < 0.8) view.k = 1;
    var visibleW = panel.hidden ? cssW : cssW - panel.offsetWidth;
    view.tx = visibleW / 2 - (n.x + W / 2) * view.k;
    view.ty = cssH / 2 - (n.y + H / 2) * view.k;
    redraw();
  }

  // a clicked node stays where it is unless the side panel now covers it: then the view
  // slides just enough to show it whole beside the panel
  function keepVisible(i) {
    var n = nodes[i], margin = 24;
    var visibleW = panel.hidden ? cssW : cssW - panel.offsetWidth;
    var left = n.x * view.k + view.tx, right = (n.x + W) * view.k + view.tx;
    if (right > visibleW - margin) view.tx -= right - (visibleW - margin);
    else if (left < margin) view.tx += margin - left;
    redraw();
  }

  function zoomAt(sx, sy, factor) {
    var k = Math.min(4, Math.max(0.02, view.k * factor));
    var wx = (sx - view.tx) / view.k, wy = (sy - view.ty) / view.k;
    view.k = k;
    view.tx = sx - wx * k;
    view.ty = sy - wy * k;
    redraw();
  }

  function hit(sx, sy) {
    var wx = (sx - view.tx) / view.k, wy = (sy - view.ty) / view.k;
    for (var i = N - 1; i >= 0; i--) {
      var n = nodes[i];
      if (wx >= n.x && wx <= n.x + W && wy >= n.y && wy <= n.y + H) return i;
    }
    return -1;
  }

  function local(ev) {
    var r = canvas.getBoundingClientRect();
    return [ev.clientX - r.left, ev.clientY - r.top];
  }

  var drag = null;
  canvas.addEventListener("mousedown", function (ev) {
    if (ev.button !== 0) return;
    var p = local(ev);
    drag = { x: p[0], y: p[1], tx: view.tx, ty: view.ty, moved: false };
    canvas.classList.add("dragging");
  });
  window.addEventListener("mousemove", function (ev) {
    var p = local(ev);
    if (drag) {
      var dx = p[0] - drag.x, dy = p[1] - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 4) drag.moved = true;
      if (drag.moved) { view.tx = drag.tx + dx; view.ty = drag.ty + dy; redraw(); }
      return;
    }
    if (ev.target !== canvas) return;
    var h = hit(p[0], p[1]);
    if (h !== hover) {
      hover = h;
      canvas.title = h >= 0 ? nodes[h].key + " · " + statusText(nodes[h]) : "";
      redraw();
    }
  });
  window.addEventListener("mouseup", function (ev) {
    if (!drag) return;
    var wasClick = !drag.moved;
    drag = null;
    canvas.classList.remove("dragging");
    if (wasClick && ev.target === canvas) {
      var p = local(ev);
      var h = hit(p[0], p[1]);
      if (h >= 0) select(h, false); else clear();
    }
  });
  canvas.addEventListener("wheel", function (ev) {
    ev.preventDefault();
    var p = local(ev);
    var delta = ev.deltaMode === 1 ? ev.deltaY * 16 : ev.deltaY;
    zoomAt(p[0], p[1], Math.exp(-delta * 0.0015));
  }, { passive: false });
  window.addEventListener("resize", resize);
  document.getElementById("fit").addEventListener("click", fitAll);
  document.getElementById("close").addEventListener("click", clear);
  window.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape") { if (document.activeElement === search) { hideResults(); search.blur(); } else clear(); }
    else if (ev.key === "/" && document.activeElement !== search) { ev.preventDefault(); search.focus(); search.select(); }
  });

  // ---- selection and highlighting -------------------------------------------------------

  function reach(start, step, mark) {
    var stack = [start];
    while (stack.length) {
      var i = stack.pop();
      var next = step[i];
      for (var j = 0; j < next.length; j++) {
        var c = next[j];
        if (!lit[c]) { lit[c] = mark; stack.push(c); }
      }
    }
  }

  function select(i, center) {
    selected = i;
    lit = new Uint8Array(N);
    lit[i] = 3;
    reach(i, parents, 1);
    reach(i, children, 2);
    lit[i] = 3;
    showPanel(i);
    if (center) centerOn(i); else keepVisible(i);
  }

  function clear() {
    selected = -1;
    lit = null;
    panel.hidden = true;
    redraw();
  }

  // ---- the side panel -------------------------------------------------------------------

  function el(tag, text, cls) {
    var x = document.createElement(tag);
    if (text !== undefined && text !== null) x.textContent = String(text);
    if (cls) x.className = cls;
    return x;
  }

  function ago(ts) {
    if (!ts) return "never";
    var d = Math.max(0, Date.now() / 1000 - ts);
    if (d < 1) return "just now";
    if (d >= 86400) return Math.floor(d / 86400) + "d ago";
    if (d >= 3600) return Math.floor(d / 3600) + "h ago";
    if (d >= 60) return Math.floor(d / 60) + "m ago";
    return Math.floor(d) + "s ago";
  }

  function bytes(n) {
    if (n === null || n === undefined) return "-";
    var units = ["B", "KiB", "MiB", "GiB", "TiB"], v = n, u = 0;
    while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
    return u === 0 ? n + " B" : v.toFixed(1) + " " + units[u];
  }

  function pairs(list) {
    var dl = el("dl");
    for (var i = 0; i < list.length; i++) {
      if (list[i][1] === null || list[i][1] === undefined || list[i][1] === "") continue;
      dl.appendChild(el("dt", list[i][0]));
      dl.appendChild(el("dd", list[i][1]));
    }
    return dl;
  }

  function links(title, list) {
    details.appendChild(el("h3", title + " (" + list.length + ")"));
    if (!list.length) { details.appendChild(el("p", "none", "muted")); return; }
    var ul = el("ul");
    ul.className = title.toLowerCase();
    list.slice().sort(function (a, b) { return nodes[a].key < nodes[b].key ? -1 : 1; })
      .forEach(function (j) {
        var li = el("li"), a = el("a", nodes[j].key);
        a.addEventListener("click", function () { select(j, true); });
        li.appendChild(a);
        ul.appendChild(li);
      });
    details.appendChild(ul);
  }

  function showPanel(i) {
    var n = nodes[i], st = status(n);
    details.textContent = "";
    details.appendChild(el("h2", n.key));
    var badge = el("span", st, "badge");
    badge.style.setProperty("--c", colors[st]);
    var line = el("p");
    line.appendChild(badge);
    line.appendChild(document.createTextNode("  " + (n.io_manager || n.kind) + " · " + n.group));
    details.appendChild(line);
    if (n.partitions) {
      var p = n.partitions;
      details.appendChild(el("p", partsText(n), "partitions"));
      details.appendChild(el("h3", "Partitions"));
      details.appendChild(pairs([
        ["definition", p.definition], ["fresh", p.fresh], ["stale", p.stale],
        ["missing", p.missing], ["waiting", p.waiting], ["failed", p.failed]
      ]));
    }
    if (n.description) details.appendChild(el("p", n.description));
    if (n.checks.length) {
      details.appendChild(el("h3", "Checks"));
      var cl = el("ul", null, "checks");
      n.checks.forEach(function (c) {
        var item = el("li");
        var mark = el("span", c.result, "badge");
        mark.style.setProperty("--c", CHECK_COLORS[c.result]);
        item.appendChild(mark);
        var said = c.message ? ": " + c.message : "";
        var where = c.partition ? " [" + c.partition + "]" : "";
        item.appendChild(document.createTextNode("  " + c.check + where + said));
        cl.appendChild(item);
      });
      details.appendChild(cl);
    }
    if (n.reasons.length) {
      details.appendChild(el("h3", "Why " + st));
      var ul = el("ul");
      n.reasons.forEach(function (r) { ul.appendChild(el("li", r.message)); });
      details.appendChild(ul);
    }
    details.appendChild(el("h3", "Asset"));
    details.appendChild(pairs([
      ["kind", n.kind], ["group", n.group], ["io manager", n.io_manager],
      ["tags", n.tags.join(", ")], ["owners", n.owners.join(", ")],
      ["defined in", n.file], ["location", n.location]
    ]));
    if (n.kind !== "source" && !n.partitions) {  // a partition's runs are its own
      details.appendChild(el("h3", "Last run"));
      var m = n.last_materialization;
      if (!m) details.appendChild(el("p", "never materialized", "muted"));
      else details.appendChild(pairs([
        ["ended", (m.ended_at || "-").replace("T", " ") + " (" + ago(n.ended_at) + ")"],
        ["duration", m.duration.toFixed(2) + "s"], ["rows", m.rows], ["size", bytes(m.bytes)],
        ["run", m.run_id], ["data version", (m.data_version || "").slice(0, 12)],
        ["code version", (m.code_version || "").slice(0, 12)]
      ]));
    }
    if (n.schema.length) {
      details.appendChild(el("h3", "Schema (" + n.schema.length + " columns)"));
      var table = el("table");
      n.schema.forEach(function (c) {
        var tr = el("tr");
        tr.appendChild(el("td", c.name));
        tr.appendChild(el("td", c.type, "muted"));
        table.appendChild(tr);
      });
      details.appendChild(table);
    }
    links("Upstream", parents[i]);
    links("Downstream", children[i]);
    if (hooks.panel) hooks.panel(n, details);
    panel.hidden = false;
    panel.scrollTop = 0;
  }

  // ---- search ---------------------------------------------------------------------------

  var found = [], active = 0;
  function matches(q) {
    q = q.trim().toLowerCase();
    if (!q) return [];
    var exact = [], prefix = [], inside = [];
    for (var i = 0; i < N; i++) {
      var key = lowerKeys[i];
      var at = key.indexOf(q);
      if (at < 0) continue;
      var name = key.slice(key.lastIndexOf("/") + 1);
      if (key === q || name === q) exact.push(i);
      else if (at === 0 || name.indexOf(q) === 0) prefix.push(i);
      else inside.push(i);
      if (exact.length + prefix.length >= 50) break;
    }
    return exact.concat(prefix, inside).slice(0, 50);
  }
  function hideResults() { results.hidden = true; }
  function showResults() {
    results.textContent = "";
    found.forEach(function (i, pos) {
      var li = el("li", nodes[i].key);
      li.appendChild(el("small", statusText(nodes[i]) + " · " + nodes[i].group));
      if (pos === active) li.className = "active";
      li.addEventListener("mousedown", function (ev) { ev.preventDefault(); choose(i); });
      results.appendChild(li);
    });
    results.hidden = found.length === 0;
  }
  function choose(i) {
    hideResults();
    search.value = nodes[i].key;
    select(i, true);
  }
  search.addEventListener("input", function () { found = matches(search.value); active = 0; showResults(); });
  search.addEventListener("keydown", function (ev) {
    if (ev.key === "ArrowDown") { active = Math.min(found.length - 1, active + 1); showResults(); ev.preventDefault(); }
    else if (ev.key === "ArrowUp") { active = Math.max(0, active - 1); showResults(); ev.preventDefault(); }
    else if (ev.key === "Enter") {
      if (!found.length) found = matches(search.value);
      if (found.length) choose(found[Math.min(active, found.length - 1)]);
    }
  });
  search.addEventListener("blur", hideResults);

  // ---- legend and start ------------------------------------------------------------------

  var legend = document.getElementById("legend");
  function drawLegend() {
    var counts = {};
    nodes.forEach(function (n) { counts[status(n)] = (counts[status(n)] || 0) + 1; });
    legend.textContent = "";
    Object.keys(colors).forEach(function (s) {
      if (!counts[s]) return;
      var span = el("span", s + " " + counts[s]);
      span.style.setProperty("--c", colors[s]);
      legend.appendChild(span);
    });
  }
  drawLegend();

  window.lineage = {
    ready: true,
    count: N,
    // new statuses by key ({status, reasons, partitions, ended_at}); the panel follows
    update: function (found) {
      for (var i = 0; i < N; i++) {
        var got = found[nodes[i].key];
        if (!got) continue;
        nodes[i].status = got.status; nodes[i].reasons = got.reasons;
        nodes[i].partitions = got.partitions; nodes[i].ended_at = got.ended_at;
      }
      drawLegend();
      if (selected >= 0) showPanel(selected);
      redraw();
    },
    // highlight exactly these keys (a selection), or nothing with an empty list
    mark: function (keys) {
      selected = -1;
      panel.hidden = true;
      lit = keys.length ? new Uint8Array(N) : null;
      keys.forEach(function (k) { var i = index.get(k); if (i !== undefined) lit[i] = 3; });
      redraw();
    },
    resize: resize,
    view: view,
    select: function (key) { var i = index.get(key); if (i !== undefined) select(i, true); return i !== undefined; },
    selected: function () { return selected >= 0 ? nodes[selected].key : null; },
    highlighted: function () {
      var out = [];
      if (lit) for (var i = 0; i < N; i++) if (lit[i]) out.push(nodes[i].key);
      return out;
    },
    box: function (key) {  // the node's rectangle on the page
      var i = index.get(key);
      if (i === undefined) return null;
      var r = canvas.getBoundingClientRect(), n = nodes[i];
      return { left: r.left + n.x * view.k + view.tx, right: r.left + (n.x + W) * view.k + view.tx };
    },
    screenPos: function (key) {
      var i = index.get(key);
      if (i === undefined) return null;
      var r = canvas.getBoundingClientRect(), n = nodes[i];
      return { x: r.left + (n.x + W / 2) * view.k + view.tx, y: r.top + (n.y + H / 2) * view.k + view.ty };
    }
  };
  resize();
  if (data.selected.length === 1 && N > 1) centerOn(index.get(data.selected[0]));
  else fitAll();
  document.body.setAttribute("data-ready", "1");
})();
