import { metricsDiff } from '../diff/metrics.js'
import { diffRevisions } from '../diff/index.js'
import { buildReport, type ReportComponents } from '../report/index.js'
import type { Handlers } from './server.js'
import { cwdOf, optionalString, stringList } from './validate.js'

/** What the review routes need: the store, peers to list data the store lacks, and the plots renderer. */
export type ReviewRoutesComponents = ReportComponents

/** Routes that review data and model changes between revisions. */
export type ReviewRoute = 'diff' | 'metrics/diff' | 'report'

/** Handlers of the review routes. */
export function createReviewHandlers (c: ReviewRoutesComponents): Pick<Handlers, ReviewRoute> {
  return {
    diff: async (body, { signal }) => await diffRevisions(c, { cwd: cwdOf(body), a: optionalString(body.a, 'a'), b: optionalString(body.b, 'b'), targets: stringList(body.targets, 'targets') }, signal),
    'metrics/diff': async (body, { signal }) => await metricsDiff(c, cwdOf(body), optionalString(body.rev, 'rev') ?? 'HEAD', signal),
    report: async (body, { signal }) => await buildReport(c, { cwd: cwdOf(body), base: optionalString(body.base, 'base'), name: optionalString(body.name, 'name') }, signal)
  }
}
