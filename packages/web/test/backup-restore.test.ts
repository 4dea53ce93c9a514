import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundle, openProfile, type Profile, repoRoot, screenshotter, webRoot } from './browser.ts';
import { type RunningServer, startServer } from './server.ts';

/**
 * The seed story in a real browser: profile A registers, fills its history, opts in, saves the
 * key and backs up; profile B (a fresh user-data-dir: "a new phone") verifies the same identity,
 * is refused with a wrong key, restores with the right one and sees the same chats and a photo;
 * turning backups off deletes the server copy.
 */

const IDENTIFIER = 'alice@example.test';
let server: RunningServer;
const opened: Profile[] = [];
let shot: (page: Page, step: string) => Promise<void>;
const timings: Record<string, number> = {};

beforeAll(async () => {
  const dist = await buildBundle();
  server = await startServer({ webDist: dist, port: 28000 + Math.floor(Math.random() * 900) });
  shot = await screenshotter('backup-restore');
}, 180_000);

afterAll(async () => {
  console.log(`web timings (ms): ${JSON.stringify(timings)}`);
  for (const p of opened) await p.close().catch(() => undefined);
  await server?.close();
});

async function profile(name: string): Promise<Profile> {
  const p = await openProfile(name);
  opened.push(p);
  return p;
}

/** Verification with the code read from the server's development outbox, as the UI shows it. */
async function verifyIdentity(page: Page, step: string): Promise<void> {
  await page.getByLabel('Phone number or e-mail').fill(IDENTIFIER);
  await page.getByRole('button', { name: 'Send code' }).click();
  await expect.poll(() => page.getByTestId('dev-code').textContent(), { timeout: 30_000 }).toMatch(/^\d{6}$/);
  await expect(await page.getByText('Development', { exact: true }).isVisible()).toBe(true);
  await shot(page, step);
  await page.getByRole('button', { name: 'Use this code' }).click();
  await page.getByRole('button', { name: 'Verify' }).click();
}

/** Waits for `target`; if the page shows an error (role=alert) first, fails with its text. */
async function waitOrAlert(page: Page, target: Locator, timeout = 120_000): Promise<void> {
  const alert = page.locator('[role=alert]:not(:empty)');
  await target.or(alert).first().waitFor({ timeout });
  if (!(await target.first().isVisible()))
    throw new Error(`the app reported: ${await alert.first().textContent()}`);
}

/** Every form control on the screen has a label and every button a name (screen readers, voice control). */
async function expectLabelled(page: Page): Promise<void> {
  const unlabelled = await page.evaluate(() =>
    [...document.querySelectorAll('input, textarea, select, button')]
      .filter((el) => {
        const named = el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
        if (el instanceof HTMLButtonElement) return !(named || el.textContent?.trim());
        return !(named || (el as HTMLInputElement).labels?.length);
      })
      .map((el) => el.outerHTML.slice(0, 80)),
  );
  expect(unlabelled).toEqual([]);
}

async function chatNames(page: Page): Promise<string[]> {
  await page.getByRole('list', { name: 'Chats' }).waitFor();
  return page.locator('.chat-name').allTextContents();
}

async function openBackups(page: Page): Promise<void> {
  await page.getByRole('link', { name: 'Settings' }).click();
  await page.getByRole('link', { name: 'Chats' }).click();
  await page.getByRole('link', { name: 'Chat backups' }).click();
  await page.getByRole('heading', { name: 'What is backed up' }).waitFor();
}

function expectOnlyOwnOrigin(p: Profile): void {
  const foreign = p.requests.filter(
    (u) => !u.startsWith(server.url) && !u.startsWith('blob:') && !u.startsWith('data:'),
  );
  expect(foreign, 'the app must make no external network requests').toEqual([]);
}

