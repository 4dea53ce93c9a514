/** Progress of a long operation. `bytes`/`totalBytes` for transfers, `items` for frames or files. */
export interface ProgressEvent {
  phase: 'export' | 'upload' | 'media' | 'download' | 'verify' | 'import' | 'media-restore' | 'retry';
  bytes?: number;
  totalBytes?: number;
  items?: number;
  totalItems?: number;
  /** For 'retry': the error code that will be retried and the delay. */
  code?: string;
  delayMs?: number;
}

export type ProgressListener = (e: ProgressEvent) => void;
