#!/usr/bin/env node
// SPDX-License-Identifier: BSD-2-Clause
//
// The archive pattern of docs/scale.md, end to end, with DuckDB:
//   tlsfin analyze --format=jsonl, one .jsonl (or .jsonl.gz) per capture, then
//   the view and the "resets per server per cause per hour" query exactly as
//   docs/scale.md shows them (taken from the page between its markers).
// Checks:
//   1. the view has one row per JSONL line;
//   2. every record read back through the view (to_json) is its JSON line,
//      field for field (the column definition covers every field, with types
//      that hold the values);
//   3. the query's answer equals the same aggregation computed here in
//      JavaScript from the JSONL.
// The JSONL of every tests/captures/*.pcapng and samples/demo.pcapng is used;
// every third file is gzipped, and one synthetic file (demo's records with
// their timestamps spread over several hours and a key unknown to the schema)
// makes the hour grouping and the forward compatibility count.
//
// usage: node test_duckdb.js --tlsfin PATH [--source DIR] [--keep]
// exit: 0 ok, 1 failure, 77 skipped (node_modules missing: npm ci)
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const zlib = require('zlib');
const { spawnSync } = require('child_process');

const SKIP = 77;
const HERE = __dirname;

function die(msg) {
  console.error('archive.duckdb: FAIL: ' + msg);
  process.exit(1);
}

function parseArgs(argv) {
  const a = { tlsfin: process.env.TLSFIN || null, source: path.resolve(HERE, '..', '..'), keep: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) die(arg + ' needs a value');
      return argv[++i];
    };
    if (arg === '--tlsfin') a.tlsfin = val();
    else if (arg.startsWith('--tlsfin=')) a.tlsfin = arg.slice(9);
    else if (arg === '--source') a.source = path.resolve(val());
    else if (arg === '--keep') a.keep = true;
    else die('unknown argument ' + arg + ' (usage: test_duckdb.js --tlsfin PATH [--source DIR] [--keep])');
  }
  if (!a.tlsfin) die('--tlsfin PATH is required');
  return a;
}

function loadDuckDB() {
  try {
    return require('@duckdb/node-api');
  } catch (e) {
    if (e.code !== 'MODULE_NOT_FOUND') throw e;
    console.error('archive.duckdb: SKIP: @duckdb/node-api is not installed; run `npm ci --prefix ' +
                  HERE + '`');
    process.exit(SKIP);
  }
}

// The text between "<!-- BEGIN NAME -->" and "<!-- END NAME -->", fences removed.
function docBlock(doc, name) {
  const b = '<!-- BEGIN ' + name + ' -->\n', e = '<!-- END ' + name + ' -->';
  const i = doc.indexOf(b), j = doc.indexOf(e);
  if (i < 0 || j < i || doc.indexOf(b, i + 1) >= 0)
    die('docs/scale.md: no single "' + name + '" block');
  const m = /^```[a-z]*\n([\s\S]*?)```\n$/.exec(doc.slice(i + b.length, j));
  if (!m) die('docs/scale.md: the "' + name + '" block is not one fenced code block');
  return m[1];
}

function statements(sql) {
  return sql.split(/;[ \t]*(?:\n|$)/).map((s) => s.trim()).filter((s) => s.length);
}

// JSON value with its null-valued keys dropped and keys sorted: a record and
// its read-back compare equal whatever the key order and however an absent
// optional key comes back (DuckDB gives every struct field, null if absent).
function canon(v) {
  if (Array.isArray(v)) return v.map(canon);
  if (v && typeof v === 'object') {
    const o = {};
    for (const k of Object.keys(v).sort()) if (v[k] !== null) o[k] = canon(v[k]);
    return o;
  }
  return v;
}

function analyzeAll(tlsfin, captures, dir) {
  const files = [];
  captures.forEach((cap, n) => {
    const r = spawnSync(tlsfin, ['analyze', '--format=jsonl', cap], { maxBuffer: 1 << 28 });
    if (r.error) die('cannot run ' + tlsfin + ': ' + r.error.message);
    if (r.status !== 0)
      die('tlsfin analyze ' + cap + ' exited ' + r.status + ': ' + r.stderr.toString().trim());
    const text = r.stdout.toString();
    const base = path.basename(cap).replace(/\.pcapng$/, '');
    const gz = n % 3 === 2;
    const file = path.join(dir, base + (gz ? '.jsonl.gz' : '.jsonl'));
    fs.writeFileSync(file, gz ? zlib.gzipSync(text) : text);
    files.push({ cap, file, text });
  });
  return files;
}

