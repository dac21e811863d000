import { Args, Flags } from '@oclif/core'
import { BaseCommand } from '../../base-command.js'

export default class StageAdd extends BaseCommand<typeof StageAdd> {
  static override summary = 'Add a stage to mlp.yaml'
  static override examples = [
    '<%= config.bin %> stage add -n prepare -d data/raw -d prepare.py -o data/clean python prepare.py',
    '<%= config.bin %> stage add -n train -d data/clean -p train.lr -o model.pt -m metrics.json --gpu 1 python train.py'
  ]

  static override strict = false
  static override flags = {
    name: Flags.string({ char: 'n', description: 'stage name', required: true }),
    deps: Flags.string({ char: 'd', description: 'dependency path (repeatable)', multiple: true, multipleNonGreedy: true }),
    outs: Flags.string({ char: 'o', description: 'output path, stored (repeatable)', multiple: true, multipleNonGreedy: true }),
    'outs-no-cache': Flags.string({ char: 'O', description: 'output path, not stored (repeatable)', multiple: true, multipleNonGreedy: true }),
    params: Flags.string({ char: 'p', description: 'param key in params.yaml, or file:key1,key2 (repeatable)', multiple: true, multipleNonGreedy: true }),
    metrics: Flags.string({ char: 'm', description: 'metrics file, stored (repeatable)', multiple: true, multipleNonGreedy: true }),
    'metrics-no-cache': Flags.string({ char: 'M', description: 'metrics file, not stored (repeatable)', multiple: true, multipleNonGreedy: true }),
    gpu: Flags.integer({ description: 'GPUs the stage needs', min: 0 }),
    force: Flags.boolean({ char: 'f', description: 'replace a stage of the same name', default: false }),
    run: Flags.boolean({ description: 'run the stage (and what it needs) right after adding it', default: false })
  }

  static override args = {
    command: Args.string({ description: 'the command (everything after the flags)', required: true })
  }

  async run (): Promise<{ file: string, stage: string }> {
    const cmd = commandOf(this.argv)
    const params = (this.flags.params ?? []).map((p) => p)
    const r = await this.call('stage/add', {
      cwd: process.cwd(),
      name: this.flags.name,
      cmd,
      deps: this.flags.deps,
      outs: this.flags.outs,
      outsNoCache: this.flags['outs-no-cache'],
      params,
      metrics: this.flags.metrics,
      metricsNoCache: this.flags['metrics-no-cache'],
      gpu: this.flags.gpu,
      force: this.flags.force
    })
    this.log(`added stage ${r.stage} to ${r.file}`)
    if (this.flags.run) {
      const outcomes = await this.call('repro', { cwd: process.cwd(), targets: [r.stage] }, undefined, (e) => {
        if (e.name === 'exec:log' && !this.jsonEnabled()) (e.detail.stream === 'stderr' ? process.stderr : process.stdout).write(`[${e.detail.stage}] ${e.detail.line}\n`)
      })
      this.log(`${r.stage}: ${outcomes.find((o) => o.stage === r.stage)?.status ?? 'done'}`)
    }
    return r
  }
}

/** The command: every argument after the last flag and its value. */
function commandOf (argv: string[]): string {
  const withValue = new Set(['-n', '--name', '-d', '--deps', '-o', '--outs', '-O', '--outs-no-cache', '-p', '--params', '-m', '--metrics', '-M', '--metrics-no-cache', '--gpu'])
  let i = 0
  while (i < argv.length) {
    const a = argv[i]
    if (withValue.has(a)) i += 2
    else if (a.startsWith('-') && (a.includes('=') || ['-f', '--force', '--json', '--run'].includes(a))) i += 1
    else break
  }
  return argv.slice(i).filter((a) => a !== '--json' && a !== '--run').join(' ')
}
