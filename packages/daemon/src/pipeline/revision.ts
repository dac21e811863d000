import { execFile } from 'node:child_process'
import { UnknownRevisionError } from '@mlp/proto'

/** Longest revision text accepted: git's own names are far shorter, and the text ends up in messages. */
const MAX_REVISION_CHARS = 256

/**
 * The commit a revision names (`git rev-parse --verify <rev>^{commit}`), or
 * an {@link UnknownRevisionError} naming it. A revision starting with `-`
 * is refused before git sees it, so it can never be read as an option.
 */
export async function resolveRevision (root: string, rev: string): Promise<string> {
  const shown = JSON.stringify(rev.length > 60 ? `${rev.slice(0, 60)}...` : rev)
  if (rev === '' || rev.startsWith('-') || rev.length > MAX_REVISION_CHARS || [...rev].some((ch) => ch.charCodeAt(0) < 0x20)) throw new UnknownRevisionError(`${shown} is not a git revision: name a branch, tag or commit (see \`git log\`)`)
  return await new Promise((resolve, reject) => {
    execFile('git', ['rev-parse', '--verify', '--quiet', '--end-of-options', `${rev}^{commit}`], { cwd: root, env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_OPTIONAL_LOCKS: '0' } }, (err, stdout) => {
      const commit = stdout.trim()
      if (err == null && /^[0-9a-f]{40,64}$/.test(commit)) resolve(commit)
      else reject(new UnknownRevisionError(`unknown revision ${shown}: no such branch, tag or commit in ${root} (see \`git log --oneline\`; a teammate's branch needs \`git fetch\` first)`))
    })
  })
}

/**
 * Like {@link resolveRevision}, but `HEAD` in a folder with no commit yet (or
 * no git at all) names nothing and is no error: against it, every value is
 * new, as `dvc params diff` shows in a fresh repository.
 */
export async function resolveRevisionOrUnborn (root: string, rev: string): Promise<string | undefined> {
  try {
    return await resolveRevision(root, rev)
  } catch (err) {
    if (rev === 'HEAD') return undefined
    throw err
  }
}
