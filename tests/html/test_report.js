#!/usr/bin/env node
// SPDX-License-Identifier: BSD-2-Clause
// Browser test of `tlsfin analyze --format=html` (docs/html.md).
//
//   node tests/html/test_report.js --tlsfin build/tlsfin --artifacts DIR
//        [--big N] [--big-from auto|capture|fake] [--demo-page FILE]
//        [--docs-img DIR]   (default docs/img; '' writes no README picture)
//
// Builds the page of samples/demo.pcapng (with its key log) and checks it in
// headless Chromium against `tlsfin analyze --format=jsonl` and `--conn=N` of
// the same input: no console error, no request but the page itself, the
// totals, the filters, the text filter, sorting, the keyboard, every ladder,
// "Copy SVG", "Download PNG", labels that need no colour.  Then a page of N
// (100000) connections: loads without errors, shows N, keeps fewer than 500
// rows in the DOM; its load time and size are printed.  Screenshots go to
// the artifacts directory and the demo's to docs/img/.
// Exit 0 pass, 1 failure, 77 skip (no chromium or no node_modules).
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");
const { execFileSync } = require("child_process");

const ROOT = path.resolve(__dirname, "..", "..");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

function usage(msg) {
  console.error(`test_report: ${msg}`);
  console.error(
    "usage: node tests/html/test_report.js --tlsfin PATH --artifacts DIR [--big N] [--big-from auto|capture|fake] [--demo-page FILE] [--docs-img DIR]",
  );
  process.exit(2);
}
const opt = {
  big: 100000,
  bigFrom: "auto",
  docsImg: path.join(ROOT, "docs", "img"),
};
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  const v = () => process.argv[++i] ?? usage(`${a} needs a value`);
  if (a === "--tlsfin") opt.tlsfin = v();
  else if (a === "--artifacts") opt.artifacts = v();
  else if (a === "--big") opt.big = +v();
  else if (a === "--big-from") opt.bigFrom = v();
  else if (a === "--demo-page") opt.demoPage = v();
  else if (a === "--docs-img") opt.docsImg = v();
  else usage(`unknown argument ${a}`);
}
if (!opt.tlsfin || !opt.artifacts)
  usage("--tlsfin and --artifacts are required");
opt.tlsfin = path.resolve(opt.tlsfin);
opt.artifacts = path.resolve(opt.artifacts);

let puppeteer;
try {
  puppeteer = require("puppeteer-core");
} catch {
  console.log("SKIP: no node_modules (run `npm ci` in tests/html)");
  process.exit(77);
}
if (!fs.existsSync(CHROMIUM)) {
  console.log(`SKIP: ${CHROMIUM} missing (apt-get install chromium)`);
  process.exit(77);
}

