import { relative } from 'node:path'
import { Args, Flags } from '@oclif/core'
import type { StageAddResult } from '@mlp/proto'
import { BaseCommand, type ParsedTokens } from '../../base-command.js'
import { oneLineMessage } from '../../one-line.js'
import { shellLine } from '../../shell-line.js'

export default class StageAdd extends BaseCommand<typeof StageAdd> {
  static override summary = 'Add a stage to the pipeline file of the current folder'
  static override description = "The stage goes into the pipeline file of the current folder (its mlp.yaml or dvc.yaml, else a new mlp.yaml), its paths relative to that folder, as `dvc stage add` writes ./dvc.yaml; a new file in a subfolder is read once git tracks it. The command is every word after stage add's flags. When it has flags of its own, put it after --, which ends stage add's flags (`-- python train.py --lr 0.1`); stage add's flags go before the command. Several words are shell-quoted as needed; a single word is kept as a shell line (`\"python train.py | tee log\"`)."
  static override examples = [
    '<%= config.bin %> stage add -n prepare -d data/raw -d prepare.py -o data/clean python prepare.py',
    '<%= config.bin %> stage add -n train -d data/clean -p train.lr -o model.pt -m metrics.json --gpu 1 python train.py',
    '<%= config.bin %> stage add -n train -d data/clean -o model.pt -- python train.py --lr 0.1 -o model.pt'
  ]

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
    command: Args.string({ description: 'the command: every word after the flags (after --, words starting with - too)', required: true, multiple: true })
  }

  async run (): Promise<StageAddResult> {
    const late = flagAfterCommand(this.tokens)
    if (late != null) this.error(`--${late} comes after the command: put stage add's flags before it, and a command with flags of its own after -- (mlp stage add -n <name> ... -- <cmd> <its flags>)`)
    const cmd = shellLine(this.args.command)
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
    // as DVC says it: a pipeline file git does not track is not the project's yet (a subfolder's is not even read)
    const gitAdd = r.untracked == null ? undefined : `git add ${relative(process.cwd(), r.file)}`
    if (gitAdd != null) this.log(`To track the changes with git, run: ${gitAdd}`)
    if (this.flags.run) {
      if (gitAdd != null && r.address !== r.stage) this.error(`not run: mlp reads ${r.untracked ?? ''} only once git tracks it; run ${gitAdd}, then mlp repro ${r.stage}`)
      const outcomes = await this.call('repro', { cwd: process.cwd(), targets: [r.stage] }, undefined, (e) => {
        if (e.name === 'exec:log' && !this.jsonEnabled()) (e.detail.stream === 'stderr' ? process.stderr : process.stdout).write(`[${e.detail.stage}] ${e.detail.line}\n`)
      })
      this.log(`${r.stage}: ${outcomes.find((o) => o.stage === r.address)?.status ?? 'done'}`)
    }
    return r
  }

  protected override async catch (err: Error & { exitCode?: number, oclif?: { exit?: number } }): Promise<void> {
    // `python train.py --lr 0.1` without --: oclif refuses --lr; say where a command's own flags go
    if (err.constructor.name === 'NonExistentFlagsError') err.message = `${oneLineMessage(err) ?? err.message}; a command with flags of its own goes after -- (mlp stage add -n <name> ... -- <cmd> <its flags>)`
    await super.catch(err)
  }
}

/**
 * A stage add flag typed after the command's first word, but not after `--`:
 * `python train.py -o out` would otherwise give the stage an out silently
 * and drop `-o out` from the command. Only `--json`, which says how mlp
 * answers and which scripts append to any command line, may follow.
 */
function flagAfterCommand (tokens: ParsedTokens): string | undefined {
  const start = tokens.findIndex((t) => t.type === 'arg')
  if (start === -1) return undefined
  const late = tokens.slice(start).find((t) => t.type === 'flag' && t.flag !== 'json')
  return late?.type === 'flag' ? late.flag : undefined
}
