import { Flags } from '@oclif/core'
import { AbortError, type ExpRunResult, type ReproProgress } from '@mlp/proto'
import { BaseCommand } from '../../base-command.js'

export default class ExpRun extends BaseCommand<typeof ExpRun> {
  static override summary = 'Run the pipeline with changed params and record it as an experiment'
  static override description = 'Sets the params (-S, as `dvc exp run --set-param`), runs the pipeline as `mlp repro` does (GPU stages on trusted peers) and records an experiment signed by this machine: its base commit, the uncommitted changes to tracked files, changed params, metrics, lock and where each stage ran. Teammates see it in `mlp exp show`. The workspace ends holding the results.'
  static override examples = ['<%= config.bin %> exp run -S train.lr=0.2', '<%= config.bin %> exp run -S params.yaml:train.epochs=20 -n long-run', '<%= config.bin %> exp run --queue -S train.lr=0.3', '<%= config.bin %> exp run --run-all -j 2']
  static override flags = {
    'set-param': Flags.string({ char: 'S', description: '[file:]key=value to set before running (file defaults to params.yaml)', multiple: true }),
    name: Flags.string({ char: 'n', description: 'name of the experiment (default: a generated adjective-noun)' }),
    queue: Flags.boolean({ description: 'record it as queued, to run later with --run-all; the workspace is not touched', default: false }),
    'run-all': Flags.boolean({ description: 'run the queued experiments, each in its own git worktree of its base commit', default: false, exclusive: ['queue', 'set-param', 'name'] }),
    jobs: Flags.integer({ char: 'j', description: 'with --run-all: experiments to run at once (default 1)', min: 1, dependsOn: ['run-all'] })
  }

  async run (): Promise<ExpRunResult | ExpRunResult[]> {
    // stages running on peers now: on Ctrl-C they go on there, and the user is told how to stop them (as `mlp repro`)
    const remote = new Map<string, string>()
    const show = (e: ReproProgress): string => {
      if (e.name === 'exec:job') remote.set(e.detail.stage, `job ${e.detail.job} (stage '${e.detail.stage}') continues on ${e.detail.peer}; stop it with: mlp cancel ${e.detail.job}`)
      if (e.name === 'pipeline:stage' && e.detail.status !== 'running') remote.delete(e.detail.stage)
      if (this.jsonEnabled()) return ''
      if (e.name === 'exec:log') process.stdout.write(`[${e.detail.stage}] ${e.detail.line}\n`)
      else if (e.name === 'pipeline:stage' && e.detail.status !== 'running') this.log(`${e.detail.stage}: ${e.detail.status}${e.detail.from != null ? ` (${e.detail.from})` : ''}`)
      return ''
    }
    let results: ExpRunResult[]
    try {
      results = this.flags['run-all']
        ? await this.call('exp/run-all', { cwd: process.cwd(), jobs: this.flags.jobs ?? 1 }, undefined, show)
        : [await this.call('exp/run', { cwd: process.cwd(), set: this.flags['set-param'] ?? [], queue: this.flags.queue, ...(this.flags.name != null ? { name: this.flags.name } : {}) }, undefined, show)]
    } catch (err) {
      if ((err as Error).name !== 'AbortError' || remote.size === 0) throw err
      throw new AbortError(`interrupted: ${[...remote.values()].join('; ')}`)
    }
    for (const { record: r } of results) {
      this.log(`experiment '${r.name}' ${r.state}${r.metrics.length > 0 ? `: ${r.metrics.map((m) => `${m.key}=${JSON.stringify(m.value)}`).join(' ')}` : ''}`)
    }
    if (results.some((r) => r.record.state === 'failed')) process.exitCode = 1
    return this.flags['run-all'] ? results : results[0]
  }
}
