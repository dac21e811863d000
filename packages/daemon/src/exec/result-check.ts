import { UntrustedResultError } from '@mlp/proto'
import { relativePathProblem } from '../store/path-rules.js'
import { isSignedResult, verifyResult, type SignedResult } from '../trust/results.js'
import type { JobSpec } from './protocol.js'

/**
 * Checks a job's answer before anything of it is fetched or written: exactly
 * the stage's declared outs (same path set, each a plain relative path by the path rules),
 * signed for this stage key by the executor it was sent to, which must hold
 * `--results` here. Throws {@link UntrustedResultError} saying what was wrong.
 */
export async function checkResult (spec: JobSpec, peer: string, answer: unknown, trusted: (signer: string) => boolean): Promise<SignedResult> {
  const reject = (why: string): never => {
    throw new UntrustedResultError(`rejected the result of stage '${spec.stage}' from ${peer}: ${why}; nothing was written`)
  }
  if (!isSignedResult(answer)) return reject('it is not a signed result')
  const declared = new Set(spec.outs.map((o) => o.path))
  const paths = answer.outs.map((o) => o.path)
  const bad = paths.find((p) => relativePathProblem(p) != null || !declared.has(p))
  if (bad != null) reject(`out '${bad}' is not one the stage declares (${[...declared].join(', ')})`)
  if (new Set(paths).size !== paths.length) reject('it names an out twice')
  const missing = [...declared].filter((p) => !paths.includes(p))
  if (missing.length > 0) reject(`declared out${missing.length > 1 ? 's' : ''} ${missing.map((p) => `'${p}'`).join(', ')} missing`)
  if (answer.ranOn !== peer) reject(`it is signed as ${answer.ranOn}, not by the executor`)
  if (!await verifyResult(spec.key, answer)) reject('its signature does not verify')
  if (!trusted(peer)) reject(`${peer} is not trusted with --results here (\`mlp trust add ${peer} --results\`)`)
  return { outs: answer.outs, ranOn: answer.ranOn, at: answer.at, sig: answer.sig }
}
