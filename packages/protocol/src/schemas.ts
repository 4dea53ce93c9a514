/**
 * Request and response schemas of the Coffer API (TypeBox = JSON Schema + static types). The server
 * validates with them and generates /v1/openapi.json from them; clients get the types.
 */
import { type Static, Type } from '@sinclair/typebox';

const B64U = (description: string, maxLength = 4096) =>
  Type.String({ pattern: '^[A-Za-z0-9_-]*$', maxLength, description });

export const ErrorResponse = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'stable COFFER_ERR_* code' }),
      message: Type.String(),
      attemptsRemaining: Type.Optional(Type.Integer()),
      retryAfterSeconds: Type.Optional(Type.Integer()),
    }),
  },
  { $id: 'ErrorResponse' },
);
export type ErrorResponse = Static<typeof ErrorResponse>;

// --- identity verification --------------------------------------------------------------------
export const CreateSessionRequest = Type.Object(
  {
    identifier: Type.String({
      minLength: 3,
      maxLength: 254,
      description: 'e-mail address or E.164 phone number',
    }),
    transport: Type.Optional(Type.Union([Type.Literal('email'), Type.Literal('sms')])),
  },
  { additionalProperties: false },
);
export type CreateSessionRequest = Static<typeof CreateSessionRequest>;
export const CreateSessionResponse = Type.Object({
  sessionId: Type.String(),
  expiresAt: Type.Integer({ description: 'ms since epoch' }),
  codeLength: Type.Integer(),
});
export type CreateSessionResponse = Static<typeof CreateSessionResponse>;

export const SessionParams = Type.Object({ sessionId: Type.String({ pattern: '^[A-Za-z0-9_-]{16,64}$' }) });
export const SubmitCodeRequest = Type.Object(
  { code: Type.String({ pattern: '^[0-9]{6}$' }) },
  { additionalProperties: false },
);
export type SubmitCodeRequest = Static<typeof SubmitCodeRequest>;
export const SubmitCodeResponse = Type.Object({ verified: Type.Boolean() });
export type SubmitCodeResponse = Static<typeof SubmitCodeResponse>;

export const DevOutboxQuery = Type.Object({ identifier: Type.String({ maxLength: 254 }) });
export const DevOutboxResponse = Type.Object({
  messages: Type.Array(Type.Object({ code: Type.String(), sentAt: Type.Integer() })),
});
export type DevOutboxResponse = Static<typeof DevOutboxResponse>;

// --- accounts -----------------------------------------------------------------------------------
export const RegisterRequest = Type.Object(
  { sessionId: Type.String({ pattern: '^[A-Za-z0-9_-]{16,64}$' }) },
  { additionalProperties: false },
);
export type RegisterRequest = Static<typeof RegisterRequest>;
export const RegisterResponse = Type.Object({
  aci: Type.String({ description: 'account identifier (UUID), stable across re-registration' }),
  deviceId: Type.String(),
  deviceToken: Type.String({ description: 'secret; send as Authorization: Bearer <deviceToken>' }),
  reregistered: Type.Boolean({ description: 'true when an existing account moved to this device' }),
  level: Type.Integer(),
});
export type RegisterResponse = Static<typeof RegisterResponse>;
export const AccountResponse = Type.Object({
  aci: Type.String(),
  deviceId: Type.String(),
  level: Type.Integer(),
});
export type AccountResponse = Static<typeof AccountResponse>;

// --- credentials ----------------------------------------------------------------------------------
export const CredentialKeysQuery = Type.Object({
  start: Type.Integer({ description: 'first redemption day, unix seconds, day-aligned' }),
  end: Type.Integer({ description: 'last redemption day (inclusive)' }),
  level: Type.Optional(Type.Integer({ description: 'only this level (200 or 201); default both' })),
});
export const CredentialKey = Type.Object({
  redemptionTime: Type.Integer(),
  level: Type.Integer(),
  type: Type.Integer(),
  publicKey: B64U('SubjectPublicKeyInfo DER, base64url'),
});
export const CredentialKeysResponse = Type.Object({ keys: Type.Array(CredentialKey) });
export type CredentialKeysResponse = Static<typeof CredentialKeysResponse>;

