// SPDX-License-Identifier: BSD-2-Clause
// Opens a report page in headless Chromium and prints, as JSON, the time
// until the page is ready (the #total element is filled) and the page
// clock's marks.  usage: node bench/html/load.js PAGE.html [RUNS]
"use strict";
const path = require("path");
const puppeteer = require(
  path.join(__dirname, "../../tests/html/node_modules/puppeteer-core"),
);

(async () => {
  const file = path.resolve(process.argv[2]);
  const runs = +(process.argv[3] || 3);
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu"],
  });
  const out = [];
  for (let i = 0; i < runs; i++) {
    const page = await browser.newPage();
    await page.setViewport({ width: 1400, height: 1000 });
    const t = Date.now();
    await page.goto("file://" + file, { waitUntil: "load", timeout: 180000 });
    await page.waitForSelector("#total", { timeout: 120000 });
    await page.waitForFunction(
      () => performance.getEntriesByName("tlsfin-ready").length > 0,
      { timeout: 120000 },
    );
    const wall = Date.now() - t;
    const marks = await page.evaluate(() => ({
      data: performance.getEntriesByName("tlsfin-data")[0]?.startTime,
      ready: performance.getEntriesByName("tlsfin-ready")[0]?.startTime,
      total: document.querySelector("#total")?.textContent,
    }));
    out.push({ wall_ms: wall, ...marks });
    await page.close();
  }
  await browser.close();
  console.log(JSON.stringify(out));
})().catch((e) => {
  console.error(`load.js: ${e.message}`);
  process.exit(1);
});
