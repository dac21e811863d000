import { DiskFullError } from '@mlp/proto'

/** Turns ENOSPC/EDQUOT into {@link DiskFullError} naming where; anything else is rethrown as is. */
export function mapDiskError (err: unknown, where: string): unknown {
  const code = (err as NodeJS.ErrnoException)?.code
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new DiskFullError(`disk full while writing ${where}: free space (\`mlp gc\` removes unreferenced blocks) and retry`, { cause: err })
  }
  return err
}
