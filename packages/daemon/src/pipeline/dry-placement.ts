import type { StageOutcome } from '@mlp/proto'
import type { RemoteExec } from '../exec/remote.js'
import type { Stage } from './schema.js'

/**
 * What `repro --dry` says of a stage that would run, once placement is asked:
 * a stage with `resources` or `run_on` goes where the real run would send it
 * (named in the reasons), or fails with the real run's refusal (which names
 * `--local`), so `--dry` never says "would run" for a stage the run refuses.
 */
export async function dryPlacement (remote: RemoteExec | undefined, stage: Stage, outcome: StageOutcome, options: { local?: boolean, simulatedGpus?: boolean, signal?: AbortSignal }): Promise<StageOutcome> {
  const want = stage.resources ?? (stage.runOn != null ? { gpu: 0 } : undefined)
  if (outcome.status !== 'would-run' || want == null || options.local === true || remote == null) return outcome
  try {
    const placement = await remote.place({ ...want, runOn: stage.runOn, allowSimulated: options.simulatedGpus === true, dry: true }, options.signal)
    return placement === 'local' ? outcome : { ...outcome, reasons: [...outcome.reasons, `on ${placement[0]}`] }
  } catch (err) {
    if ((err as Error).name !== 'NoEligiblePeerError') throw err
    return { stage: stage.name, status: 'failed', reasons: [(err as Error).message] }
  }
}
