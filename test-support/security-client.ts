/**
 * A protocol-level test client for a server in another process: the server test harness's
 * TestClient (verify, register, blind credentials, signed anonymous requests) over fetch, reading
 * verification codes from the dev outbox endpoint instead of an in-process sender.
 */
import { TestClient } from '../packages/server/test/helpers.ts';
import { fetchInject } from '../packages/server/test/socket-helpers.ts';

export class SocketClient extends TestClient {
  constructor(
    readonly base: string,
    identifier?: string,
    now: () => number = Date.now,
  ) {
    super(fetchInject(base), now, identifier);
  }

  override async verify(): Promise<string> {
    const s = await this.json({
      method: 'POST',
      url: '/v1/verification/sessions',
      payload: { identifier: this.identifier },
    });
    if (s.status !== 200) throw new Error(`session: ${s.status} ${JSON.stringify(s.body)}`);
    const o = await this.json({
      method: 'GET',
      url: `/v1/dev/outbox?identifier=${encodeURIComponent(this.identifier)}`,
    });
    const code = o.body?.messages?.at(-1)?.code as string;
    const v = await this.json({
      method: 'PUT',
      url: `/v1/verification/sessions/${s.body.sessionId}/code`,
      payload: { code },
    });
    if (v.status !== 200) throw new Error(`code: ${v.status} ${JSON.stringify(v.body)}`);
    return s.body.sessionId as string;
  }

  /** Moves the client to another base URL (a restarted server on a new port, or a proxy). */
  rebase(base: string): SocketClient {
    const c = new SocketClient(base, this.identifier, this.now);
    c.aci = this.aci;
    c.deviceToken = this.deviceToken;
    c.level = this.level;
    c.backupKey = this.backupKey;
    c.mediaRootKey = this.mediaRootKey;
    c.creds = this.creds;
    return c;
  }
}
