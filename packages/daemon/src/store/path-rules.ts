/**
 * Which names and relative paths mlp will ever turn into files. DAGs come
 * from peers and pointer files from other people's commits, so every name is
 * hostile until it passes these rules: they follow git's `verify_path` (a
 * `.git` component in any spelling some filesystem would treat as `.git`)
 * and refuse names that two filesystems could see as the same file.
 * Pure functions: no filesystem access.
 */
import { UnsafePathError } from '@mlp/proto'

/** Code points HFS+ ignores when it compares names (git's `next_hfs_char`), so `.g\u200cit` is `.git` there. */
const HFS_IGNORABLE = /[\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff]/gu

/** C0 and C1 controls and DEL: no real data file needs them, and they can forge terminal output. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u

/**
 * `.git` (or NTFS's short name `git~1`) followed only by dots, spaces or an
 * NTFS stream suffix (`.git.`, `.git `, `.git::$INDEX_ALLOCATION`): NTFS strips
 * the trailing dots and spaces and opens the stream of `.git` itself.
 */
const DOT_GIT = /^(?:\.git|git~\d)[. ]*(?::.*)?$/u

/**
 * The form two names share when some filesystem would store them as one
 * file: HFS+ ignorables dropped, Unicode compatibility-normalized (NFC and
 * NFD spellings of `é` meet, as do fullwidth letters and their ASCII), then
 * case-folded (upper then lower, so `ß` and `SS` meet).
 */
export function foldName (name: string): string {
  return name.replace(HFS_IGNORABLE, '').normalize('NFKC').toUpperCase().toLowerCase().normalize('NFC')
}

/** True when `name` is `.git` in a spelling git's `verify_path` refuses (case, HFS+ ignorables, NTFS aliases). */
export function isDotGit (name: string): boolean {
  return DOT_GIT.test(foldName(name))
}

/** Invisible or line-breaking code points JSON leaves as they are (C1 controls, zero-widths, bidi controls, BOM). */
const INVISIBLE = /[\u0080-\u009f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/gu

/** {@link CONTROL} and {@link INVISIBLE} together, unflagged so `test` keeps no state. */
// eslint-disable-next-line no-control-regex
const HIDDEN = /[\u0000-\u001f\u007f-\u009f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/u

/**
 * True when `text` holds a control character (C0, C1, DEL) or an invisible
 * or bidi code point: text a peer wrote that is shown to a person (a key, a
 * stage name) must not carry terminal escapes or hide what it says.
 */
export function hasHiddenChar (text: string): boolean {
  return HIDDEN.test(text)
}

/** JSON-quoted with invisible code points escaped too, so a hostile name shows as it is and cannot forge the rest of an error line. */
export function quoteName (name: string): string {
  return JSON.stringify(name).replace(INVISIBLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/**
 * Why `name` cannot be one entry of a directory written to disk, or
 * undefined when it can: empty, `.`, `..`, a `/`, `\`, NUL or other control
 * character, or `.git` in any spelling.
 */
export function entryNameProblem (name: string): string | undefined {
  if (name === '') return 'an empty name'
  // also `..` spelled with HFS+ ignorables or fullwidth dots: some filesystem or tool may see the plain one
  const folded = foldName(name)
  if (folded === '.' || folded === '..') return `the name ${quoteName(name)}`
  if (name.includes('/') || name.includes('\\')) return `a name with a path separator, ${quoteName(name)}`
  if (CONTROL.test(name)) return `a name with a control character, ${quoteName(name)}`
  if (isDotGit(name)) return `a name git refuses, ${quoteName(name)} (a spelling of .git)`
  return undefined
}

/** Files git reads in any directory of a worktree: as symlinks they would make git read outside it. */
const GIT_DOTFILES = new Set(['.gitmodules', '.gitattributes', '.gitignore', '.mailmap'])

/**
 * Why a symlink may not be named `name` (git >= 2.32 refuses symlinked
 * `.gitmodules`, `.gitattributes`, `.gitignore`, `.mailmap`, in any spelling
 * of those names), or undefined.
 */
export function symlinkNameProblem (name: string): string | undefined {
  const stem = foldName(name).replace(/[. ]+$/u, '')
  return GIT_DOTFILES.has(stem) ? `a symlink named ${quoteName(name)}, which git refuses` : undefined
}

/** Throws {@link UnsafePathError} unless `name` may be a directory entry on disk. */
export function checkEntryName (name: string): void {
  const problem = entryNameProblem(name)
  if (problem != null) throw new UnsafePathError(`entry with ${problem}`)
}

/**
 * Why the names of one directory cannot sit side by side on disk (two that
 * fold to the same name: one could be a symlink the other is written
 * through, as in CVE-2021-21300), or the first bad name; undefined when all
 * are fine.
 */
export function entryNamesProblem (names: readonly string[]): string | undefined {
  const seen = new Map<string, string>()
  for (const name of names) {
    const problem = entryNameProblem(name)
    if (problem != null) return `entry with ${problem}`
    const key = foldName(name)
    const other = seen.get(key)
    if (other != null) return other === name ? `duplicate entry ${quoteName(name)}` : `entries ${quoteName(other)} and ${quoteName(name)}, which are the same name on case-insensitive or normalizing filesystems`
    seen.set(key, name)
  }
  return undefined
}

/** Throws {@link UnsafePathError} unless every name may sit in one directory together. */
export function checkEntryNames (names: readonly string[]): void {
  const problem = entryNamesProblem(names)
  if (problem != null) throw new UnsafePathError(problem)
}

/**
 * Why `path` cannot name something inside a project (a pointer `path`, a
 * stage out), or undefined when it can: a `/`-separated relative path whose
 * every component passes {@link entryNameProblem} - so no empty, `.`, `..`
 * or `.git` component, not absolute, no trailing `/`, no `\`.
 */
export function relativePathProblem (path: string): string | undefined {
  if (path === '' || path === '.') return `${quoteName(path)} names the directory itself, not something inside it`
  if (path.startsWith('/')) return `${quoteName(path)} is absolute`
  for (const part of path.split('/')) {
    const problem = entryNameProblem(part)
    if (problem != null) return `${quoteName(path)} has a component with ${problem}`
  }
  return undefined
}

/** Throws {@link UnsafePathError} unless `path` is a plain relative path inside the project. */
export function checkRelativePath (path: string): void {
  const problem = relativePathProblem(path)
  if (problem != null) throw new UnsafePathError(`path ${problem}`)
}
