import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { build } from 'vite';

export const webRoot = new URL('..', import.meta.url).pathname;
export const repoRoot = new URL('../../..', import.meta.url).pathname;

/** Chromium from COFFER_TEST_CHROMIUM or Debian's package (INFRA-NOTES "Chromium for browser tests"). */
export function chromiumPath(): string {
  const path = process.env.COFFER_TEST_CHROMIUM || '/usr/bin/chromium';
  if (!existsSync(path)) {
    // No skipping: a browser test that cannot run is a failure, in CI and locally alike.
    throw new Error(
      `Chromium not found at ${path}. Install it (apt-get install -y chromium) or set COFFER_TEST_CHROMIUM.`,
    );
  }
  return path;
}

/** Builds packages/web/dist once, the same way `npm run build` does. */
export async function buildBundle(): Promise<string> {
  await build({ configFile: join(webRoot, 'vite.config.ts'), logLevel: 'warn' });
  return join(webRoot, 'dist');
}

export interface Profile {
  context: BrowserContext;
  page: Page;
  /** Every URL the page requested (to prove there are no external requests). */
  requests: string[];
  /** Uncaught page errors, console errors and failed loads of the app's own files. */
  problems: string[];
  close(): Promise<void>;
}

/** A fresh browser profile (its own --user-data-dir), phone-sized. */
export async function openProfile(name: string): Promise<Profile> {
  const dir = await mkdtemp(join(tmpdir(), `coffer-web-${name}-`));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: chromiumPath(),
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 1,
    isMobile: false,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const requests: string[] = [];
  const problems: string[] = [];
  context.on('request', (req) => requests.push(req.url()));
  page.on('console', (msg) => {
    // API refusals (a wrong key is a 4xx by design) are logged by Chromium as failed loads;
    // failed loads of the app's own files are caught below instead.
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) {
      problems.push(`console: ${msg.text()}`);
    }
  });
  context.on('response', (res) => {
    if (res.status() >= 400 && !new URL(res.url()).pathname.startsWith('/v1/')) {
      problems.push(`HTTP ${res.status()} for ${res.url()}`);
    }
  });
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  return {
    context,
    page,
    requests,
    problems,
    close: async () => {
      await context.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Numbered screenshots in test-output/web/<folder>/. Each step is also checked to fit the phone-sized
 * viewport (390 px): nothing on the screen may need sideways scrolling.
 */
export async function screenshotter(folder: string): Promise<(page: Page, step: string) => Promise<void>> {
  const dir = join(repoRoot, 'test-output', 'web', folder);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  let n = 0;
  return async (page, step) => {
    n += 1;
    await page.screenshot({ path: join(dir, `${String(n).padStart(2, '0')}-${step}.png`), fullPage: false });
    const { scrollWidth, innerWidth } = await page.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth,
      innerWidth: window.innerWidth,
    }));
    if (scrollWidth > innerWidth)
      throw new Error(`step ${step}: the page is ${scrollWidth} px wide in a ${innerWidth} px viewport`);
  };
}
