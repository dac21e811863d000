/**
 * Suggestions for mistyped commands, as git and @oclif/plugin-not-found give
 * them: the closest known word by edit distance, transpositions counting as
 * one edit (`stauts` is one slip away from `status`, not two).
 */

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps. */
export function editDistance (a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)])
  for (let j = 1; j <= b.length; j++) d[0][j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1)
    }
  }
  return d[a.length][b.length]
}

/**
 * The candidate closest to `word`, or undefined when none is close enough to
 * be a typo (at most a third of the word's letters, and at least one edit,
 * allowed), so that `mlp foo` is not answered with a random command.
 */
export function closest (word: string, candidates: readonly string[]): string | undefined {
  const limit = Math.max(1, Math.floor(word.length / 3))
  let best: { word: string, distance: number } | undefined
  for (const c of candidates) {
    // a prefix of a longer command (`mlp met` -> `metrics`) is as good as a typo
    const distance = c.startsWith(word) && word.length >= 2 ? 1 : editDistance(word, c)
    if (distance <= limit && (best == null || distance < best.distance)) best = { word: c, distance }
  }
  return best?.word
}

/** What the not-found hook knows about the CLI: its command ids (`stage:add`). */
export interface CommandSet {
  commandIds: readonly string[]
}

/**
 * The one-line error for `mlp <words>` that names no command: the user's own
 * words, then the closest command (`did you mean`), or the commands of the
 * topic they typed (`mlp stage` has: add).
 */
export function unknownCommandMessage (words: readonly string[], set: CommandSet): string {
  const typed = `\`mlp ${words.join(' ')}\` is not an mlp command`
  const ids = set.commandIds.map((id) => id.split(':'))
  // the longest run of leading words that is a topic: `stage rm bad` -> `stage`
  let depth = 0
  while (depth < words.length - 1 && ids.some((id) => id.length > depth + 1 && id.slice(0, depth + 1).join(':') === words.slice(0, depth + 1).join(':'))) depth++
  const prefix = words.slice(0, depth)
  const under = ids.filter((id) => id.length > depth && id.slice(0, depth).join(':') === prefix.join(':'))
  const next = [...new Set(under.map((id) => id[depth]))].sort()
  const guess = closest(words[depth] ?? '', next)
  if (guess != null) return `${typed}: did you mean \`mlp ${[...prefix, guess].join(' ')}\`? (see mlp help)`
  if (depth > 0) return `${typed}: \`mlp ${prefix.join(' ')}\` has ${next.join(', ')} (see mlp ${prefix.join(' ')} --help)`
  return `${typed} (see mlp help)`
}
