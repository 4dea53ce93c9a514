// Jazzer.js entry point: npx jazzer <bundle of this file> (see jazzer.soak.ts).
import { targets } from './targets.ts';

const target = targets.validator as (data: Buffer) => Promise<void> | void;
export function fuzz(data: Buffer): Promise<void> | void {
  return target(data);
}
