import { Flags } from '@oclif/core'
import type { DagResult } from '@mlp/proto'
import { readDag } from '@mlp/daemon/pure'
import { BaseCommand } from '../base-command.js'

export default class Dag extends BaseCommand<typeof Dag> {
  static override summary = 'Show the stage graph'
  static override description = 'Reads only the pipeline and params files: deps need not exist yet, and no daemon need run.'
  static override examples = ['<%= config.bin %> dag', '<%= config.bin %> dag --mermaid', '<%= config.bin %> dag --json']
  static override flags = {
    mermaid: Flags.boolean({ description: 'as a Mermaid flowchart', exclusive: ['dot'] }),
    dot: Flags.boolean({ description: 'as Graphviz dot', exclusive: ['mermaid'] })
  }

  async run (): Promise<DagResult> {
    // the files alone answer it: no daemon, no peers
    const dag = readDag(process.cwd())
    const id = (name: string): string => `s${dag.stages.findIndex((s) => s.name === name)}`
    if (this.flags.mermaid) {
      this.log(['flowchart TD', ...dag.stages.map((s) => `  ${id(s.name)}["${s.name}"]`), ...dag.edges.map(([a, b]) => `  ${id(a)} --> ${id(b)}`)].join('\n'))
    } else if (this.flags.dot) {
      this.log(['strict digraph {', ...dag.stages.map((s) => `  "${s.name}";`), ...dag.edges.map(([a, b]) => `  "${a}" -> "${b}";`), '}'].join('\n'))
    } else {
      for (const s of dag.stages) {
        const ups = dag.edges.filter(([, b]) => b === s.name).map(([a]) => a)
        this.log(`${s.name}${ups.length > 0 ? `  <- ${ups.join(', ')}` : ''}`)
      }
    }
    return dag
  }
}
