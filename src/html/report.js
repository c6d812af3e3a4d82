// SPDX-License-Identifier: BSD-2-Clause
// The page of `tlsfin analyze --format=html` (docs/html.md): totals, timeline,
// top servers, a virtualised table and ladder diagrams, from the JSON data in
// <script id="tlsfin-data">.  Plain browser JavaScript, no network: every
// string from the data goes into the DOM as text (textContent/attributes).
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const NS = "http://www.w3.org/2000/svg";
  const FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
  // positions in a connection array (docs/html.md, "CONN")
  const ID = 0,
    END = 2,
    CADDR = 3,
    CPORT = 4,
    SADDR = 5,
    SPORT = 6;
  const VERD = 7,
    RSTBY = 8,
    CAUSE = 9,
    CONF = 10,
    DETAIL = 11,
    FCLOSE = 12;
  const TLS = 13,
    HS = 14,
    CNC = 15,
    CNS = 16,
    TRUNC = 17,
    SNI = 18;
  const BC = 19,
    BS = 20,
    EXPLAIN = 21,
    HTTP = 22,
    KREASON = 23,
    WS = 24;
  const LADDER = 25;
  const FIN = 1,
    SYN = 2,
    RST = 4,
    PSH = 8,
    ACK = 16;

  // colour and pattern per verdict: readable without colour through the
  // pattern and the text label beside every mark
  const LOOK = {
    no_answer: ["#8d99a6", 6],
    refused: ["#d32f2f", 4],
    stalled: ["#7b1fa2", 1],
    open: ["#64b5f6", 0],
    tls_handshake_alert: ["#c2185b", 5],
    tls_handshake_reset: ["#e57373", 2],
    tls_handshake_closed: ["#f48fb1", 6],
    tls_truncated: ["#ef6c00", 1],
    tls_close_then_reset: ["#fdd835", 2],
    reset: ["#b71c1c", 5],
    half_closed: ["#ffb74d", 3],
    tls_clean: ["#2e7d32", 0],
    tls_one_sided: ["#81c784", 1],
    tcp_clean: ["#00897b", 3],
  };
  const PATTERNS = [
    "",
    "M-1,1l2,-2M0,6l6,-6M5,7l2,-2",
    "M-1,5l2,2M0,0l6,6M5,-1l2,2",
    "M0,3h6",
    "M3,0v6",
    "M0,3h6M3,0v6",
    "M2,2h2v2h-2z",
  ];

  let D; // the data
  let C = []; // D.conns
  let N = 0;
  const filt = { verdict: -1, cause: -1, server: -1, time: null, q: "" };
  const sort = { col: "id", dir: 1 };
  let view = new Uint32Array(0); // indices into C, filtered and sorted
  let active = 0; // position in view of the current row
  let rowH = 26;
  let spanDays = false;

  const fmt = (n) => n.toLocaleString("en-US");
  const str = (i) => (i >= 0 && i < D.strings.length ? D.strings[i] : null);
  const side = (v) => (v === 0 ? "client" : v === 1 ? "server" : "-");
  const hostport = (a, p) => {
    const s = str(a) || "?";
    return (s.includes(":") ? `[${s}]` : s) + ":" + p;
  };
  const endpoints = (c) =>
    `${hostport(c[CADDR], c[CPORT])} → ${hostport(c[SADDR], c[SPORT])}`;
  const vname = (v) => D.verdicts[v] || `verdict ${v}`;
  const cname = (v) => (v >= 0 ? D.causes[v] || `cause ${v}` : "-");
  const CN = ["-", "p", "Y"];
  const CNW = ["none", "probable", "seen"];
  const isoOf = (ms) => {
    const d = new Date(D.t0 * 1000 + ms);
    return isNaN(d) ? "?" : d.toISOString();
  };
  const utc = (ms) => isoOf(ms).replace("T", " ").replace("Z", " UTC");
  const clock = (ms) => {
    const s = isoOf(ms);
    return spanDays ? s.slice(5, 10) + " " + s.slice(11, 23) : s.slice(11, 23);
  };
  function dur(ms) {
    if (ms < 1) return `${+ms.toFixed(3)} ms`;
    if (ms < 1000) return `${+ms.toFixed(ms < 10 ? 2 : 1)} ms`;
    if (ms < 60000) return `${+(ms / 1000).toFixed(ms < 1e4 ? 3 : 1)} s`;
    const t = Math.round(ms / 1000);
    const d = Math.floor(t / 86400),
      h = Math.floor(t / 3600) % 24;
    const m = Math.floor(t / 60) % 60,
      s = t % 60;
    if (d) return h ? `${d} d ${h} h` : `${d} d`;
    if (h) return m ? `${h} h ${m} min` : `${h} h`;
    return s ? `${m} min ${s} s` : `${m} min`;
  }

  function h(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    for (const k of kids) e.append(k); // strings become text nodes
    return e;
  }
  function s(parent, tag, attrs, text) {
    const e = document.createElementNS(NS, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function look(v) {
    const l = LOOK[vname(v)];
    return l || [`hsl(${(v * 47) % 360} 55% 50%)`, v % PATTERNS.length];
  }
  function swatch(v, cls) {
    const svg = s(null, "svg", {
      class: cls || "sw",
      viewBox: "0 0 12 12",
      "aria-hidden": "true",
    });
    s(svg, "rect", { width: 12, height: 12, fill: `url(#pv${v})` });
    return svg;
  }

  function fail(msg) {
    const e = $("error");
    e.textContent = msg;
    e.hidden = false;
  }

  // The data: plain JSON, or gzip + base64 when large (docs/html.md),
  // inflated with the browser's own DecompressionStream.
  async function readData(node) {
    const enc = node.dataset.encoding;
    if (!enc) return JSON.parse(node.textContent);
    if (enc !== "gzip-base64") throw new Error(`unknown encoding ${enc}`);
    if (typeof DecompressionStream === "undefined")
      throw new Error(
        "this browser has no DecompressionStream: use a current one",
      );
    const bin = atob(node.textContent.trim());
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    const gz = new Blob([bytes]).stream();
    const text = new Response(gz.pipeThrough(new DecompressionStream("gzip")));
    return JSON.parse(await text.text());
  }

  async function load() {
    const node = $("tlsfin-data");
    if (!node) return fail("No data: this is the page template, not a report.");
    $("meta").textContent = "Loading…";
    try {
      D = await readData(node);
    } catch (e) {
      return fail(`The embedded data cannot be read: ${e.message}`);
    }
    $("meta").textContent = "";
    performance.mark("tlsfin-data");
    if (!D || D.format !== "tlsfin-html" || D.version !== 1)
      return fail("Unknown data format: expected tlsfin-html version 1.");
    C = D.conns || [];
    N = C.length;
    let hi = 0;
    for (const c of C) if (c[END] > hi) hi = c[END];
    spanDays = hi >= 864e5;
    $("main").hidden = false;
    patterns();
    summary();
    timeline();
    table();
    ladderSetup();
    performance.mark("tlsfin-ready");
  }

  function patterns() {
    const defs = $("patterns");
    D.verdicts.forEach((_, v) => {
      const [color, p] = look(v);
      const pat = s(defs, "pattern", {
        id: `pv${v}`,
        width: 6,
        height: 6,
        patternUnits: "userSpaceOnUse",
      });
      s(pat, "rect", { width: 6, height: 6, fill: color });
      if (PATTERNS[p])
        s(pat, "path", {
          d: PATTERNS[p],
          stroke: light(color) ? "#000" : "#fff",
          "stroke-opacity": 0.45,
          "stroke-width": 1.2,
          fill: light(color) ? "#000" : "#fff",
          "fill-opacity": p === 6 ? 0.45 : 0,
        });
    });
  }
  function light(color) {
    const m = /^#(..)(..)(..)$/.exec(color);
    if (!m) return false;
    const [r, g, b] = m.slice(1).map((x) => parseInt(x, 16));
    return 0.299 * r + 0.587 * g + 0.114 * b > 150;
  }

  // ---- totals and top servers ----
  function summary() {
    const nv = new Array(D.verdicts.length).fill(0);
    const nc = new Array(D.causes.length).fill(0);
    const servers = new Map();
    let rsts = 0;
    for (const c of C) {
      nv[c[VERD]] = (nv[c[VERD]] || 0) + 1;
      if (c[CAUSE] >= 0) nc[c[CAUSE]] = (nc[c[CAUSE]] || 0) + 1;
      if (c[RSTBY] >= 0) rsts++;
      const k = c[SADDR] * 65536 + c[SPORT];
      let e = servers.get(k);
      if (!e) servers.set(k, (e = [0, 0, 0, c]));
      if (c[RSTBY] >= 0) e[0]++;
      if (c[TRUNC]) e[1]++;
      e[2]++;
    }
    const inputs = (D.inputs || []).join(", ");
    const meta = $("meta");
    let hi = 0;
    for (const c of C) if (c[END] > hi) hi = c[END];
    const parts = [
      `${fmt(D.packets || 0)} TCP packets`,
      inputs,
      N ? `from ${utc(0)}, ${dur(hi)}` : "",
      D.generator || "",
    ];
    meta.append(
      h("strong", { id: "total" }, fmt(N)),
      " connections",
      ...parts.filter(Boolean).map((p) => ` · ${p}`),
    );
    document.title = `tlsfin: ${inputs || "report"}`;

    const totals = (ul, counts, names, texts, kind, sw) => {
      const most = Math.max(1, ...counts);
      for (let i = 0; i < counts.length; i++) {
        if (!counts[i]) continue;
        const b = h(
          "button",
          { type: "button", "aria-pressed": "false", title: texts[i] || "" },
          h("span", { class: "name" }, names[i] || `${kind} ${i}`),
          h("span", { class: "n" }, fmt(counts[i])),
          h("span", { class: "pct" }, pct(counts[i])),
        );
        if (sw) b.prepend(swatch(i));
        b.dataset.kind = kind;
        b.dataset.index = i;
        const bar = h("span", { class: "bar", "aria-hidden": "true" });
        bar.style.width = `${(100 * counts[i]) / most}%`;
        ul.append(h("li", { "data-name": names[i] }, b, bar));
      }
    };
    const pct = (n) => (N ? `${((100 * n) / N).toFixed(1)} %` : "");
    const vt = D.verdict_text || [];
    totals($("verdicts"), nv, D.verdicts, vt, "verdict", true);
    totals($("causes"), nc, D.causes, D.cause_text || [], "cause", false);
    if (!N) $("verdicts").append(h("li", {}, "No connections."));
    if (!rsts) $("causes").append(h("li", {}, "No RSTs."));

    const top = [...servers.entries()]
      .filter(([, e]) => e[0] + e[1] > 0)
      .sort(
        (a, b) => b[1][0] + b[1][1] - a[1][0] - a[1][1] || b[1][2] - a[1][2],
      )
      .slice(0, 10);
    const tb = $("servers").tBodies[0];
    for (const [k, e] of top) {
      const label = hostport(e[3][SADDR], e[3][SPORT]);
      const b = h(
        "button",
        { type: "button", "aria-pressed": "false", title: label },
        label,
      );
      b.dataset.kind = "server";
      b.dataset.index = k;
      tb.append(
        h(
          "tr",
          {},
          h("td", {}, b),
          h("td", { class: "num" }, fmt(e[0])),
          h("td", { class: "num" }, fmt(e[1])),
          h("td", { class: "num" }, fmt(e[2])),
        ),
      );
    }
    if (!top.length)
      tb.append(
        h("tr", {}, h("td", { colspan: 4 }, "No resets or truncations.")),
      );
    for (const id of ["verdicts", "causes", "servers"])
      $(id).addEventListener("click", (ev) => {
        const b = ev.target.closest("button[data-kind]");
        if (!b) return;
        const k = b.dataset.kind,
          i = +b.dataset.index;
        filt[k] = filt[k] === i ? -1 : i;
        refilter();
      });
  }

  // ---- timeline ----
  const STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 15e3];
  STEPS.push(3e4, 6e4, 12e4, 3e5, 6e5, 9e5, 18e5, 36e5, 72e5, 108e5, 216e5);
  STEPS.push(432e5, 864e5, 1728e5, 6048e5, 12096e5, 2592e6, 7776e6, 31536e6);
  const niceStep = (x) =>
    STEPS.find((v) => v >= x) ||
    31536e6 * 10 ** Math.ceil(Math.log10(x / 31536e6));
  const niceCeil = (x) => {
    const p = 10 ** Math.floor(Math.log10(Math.max(1, x)));
    return [1, 2, 5, 10].map((m) => m * p).find((v) => v >= x);
  };
  let drawnTime = null; // the time filter the timeline shows
  function timeline() {
    const box = $("timeline");
    box.textContent = "";
    const legend = h("ul", { class: "totals legend tl-legend" });
    if (!N) return box.append("No connections.");
    const W = Math.max(320, box.clientWidth || 900),
      H = 200;
    const L = 56,
      R = 12,
      T = 10,
      B = 34,
      pw = W - L - R,
      ph = H - T - B;
    let lo = Infinity,
      hi = -Infinity;
    for (const c of C) {
      if (c[END] < lo) lo = c[END];
      if (c[END] > hi) hi = c[END];
    }
    const maxB = Math.max(10, Math.min(240, Math.floor(pw / 5)));
    const step = niceStep(Math.max(1, (hi - lo) / maxB));
    const a0 = Math.floor(lo / step) * step;
    const nb = Math.max(1, Math.floor((hi - a0) / step) + 1);
    const NV = D.verdicts.length;
    const cnt = new Uint32Array(nb * NV),
      tot = new Uint32Array(nb);
    for (const c of C) {
      const b = Math.min(nb - 1, Math.floor((c[END] - a0) / step));
      cnt[b * NV + c[VERD]]++;
      tot[b]++;
    }
    let mx = 0;
    for (const t of tot) mx = Math.max(mx, t);
    const ymax = niceCeil(mx),
      bw = pw / nb,
      gap = bw > 4 ? 1 : 0;
    const busiest = tot.indexOf(mx);
    drawnTime = filt.time;
    const svg = s(null, "svg", {
      viewBox: `0 0 ${W} ${H}`,
      role: "img",
      "aria-label":
        `Connections ending per ${dur(step)}, stacked by verdict; ` +
        `busiest: ${fmt(mx)} at +${dur(a0 + busiest * step)}.`,
    });
    svg.style.height = `${H}px`;
    const ticks = ymax % 2 ? [0, ymax] : [0, ymax / 2, ymax];
    for (const t of ticks) {
      const y = T + ph - (t / ymax) * ph;
      s(svg, "line", {
        x1: L,
        x2: W - R,
        y1: y,
        y2: y,
        stroke: "currentColor",
        "stroke-opacity": t ? 0.15 : 0.5,
      });
      s(svg, "text", { x: L - 6, y: y + 4, "text-anchor": "end" }, fmt(t));
    }
    s(
      svg,
      "text",
      {
        x: 12,
        y: T + ph / 2,
        "text-anchor": "middle",
        transform: `rotate(-90 12 ${T + ph / 2})`,
      },
      `ended / ${dur(step)}`,
    );
    for (let b = 0; b < nb; b++) {
      if (!tot[b]) continue;
      const g = s(svg, "g", {});
      let y = T + ph;
      const parts = [];
      for (let v = 0; v < NV; v++) {
        const n = cnt[b * NV + v];
        if (!n) continue;
        const hgt = Math.max(1, (n / ymax) * ph);
        y -= hgt;
        s(g, "rect", {
          x: L + b * bw + gap / 2,
          y,
          width: Math.max(1, bw - gap),
          height: hgt,
          fill: `url(#pv${v})`,
        });
        parts.push(`${vname(v)} ${fmt(n)}`);
      }
      const sel =
        filt.time &&
        filt.time.a0 === a0 &&
        filt.time.step === step &&
        filt.time.k === b;
      const hit = s(g, "rect", {
        class: "hit",
        x: L + b * bw,
        y: T,
        width: Math.max(bw, 2),
        height: ph,
        fill: "transparent",
        stroke: sel ? "currentColor" : "none",
      });
      hit.dataset.k = b;
      s(
        hit,
        "title",
        {},
        `${clock(a0 + b * step)} – ${clock(a0 + (b + 1) * step)} UTC: ` +
          `${fmt(tot[b])} ended (${parts.join(", ")}). Click to filter.`,
      );
    }
    const every = Math.max(1, niceCeil(Math.ceil(95 / bw)));
    for (let b = 0; b <= nb; b += every) {
      const x = L + b * bw;
      s(svg, "line", {
        x1: x,
        x2: x,
        y1: T + ph,
        y2: T + ph + 4,
        stroke: "currentColor",
      });
      const anchor = !b ? "start" : x > W - R - 40 ? "end" : "middle";
      s(
        svg,
        "text",
        { x, y: T + ph + 16, "text-anchor": anchor },
        `+${dur(a0 + b * step)}`,
      );
    }
    svg.addEventListener("click", (ev) => {
      const k = ev.target.dataset && ev.target.dataset.k;
      if (k === undefined) return;
      const cur = filt.time;
      filt.time =
        cur && cur.a0 === a0 && cur.step === step && cur.k === +k
          ? null
          : { a0, step, nb, k: +k };
      refilter();
    });
    box.append(svg);
    const nv = new Uint32Array(NV);
    for (const c of C) nv[c[VERD]]++;
    for (let v = 0; v < NV; v++)
      if (nv[v])
        legend.append(
          h(
            "li",
            { "data-name": vname(v) },
            swatch(v),
            h("span", { class: "name" }, vname(v)),
          ),
        );
    box.append(legend);
    $("timeline-caption").textContent =
      `One bar = ${dur(step)}; time since the first packet (${utc(0)}). ` +
      `Click a bar to show the connections that ended then.`;
  }

  // ---- the table ----
  const COLS = [
    ["id", "ID", 52, (c) => String(c[ID])],
    ["end", "ENDED (UTC)", 100, (c) => clock(c[END])],
    ["ep", "CLIENT → SERVER", 300, endpoints],
    ["sni", "SNI", 96, (c) => str(c[SNI]) || "-"],
    ["tls", "TLS", 64, (c) => str(c[TLS]) || "-"],
    ["verdict", "VERDICT", 172, (c) => vname(c[VERD])],
    ["close", "CLOSE", 58, (c) => side(c[FCLOSE])],
    [
      "cn",
      "CN c/s",
      56,
      (c) => (c[TLS] >= 0 ? `${CN[c[CNC]] || "?"}/${CN[c[CNS]] || "?"}` : "-"),
    ],
    ["rstby", "RST BY", 62, (c) => side(c[RSTBY])],
    ["cause", "RST CAUSE", 156, (c) => cname(c[CAUSE])],
    ["http", "HTTP END", 124, (c) => str(c[HTTP]) || "-"],
  ];
  const VCOL = 5;
  const coll = new Intl.Collator("en", { numeric: true });
  const keyCache = {};
  function rankBy(field) {
    const used = new Map();
    for (const c of C) used.set(c[field], 0);
    const keys = [...used.keys()].filter((i) => str(i) !== null);
    keys.sort((a, b) => coll.compare(str(a), str(b)));
    keys.forEach((k, r) => used.set(k, r + 1));
    return (i) => used.get(i) || 0;
  }
  const nameRank = (names) => {
    const o = names
      .map((_, i) => i)
      .sort((a, b) => coll.compare(names[a], names[b]));
    const r = [];
    o.forEach((i, k) => (r[i] = k));
    return (i) => (i >= 0 ? r[i] : -1);
  };
  function sortKey(col) {
    if (keyCache[col]) return keyCache[col];
    const K = new Float64Array(N);
    let f;
    if (col === "id") f = (c) => c[ID];
    else if (col === "end") f = (c) => c[END];
    else if (col === "ep") {
      const r = rankBy(CADDR);
      f = (c) => r(c[CADDR]) * 65536 + c[CPORT];
    } else if (col === "verdict") {
      const r = nameRank(D.verdicts);
      f = (c) => r(c[VERD]);
    } else if (col === "cause") {
      const r = nameRank(D.causes);
      f = (c) => r(c[CAUSE]);
    } else if (col === "close") f = (c) => c[FCLOSE];
    else if (col === "rstby") f = (c) => c[RSTBY];
    else if (col === "cn") f = (c) => (c[TLS] >= 0 ? c[CNC] * 3 + c[CNS] : -1);
    else {
      const field = { sni: SNI, tls: TLS, http: HTTP }[col];
      const r = rankBy(field);
      f = (c) => r(c[field]);
    }
    for (let i = 0; i < N; i++) K[i] = f(C[i]);
    return (keyCache[col] = K);
  }

  let hay = null;
  function haystack() {
    if (hay) return hay;
    hay = new Array(N);
    for (let i = 0; i < N; i++) {
      const c = C[i];
      hay[i] = [
        endpoints(c),
        str(c[CADDR]),
        str(c[SADDR]),
        str(c[SNI]) || "",
        vname(c[VERD]),
        c[CAUSE] >= 0 ? cname(c[CAUSE]) : "",
        str(c[TLS]) || "",
        str(c[HTTP]) || "",
      ]
        .join(" ")
        .toLowerCase();
    }
    return hay;
  }

  const pool = [];
  let scroller, tbody, thead, topSp, botSp, empty;
  function table() {
    scroller = $("scroller");
    tbody = $("rows");
    thead = $("conns").tHead;
    if (spanDays) COLS[1][2] = 140; // the date too
    let width = 0;
    for (const [key, title, w] of COLS) {
      width += w;
      $("cols").append(h("col", { style: `width:${w}px` }));
      const th = h(
        "th",
        { scope: "col", "aria-sort": key === "id" ? "ascending" : "none" },
        h(
          "button",
          { type: "button", "data-col": key, title: `Sort by ${title}` },
          title,
        ),
      );
      $("head").append(th);
    }
    $("conns").style.minWidth = `${width}px`;
    $("conns").setAttribute("aria-rowcount", N + 1);
    const spacer = () =>
      h(
        "tr",
        { class: "spacer", "aria-hidden": "true" },
        h("td", { colspan: COLS.length }),
      );
    topSp = spacer();
    botSp = spacer();
    empty = h(
      "tr",
      { class: "empty" },
      h("td", { colspan: COLS.length }, "No connection matches the filters."),
    );
    tbody.append(topSp, botSp);
    $("head").addEventListener("click", (ev) => {
      const b = ev.target.closest("button[data-col]");
      if (!b) return;
      const col = b.dataset.col;
      sort.dir = sort.col === col ? -sort.dir : 1;
      sort.col = col;
      for (const th of $("head").children) {
        const on = th.firstChild.dataset.col === col;
        th.setAttribute(
          "aria-sort",
          on ? (sort.dir > 0 ? "ascending" : "descending") : "none",
        );
      }
      const cur = view[active];
      sortView();
      setActive(view.indexOf(cur));
    });
    let pending = false;
    scroller.addEventListener("scroll", () => {
      if (pending) return;
      pending = true;
      requestAnimationFrame(() => {
        pending = false;
        render();
      });
    });
    let rt = 0;
    window.addEventListener("resize", () => {
      clearTimeout(rt);
      rt = setTimeout(() => {
        timeline();
        render();
      }, 150);
    });
    tbody.addEventListener("click", (ev) => {
      const tr = ev.target.closest("tr[data-pos]");
      if (!tr) return;
      active = +tr.dataset.pos;
      render();
      focusRow();
      openLadder();
    });
    tbody.addEventListener("keydown", rowKeys);
    let qt = 0;
    $("q").addEventListener("input", () => {
      clearTimeout(qt);
      qt = setTimeout(
        () => {
          filt.q = $("q").value;
          refilter();
        },
        N > 20000 ? 150 : 30,
      );
    });
    document.addEventListener("keydown", (ev) => {
      if (ev.key !== "Escape" || $("ladder").open) return;
      if (ev.target === $("q") && $("q").value) {
        $("q").value = filt.q = "";
        ev.preventDefault();
        return refilter();
      }
      if (
        filt.verdict >= 0 ||
        filt.cause >= 0 ||
        filt.server >= 0 ||
        filt.time
      ) {
        filt.verdict = filt.cause = filt.server = -1;
        filt.time = null;
        ev.preventDefault();
        refilter();
      }
    });
    refilter();
  }

  function refilter() {
    const terms = filt.q.toLowerCase().split(/\s+/).filter(Boolean);
    const hs = terms.length ? haystack() : null;
    const out = new Uint32Array(N);
    const t = filt.time;
    let n = 0;
    for (let i = 0; i < N; i++) {
      const c = C[i];
      if (filt.verdict >= 0 && c[VERD] !== filt.verdict) continue;
      if (filt.cause >= 0 && c[CAUSE] !== filt.cause) continue;
      if (filt.server >= 0 && c[SADDR] * 65536 + c[SPORT] !== filt.server)
        continue;
      if (t && Math.min(t.nb - 1, Math.floor((c[END] - t.a0) / t.step)) !== t.k)
        continue;
      if (hs && !terms.every((q) => hs[i].includes(q))) continue;
      out[n++] = i;
    }
    view = out.subarray(0, n);
    sortView();
    active = 0;
    chips();
    for (const b of document.querySelectorAll("button[data-kind]"))
      b.setAttribute(
        "aria-pressed",
        String(filt[b.dataset.kind] === +b.dataset.index),
      );
    $("count").textContent =
      n === N ? `${fmt(N)} connections` : `${fmt(n)} of ${fmt(N)} connections`;
    if (t !== drawnTime) timeline();
    scroller.scrollTop = 0;
    render();
  }

  function sortView() {
    if (sort.col === "id") {
      view.sort();
      if (sort.dir < 0) view.reverse();
      return;
    }
    const K = sortKey(sort.col),
      d = sort.dir;
    view.sort((a, b) => (K[a] - K[b]) * d || a - b);
  }

  function chips() {
    const box = $("chips");
    box.textContent = "";
    const add = (label, clear) => {
      const b = h(
        "button",
        {
          type: "button",
          class: "chip",
          "aria-label": `Remove filter ${label}`,
        },
        `${label} ✕`,
      );
      b.addEventListener("click", () => {
        clear();
        refilter();
      });
      box.append(b);
    };
    if (filt.verdict >= 0)
      add(`verdict: ${vname(filt.verdict)}`, () => (filt.verdict = -1));
    if (filt.cause >= 0)
      add(`RST cause: ${cname(filt.cause)}`, () => (filt.cause = -1));
    if (filt.server >= 0) {
      const c = C.find((c) => c[SADDR] * 65536 + c[SPORT] === filt.server);
      add(
        `server: ${c ? hostport(c[SADDR], c[SPORT]) : "?"}`,
        () => (filt.server = -1),
      );
    }
    if (filt.time) {
      const { a0, step, k } = filt.time;
      add(
        `ended ${clock(a0 + k * step)} – ${clock(a0 + (k + 1) * step)}`,
        () => (filt.time = null),
      );
    }
  }

  function render() {
    const n = view.length;
    const hh = thead.offsetHeight;
    const top = Math.max(0, scroller.scrollTop - hh);
    const first = Math.max(0, Math.floor(top / rowH) - 8);
    const last = Math.min(
      n,
      Math.ceil((top + scroller.clientHeight) / rowH) + 8,
    );
    const want = last - first;
    while (pool.length < want) {
      const tr = h("tr", {});
      for (let i = 0; i < COLS.length; i++)
        tr.append(h("td", i === 0 ? { class: "num" } : {}));
      tr.cells[VCOL].append(h("span", {}));
      tbody.insertBefore(tr, botSp);
      pool.push(tr);
    }
    topSp.firstChild.style.height = `${first * rowH}px`;
    topSp.hidden = first === 0;
    botSp.firstChild.style.height = `${(n - last) * rowH}px`;
    botSp.hidden = last >= n;
    const tabbable = active >= first && active < last ? active : first;
    for (let k = 0; k < pool.length; k++) {
      const tr = pool[k],
        pos = first + k;
      if (pos >= last) {
        tr.hidden = true;
        tr.removeAttribute("data-pos");
        tr.removeAttribute("data-id");
        continue;
      }
      const c = C[view[pos]];
      tr.hidden = false;
      tr.dataset.pos = pos;
      tr.dataset.id = c[ID];
      tr.setAttribute("aria-rowindex", pos + 2);
      tr.tabIndex = pos === tabbable ? 0 : -1;
      tr.className = pos === active ? "active" : "";
      for (let i = 0; i < COLS.length; i++) {
        const txt = COLS[i][3](c);
        const td = tr.cells[i];
        if (i === VCOL) {
          const sw = td.firstChild;
          if (sw.dataset.v !== String(c[VERD])) {
            const nsw = swatch(c[VERD]);
            nsw.dataset.v = c[VERD];
            td.replaceChild(nsw, sw);
          }
          if (td.lastChild.nodeType === 3) td.lastChild.data = txt;
          else td.append(txt);
        } else {
          td.textContent = txt;
          if (i === 2 || i === 3) td.title = txt;
        }
      }
    }
    empty.cells[0].textContent = N
      ? "No connection matches the filters."
      : "No connections.";
    if (!n && !empty.parentNode) tbody.append(empty);
    if (n && empty.parentNode) empty.remove();
    if (pool.length && !pool[0].hidden) {
      const rh = pool[0].getBoundingClientRect().height;
      if (rh > 4 && Math.abs(rh - rowH) > 0.5) {
        rowH = rh;
        render();
      }
    }
  }

  function reveal(pos) {
    const hh = thead.offsetHeight;
    if (pos * rowH < scroller.scrollTop) scroller.scrollTop = pos * rowH;
    const bottom = hh + (pos + 1) * rowH;
    if (bottom > scroller.scrollTop + scroller.clientHeight)
      scroller.scrollTop = bottom - scroller.clientHeight;
  }
  function focusRow() {
    const tr = tbody.querySelector(`tr[data-pos="${active}"]`);
    if (tr) tr.focus({ preventScroll: true });
  }
  function setActive(pos) {
    if (!view.length) return;
    active = Math.max(0, Math.min(view.length - 1, pos));
    reveal(active);
    render();
  }
  function rowKeys(ev) {
    const page = Math.max(1, Math.floor(scroller.clientHeight / rowH) - 2);
    const moves = { ArrowDown: 1, ArrowUp: -1, PageDown: page, PageUp: -page };
    const pos = +(ev.target.dataset.pos || active);
    let to;
    if (ev.key in moves) to = pos + moves[ev.key];
    else if (ev.key === "Home") to = 0;
    else if (ev.key === "End") to = view.length - 1;
    else if (ev.key === "Enter" || ev.key === " ") {
      ev.preventDefault();
      active = pos;
      render();
      return openLadder();
    } else return;
    ev.preventDefault();
    setActive(to);
    focusRow();
  }

  // ---- the ladder ----
  function ladderSetup() {
    const dlg = $("ladder");
    $("close").addEventListener("click", () => dlg.close());
    $("prev").addEventListener("click", () => step(-1));
    $("next").addEventListener("click", () => step(1));
    dlg.addEventListener("close", () => {
      reveal(active);
      render();
      focusRow();
    });
    dlg.addEventListener("keydown", (ev) => {
      if (ev.target.tagName === "TEXTAREA") return;
      if (ev.key === "ArrowLeft") step(-1);
      else if (ev.key === "ArrowRight") step(1);
    });
    $("copy-ws").addEventListener("click", () =>
      copy($("ws").textContent, "Wireshark filter"),
    );
    $("copy-svg").addEventListener("click", () => copy(svgText(), "SVG"));
    $("png").addEventListener("click", png);
  }
  function step(d) {
    if (!view.length) return;
    setActive(active + d);
    openLadder();
  }

  function openLadder() {
    const dlg = $("ladder");
    if (!view.length) return;
    const c = C[view[active]];
    $("ladder-title").textContent = `Connection ${c[ID]} · ${vname(c[VERD])}`;
    const dl = $("facts");
    dl.textContent = "";
    const fact = (k, v) => dl.append(h("dt", {}, k), h("dd", {}, v));
    fact("Client", hostport(c[CADDR], c[CPORT]));
    fact("Server", hostport(c[SADDR], c[SPORT]));
    fact("Started", utc(c[1]));
    fact("Duration", dur(c[END] - c[1]));
    fact(
      "TLS",
      c[TLS] >= 0 ? `${str(c[TLS])}, handshake ${str(c[HS]) || "?"}` : "no",
    );
    fact("SNI", str(c[SNI]) || "-");
    fact("Bytes", `client ${fmt(c[BC])} · server ${fmt(c[BS])}`);
    fact("First close", side(c[FCLOSE]));
    if (c[TLS] >= 0)
      fact(
        "close_notify",
        `client ${CNW[c[CNC]] || "?"} · server ${CNW[c[CNS]] || "?"}`,
      );
    fact("HTTP end", str(c[HTTP]) || "-");
    if (c[RSTBY] >= 0) {
      fact(
        "RST",
        `by ${side(c[RSTBY])}: ${cname(c[CAUSE])} (${str(c[CONF]) || "?"})`,
      );
      if (str(c[KREASON])) fact("Kernel reason", str(c[KREASON]));
    }
    const lad = c[LADDER] || [0];
    fact(
      "Packets",
      `${fmt(lad[0])}${lad[0] > (lad.length - 1) / 6 ? ` (last ${(lad.length - 1) / 6} drawn)` : ""}`,
    );
    $("ws").textContent = str(c[WS]) || "";
    $("status").textContent = "";
    $("fallback").hidden = true;
    $("prev").disabled = active === 0;
    $("next").disabled = active >= view.length - 1;
    const box = $("diagram");
    box.textContent = "";
    box.append(ladderSvg(c));
    if (!dlg.open) dlg.showModal();
  }

  let ctx2d = null;
  function wrap(text, width, size, bold) {
    ctx2d = ctx2d || document.createElement("canvas").getContext("2d");
    ctx2d.font = `${bold ? "bold " : ""}${size}px ${FONT}`;
    const lines = [];
    let line = "";
    for (const w of String(text).split(/\s+/)) {
      const t = line ? `${line} ${w}` : w;
      if (line && ctx2d.measureText(t).width > width) {
        lines.push(line);
        line = w;
      } else line = t;
    }
    if (line) lines.push(line);
    return lines;
  }
  function flagText(f) {
    const out = [];
    if (f & SYN) out.push("SYN");
    if (f & FIN) out.push("FIN");
    if (f & RST) out.push("RST");
    if (f & PSH) out.push("PSH");
    if (f & ACK) out.push("ACK");
    return out.join(" ");
  }

  function ladderSvg(c) {
    const css = getComputedStyle(document.documentElement);
    const col = (v) => css.getPropertyValue(v).trim();
    const bg = col("--card"),
      fg = col("--fg"),
      muted = col("--muted");
    const rstC = col("--rst"),
      finC = col("--fin"),
      tlsC = col("--tls");
    const W = 900,
      XC = 200,
      XS = 540,
      NX = 562,
      NW = W - NX - 14;
    const lad = c[LADDER] || [0];
    const total = lad[0],
      n = Math.floor((lad.length - 1) / 6);
    const svg = s(null, "svg", {
      xmlns: NS,
      width: W,
      "font-family": FONT,
      "font-size": 12,
      role: "img",
      "aria-label": `Ladder diagram of connection ${c[ID]}: ${vname(c[VERD])}. ${str(c[EXPLAIN]) || ""}`,
    });
    const bgRect = s(svg, "rect", { width: W, fill: bg });
    const text = (x, y, t, a) =>
      s(svg, "text", Object.assign({ x, y, fill: fg }, a), t);
    let y = 26;
    text(16, y, `Connection ${c[ID]}: ${endpoints(c)}`, {
      "font-size": 15,
      "font-weight": "bold",
    });
    if (str(c[SNI]))
      text(W - 16, y, `SNI ${str(c[SNI])}`, {
        "text-anchor": "end",
        fill: muted,
      });
    y += 24;
    s(svg, "rect", {
      x: 16,
      y: y - 11,
      width: 12,
      height: 12,
      fill: look(c[VERD])[0],
      stroke: fg,
      "stroke-width": 0.5,
    });
    text(34, y, `verdict: ${vname(c[VERD])}`, {
      "font-size": 13,
      "font-weight": "bold",
    });
    for (const line of wrap(str(c[EXPLAIN]) || "", W - 32, 13)) {
      y += 18;
      text(16, y, line, { "font-size": 13 });
    }
    y += 34;
    text(XC, y, "client", { "text-anchor": "middle", "font-weight": "bold" });
    text(XS, y, "server", { "text-anchor": "middle", "font-weight": "bold" });
    y += 15;
    text(XC, y, hostport(c[CADDR], c[CPORT]), {
      "text-anchor": "middle",
      fill: muted,
    });
    text(XS, y, hostport(c[SADDR], c[SPORT]), {
      "text-anchor": "middle",
      fill: muted,
    });
    const top = y + 8;
    y += 30;
    if (total > n) {
      text(
        (XC + XS) / 2,
        y - 6,
        `… ${fmt(total - n)} earlier packet${total - n > 1 ? "s" : ""} not shown`,
        {
          "text-anchor": "middle",
          fill: muted,
          "font-style": "italic",
        },
      );
      y += 18;
    }
    const ys = [],
      SL = 10;
    let t = 0;
    for (let i = 0; i < n; i++) {
      const dt = lad[1 + i * 6];
      t += dt;
      if (i) y += SL + 20 + 9 * Math.log10(1 + dt);
      ys.push([y, t, dt]);
    }
    const bottom = (n ? y + SL : y) + 16;
    const lines = s(svg, "g", { stroke: fg, "stroke-width": 1.5 });
    for (const x of [XC, XS])
      s(lines, "line", { x1: x, x2: x, y1: top, y2: bottom });
    // the RST whose evidence goes beside it: the first one rst.by sent
    let rr = -1;
    for (let i = 0; i < n; i++) {
      if (!(lad[3 + i * 6] & RST)) continue;
      if (
        rr < 0 ||
        (lad[2 + rr * 6] !== c[RSTBY] && lad[2 + i * 6] === c[RSTBY])
      )
        rr = i;
    }
    for (let i = 0; i < n; i++) {
      const [yy, tt, dt] = ys[i];
      const [dir, fl, len, note, frame] = lad.slice(2 + i * 6, 7 + i * 6);
      if (i && dt >= 1000) {
        const my = (ys[i - 1][0] + SL + yy) / 2;
        text(XC - 14, my + 4, `⋮ ${dur(dt / 1000)}`, {
          "text-anchor": "end",
          fill: muted,
          "font-size": 11,
        });
        if (dt >= 1e5)
          for (const x of [XC, XS]) {
            s(svg, "rect", {
              x: x - 6,
              y: my - 3,
              width: 12,
              height: 6,
              fill: bg,
            });
            s(svg, "path", {
              d: `M${x - 6} ${my - 1}l12 -4M${x - 6} ${my + 5}l12 -4`,
              stroke: fg,
              "stroke-width": 1.2,
            });
          }
      }
      text(16, yy + 4, `#${frame}`, { fill: muted });
      text(XC - 14, yy + 4, `+${dur(tt / 1000)}`, { "text-anchor": "end" });
      const x1 = dir ? XS : XC,
        x2 = dir ? XC : XS,
        y2 = yy + SL;
      const color = fl & RST ? rstC : fl & FIN ? finC : fg;
      const g = s(svg, "g", { class: "arrow", "data-frame": frame });
      const dx = x2 - x1,
        dy = SL,
        l = Math.hypot(dx, dy),
        ux = dx / l,
        uy = dy / l;
      s(g, "line", {
        x1,
        y1: yy,
        x2: x2 - ux * 8,
        y2: y2 - uy * 8,
        stroke: color,
        "stroke-width": fl & (RST | FIN) ? 2.2 : 1.3,
        "stroke-dasharray": fl & RST ? "7 3" : "none",
      });
      s(g, "path", {
        d: `M${x2} ${y2}L${x2 - ux * 10 - uy * 4} ${y2 - uy * 10 + ux * 4}L${x2 - ux * 10 + uy * 4} ${y2 - uy * 10 - ux * 4}Z`,
        fill: color,
      });
      const lab = s(g, "text", {
        class: "label",
        x: (XC + XS) / 2,
        y: yy - 3,
        "text-anchor": "middle",
        fill: color,
      });
      const bold = fl & (RST | FIN | SYN) ? "bold" : "normal";
      s(
        lab,
        "tspan",
        { "font-weight": bold },
        flagText(fl) + (len ? ` len=${len}` : ""),
      );
      if (str(note) !== null) {
        const cn = str(note).startsWith("close_notify");
        s(
          lab,
          "tspan",
          { fill: cn ? tlsC : rstC, "font-weight": "bold" },
          ` ${str(note)}`,
        );
      }
    }
    let end = bottom;
    if (c[RSTBY] >= 0) {
      let ry = rr >= 0 ? ys[rr][0] : top + 20;
      const head = `RST by ${side(c[RSTBY])}: ${cname(c[CAUSE])} (${str(c[CONF]) || "?"})`;
      const block = [
        [head, true],
        ...wrap(str(c[DETAIL]) || "", NW, 12).map((l) => [l, false]),
      ];
      if (str(c[KREASON])) block.push([`kernel: ${str(c[KREASON])}`, false]);
      if (rr >= 0)
        s(svg, "line", {
          x1: XS + 4,
          x2: NX - 4,
          y1: ry + SL,
          y2: ry + SL,
          stroke: rstC,
          "stroke-dasharray": "2 2",
        });
      ry += SL + 4 - 15 * Math.floor(block.length / 2);
      ry = Math.max(ry, top + 14);
      for (const [line, b] of block) {
        text(NX, ry, line, {
          fill: rstC,
          "font-weight": b ? "bold" : "normal",
        });
        ry += 15;
      }
      end = Math.max(end, ry);
    }
    end += 8;
    const foot = `${D.generator || "tlsfin"} · ${(D.inputs || []).join(", ")} · time gaps log-scaled`;
    text(16, end, foot, { fill: muted, "font-size": 10 });
    const H = Math.ceil(end + 10);
    svg.setAttribute("height", H);
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    bgRect.setAttribute("height", H);
    return svg;
  }

  function svgText() {
    const svg = $("diagram").querySelector("svg");
    return svg ? new XMLSerializer().serializeToString(svg) : "";
  }
  async function copy(text, what) {
    const st = $("status"),
      fb = $("fallback");
    try {
      if (!navigator.clipboard || !window.isSecureContext)
        throw new Error("no clipboard");
      await navigator.clipboard.writeText(text);
      fb.hidden = true;
      st.textContent = `${what} copied to the clipboard.`;
    } catch {
      fb.hidden = false;
      fb.value = text;
      fb.focus();
      fb.select();
      let ok = false;
      try {
        ok = document.execCommand("copy");
      } catch {
        ok = false;
      }
      st.textContent = ok
        ? `${what} copied to the clipboard.`
        : `No clipboard here: the ${what} is selected below, press Ctrl+C.`;
    }
  }
  function png() {
    const svg = $("diagram").querySelector("svg");
    if (!svg) return;
    const W = +svg.getAttribute("width"),
      H = +svg.getAttribute("height");
    const img = new Image();
    const id = C[view[active]][ID];
    img.onload = () => {
      const cv = document.createElement("canvas");
      cv.width = W * 2;
      cv.height = H * 2;
      const g = cv.getContext("2d");
      g.scale(2, 2);
      g.drawImage(img, 0, 0, W, H);
      cv.toBlob((blob) => {
        if (!blob) return ($("status").textContent = "PNG export failed.");
        const a = h("a", {
          download: `tlsfin-conn-${id}.png`,
          href: URL.createObjectURL(blob),
        });
        document.body.append(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(a.href), 60000);
        $("status").textContent = `Saved tlsfin-conn-${id}.png.`;
      }, "image/png");
    };
    img.onerror = () => ($("status").textContent = "PNG export failed.");
    img.src =
      "data:image/svg+xml;charset=utf-8," + encodeURIComponent(svgText());
  }

  if (document.readyState === "loading")
    document.addEventListener("DOMContentLoaded", load);
  else load();
})();
