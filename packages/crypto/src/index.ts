export { CofferError, hasErrorCode } from './errors.ts';
