import { Args, Flags } from '@oclif/core'
import { AbortError, type ReproProgress, type StageOutcome } from '@mlp/proto'
import { BaseCommand } from '../base-command.js'

export default class Repro extends BaseCommand<typeof Repro> {
  static override summary = 'Run the pipeline stages whose inputs changed'
  static override description = 'A stage runs when its command, deps, params or outs differ from mlp.lock; when this daemon or a peer already ran it with exactly these inputs, its outputs are restored from the run cache instead.'
  static override examples = ['<%= config.bin %> repro', '<%= config.bin %> repro train --dry', '<%= config.bin %> repro -s -f evaluate', '<%= config.bin %> repro -j 2 --keep-going']
  static override flags = {
    dry: Flags.boolean({ description: 'only say what would run', default: false }),
    force: Flags.boolean({ char: 'f', description: 'run even stages that are up to date', default: false }),
    downstream: Flags.boolean({ description: 'the named stages and everything after them', default: false }),
    'single-item': Flags.boolean({ char: 's', description: 'only the named stages, not what they depend on', default: false, exclusive: ['downstream'] }),
    jobs: Flags.integer({ char: 'j', description: 'independent stages to run at once', default: 1, min: 1 }),
    'keep-going': Flags.boolean({ description: 'after a failure, go on with stages that do not depend on it', default: false }),
    'run-cache': Flags.boolean({ description: 'restore outputs of runs with the same inputs', allowNo: true, default: true }),
    local: Flags.boolean({ description: 'run every stage on this machine', default: false }),
    'simulated-gpus': Flags.boolean({ description: 'let GPU stages go to simulated GPUs (a daemon\'s executor.simulatedGpus: no real device; for tutorials and CI)', default: false })
  }

  static override args = {
    stages: Args.string({ description: 'stages to reproduce, with what they depend on (default: all)', multiple: true })
  }

  async run (): Promise<StageOutcome[]> {
    const targets = this.args.stages ?? []
    // stages running on peers now: on Ctrl-C they go on there, and the user is told how to stop them
    const remote = new Map<string, { peer: string, job: string }>()
    const show = (e: ReproProgress): string => {
      if (e.name === 'exec:job') {
        remote.set(e.detail.stage, { peer: e.detail.peer, job: e.detail.job })
        return ''
      }
      if (e.name === 'pipeline:stage' && e.detail.status !== 'running') remote.delete(e.detail.stage)
      if (this.jsonEnabled()) return ''
      if (e.name === 'exec:log') {
        const line = `[${e.detail.stage}] ${e.detail.line}\n`
        if (e.detail.stream === 'stderr') process.stderr.write(line)
        else process.stdout.write(line)
      } else {
        this.log(describe(e.detail))
      }
      return ''
    }
    try {
      return await this.repro(targets, show)
    } catch (err) {
      if ((err as Error).name !== 'AbortError' || remote.size === 0) throw err
      const jobs = [...remote].map(([stage, r]) => `job ${r.job} (stage '${stage}') continues on ${r.peer}; stop it with: mlp cancel ${r.job}`)
      throw new AbortError(`interrupted: ${jobs.join('; ')}`)
    }
  }

  private async repro (targets: string[], show: (e: ReproProgress) => string): Promise<StageOutcome[]> {
    return await this.call('repro', {
      cwd: process.cwd(),
      targets,
      dry: this.flags.dry,
      force: this.flags.force,
      downstream: this.flags.downstream,
      singleItem: this.flags['single-item'],
      jobs: this.flags.jobs,
      keepGoing: this.flags['keep-going'],
      runCache: this.flags['run-cache'],
      local: this.flags.local,
      simulatedGpus: this.flags['simulated-gpus']
    }, undefined, show)
  }
}

function describe (d: { stage: string, status: string, reasons: string[], from?: string }): string {
  const why = d.reasons.length > 0 ? ` (${d.reasons.join(', ')})` : ''
  switch (d.status) {
    case 'running': return `running ${d.stage}${why}`
    case 'skipped': return `${d.stage} is up to date`
    case 'restored': return `restored ${d.stage} from ${d.from ?? 'the run cache'}${why}`
    case 'would-run': return `would run ${d.stage}${why}`
    case 'ran': return `${d.stage} done${d.from != null ? ` (ran on ${d.from})` : ''}`
    case 'frozen': return `${d.stage} is frozen`
    case 'blocked': return `${d.stage} not run${why}`
    default: return `${d.stage} failed${why}`
  }
}