const failures = [];
function check(ok, what) {
  if (ok) console.log(`ok   ${what}`);
  else {
    console.log(`FAIL ${what}`);
    failures.push(what);
  }
  return ok;
}
function fatal(msg) {
  console.error(`test_report: FAIL: ${msg}`);
  process.exit(1);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const norm = (s) => String(s).replace(/\s+/g, " ").trim();
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

function tlsfin(args, opts = {}) {
  return execFileSync(opt.tlsfin, ["analyze", ...args], {
    cwd: ROOT,
    maxBuffer: 1 << 30,
    stdio: ["ignore", opts.out || "pipe", "pipe"],
    encoding: opts.out ? undefined : "utf8",
  });
}

// the rows of `tlsfin analyze --conn=N`: frame, direction, label
function textLadder(args, id) {
  const rows = [];
  for (const line of tlsfin([`--conn=${id}`, ...args]).split("\n")) {
    const m = /^\s*(\d+)\s+[\d.]+\s+(.*)$/.exec(line);
    if (!m || !/---->|<----/.test(m[2])) continue;
    const dir = m[2].includes("<----") ? 1 : 0;
    const label = dir ? m[2].split("<----")[1] : m[2].split("---->")[0];
    rows.push({ frame: +m[1], dir, label: norm(label) });
  }
  return rows;
}

// Loads a page with every request but the page's own failing the test.
async function openPage(browser, file, what) {
  const page = await browser.newPage();
  const errors = [];
  const url = "file://" + file;
  await page.setViewport({ width: 1400, height: 1000 });
  await page.setRequestInterception(true);
  page.on("request", (req) => {
    const u = req.url();
    if (u === url || u.startsWith("data:") || u.startsWith("blob:"))
      return req.continue();
    errors.push(`request to ${u}`);
    req.abort();
  });
  page.on("requestfailed", (req) => {
    if (req.url() !== url) errors.push(`failed request ${req.url()}`);
  });
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console error: ${m.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  const t = Date.now();
  await page.goto(url, { waitUntil: "load", timeout: 180000 });
  await page.waitForSelector("#total", { timeout: 60000 });
  const wall = Date.now() - t;
  const inPage = await page.evaluate(() => {
    const m = (n) => performance.getEntriesByName(n)[0];
    const r = m("tlsfin-ready"),
      d = m("tlsfin-data");
    return r && d
      ? `data read at ${d.startTime.toFixed(0)} ms, ready at ${r.startTime.toFixed(0)} ms`
      : "not ready";
  });
  console.log(`     ${what}: loaded in ${wall} ms (page clock: ${inPage})`);
  return { page, errors, wall };
}

const pageIds = (page) =>
  page.$$eval("#rows tr[data-id]", (trs) => trs.map((t) => +t.dataset.id));
const counts = (page, list) =>
  page.$$eval(`#${list} li[data-name]`, (lis) =>
    Object.fromEntries(
      lis.map((li) => [
        li.dataset.name,
        +li.querySelector(".n").textContent.replace(/\D/g, ""),
      ]),
    ),
  );
async function clickTotal(page, list, name) {
  await page.click(`#${list} li[data-name="${name}"] button`);
  await sleep(50);
}

function tally(recs, f) {
  const o = {};
  for (const r of recs) {
    const k = f(r);
    if (k !== null && k !== undefined) o[k] = (o[k] || 0) + 1;
  }
  return o;
}
const sorted = (o) => JSON.stringify(Object.entries(o).sort());

async function demo(browser) {
  const args = ["--keylog", "samples/demo.keys", "samples/demo.pcapng"];
  const recs = tlsfin(["--format=jsonl", ...args])
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  check(recs.length > 0, `demo: JSONL has ${recs.length} connections`);
  let file = opt.demoPage && path.resolve(opt.demoPage);
  if (!file) {
    file = path.join(opt.artifacts, "demo.html");
    const fd = fs.openSync(file, "w");
    try {
      tlsfin(["--format=html", ...args], { out: fd });
    } catch (e) {
      fatal(`tlsfin analyze --format=html failed: ${e.stderr || e.message}`);
    } finally {
      fs.closeSync(fd);
    }
  }
  const { page, errors } = await openPage(browser, file, "demo page");
  const byId = new Map(recs.map((r) => [r.id, r]));
  const ladderRows = await page.$eval(
    "#tlsfin-data",
    (e) => JSON.parse(e.textContent).ladder_rows,
  );

  // totals
  const total = await page.$eval("#total", (e) => e.textContent);
  check(+total.replace(/\D/g, "") === recs.length, `demo: total ${total}`);
  const meta = await page.$eval("#meta", (e) => e.textContent);
  check(
    meta.includes("samples/demo.pcapng"),
    `demo: the input is named (${meta})`,
  );
  const pv = await counts(page, "verdicts");
  const jv = tally(recs, (r) => r.verdict);
  check(
    sorted(pv) === sorted(jv),
    `demo: verdict counts ${sorted(pv)} = JSONL ${sorted(jv)}`,
  );
  const pc = await counts(page, "causes");
  const jc = tally(recs, (r) => r.rst && r.rst.cause);
  check(
    sorted(pc) === sorted(jc),
    `demo: cause counts ${sorted(pc)} = JSONL ${sorted(jc)}`,
  );
  check(
    same(
      await pageIds(page),
      recs.map((r) => r.id),
    ),
    "demo: the table lists every connection in id order",
  );
  await page.screenshot({
    path: path.join(opt.artifacts, "overview.png"),
    fullPage: true,
  });

  // clicking a verdict, a cause, a server filters; clicking again clears
  for (const v of Object.keys(jv)) {
    await clickTotal(page, "verdicts", v);
    const want = recs.filter((r) => r.verdict === v).map((r) => r.id);
    check(same(await pageIds(page), want), `demo: verdict filter ${v}`);
    await clickTotal(page, "verdicts", v);
  }
  for (const c of Object.keys(jc)) {
    await clickTotal(page, "causes", c);
    const want = recs
      .filter((r) => r.rst && r.rst.cause === c)
      .map((r) => r.id);
    check(same(await pageIds(page), want), `demo: cause filter ${c}`);
    if (c === Object.keys(jc)[0])
      await page.screenshot({
        path: path.join(opt.artifacts, "filtered.png"),
      });
    await clickTotal(page, "causes", c);
  }
  check(
    (await pageIds(page)).length === recs.length,
    "demo: clicking again clears",
  );
  const srv = await page.$("#servers button");
  if (check(srv !== null, "demo: top servers listed")) {
    const label = await srv.evaluate((b) => b.textContent);
    await srv.click();
    const want = recs
      .filter((r) => {
        const ip = r.server.ip.includes(":") ? `[${r.server.ip}]` : r.server.ip;
        return `${ip}:${r.server.port}` === label;
      })
      .map((r) => r.id);
    check(same(await pageIds(page), want), `demo: server filter ${label}`);
    check(
      (await page.$$("#chips .chip")).length === 1,
      "demo: the active filter is shown as a chip",
    );
    await page.keyboard.press("Escape");
    await sleep(50);
    check(
      (await pageIds(page)).length === recs.length &&
        (await page.$$("#chips .chip")).length === 0,
      "demo: Escape clears the filters",
    );
  }
  // a chip removes its filter
  await clickTotal(page, "verdicts", Object.keys(jv)[0]);
  await page.click("#chips .chip");
  await sleep(50);
  check(
    (await pageIds(page)).length === recs.length,
    "demo: clicking the chip removes its filter",
  );

  // the text filter: addresses, ports, SNI, verdicts, causes
  const hay = (r) => {
    const ep = (e) => (e.ip.includes(":") ? `[${e.ip}]` : e.ip) + ":" + e.port;
    const t = r.tls;
    const ver =
      t &&
      (t.version || (t.client_max_version ? `${t.client_max_version}*` : ""));
    return [
      `${ep(r.client)} → ${ep(r.server)}`,
      t && t.sni,
      r.verdict,
      r.rst && r.rst.cause,
      ver,
      t && t.http && t.http.last_response,
    ]
      .filter(Boolean)
      .join(" ")
      .toLowerCase();
  };
  const r0 = recs[Math.floor(recs.length / 2)];
  const terms = [String(r0.client.port), r0.server.ip, "refused", "reset"];
  const sni = recs.find((r) => r.tls && r.tls.sni);
  if (sni) terms.push(sni.tls.sni);
  for (const q of terms) {
    await page.click("#q", { clickCount: 3 });
    await page.type("#q", q);
    await sleep(300);
    const want = recs
      .filter((r) => hay(r).includes(q.toLowerCase()))
      .map((r) => r.id);
    check(
      same(await pageIds(page), want) && want.length > 0,
      `demo: text filter "${q}" shows ${want.join(",")}`,
    );
  }
  await page.focus("#q");
  await page.keyboard.press("Escape");
  await sleep(300);
  check(
    (await page.$eval("#q", (e) => e.value)) === "" &&
      (await pageIds(page)).length === recs.length,
    "demo: Escape in the filter box clears it",
  );

  // the timeline: each bar filters the connections that ended then
  const bars = await page.$$eval("#timeline .hit", (r) =>
    r.map((e) => +/: ([\d,]+) ended/.exec(e.textContent)[1].replace(/,/g, "")),
  );
  const seen = [];
  for (let k = 0; k < bars.length; k++) {
    await page.evaluate((k) => {
      const r = document.querySelectorAll("#timeline .hit")[k];
      r.dispatchEvent(new MouseEvent("click", { bubbles: true }));
    }, k);
    await sleep(50);
    const ids = await pageIds(page);
    check(
      ids.length === bars[k],
      `demo: timeline bar ${k} shows its ${bars[k]} connections`,
    );
    seen.push(...ids);
    await page.keyboard.press("Escape");
    await sleep(50);
  }
  check(
    same(
      seen.sort((a, b) => a - b),
      recs.map((r) => r.id),
    ),
    "demo: the timeline's bars hold every connection once",
  );
  // the ENDED column is the JSONL last_ts
  const ended = await page.$$eval("#rows tr[data-id]", (trs) =>
    trs.map((t) => [+t.dataset.id, t.cells[1].textContent]),
  );
  const badTime = ended.filter(([id, txt]) => {
    const ms = byId.get(id).last_ts * 1000;
    return ![ms - 1, ms, ms + 1].some(
      (m) => new Date(m).toISOString().slice(11, 23) === txt,
    );
  });
  check(
    badTime.length === 0,
    `demo: ENDED matches last_ts ${JSON.stringify(badTime)}`,
  );

  // sorting
  const coll = new Intl.Collator("en", { numeric: true });
  const byVerdict = [...recs]
    .sort((a, b) => coll.compare(a.verdict, b.verdict) || a.id - b.id)
    .map((r) => r.id);
  await page.click('#head button[data-col="verdict"]');
  await sleep(50);
  check(same(await pageIds(page), byVerdict), "demo: sort by verdict");
  check(
    (await page.$eval("#head th:nth-child(6)", (t) =>
      t.getAttribute("aria-sort"),
    )) === "ascending",
    "demo: aria-sort on the sorted column",
  );
  const byVerdictDesc = [...recs]
    .sort((a, b) => coll.compare(b.verdict, a.verdict) || a.id - b.id)
    .map((r) => r.id);
  await page.click('#head button[data-col="verdict"]');
  await sleep(50);
  check(
    same(await pageIds(page), byVerdictDesc),
    "demo: sort by verdict, descending",
  );
  await page.click('#head button[data-col="id"]');
  await page.click('#head button[data-col="id"]');
  await sleep(50);
  check(
    same(await pageIds(page), recs.map((r) => r.id).reverse()),
    "demo: sort by id, descending",
  );
  await page.click('#head button[data-col="id"]');
  await sleep(50);
  check(
    same(
      await pageIds(page),
      recs.map((r) => r.id),
    ),
    "demo: sort by id",
  );
  check(
    await page.$$eval("#conns th", (ths) =>
      ths.every((t) => t.getAttribute("scope") === "col"),
    ),
    'demo: table headers have scope="col"',
  );

  // keyboard: Tab from the filter box reaches a row
  await page.focus("#q");
  let tabs = 0;
  while (tabs < 30) {
    await page.keyboard.press("Tab");
    tabs++;
    if (await page.evaluate(() => !!document.activeElement.dataset.id)) break;
  }
  check(
    tabs < 30,
    `demo: Tab from the filter box reaches a row (${tabs} presses)`,
  );
  // keyboard: focus a row, ArrowDown, Enter opens the ladder
  await page.focus('#rows tr[data-pos="0"]');
  await page.keyboard.press("ArrowDown");
  const focused = await page.evaluate(() => document.activeElement.dataset.id);
  check(
    +focused === recs[1].id,
    `demo: ArrowDown focuses the next row (${focused})`,
  );
  await page.keyboard.press("Enter");
  await sleep(100);
  check(
    await page.$eval("#ladder", (d) => d.open),
    "demo: Enter opens the ladder",
  );
  const title = await page.$eval("#ladder-title", (e) => e.textContent);
  check(
    title.includes(`Connection ${recs[1].id} `),
    `demo: ladder title "${title}"`,
  );
  await page.keyboard.press("Escape");
  await sleep(100);
  check(
    !(await page.$eval("#ladder", (d) => d.open)),
    "demo: Escape closes the ladder",
  );
  check(
    (await page.evaluate(() => document.activeElement.dataset.id)) ===
      String(recs[1].id),
    "demo: focus returns to the row",
  );

  // every ladder against `tlsfin analyze --conn=N`
  await page.click('#rows tr[data-pos="0"]');
  await sleep(100);
  for (let k = 0; k < recs.length; k++) {
    const r = recs[k];
    const got = await page.evaluate(() => {
      const svg = document.querySelector("#diagram svg");
      return {
        title: document.querySelector("#ladder-title").textContent,
        arrows: [...svg.querySelectorAll("g.arrow")].map((g) => ({
          frame: +g.dataset.frame,
          dir:
            +g.querySelector("line").getAttribute("x1") >
            +g.querySelector("line").getAttribute("x2")
              ? 1
              : 0,
          label: g.querySelector("text.label").textContent,
        })),
        text: [...svg.querySelectorAll("text")]
          .map((t) => t.textContent)
          .join(" "),
        ws: document.querySelector("#ws").textContent,
      };
    });
    const want = textLadder(args, r.id);
    const tail = want.slice(-Math.min(want.length, ladderRows));
    const g = got.arrows.map((a) => ({ ...a, label: norm(a.label) }));
    check(
      got.title.startsWith(`Connection ${r.id} `) &&
        g.length > 0 &&
        same(g, tail),
      `demo: ladder ${r.id}: ${g.length} arrows = the last rows of --conn=${r.id}` +
        (same(g, tail)
          ? ""
          : `\n       page ${JSON.stringify(g)}\n       text ${JSON.stringify(tail)}`),
    );
    const t = norm(got.text);
    check(
      t.includes(r.verdict) && t.includes(norm(r.explain)),
      `demo: ladder ${r.id}: verdict and explain above it`,
    );
    if (r.rst) {
      const last = [...g].reverse().find((a) => /\bRST\b/.test(a.label));
      check(
        last !== undefined && t.includes(norm(r.rst.detail)),
        `demo: ladder ${r.id}: RST arrow labelled, rst.detail beside it`,
      );
    }
    check(
      got.ws === r.wireshark_filter,
      `demo: ladder ${r.id}: Wireshark filter`,
    );
    if (k === 0)
      await page.screenshot({ path: path.join(opt.artifacts, "ladder.png") });
    if (k < recs.length - 1) {
      await page.click("#next");
      await sleep(50);
    }
  }
  // the RST connection for the picture and the clipboard checks
  const rstRec =
    recs.find((r) => r.rst && r.verdict === "reset") ||
    recs.find((r) => r.rst) ||
    recs[0];
  await page.keyboard.press("Escape");
  await page.click(`#rows tr[data-id="${rstRec.id}"]`);
  await sleep(150);
  const last = await page.$$eval(
    "#diagram g.arrow text.label",
    (t) => t.at(-1).textContent,
  );
  if (rstRec.rst && rstRec.verdict === "reset")
    check(
      /\bRST\b/.test(last),
      `demo: ladder ${rstRec.id}: the last arrow is labelled RST ("${last}")`,
    );
  const dlg = await page.$("#ladder");
  await dlg.screenshot({ path: path.join(opt.artifacts, "ladder-rst.png") });

  // Copy SVG, with a clipboard and without one
  await page.evaluate(() => {
    Object.defineProperty(navigator, "clipboard", {
      configurable: true,
      value: { writeText: (t) => ((window.__copied = t), Promise.resolve()) },
    });
  });
  await page.click("#copy-svg");
  await sleep(100);
  const svgCheck = await page.evaluate(() => {
    const t = window.__copied || "";
    const doc = new DOMParser().parseFromString(t, "image/svg+xml");
    return {
      start: t.slice(0, 60),
      ok:
        !doc.querySelector("parsererror") &&
        doc.documentElement.localName === "svg",
      arrows: doc.querySelectorAll("g.arrow").length,
      shown: document.querySelectorAll("#diagram g.arrow").length,
      external: /url\(#|href=|<image/.test(t),
    };
  });
  check(
    svgCheck.ok && svgCheck.arrows === svgCheck.shown && !svgCheck.external,
    `demo: "Copy SVG" puts standalone SVG text on the clipboard (${svgCheck.start}…)`,
  );
  await page.evaluate(() => {
    Object.defineProperty(navigator, "clipboard", {
      configurable: true,
      value: { writeText: () => Promise.reject(new Error("denied")) },
    });
  });
  await page.click("#copy-svg");
  await sleep(100);
  check(
    await page.$eval(
      "#fallback",
      (t) => !t.hidden && t.value.startsWith("<svg"),
    ),
    "demo: without a clipboard the SVG is shown selected in a text box",
  );
  // Download PNG: catch the link's click and read its blob
  await page.evaluate(() => {
    HTMLAnchorElement.prototype.click = function () {
      window.__download = { href: this.href, name: this.download };
    };
  });
  await page.click("#png");
  await page
    .waitForFunction(() => window.__download, { timeout: 10000 })
    .catch(() => {});
  const dl = await page.evaluate(async () => {
    if (!window.__download) return null;
    const b = await (await fetch(window.__download.href)).arrayBuffer();
    return {
      name: window.__download.name,
      size: b.byteLength,
      head: [...new Uint8Array(b.slice(0, 4))],
    };
  });
  check(
    dl && same(dl.head, [0x89, 0x50, 0x4e, 0x47]) && dl.size > 2000,
    `demo: "Download PNG" saves a PNG (${dl && dl.name}, ${dl && dl.size} bytes)`,
  );
  await page.keyboard.press("Escape");

  // readable without colour: every coloured mark has a text label
  const legend = await page.$$eval(".legend li", (lis) =>
    lis.map((li) => li.textContent.trim()),
  );
  check(
    legend.length >= 2 * Object.keys(jv).length &&
      legend.every((t) => Object.keys(jv).some((v) => t.includes(v))),
    `demo: every legend entry has a text label (${legend.length})`,
  );
  check(
    await page.$$eval("#rows tr[data-id] td:nth-child(6)", (tds) =>
      tds.every((td) => td.textContent.trim().length > 0),
    ),
    "demo: every verdict mark in the table has its name beside it",
  );
  await page.emulateVisionDeficiency("achromatopsia");
  await page.screenshot({
    path: path.join(opt.artifacts, "overview-grey.png"),
    fullPage: true,
  });
  await page.emulateVisionDeficiency("none");
  await page.emulateMediaFeatures([
    { name: "prefers-color-scheme", value: "dark" },
  ]);
  await page.click(`#rows tr[data-id="${rstRec.id}"]`);
  await sleep(150);
  await page.screenshot({
    path: path.join(opt.artifacts, "ladder-dark.png"),
  });
  await page.keyboard.press("Escape");
  await page.screenshot({
    path: path.join(opt.artifacts, "overview-dark.png"),
    fullPage: true,
  });
  await page.emulateMediaFeatures([
    { name: "prefers-color-scheme", value: "light" },
  ]);

  // the pictures for the README (--docs-img '' to leave them alone)
  if (opt.docsImg) {
    fs.mkdirSync(opt.docsImg, { recursive: true });
    await page.setViewport({ width: 1280, height: 900 });
    await page.evaluate(() => {
      document.activeElement.blur();
      window.scrollTo(0, 0);
    });
    await sleep(300);
    await page.screenshot({ path: path.join(opt.docsImg, "report.png") });
    fs.copyFileSync(
      path.join(opt.artifacts, "ladder-rst.png"),
      path.join(opt.docsImg, "ladder.png"),
    );
  }

  check(
    errors.length === 0,
    `demo: no console error, no request (${errors.join("; ") || "none"})`,
  );
  await page.close();
}

// A capture of N connections from bench/hostile/gen.py when tlsfin writes
// the page, else fake data (tests/html/fakedata.py + mkpage.py).
function bigPage(n) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tlsfin-html-"));
  const file = path.join(opt.artifacts, `big-${n}.html`);
  const gen = path.join(ROOT, "bench", "hostile", "gen.py");
  if (opt.bigFrom !== "fake" && fs.existsSync(gen)) {
    // tiny: complete connections (tcp_clean), ports 1024 + i; servers: one
    // refused connection each, from port 40000: no 4-tuple in both
    const tiny = Math.min(38000, Math.floor(n / 2));
    const caps = [
      [path.join(dir, "tiny.pcap"), "tiny", tiny],
      [path.join(dir, "servers.pcap"), "servers", n - tiny],
    ];
    for (const [cap, kind, k] of caps)
      execFileSync("python3", [gen, kind, String(k), cap]);
    const fd = fs.openSync(file, "w");
    try {
      tlsfin(["--format=html", ...caps.map((c) => c[0])], { out: fd });
      return {
        file,
        inputs: caps.map((c) => c[0]),
        from: `tlsfin on bench/hostile/gen.py tiny ${tiny} + servers ${n - tiny}`,
      };
    } catch (e) {
      if (opt.bigFrom === "capture")
        fatal(`tlsfin --format=html on ${dir}: ${e.message}`);
    } finally {
      fs.closeSync(fd);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  const json = path.join(opt.artifacts, `fake-${n}.json`);
  execFileSync("sh", [
    "-c",
    `python3 "${__dirname}/fakedata.py" ${n} > "${json}"`,
  ]);
  execFileSync("sh", [
    "-c",
    `python3 "${__dirname}/mkpage.py" "${json}" > "${file}"`,
  ]);
  fs.rmSync(json);
  return { file, inputs: [`fake-${n}.pcapng`], from: `fakedata.py ${n}` };
}

async function big(browser, n) {
  const { file, from, inputs } = bigPage(n);
  const size = fs.statSync(file).size;
  console.log(`     big page: ${from}, ${(size / 1e6).toFixed(1)} MB`);
  const { page, errors, wall } = await openPage(
    browser,
    file,
    `${n} connections`,
  );
  const total = await page.$eval(
    "#total",
    (e) => +e.textContent.replace(/\D/g, ""),
  );
  check(total === n, `big: totals show ${total} connections`);
  const meta = await page.$eval("#meta", (e) => e.textContent);
  for (const input of inputs)
    check(meta.includes(input), `big: the input ${input} is named (${meta})`);
  const verdicts = await counts(page, "verdicts");
  check(
    Object.values(verdicts).reduce((a, b) => a + b, 0) === n,
    "big: the verdict counts add up",
  );
  const rowsInDom = () => page.$$eval("#rows tr", (t) => t.length);
  check(
    (await rowsInDom()) < 500,
    `big: ${await rowsInDom()} table rows in the DOM`,
  );
  await page.focus('#rows tr[data-pos="0"]');
  let t = Date.now();
  await page.keyboard.press("End");
  await sleep(50);
  const lastId = await page.evaluate(() => document.activeElement.dataset.id);
  console.log(`     big: End key ${Date.now() - t} ms`);
  check(+lastId === n, `big: End reaches the last row (${lastId})`);
  check(
    (await rowsInDom()) < 500,
    `big: ${await rowsInDom()} rows in the DOM at the end`,
  );
  t = Date.now();
  await page.click('#head button[data-col="verdict"]');
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(r)));
  console.log(`     big: sort by verdict ${Date.now() - t} ms`);
  t = Date.now();
  const v = Object.keys(verdicts).sort((a, b) => verdicts[a] - verdicts[b])[0];
  await clickTotal(page, "verdicts", v);
  const count = await page.$eval("#count", (e) => e.textContent);
  console.log(`     big: verdict filter ${Date.now() - t} ms (${count})`);
  check(
    +count.replace(/,/g, "").split(" ")[0] === verdicts[v] &&
      (await pageIds(page)).length < 500,
    `big: verdict filter ${v} shows ${count}`,
  );
  await page.keyboard.press("Escape");
  const addr = await page.$eval(
    '#rows tr[data-pos="0"] td:nth-child(3)',
    (td) => td.textContent.split(" → ")[1],
  );
  t = Date.now();
  await page.type("#q", addr);
  await page
    .waitForFunction(
      () => /of/.test(document.querySelector("#count").textContent),
      { timeout: 10000 },
    )
    .catch(() => {});
  const found = await page.$eval("#count", (e) => e.textContent);
  console.log(`     big: text filter ${Date.now() - t} ms (${found})`);
  check(/^[\d,]+ of /.test(found), `big: text filter "${addr}": ${found}`);
  await page.click('#rows tr[data-pos="0"]');
  await sleep(200);
  check(await page.$eval("#ladder", (d) => d.open), "big: a ladder opens");
  await page.screenshot({ path: path.join(opt.artifacts, "big-ladder.png") });
  await page.keyboard.press("Escape");
  await page.screenshot({ path: path.join(opt.artifacts, "big-overview.png") });
  check(
    errors.length === 0,
    `big: no console error, no request (${errors.join("; ") || "none"})`,
  );
  console.log(
    `BIG PAGE: ${n} connections, ${(size / 1e6).toFixed(1)} MB, loaded in ${wall} ms`,
  );
  await page.close();
}

(async () => {
  try {
    fs.accessSync(opt.tlsfin, fs.constants.X_OK);
  } catch {
    fatal(`no tlsfin binary at ${opt.tlsfin} (build it first)`);
  }
  fs.mkdirSync(opt.artifacts, { recursive: true });
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu"],
  });
  try {
    await demo(browser);
    if (opt.big > 0) await big(browser, opt.big);
  } finally {
    await browser.close();
  }
  if (failures.length) {
    console.error(`test_report: ${failures.length} check(s) failed:`);
    for (const f of failures) console.error(`  - ${f.split("\n")[0]}`);
    process.exit(1);
  }
  console.log("test_report: all checks passed");
})().catch((e) => fatal(e.stack || e.message));
