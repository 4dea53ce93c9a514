// @coffer/chatstore/browser: the browser-safe half of this package (no SQLite, no Node imports):
// the store model, its lossless mapping to and from Backup frames, and the sample-history
// generator. The web app's IndexedDB store builds on it. (Added by the web engineer.)
export {
  accountFrame,
  chatFrame,
  chatItemFrame,
  type ImportedRow,
  recipientFrame,
  rowFromFrame,
  stickerPackFrame,
} from './frames.ts';
export { type GenerateOptions, type GenerateSummary, generateHistory, type HistorySink } from './generate.ts';
export type {
  AccountModel,
  AccountSettingsModel,
  AttachmentModel,
  ChatModel,
  MediaRef,
  MessageModel,
  ReactionModel,
  RecipientModel,
  RevisionModel,
  StickerPackModel,
  StoreCounts,
} from './model.ts';
export { SeededRandom } from './rng.ts';
