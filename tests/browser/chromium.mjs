// Runs a test page in Debian's headless Chromium through playwright-core (no browser download).
// Page protocol: the page logs with console.log and finally sets
// window.__hqqResult = {passed, failed, failures: [string]} (or window.__hqqError = string).
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
];

export async function launchChromium() {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

/**
 * Opens `url` in a fresh context of `browser`, echoes the page's console (prefixed) and returns
 * the result object the page publishes. Page errors, failed requests and HTTP errors count as
 * failures, except 404s and failed requests for URLs matching `allowMissing` (regexps the page
 * requests on purpose).
 */
export async function runPage(browser, url, { prefix = '[page]', timeout = 180_000, allowMissing = [] } = {}) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = [];
  page.on('console', (msg) => {
    const line = `${prefix} ${msg.text()}`;
    if (msg.type() === 'error') console.error(line);
    else console.log(line);
  });
  page.on('pageerror', (e) => problems.push(`uncaught page error: ${e.message}`));
  // A missing worker script fails as a request (not only as a 404 response): allowMissing covers both.
  page.on('requestfailed', (r) => {
    if (!allowMissing.some((re) => re.test(r.url()))) problems.push(`request failed: ${r.url()} (${r.failure()?.errorText})`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400 && !(r.status() === 404 && allowMissing.some((re) => re.test(r.url())))) problems.push(`HTTP ${r.status()} for ${r.url()}`);
  });
  try {
    await page.goto(url, { waitUntil: 'load', timeout: 30_000 });
    const handle = await page.waitForFunction(() => window.__hqqResult || window.__hqqError, null, { timeout, polling: 100 });
    const value = await handle.jsonValue();
    if (typeof value === 'string') return { passed: 0, failed: 1, failures: [`page error: ${value}`, ...problems] };
    if (problems.length) return { ...value, failed: value.failed + problems.length, failures: [...value.failures, ...problems] };
    return value;
  } catch (e) {
    return { passed: 0, failed: 1, failures: [`${url}: ${e.message.split('\n')[0]}`, ...problems] };
  } finally {
    await context.close();
  }
}
