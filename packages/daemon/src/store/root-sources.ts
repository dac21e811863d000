import type { GcScope } from '@mlp/proto'
import type { CID } from 'multiformats/cid'

/** What gc asks every {@link RootSource} for. */
export interface RootQuery {
  /** Which history counts: `workspace`, `refs` (every local branch and tag) or `all-commits`. */
  scope: GcScope
  /**
   * True when a sweep follows (not a dry run, not verify): a source that
   * answers from a record when it cannot read its files (a missing project
   * folder) refreshes that record from what it could read.
   */
  record: boolean
  /**
   * Owners of roots the user asked this gc to drop (`mlp gc --forget`:
   * absolute folders of registered projects that are gone); a source keyed
   * by such names leaves them out.
   */
  forget?: ReadonlySet<string>
  signal?: AbortSignal
}

/** What one source keeps alive. */
export interface SourceRoots {
  /** Roots whose blocks this store holds, or should (a pointer file's outs): one absent is damage verify reports. */
  roots: CID[]
  /**
   * Roots that may have no blocks: a lock-file out with `cache: false` names
   * content that was never stored. Kept like the others when present; verify
   * skips one that is absent. A cid also in some source's `roots` is not optional.
   */
  optional?: CID[]
  /** How many things the source read them from, for the gc summary (registered projects). */
  read?: number
  /** Things it could not read now and answered from its last record instead (missing project folders): reported, never a reason to delete. */
  missing?: string[]
}

/**
 * Something above the store that knows which DAGs are in use: tracking
 * (pointer files, lock files, git branches and tags of every registered
 * project) or the pipeline (recent run-cache results). The store asks every
 * registered source at each gc and never imports the layers above it.
 * A source that throws stops gc before anything is removed.
 */
export interface RootSource {
  /** Short and unique among the registered sources ('projects', 'run cache'): names it in errors and the gc summary. */
  readonly name: string
  /** The roots this source keeps alive for `query`; reads checked against `query.signal`. */
  roots: (query: RootQuery) => Promise<SourceRoots>
}

/** The sources a store asks for gc roots; see {@link RootSource}. */
export class RootSources {
  private readonly sources = new Map<string, RootSource>()

  /**
   * Adds `source`; the returned function removes it again. A second source
   * under a taken name is refused: two would answer for the same roots and
   * the summary could not tell them apart.
   */
  register (source: RootSource): () => void {
    if (this.sources.has(source.name)) throw new Error(`a gc root source named '${source.name}' is already registered`)
    this.sources.set(source.name, source)
    return () => {
      if (this.sources.get(source.name) === source) this.sources.delete(source.name)
    }
  }

  /** The registered sources, in the order they were registered. */
  list (): RootSource[] {
    return [...this.sources.values()]
  }
}