describe('web app: back up in one browser profile, restore in another', () => {
  let recoveryKey = '';
  let namesA: string[] = [];
  let rowsA: string[] = [];

  it('profile A registers, seeds a history, opts in, confirms the key and backs up', async () => {
    const a = await profile('a');
    const page = a.page;
    await page.goto(server.url);
    await page.getByRole('heading', { name: 'Coffer Messenger' }).waitFor();
    await shot(page, 'a-welcome');
    // Keyboard only: Tab reaches the first action with a visible focus ring, Enter activates it.
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      return { text: el?.textContent, outline: el ? getComputedStyle(el).outlineStyle : 'none' };
    });
    expect(focused.text).toBe('Create account');
    expect(focused.outline).not.toBe('none');
    await page.keyboard.press('Enter');
    await page.getByLabel('Phone number or e-mail').waitFor();
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('identifier');
    await expectLabelled(page);
    await verifyIdentity(page, 'a-verification-code');

    const seeded = Date.now();
    await page.getByRole('button', { name: 'Generate sample history' }).click();
    namesA = await chatNames(page);
    timings.seedMs = Date.now() - seeded;
    expect(namesA.length).toBeGreaterThanOrEqual(8);
    await shot(page, 'a-chats');

    // Send a message: stored locally, then carried by the backup.
    await page.locator('.chat-row').first().click();
    await page.getByRole('img').first().waitFor();
    await page.getByRole('textbox', { name: 'Message' }).fill('See you on the new phone');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.getByText('See you on the new phone').waitFor();
    await expectLabelled(page);
    await shot(page, 'a-conversation');
    await page.getByRole('button', { name: 'Back' }).click();
    await chatNames(page);
    // Each chat's name, last message and time, as the list shows them: B must show the same.
    rowsA = await page.locator('.chat-row').allTextContents();
    expect(rowsA[0]).toContain('See you on the new phone');

    await openBackups(page);
    await shot(page, 'a-backups-off');
    const enabling = Date.now();
    await page.getByRole('button', { name: 'Turn on backups' }).click();
    await waitOrAlert(page, page.getByTestId('recovery-key'));
    timings.enableMs = Date.now() - enabling;
    const groups = await page.getByTestId('recovery-key').locator('span').allTextContents();
    expect(groups).toHaveLength(16);
    expect(groups.every((g) => /^[0-9A-Z]{4}$/.test(g))).toBe(true);
    recoveryKey = groups.join('');
    await shot(page, 'a-recovery-key');
    await a.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    await page.getByRole('button', { name: 'Copy' }).click();
    await page.getByText('Recovery key copied.', { exact: false }).waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(groups.join(' '));

    await page.getByRole('button', { name: 'I wrote it down' }).click();
    // A typo is caught before the key is accepted as written down.
    const typo = `${recoveryKey.slice(0, 10)}${recoveryKey[10] === 'A' ? 'B' : 'A'}${recoveryKey.slice(11)}`;
    await page.getByLabel('Recovery key', { exact: true }).fill(typo);
    await page.getByRole('button', { name: 'Confirm' }).click();
    await expect
      .poll(() => page.getByRole('alert').first().textContent(), { timeout: 30_000 })
      .toMatch(/does not match/);
    // Lower case with dashes is the same key (spec 1: any case, spaces or dashes).
    await page.getByLabel('Recovery key', { exact: true }).fill(groups.join('-').toLowerCase());
    await page.getByRole('button', { name: 'Confirm' }).click();
    await waitOrAlert(page, page.getByRole('button', { name: 'Back up now' }));

    let t0 = Date.now();
    await page.getByRole('button', { name: 'Back up now' }).click();
    await page.getByRole('progressbar', { name: 'Backup progress' }).waitFor();
    await shot(page, 'a-backing-up');
    await waitOrAlert(page, page.getByText('Backup complete.'));
    timings.backupMs = Date.now() - t0;
    expect(await page.getByTestId('last-backup').textContent()).not.toBe('Never');
    expect(await page.getByTestId('media-count').textContent()).toMatch(/^[1-9]\d* files/);
    await expectLabelled(page);
    await shot(page, 'a-backed-up');

    t0 = Date.now();
    await page.getByRole('button', { name: 'Verify backup' }).click();
    await waitOrAlert(page, page.getByText('Your backup is restorable.'));
    timings.verifyMs = Date.now() - t0;
    expect(await page.getByTestId('last-verified').textContent()).not.toBe('Never');
    await shot(page, 'a-verified');

    await page.getByLabel('Back up daily at').fill('21:30');
    await waitOrAlert(page, page.getByText('Daily backup at 21:30.'));

    // 15 days later the app asks whether the key is still at hand (spec 8: first reminder after
    // 14 days); re-typing it clears the reminder.
    await page.clock.setFixedTime(Date.now() + 15 * 86_400_000);
    await page.goto(server.url);
    const banner = page.getByRole('region', { name: 'Recovery key reminder' });
    await banner.waitFor();
    await shot(page, 'a-key-reminder');
    await banner.getByRole('button', { name: 'Check my key' }).click();
    await banner.getByLabel('Recovery key').fill(recoveryKey.toLowerCase());
    await banner.getByRole('button', { name: 'Check key' }).click();
    await banner.waitFor({ state: 'detached' });
    expectOnlyOwnOrigin(a);
    expect(a.problems).toEqual([]);
  }, 240_000);

  it('profile B verifies identity, refuses a wrong key, restores with the right one', async () => {
    expect(recoveryKey).toMatch(/^[0-9A-Z]{64}$/);
    const b = await profile('b');
    const page = b.page;
    await page.goto(server.url);
    await page.getByRole('button', { name: 'Restore from backup' }).click();
    await verifyIdentity(page, 'b-verification-code');
    const keyBox = page.getByLabel('Recovery key', { exact: true });
    await keyBox.waitFor();

    // Mistyped: one character short.
    await keyBox.fill(recoveryKey.slice(0, 63));
    await page.getByRole('button', { name: 'Restore' }).click();
    await expect.poll(() => page.getByRole('alert').textContent(), { timeout: 30_000 }).toMatch(/64/);
    await expectLabelled(page);
    await shot(page, 'b-mistyped-key');

    // Well-formed but another key: refused, and nothing is imported.
    const alphabet = '0123456789abcdefghijklmnopqrstuvwxyz';
    const wrong = Array.from(randomBytes(64), (x) => alphabet[x % 36]).join('');
    await keyBox.fill(wrong);
    await page.getByRole('button', { name: 'Restore' }).click();
    await expect
      .poll(() => page.getByRole('alert').textContent(), { timeout: 60_000 })
      .toMatch(/recovery key/i);
    await shot(page, 'b-wrong-key');

    await keyBox.fill(recoveryKey.match(/.{4}/g)!.join(' '));
    // Record every state of the restore progress bar: it may be on screen only briefly.
    await page.evaluate(() => {
      const w = window as unknown as { restoreProgress: string[] };
      w.restoreProgress = [];
      new MutationObserver(() => {
        const bar = document.querySelector('progress[aria-label="Restore progress"]');
        const text = bar?.parentElement?.querySelector('.progress-text')?.textContent;
        if (text && w.restoreProgress.at(-1) !== text) w.restoreProgress.push(text);
      }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    });
    await page.getByRole('button', { name: 'Restore' }).click();
    const restoreStart = Date.now();
    await page.locator('[role=alert]:not(:empty)').waitFor({ state: 'detached' });
    await waitOrAlert(page, page.getByRole('button', { name: 'Open chats' }));
    timings.restoreMs = Date.now() - restoreStart;
    const progressShown = await page.evaluate(
      () => (window as unknown as { restoreProgress: string[] }).restoreProgress,
    );
    expect(progressShown.length, 'the restore showed no progress bar').toBeGreaterThan(0);
    expect(await page.getByRole('status').first().textContent()).toContain(`Restored ${namesA.length} chats`);
    await shot(page, 'b-restored');
    await page.getByRole('button', { name: 'Open chats' }).click();

    expect((await chatNames(page)).sort()).toEqual([...namesA].sort());
    expect(await page.locator('.chat-row').allTextContents()).toEqual(rowsA);
    await shot(page, 'b-chats');
    await page.locator('.chat-row').first().click();
    await page.getByText('See you on the new phone').waitFor();
    // Media arrives in the background: wait for a decoded photo.
    const img = page.locator('img.media').first();
    await img.waitFor({ timeout: 120_000 });
    timings.firstPhotoAfterRestoreMs = Date.now() - restoreStart;
    await expect
      .poll(
        () =>
          img.evaluate((el) => (el as HTMLImageElement).complete && (el as HTMLImageElement).naturalWidth),
        { timeout: 30_000 },
      )
      .toBeGreaterThan(0);
    await shot(page, 'b-conversation-with-photo');
    expectOnlyOwnOrigin(b);
    expect(b.problems).toEqual([]);
  }, 240_000);

  it('a restore of a damaged backup is refused and leaves the chats exactly as they were', async () => {
    const page = opened[1]!.page;
    await page.getByRole('button', { name: 'Back' }).click();
    expect(await chatNames(page)).toHaveLength(namesA.length);
    const before = await page.locator('.chat-row').allTextContents();
    expect(await server.damageMessagesBackups()).toBeGreaterThan(0);
    await page.goto(`${server.url}#/restore/key`);
    await page.getByLabel('Recovery key', { exact: true }).fill(recoveryKey);
    await page.getByRole('button', { name: 'Restore' }).click();
    await expect.poll(() => page.getByRole('alert').textContent(), { timeout: 60_000 }).toMatch(/damaged/);
    await shot(page, 'b-damaged-backup-refused');
    await page.getByRole('button', { name: 'Skip and start without history' }).click();
    expect(await chatNames(page)).toHaveLength(namesA.length);
    expect(await page.locator('.chat-row').allTextContents()).toEqual(before);
  }, 120_000);

  it('turning backups off deletes the copy on the server', async () => {
    const b = opened[1]!;
    const page = b.page;
    await openBackups(page);
    const before = await server.stored();
    expect(before.versions).toBeGreaterThan(0);
    expect(before.blobs).toBeGreaterThan(1); // the messages backup and media files
    await page.getByRole('button', { name: 'Turn off and delete backup' }).click();
    await shot(page, 'b-confirm-turn-off');
    await page.getByRole('button', { name: 'Delete backup' }).click();
    await page
      .getByText('Backups are off and your backup was deleted from the server.')
      .waitFor({ timeout: 60_000 });
    await page.getByRole('button', { name: 'Turn on backups' }).waitFor();
    await shot(page, 'b-backups-off');
    const after = await server.stored();
    expect(after.versions).toBe(0);
    expect(after.blobs).toBe(0);
  }, 120_000);

  it('`coffer serve`, as `npm start` runs it, finds the built app in packages/web/dist and serves it at /', async () => {
    const dist = join(webRoot, 'dist');
    const dataDir = mkdtempSync(join(tmpdir(), 'coffer-web-serve-'));
    const port = 28900 + Math.floor(Math.random() * 90);
    const child = spawn(
      process.execPath,
      [join(repoRoot, 'packages/cli/bin/coffer.js'), 'serve', '--data', dataDir, '--port', String(port)],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, COFFER_LOG_LEVEL: 'error' } },
    );
    try {
      const base = `http://127.0.0.1:${port}`;
      let index: Response | undefined;
      for (let i = 0; i < 300 && !index; i++) {
        index = await fetch(`${base}/`).catch(() => undefined);
        if (!index) await new Promise((r) => setTimeout(r, 100));
      }
      expect(index?.status).toBe(200);
      expect(index?.headers.get('content-type')).toMatch(/^text\/html/);
      const html = await (index as Response).text();
      expect(html).toBe(readFileSync(join(dist, 'index.html'), 'utf8'));
      // its script, and a client-side route (falls back to the app), and the API beside it
      const script = /<script[^>]+src="([^"]+)"/.exec(html)?.[1];
      expect(script).toMatch(/^\.?\/assets\/.+\.js$/); // relative: the app works under any path
      const js = await fetch(new URL(script as string, `${base}/`));
      expect(js.status).toBe(200);
      expect(Buffer.from(await js.arrayBuffer()).equals(readFileSync(join(dist, script as string)))).toBe(
        true,
      );
      expect(await (await fetch(`${base}/settings/chats`)).text()).toBe(html);
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
