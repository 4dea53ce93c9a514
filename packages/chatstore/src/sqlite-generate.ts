import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { type GenerateOptions, type GenerateSummary, generateHistory } from './generate.ts';
import type { SqliteChatStore } from './sqlite-chat-store.ts';
import { SqliteWriter } from './sqlite-writer.ts';

const BATCH = 50_000;

/**
 * Fills a (normally empty) store with a generated history. Rows go in through prepared statements
 * in transactions of 50,000 rows: that is what lets a million messages generate in seconds.
 */
export async function generateIntoStore(
  store: SqliteChatStore,
  opts: Omit<GenerateOptions, 'sha256'>,
): Promise<GenerateSummary> {
  const w = new SqliteWriter(store.db);
  let n = 0;
  const tick = (): void => {
    if (++n % BATCH === 0) {
      w.commit();
      w.begin();
    }
  };
  w.begin();
  try {
    const summary = await generateHistory(
      { ...opts, sha256: (b) => createHash('sha256').update(b).digest() },
      {
        setAccount: (a) => w.setAccount(a),
        addRecipient: (r) => {
          w.addRecipient(r);
          tick();
        },
        addChat: (c) => w.addChat(c),
        addStickerPack: (p) => w.addStickerPack(p),
        addMedia: (hash, bytes, thumb) => {
          writeFileSync(store.mediaPath(hash), bytes);
          if (thumb) writeFileSync(store.mediaPath(hash, true), thumb);
        },
        addMessage: (m) => {
          w.addMessage(m);
          tick();
        },
      },
    );
    w.commit();
    return summary;
  } catch (err) {
    if (store.db.inTransaction) store.db.exec('ROLLBACK');
    throw err;
  }
}
