/**
 * Prediction ids that carry what feedback needs (model, version, probability, issue time) under an HMAC,
 * so any replica holding the key can join feedback to a prediction another replica served, without shared state.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** What a prediction id says about its prediction. */
export interface PredictionClaims {
  model: string;
  version: string;
  /** The probability as answered: float32, so it survives the round trip exactly. */
  probability: number;
  issuedAtMs: number;
}

/** The outcome of reading an id: its claims, or why it cannot be used. */
export type VerifiedPredictionId =
  { ok: true; claims: PredictionClaims } | { ok: false; reason: 'invalid' | 'expired' };

const FORMAT_V1 = 1;
// format (1) + issued ms (6) + nonce (6) + float32 probability (4); then two length-prefixed strings, then the MAC.
const FIXED_BYTES = 17;
const NONCE_BYTES = 6;
const MAC_BYTES = 16;
const MAX_STRING_BYTES = 255;
const MAX_ID_CHARS = 1024;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
/** Replicas' clocks differ a little; an id "from the future" within this margin is still accepted. */
const CLOCK_SKEW_MS = 5 * 60_000;

/** Issues and verifies prediction ids with one secret; every replica behind a load balancer must share it. */
export class PredictionIdCodec {
  private readonly key: Buffer;

  constructor(secret: string) {
    if (secret.length === 0) throw new Error('the prediction id key must not be empty');
    // A derived key, so the secret (by default the admin token) is never used as an HMAC key directly.
    this.key = createHmac('sha256', secret).update('mlops prediction id v1').digest();
  }

  /** A fresh id for one prediction; the nonce keeps ids of identical predictions in the same millisecond apart. */
  issue(claims: Omit<PredictionClaims, 'issuedAtMs'>, issuedAtMs: number = Date.now()): string {
    const model = Buffer.from(claims.model, 'utf8');
    const version = Buffer.from(claims.version, 'utf8');
    if (model.length > MAX_STRING_BYTES || version.length > MAX_STRING_BYTES) {
      throw new Error(
        `model and version names longer than ${MAX_STRING_BYTES} bytes cannot go in a prediction id`,
      );
    }
    const body = Buffer.alloc(FIXED_BYTES + 2 + model.length + version.length);
    body.writeUInt8(FORMAT_V1, 0);
    body.writeUIntBE(issuedAtMs, 1, 6);
    randomBytes(NONCE_BYTES).copy(body, 7);
    body.writeFloatBE(claims.probability, 13);
    body.writeUInt8(model.length, FIXED_BYTES);
    model.copy(body, FIXED_BYTES + 1);
    body.writeUInt8(version.length, FIXED_BYTES + 1 + model.length);
    version.copy(body, FIXED_BYTES + 2 + model.length);
    return Buffer.concat([body, this.mac(body)]).toString('base64url');
  }

  /** Checks the MAC and the age; anything malformed, forged or edited is 'invalid'. */
  verify(id: string, nowMs: number, maxAgeMs: number): VerifiedPredictionId {
    const claims = this.decode(id);
    if (!claims) return { ok: false, reason: 'invalid' };
    if (claims.issuedAtMs > nowMs + CLOCK_SKEW_MS) return { ok: false, reason: 'invalid' };
    if (nowMs - claims.issuedAtMs > maxAgeMs) return { ok: false, reason: 'expired' };
    return { ok: true, claims };
  }

  private decode(id: string): PredictionClaims | undefined {
    if (id.length > MAX_ID_CHARS || !BASE64URL.test(id)) return undefined;
    const bytes = Buffer.from(id, 'base64url');
    if (bytes.length < FIXED_BYTES + 2 + MAC_BYTES || bytes.readUInt8(0) !== FORMAT_V1) return undefined;
    const body = bytes.subarray(0, bytes.length - MAC_BYTES);
    // MAC first: nothing in an unauthenticated id is trusted, not even its lengths.
    if (!timingSafeEqual(bytes.subarray(body.length), this.mac(body))) return undefined;
    const modelLength = body.readUInt8(FIXED_BYTES);
    const versionAt = FIXED_BYTES + 1 + modelLength;
    if (versionAt >= body.length) return undefined;
    const versionLength = body.readUInt8(versionAt);
    if (versionAt + 1 + versionLength !== body.length) return undefined;
    return {
      issuedAtMs: body.readUIntBE(1, 6),
      probability: body.readFloatBE(13),
      model: body.toString('utf8', FIXED_BYTES + 1, versionAt),
      version: body.toString('utf8', versionAt + 1),
    };
  }

  private mac(body: Buffer): Buffer {
    return createHmac('sha256', this.key).update(body).digest().subarray(0, MAC_BYTES);
  }
}
