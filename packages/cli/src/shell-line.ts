/**
 * A command typed as words (`mlp stage add ... python train.py --lr 0.1`) as
 * the one shell line a stage's `cmd` is: each word quoted for a POSIX shell
 * when it needs it (as Python's `shlex.quote`, and the daemon's
 * `shellQuote`), so `-- python -c "print(1)"` keeps its words. A single word
 * is already a shell line (`"python train.py | tee log"`) and is kept as is.
 */
export function shellLine (words: string[]): string {
  if (words.length === 1) return words[0]
  return words.map(shellQuote).join(' ')
}

function shellQuote (s: string): string {
  if (s === '') return "''"
  if (/^[\w@%+=:,./-]+$/.test(s)) return s
  return `'${s.replace(/'/g, "'\"'\"'")}'`
}
