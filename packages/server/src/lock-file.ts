/**
 * One process per data folder (embedded mode): `<dataDir>/coffer.lock` holds the owner's pid. A lock
 * whose pid is no longer alive (the process was killed) is taken over, so a SIGKILLed server restarts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CofferError } from '@coffer/crypto';

export interface DataDirLock {
  release(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function lockDataDir(dataDir: string): DataDirLock {
  fs.mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, 'coffer.lock');
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx');
      fs.writeSync(fd, String(process.pid));
      fs.closeSync(fd);
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          try {
            if (fs.readFileSync(file, 'utf8') === String(process.pid)) fs.rmSync(file);
          } catch {}
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(fs.readFileSync(file, 'utf8'));
      // Our own pid counts too: a second server in this process must not share the folder either.
      if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
        throw new CofferError(
          'COFFER_ERR_DATA_DIR_LOCKED',
          'another coffer server is using this data folder; stop it or use --data',
          {
            details: { pid },
          },
        );
      }
      fs.rmSync(file, { force: true }); // stale: its owner is gone
    }
  }
  throw new CofferError('COFFER_ERR_DATA_DIR_LOCKED', 'could not take the data folder lock');
}
