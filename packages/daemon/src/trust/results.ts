import { peerIdFromString } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'

/** One out of a signed result: what the lock records of it. */
export interface ResultOut {
  path: string
  cid: string
  size: number
  nfiles?: number
}

/**
 * A stage result as its executor signed it: a job's answer, and a run-cache
 * entry on every daemon that keeps or relays it. `sig` is the base64 Ed25519
 * signature of {@link resultPayload} by the key of `ranOn`'s peer id.
 */
export interface SignedResult {
  outs: ResultOut[]
  ranOn: string
  at: string
  sig: string
}

/** Separates these signatures from anything else the same key signs. */
const DOMAIN = 'mlp-stage-result/1'

/**
 * The bytes signed: a canonical JSON array (fixed field order, outs sorted by
 * path) of the stage key, the outs, the executor and the time, so a signature
 * cannot be replayed for another stage key, out set or signer.
 */
export function resultPayload (key: string, r: Omit<SignedResult, 'sig'>): Uint8Array {
  const outs = [...r.outs].sort((a, b) => a.path < b.path ? -1 : a.path > b.path ? 1 : 0).map((o) => [o.path, o.cid, o.size, o.nfiles ?? null])
  return new TextEncoder().encode(JSON.stringify([DOMAIN, key, outs, r.ranOn, r.at]))
}

/** Signs a result of stage `key` that ran on this machine. */
export async function signResult (key: string, privateKey: PrivateKey, ranOn: string, outs: ResultOut[], at = new Date().toISOString()): Promise<SignedResult> {
  const sig = await privateKey.sign(resultPayload(key, { outs, ranOn, at }))
  return { outs, ranOn, at, sig: Buffer.from(sig).toString('base64') }
}

/** Whether `value` has the shape of a signed result (it came from a peer: nothing is assumed). */
export function isSignedResult (value: unknown): value is SignedResult {
  const r = value as Partial<SignedResult> | null
  return r != null && typeof r === 'object' && typeof r.ranOn === 'string' && typeof r.at === 'string' && typeof r.sig === 'string' &&
    Array.isArray(r.outs) && r.outs.every((o) => o != null && typeof o.path === 'string' && typeof o.cid === 'string' &&
      Number.isSafeInteger(o.size) && (o.nfiles === undefined || Number.isSafeInteger(o.nfiles)))
}

/**
 * Whether `r` is a well-formed result of stage `key` signed by the key its
 * `ranOn` peer id embeds (Ed25519 ids carry their public key). Says nothing
 * about whether that signer is trusted: see {@link believable}.
 */
export async function verifyResult (key: string, r: unknown): Promise<boolean> {
  if (!isSignedResult(r)) return false
  try {
    const publicKey = peerIdFromString(r.ranOn).publicKey
    if (publicKey == null) return false
    return await publicKey.verify(resultPayload(key, r), Buffer.from(r.sig, 'base64'))
  } catch {
    return false
  }
}

/**
 * The rule for believing a result, whoever relays it (Nix's trusted public
 * keys): its signature verifies, and its signer is this machine or a peer
 * granted `--results` here.
 */
export async function believable (key: string, r: unknown, trusted: (signer: string) => boolean): Promise<boolean> {
  return await verifyResult(key, r) && trusted((r as SignedResult).ranOn)
}
