/**
 * The playground and /docs in a real browser (Debian's chromium, driven by playwright-core) against
 * a real local server. Every request to anything but 127.0.0.1 is refused and recorded: the page
 * and the reference must work offline. Screenshots land in test-results/playground/.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RuntimeInfo } from '../../functions/contract.js';
import type { RunningServer } from '../../functions/api/server.js';
import { RUNTIMES } from '../../playground/src/catalog.js';
import { ROOT, startTestServer } from '../api/helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.join(ROOT, 'test-results/playground');

interface Watched {
  page: Page;
  /** Console errors and uncaught exceptions. */
  errors: string[];
  /** Requests that failed or answered 4xx/5xx. */
  failed: string[];
}

describe('playground (chromium, installed by the test set-up)', () => {
  let browser: Browser;
  let server: RunningServer;
  let context: BrowserContext;
  let main: Watched;
  /** Requests to anything but this machine, refused. */
  const offsite: string[] = [];

  async function newContext(options: { viewport?: { width: number; height: number }; isMobile?: boolean } = {}): Promise<BrowserContext> {
    const ctx = await browser.newContext({ viewport: options.viewport ?? { width: 1280, height: 860 }, ...(options.isMobile ? { isMobile: true, hasTouch: true } : {}) });
    await ctx.route('**/*', (route) => {
      const url = route.request().url();
      if (new URL(url).hostname === '127.0.0.1') return route.continue();
      offsite.push(url);
      return route.abort();
    });
    return ctx;
  }

  async function open(ctx: BrowserContext, url: string): Promise<Watched> {
    const page = await ctx.newPage();
    const watched: Watched = { page, errors: [], failed: [] };
    page.on('console', (message) => {
      if (message.type() === 'error') watched.errors.push(message.text());
    });
    page.on('pageerror', (error) => watched.errors.push(error.message));
    page.on('requestfailed', (request) => watched.failed.push(`${request.url()}: ${request.failure()?.errorText}`));
    page.on('response', (response) => {
      if (response.status() >= 400) watched.failed.push(`${response.url()}: ${response.status()}`);
    });
    await page.goto(url);
    return watched;
  }

  /** Waits for the runtime list from the server (options carry versions then). */
  async function ready(page: Page): Promise<void> {
    await page.locator('#runtime option', { hasText: /\d/ }).first().waitFor({ state: 'attached' });
    await page.locator('.cm-content').waitFor();
  }

  async function setCode(page: Page, code: string): Promise<void> {
    await page.locator('.cm-content').click();
    await page.keyboard.press('Control+A');
    await page.keyboard.insertText(code);
    await expect.poll(() => editorText(page)).toBe(code);
  }

  const editorText = (page: Page) => page.locator('.cm-content').evaluate((el) => Array.from(el.querySelectorAll('.cm-line'), (l) => l.textContent).join('\n'));

  /** Runs (the button, or Ctrl+Enter) and waits for the result. */
  async function run(page: Page, how: 'button' | 'keyboard' = 'button'): Promise<{ status: string; stdout: string; stderr: string }> {
    if (how === 'button') await page.click('#run');
    else await page.keyboard.press('Control+Enter');
    await page.locator('#status:not([data-kind="running"])').waitFor({ timeout: 90_000 });
    return {
      status: (await page.textContent('#status')) ?? '',
      stdout: (await page.textContent('#stdout')) ?? '',
      stderr: (await page.textContent('#stderr')) ?? '',
    };
  }

  async function runtimesAvailable(url: string, headers: Record<string, string> = {}): Promise<RuntimeInfo[]> {
    const res = await fetch(`${url}/v1/runtimes`, { headers });
    return ((await res.json()) as { runtimes: RuntimeInfo[] }).runtimes.filter((r) => r.available);
  }

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const { chromium } = await import('playwright-core');
    server = await startTestServer();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    context = await newContext();
    main = await open(context, `${server.url}/`);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('loads from this server alone, without failed requests or console errors', async () => {
    const { page } = main;
    await ready(page);
    await page.waitForLoadState('networkidle');
    // The entry file's language was fetched and highlights the code.
    await page.locator('.cm-line span').first().waitFor();
    expect(await page.inputValue('#runtime')).toBe('python');
    expect(await page.locator('#examples button').allTextContents()).toEqual([
      'Python sum',
      'NumPy',
      'Node.js',
      'Go',
      'Rust',
      'Multiple files',
      'stdin',
      'Timeout',
      'Error handling',
    ]);
    expect(main.errors).toEqual([]);
    expect(main.failed).toEqual([]);
    expect(offsite).toEqual([]);
  });

  it('runs hello world in every runtime the server has', { timeout: 300_000 }, async () => {
    const { page } = main;
    const available = await runtimesAvailable(server.url);
    expect(available.length).toBeGreaterThan(0);
    for (const info of available) {
      const entry = RUNTIMES.find((r) => r.id === info.runtime)!;
      await page.selectOption('#runtime', info.runtime);
      await setCode(page, entry.hello);
      expect(await page.locator('[role="tab"][aria-selected="true"]').textContent()).toContain(info.entrypoint);
      const result = await run(page);
      expect({ runtime: info.runtime, stdout: result.stdout, status: result.status }).toEqual({
        runtime: info.runtime,
        stdout: 'Hello, World!\n',
        status: expect.stringMatching(/^Finished: exit code 0/),
      });
      expect(await page.textContent('#facts')).toContain(`${info.runtime} ${info.version}`);
    }
    await page.screenshot({ path: path.join(ARTIFACTS, 'desktop-run.png'), fullPage: true });
  });

  it('loads a product example in one click and passes stdin (Ctrl+Enter runs)', async () => {
    const { page } = main;
    await page.getByRole('button', { name: 'stdin', exact: true }).click();
    expect(await page.inputValue('#runtime')).toBe('python');
    expect(await page.inputValue('#stdin')).toBe('Alice\n');
    expect(await run(page)).toMatchObject({ stdout: "What's your name? Hello, Alice!\n" });
    await page.fill('#stdin', 'Bob\n');
    await page.locator('.cm-content').click();
    expect(await run(page, 'keyboard')).toMatchObject({ stdout: "What's your name? Hello, Bob!\n" });
  });

  it('shows a compile error with the compiler output', async () => {
    const { page } = main;
    const ids = (await runtimesAvailable(server.url)).map((r) => r.runtime);
    const runtime = ids.includes('go') ? 'go' : ids.includes('c') ? 'c' : null;
    if (!runtime) return;
    await page.selectOption('#runtime', runtime);
    await setCode(page, runtime === 'go' ? 'package main\n\nfunc main() {\n\tx := 1\n}\n' : 'int main(void) {\n    return missing;\n}\n');
    const result = await run(page);
    expect(result.status).toMatch(/^Compile error/);
    expect(result.stderr).toMatch(runtime === 'go' ? /declared and not used/ : /missing/);
    expect(await page.isVisible('#compile-box')).toBe(true);
    expect(await page.textContent('#compile-summary')).toMatch(/Compile failed/);
  });

  it('stops a program at the timeout', async () => {
    const { page } = main;
    await page.selectOption('#runtime', 'python');
    await setCode(page, 'import time\ntime.sleep(10)\n');
    await page.fill('#timeout', '500');
    const result = await run(page);
    expect(result.status).toMatch(/^Timed out/);
    expect(await page.textContent('#facts')).toContain('timeout');
    await page.fill('#timeout', '');
  });

  it('shows output live, before the program ends', async () => {
    const { page } = main;
    await page.selectOption('#runtime', 'python');
    await setCode(page, 'import time\nprint("first line")\ntime.sleep(1.5)\nprint("second line")\n');
    await page.click('#run');
    await page.locator('#stdout', { hasText: 'first line' }).waitFor({ timeout: 20_000 });
    expect(await page.getAttribute('#status', 'data-kind')).toBe('running');
    expect(await page.textContent('#status')).toMatch(/Running/);
    expect(await page.textContent('#stdout')).not.toContain('second line');
    await page.locator('#status:not([data-kind="running"])').waitFor();
    expect(await page.textContent('#stdout')).toBe('first line\nsecond line\n');
  });

  it('restores the program from a share link in a new page', async () => {
    const { page } = main;
    await page.selectOption('#runtime', 'node');
    await setCode(page, 'console.log(require("./lib.js"), "shared-marker");\n');
    await page.click('#add-file');
    await page.fill('#file-input', 'lib.js');
    await page.click('#file-dialog button[value="save"]');
    await expect.poll(() => page.locator('[role="tab"][aria-selected="true"]').textContent()).toBe('lib.js');
    await setCode(page, 'module.exports = 42;\n');
    await page.fill('#stdin', 'shared stdin');
    await page.click('#share');
    const link = await page.inputValue('#share-url');
    expect(link).toMatch(/#program=[A-Za-z0-9_-]+$/);

    const other = await open(context, link);
    await ready(other.page);
    expect(await other.page.inputValue('#runtime')).toBe('node');
    expect(await other.page.locator('[role="tab"]').allTextContents()).toEqual(['main.js (entry)', 'lib.js']);
    expect(await editorText(other.page)).toContain('shared-marker');
    expect(await other.page.inputValue('#stdin')).toBe('shared stdin');
    // The tabs follow the keyboard: arrow keys move between files.
    await other.page.locator('[role="tab"]').first().focus();
    await other.page.keyboard.press('ArrowRight');
    expect(await other.page.locator('[role="tab"][aria-selected="true"]').textContent()).toBe('lib.js');
    expect(await editorText(other.page)).toBe('module.exports = 42;\n');
    expect(await run(other.page)).toMatchObject({ stdout: '42 shared-marker\n' });
    expect(other.errors).toEqual([]);
    await other.page.close();
  });

  it('fits a phone-width screen', async () => {
    const phone = await newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
    const { page, errors } = await open(phone, `${server.url}/`);
    await ready(page);
    await page.selectOption('#runtime', 'python');
    await setCode(page, 'print("Hello, World!")\n');
    expect(await run(page)).toMatchObject({ stdout: 'Hello, World!\n' });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.screenshot({ path: path.join(ARTIFACTS, 'phone-run.png'), fullPage: true });
    expect(errors).toEqual([]);
    await phone.close();
  });

  it('asks for the API key when the server requires one, and keeps it', async () => {
    const secured = await startTestServer({ apiKeys: ['k1'] });
    const ctx = await newContext();
    try {
      const { page } = await open(ctx, `${secured.url}/`);
      await page.locator('#key-button').waitFor();
      await setCode(page, 'print("Hello, World!")\n');
      await page.click('#run');
      await page.locator('#key-dialog[open]').waitFor();
      await page.screenshot({ path: path.join(ARTIFACTS, 'desktop-key-prompt.png') });
      await page.fill('#key-input', 'k1');
      await page.click('#key-dialog button[value="save"]');
      await page.locator('#stdout', { hasText: 'Hello, World!' }).waitFor({ timeout: 30_000 });
      await page.locator('#status[data-kind="ok"]').waitFor();
      expect(await page.evaluate(() => localStorage.getItem('runtools.apiKey'))).toBe('k1');
      // The runtime list came once the key was there.
      await page.locator('#runtime option', { hasText: /\d/ }).first().waitFor({ state: 'attached' });
    } finally {
      await ctx.close();
      await secured.close();
    }
  });

  it('serves /docs from this server: the operations render', async () => {
    const { page, errors, failed } = await open(context, `${server.url}/docs`);
    await page.getByText('/v1/execute').first().waitFor({ timeout: 30_000 });
    await page.getByText('Run code').first().waitFor();
    await page.waitForLoadState('networkidle');
    await page.screenshot({ path: path.join(ARTIFACTS, 'docs.png') });
    expect(failed).toEqual([]);
    expect(errors).toEqual([]);
    expect(offsite).toEqual([]);
  });

  it('asked nothing of any other host', async () => {
    expect(main.errors).toEqual([]);
    expect(offsite).toEqual([]);
  });
});
