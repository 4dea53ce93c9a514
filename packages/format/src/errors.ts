/** Every error code @coffer/format's codec layer throws (code -> one-line description). */
export const ERROR_CODES: Record<string, string> = {
  COFFER_ERR_FRAME_TOO_LARGE:
    'A length prefix announces a frame larger than the allowed maximum (checked before buffering).',
  COFFER_ERR_FRAME_TRUNCATED: 'The backup ends inside a length prefix or inside a frame.',
  COFFER_ERR_FRAME_VARINT: 'A length prefix is not a valid 32-bit protobuf varint.',
  COFFER_ERR_FRAME_DECODE:
    'A frame (or the BackupInfo) is not a valid protobuf message of the expected type.',
  COFFER_ERR_BACKUP_NO_INFO: 'The backup is empty: it has no BackupInfo message.',
  COFFER_ERR_FRAME_ENCODE: 'A frame could not be encoded (a value is out of range for its protobuf type).',
  COFFER_ERR_JSON_SYNTAX: 'The .jsonproto file is not valid JSON5.',
  COFFER_ERR_JSON_UNKNOWN_FIELDS:
    'The backup has fields this version does not know; proto3 JSON cannot carry them.',
  COFFER_ERR_JSON_SHAPE:
    'The .jsonproto file is not an array [BackupInfo, Frame, ...] in the proto3 JSON mapping.',
  COFFER_ERR_BACKUP_INVALID:
    'The backup breaks a rule of the backup format (details.rule names it, details.reason says how, details.frameIndex/byteOffset where).',
};
