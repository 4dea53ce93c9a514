// The real code senders against real local endpoints: an HTTP webhook receiver and a minimal SMTP
// server on loopback (ports from the OS), driven through POST /v1/verification/sessions.
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SmtpSender, WebhookSender } from '../src/identity/senders.ts';
import { startTestServer, TestClient, type TestServer } from './helpers.ts';

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)),
  );
}

describe('verification code senders', () => {
  let ts: TestServer | undefined;
  const servers: net.Server[] = [];
  afterEach(async () => {
    await ts?.close();
    for (const s of servers.splice(0)) s.close();
  });

  it('webhook: POSTs {identifier, transport, code} as JSON; a failing hook is COFFER_ERR_SENDER_FAILED', async () => {
    const received: { identifier: string; transport: string; code: string }[] = [];
    let fail = false;
    const hook = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => {
        body += d;
      });
      req.on('end', () => {
        received.push(JSON.parse(body));
        res.statusCode = fail ? 500 : 204;
        res.end();
      });
    });
    servers.push(hook);
    const port = await listen(hook);
    ts = await startTestServer({}, { sender: new WebhookSender({ url: `http://127.0.0.1:${port}/sms` }) });
    const c = TestClient.forServer(ts);
    const s = await c.json({
      method: 'POST',
      url: '/v1/verification/sessions',
      payload: { identifier: '+15551234567' },
    });
    expect(s.status).toBe(200);
    expect(received[0]).toMatchObject({ identifier: '+15551234567', transport: 'sms' });
    expect(received[0]?.code).toMatch(/^[0-9]{6}$/);
    const v = await c.json({
      method: 'PUT',
      url: `/v1/verification/sessions/${s.body.sessionId}/code`,
      payload: { code: received[0]?.code },
    });
    expect(v.body).toEqual({ verified: true });
    fail = true;
    const f = await c.json({
      method: 'POST',
      url: '/v1/verification/sessions',
      payload: { identifier: '+15551234568' },
    });
    expect(f.body.error.code).toBe('COFFER_ERR_SENDER_FAILED');
  });

  it('smtp: sends the code by e-mail through nodemailer', async () => {
    const mails: string[] = [];
    const smtp = net.createServer((sock) => {
      let inData = false;
      let data = '';
      let buf = '';
      sock.write('220 localhost ESMTP test\r\n');
      sock.on('data', (chunk) => {
        buf += String(chunk);
        let i = buf.indexOf('\r\n');
        while (i >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (inData) {
            if (line === '.') {
              inData = false;
              mails.push(data);
              sock.write('250 OK queued\r\n');
            } else data += `${line}\n`;
          } else if (/^(EHLO|HELO)/i.test(line)) sock.write('250-localhost\r\n250 8BITMIME\r\n');
          else if (/^DATA/i.test(line)) {
            inData = true;
            data = '';
            sock.write('354 go ahead\r\n');
          } else if (/^QUIT/i.test(line)) sock.end('221 bye\r\n');
          else sock.write('250 OK\r\n');
          i = buf.indexOf('\r\n');
        }
      });
    });
    servers.push(smtp);
    const port = await listen(smtp);
    ts = await startTestServer(
      {},
      {
        sender: new SmtpSender({
          url: `smtp://127.0.0.1:${port}?ignoreTLS=true`,
          from: 'coffer@example.org',
        }),
      },
    );
    const c = TestClient.forServer(ts);
    const s = await c.json({
      method: 'POST',
      url: '/v1/verification/sessions',
      payload: { identifier: 'Mail@Example.org' },
    });
    expect(s.status).toBe(200);
    expect(mails).toHaveLength(1);
    expect(mails[0]).toContain('To: mail@example.org');
    const code = /verification code is ([0-9]{6})/.exec(mails[0] ?? '')?.[1];
    expect(code).toMatch(/^[0-9]{6}$/);
    const v = await c.json({
      method: 'PUT',
      url: `/v1/verification/sessions/${s.body.sessionId}/code`,
      payload: { code },
    });
    expect(v.body).toEqual({ verified: true });
  });
});
