import { BaseCommand } from '../base-command.js'
import { runChecks, type CheckResult } from '../doctor/checks.js'
import { gatherFacts } from '../doctor/gather.js'

/** `mlp doctor --json`. */
export interface DoctorReport {
  /** False when any check failed (the command then exits 1). */
  ok: boolean
  checks: CheckResult[]
}

const MARK = { ok: 'ok  ', info: 'info', warn: 'warn', fail: 'FAIL' } as const

export default class Doctor extends BaseCommand<typeof Doctor> {
  static override summary = 'Check this machine\'s mlp setup and say how to fix what is wrong'
  static override description = 'Daemon and version, listen addresses, mDNS and peers, swarm key, trust, GPUs (what nvidia-smi said), free disk, the project and its git hooks. Works without a daemon. Exits 1 when a check fails.'
  static override examples = ['<%= config.bin %> doctor', '<%= config.bin %> doctor --json']

  async run (): Promise<DoctorReport> {
    const facts = await gatherFacts(this.home, this.config.version, this.client, process.cwd())
    const checks = runChecks(facts)
    if (facts.configError != null) checks.unshift({ name: 'config', status: 'fail', detail: facts.configError, fix: `fix ${this.home}/config.yaml, then restart the daemon` })
    for (const c of checks) {
      this.log(`${MARK[c.status]}  ${c.name}: ${c.detail}`)
      if (c.fix != null && c.status !== 'ok') this.log(`      fix: ${c.fix}`)
    }
    const ok = checks.every((c) => c.status !== 'fail')
    if (!ok) process.exitCode = 1
    return { ok, checks }
  }
}