export const IssueCredentialsRequest = Type.Object(
  {
    level: Type.Integer(),
    requests: Type.Array(
      Type.Object(
        {
          redemptionTime: Type.Integer(),
          type: Type.Integer({ minimum: 1, maximum: 2 }),
          blindedMessage: B64U('RFC 9474 blinded message, base64url', 1400),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 16 },
    ),
  },
  { additionalProperties: false },
);
export type IssueCredentialsRequest = Static<typeof IssueCredentialsRequest>;
export const IssueCredentialsResponse = Type.Object({
  credentials: Type.Array(
    Type.Object({
      redemptionTime: Type.Integer(),
      type: Type.Integer(),
      level: Type.Integer(),
      blindSignature: B64U('RFC 9474 blind signature, base64url'),
    }),
  ),
});
export type IssueCredentialsResponse = Static<typeof IssueCredentialsResponse>;

// --- archives (anonymous, signed) -----------------------------------------------------------------
export const SetPublicKeyRequest = Type.Object(
  { backupIdPublicKey: B64U('33-byte 0x05||X25519 public key, base64url', 64) },
  { additionalProperties: false },
);
export type SetPublicKeyRequest = Static<typeof SetPublicKeyRequest>;

export const VersionInfo = Type.Object({
  versionId: Type.String(),
  size: Type.Integer(),
  createdAt: Type.Integer(),
  current: Type.Boolean(),
});
export type VersionInfo = Static<typeof VersionInfo>;

export const BackupInfoResponse = Type.Object({
  backupDir: Type.String(),
  mediaDir: Type.String(),
  backupName: Type.String(),
  usedSpace: Type.Integer({ description: 'media bytes stored' }),
  mediaQuotaBytes: Type.Integer(),
  current: Type.Union([VersionInfo, Type.Null()]),
});
export type BackupInfoResponse = Static<typeof BackupInfoResponse>;

export const UploadLengthQuery = Type.Object({ uploadLength: Type.Integer({ minimum: 1 }) });
export const UploadForm = Type.Object({
  key: Type.String({ description: 'the storage key this upload token is limited to' }),
  uploadId: Type.String(),
  uploadUrl: Type.String({ description: 'tus endpoint (POST to create)' }),
  headers: Type.Record(Type.String(), Type.String(), { description: 'send with every tus request' }),
  maxLength: Type.Integer(),
  expiresAt: Type.Integer(),
});
export type UploadForm = Static<typeof UploadForm>;

export const VersionsResponse = Type.Object({ versions: Type.Array(VersionInfo) });
export type VersionsResponse = Static<typeof VersionsResponse>;
export const VersionParams = Type.Object({ versionId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }) });

export const ReadAuthResponse = Type.Object({
  headers: Type.Record(Type.String(), Type.String()),
  backupUrl: Type.String({ description: 'GET the current messages backup here (HTTP ranges supported)' }),
  mediaUrlPrefix: Type.String({ description: 'GET <prefix><mediaId> for a media object' }),
  expiresAt: Type.Integer(),
});
export type ReadAuthResponse = Static<typeof ReadAuthResponse>;

export const MediaId = B64U('media id, 15 bytes base64url (spec 5.2)', 20);
export const StoreMediaRequest = Type.Object(
  {
    sourceUploadId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }),
    objectLength: Type.Integer({ minimum: 1 }),
    mediaId: MediaId,
  },
  { additionalProperties: false },
);
export type StoreMediaRequest = Static<typeof StoreMediaRequest>;
export const StoreMediaResponse = Type.Object({ mediaId: Type.String(), objectLength: Type.Integer() });
export type StoreMediaResponse = Static<typeof StoreMediaResponse>;

/** PUT /v1/archives/media/batch (like Signal's): up to 1,000 store steps in one signed request. */
export const StoreMediaBatchRequest = Type.Object(
  { items: Type.Array(StoreMediaRequest, { minItems: 1, maxItems: 1000 }) },
  { additionalProperties: false },
);
export type StoreMediaBatchRequest = Static<typeof StoreMediaBatchRequest>;
/** One answer per item, in request order: status 200, or the status and error of PUT /v1/archives/media. */
export const StoreMediaBatchResponse = Type.Object({
  responses: Type.Array(
    Type.Object({
      mediaId: Type.String(),
      status: Type.Integer(),
      objectLength: Type.Optional(Type.Integer()),
      error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
    }),
  ),
});
export type StoreMediaBatchResponse = Static<typeof StoreMediaBatchResponse>;

export const ListMediaQuery = Type.Object({
  cursor: Type.Optional(Type.String({ maxLength: 64 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
});
export const ListMediaResponse = Type.Object({
  storedMediaObjects: Type.Array(Type.Object({ mediaId: Type.String(), objectLength: Type.Integer() })),
  backupDir: Type.String(),
  mediaDir: Type.String(),
  cursor: Type.Optional(Type.String()),
});
export type ListMediaResponse = Static<typeof ListMediaResponse>;

export const DeleteMediaRequest = Type.Object(
  { mediaToDelete: Type.Array(Type.Object({ mediaId: MediaId }), { minItems: 1, maxItems: 1000 }) },
  { additionalProperties: false },
);
export type DeleteMediaRequest = Static<typeof DeleteMediaRequest>;

export const MediaUsageResponse = Type.Object({
  usedBytes: Type.Integer(),
  quotaBytes: Type.Integer(),
  objectCount: Type.Integer(),
});
export type MediaUsageResponse = Static<typeof MediaUsageResponse>;

export const HealthResponse = Type.Object({ status: Type.String() });