// demo's records again, ended 0, 1, 2 ... hours and a half later (step 5400 s),
// with an extra key: a later capture of the same servers, from a newer tlsfin.
function synthetic(demo, dir) {
  const lines = demo.text.split('\n').filter((l) => l.length).map((l, i) => {
    const r = JSON.parse(l);
    r.first_ts += 5400 * i;
    r.last_ts += 5400 * i;
    r.x_added_in_a_later_version = { note: 'ignored by the definitions' };
    return JSON.stringify(r);
  });
  const file = path.join(dir, 'synthetic_demo_spread.jsonl');
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return { cap: '(synthetic)', file, text: lines.join('\n') + '\n' };
}

function hourKey(ip, port, cause, hourS) {
  return JSON.stringify([ip, Number(port), cause, Number(hourS)]);
}

function fmtTable(rows) {
  const head = ['hour (UTC)', 'server', 'cause', 'resets'];
  const body = rows.map((r) => [new Date(r.hour * 1000).toISOString().replace('.000Z', 'Z'),
                                r.ip.includes(':') ? '[' + r.ip + ']:' + r.port : r.ip + ':' + r.port,
                                r.cause, String(r.n)]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) => cells.map((c, i) => (i === 3 ? c.padStart(w[i]) : c.padEnd(w[i]))).join('  ');
  return [line(head), ...body.map(line)].join('\n');
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const duckdb = loadDuckDB();
  const tlsfin = path.resolve(args.tlsfin);
  if (!fs.existsSync(tlsfin)) die('no tlsfin at ' + tlsfin);
  const doc = fs.readFileSync(path.join(args.source, 'docs', 'scale.md'), 'utf8');
  const viewSql = docBlock(doc, 'schema_to_sql.py duckdb');
  const querySql = docBlock(doc, 'query duckdb');

  const capDir = path.join(args.source, 'tests', 'captures');
  const captures = fs.readdirSync(capDir).filter((f) => f.endsWith('.pcapng')).sort()
    .map((f) => path.join(capDir, f));
  captures.push(path.join(args.source, 'samples', 'demo.pcapng'));
  if (captures.length < 10) die('expected the captures of tests/captures, found ' + captures.length);

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tlsfin-archive-'));
  const archive = path.join(work, 'archive');
  fs.mkdirSync(archive);
  const files = analyzeAll(tlsfin, captures, archive);
  files.push(synthetic(files[files.length - 1], archive));

  // The JSONL, parsed here: the reference for every check.
  const records = [];
  for (const f of files)
    for (const line of f.text.split('\n')) {
      if (!line.length) continue;
      try {
        records.push(JSON.parse(line));
      } catch (e) {
        die(f.file + ': not JSON: ' + line.slice(0, 80));
      }
    }
  const gzipped = files.filter((f) => f.file.endsWith('.gz')).length;
  console.log('archive.duckdb: ' + files.length + ' JSONL files (' + gzipped + ' gzipped), ' +
              records.length + ' records, from ' + captures.length + ' captures');

  // DuckDB, from the directory holding archive/, as docs/scale.md says.
  process.chdir(work);
  const inst = await duckdb.DuckDBInstance.create(':memory:');
  const con = await inst.connect();
  const v = (await con.runAndReadAll('SELECT version() AS v')).getRowObjectsJson()[0].v;
  console.log('archive.duckdb: DuckDB ' + v + ' (@duckdb/node-api)');
  for (const s of statements(viewSql)) await con.run(s);

  let failures = 0;
  const fail = (msg) => {
    failures++;
    console.error('archive.duckdb: FAIL: ' + msg);
  };

  // 1. rows = lines
  const n = Number((await con.runAndReadAll('SELECT count(*) AS n FROM tlsfin')).getRowObjectsJson()[0].n);
  if (n !== records.length) fail('the view has ' + n + ' rows, the JSONL ' + records.length + ' lines');
  else console.log('archive.duckdb: ok: ' + n + ' rows = ' + records.length + ' JSONL lines');

  // 2. every record read back whole
  const back = (await con.runAndReadAll('SELECT to_json(t)::VARCHAR AS j FROM tlsfin AS t'))
    .getRowObjectsJson().map((r) => JSON.stringify(canon(JSON.parse(r.j)))).sort();
  const want = records.map((r) => {
    const c = { ...r };
    delete c.x_added_in_a_later_version;
    return JSON.stringify(canon(c));
  }).sort();
  let diff = 0;
  for (let i = 0; i < Math.max(back.length, want.length); i++)
    if (back[i] !== want[i]) {
      if (diff++ < 2)
        fail('a record read back differs from its JSON line:\n  jsonl:  ' + want[i] + '\n  duckdb: ' + back[i]);
    }
  if (diff) fail(diff + ' records differ after the round trip');
  else console.log('archive.duckdb: ok: all ' + back.length + ' records read back field for field');

  // 3. the documented query against the same aggregation in JavaScript
  const stmts = statements(querySql);
  for (const s of stmts.slice(0, -1)) await con.run(s);
  const sqlRows = (await con.runAndReadAll(
    'SELECT server_ip, server_port, cause, epoch(hour) AS hour_s, resets FROM (' +
    stmts[stmts.length - 1] + ') AS q')).getRowObjectsJson();
  const sqlMap = new Map();
  for (const r of sqlRows) {
    const k = hourKey(r.server_ip, r.server_port, r.cause, r.hour_s);
    if (sqlMap.has(k)) fail('the query gives the group ' + k + ' twice');
    sqlMap.set(k, Number(r.resets));
  }
  const jsMap = new Map();
  for (const r of records) {
    if (r.rst === null) continue;
    const k = hourKey(r.server.ip, r.server.port, r.rst.cause, Math.floor(r.last_ts / 3600) * 3600);
    jsMap.set(k, (jsMap.get(k) || 0) + 1);
  }
  const keys = [...new Set([...sqlMap.keys(), ...jsMap.keys()])].sort();
  let bad = 0;
  for (const k of keys)
    if (sqlMap.get(k) !== jsMap.get(k)) {
      if (bad++ < 10) fail('group ' + k + ': SQL says ' + sqlMap.get(k) + ', the JSONL ' + jsMap.get(k));
    }
  const rows = [...jsMap.entries()].map(([k, cnt]) => {
    const [ip, port, cause, hour] = JSON.parse(k);
    return { ip, port, cause, hour, n: cnt };
  }).sort((a, b) => a.hour - b.hour || (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0) ||
               a.port - b.port || (a.cause < b.cause ? -1 : 1));
  const total = rows.reduce((s, r) => s + r.n, 0);
  const hours = new Set(rows.map((r) => r.hour)).size;
  const causes = new Set(rows.map((r) => r.cause)).size;
  // The data must make the comparison mean something.
  if (total < 10 || hours < 3 || causes < 5 || !rows.some((r) => r.n > 1))
    fail('too little to compare: ' + total + ' resets, ' + hours + ' hours, ' + causes + ' causes');
  if (!bad)
    console.log('archive.duckdb: ok: resets per server per cause per hour: ' + sqlRows.length +
                ' groups, ' + total + ' resets, ' + causes + ' causes, ' + hours +
                ' hours; SQL = JavaScript\n' + fmtTable(rows));
  else fail(bad + ' groups differ between the SQL answer and the JSONL');

  con.closeSync();
  inst.closeSync();
  process.chdir(HERE);
  if (args.keep) console.log('archive.duckdb: files kept in ' + work);
  else fs.rmSync(work, { recursive: true, force: true });
  if (failures) {
    console.error('archive.duckdb: ' + failures + ' failure(s)');
    process.exit(1);
  }
  console.log('archive.duckdb: 3 passed, 0 failed');
}

main().catch((e) => die(e && e.stack ? e.stack : String(e)));
