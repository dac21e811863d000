import { DaemonStartError } from '@mlp/proto'
import { BaseCommand } from '../../base-command.js'
import { STOP_TIMEOUT_MS, waitForExit } from '../../daemon-process.js'

export default class DaemonStop extends BaseCommand<typeof DaemonStop> {
  static override summary = 'Stop the mlp daemon gracefully'
  static override description = 'Asks the daemon to close its connections and its store, and waits until the process has exited.'
  static override examples = ['<%= config.bin %> daemon stop']

  async run (): Promise<{ stopped: true, pid: number }> {
    const { pid } = await this.call('daemon/status', {})
    await this.call('daemon/stop', {})
    if (!(await waitForExit(pid))) throw new DaemonStartError(`the daemon (pid ${pid}) did not exit within ${STOP_TIMEOUT_MS / 1000} s; see ${this.home}/daemon.log`)
    this.log(`mlp daemon stopped (pid ${pid})`)
    return { stopped: true, pid }
  }
}
