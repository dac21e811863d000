import { AmbiguousJobIdError, BadRequestError, JobNotFoundError } from '@mlp/proto'

/** Fewest characters of a job id accepted as a prefix, as git asks of commit ids. */
export const MIN_JOB_ID_PREFIX = 4
/** Most matches an ambiguous prefix's error lists. */
const MAX_LISTED = 10

/**
 * The one job id among `ids` that `prefix` names: the id itself, or the only
 * one starting with it (`mlp cancel e5ad8e1d`, as git takes short commit
 * ids). No match is {@link JobNotFoundError}; several are
 * {@link AmbiguousJobIdError} listing them, so the user can type more.
 */
export function resolveJobId (prefix: string, ids: Iterable<string>): string {
  const all = [...ids]
  if (all.includes(prefix)) return prefix
  if (prefix.length < MIN_JOB_ID_PREFIX) throw new BadRequestError(`job id '${prefix}' is too short: give at least ${MIN_JOB_ID_PREFIX} characters (see \`mlp jobs\`)`)
  const matches = all.filter((id) => id.startsWith(prefix)).sort()
  if (matches.length === 1) return matches[0]
  if (matches.length === 0) throw new JobNotFoundError(`no job ${prefix} on this machine: see \`mlp jobs\``)
  const listed = matches.slice(0, MAX_LISTED).join(', ') + (matches.length > MAX_LISTED ? `, and ${matches.length - MAX_LISTED} more` : '')
  throw new AmbiguousJobIdError(`job id ${prefix} is ambiguous: ${matches.length} jobs start with it (${listed}); give more characters`)
}
