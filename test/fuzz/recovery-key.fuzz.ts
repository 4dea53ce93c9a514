// Jazzer.js entry point: npx jazzer <bundle of this file> (see jazzer.soak.ts).
import { type FuzzTarget, targets } from './targets.ts';

const target = targets['recovery-key'] as FuzzTarget;
export function fuzz(data: Buffer): Promise<void> | void {
  return target(data);
}
