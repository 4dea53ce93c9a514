// Shared by `coffer backup|restore|verify|status|demo`: the device profile folder (a reference chat
// store + a key store), output in --json / TTY / plain form, and progress rendering.
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { SqliteChatStore } from '@coffer/chatstore';
import { CofferClient, type ProgressEvent } from '@coffer/client';
import { FileKeyStore, nodePlatform } from '@coffer/client/node';
import type { Command } from 'commander';

export interface DeviceOptions {
  profile?: string;
  server?: string;
  passphrase?: string;
  json?: boolean;
}

export function addDeviceOptions(cmd: Command): Command {
  return cmd
    .option('--profile <dir>', 'device profile folder (env COFFER_PROFILE; default ~/.coffer/device)')
    .option('--server <url>', 'Coffer server URL (env COFFER_SERVER)')
    .option('--passphrase <text>', 'passphrase protecting the profile key store (env COFFER_PASSPHRASE)')
    .option('--json', 'print one JSON object with the result (for scripts)');
}

/** Identity verification options of the commands that may register the device first. */
export interface RegistrationOptions {
  identifier?: string;
  code?: string;
  devCode?: boolean;
}

export function addRegistrationOptions(cmd: Command, identifierHelp: string): Command {
  return cmd
    .option('--identifier <id>', identifierHelp)
    .option('--code <code>', 'the verification code (otherwise prompted on a terminal)')
    .option('--dev-code', 'read the verification code from a development server outbox');
}

export interface Device {
  dir: string;
  store: SqliteChatStore;
  client: CofferClient;
  close(): void;
}

export async function openDevice(o: DeviceOptions): Promise<Device> {
  const dir = o.profile ?? process.env.COFFER_PROFILE ?? join(homedir(), '.coffer', 'device');
  const store = await SqliteChatStore.open(join(dir, 'chats'));
  const passphrase = o.passphrase ?? process.env.COFFER_PASSPHRASE;
  const keyStore = new FileKeyStore(join(dir, 'keys'), passphrase === undefined ? {} : { passphrase });
  const server = o.server ?? process.env.COFFER_SERVER;
  const client = new CofferClient({
    store,
    keyStore,
    platform: nodePlatform(),
    ...(server ? { serverUrl: server } : {}),
  });
  return {
    dir,
    store,
    client,
    close() {
      client.stopSchedule();
      store.close();
    },
  };
}

export function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(bytes < 1e7 ? 2 : 1)} MB`;
}

/**
 * Progress output: a redrawn bar on a TTY (stderr), one plain line per phase change and every few
 * seconds otherwise, nothing with --json (stdout stays one JSON document).
 */
export function progressReporter(json: boolean | undefined, stream: NodeJS.WriteStream = process.stderr) {
  if (json) return { onProgress: (_e: ProgressEvent) => {}, done() {} };
  const tty = stream.isTTY === true;
  let lastPhase = '';
  let lastPlain = 0;
  let drawn = false;
  const describe = (e: ProgressEvent): string => {
    const parts: string[] = [];
    if (e.items !== undefined) parts.push(`${e.items}${e.totalItems ? `/${e.totalItems}` : ''} items`);
    if (e.bytes !== undefined) parts.push(`${mb(e.bytes)}${e.totalBytes ? ` of ${mb(e.totalBytes)}` : ''}`);
    if (e.phase === 'retry') parts.push(`retrying after ${e.code} in ${e.delayMs} ms`);
    return parts.join(', ');
  };
  const fraction = (e: ProgressEvent): number | undefined => {
    if (e.totalBytes && e.bytes !== undefined) return e.bytes / e.totalBytes;
    if (e.totalItems && e.items !== undefined) return e.items / e.totalItems;
    return undefined;
  };
  return {
    onProgress(e: ProgressEvent) {
      if (tty) {
        const f = fraction(e);
        const width = 28;
        const bar =
          f === undefined
            ? ''
            : `[${'#'.repeat(Math.round(f * width)).padEnd(width, '.')}] ${(f * 100).toFixed(0).padStart(3)}% `;
        if (e.phase !== lastPhase && drawn) stream.write('\n');
        stream.write(`\r\x1b[2K${e.phase.padEnd(13)} ${bar}${describe(e)}`);
        drawn = true;
        lastPhase = e.phase;
        return;
      }
      const now = Date.now();
      if (e.phase !== lastPhase || now - lastPlain > 2000) {
        stream.write(`${e.phase}: ${describe(e)}\n`);
        lastPhase = e.phase;
        lastPlain = now;
      }
    },
    done() {
      if (tty && drawn) stream.write('\n');
      drawn = false;
      lastPhase = '';
    },
  };
}

/** Prints the result: JSON on stdout with --json, else the human lines. */
export function output(json: boolean | undefined, value: unknown, human: string[]): void {
  process.stdout.write(json ? `${JSON.stringify(value)}\n` : `${human.join('\n')}\n`);
}

/** Runs a command body, printing Coffer errors as `error CODE: message` (or JSON) with exit code 1. */
export async function runAction(json: boolean | undefined, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    const e = err as { code?: unknown; message?: string };
    const code = typeof e.code === 'string' ? e.code : 'COFFER_ERR_UNEXPECTED';
    if (json) process.stdout.write(`${JSON.stringify({ error: { code, message: e.message } })}\n`);
    else process.stderr.write(`error ${code}: ${e.message}\n`);
    // 75 (EX_TEMPFAIL): a later run can succeed without the user changing anything.
    const temporary = [
      'COFFER_ERR_NETWORK',
      'COFFER_ERR_SERVER_UNAVAILABLE',
      'COFFER_ERR_SERVER_STORAGE_FULL',
    ];
    process.exitCode = temporary.includes(code) ? 75 : 1;
  }
}

/** A secret from an option, an environment variable, or a prompt on a terminal. */
export async function askSecret(
  value: string | undefined,
  env: string,
  prompt: string,
): Promise<string | undefined> {
  if (value) return value;
  if (process.env[env]) return process.env[env];
  if (!process.stdin.isTTY) return undefined;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await rl.question(prompt)).trim();
  } finally {
    rl.close();
  }
}

/**
 * Makes sure the device is registered with the server: with `--identifier`, runs identity
 * verification (code from --code, the dev outbox with --dev-code, or a prompt).
 */
export async function ensureRegistered(
  device: Device,
  o: RegistrationOptions & { server?: string },
): Promise<void> {
  const status = await device.client.status();
  if (status.registered && !o.identifier) return;
  if (!o.identifier) {
    throw Object.assign(
      new Error('This profile is not registered; pass --identifier (and --code or --dev-code).'),
      {
        code: 'COFFER_ERR_NOT_REGISTERED',
      },
    );
  }
  const server = o.server ?? process.env.COFFER_SERVER;
  if (o.devCode) {
    await device.client.registerWithDevOutbox(o.identifier, server);
    return;
  }
  const sessionId = await device.client.startVerification(o.identifier, server);
  const code = await askSecret(o.code, 'COFFER_CODE', `Verification code sent to ${o.identifier}: `);
  if (!code)
    throw Object.assign(new Error('A verification code is needed (--code).'), {
      code: 'COFFER_ERR_NOT_REGISTERED',
    });
  await device.client.completeVerification(sessionId, code);
}
