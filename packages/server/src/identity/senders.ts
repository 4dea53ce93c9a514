/**
 * Verification-code senders (pluggable). The code and the identifier go to the sender only; they are
 * never logged by the server (the dev sender is the one exception, by design, and is for development).
 */
import type { SenderConfig } from '../config.ts';

export interface VerificationMessage {
  identifier: string;
  transport: 'email' | 'sms';
  code: string;
}

export interface CodeSender {
  send(msg: VerificationMessage): Promise<void>;
}

/** Development: keeps codes in memory for the dev-only outbox endpoint and prints them to stderr. */
export class DevSender implements CodeSender {
  readonly outbox = new Map<string, { code: string; sentAt: number }[]>();
  constructor(private readonly print = true) {}
  async send(msg: VerificationMessage): Promise<void> {
    const list = this.outbox.get(msg.identifier) ?? [];
    list.push({ code: msg.code, sentAt: Date.now() });
    if (list.length > 20) list.shift();
    this.outbox.set(msg.identifier, list);
    // Deliberately outside the structured log: a development aid, off for real senders.
    if (this.print)
      process.stderr.write(`[coffer dev sender] verification code for ${msg.identifier}: ${msg.code}\n`);
  }
}

export class SmtpSender implements CodeSender {
  #transport: Promise<{ sendMail(o: object): Promise<unknown> }>;
  constructor(private readonly cfg: { url: string; from: string }) {
    this.#transport = import('nodemailer').then((m) => m.default.createTransport(cfg.url));
  }
  async send(msg: VerificationMessage): Promise<void> {
    const t = await this.#transport;
    await t.sendMail({
      from: this.cfg.from,
      to: msg.identifier,
      subject: 'Your Coffer verification code',
      text: `Your Coffer verification code is ${msg.code}. It expires in 10 minutes.`,
    });
  }
}

/** HTTP webhook (e.g. an SMS gateway): POST {identifier, transport, code} as JSON. */
export class WebhookSender implements CodeSender {
  constructor(private readonly cfg: { url: string; headers?: Record<string, string> }) {}
  async send(msg: VerificationMessage): Promise<void> {
    const res = await fetch(this.cfg.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...this.cfg.headers },
      body: JSON.stringify(msg),
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) throw new Error(`webhook answered ${res.status}`);
  }
}

export function createSender(cfg: SenderConfig): CodeSender {
  switch (cfg.kind) {
    case 'dev':
      return new DevSender();
    case 'smtp':
      return new SmtpSender(cfg);
    case 'webhook':
      return new WebhookSender(cfg);
  }
}
