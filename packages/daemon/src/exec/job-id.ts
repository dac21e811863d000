/** A job id as {@link RemoteExec.newId} makes them: a lower-case random UUID. */
const JOB_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
/** What a job id given on the local API may hold: a whole id or (later) a prefix of one. */
const JOB_ID_TEXT = /^[0-9a-f-]{1,36}$/

/**
 * True for exactly the ids daemons generate. A job id from the wire names a
 * directory under the jobs folder that is later removed recursively, so
 * anything else (`../..`, `/`, a NUL) is refused before it is used.
 */
export function isJobId (id: unknown): id is string {
  return typeof id === 'string' && JOB_ID.test(id)
}

/** True when `id` holds only what a job id (or a prefix of one) can: 0-9, a-f and `-`. */
export function isJobIdText (id: string): boolean {
  return JOB_ID_TEXT.test(id)
}
