// Drives the web console of 'actorvm serve' in headless Chromium, as a user would:
//   node web-console.mjs BASE_URL HELLO_ELF ECHO_ELF SCREENSHOT
// Starts the hello guest from the page and reads its greeting in the terminal, starts the echo
// guest and types into it, takes a snapshot and finds it on the timeline, restores from it and
// types again, then saves a screenshot. Prints "web-console: ok" when all of it held.
import { chromium } from "playwright-core";

const [base, helloElf, echoElf, screenshot] = process.argv.slice(2);
const started = Date.now();
// Each step with the seconds since the start: in the emulated host a slow step shows where.
const step = (what) => console.log(`web-console: ${what} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
let page;
try {
  page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  // Generous: in the emulated KVM host Chromium itself runs emulated, 10 to 20 times slower.
  const stepTimeout = Number(process.env.STEP_TIMEOUT_MS || 300000);
  // Polled twice a second, not every animation frame: reading the terminal's buffer 60 times a
  // second costs an emulated Chromium the CPU the VMM needs to produce the text.
  const polled = { polling: 500 };
  page.setDefaultTimeout(stepTimeout);
  page.on("console", (m) => console.log("page console: " + m.text()));
  // Not "load": that waits for every stylesheet and for layout of the whole page, which in the
  // emulated host once took longer than 180 s while the page already worked. What the steps need
  // is the DOM and app.js (deferred, so it has run by DOMContentLoaded).
  await page.goto(base + "/ui/", { waitUntil: "domcontentloaded", timeout: 2 * stepTimeout });
  await page.waitForFunction(() => typeof window.terminalText === "function", null, polled);
  step("the page is loaded");
  const terminalText = () => page.evaluate(() => window.terminalText());
  const waitForTerminal = async (text) => {
    await page.waitForFunction((t) => window.terminalText().includes(t), text, polled);
  };
  const create = async (name, kernel) => {
    await page.fill("#create-form input[name=name]", name);
    await page.fill("#create-form input[name=kernel]", kernel);
    await page.click("#create-start");
  };

  await create("hello", helloElf);
  await waitForTerminal("hello from guest");
  step("the hello guest greeted in the terminal");

  await create("echo", echoElf);
  await page.waitForSelector("#selected-name:text-is('echo')");
  await waitForTerminal("echo ready");
  await page.locator(`#vm-rows tr[data-vm="echo"] td[data-field=state]:text-is("running")`).waitFor();
  await page.click("#terminal");
  await page.keyboard.type("abc");
  await waitForTerminal("abc");
  step("typed abc into the echo guest and saw it echoed");

  await page.click(`#vm-rows tr[data-vm="echo"] button[data-action=snapshot]`);
  step("asked for a snapshot");
  const snapshot = page.locator("#timeline li[data-snapshot]").first();
  await snapshot.waitFor();
  const id = await snapshot.getAttribute("data-snapshot");
  step("snapshot " + id + " is on the timeline");

  await page.click("#terminal");
  await page.keyboard.type("x"); // after the snapshot: gone again once it is restored
  await waitForTerminal("abcx");
  await snapshot.locator("button[data-action=restore]").click();
  step("asked to restore " + id);
  await page.waitForFunction(() => !window.terminalText().includes("abcx"), null, polled);
  await page.locator(`#vm-rows tr[data-vm="echo"] td[data-field=state]:text-is("running")`).waitFor();
  await page.click("#terminal");
  await page.keyboard.type("yz");
  await waitForTerminal("yz");
  step("restored from " + id + " and the guest echoes again");

  const status = await page.locator("#status").innerText();
  if (status.trim() !== "") throw new Error("the page shows an error: " + status);
  await page.screenshot({ path: screenshot, fullPage: true });
  step("screenshot " + screenshot);
  console.log("web-console: terminal now:\n" + (await terminalText()));
  console.log("web-console: ok");
} catch (e) {
  console.log("web-console: failed: " + e.message);
  if (page) {
    await page.screenshot({ path: screenshot.replace(/\.png$/, "-failed.png"), fullPage: true }).catch(() => {});
    console.log("web-console: page text:\n" + (await page.locator("body").innerText().catch(() => "?")));
  }
  process.exitCode = 1;
} finally {
  await browser.close();
}
